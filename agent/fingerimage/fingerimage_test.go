package fingerimage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/image/tiff"
)

// gradient returns a w×h grey image whose pixel (x, y) is (x+2y) mod 256.
func gradient(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g.Pix[y*g.Stride+x] = uint8(x + 2*y)
		}
	}
	return g
}

func encodePNG(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, m); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withPHYs inserts a pHYs chunk (pixels per metre, unit metre) after IHDR.
func withPHYs(p []byte, ppm uint32) []byte {
	const ihdrEnd = 8 + 12 + 13
	chunk := make([]byte, 12+9)
	binary.BigEndian.PutUint32(chunk, 9)
	copy(chunk[4:], "pHYs")
	binary.BigEndian.PutUint32(chunk[8:], ppm)
	binary.BigEndian.PutUint32(chunk[12:], ppm)
	chunk[16] = 1
	// The CRC is not checked by image/png for ancillary chunks it skips, but
	// write a correct one anyway.
	binary.BigEndian.PutUint32(chunk[17:], crc32.ChecksumIEEE(chunk[4:17]))
	out := append([]byte{}, p[:ihdrEnd]...)
	out = append(out, chunk...)
	return append(out, p[ihdrEnd:]...)
}

func encodeTIFF(t testing.TB, m image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := tiff.Encode(&b, m, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// minimalTIFF builds an uncompressed little-endian 8-bit grey TIFF by hand,
// with XResolution num/den and ResolutionUnit unit when unit != 0.
func minimalTIFF(g *image.Gray, num, den uint32, unit uint16) []byte {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	type entry struct {
		tag, typ uint16
		count    uint32
		value    uint32
	}
	entries := []entry{
		{256, 4, 1, uint32(w)},
		{257, 4, 1, uint32(h)},
		{258, 3, 1, 8},
		{259, 3, 1, 1},
		{262, 3, 1, 1},
		{273, 4, 1, 0}, // strip offset, patched below
		{277, 3, 1, 1},
		{278, 4, 1, uint32(h)},
		{279, 4, 1, uint32(w * h)},
	}
	if unit != 0 {
		entries = append(entries, entry{282, 5, 1, 0}, entry{283, 5, 1, 0}, entry{296, 3, 1, uint32(unit)})
	}
	ifdLen := 2 + 12*len(entries) + 4
	ratOff := 8 + ifdLen
	stripOff := ratOff + 8
	le := binary.LittleEndian
	out := make([]byte, stripOff+w*h)
	copy(out, "II*\x00")
	le.PutUint32(out[4:], 8)
	le.PutUint16(out[8:], uint16(len(entries)))
	for i, e := range entries {
		p := 10 + 12*i
		switch e.tag {
		case 273:
			e.value = uint32(stripOff)
		case 282, 283:
			e.value = uint32(ratOff)
		}
		le.PutUint16(out[p:], e.tag)
		le.PutUint16(out[p+2:], e.typ)
		le.PutUint32(out[p+4:], e.count)
		if e.typ == 3 {
			le.PutUint16(out[p+8:], uint16(e.value))
		} else {
			le.PutUint32(out[p+8:], e.value)
		}
	}
	le.PutUint32(out[ratOff:], num)
	le.PutUint32(out[ratOff+4:], den)
	for y := range h {
		copy(out[stripOff+y*w:], g.Pix[y*g.Stride:y*g.Stride+w])
	}
	return out
}

func pgmP5(g *image.Gray, header string) []byte {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	b := []byte(header)
	for y := range h {
		b = append(b, g.Pix[y*g.Stride:y*g.Stride+w]...)
	}
	return b
}

func pgmP2(g *image.Gray) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "P2\n# a comment\n%d %d\n255\n", g.Rect.Dx(), g.Rect.Dy())
	for _, v := range g.Pix {
		fmt.Fprintf(&b, "%d ", v)
	}
	return b.Bytes()
}

func TestDecode(t *testing.T) {
	g := gradient(37, 23)
	p16 := []byte("P5 37 23 65535\n")
	for _, v := range g.Pix {
		p16 = append(p16, v, v) // v*257 scales back to v
	}
	rgb := image.NewRGBA(g.Rect)
	for y := range 23 {
		for x := range 37 {
			v := g.GrayAt(x, y).Y
			rgb.Set(x, y, color.RGBA{v, v, v, 255})
		}
	}
	tests := []struct {
		name    string
		data    []byte
		wantPPI int
		format  string
	}{
		{"P5", pgmP5(g, "P5\n37 23\n255\n"), 0, "pgm"},
		{"P5 with comments", pgmP5(g, "P5 # made by a test\n37\t23 # size\n255\r"), 0, "pgm"},
		{"P5 16-bit", p16, 0, "pgm"},
		{"P2", pgmP2(g), 0, "pgm"},
		{"PNG grey", encodePNG(t, g), 0, "png"},
		{"PNG RGB", encodePNG(t, rgb), 0, "png"},
		{"PNG pHYs 500 ppi", withPHYs(encodePNG(t, g), 19685), 500, "png"},
		{"TIFF x/image (writes 72 ppi: ignored)", encodeTIFF(t, g), 0, "tiff"},
		{"TIFF 1000 ppi", minimalTIFF(g, 1000, 1, unitInch), 1000, "tiff"},
		{"TIFF 569 ppi", minimalTIFF(g, 569, 1, unitInch), 569, "tiff"},
		{"TIFF 197 px/cm", minimalTIFF(g, 197, 1, unitCentimetre), 500, "tiff"},
		{"TIFF unit none", minimalTIFF(g, 500, 1, 1), 0, "tiff"},
		{"TIFF without resolution", minimalTIFF(g, 0, 0, 0), 0, "tiff"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := DecodeBytes(tt.data)
			if err != nil {
				t.Fatalf("DecodeBytes: %v", err)
			}
			if img.PPI != tt.wantPPI || img.Format != tt.format {
				t.Errorf("DecodeBytes = %s at %d ppi, want %s at %d ppi", img.Format, img.PPI, tt.format, tt.wantPPI)
			}
			if img.Gray.Rect != g.Rect {
				t.Fatalf("DecodeBytes bounds = %v, want %v", img.Gray.Rect, g.Rect)
			}
			for y := range 23 {
				for x := range 37 {
					if got, want := img.Gray.GrayAt(x, y).Y, g.GrayAt(x, y).Y; got != want {
						t.Fatalf("pixel (%d,%d) = %d, want %d", x, y, got, want)
					}
				}
			}
		})
	}
}

