package outbox

import (
	"errors"
	"sort"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Alarm is a fill level change of the outbox.
type Alarm struct {
	// Level is the highest of 50, 80 and 95 that UsedBytes reaches, as a
	// percentage of MaxBytes, or 0 below 50%.
	Level     int
	UsedBytes int64
	MaxBytes  int64
}

// alarmLevels are the fill levels that raise an alarm, highest first.
var alarmLevels = []int{95, 80, 50}

func levelOf(used, maxBytes int64) int {
	for _, l := range alarmLevels {
		if used*100 >= int64(l)*maxBytes {
			return l
		}
	}
	return 0
}

func (o *Outbox) levelLocked() int { return levelOf(o.usedBytes, o.opts.MaxBytes) }

// checkAlarmLocked notes a change of fill level for the housekeeper to report.
func (o *Outbox) checkAlarmLocked() {
	if l := o.levelLocked(); l != o.alarm {
		o.alarm = l
		if len(o.alarmQueue) >= 16 { // the housekeeper is behind: keep the latest
			o.alarmQueue = o.alarmQueue[1:]
		}
		o.alarmQueue = append(o.alarmQueue, Alarm{Level: l, UsedBytes: o.usedBytes, MaxBytes: o.opts.MaxBytes})
		o.kick()
	}
}

// Stats is a snapshot of the outbox.
type Stats struct {
	// Records is the number of saved records not yet acknowledged or
	// dead-lettered.
	Records int64
	// SegmentBytes is the size of the segment files, including acknowledged
	// records of segments not yet deleted.
	SegmentBytes int64
	// UsedBytes counts against MaxBytes: segments plus dead letters.
	UsedBytes int64
	MaxBytes  int64
	// OldestUnacked is when the oldest record not yet acknowledged was
	// appended (zero when there is none); OldestUnackedAge is its age by the
	// outbox's clock.
	OldestUnacked    time.Time
	OldestUnackedAge time.Duration
	// InFlight is the number of records handed out by Next and not yet
	// acknowledged, failed or dead-lettered.
	InFlight int
	// DeadLetters is the number of dead letters.
	DeadLetters int
	// Quarantined is the number of files in the quarantine folder.
	Quarantined int
	// Lost is the number of records found damaged since the outbox was
	// opened; their segments were copied to quarantine.
	Lost int64
	// Alarm is the fill level: 0, 50, 80 or 95.
	Alarm int
	// LastSeq is the sequence number of the last saved record (the chain
	// head); NextSeq is the one the next record will get.
	LastSeq uint64
	NextSeq uint64
	// Segments is the number of segment files.
	Segments int
}

// Stats returns a snapshot of the outbox. It may read a segment file to
// find the oldest record's age.
func (o *Outbox) Stats() Stats {
	for {
		o.mu.Lock()
		var l loc
		var ok bool
		var load *segment
		if !o.closed {
			l, ok, load = o.oldestLocked()
		}
		if load != nil {
			o.mu.Unlock()
			if err := o.loadIndex(load); err != nil {
				o.mu.Lock()
				ok = false
			} else {
				continue
			}
		}
		s := Stats{
			Records: o.pending, SegmentBytes: o.segBytes, UsedBytes: o.usedBytes, MaxBytes: o.opts.MaxBytes,
			InFlight: len(o.inflight), DeadLetters: len(o.deadList), Quarantined: o.quarantined, Lost: o.lost,
			Alarm: o.alarm, LastSeq: o.durHead.seq, NextSeq: o.durable + 1, Segments: len(o.segs),
		}
		if ok {
			s.OldestUnacked = unixTime(l.ns)
			s.OldestUnackedAge = max(o.clk.Now().Sub(s.OldestUnacked), 0)
		}
		o.mu.Unlock()
		return s
	}
}

// oldestLocked finds the oldest durable record not yet done.
func (o *Outbox) oldestLocked() (l loc, ok bool, load *segment) {
	from := o.doneThrough + 1
	for _, s := range o.segs {
		if s.count == 0 || s.last < from {
			continue
		}
		if s.index == nil {
			return loc{}, false, s
		}
		i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq >= from })
		for ; i < len(s.index); i++ {
			l := s.index[i]
			if l.seq > o.durable {
				return loc{}, false, nil
			}
			if !o.isDoneLocked(l.seq) {
				return l, true, nil
			}
		}
	}
	return loc{}, false, nil
}

// metrics are the kiosk_outbox_* collectors.
type metrics struct {
	reg             prometheus.Registerer
	collectors      []prometheus.Collector
	appendLatency   prometheus.Histogram
	fsyncLatency    prometheus.Histogram
	batch           prometheus.Histogram
	appends         *prometheus.CounterVec
	recoveries      *prometheus.CounterVec
	quarantines     prometheus.Counter
	deadLetters     prometheus.Counter
	lost            prometheus.Counter
	acks            prometheus.Counter
	failures        prometheus.Counter
	ackLogErrors    prometheus.Counter
	segmentsDeleted prometheus.Counter
}

