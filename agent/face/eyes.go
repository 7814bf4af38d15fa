package face

import (
	"cmp"
	"math"
	"slices"
)

// Eye is the centre of one eye in frame pixels (column X, row Y) with a
// confidence from 0 (a guess from the face box) to 1 (the Haar eye cascade
// and the pupil locator agree on a clear eye).
type Eye struct {
	X, Y       float64
	Confidence float64
}

// Eye geometry relative to a PICO face window of size s centred at (X, Y),
// measured on frontal portraits: the eyes sit about 0.2 s left and right of
// the centre and 0.1 s above it.
const (
	eyeDX = 0.2
	eyeDY = -0.1
	// The Haar eye search covers +-eyeSearchX*s, +-eyeSearchY*s around the
	// prior with the window sizes eyeWins (times s), the likeliest first,
	// and stops at haarEnough accepted windows.
	eyeSearchX = 0.13
	eyeSearchY = 0.11
	haarStride = 2 // pixels of the scaled region between windows, as OpenCV
	haarEnough = 6
	// The pupil locator looks at a patch eyePatchW*s by eyePatchH*s around
	// the Haar eye centre, resampled to pupilPatchW pixels wide.
	eyePatchW   = 0.24
	eyePatchH   = 0.15
	pupilPatchW = 36
	// irisRadius is a little more than the iris radius, about 0.1 of the
	// inter-eye distance.
	irisRadius = 0.045
)

// eyeScratch holds the buffers of one eye search; a Pipeline keeps them in a
// sync.Pool so a frame's assessment does not allocate them anew.
type eyeScratch struct {
	region []float64
	haar   haarScan
	hits   []Detection
	order  []haarPos
	grads  []pupilGrad
	obj    []float64
	blur   []float64
}

// eyeWins are the Haar window sizes tried, in units of the face size.
var eyeWins = [...]float64{0.24, 0.18, 0.31}

type haarPos struct {
	x, y int
	d    float64
}

type pupilGrad struct {
	x, y, gx, gy float64
}

// findEyes locates the subject's right eye (left in the image) and left eye
// (right in the image) of the face d.
func findEyes(g *gray, hc *HaarCascade, d Detection, sc *eyeScratch) (right, left Eye) {
	s := d.Size
	right = findEye(g, hc, d.X-eyeDX*s, d.Y+eyeDY*s, s, sc)
	left = findEye(g, hc, d.X+eyeDX*s, d.Y+eyeDY*s, s, sc)
	// Plausibility of the pair: inter-eye distance and tilt. A pair that
	// does not look like two eyes of this face keeps its positions (they are
	// the best guess) but loses most of its confidence.
	dx, dy := left.X-right.X, left.Y-right.Y
	ied := math.Hypot(dx, dy)
	if ied < 0.25*s || ied > 0.65*s || dx <= 0 || math.Abs(dy) > 0.6*dx {
		right.Confidence *= 0.3
		left.Confidence *= 0.3
	}
	return right, left
}

// findEye searches one eye near the prior (px, py) of a face of size s.
func findEye(g *gray, hc *HaarCascade, px, py, s float64, sc *eyeScratch) Eye {
	cx, cy, hits := px, py, 0
	if hc != nil {
		cx, cy, hits = haarEye(g, hc, px, py, s, sc)
	}
	x, y, pconf := pupil(g, cx, cy, s, sc)
	haarConf := math.Min(1, float64(hits)/3)
	return Eye{X: x, Y: y, Confidence: 0.5*haarConf + 0.5*pconf}
}

