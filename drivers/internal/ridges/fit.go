package ridges

import (
	"image"
	"image/color"
	"image/draw"
)

// Fit returns img as a w x h grey image the way a sensor of that geometry
// would see it at the same resolution: centred, cropped where larger and
// padded with white (no finger) where smaller. Colour images are converted
// to grey with the standard luma weights.
func Fit(img image.Image, w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 255
	}
	b := img.Bounds()
	// Offsets that centre the source on the target.
	ox := b.Min.X + (b.Dx()-w)/2
	oy := b.Min.Y + (b.Dy()-h)/2
	if src, ok := img.(*image.Gray); ok {
		for y := range h {
			sy := oy + y
			if sy < b.Min.Y || sy >= b.Max.Y {
				continue
			}
			for x := range w {
				sx := ox + x
				if sx >= b.Min.X && sx < b.Max.X {
					g.Pix[y*g.Stride+x] = src.Pix[src.PixOffset(sx, sy)]
				}
			}
		}
		return g
	}
	draw.Draw(g, g.Rect, &grey{img}, image.Pt(ox, oy), draw.Over)
	return g
}

// grey presents any image as opaque grey, so draw converts colour with luma.
type grey struct{ image.Image }

func (g *grey) ColorModel() color.Model { return color.GrayModel }
func (g *grey) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(g.Bounds())) {
		return color.Gray{Y: 255}
	}
	return color.GrayModel.Convert(g.Image.At(x, y))
}
