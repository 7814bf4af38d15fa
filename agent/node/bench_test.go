package node

import (
	"context"
	"crypto/rand"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// sealSized makes record seq of kiosk-001, chained after the previous one,
// with about size bytes of face and finger data.
func (e *env) sealSized(t testing.TB, seq uint64, size int) []byte {
	t.Helper()
	b := make([]byte, size)
	rand.Read(b)
	rec := &rbdesv1.CaptureRecord{RecordId: uuid.Must(uuid.NewV7()).String(), KioskId: "kiosk-001", Policy: "default",
		Face:    &rbdesv1.FaceSample{IsoRecord: b[:size/2], Quality: 70},
		Fingers: []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: b[size/2:], Quality: 60}}}
	out, err := e.sealer.Seal(rec, seq, e.prev)
	if err != nil {
		t.Fatal(err)
	}
	e.prev = seal.Hash(out)
	return out
}

// processCPU is the user and system CPU time the process has used: under
// load it is a steadier figure than the elapsed time.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkCommit measures the writer's part of the drain: storing batches
// of verified 20 KB records in one SQLite transaction each (WAL,
// synchronous=FULL), per record. Verification happens outside the timer.
//
//	go test -run '^$' -bench Commit -benchmem -cpu 1 -count 5 ./agent/node/
func BenchmarkCommit(b *testing.B) {
	for _, batch := range []int{1, 8} {
		b.Run("batch="+strconv.Itoa(batch), func(b *testing.B) {
			e := newEnv(b, sqliteStore(b))
			ctx := context.Background()
			jobs := make([]*job, b.N)
			for i := range jobs {
				j := &job{topic: capture, payload: e.sealSized(b, uint64(i+1), 20000), done: make(chan struct{})}
				e.n.verify(j)
				if j.err != nil {
					b.Fatal(j.err)
				}
				jobs[i] = j
			}
			b.SetBytes(20000)
			b.ResetTimer()
			cpu0 := processCPU()
			for i := 0; i < b.N; i += batch {
				part := jobs[i:min(i+batch, b.N)]
				now := e.n.clk.Now()
				e.n.commit(ctx, part, now)
				for _, j := range part {
					if j.verdict.Status != rbdesv1.AckStatus_ACK_STATUS_STORED {
						b.Fatalf("record %d: %v %v", j.verdict.Seq, j.verdict.Status, j.verdict.Err)
					}
				}
			}
			b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
		})
	}
}
