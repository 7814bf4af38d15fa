package synth

// valueNoise is smooth random noise: uniform values in [-1, 1] on a coarse
// grid of square cells, blended with a smoothstep. It is cheap, smooth and
// deterministic, which is all the generator asks of it (ridge-period
// variation, dry patches, background stains).
type valueNoise struct {
	cell   float64
	gw, gh int
	v      []float64
}

// newValueNoise returns noise covering a w x h area with the given cell
// size in pixels.
func newValueNoise(r *rng, w, h int, cell float64) *valueNoise {
	n := &valueNoise{cell: cell, gw: int(float64(w)/cell) + 3, gh: int(float64(h)/cell) + 3}
	n.v = make([]float64, n.gw*n.gh)
	for i := range n.v {
		n.v[i] = r.uniform(-1, 1)
	}
	return n
}

// at returns the noise at (x, y); outside the covered area it is clamped
// to the border.
func (n *valueNoise) at(x, y float64) float64 {
	u, v := x/n.cell+1, y/n.cell+1
	if u < 0 {
		u = 0
	}
	if v < 0 {
		v = 0
	}
	i, j := int(u), int(v)
	if i > n.gw-2 {
		i, u = n.gw-2, float64(n.gw-2)
	}
	if j > n.gh-2 {
		j, v = n.gh-2, float64(n.gh-2)
	}
	fx, fy := smooth(u-float64(i)), smooth(v-float64(j))
	p := n.v[j*n.gw+i:]
	q := n.v[(j+1)*n.gw+i:]
	top := p[0] + float64(fx*(p[1]-p[0]))
	bot := q[0] + float64(fx*(q[1]-q[0]))
	return top + float64(fy*(bot-top))
}

// smooth is the smoothstep 3t² - 2t³ on [0, 1].
func smooth(t float64) float64 { return float64(float64(t*t) * (3 - 2*t)) }
