package uvc

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/jpeg"

	"github.com/bali-rbdes/kiosk/drivers/internal/jpegseg"
)

// maxPixels bounds what a decoder accepts (4096 x 4096), so a garbled
// header cannot make it allocate gigabytes.
const maxPixels = 4096 * 4096

// sane reports whether w x h is a positive size of at most maxPixels,
// computed in 64 bits so that 65535 x 65535 does not wrap on 32-bit ARM.
func sane(w, h int) bool {
	return w > 0 && h > 0 && int64(w)*int64(h) <= maxPixels
}

// CompleteMJPEG returns the JPEG of an MJPEG frame, cut from FF D8 to FF D9
// and with the standard Huffman tables inserted when the frame has none
// before its first scan. It returns frame itself when nothing needs
// changing.
func CompleteMJPEG(frame []byte) ([]byte, error) {
	info, err := jpegseg.Find(frame)
	if err != nil {
		return nil, fmt.Errorf("uvc: MJPEG frame of %d bytes: %v: %w", len(frame), err, ErrBadFrame)
	}
	jpg := frame[info.Start:info.End]
	if info.HasDHT {
		return jpg, nil
	}
	if info.FirstSOS < 0 {
		return nil, fmt.Errorf("uvc: MJPEG frame of %d bytes has no scan: %w", len(frame), ErrBadFrame)
	}
	// Insert the tables just before the first scan.
	sos := info.FirstSOS - info.Start
	out := make([]byte, 0, len(jpg)+len(defaultDHT))
	out = append(out, jpg[:sos]...)
	out = append(out, defaultDHT...)
	return append(out, jpg[sos:]...), nil
}

// DecodeMJPEG decodes an MJPEG frame, supplying the standard Huffman
// tables UVC cameras leave out.
func DecodeMJPEG(frame []byte) (image.Image, error) {
	jpg, err := CompleteMJPEG(frame)
	if err != nil {
		return nil, err
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpg))
	if err != nil {
		return nil, fmt.Errorf("uvc: MJPEG header: %v: %w", err, ErrBadFrame)
	}
	if !sane(cfg.Width, cfg.Height) {
		return nil, fmt.Errorf("uvc: MJPEG frame claims %dx%d pixels: %w", cfg.Width, cfg.Height, ErrBadFrame)
	}
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		return nil, fmt.Errorf("uvc: MJPEG frame of %d bytes: %v: %w", len(frame), err, ErrBadFrame)
	}
	return img, nil
}

// DecodeYUYV turns a packed YUYV 4:2:2 frame of w x h pixels into an
// image.YCbCr without converting colour: Y is copied, each pixel pair's U
// and V become one Cb and one Cr sample (4:2:2). Rows may be padded: a
// frame of h rows of more than 2w bytes each is accepted.
func DecodeYUYV(frame []byte, w, h int) (*image.YCbCr, error) {
	if !sane(w, h) || w%2 != 0 {
		return nil, fmt.Errorf("uvc: YUYV size %dx%d is not positive with an even width: %w", w, h, ErrBadFrame)
	}
	stride := 2 * w
	switch {
	case len(frame) == stride*h:
	case len(frame) > stride*h && len(frame)%h == 0 && (len(frame)/h)%2 == 0:
		stride = len(frame) / h // padded rows (bytesperline > 2w)
	default:
		return nil, fmt.Errorf("uvc: YUYV frame is %d bytes, want %d for %dx%d (truncated frame, or the camera set another size): %w", len(frame), 2*w*h, w, h, ErrBadFrame)
	}
	img := image.NewYCbCr(image.Rect(0, 0, w, h), image.YCbCrSubsampleRatio422)
	for y := range h {
		row := frame[y*stride : y*stride+2*w]
		yy := img.Y[y*img.YStride : y*img.YStride+w]
		cb := img.Cb[y*img.CStride : y*img.CStride+w/2]
		cr := img.Cr[y*img.CStride : y*img.CStride+w/2]
		for x := 0; x < w/2; x++ {
			p := row[4*x : 4*x+4 : 4*x+4]
			yy[2*x] = p[0]
			cb[x] = p[1]
			yy[2*x+1] = p[2]
			cr[x] = p[3]
		}
	}
	return img, nil
}

// Decode decodes a frame of format f and nominal size w x h.
func Decode(f PixelFormat, frame []byte, w, h int) (image.Image, error) {
	switch f {
	case MJPEG:
		return DecodeMJPEG(frame)
	case YUYV:
		img, err := DecodeYUYV(frame, w, h)
		if err != nil {
			return nil, err
		}
		return img, nil
	}
	return nil, fmt.Errorf("uvc: cannot decode pixel format %s: %w", f, errors.Join(ErrNoFormat, ErrBadFrame))
}
