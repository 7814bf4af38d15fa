package outbox

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// benchDir is where benchmarks write: a real disk, since fsync is what they
// measure. OUTBOX_BENCH_DIR overrides the test's temporary directory.
func benchDir(b *testing.B) string {
	return b.TempDir()
}

// runConcurrent runs b.N appends of size bytes from workers goroutines with
// append, and reports records/s and the p99 latency.
func runConcurrent(b *testing.B, workers, size int, appendOne func(payload []byte) error) {
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i * 7)
	}
	var next atomic.Int64
	lat := make([][]time.Duration, workers)
	var wg sync.WaitGroup
	b.SetBytes(int64(size))
	b.ResetTimer()
	start := time.Now()
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				t0 := time.Now()
				if err := appendOne(payload); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	if len(all) > 0 {
		b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
	}
	b.ReportMetric(float64(b.N)/el.Seconds(), "records/s")
}

var benchSizes = []int{1 << 10, 16 << 10, 50 << 10}

// BenchmarkAppend measures durable appends to the outbox on the real disk:
// one appender (one fsync per record) and eight (group commit).
func BenchmarkAppend(b *testing.B) {
	for _, workers := range []int{1, 8} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("appenders=%d/size=%dKB", workers, size>>10), func(b *testing.B) {
				o, err := New(benchDir(b), &Options{MaxBytes: 8 << 30, SegmentBytes: 64 << 20})
				if err != nil {
					b.Fatal(err)
				}
				defer o.Close()
				ctx := context.Background()
				runConcurrent(b, workers, size, func(p []byte) error {
					_, err := o.Append(ctx, p)
					return err
				})
			})
		}
	}
}

// BenchmarkBboltUpdate is the comparison: bbolt with one Update (two
// fdatasyncs) per record, the way a straightforward queue on bbolt works.
func BenchmarkBboltUpdate(b *testing.B) {
	for _, workers := range []int{1, 8} {
		for _, size := range benchSizes {
			b.Run(fmt.Sprintf("appenders=%d/size=%dKB", workers, size>>10), func(b *testing.B) {
				db, err := bbolt.Open(benchDir(b)+"/q.db", 0o600, nil)
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				bucket := []byte("q")
				if err := db.Update(func(tx *bbolt.Tx) error { _, err := tx.CreateBucket(bucket); return err }); err != nil {
					b.Fatal(err)
				}
				runConcurrent(b, workers, size, func(p []byte) error {
					return db.Update(func(tx *bbolt.Tx) error {
						bk := tx.Bucket(bucket)
						seq, err := bk.NextSequence()
						if err != nil {
							return err
						}
						var k [8]byte
						for i := 0; i < 8; i++ {
							k[i] = byte(seq >> (56 - 8*i))
						}
						return bk.Put(k[:], p)
					})
				})
			})
		}
	}
}
