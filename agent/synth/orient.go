package synth

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// Class is a fingerprint's pattern class (Henry classes as FVC and SFinGe
// use them).
type Class uint8

// Classes, with the share of each in the general population that the
// generator draws them with (Wilson, Candela and Watson's NIST figures, as
// SFinGe uses them).
const (
	Arch       Class = iota + 1 // 3.7 %
	TentedArch                  // 2.9 %
	LeftLoop                    // 33.8 %
	RightLoop                   // 31.7 %
	Whorl                       // 27.9 %
)

var classNames = [...]string{"", "arch", "tented_arch", "left_loop", "right_loop", "whorl"}

// classWeights are the draw weights of Arch..Whorl.
var classWeights = []float64{3.7, 2.9, 33.8, 31.7, 27.9}

// String returns the class name in snake case, as the JSON ground truth
// spells it ("left_loop").
func (c Class) String() string {
	if int(c) < len(classNames) && c != 0 {
		return classNames[c]
	}
	return fmt.Sprintf("class(%d)", uint8(c))
}

// Point is a position in pixels, origin at the top-left corner, y downwards.
type Point struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
}

// Core is a core of the ridge pattern: the summit of the innermost loop,
// or one of the two centres of a whorl.
type Core struct {
	// X and Y are in pixels, origin at the top-left corner, y downwards.
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Direction points from the core along the axis of its innermost loop
	// towards the loop's open end: the one direction in which ridges leave
	// the core radially. Radians in [0, 2π) as Minutia.Direction measures
	// them.
	Direction float64 `json:"direction"`
}

// Delta is a delta of the ridge pattern, where three ridge systems meet.
type Delta struct {
	// X and Y are in pixels, origin at the top-left corner, y downwards.
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Directions are those of the three ridges that radiate from the
	// delta, in increasing order, radians in [0, 2π) as Minutia.Direction
	// measures them.
	Directions [3]float64 `json:"directions"`
}

// singular is a core or delta with its Vizcaya-Gerhardt correction: the
// argument α of z - z0 is replaced by the piecewise-linear g(α) through the
// knots (-π + kπ/4, -π + kπ/4 + corr[k]), k = 0..8, corr[8] = corr[0].
type singular struct {
	p    Point
	corr [9]float64
}

// g applies the correction to an argument α in [-π, π].
func (s *singular) g(alpha float64) float64 {
	u := (alpha + pi) / (pi / 4)
	k := int(u)
	if k < 0 {
		k = 0
	}
	if k > 7 {
		k = 7
	}
	f := u - float64(k)
	return alpha + s.corr[k] + float64(f*(s.corr[k+1]-s.corr[k]))
}

// orientModel is the orientation field of a master: a zero-pole model
// (Sherlock and Monro) with Vizcaya-Gerhardt corrections around each
// singular point, or for arches a closed-form arch flow; either bent by a
// smooth random field, as no two real fingers of a class flow alike.
type orientModel struct {
	class          Class
	cores, deltas  []singular
	archA, archTop float64 // arch: slope amplitude and the y of the fingertip top
	archCX, archW  float64 // arch: centre x and half width
	archH          float64 // arch: fingertip height
	tilt           float64 // rotation of the whole pattern, radians in image coordinates
	bend           *valueNoise
	bendOff        float64 // bend at the first core, taken off everywhere
}

// Variety of the flow within a class. Masters made with corrections of at
// most 0.35 radian and no bending flowed so alike within a class (loops
// above all) that impostor comparisons scored well above those of FVC2002
// DB4 (see TestRealism). Larger corrections turn a loop about its core
// too: at 0.7 radian one loop in nine opened upwards or onto its own delta,
// which real loops do not; 0.45 keeps that under one in fifty
// (TestLoopsOpenDownwards).
const (
	// correctionAmp bounds each knot offset of a Vizcaya-Gerhardt
	// correction, in radians of the argument around the singular point.
	correctionAmp = 0.45
	// bendAmp is the largest turn, in radians, of the smooth random
	// bending of the flow; bendCell is the size in pixels of its cells.
	// The bending is zero at the first core: a turn b there would turn
	// the loop about its core by 2b.
	bendAmp  = 0.5
	bendCell = 100
)

// at returns the ridge orientation at (x, y) in radians, in image
// coordinates (y downwards), modulo π.
func (m *orientModel) at(x, y float64) float64 {
	if m.class == Arch {
		xn := (x - m.archCX) / m.archW
		yn := (y - m.archTop) / m.archH
		a := m.archA * (1 - yn/0.85)
		if a < 0 {
			a = 0
		}
		// Ridges rise towards the middle: dy/dx < 0 left of centre.
		slope := float64(a*xn) / (1 + float64(xn*xn))
		return atan(2*slope) + m.bent(x, y)
	}
	// Work in mathematical coordinates (y up) as the model is defined, then
	// mirror back.
	var th float64
	for i := range m.deltas {
		d := &m.deltas[i]
		th -= d.g(atan2(d.p.Y-y, x-d.p.X))
	}
	for i := range m.cores {
		c := &m.cores[i]
		th += c.g(atan2(c.p.Y-y, x-c.p.X))
	}
	return float64(-th/2) + m.tilt + m.bent(x, y)
}

