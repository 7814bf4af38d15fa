package synth_test

import (
	"bytes"
	"image"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fingerimage"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

func TestEncodePNGStatesResolution(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 7, 5))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 9)
	}
	for _, ppi := range []int{500, 508} {
		var buf bytes.Buffer
		if err := synth.EncodePNG(&buf, img, ppi); err != nil {
			t.Fatal(err)
		}
		got, err := fingerimage.DecodeBytes(buf.Bytes())
		if err != nil {
			t.Fatalf("decoding our PNG: %v", err)
		}
		if got.PPI != ppi {
			t.Errorf("PNG at %d ppi decodes at %d ppi", ppi, got.PPI)
		}
		if !bytes.Equal(got.Gray.Pix, img.Pix) {
			t.Errorf("pixels changed through PNG at %d ppi", ppi)
		}
	}
}
