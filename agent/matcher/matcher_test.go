package matcher

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// synthSet returns fingers×impressions synthetic templates, by finger.
func synthSet(t testing.TB, m *Matcher, seed uint64, fingers, impressions int, p impressionParams) [][]*Template {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	set := make([][]*Template, fingers)
	for f := range fingers {
		ms := newMaster(rng, 45+rng.IntN(20))
		for range impressions {
			set[f] = append(set[f], m.Prepare(ms.impression(rng, p), p.ppi))
		}
	}
	return set
}

// scoresOf returns the genuine and impostor scores of a set, FVC style.
func scoresOf(m *Matcher, set [][]*Template) (genuine, impostor []float64) {
	for f := range set {
		for i := range set[f] {
			for j := i + 1; j < len(set[f]); j++ {
				genuine = append(genuine, m.Score(set[f][i], set[f][j]))
			}
			for g := f + 1; g < len(set); g++ {
				for j := range set[g] {
					impostor = append(impostor, m.Score(set[f][i], set[g][j]))
				}
			}
		}
	}
	return genuine, impostor
}

func quantile(xs []float64, q float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[int(q*float64(len(s)-1))]
}

func TestSeparatesSyntheticFingers(t *testing.T) {
	m := Default()
	set := synthSet(t, m, 1, 10, 6, defaultImpression())
	genuine, impostor := scoresOf(m, set)
	maxImp := slices.Max(impostor)
	g05 := quantile(genuine, 0.05)
	t.Logf("genuine: 5%% %.3f median %.3f; impostor: median %.3f max %.3f", g05, quantile(genuine, 0.5), quantile(impostor, 0.5), maxImp)
	if g05 <= maxImp {
		t.Errorf("5th percentile of genuine scores %.3f not above the highest impostor score %.3f", g05, maxImp)
	}
	if maxImp > 0.2 {
		t.Errorf("highest impostor score %.3f, want <= 0.2", maxImp)
	}
}

func TestScoreProperties(t *testing.T) {
	m := Default()
	set := synthSet(t, m, 2, 4, 4, defaultImpression())
	for f := range set {
		for i, a := range set[f] {
			self := m.Score(a, a)
			if self < 0.9 || self > 1 {
				t.Errorf("Score(t, t) = %.4f for finger %d impression %d, want in [0.9, 1]", self, f, i)
			}
			for g := range set {
				for j, b := range set[g] {
					ab, ba := m.Score(a, b), m.Score(b, a)
					if ab < 0 || ab > 1 || math.IsNaN(ab) {
						t.Fatalf("Score = %v, want in [0, 1]", ab)
					}
					if ab != ba {
						t.Errorf("Score(%d/%d, %d/%d) = %.4f but reversed %.4f: not symmetric", f, i, g, j, ab, ba)
					}
					if again := m.Score(a, b); again != ab {
						t.Errorf("Score not deterministic: %.6f then %.6f", ab, again)
					}
				}
			}
		}
	}
}

// TestResolution: the same finger sampled at 569 ppi matches its 500 ppi
// impression as well as two 500 ppi impressions do.
func TestResolution(t *testing.T) {
	m := Default()
	rng := rand.New(rand.NewPCG(3, 3))
	p500 := defaultImpression()
	p569 := p500
	p569.ppi = 569
	var same, cross []float64
	for range 10 {
		ms := newMaster(rng, 55)
		seedA, seedB := rng.Uint64(), rng.Uint64()
		a := m.Prepare(ms.impression(rand.New(rand.NewPCG(seedA, 1)), p500), 500)
		b500 := m.Prepare(ms.impression(rand.New(rand.NewPCG(seedB, 1)), p500), 500)
		b569 := m.Prepare(ms.impression(rand.New(rand.NewPCG(seedB, 1)), p569), 569)
		same = append(same, m.Score(a, b500))
		cross = append(cross, m.Score(a, b569))
		if wrong := m.Score(a, m.Prepare(ms.impression(rand.New(rand.NewPCG(seedB, 1)), p569), 500)); wrong > m.Score(a, b569) {
			t.Errorf("569 ppi coordinates read as 500 ppi score %.3f, above %.3f at the right resolution", wrong, m.Score(a, b569))
		}
	}
	for i := range same {
		if math.Abs(same[i]-cross[i]) > 0.08 {
			t.Errorf("pair %d: score %.3f at 500/500 ppi but %.3f at 500/569 ppi", i, same[i], cross[i])
		}
	}
}

