// Package simimage converts source images (synthetic fingers, face photos)
// to the geometry and pixel format of a simulated sensor.
package simimage

import (
	"image"
	"image/color"
	"image/draw"
	"math"

	xdraw "golang.org/x/image/draw"
)

// GrayCrop returns src as a w x h 8-bit grey image at its own resolution:
// the centre of src when it is larger, src centred on pad when smaller.
// Fingerprint sensors and finger images share a resolution (about 500 ppi),
// so a sensor sees the middle of a larger finger image.
func GrayCrop(src image.Image, w, h int, pad uint8) *image.Gray {
	dst := image.NewGray(image.Rect(0, 0, w, h))
	for i := range dst.Pix {
		dst.Pix[i] = pad
	}
	if src == nil {
		return dst
	}
	sb := src.Bounds()
	// Offsets of the centred overlap in src and dst.
	sx := sb.Min.X + max(0, (sb.Dx()-w)/2)
	sy := sb.Min.Y + max(0, (sb.Dy()-h)/2)
	dx := max(0, (w-sb.Dx())/2)
	dy := max(0, (h-sb.Dy())/2)
	cw := min(w, sb.Dx())
	ch := min(h, sb.Dy())
	r := image.Rect(dx, dy, dx+cw, dy+ch)
	draw.Draw(dst, r, src, image.Pt(sx, sy), draw.Src)
	return dst
}

// Cover returns src scaled to fill a w x h RGBA image, cropping the excess
// of the longer side evenly, as a camera with that sensor size frames the
// same scene.
func Cover(src image.Image, w, h int) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	if src == nil {
		draw.Draw(dst, dst.Bounds(), image.NewUniform(color.Gray{128}), image.Point{}, draw.Src)
		return dst
	}
	sb := src.Bounds()
	if sb.Empty() {
		return dst
	}
	// Crop src to the aspect ratio of the destination, in 64 bits: an
	// image.Uniform is 2e9 pixels wide, which wraps int on 32-bit ARM.
	crop := sb
	sw, sh, dw, dh := int64(sb.Dx()), int64(sb.Dy()), int64(w), int64(h)
	if sw*dh > sh*dw { // src is wider
		cw := int(sh * dw / dh)
		crop.Min.X += (sb.Dx() - cw) / 2
		crop.Max.X = crop.Min.X + cw
	} else {
		ch := int(sw * dh / dw)
		crop.Min.Y += (sb.Dy() - ch) / 2
		crop.Max.Y = crop.Min.Y + ch
	}
	xdraw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, crop, xdraw.Src, nil)
	return dst
}

// YUYV packs img (w even) as YUYV 4:2:2: Y0 U Y1 V per pixel pair, BT.601
// full range as image/color computes it, the two pixels' chroma averaged.
func YUYV(img image.Image) []byte {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	out := make([]byte, 0, w*h*2)
	if rgba, ok := img.(*image.RGBA); ok {
		for y := b.Min.Y; y < b.Max.Y; y++ {
			row := rgba.Pix[rgba.PixOffset(b.Min.X, y):]
			for x := 0; x+1 < w; x += 2 {
				p := row[4*x : 4*x+8 : 4*x+8]
				y0, u0, v0 := color.RGBToYCbCr(p[0], p[1], p[2])
				y1, u1, v1 := color.RGBToYCbCr(p[4], p[5], p[6])
				out = append(out, y0, uint8((int(u0)+int(u1)+1)/2), y1, uint8((int(v0)+int(v1)+1)/2))
			}
		}
		return out
	}
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x+1 < b.Max.X; x += 2 {
			y0, u0, v0 := ycc(img.At(x, y))
			y1, u1, v1 := ycc(img.At(x+1, y))
			out = append(out, y0, uint8((int(u0)+int(u1)+1)/2), y1, uint8((int(v0)+int(v1)+1)/2))
		}
	}
	return out
}

func ycc(c color.Color) (y, cb, cr uint8) {
	r, g, b, _ := c.RGBA()
	return color.RGBToYCbCr(uint8(r>>8), uint8(g>>8), uint8(b>>8))
}

// Portrait is the built-in scene of the simulated cameras when no image is
// configured: a head-and-shoulders silhouette in skin and cloth tones on a
// light grey-blue background, 480 x 640. It is not a face a detector
// will find; configure a photo for that.
func Portrait() image.Image {
	const w, h = 480, 640
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			c := color.RGBA{uint8(190 + y/40), uint8(200 + y/40), 215, 255}
			fx, fy := float64(x-w/2)/95, float64(y-250)/125
			sx, sy := float64(x-w/2)/200, float64(y-640)/230
			switch {
			case fx*fx+fy*fy <= 1:
				c = color.RGBA{196, 150, 122, 255} // face
			case sx*sx+sy*sy <= 1:
				c = color.RGBA{50, 60, 90, 255} // shoulders
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
}

// Rings is the built-in finger of the simulated fingerprint sensors when no
// finger source is configured: concentric dark ridges 9 pixels apart (about
// 500 ppi ridge spacing), 300 x 300.
func Rings() *image.Gray {
	const size = 300
	g := image.NewGray(image.Rect(0, 0, size, size))
	for y := range size {
		for x := range size {
			dx, dy := float64(x-size/2), float64(y-size/2)
			d := math.Sqrt(dx*dx + dy*dy)
			g.Pix[y*size+x] = uint8(128 + 100*math.Sin(d*2*math.Pi/9))
		}
	}
	return g
}
