package synth

import (
	"cmp"
	"math"
	"slices"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// Tolerance is how close a found minutia must be to a true one to count
// as finding it.
type Tolerance struct {
	// Distance in pixels between positions (≤).
	Distance float64
	// Angle in radians between directions (≤), the shorter way round.
	Angle float64
	// Kind, when true, also requires the same kind; the usual measure
	// ignores kind, since ridge endings and bifurcations swap with pressure.
	Kind bool
}

// DefaultTolerance returns the usual tolerance: 12 pixels and 22.5
// degrees, any kind.
func DefaultTolerance() Tolerance { return Tolerance{Distance: 12, Angle: 22.5 * math.Pi / 180} }

// Score counts an extractor's hits against ground truth.
type Score struct {
	// Matched is the number of one-to-one pairs of a true and a found
	// minutia within tolerance; Missed counts true minutiae left unpaired,
	// Spurious found ones left unpaired.
	Matched, Missed, Spurious int
}

// Precision is Matched / (Matched + Spurious) (1 when nothing was found).
func (s Score) Precision() float64 {
	if s.Matched+s.Spurious == 0 {
		return 1
	}
	return float64(s.Matched) / float64(s.Matched+s.Spurious)
}

// Recall is Matched / (Matched + Missed) (1 when there was nothing to find).
func (s Score) Recall() float64 {
	if s.Matched+s.Missed == 0 {
		return 1
	}
	return float64(s.Matched) / float64(s.Matched+s.Missed)
}

// F1 is the harmonic mean of precision and recall.
func (s Score) F1() float64 {
	p, r := s.Precision(), s.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

// Add returns the sum of two scores, for totals over many impressions.
func (s Score) Add(o Score) Score {
	return Score{s.Matched + o.Matched, s.Missed + o.Missed, s.Spurious + o.Spurious}
}

// Compare pairs found minutiae (as an extractor's ISO record holds them)
// with true ones one-to-one (see Pair), a pair being a candidate when it
// is within tolerance.
func Compare(truth []Minutia, found []fmr.Minutia, tol Tolerance) Score {
	pairs := Pair(len(truth), len(found), func(ti, fi int) (float64, bool) {
		t, f := truth[ti], found[fi]
		if tol.Kind && f.Kind != t.Kind {
			return 0, false
		}
		d := math.Hypot(float64(f.X)-t.X, float64(f.Y)-t.Y)
		if d > tol.Distance {
			return 0, false
		}
		da := math.Abs(math.Remainder(float64(f.Radians())-t.Direction, 2*math.Pi))
		return d, da <= tol.Angle
	})
	s := Score{Matched: len(pairs)}
	s.Missed = len(truth) - s.Matched
	s.Spurious = len(found) - s.Matched
	return s
}

// Pair pairs nTrue true points with nFound found ones one-to-one, for
// scoring an extractor against ground truth: every pair for which near
// reports ok is a candidate at distance d, and candidates are taken
// greedily, closest first, skipping any whose true or found point is
// already taken. Ties are broken by true then found index, so the result
// depends on nothing but the inputs. It returns the (true, found) index
// pairs in the order they were taken.
func Pair(nTrue, nFound int, near func(t, f int) (d float64, ok bool)) [][2]int {
	type cand struct {
		d    float64
		t, f int
	}
	var cands []cand
	for t := range nTrue {
		for f := range nFound {
			if d, ok := near(t, f); ok {
				cands = append(cands, cand{d, t, f})
			}
		}
	}
	slices.SortFunc(cands, func(a, b cand) int {
		return cmp.Or(cmp.Compare(a.d, b.d), a.t-b.t, a.f-b.f)
	})
	usedT := make([]bool, nTrue)
	usedF := make([]bool, nFound)
	var pairs [][2]int
	for _, c := range cands {
		if usedT[c.t] || usedF[c.f] {
			continue
		}
		usedT[c.t], usedF[c.f] = true, true
		pairs = append(pairs, [2]int{c.t, c.f})
	}
	return pairs
}