func newMetrics(o *Outbox) *metrics {
	lat := []float64{.0005, .001, .002, .004, .008, .016, .025, .05, .1, .25, .5, 1, 2.5}
	m := &metrics{
		appendLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kiosk_outbox_append_duration_seconds",
			Help: "Time from Append to the record being durable.", Buckets: lat}),
		fsyncLatency: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kiosk_outbox_fsync_duration_seconds",
			Help: "Time of one fsync of a segment file.", Buckets: lat}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "kiosk_outbox_group_commit_records",
			Help: "Records made durable by one fsync.", Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128}}),
		appends: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiosk_outbox_appends_total",
			Help: "Appends by result: ok, full, too_large, closed, error."}, []string{"result"}),
		recoveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kiosk_outbox_recoveries_total",
			Help: "Repairs made without a human, by kind: torn_tail, damaged_segment, quarantined, state_rebuilt, ack_log_damaged, damaged_dead_letters."}, []string{"kind"}),
		quarantines: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_quarantines_total",
			Help: "Files moved or copied to the quarantine folder."}),
		deadLetters: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_dead_letters_total",
			Help: "Records moved to dead letters."}),
		lost: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_damaged_records_total",
			Help: "Records found damaged on disk and not deliverable."}),
		acks: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_acks_total",
			Help: "Records acknowledged by the node."}),
		failures: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_delivery_failures_total",
			Help: "Failed deliveries reported with Fail."}),
		ackLogErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_ack_log_errors_total",
			Help: "Failed writes or syncs of the ack log (acknowledgements kept in memory)."}),
		segmentsDeleted: prometheus.NewCounter(prometheus.CounterOpts{Name: "kiosk_outbox_segments_deleted_total",
			Help: "Segments deleted after all their records were done."}),
	}
	gauge := func(name, help string, f func(Stats) float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, func() float64 { return f(o.Stats()) })
	}
	m.collectors = []prometheus.Collector{
		m.appendLatency, m.fsyncLatency, m.batch, m.appends, m.recoveries, m.quarantines, m.deadLetters, m.lost,
		m.acks, m.failures, m.ackLogErrors, m.segmentsDeleted,
		gauge("kiosk_outbox_depth_records", "Saved records not yet acknowledged or dead-lettered.", func(s Stats) float64 { return float64(s.Records) }),
		gauge("kiosk_outbox_depth_bytes", "Bytes of segment files.", func(s Stats) float64 { return float64(s.SegmentBytes) }),
		gauge("kiosk_outbox_used_bytes", "Bytes counted against the size limit (segments and dead letters).", func(s Stats) float64 { return float64(s.UsedBytes) }),
		gauge("kiosk_outbox_max_bytes", "The size limit.", func(s Stats) float64 { return float64(s.MaxBytes) }),
		gauge("kiosk_outbox_oldest_unacked_age_seconds", "Age of the oldest record not yet acknowledged.", func(s Stats) float64 { return s.OldestUnackedAge.Seconds() }),
		gauge("kiosk_outbox_dead_letters", "Dead letters held.", func(s Stats) float64 { return float64(s.DeadLetters) }),
		gauge("kiosk_outbox_quarantined_files", "Files in the quarantine folder.", func(s Stats) float64 { return float64(s.Quarantined) }),
		gauge("kiosk_outbox_alarm_level", "Fill alarm level: 0, 50, 80 or 95 (percent of the size limit).", func(s Stats) float64 { return float64(s.Alarm) }),
		gauge("kiosk_outbox_in_flight", "Records handed to the uplink and not yet settled.", func(s Stats) float64 { return float64(s.InFlight) }),
	}
	return m
}

func (m *metrics) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	for i, c := range m.collectors {
		if err := reg.Register(c); err != nil {
			for _, done := range m.collectors[:i] {
				reg.Unregister(done)
			}
			return err
		}
	}
	m.reg = reg
	return nil
}

func (m *metrics) unregister() {
	if m.reg == nil {
		return
	}
	for _, c := range m.collectors {
		m.reg.Unregister(c)
	}
	m.reg = nil
}

func (m *metrics) appendResult(err error) {
	result := "ok"
	switch {
	case err == nil:
	case errors.Is(err, ErrFull):
		result = "full"
	case errors.Is(err, ErrTooLarge):
		result = "too_large"
	case errors.Is(err, ErrClosed):
		result = "closed"
	default:
		result = "error"
	}
	m.appends.WithLabelValues(result).Inc()
}
