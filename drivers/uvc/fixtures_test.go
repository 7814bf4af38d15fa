package uvc_test

import (
	"bytes"
	"flag"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"github.com/bali-rbdes/kiosk/drivers/internal/simimage"
	"github.com/bali-rbdes/kiosk/drivers/uvc/uvcsim"
)

var update = flag.Bool("update", false, "rewrite the frame fixtures in testdata from ../shared/data/face/astronaut.png")

// testdataDir finds the shared test data: $KIOSK_TESTDATA, else
// ../shared/data beside the directory holding go.mod.
func testdataDir(t *testing.T) string {
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
			return filepath.Join(dir, "..", "shared", "data")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// TestWriteFixtures writes the frame fixtures when run with -update: the
// public-domain astronaut portrait scaled to 320x240, as the PNG reference,
// as an MJPEG frame without Huffman tables (how UVC cameras send it) and as
// packed YUYV.
func TestWriteFixtures(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite testdata/astronaut-320x240.*")
	}
	f, err := os.Open(filepath.Join(testdataDir(t), "face", "astronaut.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	src, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	img := simimage.Cover(src, 320, 240)
	var pngBuf, jpgBuf bytes.Buffer
	if err := png.Encode(&pngBuf, img); err != nil {
		t.Fatal(err)
	}
	if err := jpeg.Encode(&jpgBuf, img, &jpeg.Options{Quality: 85}); err != nil {
		t.Fatal(err)
	}
	mjpeg, err := uvcsim.StripDHT(jpgBuf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"astronaut-320x240.png":   pngBuf.Bytes(),
		"astronaut-320x240.mjpeg": mjpeg,
		"astronaut-320x240.yuyv":  simimage.YUYV(img),
	} {
		if err := os.WriteFile(filepath.Join("testdata", name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return b
}

func referenceImage(t testing.TB) image.Image {
	t.Helper()
	img, err := png.Decode(bytes.NewReader(readFixture(t, "astronaut-320x240.png")))
	if err != nil {
		t.Fatal(err)
	}
	return img
}
