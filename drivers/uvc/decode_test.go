package uvc_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/drivers/internal/simimage"
	"github.com/bali-rbdes/kiosk/drivers/uvc"
	"github.com/bali-rbdes/kiosk/drivers/uvc/uvcsim"
)

// psnr compares two images of the same size over R, G and B.
func psnr(t testing.TB, a, b image.Image) float64 {
	t.Helper()
	if a.Bounds().Size() != b.Bounds().Size() {
		t.Fatalf("sizes differ: %v and %v", a.Bounds().Size(), b.Bounds().Size())
	}
	var se float64
	n := 0
	ab, bb := a.Bounds(), b.Bounds()
	for y := 0; y < ab.Dy(); y++ {
		for x := 0; x < ab.Dx(); x++ {
			r1, g1, b1, _ := a.At(ab.Min.X+x, ab.Min.Y+y).RGBA()
			r2, g2, b2, _ := b.At(bb.Min.X+x, bb.Min.Y+y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
				n++
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

func TestRecordedMJPEG(t *testing.T) {
	frame := readFixture(t, "astronaut-320x240.mjpeg")
	// The quirk: without the tables Go's decoder gives up.
	if _, err := jpeg.Decode(bytes.NewReader(frame)); err == nil || !strings.Contains(err.Error(), "Huffman") {
		t.Fatalf("image/jpeg on a frame without DHT = %v, want a Huffman table error", err)
	}
	img, err := uvc.DecodeMJPEG(frame)
	if err != nil {
		t.Fatalf("DecodeMJPEG = %v", err)
	}
	if p := psnr(t, img, referenceImage(t)); p < 30 {
		t.Errorf("MJPEG frame PSNR %.1f dB against the reference, want >= 30", p)
	}
	// A frame that has its tables is passed through unchanged.
	var b bytes.Buffer
	if err := jpeg.Encode(&b, referenceImage(t), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := uvc.CompleteMJPEG(b.Bytes()); err != nil || !bytes.Equal(got, b.Bytes()) {
		t.Errorf("CompleteMJPEG(frame with DHT) changed it (err %v)", err)
	}
}

func TestRecordedYUYV(t *testing.T) {
	frame := readFixture(t, "astronaut-320x240.yuyv")
	img, err := uvc.DecodeYUYV(frame, 320, 240)
	if err != nil {
		t.Fatalf("DecodeYUYV = %v", err)
	}
	if img.SubsampleRatio != image.YCbCrSubsampleRatio422 {
		t.Errorf("subsample ratio %v, want 4:2:2", img.SubsampleRatio)
	}
	if p := psnr(t, img, referenceImage(t)); p < 30 {
		t.Errorf("YUYV frame PSNR %.1f dB against the reference, want >= 30", p)
	}
	// Exact samples of the first pixel pair.
	if img.Y[0] != frame[0] || img.Cb[0] != frame[1] || img.Y[1] != frame[2] || img.Cr[0] != frame[3] {
		t.Errorf("first pair Y0 %d Cb %d Y1 %d Cr %d, want % d", img.Y[0], img.Cb[0], img.Y[1], img.Cr[0], frame[:4])
	}
}

func TestDecodeYUYVGeometry(t *testing.T) {
	pair := []byte{10, 20, 30, 40}
	padded := append(bytes.Repeat(pair, 2), 0, 0, 0, 0) // 4x1 with 4 bytes of padding
	tests := []struct {
		name  string
		frame []byte
		w, h  int
		ok    bool
	}{
		{"exact", bytes.Repeat(pair, 4), 4, 2, true},
		{"padded rows", append(append([]byte{}, padded...), padded...), 4, 2, true},
		{"truncated", bytes.Repeat(pair, 3), 4, 2, false},
		{"odd width", make([]byte, 6), 3, 1, false},
		{"zero height", nil, 4, 0, false},
		{"huge", make([]byte, 8), 1 << 14, 1 << 14, false},
		{"wraps 32 bits", make([]byte, 8), 65535, 65535, false},
	}
	for _, tt := range tests {
		img, err := uvc.DecodeYUYV(tt.frame, tt.w, tt.h)
		if tt.ok != (err == nil) {
			t.Errorf("%s: DecodeYUYV = %v, want ok=%v", tt.name, err, tt.ok)
			continue
		}
		if err != nil {
			if !errors.Is(err, uvc.ErrBadFrame) {
				t.Errorf("%s: error %v is not ErrBadFrame", tt.name, err)
			}
			continue
		}
		if got := img.YCbCrAt(3, 1); got != (color.YCbCr{Y: 30, Cb: 20, Cr: 40}) {
			t.Errorf("%s: pixel (3,1) = %v, want Y30 Cb20 Cr40", tt.name, got)
		}
	}
}

func TestDecodeMJPEGErrors(t *testing.T) {
	frame := readFixture(t, "astronaut-320x240.mjpeg")
	huge := append([]byte{}, frame...)
	// Patch the SOF0 height and width to 65535.
	if i := bytes.Index(huge, []byte{0xFF, 0xC0}); i > 0 {
		huge[i+5], huge[i+6], huge[i+7], huge[i+8] = 0xFF, 0xFF, 0xFF, 0xFF
	}
	tests := []struct {
		name  string
		frame []byte
	}{
		{"empty", nil},
		{"truncated", frame[:len(frame)/2]},
		{"no scan", []byte{0xFF, 0xD8, 0xFF, 0xD9}},
		{"huge", huge},
		{"garbage", bytes.Repeat([]byte{0x12}, 100)},
	}
	for _, tt := range tests {
		if _, err := uvc.DecodeMJPEG(tt.frame); !errors.Is(err, uvc.ErrBadFrame) {
			t.Errorf("DecodeMJPEG(%s) = %v, want ErrBadFrame", tt.name, err)
		}
	}
	if _, err := uvc.Decode(uvc.FourCC('N', 'V', '1', '2'), frame, 320, 240); !errors.Is(err, uvc.ErrNoFormat) {
		t.Errorf("Decode(NV12) = %v, want ErrNoFormat", err)
	}
}

func FuzzDecodeMJPEG(f *testing.F) {
	frame := readFixture(f, "astronaut-320x240.mjpeg")
	f.Add(frame)
	f.Add(frame[:len(frame)/3])
	small, err := uvcsim.StripDHT(encodeJPEG(f, 16, 8))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(small)
	f.Fuzz(func(t *testing.T, data []byte) {
		img, err := uvc.DecodeMJPEG(data)
		if err != nil {
			if !errors.Is(err, uvc.ErrBadFrame) {
				t.Fatalf("DecodeMJPEG error %v is not ErrBadFrame", err)
			}
			return
		}
		if b := img.Bounds(); b.Dx()*b.Dy() > 4096*4096 || b.Empty() {
			t.Fatalf("DecodeMJPEG returned %v", b)
		}
	})
}

func FuzzDecodeYUYV(f *testing.F) {
	f.Add(readFixture(f, "astronaut-320x240.yuyv")[:640*4], uint16(320), uint16(8))
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0}, uint16(2), uint16(2))
	f.Add([]byte{}, uint16(0), uint16(0))
	f.Fuzz(func(t *testing.T, data []byte, w, h uint16) {
		img, err := uvc.DecodeYUYV(data, int(w), int(h))
		if err != nil {
			if !errors.Is(err, uvc.ErrBadFrame) {
				t.Fatalf("DecodeYUYV error %v is not ErrBadFrame", err)
			}
			return
		}
		if img.Bounds() != image.Rect(0, 0, int(w), int(h)) {
			t.Fatalf("DecodeYUYV bounds %v, want %dx%d", img.Bounds(), w, h)
		}
		if len(data) < 2*int(w)*int(h) {
			t.Fatalf("DecodeYUYV accepted %d bytes for %dx%d", len(data), w, h)
		}
		if img.Y[0] != data[0] {
			t.Fatalf("Y[0] = %d, want %d", img.Y[0], data[0])
		}
	})
}

func encodeJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, simimage.Cover(nil, w, h), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func BenchmarkDecodeYUYV720p(b *testing.B) {
	frame := simimage.YUYV(simimage.Cover(referenceImage(b), 1280, 720))
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := uvc.DecodeYUYV(frame, 1280, 720); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeMJPEG720p(b *testing.B) {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, simimage.Cover(referenceImage(b), 1280, 720), &jpeg.Options{Quality: 85}); err != nil {
		b.Fatal(err)
	}
	frame, err := uvcsim.StripDHT(buf.Bytes())
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := uvc.DecodeMJPEG(frame); err != nil {
			b.Fatal(err)
		}
	}
}
