package synth

import "math"

// Ridge period. A finger has a base ridge period with a smooth random
// variation, like SFinGe's ridge-frequency map; on top of that the period
// follows the flow. Where the flow fans out, ridges drift apart: real skin
// lets the gap between them grow for a while, where a ridge pattern grown
// at a fixed period has to insert a ridge every few pixels. Those forced
// insertions all point the same way and sit in the same places on every
// finger of a class, so with a fixed period masters had half again as many
// minutiae as real fingers, most of them forced, and impostor comparisons
// scored well above FVC2002 DB4. With the period following the flow, forced
// minutiae drop by about a third and the rest of the minutiae come from
// where the growing ridge patches meet, at random.
const (
	// periodMin and periodMax bound the ridge period in pixels at 500 ppi
	// (0.38 to 0.61 mm), the range of adult fingers. Where the flow
	// squeezed ridges closer than 7.5 px, pressure and wet skin merged them
	// in impressions and the extractor found a third more minutiae there
	// that the master does not have (precision against the truth fell from
	// 0.85 to 0.79 with a floor of 6.5 px).
	periodMin = 7.5
	periodMax = 12
	// stretchMax bounds how far the flow may stretch or squeeze the
	// period: by a factor e^±stretchMax.
	stretchMax = 0.5
	// stretchCell is the spacing in pixels of the grid the stretch is
	// solved on, stretchPasses the number of relaxation passes.
	stretchCell   = 16
	stretchPasses = 600
	// spreadMax bounds the spreading rate of the flow (radians per pixel)
	// the stretch follows: it grows without bound at a singular point.
	spreadMax = 0.03
)

// stretchMap is a smooth map of log ridge-period factors u over the
// master, solved on a coarse grid.
//
// Write the ridge pattern as cos φ with ∇φ = k·n, k = 2π/period, θ the
// ridge orientation, t = (cos θ, sin θ) the unit tangent and n = (-sin θ,
// cos θ) the unit normal. A pattern without minutiae needs ∇×(k n) = 0,
// that is t·∇ln k = -n·∇θ: where the flow turns across the ridges
// (n·∇θ ≠ 0, they fan out or close in) the period must change along them.
// The stretch u = ln(period) + const is the least-squares solution of
// t·∇u = s, s = n·∇θ, with a little isotropic smoothing, by Gauss-Seidel
// passes over the discretised normal equation u(x) = ½(u(x+ht) +
// u(x-ht)) - ½h(s(x+ht/2) - s(x-ht/2)); it is then centred and clamped
// to ±stretchMax. The minutiae a zero-pole flow needs near its singular
// points remain.
type stretchMap struct {
	gw, gh int
	u      []float64
}

// stencil is one node's discretised equation: two bilinear samples of u
// (four weights and corner indices each) and a constant term.
type stencil struct {
	idx [8]int32
	w   [8]float64
	b   float64
}

// newStretchMap solves the stretch for an orientation model over a w x h
// master.
func newStretchMap(o *orientModel, w, h int) *stretchMap {
	const cell = stretchCell
	gw, gh := w/cell+2, h/cell+2
	n := gw * gh
	theta := make([]float64, n)
	spread := make([]float64, n)
	const d = 2.0 // pixels, for the finite differences of θ
	for j := range gh {
		for i := range gw {
			x, y := float64(i*cell), float64(j*cell)
			t := o.at(x, y)
			gx := wrapHalfTurn(o.at(x+d, y)-o.at(x-d, y)) / (2 * d)
			gy := wrapHalfTurn(o.at(x, y+d)-o.at(x, y-d)) / (2 * d)
			s, c := sinCos(t)
			v := float64(-s*gx) + float64(c*gy) // n·∇θ, n = (-sin θ, cos θ)
			theta[j*gw+i] = t
			spread[j*gw+i] = math.Max(-spreadMax, math.Min(spreadMax, v))
		}
	}
	// Each node's equation, from samples a step h = cell along the ridge
	// on either side.
	st := make([]stencil, n)
	sample := func(f []float64, x, y float64) float64 { return gridSample(f, gw, gh, x, y) }
	for j := range gh {
		for i := range gw {
			k := j*gw + i
			x, y := float64(i*cell), float64(j*cell)
			s, c := sinCos(theta[k])
			hx, hy := float64(cell*c), float64(cell*s)
			ip, wp := bilinearStencil(gw, gh, cell, x+hx, y+hy)
			im, wm := bilinearStencil(gw, gh, cell, x-hx, y-hy)
			for q := range 4 {
				st[k].idx[q], st[k].w[q] = ip[q], float64(0.5*wp[q])
				st[k].idx[4+q], st[k].w[4+q] = im[q], float64(0.5*wm[q])
			}
			sp := sample(spread, float64(x+float64(0.5*hx)), float64(y+float64(0.5*hy)))
			sm := sample(spread, float64(x-float64(0.5*hx)), float64(y-float64(0.5*hy)))
			st[k].b = -float64(float64(0.5*cell) * (sp - sm))
		}
	}
	const smoothing = 0.1 // weight of the isotropic neighbour mean
	u := make([]float64, n)
	for range stretchPasses {
		for j := range gh {
			for i := range gw {
				k := j*gw + i
				e := &st[k]
				along := e.b
				for q := range 8 {
					along += float64(e.w[q] * u[e.idx[q]])
				}
				var iso, nb float64
				if i > 0 {
					iso, nb = iso+u[k-1], nb+1
				}
				if i < gw-1 {
					iso, nb = iso+u[k+1], nb+1
				}
				if j > 0 {
					iso, nb = iso+u[k-gw], nb+1
				}
				if j < gh-1 {
					iso, nb = iso+u[k+gw], nb+1
				}
				u[k] = float64((1-smoothing)*along) + float64(smoothing*(iso/nb))
			}
		}
	}
	var mean float64
	for _, v := range u {
		mean += v
	}
	mean /= float64(n)
	for k := range u {
		u[k] = math.Max(-stretchMax, math.Min(stretchMax, u[k]-mean))
	}
	return &stretchMap{gw: gw, gh: gh, u: u}
}

// factor returns the period factor e^u at master point (x, y).
func (s *stretchMap) factor(x, y float64) float64 {
	return exp(gridSample(s.u, s.gw, s.gh, x, y))
}

// gridSample samples f, a gw x gh grid of nodes stretchCell pixels apart,
// at (x, y) (bilinearStencil).
func gridSample(f []float64, gw, gh int, x, y float64) float64 {
	idx, wt := bilinearStencil(gw, gh, stretchCell, x, y)
	var v float64
	for k := range 4 {
		v += float64(wt[k] * f[idx[k]])
	}
	return v
}

// bilinearStencil returns the corner indices and weights of a bilinear
// sample at (x, y) of a gw x gh grid of nodes cell pixels apart (node (i, j)
// at (i·cell, j·cell)), clamped to the grid.
func bilinearStencil(gw, gh int, cell, x, y float64) ([4]int32, [4]float64) {
	gx := math.Max(0, math.Min(float64(gw-1), x/cell))
	gy := math.Max(0, math.Min(float64(gh-1), y/cell))
	i, j := min(int(gx), gw-2), min(int(gy), gh-2)
	fx, fy := gx-float64(i), gy-float64(j)
	k := int32(j*gw + i)
	return [4]int32{k, k + 1, k + int32(gw), k + int32(gw) + 1},
		[4]float64{float64((1 - fx) * (1 - fy)), float64(fx * (1 - fy)), float64((1 - fx) * fy), float64(fx * fy)}
}
