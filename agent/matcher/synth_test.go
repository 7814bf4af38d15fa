package matcher

import (
	"math"
	"math/rand/v2"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// Synthetic minutiae for tests: a "master" finger is a set of minutiae in
// an ellipse whose directions follow a smooth loop-like flow field, and an
// impression of it is the master moved, turned, distorted, jittered,
// cropped, with minutiae missed and spurious ones added, as a sensor and an
// extractor would.

type master struct {
	x, y, dir []float64 // pixels at 500 ppi, y down; direction in radians, ISO sense
	kind      []fmr.Kind
}

func newMaster(rng *rand.Rand, n int) master {
	var m master
	cx, cy := 194.0, 187.0
	coreX, coreY := cx+rng.NormFloat64()*20, cy+rng.NormFloat64()*20
	for len(m.x) < n {
		x := cx + (rng.Float64()*2-1)*150
		y := cy + (rng.Float64()*2-1)*180
		if (x-cx)*(x-cx)/(150*150)+(y-cy)*(y-cy)/(180*180) > 1 {
			continue
		}
		// Loop-like orientation: circular around the core, straighter away.
		o := math.Atan2(y-coreY, x-coreX) + math.Pi/2
		o += 0.3 * math.Sin(x/60)
		if rng.IntN(2) == 0 {
			o += math.Pi // ridge endings and bifurcations point either way
		}
		m.x = append(m.x, x)
		m.y = append(m.y, y)
		m.dir = append(m.dir, o+rng.NormFloat64()*0.1)
		m.kind = append(m.kind, fmr.Kind(1+rng.IntN(2)))
	}
	return m
}

type impressionParams struct {
	maxRotate, maxShift float64 // radians, pixels
	distort             float64 // amplitude of a smooth warp, pixels
	jitter, angleJitter float64 // standard deviations, pixels and radians
	miss                float64 // share of minutiae missed
	spurious            int
	width, height       float64 // the sensor window; minutiae outside are lost
	ppi                 int     // resolution of the produced coordinates
}

func defaultImpression() impressionParams {
	return impressionParams{
		maxRotate: 25 * math.Pi / 180, maxShift: 40,
		distort: 6, jitter: 2, angleJitter: 8 * math.Pi / 180,
		miss: 0.2, spurious: 6,
		width: 388, height: 374, ppi: 500,
	}
}

func (m master) impression(rng *rand.Rand, p impressionParams) []fmr.Minutia {
	rot := (rng.Float64()*2 - 1) * p.maxRotate
	dx, dy := (rng.Float64()*2-1)*p.maxShift, (rng.Float64()*2-1)*p.maxShift
	ph1, ph2 := rng.Float64()*2*math.Pi, rng.Float64()*2*math.Pi
	cx, cy := 194.0, 187.0
	scale := float64(p.ppi) / 500
	var out []fmr.Minutia
	for i := range m.x {
		if rng.Float64() < p.miss {
			continue
		}
		x, y := m.x[i]-cx, m.y[i]-cy
		// Screen rotation by rot (y down: counter-clockwise on screen).
		xr := x*math.Cos(rot) + y*math.Sin(rot)
		yr := -x*math.Sin(rot) + y*math.Cos(rot)
		xr += p.distort * math.Sin(yr/70+ph1)
		yr += p.distort * math.Sin(xr/70+ph2)
		xr += cx + dx + rng.NormFloat64()*p.jitter
		yr += cy + dy + rng.NormFloat64()*p.jitter
		if xr < 0 || yr < 0 || xr >= p.width || yr >= p.height {
			continue
		}
		dir := m.dir[i] + rot + rng.NormFloat64()*p.angleJitter
		out = append(out, fmr.Minutia{
			Kind: m.kind[i], X: uint16(xr * scale), Y: uint16(yr * scale),
			Angle: fmr.AngleFromRadians(dir), Quality: uint8(40 + rng.IntN(60)),
		})
	}
	for range p.spurious {
		out = append(out, fmr.Minutia{
			Kind: fmr.Ending, X: uint16(rng.Float64() * p.width * scale), Y: uint16(rng.Float64() * p.height * scale),
			Angle: uint8(rng.IntN(256)), Quality: uint8(10 + rng.IntN(30)),
		})
	}
	return out
}
