package synth

import (
	"math"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// Size of a master fingerprint in pixels at 500 ppi: the whole first
// phalanx pressed flat (about 16 x 22 mm) with a margin.
const (
	masterW   = 320
	masterH   = 448
	masterPPI = 500
)

// Minutia is a ground-truth minutia with sub-pixel position.
type Minutia struct {
	// X and Y are in pixels, origin at the top-left corner of the image,
	// y downwards.
	X, Y float64
	// Direction is in radians in [0, 2π), counter-clockwise from the
	// positive x axis as ISO/IEC 19794-2 measures it (so with y downwards a
	// direction pointing up the image is π/2). A ridge ending points along
	// its ridge, away from the free end; a bifurcation points away from its
	// stem, between its two branches (the ANSI/NIST and ISO convention).
	Direction float64
	// Kind is fmr.Ending or fmr.Bifurcation.
	Kind fmr.Kind
}

// Master is a master fingerprint: the ridge pattern of one finger, from
// which every impression of that finger is taken. It is immutable and safe
// for concurrent use.
type Master struct {
	// Seed identifies the master; the same seed always gives the same
	// master.
	Seed uint64
	// Class is the pattern class.
	Class Class
	// Cores and Deltas are the singular points, in master pixels, with
	// their directions.
	Cores  []Core
	Deltas []Delta
	// Minutiae are the ground-truth minutiae, in master pixels (500 ppi,
	// Width x Height), read from the ridge skeleton.
	Minutiae []Minutia
	// Width and Height of the master in pixels at 500 ppi.
	Width, Height int
	// Iterations is how many Gabor iterations the ridge pattern took to
	// stabilise.
	Iterations int

	tip    fingertip
	ridge  []float32 // ridge field in [-1, 1], > 0 on ridges
	soft   []float32 // ridge field blurred, what impressions sample
	skel   []uint8   // ridge skeleton, 1 on skeleton pixels
	orient *orientModel
}

// newMaster builds the master fingerprint for a seed.
func (g *Generator) newMaster(seed uint64) *Master {
	m := &Master{Seed: seed, Width: masterW, Height: masterH}
	m.Class, m.tip, m.orient = newFlow(seed)
	for _, c := range m.orient.cores {
		core := Core{X: c.p.X, Y: c.p.Y}
		if dir := m.orient.radial(c.p, 1); len(dir) == 1 {
			core.Direction = dir[0]
		}
		m.Cores = append(m.Cores, core)
	}
	for _, d := range m.orient.deltas {
		delta := Delta{X: d.p.X, Y: d.p.Y}
		copy(delta.Directions[:], m.orient.radial(d.p, 3))
		m.Deltas = append(m.Deltas, delta)
	}
	m.ridge, m.Iterations = g.grow(m, newRNG(seed, "grow", 0))
	cleanIslands(m.ridge, masterW, masterH, 24)
	keep := func(x, y float64) bool { return m.tip.dist(x, y) >= minutiaEdgeMargin }
	m.skel = skeletonize(m.ridge, masterW, masterH)
	mins, gaps := findMinutiae(m.skel, masterW, masterH, keep)
	if len(gaps) > 0 {
		// Breaks of a few pixels in a ridge would close or open with
		// pressure: close them in the master so the truth is not in doubt.
		healGaps(m.ridge, masterW, masterH, gaps)
		m.skel = skeletonize(m.ridge, masterW, masterH)
		mins, _ = findMinutiae(m.skel, masterW, masterH, keep)
	}
	m.Minutiae = mins
	m.soft = blurBinomial(m.ridge, masterW, masterH)
	return m
}

// newFlow draws the class, fingertip outline and orientation field of the
// master for a seed.
func newFlow(seed uint64) (Class, fingertip, *orientModel) {
	r := newRNG(seed, "master", 0)
	c := Class(r.pick(classWeights) + 1)
	tip := newFingertip(r, masterW, masterH)
	return c, tip, newOrientModel(c, r, tip, newRNG(seed, "bend", 0))
}

// minutiaEdgeMargin is how far inside the fingertip outline a master
// minutia must be to count: ridges are grown a little past the outline, and
// what happens there is never printed.
const minutiaEdgeMargin = 4

// growMargin is how far outside the fingertip outline ridges are grown, so
// that the printed pattern has no edge effects.
const growMargin = 10

// grow builds the ridge pattern by iterated oriented Gabor filtering, in
// the manner of SFinGe: a few random seed patches spread over the finger as
// each filtering pass, followed by a saturating gain, extends them along the
// orientation field at the local ridge period, until the pattern fills the
// finger and stops changing. To save time the pattern is grown at half
// resolution and then refined by a few passes at full resolution.
func (g *Generator) grow(m *Master, r *rng) ([]float32, int) {
	const (
		hw, hh = masterW / 2, masterH / 2
	)
	base := r.uniform(7.6, 11)
	pnoise := newValueNoise(r, masterW, masterH, 72)
	fine := newValueNoise(r, masterW, masterH, 26)
	stretch := newStretchMap(m.orient, masterW, masterH)
	period := func(x, y float64) float64 {
		p := base + float64(0.9*pnoise.at(x, y)) + float64(0.45*fine.at(x, y))
		return math.Max(periodMin, math.Min(periodMax, float64(p*stretch.factor(x, y))))
	}
	inside := func(x, y float64) bool { return m.tip.dist(x, y) >= -growMargin }

	// Half resolution: pixel (i, j) covers full-resolution (2i+0.5, 2j+0.5).
	idx := make([]uint16, hw*hh)
	region := 0
	for j := range hh {
		for i := range hw {
			fx, fy := float64(2*i)+0.5, float64(2*j)+0.5
			if !inside(fx, fy) {
				idx[j*hw+i] = noKernel
				continue
			}
			idx[j*hw+i] = g.halfKernels.index(m.orient.at(fx, fy), float64(period(fx, fy)/2))
			region++
		}
	}
	half := make([]float32, hw*hh)
	// Seed patches: a few discs of a sinusoid at the local orientation and
	// period, with random phase, some 24-32 half-resolution pixels apart.
	// Where growing patches meet they leave minutiae, so the spacing sets
	// much of a master's minutiae density: at 20-28 apart the extractor
	// found 35 minutiae per optical print against FVC2002 DB4's 28.
	spacing := r.uniform(24, 32)
	nSeeds := int(float64(region)/float64(spacing*spacing)) + 1
	for range nSeeds {
		var sx, sy int
		for {
			sx, sy = r.intN(hw), r.intN(hh)
			if idx[sy*hw+sx] != noKernel {
				break
			}
		}
		fx, fy := float64(2*sx)+0.5, float64(2*sy)+0.5
		s, c := sinCos(m.orient.at(fx, fy))
		phase := r.uniform(0, twoPi)
		p := float64(period(fx, fy) / 2)
		for dy := -2; dy <= 2; dy++ {
			for dx := -2; dx <= 2; dx++ {
				x, y := sx+dx, sy+dy
				if dx*dx+dy*dy > 4 || x < 0 || y < 0 || x >= hw || y >= hh || idx[y*hw+x] == noKernel {
					continue
				}
				across := float64(float64(dy)*c) - float64(float64(dx)*s)
				half[y*hw+x] = float32(cos(twoPi*across/p + phase))
			}
		}
	}
	half, iters := iterate(g.halfKernels, hw, hh, idx, half, 80, region/100)

	// Full resolution: upsample, then refine.
	idx = make([]uint16, masterW*masterH)
	full := make([]float32, masterW*masterH)
	for y := range masterH {
		for x := range masterW {
			fx, fy := float64(x), float64(y)
			if !inside(fx, fy) {
				idx[y*masterW+x] = noKernel
				continue
			}
			idx[y*masterW+x] = g.kernels.index(m.orient.at(fx, fy), period(fx, fy))
			full[y*masterW+x] = bilinear(half, hw, hh, (fx-0.5)/2, (fy-0.5)/2)
		}
	}
	full, n := iterate(g.kernels, masterW, masterH, idx, full, refinePasses, -1)
	return full, iters + n
}

// refinePasses is the number of full-resolution Gabor passes after the
// half-resolution growth.
const refinePasses = 3

// noKernel marks pixels outside the grown region.
const noKernel = 0xFFFF

// iterate runs Gabor passes over a w x h field: each pixel with a kernel
// index becomes its filtered neighbourhood times a saturating gain, clamped
// to [-1, 1]. Work is done only on 8 x 8 blocks whose neighbourhood changed
// in the previous pass. It stops after maxIter passes, or once fewer than
// stopFlips pixels changed sign in a pass (stopFlips < 0: never).
func iterate(b *kernelBank, w, h int, idx []uint16, field []float32, maxIter, stopFlips int) ([]float32, int) {
	const (
		block = 8
		gain  = 4
	)
	r := b.radius
	pw, ph := w+2*r, h+2*r
	bw, bh := (w+block-1)/block, (h+block-1)/block
	cur := make([]float32, pw*ph)
	for y := range h {
		copy(cur[(y+r)*pw+r:], field[y*w:(y+1)*w])
	}
	next := make([]float32, pw*ph)
	copy(next, cur)
	changed := make([]bool, bw*bh)
	for i := range changed {
		changed[i] = true
	}
	active := make([]bool, bw*bh)
	iter := 0
	for iter < maxIter {
		iter++
		for by := range bh {
			for bx := range bw {
				a := false
				for j := max(0, by-1); j <= min(bh-1, by+1) && !a; j++ {
					for i := max(0, bx-1); i <= min(bw-1, bx+1); i++ {
						if changed[j*bw+i] {
							a = true
							break
						}
					}
				}
				active[by*bw+bx] = a
			}
		}
		flips := 0
		for by := range bh {
			for bx := range bw {
				bi := by*bw + bx
				changed[bi] = false
				if !active[bi] {
					continue
				}
				for y := by * block; y < min(h, (by+1)*block); y++ {
					for x := bx * block; x < min(w, (bx+1)*block); x++ {
						k := idx[y*w+x]
						if k == noKernel {
							continue
						}
						s := convolve(b.kernel(k), cur[y*pw+x:], pw, b.size)
						v := float32(gain * s)
						v = max(-1, min(1, v))
						o := (y+r)*pw + x + r
						d := v - cur[o]
						if d > 0.01 || d < -0.01 {
							changed[bi] = true
						}
						if (v > 0) != (cur[o] > 0) {
							flips++
						}
						next[o] = v
					}
				}
			}
		}
		// Blocks that were not recomputed keep their values in both buffers.
		for by := range bh {
			for bx := range bw {
				if active[by*bw+bx] {
					continue
				}
				for y := by * block; y < min(h, (by+1)*block); y++ {
					o := (y+r)*pw + bx*block + r
					n := min(block, w-bx*block)
					copy(next[o:o+n], cur[o:o+n])
				}
			}
		}
		cur, next = next, cur
		if iter >= 6 && flips < stopFlips {
			break
		}
	}
	for y := range h {
		copy(field[y*w:(y+1)*w], cur[(y+r)*pw+r:])
	}
	return field, iter
}

// convolve returns the dot product of a size x size kernel with the window
// of a padded field whose top-left corner is src[0] (row stride pw).
func convolve(ker, src []float32, pw, size int) float32 {
	var s float32
	for j := range size {
		row := src[j*pw:][:size]
		kr := ker[j*size:][:size]
		for i, kv := range kr {
			s += float32(kv * row[i])
		}
	}
	return s
}

// bilinear samples a w x h field at (x, y), pixel centres at integers,
// clamping to the border.
func bilinear(f []float32, w, h int, x, y float64) float32 {
	x = math.Max(0, math.Min(float64(w-1), x))
	y = math.Max(0, math.Min(float64(h-1), y))
	i, j := int(x), int(y)
	if i > w-2 {
		i = w - 2
	}
	if j > h-2 {
		j = h - 2
	}
	fx, fy := float32(x-float64(i)), float32(y-float64(j))
	p := f[j*w+i:]
	q := f[(j+1)*w+i:]
	top := p[0] + float32(fx*(p[1]-p[0]))
	bot := q[0] + float32(fx*(q[1]-q[0]))
	return top + float32(fy*(bot-top))
}

// blurBinomial returns f blurred by the separable binomial kernel
// [1 4 6 4 1]/16 (σ = 1 pixel), the border replicated.
func blurBinomial(f []float32, w, h int) []float32 {
	tmp := make([]float32, len(f))
	out := make([]float32, len(f))
	for y := range h {
		row := f[y*w : (y+1)*w]
		for x := range w {
			a, b := row[max(0, x-2)], row[max(0, x-1)]
			c, d := row[min(w-1, x+1)], row[min(w-1, x+2)]
			tmp[y*w+x] = (a + d + float32(4*(b+c)) + float32(6*row[x])) / 16
		}
	}
	for y := range h {
		a, b := max(0, y-2)*w, max(0, y-1)*w
		c, d := min(h-1, y+1)*w, min(h-1, y+2)*w
		for x := range w {
			out[y*w+x] = (tmp[a+x] + tmp[d+x] + float32(4*(tmp[b+x]+tmp[c+x])) + float32(6*tmp[y*w+x])) / 16
		}
	}
	return out
}
