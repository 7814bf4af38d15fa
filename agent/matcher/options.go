package matcher

import (
	"fmt"
	"math"
)

// Options are the matcher's parameters. Distances are in pixels at 500 ppi
// (templates of other resolutions are scaled on Prepare); angles in
// radians. The defaults follow the Minutia Cylinder-Code papers (Cappelli,
// Ferrara and Maltoni, IEEE TPAMI 2010 and 2011) where they apply, with the
// cylinder made coarser for speed; see DefaultOptions.
type Options struct {
	// MaxMinutiae keeps at most this many minutiae of a template, the best
	// by quality (bozorth3 keeps 150). 0 means 255.
	MaxMinutiae int

	// Radius of a cylinder.
	Radius float64
	// SpatialCells is the number of cells along a side of the cylinder's
	// base (NS); DirectionCells the number of direction bins (ND).
	SpatialCells, DirectionCells int
	// SigmaS is the spatial Gaussian's standard deviation, SigmaD the
	// directional one.
	SigmaS, SigmaD float64
	// CellThreshold is the contribution above which a cell's bit is set (μψ).
	CellThreshold float64
	// HullMargin enlarges the convex hull of the minutiae; cells outside it
	// are invalid (ω).
	HullMargin float64
	// MinValidCells is the share of a cylinder's cells that must be valid for
	// the cylinder to be used (minVC); MinNeighbours the number of other
	// minutiae it must see (minM).
	MinValidCells float64
	MinNeighbours int
	// MinMatchable is the share of cells two cylinders must both have valid
	// to be compared (minME).
	MinMatchable float64
	// MaxAngle is the largest direction difference of two minutiae that may
	// be paired (δθ).
	MaxAngle float64

	// RelaxPairs bounds the number of minutia pairs the relaxation works on
	// (nR, at most min(nA, nB)).
	RelaxPairs int
	// RelaxIterations (nrel) and RelaxWeight (wR) drive the relaxation.
	RelaxIterations int
	RelaxWeight     float64
	// Compatibility sigmoids of the relaxation: distance difference (μ1,
	// τ1), direction difference (μ2, τ2), radial angle difference (μ3, τ3).
	Mu1, Tau1, Mu2, Tau2, Mu3, Tau3 float64
	// MinPairs, MaxPairs, PairsMu and PairsTau choose how many of the best
	// pairs the score averages: MinPairs + Z(min(nA, nB); PairsMu, PairsTau)
	// × (MaxPairs − MinPairs).
	MinPairs, MaxPairs int
	PairsMu, PairsTau  float64

	// Seeds is the number of relaxed pairs, best first, from which the
	// global stage fits an alignment; ConsistentPair the compatibility
	// (0-1) another pair needs with a seed to join its fit.
	Seeds          int
	ConsistentPair float64
	// PairDistance + PairDistanceGrowth·r is how far apart, in pixels, two
	// aligned minutiae may be and still pair, r their distance from the
	// centre of the fit (distortion grows away from it); PairAngle is how
	// much their directions may differ.
	PairDistance, PairDistanceGrowth, PairAngle float64
	// OverlapMargin widens each print's footprint (the convex hull of its
	// minutiae) when counting the minutiae the other print could show;
	// MinOverlap is the least count used, so that a tiny overlap cannot
	// score high.
	OverlapMargin float64
	MinOverlap    int
	// Refits is how many times the global stage refits the alignment on the
	// pairs it found and pairs again, to follow the prints more closely.
	Refits int
	// PairsConfidence c discounts a global score built on few pairs: it is
	// multiplied by k/(k+c), k the (weighted) number of pairs.
	PairsConfidence float64
	// QualityWeight is the exponent γ of the weight ((q+1)/101)^γ each
	// minutia of quality q carries in the global stage's counts; 0 counts
	// every minutia alike, as do templates that report no quality.
	QualityWeight float64
	// GlobalWeight mixes the scores geometrically: relaxation^(1−w) ·
	// global^w.
	GlobalWeight float64
}

// DefaultOptions returns the parameters the evaluation on FVC2002 was run
// with: MCC's radius, spatial sigma, cell threshold and relaxation
// sigmoids; a coarser cylinder (8×8×4 instead of 16×16×6, which changed
// the FVC2002 and synthetic-set error rates by less than their noise); and
// global-stage tolerances chosen on the FVC2002 B sets.
func DefaultOptions() *Options {
	return &Options{
		MaxMinutiae:     128,
		Radius:          70,
		SpatialCells:    8,
		DirectionCells:  4,
		SigmaS:          28.0 / 3,
		SigmaD:          2 * math.Pi / 9,
		CellThreshold:   0.01,
		HullMargin:      50,
		MinValidCells:   0.75,
		MinNeighbours:   2,
		MinMatchable:    0.6,
		MaxAngle:        math.Pi / 2,
		RelaxPairs:      20,
		RelaxIterations: 5,
		RelaxWeight:     0.5,
		Mu1:             5, Tau1: -8.0 / 5,
		Mu2: math.Pi / 12, Tau2: -30,
		Mu3: math.Pi / 12, Tau3: -30,
		MinPairs: 4, MaxPairs: 12,
		PairsMu: 20, PairsTau: 2.0 / 5,
		Seeds:              4,
		ConsistentPair:     0.5,
		PairDistance:       10,
		PairDistanceGrowth: 0.05,
		PairAngle:          math.Pi / 9,
		OverlapMargin:      8,
		MinOverlap:         10,
		QualityWeight:      0.5,
		PairsConfidence:    8,
		Refits:             1,
		GlobalWeight:       0.5,
	}
}

