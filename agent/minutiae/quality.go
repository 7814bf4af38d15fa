package minutiae

import "math/bits"

// QualityMeasures are the components of the image quality score, each
// 0-100 (higher is better) except where noted. The score, in the spirit of
// NFIQ 2 (whose trained model this is not), gates on the useful minutiae
// and grades by the image measures:
//
//	Quality = 100 · r(Minutiae·MinutiaQuality/100, 2, 15)
//	              · (0.45·r(Clarity, 40, 90) + 0.25·r(Certainty, 15, 80)
//	                 + 0.15·r(Area, 40, 150) + 0.15·r(Frequency, 20, 90))
//
// where r(v, lo, hi) ramps linearly from 0 at lo to 1 at hi, in integer
// arithmetic. Anchors and weights were chosen on FVC2002 DB1-DB4: there the
// rank correlation between the lower quality of a genuine pair and its
// bozorth3 score is 0.53-0.56 in every database, and genuine scores rise
// from the lowest to the highest third of quality. A blank or fingerless
// image scores 0; 40 is a reasonable re-capture threshold.
type QualityMeasures struct {
	// Area is the finger area in square millimetres.
	Area int
	// Certainty is the mean orientation certainty of the foreground
	// (coherence of the gradient structure tensor, as NFIQ 2's OCL).
	Certainty int
	// Clarity is the mean ridge-valley separation of the foreground (as
	// NFIQ 2's LCS): how far the grey levels of ridge and valley pixels of
	// each block are apart, relative to their spread.
	Clarity int
	// Frequency is the share of the foreground whose ridge period is
	// plausible (6-13 pixels at 500 ppi) and within 12.5% of the mean of
	// its neighbours' (in the spirit of NFIQ 2's FDA and RVU).
	Frequency int
	// Minutiae is the number of minutiae returned.
	Minutiae int
	// MinutiaQuality is their mean quality.
	MinutiaQuality int
}

// imageQuality fills r.Quality, r.Measures and the foreground fields.
func (e *Extractor) imageQuality(r *Result) {
	var fg, certSum int
	minX, minY, maxX, maxY := e.bw, e.bh, -1, -1
	for by := 0; by < e.bh; by++ {
		for bx := 0; bx < e.bw; bx++ {
			b := by*e.bw + bx
			if e.mask[b] == 0 {
				continue
			}
			fg++
			certSum += int(e.coh[b])
			minX, minY = min(minX, bx), min(minY, by)
			maxX, maxY = max(maxX, bx), max(maxY, by)
		}
	}
	if fg == 0 {
		return
	}
	x0, y0 := e.toImage(minX*bs, minY*bs)
	x1, y1 := e.toImage(min((maxX+1)*bs, e.w)-1, min((maxY+1)*bs, e.h)-1)
	r.Foreground.Min.X, r.Foreground.Min.Y = x0, y0
	r.Foreground.Max.X, r.Foreground.Max.Y = x1+1, y1+1
	// Area in working pixels, then image pixels and mm² (500 ppi: 19.685
	// px/mm, 387.5 px²/mm²).
	workArea := fg * bs * bs
	r.ForegroundArea = workArea * e.imgW / e.w * e.imgH / e.h
	m := &r.Measures
	m.Area = workArea * 100 / 38750
	m.Certainty = certSum * 100 / (255 * fg)
	m.Clarity = e.clarity()
	m.Frequency = e.frequency()
	m.Minutiae = len(r.Minutiae)
	for _, mn := range r.Minutiae {
		m.MinutiaQuality += int(mn.Quality)
	}
	if m.Minutiae > 0 {
		m.MinutiaQuality /= m.Minutiae
	}
	r.Quality = score(m)
}

// clarity is computed during binarization: see binarize.
func (e *Extractor) clarity() int {
	if e.clarN == 0 {
		return 0
	}
	return int(e.clarSum / int64(e.clarN))
}

// frequency measures the ridge period from the skeleton: in each inner
// foreground block's 3×3 neighbourhood (24×24 pixels) the skeleton length
// gives the period (area / length). It returns the share of blocks whose
// period is plausible and within 12.5% of the mean of their neighbours'.
func (e *Extractor) frequency() int {
	bw, bh := e.bw, e.bh
	nb := bw * bh
	cnt := e.tmp[:nb]
	for by := 0; by < bh; by++ {
		y0, y1 := by*bs, min(by*bs+bs, e.h)
		for bx := 0; bx < bw; bx++ {
			b := by*bw + bx
			cnt[b] = 0
			if e.mask[b] == 0 {
				continue
			}
			var n int32
			for y := y0; y < y1; y++ {
				w := e.bits[(y+1)*e.wpr+1+bx/8]
				n += int32(bits.OnesCount8(uint8(w >> (8 * (bx & 7)))))
			}
			cnt[b] = n
		}
	}
	period := e.tmp[nb : 2*nb] // ridge period ×16 per block, 0 unknown
	e.periodSum, e.periodN = 0, 0
	for by := 0; by < bh; by++ {
		for bx := 0; bx < bw; bx++ {
			b := by*bw + bx
			period[b] = 0
			if e.dist[b] < 2 {
				continue
			}
			var n int32
			for y := by - 1; y <= by+1; y++ {
				for x := bx - 1; x <= bx+1; x++ {
					n += cnt[y*bw+x]
				}
			}
			if n > 0 {
				period[b] = 9 * bs * bs * 16 / n
				e.periodSum += int(period[b])
				e.periodN++
			}
		}
	}
	good, total := 0, 0
	for by := 1; by < bh-1; by++ {
		for bx := 1; bx < bw-1; bx++ {
			b := by*bw + bx
			p := period[b]
			if e.dist[b] < 2 {
				continue
			}
			total++
			if p < 6*16 || p > 13*16 {
				continue
			}
			// Mean of the known neighbours.
			var sum, n int32
			for y := by - 1; y <= by+1; y++ {
				for x := bx - 1; x <= bx+1; x++ {
					if q := period[y*bw+x]; q > 0 && (x != bx || y != by) {
						sum += q
						n++
					}
				}
			}
			if n == 0 {
				continue
			}
			mean := sum / n
			if 8*abs32(p-mean) <= mean {
				good++
			}
		}
	}
	if total == 0 {
		return 0
	}
	return good * 100 / total
}

func abs32(v int32) int32 {
	if v < 0 {
		return -v
	}
	return v
}

// score combines the measures into the 0-100 image quality (see
// QualityMeasures for the formula and how it was chosen). Integer
// arithmetic only, so the score is identical on every platform.
func score(m *QualityMeasures) int {
	// Each factor in 0..1000.
	ramp := func(v, lo, hi int) int {
		switch {
		case v <= lo:
			return 0
		case v >= hi:
			return 1000
		}
		return (v - lo) * 1000 / (hi - lo)
	}
	eff := ramp(m.Minutiae*m.MinutiaQuality, 200, 1500)
	img := (45*ramp(m.Clarity, 40, 90) + 25*ramp(m.Certainty, 15, 80) +
		15*ramp(m.Area, 40, 150) + 15*ramp(m.Frequency, 20, 90)) / 100
	return (eff*img/1000 + 5) / 10
}