func TestDecodeErrors(t *testing.T) {
	g := gradient(8, 8)
	p5 := pgmP5(g, "P5 8 8 255\n")
	tests := []struct {
		name string
		data []byte
		want error // nil: any error
	}{
		{"empty", nil, ErrFormat},
		{"JPEG", []byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}, ErrFormat},
		{"BMP", []byte("BM\x36\x00\x00\x00"), ErrFormat},
		{"P6 colour PPM", []byte("P6 8 8 255\n"), ErrFormat},
		{"P5 truncated raster", p5[:len(p5)-1], nil},
		{"P5 header only", []byte("P5 8 8"), nil},
		{"P5 zero width", []byte("P5 0 8 255\n"), ErrFormat},
		{"P5 maxval 0", []byte("P5 8 8 0\n"), ErrFormat},
		{"P5 maxval 70000", []byte("P5 8 8 70000\n"), ErrFormat},
		{"P5 huge", []byte("P5 100000 100000 255\n"), ErrTooLarge},
		{"P5 letters", []byte("P5 a b 255\n"), nil},
		{"P2 sample above maxval", []byte("P2 1 1 15 16"), ErrFormat},
		{"P2 truncated", []byte("P2 2 2 255 1 2 3"), nil},
		{"PNG truncated", encodePNG(t, g)[:40], nil},
		{"TIFF truncated", encodeTIFF(t, g)[:20], nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			img, err := DecodeBytes(tt.data)
			if err == nil {
				t.Fatalf("DecodeBytes = %v, want an error", img.Gray.Rect)
			}
			if tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("DecodeBytes error = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDecodeFVC(t *testing.T) {
	dir := testdata(t)
	tests := []struct {
		path string
		w, h int
	}{
		{"fvc2002/DB1_B/101_1.tif", 388, 374},
		{"fvc2002/DB2_B/101_1.tif", 296, 560},
		{"fvc2002/DB3_B/101_1.tif", 300, 300},
		{"fvc2002/DB4_B/101_1.tif", 288, 384},
		{"minex/images-pgm/a001_03p.pgm", 364, 536},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			img, err := DecodeFile(filepath.Join(dir, tt.path))
			if err != nil {
				t.Fatal(err)
			}
			if got := img.Gray.Rect.Size(); got != image.Pt(tt.w, tt.h) {
				t.Errorf("DecodeFile size = %v, want %dx%d", got, tt.w, tt.h)
			}
		})
	}
	if _, err := DecodeFile(filepath.Join(dir, "no-such-file.pgm")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("DecodeFile(missing) error = %v, want os.ErrNotExist", err)
	}
}

// testdata finds the shared test data: $KIOSK_TESTDATA, else ../shared/data
// beside the repository root. It skips the test when absent, or fails it
// when CI=true.
func testdata(t *testing.T) string {
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

func FuzzDecode(f *testing.F) {
	g := gradient(9, 7)
	f.Add(pgmP5(g, "P5 9 7 255\n"))
	f.Add(pgmP2(g))
	f.Add([]byte("P5 2 2 65535\n\x00\x01\x02\x03\x04\x05\x06\x07"))
	f.Add(encodePNG(f, g))
	f.Add(withPHYs(encodePNG(f, g), 19685))
	f.Add(encodeTIFF(f, g))
	f.Add(minimalTIFF(g, 500, 1, unitInch))
	f.Add(minimalTIFF(g, 197, 1, unitCentimetre))
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := DecodeBytes(data)
		if err != nil {
			return
		}
		b := img.Gray.Rect
		if b.Min != (image.Point{}) || b.Dx() <= 0 || b.Dy() <= 0 || b.Dx()*b.Dy() > MaxPixels {
			t.Fatalf("DecodeBytes gave bounds %v", b)
		}
		if len(img.Gray.Pix) < (b.Dy()-1)*img.Gray.Stride+b.Dx() {
			t.Fatalf("DecodeBytes gave %d pixels for bounds %v stride %d", len(img.Gray.Pix), b, img.Gray.Stride)
		}
		if img.PPI != 0 && (img.PPI < MinPPI || img.PPI > MaxPPI) {
			t.Fatalf("DecodeBytes PPI = %d", img.PPI)
		}
	})
}
