package face

import (
	"math"
)

// measurement is the raw outcome of the measures of one face: the values
// before rounding and, per measure, the reasons to give if it fails.
type measurement struct {
	values    [numMeasures]float64
	reasons   [numMeasures][]Reason
	roll, yaw float64 // degrees
}

// Geometry of the measures, in units of the inter-eye distance d, in face
// coordinates: u along the eye line (towards the subject's left eye), v
// perpendicular, downwards, origin at the eyes' midpoint.
const (
	// The face patch is sampled upright at patchIED pixels per d over
	// u in [-1, 1], v in [patchTop, patchTop + patchH/patchIED].
	patchIED = 48
	patchW   = 2 * patchIED
	patchH   = 120
	patchTop = -0.75

	// ISO/IEC 19794-5 token frame around the eyes: the token is 4 d wide
	// (d = 0.25 W), the eye line 0.6 W = 2.4 d below its top, its height
	// W / 0.75 = 16/3 d.
	tokenHalfW = 2.0
	tokenAbove = 2.4
	tokenBelow = 16.0/3 - 2.4

	// Background strips beside the head, sampled at bgIED pixels per d.
	bgIED   = 24
	bgInner = 1.7
	bgOuter = 3.0
	bgTop   = -2.4
	bgBot   = 1.2
)

// measure computes every measure of face f in g.
func (p *Pipeline) measure(g *gray, f *Face, sc *scratch) measurement {
	var m measurement
	r, l := f.RightEye, f.LeftEye
	dx, dy := l.X-r.X, l.Y-r.Y
	d := math.Hypot(dx, dy)
	if d < 2 {
		// Degenerate eyes: fall back to the typical geometry of the window.
		d, dx, dy = 2*eyeDX*f.Size, 2*eyeDX*f.Size, 0
	}
	theta := math.Atan2(dy, dx)
	cos, sin := dx/d, dy/d
	mx, my := (r.X+l.X)/2, (r.Y+l.Y)/2
	// toFrame maps face coordinates (in units of d) to frame pixels.
	toFrame := func(u, v float64) (float64, float64) {
		return mx + d*(u*cos-v*sin), my + d*(u*sin+v*cos)
	}
	W, H := float64(g.w), float64(g.h)

	// Resolution and size.
	m.values[InterEyeDistance] = 100 * d / 120
	m.reasons[InterEyeDistance] = []Reason{ReasonMoveCloser}
	fs := f.Size / H
	switch {
	case fs < 0.2:
		m.values[FaceSize] = 100 * (fs - 0.05) / 0.15
		m.reasons[FaceSize] = []Reason{ReasonMoveCloser}
	case fs > 0.42:
		m.values[FaceSize] = 100 * (0.6 - fs) / 0.18
		m.reasons[FaceSize] = []Reason{ReasonMoveBack}
	default:
		m.values[FaceSize] = 100
	}

	// Centring: the share of the token frame inside the camera frame.
	const gu, gv = 20, 26
	var inside, left, right, top, bottom int
	for j := 0; j < gv; j++ {
		v := -tokenAbove + (float64(j)+0.5)*(tokenAbove+tokenBelow)/gv
		for i := 0; i < gu; i++ {
			u := -tokenHalfW + (float64(i)+0.5)*2*tokenHalfW/gu
			x, y := toFrame(u, v)
			in := true
			if x < 0 {
				left++
				in = false
			} else if x > W-1 {
				right++
				in = false
			}
			if y < 0 {
				top++
				in = false
			} else if y > H-1 {
				bottom++
				in = false
			}
			if in {
				inside++
			}
		}
	}
	frac := float64(inside) / (gu * gv)
	m.values[Centring] = 100 * (frac - 0.8) / 0.2
	m.reasons[Centring] = centringReasons(left, right, top, bottom)

	// Pose.
	m.roll = theta * 180 / math.Pi
	m.values[Roll] = 100 * (1 - math.Abs(m.roll)/16)
	m.reasons[Roll] = []Reason{ReasonHeadLevel}

	// The upright face patch.
	sc.patch = sampleAligned(g, sc.patch, toFrame, patchW, patchH, patchIED, -1, patchTop, d/patchIED)
	patch := sc.patch
	sc.smooth = boxSmooth(patch, sc.smooth, patchW, patchH)
	m.yaw = yawEstimate(sc.smooth)
	m.values[Yaw] = 100 * (1 - math.Abs(m.yaw)/15)
	m.reasons[Yaw] = []Reason{ReasonLookAtCam}

	m.values[EyesDetected] = 100 * math.Min(r.Confidence, l.Confidence)
	m.reasons[EyesDetected] = []Reason{ReasonEyes}

	// Face region statistics.
	c0, c1 := px(0.2), px(1.8)
	r0, r1 := px(-0.45-patchTop), px(1.45-patchTop)
	var hist [256]int
	var sum float64
	n := 0
	for y := r0; y < r1; y++ {
		for x := c0; x < c1; x++ {
			v := patch[y*patchW+x]
			hist[int(v+0.5)]++
			sum += v
			n++
		}
	}
	mean := sum / float64(n) / 255
	side := ReasonTooBright
	if mean < 0.5 {
		side = ReasonTooDark
	}
	m.values[Brightness] = 100 * logistic((mean-0.2)/0.05) * (1 - logistic((mean-0.8)/0.05))
	m.reasons[Brightness] = []Reason{side}

	under, over := 0, 0
	for v := 0; v <= 15; v++ {
		under += hist[v]
	}
	for v := 245; v < 256; v++ {
		over += hist[v]
	}
	uf, of := float64(under)/float64(n)/0.25, float64(over)/float64(n)/0.05
	m.values[Exposure] = 100 * (1 - math.Max(uf, of))
	if uf >= of {
		m.reasons[Exposure] = []Reason{ReasonTooDark}
	} else {
		m.reasons[Exposure] = []Reason{ReasonTooBright}
	}

	var entropy float64
	for _, c := range hist {
		if c > 0 {
			q := float64(c) / float64(n)
			entropy -= q * math.Log2(q)
		}
	}
	m.values[DynamicRange] = 12.5 * entropy
	m.reasons[DynamicRange] = []Reason{side}

	m.values[Sharpness] = 100 * (sharpnessRatio(patch, c0, c1, r0, r1) - 0.25) / 0.35
	m.reasons[Sharpness] = []Reason{ReasonHoldStill}

	m.values[IlluminationUniformity] = 200 * illuminationIntersection(patch)
	m.reasons[IlluminationUniformity] = []Reason{ReasonUnevenLight}

	m.values[BackgroundUniformity] = backgroundScore(g, sc, toFrame, d)
	m.reasons[BackgroundUniformity] = []Reason{ReasonBackground}
	return m
}

