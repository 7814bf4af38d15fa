package synth

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func TestCompare(t *testing.T) {
	deg := math.Pi / 180
	truth := []Minutia{
		{X: 100, Y: 100, Direction: 10 * deg, Kind: fmr.Ending},
		{X: 200, Y: 100, Direction: 350 * deg, Kind: fmr.Bifurcation},
		{X: 100, Y: 200, Direction: 90 * deg, Kind: fmr.Ending},
	}
	at := func(x, y uint16, d float64, k fmr.Kind) fmr.Minutia {
		return fmr.Minutia{X: x, Y: y, Angle: fmr.AngleFromRadians(d * deg), Kind: k}
	}
	for _, c := range []struct {
		name  string
		found []fmr.Minutia
		tol   Tolerance
		want  Score
	}{
		{"exact", []fmr.Minutia{at(100, 100, 10, 1), at(200, 100, 350, 2), at(100, 200, 90, 1)}, DefaultTolerance(), Score{3, 0, 0}},
		{"nothing found", nil, DefaultTolerance(), Score{0, 3, 0}},
		{"within 12 px and 22.5°, angle wrapping", []fmr.Minutia{at(108, 108, 355, 1), at(210, 104, 10, 2)}, DefaultTolerance(), Score{2, 1, 0}},
		{"too far", []fmr.Minutia{at(113, 100, 10, 1)}, DefaultTolerance(), Score{0, 3, 1}},
		{"turned too much", []fmr.Minutia{at(100, 100, 40, 1)}, DefaultTolerance(), Score{0, 3, 1}},
		{"one to one: two found near one true", []fmr.Minutia{at(101, 100, 10, 1), at(103, 100, 10, 1)}, DefaultTolerance(), Score{1, 2, 1}},
		{"kind ignored by default", []fmr.Minutia{at(100, 100, 10, 2)}, DefaultTolerance(), Score{1, 2, 0}},
		{"kind checked on request", []fmr.Minutia{at(100, 100, 10, 2)}, Tolerance{Distance: 12, Angle: 22.5 * deg, Kind: true}, Score{0, 3, 1}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := Compare(truth, c.found, c.tol); got != c.want {
				t.Errorf("Compare = %+v, want %+v", got, c.want)
			}
		})
	}
	s := Score{Matched: 6, Missed: 2, Spurious: 3}
	if p, r := s.Precision(), s.Recall(); math.Abs(p-6.0/9) > 1e-12 || math.Abs(r-6.0/8) > 1e-12 {
		t.Errorf("precision %v recall %v, want 6/9 and 6/8", p, r)
	}
	if f := s.F1(); math.Abs(f-2*(6.0/9)*(6.0/8)/(6.0/9+6.0/8)) > 1e-12 {
		t.Errorf("F1 %v", f)
	}
	if z := (Score{}); z.Precision() != 1 || z.Recall() != 1 {
		t.Errorf("empty score precision %v recall %v, want 1 and 1", z.Precision(), z.Recall())
	}
}

func TestTravellerHasTheSameTenFingers(t *testing.T) {
	g, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	a, b := g.Traveller(2026), g.Traveller(2026)
	fa, err := a.Finger(2)
	if err != nil {
		t.Fatal(err)
	}
	fb, err := b.Finger(2)
	if err != nil {
		t.Fatal(err)
	}
	if hashMaster(fa.Master) != hashMaster(fb.Master) {
		t.Errorf("Traveller(2026).Finger(2) differs between two Travellers")
	}
	if again, _ := a.Finger(2); again != fa {
		t.Errorf("a Traveller does not keep its fingers")
	}
	if fa.Master.Seed != FingerSeed(2026, 2) {
		t.Errorf("finger master seed %d, want FingerSeed(2026, 2) = %d", fa.Master.Seed, FingerSeed(2026, 2))
	}
	// Every finger of every traveller has its own master seed.
	seen := map[uint64]string{}
	for tr := uint64(0); tr < 100; tr++ {
		for p := 1; p <= 10; p++ {
			s := FingerSeed(tr, p)
			if prev, ok := seen[s]; ok {
				t.Fatalf("traveller %d finger %d has the seed of %s", tr, p, prev)
			}
			seen[s] = fmt.Sprintf("traveller %d finger %d", tr, p)
		}
	}
	if SetTraveller(1, 0) == SetTraveller(2, 0) || SetTraveller(1, 0) == SetTraveller(1, 1) {
		t.Errorf("SetTraveller repeats travellers across sets or indices")
	}
	for _, p := range []int{0, 11, -1} {
		if _, err := a.Finger(p); err == nil {
			t.Errorf("Finger(%d) = nil error, want an out-of-range error", p)
		}
	}
	if fa.Position != 2 || fa.Impression(1).Position != 2 {
		t.Errorf("finger position %d, impression position %d, want 2", fa.Position, fa.Impression(1).Position)
	}
}

