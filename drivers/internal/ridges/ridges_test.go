package ridges

import (
	"bytes"
	"image"
	"image/draw"
	"testing"
)

func TestPatternDeterministicAndVaried(t *testing.T) {
	a, b, c := Pattern(1, 256, 288), Pattern(1, 256, 288), Pattern(2, 256, 288)
	if !bytes.Equal(a.Pix, b.Pix) {
		t.Errorf("Pattern(1) differs between calls, want the same image")
	}
	if bytes.Equal(a.Pix, c.Pix) {
		t.Errorf("Pattern(1) == Pattern(2), want different fingers")
	}
	var dark, light int
	for _, v := range a.Pix {
		switch {
		case v < 128:
			dark++
		case v > 200:
			light++
		}
	}
	if dark < len(a.Pix)/10 || light < len(a.Pix)/10 {
		t.Errorf("Pattern has %d dark and %d light of %d pixels, want ridges and valleys (>10%% each)", dark, light, len(a.Pix))
	}
}

func TestFit(t *testing.T) {
	src := Pattern(5, 300, 300)
	tests := []struct {
		name string
		w, h int
	}{
		{"crop", 256, 288},
		{"pad", 320, 400},
	}
	for _, tt := range tests {
		g := Fit(src, tt.w, tt.h)
		if g.Rect.Dx() != tt.w || g.Rect.Dy() != tt.h {
			t.Fatalf("Fit(%s) is %v, want %dx%d", tt.name, g.Rect, tt.w, tt.h)
		}
		ox, oy := (300-tt.w)/2, (300-tt.h)/2
		for y := 0; y < tt.h; y += 7 {
			for x := 0; x < tt.w; x += 5 {
				sx, sy := x+ox, y+oy
				want := uint8(255)
				if sx >= 0 && sx < 300 && sy >= 0 && sy < 300 {
					want = src.GrayAt(sx, sy).Y
				}
				if got := g.GrayAt(x, y).Y; got != want {
					t.Fatalf("Fit(%s) at (%d,%d) = %d, want %d", tt.name, x, y, got, want)
				}
			}
		}
	}
	// A colour image goes through the same geometry, converted to grey.
	rgba := image.NewRGBA(image.Rect(10, 10, 310, 310))
	draw.Draw(rgba, rgba.Rect, src, image.Point{}, draw.Src)
	g1, g2 := Fit(src, 256, 288), Fit(rgba, 256, 288)
	if !bytes.Equal(g1.Pix, g2.Pix) {
		t.Errorf("Fit of an RGBA copy differs from Fit of the grey original")
	}
}
