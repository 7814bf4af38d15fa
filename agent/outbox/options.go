package outbox

import (
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// Options tune an Outbox. The zero value of a field means its default; a nil
// *Options means DefaultOptions().
type Options struct {
	// MaxBytes bounds the bytes the outbox holds on disk: segment files plus
	// dead letters (the quarantine folder is not counted). Default 2 GiB.
	MaxBytes int64
	// SegmentBytes is the size past which a new segment file is started.
	// Space is freed a whole segment at a time. Default 64 MiB.
	SegmentBytes int64
	// MaxRecordBytes bounds one payload. Default 16 MiB.
	MaxRecordBytes int
	// Window is the number of records Next hands out before it waits for
	// Ack, Fail or DeadLetter. Default 4.
	Window int
	// MaxDeliveries is the number of failed deliveries (Fail) after which a
	// record moves to dead letters. Default 10.
	MaxDeliveries int
	// CommitDelay bounds how long the committer waits, when several
	// appenders are active, for the ones the last fsync released to append
	// again, so one fsync saves them all. It never applies to a lone
	// appender. Default 2ms; negative disables it.
	CommitDelay time.Duration
	// Clock stamps append times, measures latencies and times CommitDelay.
	// Default clock.Real().
	Clock clock.Clock
	// Logger receives recoveries, quarantines and dead letters. Default
	// zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the kiosk_outbox_* metrics; nil means no metrics.
	Registerer prometheus.Registerer
	// OnAlarm, when set, is called from the outbox's own goroutine, in order,
	// each time the fill level crosses 50, 80 or 95% of MaxBytes, upwards or
	// downwards (Alarm.Level 0 means below 50% again). An outbox opened above
	// 50% reports its level at once. It must not block for long and must not
	// call Close.
	OnAlarm func(Alarm)

	fs vfs.FS // the filesystem; tests set a vfs.Mem
}

// DefaultOptions returns the defaults: 2 GiB, 64 MiB segments, 16 MiB
// records, a window of 4 and 10 deliveries, a 2ms commit delay, the wall
// clock, no logging, no metrics. They match the defaults of the kioskd config.
func DefaultOptions() *Options {
	return &Options{
		MaxBytes:       2 << 30,
		SegmentBytes:   64 << 20,
		MaxRecordBytes: 16 << 20,
		Window:         4,
		MaxDeliveries:  10,
		CommitDelay:    2 * time.Millisecond,
		Clock:          clock.Real(),
		Logger:         zap.NewNop(),
	}
}

// withDefaults returns a copy of o with defaults filled in, or an error for a
// value that cannot work.
func (o *Options) withDefaults() (Options, error) {
	d := DefaultOptions()
	if o == nil {
		o = d
	}
	r := *o
	if r.MaxBytes == 0 {
		r.MaxBytes = d.MaxBytes
	}
	if r.SegmentBytes == 0 {
		r.SegmentBytes = d.SegmentBytes
	}
	if r.MaxRecordBytes == 0 {
		r.MaxRecordBytes = d.MaxRecordBytes
	}
	if r.Window == 0 {
		r.Window = d.Window
	}
	if r.MaxDeliveries == 0 {
		r.MaxDeliveries = d.MaxDeliveries
	}
	if r.CommitDelay == 0 {
		r.CommitDelay = d.CommitDelay
	}
	if r.CommitDelay < 0 {
		r.CommitDelay = 0
	}
	if r.Clock == nil {
		r.Clock = d.Clock
	}
	if r.Logger == nil {
		r.Logger = d.Logger
	}
	if r.fs == nil {
		r.fs = vfs.OS()
	}
	switch {
	case r.SegmentBytes < 4<<10:
		return r, fmt.Errorf("outbox: SegmentBytes %d is below the 4 KiB minimum (raise it in the outbox options)", r.SegmentBytes)
	case r.MaxBytes < r.SegmentBytes:
		return r, fmt.Errorf("outbox: MaxBytes %d is below SegmentBytes %d (raise MaxBytes or lower SegmentBytes)", r.MaxBytes, r.SegmentBytes)
	case r.MaxRecordBytes < 1 || r.MaxRecordBytes > maxBodyLen:
		return r, fmt.Errorf("outbox: MaxRecordBytes %d out of range 1..%d", r.MaxRecordBytes, maxBodyLen)
	case r.Window < 1:
		return r, fmt.Errorf("outbox: Window %d must be at least 1", r.Window)
	case r.MaxDeliveries < 1:
		return r, fmt.Errorf("outbox: MaxDeliveries %d must be at least 1", r.MaxDeliveries)
	}
	return r, nil
}