func TestSensors(t *testing.T) {
	for _, c := range []struct {
		name          string
		s             Sensor
		width, height int
		ppi           int
	}{
		{"optical", Optical, 388, 374, 500},
		{"r30x", R30x, 256, 288, 508},
		{"FPC1020", FPC1020, 192, 192, 508},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, err := ParseSensor(c.name)
			if err != nil || s != c.s {
				t.Fatalf("ParseSensor(%q) = %v, %v; want %v", c.name, s, err, c.s)
			}
			if s.Width() != c.width || s.Height() != c.height || s.PPI() != c.ppi {
				t.Errorf("%v: %dx%d at %d ppi, want %dx%d at %d", s, s.Width(), s.Height(), s.PPI(), c.width, c.height, c.ppi)
			}
		})
	}
	if _, err := ParseSensor("ccd"); err == nil {
		t.Error("ParseSensor(ccd) succeeded")
	}
	if _, err := New(&Options{Sensor: 99}); err == nil {
		t.Error("New with sensor 99 succeeded")
	}
	if s := Sensor(99); s.Width() != 0 || s.String() != "sensor(99)" {
		t.Errorf("unknown sensor: width %d name %q", s.Width(), s)
	}
}

func TestR30xIsFourBit(t *testing.T) {
	g, err := New(&Options{Sensor: R30x})
	if err != nil {
		t.Fatal(err)
	}
	im := g.FingerOf(testMaster(t, 1), 0).Impression(1)
	levels := map[uint8]bool{}
	for _, v := range im.Image.Pix {
		if v%17 != 0 {
			t.Fatalf("pixel %d is not a 4-bit level (nibble*17)", v)
		}
		levels[v] = true
	}
	if len(levels) < 8 {
		t.Errorf("only %d grey levels used, want most of 16", len(levels))
	}
}

func TestRecordRoundTrip(t *testing.T) {
	g, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	im := g.FingerOf(testMaster(t, 1), 2).Impression(4)
	rec, err := im.Record()
	if err != nil {
		t.Fatal(err)
	}
	data, err := fmr.Marshal(rec)
	if err != nil {
		t.Fatal(err)
	}
	back, err := fmr.Unmarshal(data)
	if err != nil {
		t.Fatal(err)
	}
	v := back.Views[0]
	if back.Width != uint16(im.Width) || back.PPI() != im.PPI || v.Position != 2 || len(v.Minutiae) != len(im.Truth) {
		t.Fatalf("record %dx%d at %d ppi, position %d, %d minutiae; want %dx%d at %d, 2, %d",
			back.Width, back.Height, back.PPI(), v.Position, len(v.Minutiae), im.Width, im.Height, im.PPI, len(im.Truth))
	}
	for i, m := range v.Minutiae {
		tm := im.Truth[i]
		if math.Abs(float64(m.X)-tm.X) > 0.5 || math.Abs(float64(m.Y)-tm.Y) > 0.5 || m.Kind != tm.Kind ||
			math.Abs(math.Remainder(m.Radians()-tm.Direction, 2*math.Pi)) > math.Pi/256 {
			t.Errorf("minutia %d: record %+v, truth %+v", i, m, tm)
		}
	}
	if len(im.Cores)+len(im.Deltas) > 0 {
		areas, err := fmr.ParseExtended(fmr.ISO, v.Extended)
		if err != nil || len(areas) != 1 || areas[0].Type != fmr.AreaCoreDelta {
			t.Fatalf("extended data %v, %v: want one core/delta area", areas, err)
		}
		cd, err := fmr.ParseCoreDelta(fmr.ISO, areas[0].Data)
		if err != nil || len(cd.Cores) != len(im.Cores) || len(cd.Deltas) != len(im.Deltas) {
			t.Fatalf("core/delta area %+v, %v: want %d cores and %d deltas", cd, err, len(im.Cores), len(im.Deltas))
		}
		near := func(a uint8, rad float64) bool {
			return math.Abs(math.Remainder(float64(a)*(2*math.Pi/256)-rad, 2*math.Pi)) <= math.Pi/256
		}
		for i, c := range cd.Cores {
			if !c.HasAngle || !near(c.Angle, im.Cores[i].Direction) {
				t.Errorf("core %d: record %+v, truth %+v", i, c, im.Cores[i])
			}
		}
		for i, d := range cd.Deltas {
			for k, a := range d.Angles {
				if !d.HasAngles || !near(a, im.Deltas[i].Directions[k]) {
					t.Errorf("delta %d: record %+v, truth %+v", i, d, im.Deltas[i])
					break
				}
			}
		}
	}
}

