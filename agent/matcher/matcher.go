// Package matcher compares two fingerprints by their minutiae and returns a
// similarity score in [0, 1].
//
// Local stage: Minutia Cylinder-Code (MCC; Cappelli, Ferrara and Maltoni,
// "Minutia Cylinder-Code: a new representation and matching technique for
// fingerprint recognition", IEEE TPAMI 32(12), 2010) in its bit-vector form.
// Around each minutia a cylinder of 8×8 cells by 4 direction bins (208 bits
// in four 64-bit words) records which neighbouring minutiae lie where and
// with which relative direction, in the minutia's own frame, so it does not
// depend on where the finger was placed or how it was turned (up to
// Options.MaxAngle, 90°, between impressions). Every pair of cylinders whose
// minutia directions are compatible is compared with popcounts of masked
// XORs, and the best pairs are kept one-to-one.
//
// Consolidation: a relaxation (MCC's LSS-R) reinforces each pair by the
// others whose distances, directions and radial angles agree with it; its
// score is the mean relaxed similarity of the most efficient pairs. Then a
// global stage fits the rigid motion between the prints on the best relaxed
// pairs and those consistent with them, refits it once on what it paired,
// and pairs every minutia that lands near one of the other print with a
// similar direction (the distance allowed grows away from the fit, for skin
// distortion); its score is kA·kB/(nA·nB), the paired minutiae over those
// each print shows inside the other's footprint, weighed by minutia quality
// and discounted when few pairs support it. The final score is the geometric
// mean of the two.
//
// Templates from any resolution work: Prepare scales coordinates to 500 ppi.
// Prepare a template once (cylinders, pairwise geometry, footprint); Score
// is then allocation-free and costs about 170,000 instructions for two
// 40-minutia templates. Scores are deterministic and exactly symmetric:
// Score(a, b) == Score(b, a).
package matcher

