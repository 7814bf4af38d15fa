package synth

import (
	"runtime"
	"testing"
)

// cpuPerOp runs the benchmark loop locked to one OS thread and reports the
// thread's CPU time per operation as cpu-ms/op beside the wall time: on a
// machine shared with other work the wall time overstates the cost.
func cpuPerOp(b *testing.B, op func(i int)) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	start, ok := threadCPU()
	n := 0
	for i := 0; b.Loop(); i++ {
		op(i)
		n++
	}
	if end, ok2 := threadCPU(); ok && ok2 && n > 0 {
		b.ReportMetric(float64(end-start)/1e6/float64(n), "cpu-ms/op")
	}
}

// BenchmarkMaster builds master fingerprints (what a new finger costs).
func BenchmarkMaster(b *testing.B) {
	g, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpuPerOp(b, func(i int) { g.Master(uint64(i % 16)) })
}

// BenchmarkImpression renders impressions of one master for each sensor
// (what each simulated capture costs; the target is 100 ms on one core).
func BenchmarkImpression(b *testing.B) {
	m := testMaster(b, 1)
	for _, s := range []Sensor{Optical, R30x, FPC1020} {
		b.Run(s.String(), func(b *testing.B) {
			g, err := New(&Options{Sensor: s})
			if err != nil {
				b.Fatal(err)
			}
			f := g.FingerOf(m, 1)
			b.ReportAllocs()
			cpuPerOp(b, func(i int) { f.Impression(uint64(i)) })
		})
	}
}
