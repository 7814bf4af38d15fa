package fvc

import (
	"context"
	"errors"
	"image"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestComputeRates(t *testing.T) {
	tests := []struct {
		name               string
		genuine, impostor  []float64
		eer, thr, f1, zero float64
	}{
		{"separated", []float64{0.6, 0.7, 0.9}, []float64{0.1, 0.2, 0.5}, 0, 0.6, 0, 0},
		{"exact crossing", []float64{0.1, 0.4, 0.6, 0.8, 0.9}, []float64{0.05, 0.2, 0.3, 0.5, 0.7}, 0.4, 0.5, 0.6, 0.6},
		// t1 = 0.6 (FNMR 0.2 ≤ FMR 0.25), t2 = 0.65 (FNMR 0.4 ≥ FMR 0.25):
		// the t1 pair has the lower sum, EER = (0.2 + 0.25) / 2.
		{"between thresholds", []float64{0.3, 0.6, 0.7, 0.8, 0.9}, []float64{0.1, 0.4, 0.5, 0.65}, 0.225, 0.6, 0.4, 0.4},
		{"all equal", []float64{0.5, 0.5}, []float64{0.5, 0.5}, 0.5, 0.5, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := ComputeRates(tt.genuine, tt.impostor)
			if math.Abs(r.EER-tt.eer) > 1e-9 || r.EERThreshold != tt.thr {
				t.Errorf("EER = %v at %v, want %v at %v", r.EER, r.EERThreshold, tt.eer, tt.thr)
			}
			if math.Abs(r.FNMRAt1-tt.f1) > 1e-9 || math.Abs(r.FNMRAt01-tt.f1) > 1e-9 {
				t.Errorf("FNMR at FMR 1%%, 0.1%% = %v, %v, want %v (too few impostors for any false match)", r.FNMRAt1, r.FNMRAt01, tt.f1)
			}
			if math.Abs(r.ZeroFMR-tt.zero) > 1e-9 {
				t.Errorf("ZeroFMR = %v, want %v", r.ZeroFMR, tt.zero)
			}
		})
	}
	if r := ComputeRates(nil, []float64{1}); !math.IsNaN(r.EER) {
		t.Errorf("EER with no genuine scores = %v, want NaN", r.EER)
	}
}

// TestFNMRAtFMR checks the FMR bounds on a large set: 1,000 impostor
// scores allow 10 false matches at 1% and 1 at 0.1%.
func TestFNMRAtFMR(t *testing.T) {
	impostor := make([]float64, 1000)
	for i := range impostor {
		impostor[i] = float64(i) / 1000 // 0 .. 0.999
	}
	genuine := make([]float64, 100)
	for i := range genuine {
		genuine[i] = 0.9 + float64(i)/1000 // 0.9 .. 0.999
	}
	r := ComputeRates(genuine, impostor)
	// FMR ≤ 1%: threshold 0.990 (impostors 0.990..0.999 match); genuine
	// below 0.990: 90 of 100.
	if math.Abs(r.FNMRAt1-0.90) > 1e-9 || r.ThresholdAt1 != 0.99 {
		t.Errorf("FNMR at FMR 1%% = %v at %v, want 0.90 at 0.99", r.FNMRAt1, r.ThresholdAt1)
	}
	if math.Abs(r.FNMRAt01-0.99) > 1e-9 || r.ThresholdAt01 != 0.999 {
		t.Errorf("FNMR at FMR 0.1%% = %v at %v, want 0.99 at 0.999", r.FNMRAt01, r.ThresholdAt01)
	}
}

func TestHistogram(t *testing.T) {
	got := Histogram([]float64{-1, 0, 0.1, 0.49, 0.5, 0.99, 1, 7}, 4, 0, 1)
	want := []int{3, 1, 1, 3}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Histogram = %v, want %v", got, want)
		}
	}
}

func TestKnownPPI(t *testing.T) {
	tests := []struct {
		dir  string
		want int
	}{
		{"../shared/data/fvc2002/DB2_B", 569},
		{"/x/FVC2002/DB2_A/", 569},
		{"fvc2002/DB1_B", 0},
		{"fvc2004/DB3_B", 512},
		{"DB2_B", 0},
	}
	for _, tt := range tests {
		if got := KnownPPI(tt.dir); got != tt.want {
			t.Errorf("KnownPPI(%q) = %d, want %d", tt.dir, got, tt.want)
		}
	}
}