import (
	"fmt"
	"math"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// Matcher holds the parameters and lookup tables; it is immutable and safe
// for concurrent use.
type Matcher struct {
	opts        Options
	maxMinutiae int
	// cells are the centres of the spatial cells inside the cylinder's
	// circle, relative to the minutia, in its own frame; cellAt[i*NS+j] is
	// the index in cells of grid cell (i, j), or -1 outside the circle;
	// cellSize is the side of a cell.
	cells    []point
	cellAt   []int
	cellSize float64
	bits     int
	// spatial[d²·spatialSteps] is the spatial Gaussian at squared distance d².
	spatial []float32
	// directional[δ·ND + k] is the directional contribution to bin k of a
	// neighbour whose direction differs by δ ISO units.
	directional []float32
	// sqrtTable[k] is √k.
	sqrtTable [sqrtMask + 1]float32
	// compatDist[Δd·distSteps] and compatAngle[uint8(δ)] are the
	// relaxation's compatibility sigmoids.
	compatDist   [256]float32
	compatAngle2 [256]float32
	compatAngle3 [256]float32
	maxAngle     int
	pairAngle    int
	minMatchable int
	pool         sync.Pool
}

const (
	sqrtMask     = 64*cylWords*2 - 1 // index mask of sqrtTable, > 64·cylWords
	spatialSteps = 4                 // table entries per squared pixel
	distSteps    = 8                 // distance units per pixel; compatDist spans 32 pixels
)

// New returns a matcher with the given options; nil means DefaultOptions.
func New(opts *Options) (*Matcher, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	if err := opts.validate(); err != nil {
		return nil, err
	}
	m := &Matcher{opts: *opts, maxMinutiae: opts.MaxMinutiae}
	if m.maxMinutiae == 0 {
		m.maxMinutiae = 255
	}
	o := &m.opts
	ns := o.SpatialCells
	delta := 2 * o.Radius / float64(ns)
	m.cellSize = delta
	m.cellAt = make([]int, ns*ns)
	for i := range ns {
		for j := range ns {
			p := point{(float64(i) - float64(ns-1)/2) * delta, (float64(j) - float64(ns-1)/2) * delta}
			m.cellAt[i*ns+j] = -1
			if math.Hypot(p.x, p.y) <= o.Radius {
				m.cellAt[i*ns+j] = len(m.cells)
				m.cells = append(m.cells, p)
			}
		}
	}
	m.bits = len(m.cells) * o.DirectionCells
	if m.bits > 64*cylWords {
		return nil, fmt.Errorf("matcher: %d spatial cells × %d directions = %d cells, at most %d fit a cylinder (lower SpatialCells or DirectionCells)", len(m.cells), o.DirectionCells, m.bits, 64*cylWords)
	}

	reach2 := 9 * o.SigmaS * o.SigmaS
	m.spatial = make([]float32, int(reach2*spatialSteps)+1)
	norm := 1 / (o.SigmaS * math.Sqrt(2*math.Pi))
	for i := range m.spatial {
		d2 := (float64(i) + 0.5) / spatialSteps
		m.spatial[i] = float32(norm * math.Exp(-d2/(2*o.SigmaS*o.SigmaS)))
	}

	nd := o.DirectionCells
	binWidth := 2 * math.Pi / float64(nd)
	m.directional = make([]float32, 256*nd)
	for d := range 256 {
		// δ = θm − θt, the neighbour's direction relative to the minutia.
		rel := normAngle(float64(d) * 2 * math.Pi / 256)
		for k := range nd {
			centre := -math.Pi + (float64(k)+0.5)*binWidth
			a := normAngle(centre - rel)
			s := o.SigmaD * math.Sqrt2
			m.directional[d*nd+k] = float32(0.5 * (math.Erf((a+binWidth/2)/s) - math.Erf((a-binWidth/2)/s)))
		}
	}

	for i := range m.sqrtTable {
		m.sqrtTable[i] = float32(math.Sqrt(float64(i)))
	}
	for i := range m.compatDist {
		m.compatDist[i] = float32(sigmoid(float64(i)/distSteps, o.Mu1, o.Tau1))
	}
	for i := range m.compatAngle2 {
		a := math.Abs(float64(int8(uint8(i)))) * 2 * math.Pi / 256
		m.compatAngle2[i] = float32(sigmoid(a, o.Mu2, o.Tau2))
		m.compatAngle3[i] = float32(sigmoid(a, o.Mu3, o.Tau3))
	}
	m.maxAngle = int(math.Round(o.MaxAngle * 256 / (2 * math.Pi)))
	m.pairAngle = int(math.Round(o.PairAngle * 256 / (2 * math.Pi)))
	m.minMatchable = int(math.Ceil(o.MinMatchable * float64(m.bits)))
	m.pool.New = func() any { return new(scratch) }
	return m, nil
}

// Options returns a copy of the matcher's options.
func (m *Matcher) Options() Options { return m.opts }

// normAngle maps a to [−π, π).
func normAngle(a float64) float64 {
	a = math.Mod(a+math.Pi, 2*math.Pi)
	if a < 0 {
		a += 2 * math.Pi
	}
	return a - math.Pi
}

// sigmoid is MCC's Z(v; μ, τ) = 1 / (1 + e^(−τ(v−μ))).
func sigmoid(v, mu, tau float64) float64 { return 1 / (1 + math.Exp(-tau*(v-mu))) }

var defaultMatcher = sync.OnceValue(func() *Matcher {
	m, err := New(nil)
	if err != nil {
		panic("matcher: default options invalid: " + err.Error())
	}
	return m
})

// Default returns the matcher with DefaultOptions, shared and immutable.
func Default() *Matcher { return defaultMatcher() }

// Prepare prepares minutiae at ppi pixels per inch with the Default
// matcher; see Matcher.Prepare.
func Prepare(minutiae []fmr.Minutia, ppi int) *Template { return Default().Prepare(minutiae, ppi) }

// Score compares two templates prepared with the Default matcher; see
// Matcher.Score.
func Score(a, b *Template) float64 { return Default().Score(a, b) }
