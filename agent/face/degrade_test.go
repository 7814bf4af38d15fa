package face

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"
)

// Degradations of a test portrait, each aimed at one measure.

// toRGBA copies img into a new RGBA image with its origin at (0, 0).
func toRGBA(img image.Image) *image.RGBA {
	b := img.Bounds()
	dst := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	draw.Draw(dst, dst.Bounds(), img, b.Min, draw.Src)
	return dst
}

// gaussianBlur blurs img with a Gaussian of standard deviation sigma.
func gaussianBlur(img image.Image, sigma float64) *image.RGBA {
	src := toRGBA(img)
	r := int(math.Ceil(3 * sigma))
	k := make([]float64, 2*r+1)
	var sum float64
	for i := range k {
		x := float64(i - r)
		k[i] = math.Exp(-x * x / (2 * sigma * sigma))
		sum += k[i]
	}
	for i := range k {
		k[i] /= sum
	}
	w, h := src.Bounds().Dx(), src.Bounds().Dy()
	pass := func(in *image.RGBA, dx, dy int) *image.RGBA {
		out := image.NewRGBA(in.Bounds())
		for y := 0; y < h; y++ {
			for x := 0; x < w; x++ {
				var acc [3]float64
				for i, kv := range k {
					xx := min(max(x+(i-r)*dx, 0), w-1)
					yy := min(max(y+(i-r)*dy, 0), h-1)
					o := in.PixOffset(xx, yy)
					for c := 0; c < 3; c++ {
						acc[c] += kv * float64(in.Pix[o+c])
					}
				}
				o := out.PixOffset(x, y)
				for c := 0; c < 3; c++ {
					out.Pix[o+c] = uint8(math.Round(acc[c]))
				}
				out.Pix[o+3] = 255
			}
		}
		return out
	}
	return pass(pass(src, 1, 0), 0, 1)
}

// scaleLight multiplies every channel by f(x, y), clamped.
func scaleLight(img image.Image, f func(x, y int) float64) *image.RGBA {
	out := toRGBA(img)
	w, h := out.Bounds().Dx(), out.Bounds().Dy()
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			o := out.PixOffset(x, y)
			k := f(x, y)
			for c := 0; c < 3; c++ {
				out.Pix[o+c] = uint8(math.Min(255, math.Round(float64(out.Pix[o+c])*k)))
			}
		}
	}
	return out
}

// transform maps img through the source-to-destination affine m onto a
// w x h canvas filled with grey.
func transform(img image.Image, m f64.Aff3, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(color.RGBA{128, 128, 128, 255}), image.Point{}, draw.Src)
	xdraw.CatmullRom.Transform(dst, m, img, img.Bounds(), xdraw.Src, nil)
	return dst
}

// rotate turns img by deg degrees (clockwise on screen) about (cx, cy).
func rotate(img image.Image, deg, cx, cy float64) *image.RGBA {
	th := deg * math.Pi / 180
	c, s := math.Cos(th), math.Sin(th)
	// Pixel centres are at +0.5 in x/image/draw's coordinates.
	cx, cy = cx+0.5, cy+0.5
	m := f64.Aff3{c, -s, cx - c*cx + s*cy, s, c, cy - s*cx - c*cy}
	b := img.Bounds()
	return transform(img, m, b.Dx(), b.Dy())
}

// shift moves img by (dx, dy) pixels on a canvas of the same size.
func shift(img image.Image, dx, dy float64) *image.RGBA {
	b := img.Bounds()
	return transform(img, f64.Aff3{1, 0, dx, 0, 1, dy}, b.Dx(), b.Dy())
}

// scale resizes img by k.
func scale(img image.Image, k float64) *image.RGBA {
	b := img.Bounds()
	return transform(img, f64.Aff3{k, 0, 0, 0, k, 0}, int(float64(b.Dx())*k), int(float64(b.Dy())*k))
}

// mirror flips img left to right.
func mirror(img image.Image) *image.RGBA {
	b := img.Bounds()
	return transform(img, f64.Aff3{-1, 0, float64(b.Dx()), 0, 1, 0}, b.Dx(), b.Dy())
}
