package synth

import "math"

// Gabor kernel banks used to grow ridge patterns. Orientations and ridge
// periods are quantised so that every kernel is computed once per Generator.
const orientBins = 32

// kernelBank holds orientBins x periodBins zero-mean Gabor kernels of one
// size, each normalised so that a sinusoid of its own orientation and
// period passes with unit gain.
type kernelBank struct {
	radius, size, taps int
	periodMin          float64 // pixels, shortest ridge period in the bank
	periodStep         float64 // pixels between period bins
	periodBins         int
	k                  []float32
}

// newKernelBank builds a bank for ridge periods from periodMin in
// periodBins steps of periodStep, with kernels of the given radius.
func newKernelBank(radius int, periodMin, periodStep float64, periodBins int) *kernelBank {
	size := 2*radius + 1
	b := &kernelBank{radius: radius, size: size, taps: size * size,
		periodMin: periodMin, periodStep: periodStep, periodBins: periodBins}
	b.k = make([]float32, orientBins*periodBins*b.taps)
	g := make([]float64, b.taps)
	kv := make([]float64, b.taps)
	across := make([]float64, b.taps)
	for ob := 0; ob < orientBins; ob++ {
		s, c := sinCos(float64(ob) * pi / orientBins)
		for pb := 0; pb < periodBins; pb++ {
			period := periodMin + float64(float64(pb)*periodStep)
			// Gaussian envelope: about half a period along the ridge and
			// 0.4 period across it, cut at the kernel's radius.
			sa := math.Min(float64(0.5*period), float64(radius)*0.6)
			sc := math.Min(float64(0.4*period), float64(radius)*0.55)
			var sumG, sumK float64
			for i := range b.taps {
				dx := float64(i%size - radius)
				dy := float64(i/size - radius)
				along := float64(dx*c) + float64(dy*s)
				across[i] = float64(dy*c) - float64(dx*s)
				e := float64(along*along)/float64(2*sa*sa) + float64(across[i]*across[i])/float64(2*sc*sc)
				g[i] = exp(-e)
				kv[i] = float64(g[i] * cos(twoPi*across[i]/period))
				sumG += g[i]
				sumK += kv[i]
			}
			// Remove the DC response, then normalise the gain at the
			// kernel's own frequency.
			dc := sumK / sumG
			var gain float64
			for i := range b.taps {
				kv[i] -= float64(dc * g[i])
				gain += float64(kv[i] * cos(twoPi*across[i]/period))
			}
			out := b.k[(ob*periodBins+pb)*b.taps:][:b.taps]
			for i := range b.taps {
				out[i] = float32(kv[i] / gain)
			}
		}
	}
	return b
}

// kernel returns the kernel with index idx (see index).
func (b *kernelBank) kernel(idx uint16) []float32 {
	return b.k[int(idx)*b.taps:][:b.taps]
}

// index quantises an orientation (radians, modulo π) and a ridge period
// (pixels) to a kernel index.
func (b *kernelBank) index(theta, period float64) uint16 {
	ob := int(math.Floor(float64(theta*(orientBins/pi))+0.5)) % orientBins
	if ob < 0 {
		ob += orientBins
	}
	pb := int(math.Floor(float64((period-b.periodMin)/b.periodStep) + 0.5))
	pb = max(0, min(b.periodBins-1, pb))
	return uint16(ob*b.periodBins + pb)
}
