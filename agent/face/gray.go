package face

import (
	"image"
	"image/color"
)

// gray is an 8-bit luma image with its origin at (0, 0). It may share its
// pixels with the image it was made from (the Y plane of a JPEG frame).
type gray struct {
	pix    []uint8
	w, h   int
	stride int
}

// at returns the pixel at column x, row y, clamped to the image.
func (g *gray) at(x, y int) uint8 {
	x = min(max(x, 0), g.w-1)
	y = min(max(y, 0), g.h-1)
	return g.pix[y*g.stride+x]
}

// bilinear samples g at (x, y), pixel centres at integer coordinates,
// clamping to the border.
func (g *gray) bilinear(x, y float64) float64 {
	if x < 0 {
		x = 0
	} else if x > float64(g.w-1) {
		x = float64(g.w - 1)
	}
	if y < 0 {
		y = 0
	} else if y > float64(g.h-1) {
		y = float64(g.h - 1)
	}
	x0, y0 := int(x), int(y)
	x1, y1 := min(x0+1, g.w-1), min(y0+1, g.h-1)
	fx, fy := x-float64(x0), y-float64(y0)
	r0 := g.pix[y0*g.stride:]
	r1 := g.pix[y1*g.stride:]
	a := float64(r0[x0]) + fx*(float64(r0[x1])-float64(r0[x0]))
	b := float64(r1[x0]) + fx*(float64(r1[x1])-float64(r1[x0]))
	return a + fy*(b-a)
}

// luma601 is the Rec. 601 luma of 8-bit R, G, B, the same weights as
// color.GrayModel and the Y of a JFIF JPEG.
func luma601(r, g, b uint32) uint8 {
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 16)
}

// toGray returns the luma of img, and the scratch buffer buf, grown when
// it was used and too small, to pass again next time. Frames from the usual
// decoders (*image.YCbCr from JPEG, *image.Gray, *image.RGBA, *image.NRGBA)
// take a fast path; the Y plane of a YCbCr image and the pixels of a Gray
// image are shared, not copied, and buf is not used. Anything else goes
// through the colour model, which is slower.
func toGray(img image.Image, buf []uint8) (*gray, []uint8) {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	switch m := img.(type) {
	case *image.YCbCr:
		off := m.YOffset(b.Min.X, b.Min.Y)
		return &gray{pix: m.Y[off:], w: w, h: h, stride: m.YStride}, buf
	case *image.Gray:
		off := m.PixOffset(b.Min.X, b.Min.Y)
		return &gray{pix: m.Pix[off:], w: w, h: h, stride: m.Stride}, buf
	}
	if cap(buf) < w*h {
		buf = make([]uint8, w*h)
	}
	buf = buf[:w*h]
	switch m := img.(type) {
	case *image.RGBA:
		g := &gray{pix: buf, w: w, h: h, stride: w}
		for y := 0; y < h; y++ {
			off := m.PixOffset(b.Min.X, b.Min.Y+y)
			src := m.Pix[off : off+4*w]
			dst := g.pix[y*w : (y+1)*w]
			for x, i := 0, 0; x < len(dst) && i+2 < len(src); x, i = x+1, i+4 {
				dst[x] = luma601(uint32(src[i]), uint32(src[i+1]), uint32(src[i+2]))
			}
		}
		return g, buf
	case *image.NRGBA:
		// Luma of the colour composited over black, as color.GrayModel does.
		g := &gray{pix: buf, w: w, h: h, stride: w}
		for y := 0; y < h; y++ {
			src := m.Pix[m.PixOffset(b.Min.X, b.Min.Y+y):]
			dst := g.pix[y*w : (y+1)*w]
			for x := range dst {
				s := src[4*x : 4*x+4]
				a := uint32(s[3])
				dst[x] = luma601(uint32(s[0])*a/255, uint32(s[1])*a/255, uint32(s[2])*a/255)
			}
		}
		return g, buf
	}
	g := &gray{pix: buf, w: w, h: h, stride: w}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.pix[y*w+x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return g, buf
}
