package minutiae

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fingerimage"
	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// testdata finds the shared test data: $KIOSK_TESTDATA, else ../shared/data
// beside the repository root. It skips the test when absent, or fails it
// when CI=true.
func testdata(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("KIOSK_TESTDATA"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			data := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(data); err == nil {
				return data
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("test data not found: set KIOSK_TESTDATA or place it at ../shared/data")
	}
	t.Skip("test data not found (set KIOSK_TESTDATA or place it at ../shared/data beside the repository)")
	return ""
}

func loadImage(t testing.TB, rel string) *image.Gray {
	t.Helper()
	img, err := fingerimage.DecodeFile(filepath.Join(testdata(t), rel))
	if err != nil {
		t.Fatal(err)
	}
	return img.Gray
}

// fvcPPI is the resolution of each FVC2002 database.
var fvcPPI = map[string]int{"DB1_B": 500, "DB2_B": 569, "DB3_B": 500, "DB4_B": 500}

// pattern draws a deterministic synthetic print with integer arithmetic
// only: a loop-like field of ridges with breaks and forks, on a light
// background, inside an ellipse.
func pattern(w, h int, seed uint32) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	cx, cy := w/2, h/2
	rx, ry := w*2/5, h*9/20
	s := seed
	for y := range h {
		for x := range w {
			dx, dy := x-cx, y-cy
			v := uint8(220)
			if dx*dx*ry*ry+dy*dy*rx*rx <= rx*rx*ry*ry {
				// Distance-like phase: ridges of period 9 around the
				// centre, squashed so they are not circles.
				r2 := dx*dx*4 + dy*dy*9
				r := int(isqrt(int64(r2))) / 2
				phase := (r + (dx*dy)/(w/2+1)) % 9
				if phase < 0 {
					phase += 9
				}
				v = 200
				if phase < 4 {
					v = 50
				}
				// Breaks and forks: flip a few cells of 12x12 pixels.
				s = s*1664525 + 1013904223
				if (x/12*31+y/12*17+int(seed))%23 == 0 && phase == 4 {
					v = 50
				}
				if (x/12*13+y/12*29+int(seed))%29 == 0 && phase == 1 {
					v = 200
				}
				v -= uint8(s >> 28) // a little noise
			}
			g.Pix[y*g.Stride+x] = v
		}
	}
	return g
}

func TestExtractFVC(t *testing.T) {
	e, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	impressions := []int{1, 5}
	if testing.Short() {
		impressions = impressions[:1]
	}
	for _, db := range []string{"DB1_B", "DB2_B", "DB3_B", "DB4_B"} {
		for _, i := range impressions {
			name := fmt.Sprintf("fvc2002/%s/10%d_%d.tif", db, i, i)
			t.Run(name, func(t *testing.T) {
				img := loadImage(t, name)
				r, err := e.Extract(img, fvcPPI[db])
				if err != nil {
					t.Fatal(err)
				}
				if len(r.Minutiae) < 15 || len(r.Minutiae) > DefaultOptions().MaxMinutiae {
					t.Errorf("Extract(%s) = %d minutiae, want 15..%d", name, len(r.Minutiae), DefaultOptions().MaxMinutiae)
				}
				if r.Quality < 1 {
					t.Errorf("Extract(%s) quality = %d, want > 0 for a usable print (measures %+v)", name, r.Quality, r.Measures)
				}
				if r.Width != img.Rect.Dx() || r.Height != img.Rect.Dy() || r.PPI != fvcPPI[db] {
					t.Errorf("Extract(%s) describes %dx%d at %d ppi, want %v at %d", name, r.Width, r.Height, r.PPI, img.Rect.Size(), fvcPPI[db])
				}
				if !r.Foreground.In(img.Rect) || r.Foreground.Empty() {
					t.Errorf("Extract(%s) foreground %v not inside %v", name, r.Foreground, img.Rect)
				}
				prevQ := 101
				for _, m := range r.Minutiae {
					if int(m.X) >= r.Width || int(m.Y) >= r.Height {
						t.Fatalf("minutia (%d,%d) outside the %dx%d image", m.X, m.Y, r.Width, r.Height)
					}
					if !image.Pt(int(m.X), int(m.Y)).In(r.Foreground) {
						t.Errorf("minutia (%d,%d) outside the foreground %v", m.X, m.Y, r.Foreground)
					}
					if m.Kind != fmr.Ending && m.Kind != fmr.Bifurcation {
						t.Errorf("minutia kind %d", m.Kind)
					}
					if int(m.Quality) > prevQ || m.Quality > 100 {
						t.Errorf("minutiae not ordered by quality: %d after %d", m.Quality, prevQ)
					}
					prevQ = int(m.Quality)
				}
			})
		}
	}
}