func (o *Options) validate() error {
	bad := func(field string, v any, want string) error {
		return fmt.Errorf("matcher: option %s = %v, want %s", field, v, want)
	}
	switch {
	case o.MaxMinutiae < 0 || o.MaxMinutiae > 255:
		return bad("MaxMinutiae", o.MaxMinutiae, "0-255")
	case !(o.Radius > 0 && o.Radius <= 500):
		return bad("Radius", o.Radius, "in (0, 500] pixels")
	case o.SpatialCells < 2 || o.SpatialCells > 32:
		return bad("SpatialCells", o.SpatialCells, "2-32")
	case o.DirectionCells < 1 || o.DirectionCells > 16:
		return bad("DirectionCells", o.DirectionCells, "1-16")
	case !(o.SigmaS > 0) || !(o.SigmaD > 0):
		return bad("SigmaS/SigmaD", [2]float64{o.SigmaS, o.SigmaD}, "positive")
	case !(o.CellThreshold > 0):
		return bad("CellThreshold", o.CellThreshold, "positive")
	case !(o.HullMargin >= 0):
		return bad("HullMargin", o.HullMargin, ">= 0")
	case !(o.MinValidCells >= 0 && o.MinValidCells <= 1):
		return bad("MinValidCells", o.MinValidCells, "0-1")
	case !(o.MinMatchable >= 0 && o.MinMatchable <= 1):
		return bad("MinMatchable", o.MinMatchable, "0-1")
	case o.MinNeighbours < 0:
		return bad("MinNeighbours", o.MinNeighbours, ">= 0")
	case !(o.MaxAngle > 0 && o.MaxAngle <= math.Pi):
		return bad("MaxAngle", o.MaxAngle, "in (0, π]")
	case o.RelaxPairs < 2 || o.RelaxPairs > 255:
		return bad("RelaxPairs", o.RelaxPairs, "2-255")
	case o.RelaxIterations < 0 || o.RelaxIterations > 100:
		return bad("RelaxIterations", o.RelaxIterations, "0-100")
	case !(o.RelaxWeight >= 0 && o.RelaxWeight <= 1):
		return bad("RelaxWeight", o.RelaxWeight, "0-1")
	case o.MinPairs < 1 || o.MaxPairs < o.MinPairs:
		return bad("MinPairs/MaxPairs", [2]int{o.MinPairs, o.MaxPairs}, "1 <= MinPairs <= MaxPairs")
	case o.Seeds < 0 || o.Seeds > 64:
		return bad("Seeds", o.Seeds, "0-64")
	case !(o.ConsistentPair >= 0 && o.ConsistentPair <= 1):
		return bad("ConsistentPair", o.ConsistentPair, "0-1")
	case !(o.PairDistance > 0 && o.PairDistance <= 100) || !(o.PairDistanceGrowth >= 0 && o.PairDistanceGrowth <= 1):
		return bad("PairDistance/PairDistanceGrowth", [2]float64{o.PairDistance, o.PairDistanceGrowth}, "in (0, 100] and [0, 1]")
	case !(o.PairAngle > 0 && o.PairAngle <= math.Pi):
		return bad("PairAngle", o.PairAngle, "in (0, π]")
	case !(o.OverlapMargin >= 0 && o.OverlapMargin <= 200):
		return bad("OverlapMargin", o.OverlapMargin, "0-200 pixels")
	case o.MinOverlap < 1:
		return bad("MinOverlap", o.MinOverlap, ">= 1")
	case o.Refits < 0 || o.Refits > 10:
		return bad("Refits", o.Refits, "0-10")
	case !(o.PairsConfidence >= 0 && o.PairsConfidence <= 100):
		return bad("PairsConfidence", o.PairsConfidence, "0-100")
	case !(o.QualityWeight >= 0 && o.QualityWeight <= 4):
		return bad("QualityWeight", o.QualityWeight, "0-4")
	case !(o.GlobalWeight >= 0 && o.GlobalWeight <= 1):
		return bad("GlobalWeight", o.GlobalWeight, "0-1")
	}
	for _, v := range []float64{o.Mu1, o.Tau1, o.Mu2, o.Tau2, o.Mu3, o.Tau3, o.PairsMu, o.PairsTau} {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return bad("relaxation sigmoid parameters", v, "finite")
		}
	}
	return nil
}