func centringReasons(left, right, top, bottom int) []Reason {
	if (left > 0 && right > 0) || (top > 0 && bottom > 0) {
		return []Reason{ReasonMoveBack}
	}
	var out []Reason
	// Out on the image's left: the traveller stands to their right of the
	// camera's axis and must move to their left; and so on.
	switch {
	case left > 0:
		out = append(out, ReasonMoveLeft)
	case right > 0:
		out = append(out, ReasonMoveRight)
	}
	switch {
	case top > 0:
		out = append(out, ReasonMoveDown)
	case bottom > 0:
		out = append(out, ReasonMoveUp)
	}
	if left+right < top+bottom && len(out) == 2 {
		out[0], out[1] = out[1], out[0]
	}
	return out
}

// px converts a length in units of d to whole pixels of the face patch.
func px(units float64) int { return int(units * patchIED) }

func logistic(x float64) float64 { return 1 / (1 + math.Exp(-x)) }

// sampleAligned fills dst (w x h) with g sampled on an upright grid in face
// coordinates: pixel (i, j) covers u from u0 + i/ppd, v from v0 + j/ppd,
// ppd pixels per inter-eye distance. step is the grid's pixel size in frame
// pixels; above 1.5 each pixel averages up to 4 x 4 samples against
// aliasing. Samples outside the frame are clamped to its border.
func sampleAligned(g *gray, dst []float64, toFrame func(u, v float64) (float64, float64), w, h int, ppd, u0, v0, step float64) []float64 {
	if cap(dst) < w*h {
		dst = make([]float64, w*h)
	}
	dst = dst[:w*h]
	n := 1
	if step > 1.5 {
		n = min(int(math.Ceil(step)), 4)
	}
	inv := 1 / float64(n*n)
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			var acc float64
			for b := 0; b < n; b++ {
				for a := 0; a < n; a++ {
					u := u0 + (float64(i)+(float64(a)+0.5)/float64(n))/ppd
					v := v0 + (float64(j)+(float64(b)+0.5)/float64(n))/ppd
					x, y := toFrame(u, v)
					acc += g.bilinear(x, y)
				}
			}
			dst[j*w+i] = acc * inv
		}
	}
	return dst
}

// sharpnessRatio is the mean absolute 4-neighbour Laplacian over the mean
// gradient magnitude in the rectangle [c0, c1) x [r0, r1) of the patch.
func sharpnessRatio(p []float64, c0, c1, r0, r1 int) float64 {
	var lap, grad float64
	for y := r0; y < r1; y++ {
		for x := c0; x < c1; x++ {
			c := p[y*patchW+x]
			l, r := p[y*patchW+x-1], p[y*patchW+x+1]
			u, d := p[(y-1)*patchW+x], p[(y+1)*patchW+x]
			lap += math.Abs(4*c - l - r - u - d)
			grad += math.Hypot(r-l, d-u) / 2
		}
	}
	if grad == 0 {
		return 0
	}
	return lap / grad
}

