package matcher

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// Benchmarks on synthetic impressions of typical sizes: FVC2002 templates
// from the kiosk extractor hold 15-50 minutiae, MINEX ones up to 68.
func BenchmarkScore(b *testing.B) {
	for _, n := range []int{25, 40, 60, 90} {
		b.Run(fmt.Sprintf("minutiae=%d", n), func(b *testing.B) {
			m := Default()
			rng := rand.New(rand.NewPCG(uint64(n), 1))
			p := defaultImpression()
			p.spurious = n / 8
			ms := newMaster(rng, n)
			x, y := m.Prepare(ms.impression(rng, p), 500), m.Prepare(ms.impression(rng, p), 500)
			z := m.Prepare(newMaster(rng, n).impression(rng, p), 500)
			b.ReportAllocs()
			b.ResetTimer()
			defer cpuTimer(b)()
			for i := 0; b.Loop(); i++ {
				if i%2 == 0 {
					m.Score(x, y) // genuine
				} else {
					m.Score(x, z) // impostor
				}
			}
		})
	}
}

func BenchmarkPrepare(b *testing.B) {
	for _, n := range []int{25, 40, 60, 90} {
		b.Run(fmt.Sprintf("minutiae=%d", n), func(b *testing.B) {
			m := Default()
			rng := rand.New(rand.NewPCG(uint64(n), 2))
			ms := newMaster(rng, n).impression(rng, defaultImpression())
			b.ReportAllocs()
			defer cpuTimer(b)()
			for b.Loop() {
				m.Prepare(ms, 500)
			}
		})
	}
}