// TestInvariance: moving and turning a whole template changes little, for
// turns within MaxAngle (fingers are not placed upside down).
func TestInvariance(t *testing.T) {
	m := Default()
	rng := rand.New(rand.NewPCG(4, 4))
	ms := newMaster(rng, 50)
	p := defaultImpression()
	base := ms.impression(rng, p)
	other := m.Prepare(ms.impression(rng, p), 500)
	ref := m.Score(m.Prepare(base, 500), other)
	for _, deg := range []float64{-60, -10, 30, 45} {
		rot := deg * math.Pi / 180
		moved := make([]fmr.Minutia, len(base))
		for i, mi := range base {
			x, y := float64(mi.X)-194, float64(mi.Y)-187
			moved[i] = mi
			moved[i].X = uint16(math.Round(400 + x*math.Cos(rot) + y*math.Sin(rot)))
			moved[i].Y = uint16(math.Round(400 - x*math.Sin(rot) + y*math.Cos(rot)))
			moved[i].Angle = mi.Angle + uint8(math.Round(deg*256/360))
		}
		got := m.Score(m.Prepare(moved, 500), other)
		if math.Abs(got-ref) > 0.15*ref {
			t.Errorf("turned by %v° and moved: score %.3f, unmoved %.3f", deg, got, ref)
		}
	}
}

func TestDegenerateTemplates(t *testing.T) {
	m := Default()
	rng := rand.New(rand.NewPCG(5, 5))
	good := m.Prepare(newMaster(rng, 40).impression(rng, defaultImpression()), 500)
	same := make([]fmr.Minutia, 30)
	for i := range same {
		same[i] = fmr.Minutia{Kind: fmr.Ending, X: 100, Y: 100, Angle: 7}
	}
	line := make([]fmr.Minutia, 30)
	for i := range line {
		line[i] = fmr.Minutia{Kind: fmr.Ending, X: uint16(10 * i), Y: 50, Angle: uint8(i)}
	}
	huge := make([]fmr.Minutia, 255)
	for i := range huge {
		huge[i] = fmr.Minutia{Kind: fmr.Bifurcation, X: uint16(rng.IntN(16384)), Y: uint16(rng.IntN(16384)), Angle: uint8(rng.IntN(256))}
	}
	tests := []struct {
		name     string
		minutiae []fmr.Minutia
		ppi      int
	}{
		{"empty", nil, 500},
		{"one", line[:1], 500},
		{"two", line[:2], 500},
		{"all at one point", same, 500},
		{"on a line", line, 500},
		{"255 spread over 14-bit coordinates", huge, 500},
		{"unknown resolution", line, 0},
		{"negative resolution", line, -3},
		{"very high resolution", huge, 100000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tp := m.Prepare(tt.minutiae, tt.ppi)
			for _, other := range []*Template{tp, good} {
				s := m.Score(tp, other)
				if s < 0 || s > 1 || math.IsNaN(s) {
					t.Errorf("Score = %v, want in [0, 1]", s)
				}
				if other == good && s > 0.2 {
					t.Errorf("Score against an unrelated finger = %.3f, want <= 0.2", s)
				}
			}
		})
	}
}