// haarEye runs the Haar eye cascade over windows around (px, py) and
// returns the mean centre of the accepted windows nearest the prior and
// how many there were; with none, it returns the prior.
func haarEye(g *gray, hc *HaarCascade, px, py, s float64, sc *eyeScratch) (float64, float64, int) {
	sc.hits = sc.hits[:0]
	ww, wh := float64(hc.w), float64(hc.h)
scales:
	for _, wf := range eyeWins {
		win := wf * s
		k := ww / win // region pixels per frame pixel
		// Region in frame coordinates: every window centre within the
		// search box, which is centred on the prior.
		x0 := px - eyeSearchX*s - win/2
		y0 := py - eyeSearchY*s - win/2
		rw := int((2*eyeSearchX*s + win) * k)
		rh := int((2*eyeSearchY*s + win) * k)
		if rw < hc.w || rh < hc.h {
			continue
		}
		sc.region = resample(g, sc.region, x0, y0, 1/k, rw, rh)
		sc.haar.load(hc, sc.region, rw, rh)
		// Windows nearest the prior first, so that the search can stop
		// once it has enough hits.
		cx, cy := float64(rw-hc.w)/2, float64(rh-hc.h)/2
		sc.order = sc.order[:0]
		for y := 0; y+hc.h <= rh; y += haarStride {
			for x := 0; x+hc.w <= rw; x += haarStride {
				d := (float64(x)-cx)*(float64(x)-cx) + (float64(y)-cy)*(float64(y)-cy)
				sc.order = append(sc.order, haarPos{x: x, y: y, d: d})
			}
		}
		slices.SortFunc(sc.order, func(a, b haarPos) int { return cmp.Compare(a.d, b.d) })
		for _, pos := range sc.order {
			if hc.eval(&sc.haar, pos.x, pos.y) == len(hc.stages) {
				sc.hits = append(sc.hits, Detection{
					X:     x0 + (float64(pos.x)+ww/2)/k,
					Y:     y0 + (float64(pos.y)+wh/2)/k,
					Size:  win,
					Score: 1,
				})
				if len(sc.hits) >= haarEnough {
					break scales
				}
			}
		}
	}
	if len(sc.hits) == 0 {
		return px, py, 0
	}
	// Group the hits and keep the group nearest the prior, weighted by
	// its size: eyebrows and eye corners give smaller, stray groups.
	groups := cluster(sc.hits, 0.3)
	best, bestScore := -1, math.Inf(-1)
	for i, gr := range groups {
		dist := math.Hypot(gr.X-px, gr.Y-py) / s
		score := gr.Score - 8*dist
		if best < 0 || score > bestScore {
			best, bestScore = i, score
		}
	}
	// Each hit scores 1, so a group's score is its size.
	return groups[best].X, groups[best].Y, int(groups[best].Score)
}

// resample fills dst with a w x h grid sampled from g: grid pixel (i, j) is
// the mean of g around (x0 + (i+0.5)*step, y0 + (j+0.5)*step), with a box
// prefilter of the step's size when step > 1.5 to avoid aliasing. Frame
// coordinates put pixel centres on integers, so the grid's top-left edge is
// at (x0, y0).
func resample(g *gray, dst []float64, x0, y0, step float64, w, h int) []float64 {
	if cap(dst) < w*h {
		dst = make([]float64, w*h)
	}
	dst = dst[:w*h]
	n := 1
	if step > 1.5 {
		n = min(int(math.Ceil(step)), 4)
	}
	sub := step / float64(n)
	inv := 1 / float64(n*n)
	for j := 0; j < h; j++ {
		for i := 0; i < w; i++ {
			bx := x0 + float64(i)*step
			by := y0 + float64(j)*step
			if n == 1 {
				dst[j*w+i] = g.bilinear(bx+step/2, by+step/2)
				continue
			}
			var acc float64
			for v := 0; v < n; v++ {
				for u := 0; u < n; u++ {
					acc += g.bilinear(bx+(float64(u)+0.5)*sub, by+(float64(v)+0.5)*sub)
				}
			}
			dst[j*w+i] = acc * inv
		}
	}
	return dst
}

