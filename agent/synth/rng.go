package synth

import "math/rand/v2"

// rng is the generator's only source of randomness: a PCG stream from
// math/rand/v2 seeded from a (seed, stream) pair. Only methods whose results
// are defined by integer arithmetic are used (Uint64, IntN and the uniform
// floats built from them), so a seed gives the same numbers everywhere.
type rng struct {
	r *rand.Rand
}

// newRNG returns the stream for seed and a purpose label; different labels
// give independent streams, so adding a random draw to one stage does not
// shift the numbers every later stage sees.
func newRNG(seed uint64, label string, index uint64) *rng {
	h := mix(seed ^ 0x9e3779b97f4a7c15)
	for i := 0; i < len(label); i++ {
		h = mix(h ^ uint64(label[i]))
	}
	h = mix(h ^ index)
	return &rng{r: rand.New(rand.NewPCG(h, mix(h^0xda942042e4dd58b5)))}
}

// mix is the splitmix64 finaliser: a bijective 64-bit hash.
func mix(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a uniform number in [0, 1).
func (g *rng) float() float64 { return float64(g.r.Uint64()>>11) / (1 << 53) }

// uniform returns a uniform number in [lo, hi).
func (g *rng) uniform(lo, hi float64) float64 { return lo + float64((hi-lo)*g.float()) }

// intN returns a uniform integer in [0, n).
func (g *rng) intN(n int) int { return g.r.IntN(n) }

// norm returns an approximately standard normal number: the sum of four
// uniform 16-bit draws (Irwin-Hall), scaled to unit variance. Its tails stop
// at ±3.46, which suits noise and jitter better than a true Gaussian would.
func (g *rng) norm() float64 {
	u := g.r.Uint64()
	s := int64(u&0xffff) + int64(u>>16&0xffff) + int64(u>>32&0xffff) + int64(u>>48)
	// Each term has mean 32767.5 and variance (65536^2-1)/12.
	return (float64(s) - 131070) / 37837.23
}

// pick returns index i with probability weights[i] / Σweights.
func (g *rng) pick(weights []float64) int {
	var sum float64
	for _, w := range weights {
		sum += w
	}
	x := float64(g.float() * sum)
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}