func TestOpen(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"101_1.ist", "101_2.ist", "101_2.png", "102_1.PGM", "notes.txt", "x_1.ist", "101.ist", "101_-1.ist", "readme_1.md"} {
		if err := os.WriteFile(filepath.Join(dir, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "103_1.ist"), 0o755); err != nil {
		t.Fatal(err)
	}
	db, err := Open(dir, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, s := range db.Samples {
		got = append(got, filepath.Base(s.Path))
	}
	if want := "101_1.ist 101_2.png 102_1.PGM"; strings.Join(got, " ") != want {
		t.Errorf("samples = %v, want %s", got, want)
	}
	if db.PPI != 500 {
		t.Errorf("PPI = %d, want 500", db.PPI)
	}
	db, err = Open(dir, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(db.Samples) != 2 || !db.Samples[1].Template {
		t.Errorf("templates only: %+v, want 101_1.ist and 101_2.ist", db.Samples)
	}
	if _, err := Open(t.TempDir(), 0, false); !errors.Is(err, ErrNoSamples) {
		t.Errorf("Open(empty dir) = %v, want ErrNoSamples", err)
	}
	if _, err := Open(filepath.Join(dir, "missing"), 0, false); err == nil {
		t.Error("Open(missing dir): no error")
	}
	dup := t.TempDir()
	for _, name := range []string{"101_1.png", "101_01.pgm"} {
		if err := os.WriteFile(filepath.Join(dup, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := Open(dup, 0, false); err == nil || !strings.Contains(err.Error(), "keep one") {
		t.Errorf("Open(two images of one sample) = %v, want an error", err)
	}
}

func TestPairsFVC2002Layout(t *testing.T) {
	db := &Database{}
	for f := 101; f <= 110; f++ {
		for i := 1; i <= 8; i++ {
			db.Samples = append(db.Samples, Sample{Finger: f, Impression: i})
		}
	}
	g, im := db.Pairs()
	if len(g) != 280 || len(im) != 2880 {
		t.Errorf("Pairs() = %d genuine, %d impostor; want 280, 2880", len(g), len(im))
	}
}

// synthRecords writes an FVC-layout folder of synthetic templates: fingers
// of random minutiae, impressions moved, jittered, with minutiae missed and
// added.
func synthRecords(t *testing.T, dir string, fingers, impressions int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	for f := range fingers {
		type pt struct{ x, y, a float64 }
		var master []pt
		for range 40 {
			master = append(master, pt{40 + rng.Float64()*300, 40 + rng.Float64()*300, rng.Float64() * 2 * math.Pi})
		}
		for imp := 1; imp <= impressions; imp++ {
			rot := (rng.Float64()*2 - 1) * 0.3
			dx, dy := rng.NormFloat64()*15, rng.NormFloat64()*15
			var ms []fmr.Minutia
			for _, p := range master {
				if rng.Float64() < 0.2 {
					continue
				}
				x, y := p.x-190, p.y-190
				xr := 190 + x*math.Cos(rot) + y*math.Sin(rot) + dx + rng.NormFloat64()*2
				yr := 190 - x*math.Sin(rot) + y*math.Cos(rot) + dy + rng.NormFloat64()*2
				if xr < 0 || yr < 0 || xr > 400 || yr > 400 {
					continue
				}
				ms = append(ms, fmr.Minutia{Kind: fmr.Ending, X: uint16(xr), Y: uint16(yr), Angle: fmr.AngleFromRadians(p.a + rot + rng.NormFloat64()*0.1), Quality: 60})
			}
			writeRecord(t, filepath.Join(dir, sampleName(101+f, imp)+".ist"), ms)
		}
	}
}

func sampleName(f, i int) string { return strconv.Itoa(f) + "_" + strconv.Itoa(i) }

func writeRecord(t *testing.T, path string, ms []fmr.Minutia) {
	t.Helper()
	b, err := fmr.Marshal(&fmr.Record{Format: fmr.ISO, Width: 400, Height: 400, ResX: 197, ResY: 197, Views: []fmr.View{{Minutiae: ms}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestEvaluateTemplates(t *testing.T) {
	dir := t.TempDir()
	synthRecords(t, dir, 10, 8)
	// One unreadable template and one empty one: failures, scored 0.
	if err := os.WriteFile(filepath.Join(dir, "110_8.ist"), []byte("FMR\x00 20\x00junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	writeRecord(t, filepath.Join(dir, "110_7.ist"), nil)
	db, err := Open(dir, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Evaluate(context.Background(), db, &Options{Workers: 3, Clock: clock.NewFake(time.Unix(0, 0))})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Genuine) != 280 || len(res.Impostor) != 2880 {
		t.Fatalf("%d genuine, %d impostor comparisons; want 280, 2880", len(res.Genuine), len(res.Impostor))
	}
	if len(res.Failures) != 2 {
		t.Errorf("failures = %v, want 110_7 (empty) and 110_8 (malformed)", res.Failures)
	}
	for _, f := range res.Failures {
		name := db.Samples[f.Sample].Name()
		if name != "110_7" && name != "110_8" {
			t.Errorf("unexpected failure %s: %v", name, f.Err)
		}
	}
	for _, c := range append(res.Genuine, res.Impostor...) {
		if (c.A >= 78 || c.B >= 78) && c.Score != 0 {
			t.Errorf("comparison with a failed sample scored %v, want 0", c.Score)
		}
	}
	// 13 of 280 genuine comparisons involve a failed sample: FNMR of at
	// least 4.6% wherever the threshold is above 0.
	if res.Rates.EER > 0.05 || res.Rates.FNMRAt01 > 0.1 {
		t.Errorf("EER %.2f%%, FNMR at FMR 0.1%% %.2f%%: too high for easy synthetic templates", 100*res.Rates.EER, 100*res.Rates.FNMRAt01)
	}
	var out strings.Builder
	if err := WriteTable(&out, []*Result{res, res}); err != nil {
		t.Fatal(err)
	}
	if err := WriteDetails(&out, res, 10, 3); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"EER", "mean", "failed 110_8", "lowest genuine", "highest impostor"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, out.String())
		}
	}
}

// fakeExtractor reads the finger id a test image encodes in its first
// pixel and returns that finger's record.
type fakeExtractor struct{ records map[uint8][]fmr.Minutia }

func (f fakeExtractor) Extract(img *image.Gray, ppi int) (*fmr.Record, error) {
	if ppi != 569 {
		return nil, errors.New("wrong resolution")
	}
	id := img.GrayAt(0, 0).Y
	ms, ok := f.records[id]
	if !ok {
		return nil, errors.New("no finger here")
	}
	return &fmr.Record{Format: fmr.ISO, Width: 64, Height: 64, ResX: 224, ResY: 224, Views: []fmr.View{{Minutiae: ms}}}, nil
}

func TestEvaluateImages(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(1, 2))
	records := map[uint8][]fmr.Minutia{}
	for f := uint8(1); f <= 3; f++ {
		var ms []fmr.Minutia
		for range 30 {
			ms = append(ms, fmr.Minutia{Kind: fmr.Ending, X: uint16(rng.IntN(300)), Y: uint16(rng.IntN(300)), Angle: uint8(rng.IntN(256))})
		}
		records[f] = ms
		for imp := 1; imp <= 2; imp++ {
			img := image.NewGray(image.Rect(0, 0, 64, 64))
			img.Pix[0] = f
			if f == 3 && imp == 2 {
				img.Pix[0] = 99 // the extractor fails on this one
			}
			w, err := os.Create(filepath.Join(dir, sampleName(100+int(f), imp)+".png"))
			if err != nil {
				t.Fatal(err)
			}
			if err := png.Encode(w, img); err != nil {
				t.Fatal(err)
			}
			w.Close()
		}
	}
	db, err := Open(dir, 569, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Evaluate(context.Background(), db, nil); !errors.Is(err, ErrNoExtractor) {
		t.Errorf("Evaluate of images without an extractor = %v, want ErrNoExtractor", err)
	}
	var cpu time.Duration
	res, err := Evaluate(context.Background(), db, &Options{
		NewExtractor:  func() (Extractor, error) { return fakeExtractor{records}, nil },
		ThreadCPUTime: func() time.Duration { cpu += time.Millisecond; return cpu },
		Workers:       1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Failures) != 1 || db.Samples[res.Failures[0].Sample].Name() != "103_2" {
		t.Errorf("failures = %v, want 103_2", res.Failures)
	}
	if len(res.ExtractTimes) != 6 {
		t.Errorf("%d extraction times, want 6", len(res.ExtractTimes))
	}
	if mean, med := res.MsPerImage(); mean != 1 || med != 1 {
		t.Errorf("ms per image = %v mean, %v median; want 1, 1 from the fake CPU clock", mean, med)
	}
	for _, c := range res.Genuine {
		if db.Samples[c.A].Finger != 103 && c.Score < 0.8 {
			t.Errorf("identical records of finger %d scored %.3f", db.Samples[c.A].Finger, c.Score)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Evaluate(ctx, db, &Options{NewExtractor: func() (Extractor, error) { return fakeExtractor{records}, nil }}); !errors.Is(err, context.Canceled) {
		t.Errorf("Evaluate with a cancelled context = %v, want context.Canceled", err)
	}
}