// bent returns the turn of the flow at (x, y) by the random bending.
func (m *orientModel) bent(x, y float64) float64 {
	return float64(bendAmp * (m.bend.at(x, y) - m.bendOff))
}

// newOrientModel draws the singular points of class c for a fingertip whose
// bounding box is given, with corrections from r and the bending of the
// flow from bend.
func newOrientModel(c Class, r *rng, tip fingertip, bend *rng) *orientModel {
	m := &orientModel{class: c, bend: newValueNoise(bend, masterW, masterH, bendCell)}
	cx := tip.cx + float64(r.norm()*10)
	// The core sits a bit above the middle of the fingertip.
	cy := tip.top + float64(tip.height*r.uniform(0.36, 0.5))
	addCore := func(x, y float64) { m.cores = append(m.cores, singular{p: Point{x, y}, corr: corrections(r)}) }
	addDelta := func(x, y float64) { m.deltas = append(m.deltas, singular{p: Point{x, y}, corr: corrections(r)}) }
	switch c {
	case Arch:
		m.archA = r.uniform(0.6, 1.3)
		m.archTop = tip.top + float64(tip.height*r.uniform(0.15, 0.35))
		m.archCX = cx
		m.archW = tip.width / 2
		m.archH = tip.height
	case TentedArch:
		addCore(cx, cy)
		addDelta(cx+float64(r.norm()*6), cy+r.uniform(60, 110))
	case LeftLoop, RightLoop:
		dx := r.uniform(55, 135)
		if c == RightLoop {
			dx = -dx
		}
		addCore(cx-float64(dx/4), cy)
		addDelta(cx+float64(dx*0.75), cy+r.uniform(85, 165))
	case Whorl:
		// Two cores a little apart (a spiral or a double loop), a delta on
		// each side below.
		a := r.uniform(-pi, pi)
		d := r.uniform(10, 30)
		s, co := sinCos(a)
		addCore(cx+float64(d*co), cy+float64(d*s))
		addCore(cx-float64(d*co), cy-float64(d*s))
		addDelta(cx-r.uniform(80, 135), cy+r.uniform(90, 160))
		addDelta(cx+r.uniform(80, 135), cy+r.uniform(90, 160))
	}
	// Tilt the pattern as a whole: singular points turn about the first
	// core and every orientation turns with them.
	if len(m.cores) > 0 {
		m.tilt = r.uniform(-0.25, 0.25)
		s, co := sinCos(m.tilt)
		c0 := m.cores[0].p
		turn := func(p *Point) {
			dx, dy := p.X-c0.X, p.Y-c0.Y
			p.X = c0.X + float64(dx*co) - float64(dy*s)
			p.Y = c0.Y + float64(dx*s) + float64(dy*co)
		}
		for i := range m.cores {
			turn(&m.cores[i].p)
		}
		for i := range m.deltas {
			turn(&m.deltas[i].p)
		}
		m.bendOff = m.bend.at(c0.X, c0.Y)
	}
	return m
}

// corrections draws the 9 knot offsets of a Vizcaya-Gerhardt correction.
func corrections(r *rng) [9]float64 {
	var k [9]float64
	for i := 0; i < 8; i++ {
		k[i] = r.uniform(-correctionAmp, correctionAmp)
	}
	k[8] = k[0]
	return k
}

// radial returns the directions in which ridges leave the singular point p
// radially: where, on a small circle around p, the flow runs along the
// radius. A core has one (the axis of its innermost loop, towards the open
// end), a delta three (its three radiating ridges). Directions are in
// radians in [0, 2π), counter-clockwise from the x axis with y upwards as
// Minutia.Direction; want is how many to return (the steepest crossings,
// in increasing order of angle), fewer if the flow shows fewer.
func (m *orientModel) radial(p Point, want int) []float64 {
	const (
		steps  = 360
		radius = 8
	)
	type crossing struct{ a, slope float64 }
	var cs []crossing
	// off(α) is the angle from the radius at α to the ridge there, in
	// (-π/2, π/2]; ridges leave radially where it falls through zero.
	off := func(k int) float64 {
		a := float64(float64(k) * (twoPi / steps))
		s, c := sinCos(a)
		ridge := -m.at(p.X+float64(radius*c), p.Y-float64(radius*s))
		return wrapHalfTurn(ridge - a)
	}
	prev := off(0)
	for k := 1; k <= steps; k++ {
		cur := off(k % steps)
		// A fall through zero, not the jump at ±π/2.
		if prev > 0 && cur <= 0 && prev < pi/4 && cur > -pi/4 {
			a := float64((float64(k-1) + prev/(prev-cur)) * (twoPi / steps))
			if a >= twoPi {
				a -= twoPi
			}
			cs = append(cs, crossing{a, cur - prev})
		}
		prev = cur
	}
	slices.SortStableFunc(cs, func(x, y crossing) int { return cmp.Compare(x.slope, y.slope) })
	cs = cs[:min(want, len(cs))]
	out := make([]float64, len(cs))
	for i, c := range cs {
		out[i] = c.a
	}
	slices.Sort(out)
	return out
}

// wrapHalfTurn returns a reduced by multiples of π into (-π/2, π/2].
func wrapHalfTurn(a float64) float64 {
	a -= float64(pi * math.Floor(a/pi+0.5))
	if a <= -halfPi {
		a += pi
	}
	return a
}
