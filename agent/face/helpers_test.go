package face

import (
	"image"
	_ "image/jpeg" // negatives are JPEG
	"image/png"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/image/math/f64"
)

// The portrait ships with the package (testdata/PROVENANCE); the negatives
// come from the shared test data.

var portraitOnce = sync.OnceValues(func() (image.Image, error) {
	f, err := os.Open(filepath.Join("testdata", "astronaut.png"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return png.Decode(f)
})

func portrait(t testing.TB) image.Image {
	t.Helper()
	img, err := portraitOnce()
	if err != nil {
		t.Fatalf("loading the test portrait: %v", err)
	}
	return img
}

// Hand-marked eye centres of testdata/astronaut.png (iris centres, read
// off a 30x enlargement), pixel centres at integer coordinates.
var (
	portraitRightEye = [2]float64{203, 100.5} // subject's right, image left
	portraitLeftEye  = [2]float64{247, 102.5}
)

// kioskFrame places the portrait in a 640x480 frame the way the kiosk
// camera frames a traveller: scaled 1.4 times (63 pixels between the eyes),
// eyes at 40 % of the height.
func kioskFrame(t testing.TB) *image.RGBA {
	return transform(portrait(t), f64.Aff3{1.4, 0, 5, 0, 1.4, 50}, 640, 480)
}

// sharedData returns the directory of the shared test data: $KIOSK_TESTDATA,
// else ../shared/data beside the repository root. It skips the test when the
// data is absent, and fails it when CI=true.
func sharedData(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("KIOSK_TESTDATA"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			d := filepath.Join(dir, "..", "shared", "data")
			if _, err := os.Stat(d); err == nil {
				return d
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			break
		}
		dir = parent
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("shared test data not found: set KIOSK_TESTDATA or put it at ../shared/data beside the repository")
	}
	t.Skip("shared test data not found (set KIOSK_TESTDATA or put it at ../shared/data beside the repository)")
	return ""
}

func loadImage(t testing.TB, path string) image.Image {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		t.Fatalf("decoding %s: %v", path, err)
	}
	return img
}

// testOptions suit the 512x512 portrait, whose face is smaller than a
// kiosk's: a smaller minimum face and a lower resolution threshold (the
// portrait has 44 pixels between the eyes).
func testOptions() *Options {
	return &Options{MinFaceSize: 60, Accept: map[string]int{"inter_eye_distance": 30}}
}

func newPipeline(t testing.TB, o *Options) *Pipeline {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}
