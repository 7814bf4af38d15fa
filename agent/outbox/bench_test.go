package outbox

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.etcd.io/bbolt"
)

// benchDir is where benchmarks write. fsync is what they measure, so it
// must be on the disk under test, not a tmpfs: OUTBOX_BENCH_DIR names a
// directory there (make bench-outbox uses .bin/ in the repository);
// otherwise the test's temporary directory.
func benchDir(b *testing.B) string {
	root := os.Getenv("OUTBOX_BENCH_DIR")
	if root == "" {
		return b.TempDir()
	}
	if err := os.MkdirAll(root, 0o700); err != nil {
		b.Fatal(err)
	}
	dir, err := os.MkdirTemp(root, "bench")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	return dir
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

// BenchmarkOpen1GiBTornTail opens an outbox holding 1 GiB of 50 KB records
// (16 sealed segments of 64 MiB) whose last segment ends in a torn record,
// the state after a power cut at full load. It writes the gigabyte once
// (without fsync) and then measures New (the torn tail is cut, the newest
// segment read and checked, the others known from their footers), so it
// runs only when OUTBOX_BENCH_BIG=1 (make bench-outbox sets it).
func BenchmarkOpen1GiBTornTail(b *testing.B) {
	if os.Getenv("OUTBOX_BENCH_BIG") != "1" {
		b.Skip("writes 1 GiB; set OUTBOX_BENCH_BIG=1 (make bench-outbox)")
	}
	dir := benchDir(b)
	const segBytes, total, size = 64 << 20, 1 << 30, 50 << 10
	payload := make([]byte, size)
	for i := range payload {
		payload[i] = byte(i)
	}
	ph := sum(payload)
	seq := uint64(1)
	var prev head
	var last string
	for written := int64(0); written < total; {
		h := fileHeader{kind: kindSegment, base: seq, prevSeq: prev.seq, prevHash: prev.hash}
		buf := h.encode()
		first := seq
		for int64(len(buf))+frameHeaderSize+size+frameHeaderSize+footerBodySize <= segBytes {
			buf = appendFrame(buf, seq, 1, payload)
			prev = head{seq, ph}
			seq++
		}
		last = filepath.Join(dir, segName(first))
		if written+int64(len(buf)) < total-segBytes/2 {
			ft := footer{count: seq - first, first: first, last: seq - 1, lastHash: ph, dataBytes: uint64(len(buf) - fileHeaderSize)}
			buf = appendFrame(buf, 0, 1, ft.body())
		}
		if err := os.WriteFile(last, buf, 0o600); err != nil {
			b.Fatal(err)
		}
		written += int64(len(buf))
	}
	torn := appendFrame(nil, seq, 1, payload)[:size/2]
	opts := &Options{MaxBytes: 4 << 30, SegmentBytes: segBytes}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		f, err := os.OpenFile(last, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := f.Write(torn); err != nil {
			b.Fatal(err)
		}
		f.Close()
		b.StartTimer()
		o, err := New(dir, opts)
		if err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		st := o.Stats()
		if err := o.Close(); err != nil {
			b.Fatal(err)
		}
		if st.LastSeq != seq-1 || st.Records != int64(seq-1) {
			b.Fatalf("after open: LastSeq %d Records %d, want %d %d", st.LastSeq, st.Records, seq-1, seq-1)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/open")
}