// TestResolution checks that an image at another resolution gives the same
// minutiae, in its own pixels.
func TestResolution(t *testing.T) {
	base := loadImage(t, "fvc2002/DB1_B/103_2.tif")
	r500, err := Extract(base, 500)
	if err != nil {
		t.Fatal(err)
	}
	// Upsample by 600/500 with the extractor's own resampler.
	e, _ := New(nil)
	w, h := base.Rect.Dx()*6/5, base.Rect.Dy()*6/5
	e.resize(w, h)
	e.resample(base)
	big := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		copy(big.Pix[y*big.Stride:], e.gray[(y+pad)*e.stride+pad:(y+pad)*e.stride+pad+w])
	}
	r600, err := Extract(big, 600)
	if err != nil {
		t.Fatal(err)
	}
	if r600.Width != w || r600.PPI != 600 {
		t.Fatalf("Extract at 600 ppi describes %dx%d at %d, want %dx%d at 600", r600.Width, r600.Height, r600.PPI, w, h)
	}
	// Most minutiae found at 500 ppi should be found at 600 ppi, 1.2 times
	// farther from the origin.
	near := 0
	for _, a := range r500.Minutiae {
		for _, b := range r600.Minutiae {
			dx := int(b.X) - int(a.X)*6/5
			dy := int(b.Y) - int(a.Y)*6/5
			if dx*dx+dy*dy <= 6*6 && angleDiff(int(a.Angle)*4, int(b.Angle)*4) <= 64 {
				near++
				break
			}
		}
	}
	if near*10 < len(r500.Minutiae)*7 {
		t.Errorf("only %d of %d minutiae found at 500 ppi reappear at 600 ppi", near, len(r500.Minutiae))
	}
}

func TestErrors(t *testing.T) {
	e, _ := New(nil)
	tests := []struct {
		name string
		img  *image.Gray
		ppi  int
		want error
	}{
		{"nil", nil, 500, ErrImageSize},
		{"too small", image.NewGray(image.Rect(0, 0, 63, 100)), 500, ErrImageSize},
		{"too large", image.NewGray(image.Rect(0, 0, 100, 2049)), 500, ErrImageSize},
		{"too large once resampled", image.NewGray(image.Rect(0, 0, 1500, 1500)), 300, ErrImageSize},
		{"low ppi", image.NewGray(image.Rect(0, 0, 100, 100)), 100, ErrResolution},
		{"high ppi", image.NewGray(image.Rect(0, 0, 100, 100)), 5000, ErrResolution},
		{"short pixel buffer", &image.Gray{Pix: make([]uint8, 10), Stride: 100, Rect: image.Rect(0, 0, 100, 100)}, 500, ErrImageSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.Extract(tt.img, tt.ppi)
			if !errors.Is(err, tt.want) {
				t.Errorf("Extract = %v, %v; want error %v", r, err, tt.want)
			}
		})
	}
	if _, err := New(&Options{MaxMinutiae: 256}); err == nil {
		t.Error("New(MaxMinutiae 256) succeeded, want an error")
	}
	if _, err := New(&Options{MinMinutiaQuality: 101}); err == nil {
		t.Error("New(MinMinutiaQuality 101) succeeded, want an error")
	}
}

