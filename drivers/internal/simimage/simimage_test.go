package simimage

import (
	"image"
	"image/color"
	"testing"
)

func gradient(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			g.SetGray(x, y, color.Gray{uint8(x + y)})
		}
	}
	return g
}

func TestGrayCrop(t *testing.T) {
	tests := []struct {
		name string
		src  image.Image
		w, h int
		at   image.Point
		want uint8
	}{
		{"crop centre of larger", gradient(200, 100), 100, 50, image.Pt(0, 0), 50 + 25},
		{"pad smaller", gradient(10, 10), 20, 20, image.Pt(0, 0), 255},
		{"smaller placed centred", gradient(10, 10), 20, 20, image.Pt(5, 5), 0},
		{"nil source is all pad", nil, 4, 4, image.Pt(1, 1), 255},
	}
	for _, tt := range tests {
		got := GrayCrop(tt.src, tt.w, tt.h, 255)
		if got.Bounds() != image.Rect(0, 0, tt.w, tt.h) {
			t.Errorf("%s: bounds %v, want %dx%d", tt.name, got.Bounds(), tt.w, tt.h)
		}
		if v := got.GrayAt(tt.at.X, tt.at.Y).Y; v != tt.want {
			t.Errorf("%s: pixel at %v = %d, want %d", tt.name, tt.at, v, tt.want)
		}
	}
}

func TestCoverKeepsCentre(t *testing.T) {
	src := image.NewRGBA(image.Rect(0, 0, 400, 100))
	for y := range 100 {
		for x := range 400 {
			c := color.RGBA{0, 0, 255, 255}
			if x >= 150 && x < 250 {
				c = color.RGBA{255, 0, 0, 255}
			}
			src.Set(x, y, c)
		}
	}
	got := Cover(src, 40, 40)
	if r, _, b, _ := got.At(20, 20).RGBA(); r>>8 < 200 || b>>8 > 50 {
		t.Errorf("centre of Cover = r%d b%d, want red", r>>8, b>>8)
	}
	if r, _, _, _ := got.At(0, 20).RGBA(); r>>8 < 200 {
		t.Errorf("left edge of Cover = r%d, want red (the blue sides are cropped)", r>>8)
	}
}

func TestCoverUniform(t *testing.T) {
	got := Cover(image.NewUniform(color.RGBA{40, 60, 200, 255}), 64, 48)
	if c := got.RGBAAt(32, 24); c != (color.RGBA{40, 60, 200, 255}) {
		t.Errorf("Cover(uniform) centre = %v, want the uniform colour", c)
	}
}

func TestYUYVFastPathMatches(t *testing.T) {
	img := Cover(Portrait(), 64, 48)
	// The same pixels behind a non-RGBA type take the generic path.
	generic := YUYV(struct{ image.Image }{img})
	if fast := YUYV(img); string(fast) != string(generic) {
		t.Error("YUYV of *image.RGBA differs from the generic path")
	}
}

func TestYUYV(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 2, 1))
	img.Set(0, 0, color.White)
	img.Set(1, 0, color.Black)
	got := YUYV(img)
	want := []byte{255, 128, 0, 128}
	if string(got) != string(want) {
		t.Errorf("YUYV(white, black) = %v, want %v", got, want)
	}
}