// illuminationIntersection is the intersection of the normalised 32-bin
// luma histograms of the left and right halves of the face (OFIQ's
// illumination uniformity), from the eyes down to the mouth.
func illuminationIntersection(p []float64) float64 {
	r0, r1 := px(-0.2-patchTop), px(1.3-patchTop)
	lc0, lc1 := px(0.2), px(0.9)
	rc0, rc1 := px(1.1), px(1.8)
	var hl, hr [32]int
	nl, nr := 0, 0
	for y := r0; y < r1; y++ {
		for x := lc0; x < lc1; x++ {
			hl[int(p[y*patchW+x]+0.5)>>3]++
			nl++
		}
		for x := rc0; x < rc1; x++ {
			hr[int(p[y*patchW+x]+0.5)>>3]++
			nr++
		}
	}
	var x float64
	for i := range hl {
		x += math.Min(float64(hl[i])/float64(nl), float64(hr[i])/float64(nr))
	}
	return x
}

// yawEstimate finds the vertical axis about which the nose and mouth band
// of the upright patch is most mirror-symmetric (in horizontal gradients of
// the patch sm, smoothed by a 3 x 3 box) and turns its offset from the eyes'
// midpoint into degrees: a point yawDepth*d in front of the eyes' plane
// moves by yawDepth*d*sin(yaw).
func yawEstimate(sm []float64) float64 {
	r0, r1 := px(0.25-patchTop), px(1.35-patchTop)
	half := px(0.75) // columns compared each side of the axis
	maxOff := px(0.3)
	best, bestK := math.Inf(-1), 0
	var scores [4*patchIED + 1]float64 // indexed by k + 2*patchIED
	// twoA, twice the axis position in pixel edges, runs over whole and
	// half pixels around the patch centre.
	for k := -2 * maxOff; k <= 2*maxOff; k++ {
		twoA := patchW + k
		var num, na, nb float64
		for y := r0; y < r1; y++ {
			row := sm[y*patchW:]
			for i := 1; i <= half; i++ {
				// Pixel c spans [c, c+1); its mirror about the axis is
				// twoA-1-c. An axis through a pixel centre skips that pixel.
				cl := (twoA-2)/2 - (i - 1)
				cr := twoA - 1 - cl
				if cl < 1 || cr > patchW-2 {
					continue
				}
				gl := row[cl+1] - row[cl-1]
				gr := row[cr+1] - row[cr-1]
				num -= gl * gr
				na += gl * gl
				nb += gr * gr
			}
		}
		s := 0.0
		if na > 0 && nb > 0 {
			s = num / math.Sqrt(na*nb)
		}
		scores[k+2*patchIED] = s
		if s > best {
			best, bestK = s, k
		}
	}
	off := float64(bestK)
	if bestK > -2*maxOff && bestK < 2*maxOff {
		off += parabolaPeak(scores[bestK-1+2*patchIED], best, scores[bestK+1+2*patchIED])
	}
	a := off / 2 / patchIED // axis offset in units of d
	return math.Asin(math.Max(-1, math.Min(1, a/yawDepth))) * 180 / math.Pi
}

// yawDepth is the effective depth, in units of d, of the nose and mouth
// band in front of the eyes' plane.
const yawDepth = 0.4

// boxSmooth returns p (w x h) smoothed by a 3 x 3 box, edges clamped.
func boxSmooth(p, dst []float64, w, h int) []float64 {
	if cap(dst) < w*h {
		dst = make([]float64, w*h)
	}
	dst = dst[:w*h]
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for dy := -1; dy <= 1; dy++ {
				yy := min(max(y+dy, 0), h-1)
				for dx := -1; dx <= 1; dx++ {
					xx := min(max(x+dx, 0), w-1)
					acc += p[yy*w+xx]
				}
			}
			dst[y*w+x] = acc / 9
		}
	}
	return dst
}

// backgroundScore measures the mean luma gradient beside the head.
func backgroundScore(g *gray, sc *scratch, toFrame func(u, v float64) (float64, float64), d float64) float64 {
	w, h := 31, 86 // (bgOuter-bgInner)*bgIED, (bgBot-bgTop)*bgIED
	step := d / bgIED
	W, H := float64(g.w), float64(g.h)
	var sum float64
	n, total := 0, 0
	for _, u0 := range []float64{-bgOuter, bgInner} {
		sc.bg = sampleAligned(g, sc.bg, toFrame, w, h, bgIED, u0, bgTop, step)
		for j := 1; j < h-1; j++ {
			for i := 1; i < w-1; i++ {
				total++
				// Skip samples whose neighbourhood leaves the frame.
				x, y := toFrame(u0+(float64(i)+0.5)/bgIED, bgTop+(float64(j)+0.5)/bgIED)
				if x < step || y < step || x > W-1-step || y > H-1-step {
					continue
				}
				b := sc.bg
				gx := (b[j*w+i+1] - b[j*w+i-1]) / 2
				gy := (b[(j+1)*w+i] - b[(j-1)*w+i]) / 2
				sum += math.Hypot(gx, gy)
				n++
			}
		}
	}
	if n < total/5 || n == 0 {
		return 100
	}
	gm := sum / float64(n)
	return 100 * (1 - (gm-2)/10)
}
