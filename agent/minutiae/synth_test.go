package minutiae

import (
	"testing"

	"github.com/bali-rbdes/kiosk/agent/synth"
)

// TestSynthGroundTruth measures precision, recall and F1 against the
// ground truth of synthetic prints (agent/synth): one-to-one pairs within
// 12 pixels and 22.5°, any kind, truth taken at least edgeMargin pixels
// inside the print (the extractor drops minutiae nearer the edge). The
// thresholds sit a little below what the extractor measures, so a change
// that loses accuracy fails here.
func TestSynthGroundTruth(t *testing.T) {
	fingers, impressions := 6, 2
	if testing.Short() {
		fingers, impressions = 2, 2
	}
	gen, err := synth.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	e, _ := New(nil)
	var total synth.Score
	for f := range fingers {
		finger := gen.Finger(uint64(1000 + f))
		for i := range impressions {
			im := finger.Impression(uint64(i))
			r, err := e.Extract(im.Image, im.PPI)
			if err != nil {
				t.Fatal(err)
			}
			s := synth.Compare(im.TruthWithin(edgeMargin), r.Minutiae, synth.DefaultTolerance())
			total = total.Add(s)
		}
	}
	p, rc, f1 := total.Precision(), total.Recall(), total.F1()
	t.Logf("synthetic ground truth, %d prints: precision %.3f recall %.3f F1 %.3f (%d matched, %d missed, %d spurious)",
		fingers*impressions, p, rc, f1, total.Matched, total.Missed, total.Spurious)
	if p < minSynthPrecision || rc < minSynthRecall || f1 < minSynthF1 {
		t.Errorf("precision %.3f recall %.3f F1 %.3f, want at least %.2f, %.2f, %.2f", p, rc, f1, minSynthPrecision, minSynthRecall, minSynthF1)
	}
}

// edgeMargin is how far inside the print truth must lie to count: about
// where the extractor's border filter stops (two 8-pixel blocks).
const edgeMargin = 16

// Thresholds of TestSynthGroundTruth.
const (
	minSynthPrecision = 0.78
	minSynthRecall    = 0.78
	minSynthF1        = 0.80
)
