package fvc

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"text/tabwriter"
)

// WriteTable writes one line per result and, for several, a line of means:
// EER, FNMR at FMR 1% and 0.1%, failures to extract, mean minutiae, and
// times per image (mean and median), per template preparation and per
// comparison.
func WriteTable(w io.Writer, results []*Result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "database\tppi\timages\tfailed\tminutiae\tEER\tFNMR@FMR1%\tFNMR@FMR0.1%\tms/image\tmedian\tms/prepare\tms/match\t")
	var sum struct {
		eer, f1, f01, img, med, prep, match, minutiae float64
		images, failed, withImages                    int
	}
	for _, r := range results {
		mean, med := r.MsPerImage()
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.4f\t\n",
			r.Database.Name, r.ppi(), len(r.Database.Samples), len(r.Failures), r.meanMinutiae(),
			pct(r.Rates.EER), pct(r.Rates.FNMRAt1), pct(r.Rates.FNMRAt01),
			msOrDash(mean, len(r.ExtractTimes)), msOrDash(med, len(r.ExtractTimes)), r.MsPerPrepare(), r.MsPerMatch())
		sum.eer += r.Rates.EER
		sum.f1 += r.Rates.FNMRAt1
		sum.f01 += r.Rates.FNMRAt01
		sum.prep += r.MsPerPrepare()
		sum.match += r.MsPerMatch()
		sum.minutiae += r.meanMinutiae()
		sum.images += len(r.Database.Samples)
		sum.failed += len(r.Failures)
		if len(r.ExtractTimes) > 0 {
			sum.img += mean
			sum.med += med
			sum.withImages++
		}
	}
	if n := float64(len(results)); len(results) > 1 {
		img, med := "-", "-"
		if sum.withImages > 0 {
			img = fmt.Sprintf("%.2f", sum.img/float64(sum.withImages))
			med = fmt.Sprintf("%.2f", sum.med/float64(sum.withImages))
		}
		fmt.Fprintf(tw, "mean\t\t%d\t%d\t%.1f\t%s\t%s\t%s\t%s\t%s\t%.3f\t%.4f\t\n",
			sum.images, sum.failed, sum.minutiae/n, pct(sum.eer/n), pct(sum.f1/n), pct(sum.f01/n), img, med, sum.prep/n, sum.match/n)
	}
	return tw.Flush()
}

// ppi is the resolution images are read at, or "-" for a database of
// templates, which state their own.
func (r *Result) ppi() string {
	for _, s := range r.Database.Samples {
		if !s.Template {
			return fmt.Sprint(r.Database.PPI)
		}
	}
	return "-"
}

func pct(f float64) string {
	if math.IsNaN(f) {
		return "-"
	}
	return fmt.Sprintf("%.2f%%", 100*f)
}

func msOrDash(v float64, n int) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.2f", v)
}

func (r *Result) meanMinutiae() float64 {
	var sum, n int
	for _, m := range r.Minutiae {
		if m > 0 {
			sum += m
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return float64(sum) / float64(n)
}

// WriteDetails writes what explains a database's figures: the thresholds,
// the failures with their reasons, the score histograms of genuine and
// impostor comparisons, and the worst lowest-scoring genuine and
// highest-scoring impostor comparisons with the minutiae counts of their
// samples.
func WriteDetails(w io.Writer, r *Result, bins, worst int) error {
	db := r.Database
	var b strings.Builder
	fmt.Fprintf(&b, "== %s (%d ppi): %d genuine, %d impostor comparisons\n", db.Name, db.PPI, len(r.Genuine), len(r.Impostor))
	fmt.Fprintf(&b, "thresholds: EER %.4f, FMR 1%% %.4f, FMR 0.1%% %.4f; ZeroFMR FNMR %s\n",
		r.Rates.EERThreshold, r.Rates.ThresholdAt1, r.Rates.ThresholdAt01, pct(r.Rates.ZeroFMR))
	for _, f := range r.Failures {
		fmt.Fprintf(&b, "failed %s: %v\n", db.Samples[f.Sample].Name(), f.Err)
	}
	if bins > 0 {
		g := Histogram(scores(r.Genuine), bins, 0, 1)
		im := Histogram(scores(r.Impostor), bins, 0, 1)
		fmt.Fprintf(&b, "%-11s %8s %8s\n", "score", "genuine", "impostor")
		for i := range bins {
			fmt.Fprintf(&b, "%.2f-%.2f  %8d %8d\n", float64(i)/float64(bins), float64(i+1)/float64(bins), g[i], im[i])
		}
	}
	if worst > 0 {
		name := func(i int) string {
			return fmt.Sprintf("%s(%d)", db.Samples[i].Name(), r.Minutiae[i])
		}
		gs := slices.Clone(r.Genuine)
		slices.SortStableFunc(gs, func(x, y Comparison) int { return cmp.Compare(x.Score, y.Score) })
		fmt.Fprintf(&b, "lowest genuine (sample(minutiae)):")
		for _, c := range gs[:min(worst, len(gs))] {
			fmt.Fprintf(&b, " %s-%s %.3f;", name(c.A), name(c.B), c.Score)
		}
		is := slices.Clone(r.Impostor)
		slices.SortStableFunc(is, func(x, y Comparison) int { return cmp.Compare(y.Score, x.Score) })
		fmt.Fprintf(&b, "\nhighest impostor:")
		for _, c := range is[:min(worst, len(is))] {
			fmt.Fprintf(&b, " %s-%s %.3f;", name(c.A), name(c.B), c.Score)
		}
		b.WriteString("\n")
		// Fingers ranked by their genuine errors at the EER threshold.
		misses := map[int]int{}
		for _, c := range r.Genuine {
			if c.Score < r.Rates.EERThreshold {
				misses[db.Samples[c.A].Finger]++
			}
		}
		fingers := make([]int, 0, len(misses))
		for f := range misses {
			fingers = append(fingers, f)
		}
		slices.SortFunc(fingers, func(x, y int) int { return cmp.Or(cmp.Compare(misses[y], misses[x]), cmp.Compare(x, y)) })
		fmt.Fprintf(&b, "genuine misses at the EER threshold by finger:")
		for _, f := range fingers {
			fmt.Fprintf(&b, " %d:%d", f, misses[f])
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}
