package synth_test

import (
	"context"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/fvc"
	"github.com/bali-rbdes/kiosk/agent/matcher"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

// fvcExtractor adapts the project's minutiae pipeline to fvc.Extractor.
type fvcExtractor struct{ e *minutiae.Extractor }

func (x fvcExtractor) Extract(img *image.Gray, ppi int) (*fmr.Record, error) {
	res, err := x.e.Extract(img, ppi)
	if err != nil {
		return nil, err
	}
	ppcm := fmr.PPIToPPCM(res.PPI)
	return &fmr.Record{
		Format: fmr.ISO, Width: uint16(res.Width), Height: uint16(res.Height), ResX: ppcm, ResY: ppcm,
		Views: []fmr.View{{Quality: uint8(res.Quality), Minutiae: res.Minutiae}},
	}, nil
}

func evaluate(t *testing.T, dir string) *fvc.Result {
	t.Helper()
	db, err := fvc.Open(dir, 500, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fvc.Evaluate(context.Background(), db, &fvc.Options{
		NewExtractor: func() (fvc.Extractor, error) {
			e, err := minutiae.New(nil)
			return fvcExtractor{e}, err
		},
		Matcher: matcher.Default(),
		Workers: runtime.GOMAXPROCS(0),
	})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// testData finds /work/shared/data the way the project's tests do.
func testData(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("KIOSK_TESTDATA"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; d != filepath.Dir(d); d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(d), "shared", "data")
		}
	}
	return ""
}

// TestRealism compares a synthetic database with FVC2002 DB4 (itself
// synthetic, made with SFinGe) through the project's own extractor, matcher
// and FVC protocol: equal error rates, score histograms side by side, and
// the extractor's precision and recall against the ground truth. It takes
// minutes, so it runs only with SYNTH_REALISM=FINGERS (make synth-realism);
// SYNTH_REALISM_SENSOR picks the sensor (optical by default).
func TestRealism(t *testing.T) {
	nf, _ := strconv.Atoi(os.Getenv("SYNTH_REALISM"))
	if nf <= 0 {
		t.Skip("set SYNTH_REALISM=FINGERS (e.g. 100) to compare synthetic fingerprints with FVC2002 DB4")
	}
	sensor := synth.Optical
	if s := os.Getenv("SYNTH_REALISM_SENSOR"); s != "" {
		var err error
		if sensor, err = synth.ParseSensor(s); err != nil {
			t.Fatal(err)
		}
	}
	db4 := filepath.Join(testData(t), "fvc2002", "DB4_B")
	if _, err := os.Stat(db4); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FVC2002 DB4_B not found at %s (set KIOSK_TESTDATA): %v", db4, err)
		}
		t.Skipf("FVC2002 DB4_B not found at %s (set KIOSK_TESTDATA)", db4)
	}
	gen, err := synth.New(&synth.Options{Sensor: sensor})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ex, err := minutiae.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	var total, edge, flipped synth.Score
	var truthN, truthEdgeN int
	for i := range nf {
		f, err := gen.Traveller(synth.SetTraveller(1, i/10)).Finger(i%10 + 1)
		if err != nil {
			t.Fatal(err)
		}
		for k := 1; k <= 8; k++ {
			im := f.Impression(uint64(k))
			out, err := os.Create(filepath.Join(dir, fmt.Sprintf("%d_%d.png", 101+i, k)))
			if err != nil {
				t.Fatal(err)
			}
			if err := synth.EncodePNG(out, im.Image, im.PPI); err != nil {
				t.Fatal(err)
			}
			out.Close()
			res, err := ex.Extract(im.Image, im.PPI)
			if err != nil {
				continue
			}
			total = total.Add(synth.Compare(im.Truth, res.Minutiae, synth.DefaultTolerance()))
			// The same with every found direction turned half round, in
			// case the extractor reads directions the other way round.
			turned := make([]fmr.Minutia, len(res.Minutiae))
			for j, m := range res.Minutiae {
				m.Angle += 128
				turned[j] = m
			}
			flipped = flipped.Add(synth.Compare(im.Truth, turned, synth.DefaultTolerance()))
			// Away from the edge of the print, where extractors drop
			// minutiae on purpose: count only found minutiae that are
			// as far inside.
			inner := im.TruthWithin(16)
			var found []fmr.Minutia
			for _, m := range res.Minutiae {
				if im.Foreground.GrayAt(int(m.X), int(m.Y)).Y == 255 && insideBy(im, m, 16) {
					found = append(found, m)
				}
			}
			edge = edge.Add(synth.Compare(inner, found, synth.DefaultTolerance()))
			truthN += len(im.Truth)
			truthEdgeN += len(inner)
		}
	}
	syn := evaluate(t, dir)
	ref := evaluate(t, db4)
	t.Logf("synthetic %s: %d fingers x 8, %.1f true minutiae per impression (%.1f at least 16 px inside)",
		sensor, nf, float64(truthN)/float64(nf*8), float64(truthEdgeN)/float64(nf*8))
	t.Logf("extractor vs ground truth (12 px, 22.5°): all minutiae precision %.3f recall %.3f F1 %.3f; 16 px inside the print precision %.3f recall %.3f F1 %.3f",
		total.Precision(), total.Recall(), total.F1(), edge.Precision(), edge.Recall(), edge.F1())
	t.Logf("the same with the extractor's directions turned 180°: precision %.3f recall %.3f F1 %.3f",
		flipped.Precision(), flipped.Recall(), flipped.F1())
	for _, r := range []*fvc.Result{syn, ref} {
		t.Logf("%-14s EER %5.2f%%  FNMR@FMR1%% %5.2f%%  FNMR@FMR0.1%% %5.2f%%  failures %d  minutiae/template %.1f",
			r.Database.Name, 100*r.Rates.EER, 100*r.Rates.FNMRAt1, 100*r.Rates.FNMRAt01, len(r.Failures), mean(r.Minutiae))
	}
	const bins = 20
	sg, si := fvc.Histogram(scores(syn.Genuine), bins, 0, 1), fvc.Histogram(scores(syn.Impostor), bins, 0, 1)
	rg, ri := fvc.Histogram(scores(ref.Genuine), bins, 0, 1), fvc.Histogram(scores(ref.Impostor), bins, 0, 1)
	var b strings.Builder
	fmt.Fprintf(&b, "score histograms, %% of comparisons (synthetic %d+%d, DB4 %d+%d):\n", len(syn.Genuine), len(syn.Impostor), len(ref.Genuine), len(ref.Impostor))
	fmt.Fprintf(&b, "  score      syn-gen  DB4-gen   syn-imp  DB4-imp\n")
	for i := range bins {
		fmt.Fprintf(&b, "  %.2f-%.2f  %6.1f   %6.1f    %6.2f   %6.2f\n", float64(i)/bins, float64(i+1)/bins,
			pct(sg[i], len(syn.Genuine)), pct(rg[i], len(ref.Genuine)), pct(si[i], len(syn.Impostor)), pct(ri[i], len(ref.Impostor)))
	}
	t.Log("\n" + b.String())
}

func insideBy(im *synth.Impression, m fmr.Minutia, d int) bool {
	for _, o := range [][2]int{{d, 0}, {-d, 0}, {0, d}, {0, -d}} {
		x, y := int(m.X)+o[0], int(m.Y)+o[1]
		if x < 0 || y < 0 || x >= im.Width || y >= im.Height || im.Foreground.GrayAt(x, y).Y != 255 {
			return false
		}
	}
	return true
}

func scores(cs []fvc.Comparison) []float64 {
	out := make([]float64, len(cs))
	for i, c := range cs {
		out[i] = c.Score
	}
	return out
}

func mean(v []int) float64 {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	return s / float64(max(1, len(v)))
}

func pct(n, of int) float64 { return 100 * float64(n) / float64(max(1, of)) }