func TestTruthFileRoundTrip(t *testing.T) {
	g, err := New(&Options{Sensor: FPC1020})
	if err != nil {
		t.Fatal(err)
	}
	im := g.FingerOf(testMaster(t, 1), 0).Impression(2)
	tf := im.TruthFile()
	data, err := json.Marshal(tf)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseTruthFile(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Minutiae) != len(im.Truth) || back.Sensor != "fpc1020" || back.MasterSeed != im.MasterSeed || back.Params != im.Params {
		t.Fatalf("round trip lost data: %+v", back)
	}
	for i, m := range back.Minutiae {
		if m.Minutia() != im.Truth[i] {
			t.Errorf("minutia %d: %+v, want %+v", i, m.Minutia(), im.Truth[i])
		}
	}
}

func TestParseTruthFileRejects(t *testing.T) {
	for _, c := range []struct{ name, data string }{
		{"not json", "{"},
		{"unknown field", `{"width":10,"height":10,"colour":1}`},
		{"no size", `{"minutiae":[]}`},
		{"outside image", `{"width":10,"height":10,"minutiae":[{"x":10,"y":1,"direction":0,"kind":"ending"}]}`},
		{"bad direction", `{"width":10,"height":10,"minutiae":[{"x":1,"y":1,"direction":7,"kind":"ending"}]}`},
		{"bad kind", `{"width":10,"height":10,"minutiae":[{"x":1,"y":1,"direction":0,"kind":"dot"}]}`},
		{"trailing data", `{"width":10,"height":10} {}`},
		{"core outside image", `{"width":10,"height":10,"cores":[{"x":1,"y":10,"direction":0}]}`},
		{"bad core direction", `{"width":10,"height":10,"cores":[{"x":1,"y":1,"direction":-1}]}`},
		{"bad delta direction", `{"width":10,"height":10,"deltas":[{"x":1,"y":1,"directions":[0,1,6.3]}]}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			if _, err := ParseTruthFile([]byte(c.data)); !errors.Is(err, ErrBadTruth) {
				t.Errorf("ParseTruthFile(%s) error %v, want ErrBadTruth", c.data, err)
			}
		})
	}
}

func FuzzParseTruthFile(f *testing.F) {
	f.Add([]byte(`{"width":388,"height":374,"ppi":500,"minutiae":[{"x":1.5,"y":2,"direction":3.1,"iso_angle":126,"kind":"bifurcation","edge":4}]}`))
	f.Add([]byte(`{"traveller_seed":"18446744073709551615","width":1,"height":1}`))
	f.Add([]byte(`{"width":-1}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tf, err := ParseTruthFile(data)
		if err != nil {
			if !errors.Is(err, ErrBadTruth) {
				t.Fatalf("error %v does not wrap ErrBadTruth", err)
			}
			return
		}
		for _, m := range tf.Minutiae {
			if m.X < 0 || m.Y < 0 || m.X > float64(tf.Width-1) || m.Y > float64(tf.Height-1) {
				t.Fatalf("accepted minutia outside the image: %+v", m)
			}
		}
	})
}

func TestImpressionRandIsReproducible(t *testing.T) {
	g, err := New(&Options{Sensor: FPC1020})
	if err != nil {
		t.Fatal(err)
	}
	f := g.FingerOf(testMaster(t, 1), 1)
	im := f.ImpressionRand(rand.New(rand.NewPCG(1, 2)))
	again := f.Impression(im.Index)
	if hashImpression(im) != hashImpression(again) {
		t.Errorf("ImpressionRand gave index %d, but Impression(%d) differs from it", im.Index, im.Index)
	}
	other := f.ImpressionRand(rand.New(rand.NewPCG(3, 4)))
	if hashImpression(other) == hashImpression(im) {
		t.Errorf("two random impressions are identical")
	}
}