// TestAdversarial feeds images no scanner should produce; every one must
// give an error or a result, never a panic, and a blank one no minutiae.
func TestAdversarial(t *testing.T) {
	e, _ := New(nil)
	noise := func(w, h int, seed uint32) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		s := seed
		for i := range g.Pix {
			s = s*1664525 + 1013904223
			g.Pix[i] = uint8(s >> 24)
		}
		return g
	}
	fill := func(w, h int, v uint8) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for i := range g.Pix {
			g.Pix[i] = v
		}
		return g
	}
	stripes := func(w, h, period int) *image.Gray {
		g := image.NewGray(image.Rect(0, 0, w, h))
		for y := range h {
			for x := range w {
				if (x/period+y/period)%2 == 0 {
					g.Pix[y*g.Stride+x] = 255
				}
			}
		}
		return g
	}
	dot := fill(300, 300, 255)
	for y := 140; y < 160; y++ {
		for x := 140; x < 160; x++ {
			dot.Pix[y*dot.Stride+x] = uint8((x + y) % 2 * 255)
		}
	}
	tests := []struct {
		name  string
		img   *image.Gray
		blank bool
	}{
		{"white", fill(388, 374, 255), true},
		{"black", fill(388, 374, 0), true},
		{"grey 64x64", fill(64, 64, 128), true},
		{"noise", noise(388, 374, 1), false},
		{"noise 64x2000", noise(64, 2000, 2), false},
		{"noise 2000x64", noise(2000, 64, 3), false},
		{"checkerboard 1", stripes(300, 300, 1), false},
		{"checkerboard 4", stripes(300, 300, 4), false},
		{"tiny foreground", dot, false},
		{"pattern", pattern(320, 360, 1), false},
	}
	if !testing.Short() {
		tests = append(tests, struct {
			name  string
			img   *image.Gray
			blank bool
		}{"noise 2000x2000", noise(2000, 2000, 4), false})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := e.Extract(tt.img, 500)
			if err != nil {
				t.Fatalf("Extract: %v", err)
			}
			if tt.blank && (len(r.Minutiae) != 0 || r.Quality != 0) {
				t.Errorf("Extract(%s) = %d minutiae, quality %d; want none, 0", tt.name, len(r.Minutiae), r.Quality)
			}
			if len(r.Minutiae) > DefaultOptions().MaxMinutiae {
				t.Errorf("Extract(%s) = %d minutiae, more than MaxMinutiae", tt.name, len(r.Minutiae))
			}
		})
	}
}

// TestReuse checks that an Extractor reused over images of different sizes
// gives what a fresh one gives.
func TestReuse(t *testing.T) {
	imgs := []*image.Gray{pattern(300, 340, 1), pattern(256, 400, 2), pattern(400, 300, 3), pattern(300, 340, 1)}
	e, _ := New(nil)
	for i, img := range imgs {
		got, err := e.Extract(img, 500)
		if err != nil {
			t.Fatal(err)
		}
		want, err := Extract(img, 500)
		if err != nil {
			t.Fatal(err)
		}
		if a, b := templateHash(got), templateHash(want); a != b {
			t.Errorf("image %d: reused extractor gives template %s, fresh one %s", i, a, b)
		}
	}
}

// templateHash hashes the whole ISO record of r, extended data included.
func templateHash(r *Result) string {
	return recordHash(r.Record(fmr.ISO))
}

// minutiaeHash hashes the ISO record of r without its extended data: the
// minutiae, quality and header alone.
func minutiaeHash(r *Result) string {
	rec := r.Record(fmr.ISO)
	rec.Views[0].Extended = nil
	return recordHash(rec)
}

func recordHash(rec *fmr.Record) string {
	data, err := fmr.Marshal(rec)
	if err != nil {
		panic(err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8])
}

func TestAllocations(t *testing.T) {
	img := pattern(388, 374, 5)
	e, _ := New(nil)
	if _, err := e.Extract(img, 500); err != nil {
		t.Fatal(err)
	}
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := e.Extract(img, 500); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 2 {
		t.Errorf("Extract allocates %.0f times per image in steady state, want at most 2", allocs)
	}
	if mem := e.WorkingMemory(); mem >= 4<<20 {
		t.Errorf("working memory for a 388x374 image is %d bytes, want under 4 MiB", mem)
	}
}

// TestGolden pins the templates of a few images: the same bytes on every
// architecture (make test-arm runs it under qemu for arm64 and armv7).
// Each image has two lines: NAME hashes the record without its extended
// data (the minutiae), NAME#record the whole record with the core/delta
// area. After an intended change of the pipeline, regenerate with
// KIOSK_UPDATE_GOLDEN=1 go test -run TestGolden ./agent/minutiae.
func TestGolden(t *testing.T) {
	type entry struct{ name, hash string }
	var got []entry
	for i := uint32(1); i <= 3; i++ {
		r, err := Extract(pattern(300+20*int(i), 340, i), 500)
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("pattern-%d", i)
		got = append(got, entry{name, minutiaeHash(r)}, entry{name + "#record", templateHash(r)})
	}
	if dir := dataDir(); dir != "" {
		for _, name := range []string{"fvc2002/DB1_B/101_1.tif", "fvc2002/DB2_B/102_3.tif", "fvc2002/DB3_B/104_5.tif", "fvc2002/DB4_B/107_8.tif", "minex/images-pgm/a001_03p.pgm"} {
			img, err := fingerimage.DecodeFile(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			ppi := 500
			if strings.Contains(name, "DB2_B") {
				ppi = 569
			}
			r, err := Extract(img.Gray, ppi)
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, entry{name, minutiaeHash(r)}, entry{name + "#record", templateHash(r)})
		}
	}
	var b strings.Builder
	for _, e := range got {
		fmt.Fprintf(&b, "%s %s\n", e.hash, e.name)
	}
	golden := filepath.Join("testdata", "golden.txt")
	if os.Getenv("KIOSK_UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	wantHash := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(string(want)), "\n") {
		if f := strings.Fields(line); len(f) == 2 {
			wantHash[f[1]] = f[0]
		}
	}
	t.Logf("checked %d templates against %s", len(got), golden)
	for _, e := range got {
		if wantHash[e.name] != e.hash {
			t.Errorf("template of %s hashes to %s, golden %s", e.name, e.hash, wantHash[e.name])
		}
	}
}

