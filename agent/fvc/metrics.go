package fvc

import (
	"math"
	"slices"
	"sort"
)

// Rates are the error rates of a set of scores, all fractions in [0, 1].
type Rates struct {
	// EER is the equal error rate as FVC defines it: the mean of the two
	// rates at the threshold where FNMR and FMR cross (see ComputeRates).
	EER float64
	// EERThreshold is the score threshold at the crossing.
	EERThreshold float64
	// FNMRAt1 and FNMRAt01 are the lowest false non-match rates with a
	// false match rate of at most 1% and 0.1% (FVC's FMR100 and FMR1000);
	// ThresholdAt1 and ThresholdAt01 the thresholds that give them. Like
	// EERThreshold they are observed scores: any threshold above the next
	// lower observed score gives the same rates.
	FNMRAt1, FNMRAt01           float64
	ThresholdAt1, ThresholdAt01 float64
	// ZeroFMR is the lowest FNMR with no false match.
	ZeroFMR float64
}

// ComputeRates computes the error rates of genuine and impostor scores; a
// comparison matches when its score is at least the threshold.
//
// FMR(t) is the share of impostor scores ≥ t and FNMR(t) the share of
// genuine scores < t. With t1 the largest threshold where FNMR ≤ FMR and t2
// the smallest where FNMR ≥ FMR, the EER lies in [FNMR(t1), FMR(t1)] or
// [FMR(t2), FNMR(t2)], whichever pair has the lower sum, and is reported as
// its midpoint (Maio et al., "FVC2000: fingerprint verification
// competition", IEEE TPAMI 24(3), 2002).
func ComputeRates(genuine, impostor []float64) Rates {
	if len(genuine) == 0 || len(impostor) == 0 {
		return Rates{EER: math.NaN(), FNMRAt1: math.NaN(), FNMRAt01: math.NaN(), ZeroFMR: math.NaN()}
	}
	g := slices.Clone(genuine)
	im := slices.Clone(impostor)
	slices.Sort(g)
	slices.Sort(im)
	// Candidate thresholds: every score, and one above all of them.
	ts := append(slices.Clone(g), im...)
	slices.Sort(ts)
	ts = slices.Compact(ts)
	ts = append(ts, math.Inf(1))
	fmr := func(t float64) float64 {
		return float64(len(im)-sort.SearchFloat64s(im, t)) / float64(len(im))
	}
	fnmr := func(t float64) float64 {
		return float64(sort.SearchFloat64s(g, t)) / float64(len(g))
	}
	var r Rates
	// FMR falls and FNMR rises with t; find t1 (last FNMR ≤ FMR) and t2
	// (first FNMR ≥ FMR).
	i1, i2 := -1, -1
	for i, t := range ts {
		if fnmr(t) <= fmr(t) {
			i1 = i
		}
		if i2 < 0 && fnmr(t) >= fmr(t) {
			i2 = i
		}
	}
	switch {
	case i1 < 0: // cannot happen: at the lowest score FNMR is 0
		r.EER, r.EERThreshold = fmr(ts[i2]), ts[i2]
	case i2 < 0: // cannot happen: above every score FMR is 0
		r.EER, r.EERThreshold = fnmr(ts[i1]), ts[i1]
	default:
		t1, t2 := ts[i1], ts[i2]
		if fnmr(t1)+fmr(t1) <= fmr(t2)+fnmr(t2) {
			r.EER, r.EERThreshold = (fnmr(t1)+fmr(t1))/2, t1
		} else {
			r.EER, r.EERThreshold = (fmr(t2)+fnmr(t2))/2, t2
		}
	}
	at := func(maxFMR float64) (float64, float64) {
		// FNMR rises with t, so the first t whose FMR is low enough wins.
		for _, t := range ts {
			if fmr(t) <= maxFMR+1e-12 {
				return fnmr(t), t
			}
		}
		return 1, math.Inf(1)
	}
	r.FNMRAt1, r.ThresholdAt1 = at(0.01)
	r.FNMRAt01, r.ThresholdAt01 = at(0.001)
	r.ZeroFMR, _ = at(0)
	return r
}

// Histogram counts scores into bins equal-width bins over [lo, hi]; scores
// outside go to the first or last bin.
func Histogram(scores []float64, bins int, lo, hi float64) []int {
	h := make([]int, bins)
	if bins == 0 || !(hi > lo) {
		return h
	}
	for _, s := range scores {
		i := int((s - lo) / (hi - lo) * float64(bins))
		h[min(max(i, 0), bins-1)]++
	}
	return h
}