// TestManyMinutiae: templates over 100 minutiae (bozorth3 keeps 150), here
// with many spurious ones, are cut to the best MaxMinutiae by quality, and
// still match.
func TestManyMinutiae(t *testing.T) {
	m := Default()
	rng := rand.New(rand.NewPCG(6, 6))
	p := defaultImpression()
	p.spurious = 100 // of low quality, as a noisy extractor would add
	ms := newMaster(rng, 60)
	a, b := ms.impression(rng, p), ms.impression(rng, p)
	if len(a) <= 128 {
		t.Fatalf("impression has %d minutiae, want over 128 for this test", len(a))
	}
	ta, tb := m.Prepare(a, 500), m.Prepare(b, 500)
	if ta.Len() != 128 {
		t.Errorf("Len() = %d, want MaxMinutiae 128", ta.Len())
	}
	impostor := m.Prepare(newMaster(rng, 60).impression(rng, p), 500)
	if s, imp := m.Score(ta, tb), m.Score(ta, impostor); s < 3*imp {
		t.Errorf("genuine score with %d and %d minutiae = %.3f, want at least 3 times the impostor score %.3f", len(a), len(b), s, imp)
	}
	// The ones kept are the best by quality.
	q := make([]int, len(a))
	for i := range a {
		q[i] = int(a[i].Quality)
	}
	slices.Sort(q)
	cut := q[len(q)-128]
	for _, mi := range m.keep(a) {
		if int(mi.Quality) < cut {
			t.Errorf("kept a minutia of quality %d, below the 128th best %d", mi.Quality, cut)
		}
	}
	o := DefaultOptions()
	o.MaxMinutiae = 0
	unlimited, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	if got := unlimited.Prepare(a, 500).Len(); got != len(a) {
		t.Errorf("MaxMinutiae 0: Len() = %d, want all %d", got, len(a))
	}
}

// TestMINEX scores the MINEX reference templates: every template matches
// itself near 1 and others far lower.
func TestMINEX(t *testing.T) {
	dir := sharedData(t, "minex/templates-iso")
	paths, err := filepath.Glob(filepath.Join(dir, "*.ist"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no templates in %s: %v", dir, err)
	}
	m := Default()
	var ts []*Template
	var names []string
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := fmr.Unmarshal(data)
		if err != nil {
			t.Fatal(err)
		}
		tp, err := m.PrepareRecord(rec, 0)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, tp)
		names = append(names, strings.TrimSuffix(filepath.Base(p), ".ist"))
	}
	for i := range ts {
		if s := m.Score(ts[i], ts[i]); s < 0.85 {
			t.Errorf("%s against itself: %.3f, want >= 0.85", names[i], s)
		}
		for j := range ts {
			// a001_NN and b001_NN may be the same finger; other pairs are
			// different fingers of one or two people.
			if i == j || names[i][4:] == names[j][4:] {
				continue
			}
			if s := m.Score(ts[i], ts[j]); s > 0.1 {
				t.Errorf("%s against %s: %.3f, want <= 0.1", names[i], names[j], s)
			}
		}
	}
	if _, err := m.PrepareRecord(&fmr.Record{ResX: 197}, 0); err == nil {
		t.Error("PrepareRecord of a record without views: no error")
	}
}

func TestOptionsValidated(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*Options)
	}{
		{"MaxMinutiae", func(o *Options) { o.MaxMinutiae = 256 }},
		{"Radius", func(o *Options) { o.Radius = 0 }},
		{"SpatialCells", func(o *Options) { o.SpatialCells = 1 }},
		{"too many cells", func(o *Options) { o.SpatialCells = 16 }},
		{"SigmaS", func(o *Options) { o.SigmaS = math.NaN() }},
		{"MinMatchable", func(o *Options) { o.MinMatchable = 2 }},
		{"MaxAngle", func(o *Options) { o.MaxAngle = 4 }},
		{"RelaxPairs", func(o *Options) { o.RelaxPairs = 1 }},
		{"pairs", func(o *Options) { o.MinPairs, o.MaxPairs = 5, 4 }},
		{"sigmoid", func(o *Options) { o.Tau1 = math.Inf(1) }},
	}
	for _, tt := range tests {
		o := DefaultOptions()
		tt.mutate(o)
		if _, err := New(o); err == nil {
			t.Errorf("New with bad %s: no error", tt.name)
		} else if !strings.Contains(err.Error(), "matcher:") {
			t.Errorf("New with bad %s: error %q does not name the package", tt.name, err)
		}
	}
	if _, err := New(nil); err != nil {
		t.Errorf("New(nil) = %v", err)
	}
}

func TestScoreMismatchedOptionsPanics(t *testing.T) {
	o := DefaultOptions()
	o.Radius = 60
	other, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	line := []fmr.Minutia{{X: 1, Y: 1}, {X: 50, Y: 50}, {X: 90, Y: 10}}
	a, b := Default().Prepare(line, 500), other.Prepare(line, 500)
	defer func() {
		if recover() == nil {
			t.Error("Score of templates from matchers with different options did not panic")
		}
	}()
	Default().Score(a, b)
}
