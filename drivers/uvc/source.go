package uvc

import (
	"errors"
	"fmt"
	"time"
)

// Sentinel errors callers and frame sources share; test them with
// errors.Is.
var (
	// ErrTimeout: no frame arrived in time.
	ErrTimeout = errors.New("uvc: no frame in time")
	// ErrGone: the device went away (unplugged, reset); it may come back.
	ErrGone = errors.New("uvc: camera gone")
	// ErrNoFormat: the device offers neither MJPEG nor YUYV (or not the
	// one asked for).
	ErrNoFormat = errors.New("uvc: no usable pixel format")
	// ErrBadFrame: a frame could not be decoded.
	ErrBadFrame = errors.New("uvc: bad frame")
)

// PixelFormat is a V4L2 pixel format code (a FourCC).
type PixelFormat uint32

// FourCC returns the format code of four characters.
func FourCC(a, b, c, d byte) PixelFormat {
	return PixelFormat(uint32(a) | uint32(b)<<8 | uint32(c)<<16 | uint32(d)<<24)
}

// Pixel formats the driver decodes.
var (
	// MJPEG is V4L2_PIX_FMT_MJPEG: each frame a JPEG, often without its
	// Huffman tables.
	MJPEG = FourCC('M', 'J', 'P', 'G')
	// YUYV is V4L2_PIX_FMT_YUYV: packed 4:2:2, Y0 U Y1 V per pixel pair.
	YUYV = FourCC('Y', 'U', 'Y', 'V')
)

// String returns the four characters, or the hex code when they are not
// printable.
func (f PixelFormat) String() string {
	b := []byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)}
	for _, c := range b {
		if c < 0x20 || c > 0x7E {
			return fmt.Sprintf("0x%08X", uint32(f))
		}
	}
	return string(b)
}

// FrameSize is one entry of a format's size list: a discrete size (Step
// zero, Min equal to Max) or a range of sizes on a step grid.
type FrameSize struct {
	MinW, MaxW, StepW int
	MinH, MaxH, StepH int
}

// Discrete returns the FrameSize of one fixed size.
func Discrete(w, h int) FrameSize { return FrameSize{MinW: w, MaxW: w, MinH: h, MaxH: h} }

// String formats the size as WxH or [min-max;step]x[min-max;step].
func (s FrameSize) String() string {
	if s.StepW == 0 && s.StepH == 0 {
		return fmt.Sprintf("%dx%d", s.MaxW, s.MaxH)
	}
	return fmt.Sprintf("[%d-%d;%d]x[%d-%d;%d]", s.MinW, s.MaxW, s.StepW, s.MinH, s.MaxH, s.StepH)
}

// FrameSource is where frames come from: a V4L2 camera (Open, Linux only)
// or a simulator. It is what the rest of the agent and the tests program
// against, so none of them needs /dev/video*.
type FrameSource interface {
	// Formats lists the pixel formats the device offers and the frame
	// sizes of each.
	Formats() (map[PixelFormat][]FrameSize, error)
	// Start sets the pixel format and size and starts streaming. It may
	// be called again after Stop, or after a frame error wrapping ErrGone
	// to reconnect.
	Start(f PixelFormat, w, h int) error
	// Frame waits up to timeout for the next frame and returns its bytes,
	// which the caller owns. Errors wrap ErrTimeout when no frame came and
	// ErrGone when the device went away.
	Frame(timeout time.Duration) ([]byte, error)
	// Stop stops streaming.
	Stop() error
}
