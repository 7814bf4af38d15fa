package synth

import "math"

// fingertip is the outline of the finger's first phalanx as it would print
// if pressed flat: in the manner of SFinGe, a top half-ellipse, a straight
// middle part and a flatter bottom half-ellipse, each side with its own
// half-width.
type fingertip struct {
	cx, top       float64 // centre x and top y
	left, right   float64 // half-widths on each side of cx
	topH, midH    float64 // heights of the top half-ellipse and middle part
	botH          float64 // height of the bottom half-ellipse
	width, height float64 // bounding box size
}

// newFingertip draws a fingertip that fits a w x h canvas with a margin.
func newFingertip(r *rng, w, h int) fingertip {
	f := fingertip{
		left:  r.uniform(118, 146),
		right: r.uniform(118, 146),
		topH:  r.uniform(120, 160),
		midH:  r.uniform(120, 170),
		botH:  r.uniform(60, 100),
	}
	f.width = f.left + f.right
	f.height = f.topH + f.midH + f.botH
	f.cx = float64(float64(w)/2) + float64((f.left-f.right)/2)
	f.top = (float64(h) - f.height) / 2
	return f
}

// dist returns an approximation of the signed distance in pixels from
// (x, y) to the outline: positive inside, negative outside.
func (f *fingertip) dist(x, y float64) float64 {
	dx := x - f.cx
	a := f.right
	if dx < 0 {
		a = f.left
	}
	y0 := f.top + f.topH // top of the middle part
	y1 := y0 + f.midH    // bottom of the middle part
	var b, dy float64
	switch {
	case y < y0:
		b, dy = f.topH, y0-y
	case y > y1:
		b, dy = f.botH, y-y1
	default:
		return a - math.Abs(dx)
	}
	// Distance to an ellipse, approximated by scaling the normalised radius
	// with the local radius (exact on the axes, within a few pixels
	// elsewhere, which is all the fading and margins need).
	u, v := dx/a, dy/b
	rho := math.Sqrt(float64(u*u) + float64(v*v))
	if rho == 0 {
		return math.Min(a, b)
	}
	// Local radius along the ray: |(dx, dy)| / rho.
	rad := math.Sqrt(float64(dx*dx)+float64(dy*dy)) / rho
	return float64((1 - rho) * rad)
}
