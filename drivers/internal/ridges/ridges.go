// Package ridges helps the simulators with finger images. Pattern draws a
// deterministic fingerprint-like image (dark ridges on a light background,
// roughly 500 ppi ridge spacing) from a seed; the simulators use it when no
// image source is wired in, so a simulated sensor always has a finger to
// show. It is not a model of real fingerprints (that is the synthetic
// fingerprint generator's job). Fit brings any image to a sensor's geometry.
package ridges

import (
	"image"
	"math"
	"math/rand/v2"
)

// Pattern returns a w x h grey image of a whorl-like ridge pattern inside an
// elliptical finger outline. The same seed gives the same image.
func Pattern(seed uint64, w, h int) *image.Gray {
	r := rand.New(rand.NewPCG(seed, seed^0x9E3779B97F4A7C15))
	g := image.NewGray(image.Rect(0, 0, w, h))
	cx := float64(w)*0.5 + (r.Float64()-0.5)*float64(w)*0.2
	cy := float64(h)*0.45 + (r.Float64()-0.5)*float64(h)*0.2
	ax, ay := float64(w)*0.42, float64(h)*0.47
	period := 8.0 + r.Float64()*2  // pixels between ridges at 500 ppi
	arms := float64(1 + r.IntN(2)) // spiral arms of the whorl; whole numbers keep it seamless
	if r.IntN(2) == 0 {
		arms = -arms
	}
	stretch := 0.8 + r.Float64()*0.4
	var waves [3]struct{ fx, fy, ph, amp float64 }
	for i := range waves {
		waves[i].fx = (r.Float64() - 0.5) * 0.08
		waves[i].fy = (r.Float64() - 0.5) * 0.08
		waves[i].ph = r.Float64() * 2 * math.Pi
		waves[i].amp = 4 + r.Float64()*8
	}
	for y := range h {
		for x := range w {
			dx, dy := float64(x)-cx, float64(y)-cy
			e := (dx*dx)/(ax*ax) + (dy*dy)/(ay*ay)
			if e > 1 {
				g.Pix[y*g.Stride+x] = 255
				continue
			}
			rad := math.Hypot(dx, dy*stretch)
			ang := math.Atan2(dy, dx)
			d := rad + arms*ang*period/(2*math.Pi)
			for _, wv := range waves {
				d += wv.amp * math.Sin(wv.fx*float64(x)+wv.fy*float64(y)+wv.ph)
			}
			v := 0.5 + 0.5*math.Cos(2*math.Pi*d/period)
			edge := math.Min(1, (1-e)*6) // fade out towards the outline
			lum := 255 - edge*v*200 - r.Float64()*12
			g.Pix[y*g.Stride+x] = uint8(math.Max(0, math.Min(255, lum)))
		}
	}
	return g
}