// pupil finds the centre of the dark, round iris near (cx, cy) with the
// means-of-gradients method (F. Timm and E. Barth, "Accurate eye centre
// localisation by means of gradients", VISAPP 2011): the centre is the point
// that the most intensity gradients point away from, weighted by darkness.
// The peak is then moved to the darkness-weighted centroid of the iris
// around it. It returns the centre in frame coordinates and a confidence
// 0-1 from how much the peak of the objective stands out.
func pupil(g *gray, cx, cy, s float64, sc *eyeScratch) (float64, float64, float64) {
	fw, fh := eyePatchW*s, eyePatchH*s
	step := fw / pupilPatchW
	w, h := pupilPatchW, int(fh/step)
	x0, y0 := cx-fw/2, cy-fh/2
	sc.region = resample(g, sc.region, x0, y0, step, w, h)
	p := sc.region
	// Smoothed copy for the darkness weight.
	if cap(sc.blur) < w*h {
		sc.blur = make([]float64, w*h)
	}
	blur := sc.blur[:w*h]
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			var acc float64
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := min(max(x+dx, 0), w-1), min(max(y+dy, 0), h-1)
					acc += p[yy*w+xx]
				}
			}
			blur[y*w+x] = acc / 9
		}
	}
	// Gradients (central differences) above a dynamic threshold.
	sc.grads = sc.grads[:0]
	var msum, msq float64
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			gx := (p[y*w+x+1] - p[y*w+x-1]) / 2
			gy := (p[(y+1)*w+x] - p[(y-1)*w+x]) / 2
			m := math.Hypot(gx, gy)
			msum += m
			msq += m * m
			sc.grads = append(sc.grads, pupilGrad{x: float64(x), y: float64(y), gx: gx, gy: gy})
		}
	}
	n := float64(len(sc.grads))
	if n == 0 {
		return cx, cy, 0
	}
	mean := msum / n
	thr := mean + 0.3*math.Sqrt(math.Max(0, msq/n-mean*mean))
	kept := sc.grads[:0]
	for _, gr := range sc.grads {
		m := math.Hypot(gr.gx, gr.gy)
		if m > thr && m > 1 {
			gr.gx /= m
			gr.gy /= m
			kept = append(kept, gr)
		}
	}
	sc.grads = kept
	if len(kept) == 0 {
		return cx, cy, 0
	}
	// Objective over candidate centres in the middle of the patch.
	if cap(sc.obj) < w*h {
		sc.obj = make([]float64, w*h)
	}
	obj := sc.obj[:w*h]
	clear(obj)
	mx, my := w/5, h/5
	best, bestX, bestY := -1.0, cx, cy
	bi, bj := -1, -1
	var total float64
	count := 0
	for j := my; j < h-my; j++ {
		for i := mx; i < w-mx; i++ {
			fx, fy := float64(i), float64(j)
			var acc float64
			for _, gr := range kept {
				dx, dy := gr.x-fx, gr.y-fy
				d2 := dx*dx + dy*dy
				if d2 == 0 {
					continue
				}
				dot := dx*gr.gx + dy*gr.gy
				if dot > 0 {
					acc += dot * dot / d2
				}
			}
			v := acc / float64(len(kept)) * (255 - blur[j*w+i])
			obj[j*w+i] = v
			total += v
			count++
			if v > best {
				best, bi, bj = v, i, j
			}
		}
	}
	if bi < 0 || count == 0 {
		return cx, cy, 0
	}
	// Sub-pixel peak by a parabola through the neighbours.
	fx, fy := float64(bi), float64(bj)
	if bi > mx && bi < w-mx-1 {
		fx += parabolaPeak(obj[bj*w+bi-1], best, obj[bj*w+bi+1])
	}
	if bj > my && bj < h-my-1 {
		fy += parabolaPeak(obj[(bj-1)*w+bi], best, obj[(bj+1)*w+bi])
	}
	// The gradient objective leans towards the lower lid when the upper
	// lid hides part of the iris; a darkness mean shift re-centres it.
	fx, fy = darkCentroid(blur, w, h, fx, fy, irisRadius*s/step)
	bestX = x0 + (fx+0.5)*step
	bestY = y0 + (fy+0.5)*step
	ratio := best / (total / float64(count))
	conf := math.Min(1, math.Max(0, (ratio-1.1)/0.6))
	return bestX, bestY, conf
}

// parabolaPeak returns the offset in (-0.5, 0.5) of the vertex of the
// parabola through (-1, a), (0, b), (1, c), b being the largest.
func parabolaPeak(a, b, c float64) float64 {
	den := a - 2*b + c
	if den >= 0 {
		return 0
	}
	off := 0.5 * (a - c) / den
	return math.Max(-0.5, math.Min(0.5, off))
}

// darkCentroid moves (fx, fy) to the darkness-weighted centroid of the
// disk of radius r around it, a few times (a mean shift on darkness): the
// iris is the darkest round blob of the eye.
func darkCentroid(p []float64, w, h int, fx, fy, r float64) (float64, float64) {
	for it := 0; it < 3; it++ {
		x0, x1 := max(int(fx-r), 0), min(int(fx+r)+1, w-1)
		y0, y1 := max(int(fy-r), 0), min(int(fy+r)+1, h-1)
		var sum float64
		n := 0
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				dx, dy := float64(x)-fx, float64(y)-fy
				if dx*dx+dy*dy <= r*r {
					sum += p[y*w+x]
					n++
				}
			}
		}
		if n == 0 {
			break
		}
		t := sum / float64(n)
		var sw, sx, sy float64
		for y := y0; y <= y1; y++ {
			for x := x0; x <= x1; x++ {
				dx, dy := float64(x)-fx, float64(y)-fy
				if dx*dx+dy*dy <= r*r && p[y*w+x] < t {
					wt := (t - p[y*w+x]) * (t - p[y*w+x])
					sw += wt
					sx += wt * float64(x)
					sy += wt * float64(y)
				}
			}
		}
		if sw == 0 {
			break
		}
		fx, fy = sx/sw, sy/sw
	}
	return fx, fy
}