// dataDir is testdata without skipping: "" when the shared data is absent.
func dataDir() string {
	if d := os.Getenv("KIOSK_TESTDATA"); d != "" {
		return d
	}
	wd, _ := os.Getwd()
	for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			data := filepath.Join(d, "..", "shared", "data")
			if _, err := os.Stat(data); err == nil {
				return data
			}
			return ""
		}
	}
	return ""
}

func FuzzExtract(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint16(500), []byte{0})
	f.Add(uint8(40), uint8(60), uint16(569), []byte("ridges and valleys"))
	f.Add(uint8(255), uint8(255), uint16(250), []byte{0, 255, 0, 255, 128})
	p := pattern(96, 128, 9)
	f.Add(uint8(32), uint8(64), uint16(500), p.Pix)
	// A whorl-like print of 300×319 pixels, big enough for its two cores.
	f.Add(uint8(236), uint8(255), uint16(500), pattern(300, 319, 2).Pix)
	e, _ := New(nil)
	f.Fuzz(func(t *testing.T, w8, h8 uint8, ppi uint16, data []byte) {
		w, h := 64+int(w8), 64+int(h8)
		img := image.NewGray(image.Rect(0, 0, w, h))
		if len(data) > 0 {
			for i := range img.Pix {
				img.Pix[i] = data[i%len(data)] ^ uint8(i/len(data))
			}
		}
		r, err := e.Extract(img, int(ppi))
		if err != nil {
			if !errors.Is(err, ErrResolution) && !errors.Is(err, ErrImageSize) {
				t.Fatalf("Extract error %v is neither ErrResolution nor ErrImageSize", err)
			}
			return
		}
		if len(r.Minutiae) > DefaultOptions().MaxMinutiae || r.Quality < 0 || r.Quality > 100 {
			t.Fatalf("Extract = %d minutiae, quality %d", len(r.Minutiae), r.Quality)
		}
		for _, m := range r.Minutiae {
			if int(m.X) >= w || int(m.Y) >= h || m.Quality > 100 {
				t.Fatalf("minutia %+v outside %dx%d", m, w, h)
			}
		}
		if len(r.Cores) > maxCores || len(r.Deltas) > maxDeltas {
			t.Fatalf("Extract = %d cores, %d deltas", len(r.Cores), len(r.Deltas))
		}
		for _, c := range r.Cores {
			if int(c.X) >= w || int(c.Y) >= h {
				t.Fatalf("core %+v outside %dx%d", c, w, h)
			}
		}
		for _, d := range r.Deltas {
			if int(d.X) >= w || int(d.Y) >= h {
				t.Fatalf("delta %+v outside %dx%d", d, w, h)
			}
		}
		for _, format := range []fmr.Format{fmr.ISO, fmr.ANSI} {
			data, err := fmr.Marshal(r.Record(format))
			if err != nil {
				t.Fatalf("result does not encode as %v: %v", format, err)
			}
			rec, err := fmr.Unmarshal(data)
			if err != nil {
				t.Fatalf("%v record does not decode: %v", format, err)
			}
			areas, err := fmr.ParseExtended(format, rec.Views[0].Extended)
			if err != nil {
				t.Fatalf("%v extended data does not parse: %v", format, err)
			}
			for _, a := range areas {
				cd, err := fmr.ParseCoreDelta(format, a.Data)
				if err != nil || len(cd.Cores) != len(r.Cores) || len(cd.Deltas) != len(r.Deltas) {
					t.Fatalf("%v core/delta area decodes to %+v, %v; want %d cores, %d deltas", format, cd, err, len(r.Cores), len(r.Deltas))
				}
			}
		}
	})
}
