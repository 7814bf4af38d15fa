package minutiae

import (
	"fmt"
	"image"
)

const (
	// bs is the block size in working pixels.
	bs = 8
	// pad is the border added around the working image so that the
	// oriented filters and the 3×3 skeleton windows never leave the buffer.
	pad = 16
	// ppiTolerance: images within this many ppi of WorkPPI are not
	// resampled (the R30x's 508 ppi is worked on as is).
	ppiTolerance = 10
)

// prepare checks the image, sizes the buffers and fills the padded working
// image, resampled to WorkPPI when needed.
func (e *Extractor) prepare(img *image.Gray, ppi int) error {
	if img == nil {
		return fmt.Errorf("minutiae: nil image: %w", ErrImageSize)
	}
	if ppi == 0 {
		ppi = WorkPPI
	}
	if ppi < MinPPI || ppi > MaxPPI {
		return fmt.Errorf("minutiae: %d ppi is outside %d..%d (give the scanner's resolution): %w", ppi, MinPPI, MaxPPI, ErrResolution)
	}
	iw, ih := img.Rect.Dx(), img.Rect.Dy()
	if iw < MinSide || ih < MinSide || iw > MaxSide || ih > MaxSide {
		return fmt.Errorf("minutiae: image is %dx%d pixels, want %d..%d per side: %w", iw, ih, MinSide, MaxSide, ErrImageSize)
	}
	if len(img.Pix) < (ih-1)*img.Stride+iw || img.Stride < iw {
		return fmt.Errorf("minutiae: image of %dx%d pixels has only %d bytes with stride %d: %w", iw, ih, len(img.Pix), img.Stride, ErrImageSize)
	}
	e.imgW, e.imgH, e.ppi = iw, ih, ppi
	w, h := iw, ih
	resample := ppi < WorkPPI-ppiTolerance || ppi > WorkPPI+ppiTolerance
	if resample {
		w = (iw*WorkPPI + ppi/2) / ppi
		h = (ih*WorkPPI + ppi/2) / ppi
		if w < MinSide || h < MinSide || w > MaxSide || h > MaxSide {
			return fmt.Errorf("minutiae: image of %dx%d pixels at %d ppi is %dx%d at %d ppi, want %d..%d per side: %w", iw, ih, ppi, w, h, WorkPPI, MinSide, MaxSide, ErrImageSize)
		}
	}
	e.resize(w, h)
	if resample {
		e.resample(img)
	} else {
		for y := 0; y < h; y++ {
			src := img.Pix[y*img.Stride : y*img.Stride+w]
			copy(e.gray[(y+pad)*e.stride+pad:], src)
		}
	}
	e.padEdges()
	return nil
}

// resize sets the working geometry and grows the buffers when needed.
func (e *Extractor) resize(w, h int) {
	e.w, e.h = w, h
	e.stride = w + 2*pad
	n := e.stride * (h + 2*pad)
	e.gray = grow(e.gray, n)
	e.along = grow(e.along, 2*n)
	e.bin = grow(e.bin, n)
	clear(e.along)
	clear(e.bin)
	e.wpr = (w+63)/64 + 2
	e.bits = grow(e.bits, (h+2)*e.wpr)
	e.bits2 = grow(e.bits2, (h+2)*e.wpr)
	clear(e.bits2) // its border rows are never written by the thinning
	e.bw, e.bh = (w+bs-1)/bs, (h+bs-1)/bs
	nb := e.bw * e.bh
	e.bmean = grow(e.bmean, nb)
	e.bstd = grow(e.bstd, nb)
	e.sxx = grow(e.sxx, nb)
	e.syy = grow(e.syy, nb)
	e.sxy = grow(e.sxy, nb)
	e.energy = grow(e.energy, nb)
	e.ori = grow(e.ori, nb)
	e.coh = grow(e.coh, nb)
	e.mask = grow(e.mask, nb)
	e.dil = grow(e.dil, nb)
	e.dist = grow(e.dist, nb)
	e.tmp = grow(e.tmp, 3*nb)
	e.cands = e.cands[:0]
}

// grow returns s resliced to n elements, reallocated only when too small.
func grow[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// padEdges replicates the outermost image pixels into the padding.
func (e *Extractor) padEdges() {
	s, w, h := e.stride, e.w, e.h
	g := e.gray
	for y := pad; y < pad+h; y++ {
		row := g[y*s : (y+1)*s]
		l, r := row[pad], row[pad+w-1]
		for x := 0; x < pad; x++ {
			row[x] = l
			row[pad+w+x] = r
		}
	}
	top := g[pad*s : (pad+1)*s]
	bottom := g[(pad+h-1)*s : (pad+h)*s]
	for y := 0; y < pad; y++ {
		copy(g[y*s:(y+1)*s], top)
		copy(g[(pad+h+y)*s:(pad+h+y+1)*s], bottom)
	}
}

// resample fills the working image from img by bilinear interpolation in
// 16.16 fixed point.
func (e *Extractor) resample(img *image.Gray) {
	iw, ih := img.Rect.Dx(), img.Rect.Dy()
	// Source position of working pixel x: (x+0.5)*iw/w - 0.5.
	stepX := (int64(iw) << 16) / int64(e.w)
	stepY := (int64(ih) << 16) / int64(e.h)
	for y := 0; y < e.h; y++ {
		sy := (int64(2*y+1)*stepY)/2 - 1<<15
		sy = max(0, min(sy, int64(ih-1)<<16))
		y0 := int(sy >> 16)
		y1 := min(y0+1, ih-1)
		fy := int32(sy>>8) & 255
		r0 := img.Pix[y0*img.Stride : y0*img.Stride+iw]
		r1 := img.Pix[y1*img.Stride : y1*img.Stride+iw]
		dst := e.gray[(y+pad)*e.stride+pad : (y+pad)*e.stride+pad+e.w]
		for x := range dst {
			sx := (int64(2*x+1)*stepX)/2 - 1<<15
			sx = max(0, min(sx, int64(iw-1)<<16))
			x0 := int(sx >> 16)
			x1 := min(x0+1, iw-1)
			fx := int32(sx>>8) & 255
			top := int32(r0[x0])*(256-fx) + int32(r0[x1])*fx
			bot := int32(r1[x0])*(256-fx) + int32(r1[x1])*fx
			dst[x] = uint8((top*(256-fy) + bot*fy + 1<<15) >> 16)
		}
	}
}
