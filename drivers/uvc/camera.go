package uvc

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sort"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Options configure a Camera; zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// Width and Height are the wanted frame size; the camera uses the
	// smallest size it offers that covers it, or its largest. Default
	// 1280x720.
	Width, Height int
	// Format is "auto" (MJPEG, else YUYV), "mjpeg" or "yuyv".
	Format string
	// Timeout bounds the wait for each frame; default 2 s.
	Timeout time.Duration
	// MaxBadFrames is how many undecodable frames in a row Capture skips
	// before it fails; UVC cameras often send a few broken frames after
	// streaming starts. Default 5.
	MaxBadFrames int
	// Logger receives info and debug logs; nil means none.
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{Width: 1280, Height: 720, Format: "auto", Timeout: 2 * time.Second, MaxBadFrames: 5}
}

// Frame is one raw frame.
type Frame struct {
	Format PixelFormat
	// Size is the size the stream was set up for.
	Size image.Point
	Data []byte
}

// Camera streams and decodes frames from a FrameSource. Its methods are
// safe for concurrent use; they run one at a time.
type Camera struct {
	mu       sync.Mutex
	src      FrameSource
	opts     Options
	log      *zap.Logger
	format   PixelFormat
	size     image.Point
	running  bool
	closed   bool
	restarts int
}

// New chooses a pixel format and size among what src offers and starts
// streaming. The camera does not own src: Close stops the stream and
// leaves closing the device to whoever opened it.
func New(src FrameSource, opts *Options) (*Camera, error) {
	if src == nil {
		return nil, errors.New("uvc: New needs a FrameSource")
	}
	o := DefaultOptions()
	if opts != nil {
		if opts.Width != 0 {
			o.Width = opts.Width
		}
		if opts.Height != 0 {
			o.Height = opts.Height
		}
		if opts.Format != "" {
			o.Format = strings.ToLower(opts.Format)
		}
		if opts.Timeout != 0 {
			o.Timeout = opts.Timeout
		}
		if opts.MaxBadFrames != 0 {
			o.MaxBadFrames = opts.MaxBadFrames
		}
		o.Logger = opts.Logger
	}
	if o.Width <= 0 || o.Height <= 0 {
		return nil, fmt.Errorf("uvc: wanted size %dx%d is not positive", o.Width, o.Height)
	}
	if o.Timeout < 0 || o.MaxBadFrames < 0 {
		return nil, fmt.Errorf("uvc: Timeout %v and MaxBadFrames %d must not be negative", o.Timeout, o.MaxBadFrames)
	}
	c := &Camera{src: src, opts: *o, log: o.Logger}
	if c.log == nil {
		c.log = zap.NewNop()
	}
	formats, err := src.Formats()
	if err != nil {
		return nil, fmt.Errorf("uvc: listing the camera's formats: %w", err)
	}
	f, err := ChooseFormat(formats, o.Format)
	if err != nil {
		return nil, err
	}
	size, ok := ChooseSize(formats[f], o.Width, o.Height)
	if !ok {
		return nil, fmt.Errorf("uvc: the camera lists no frame size for %s: %w", f, ErrNoFormat)
	}
	if f == YUYV && size.X%2 != 0 {
		return nil, fmt.Errorf("uvc: YUYV size %dx%d has an odd width: %w", size.X, size.Y, ErrNoFormat)
	}
	c.format, c.size = f, size
	if err := c.start(); err != nil {
		return nil, err
	}
	c.log.Info("uvc streaming", zap.Stringer("format", f), zap.Int("width", size.X), zap.Int("height", size.Y))
	return c, nil
}

func (c *Camera) start() error {
	if err := c.src.Start(c.format, c.size.X, c.size.Y); err != nil {
		return fmt.Errorf("uvc: starting %s %dx%d: %w", c.format, c.size.X, c.size.Y, err)
	}
	c.running = true
	return nil
}

// ChooseFormat picks the pixel format: want is "auto" (MJPEG, whose frames
// fit USB 2.0 bandwidth at large sizes, else YUYV), "mjpeg" or "yuyv".
func ChooseFormat(formats map[PixelFormat][]FrameSize, want string) (PixelFormat, error) {
	var order []PixelFormat
	switch want {
	case "", "auto":
		order = []PixelFormat{MJPEG, YUYV}
	case "mjpeg":
		order = []PixelFormat{MJPEG}
	case "yuyv":
		order = []PixelFormat{YUYV}
	default:
		return 0, fmt.Errorf("uvc: format %q is not auto, mjpeg or yuyv", want)
	}
	for _, f := range order {
		if _, ok := formats[f]; ok {
			return f, nil
		}
	}
	offered := make([]string, 0, len(formats))
	for f := range formats {
		offered = append(offered, f.String())
	}
	sort.Strings(offered)
	return 0, fmt.Errorf("uvc: the camera offers %s, not %s (this driver decodes MJPEG and YUYV): %w",
		strings.Join(offered, ", "), formatNames(order), ErrNoFormat)
}

func formatNames(fs []PixelFormat) string {
	s := make([]string, len(fs))
	for i, f := range fs {
		s[i] = f.String()
	}
	return strings.Join(s, " or ")
}

// ChooseSize picks, among sizes, the smallest (by area) that covers w x h;
// when none does, the largest. A stepwise range offers the covering size
// on its grid nearest to w x h.
func ChooseSize(sizes []FrameSize, w, h int) (image.Point, bool) {
	var best image.Point
	bestCovers, found := false, false
	for _, s := range sizes {
		c, ok := candidate(s, w, h)
		if !ok {
			continue
		}
		covers := c.X >= w && c.Y >= h
		area, bestArea := int64(c.X)*int64(c.Y), int64(best.X)*int64(best.Y)
		switch {
		case !found,
			covers && !bestCovers,
			covers && bestCovers && area < bestArea,
			!covers && !bestCovers && area > bestArea:
			best, bestCovers, found = c, covers, true
		}
	}
	return best, found
}

// candidate is the size of s nearest to covering w x h.
func candidate(s FrameSize, w, h int) (image.Point, bool) {
	if s.MaxW <= 0 || s.MaxH <= 0 || s.MinW > s.MaxW || s.MinH > s.MaxH {
		return image.Point{}, false
	}
	return image.Pt(onGrid(s.MinW, s.MaxW, s.StepW, w), onGrid(s.MinH, s.MaxH, s.StepH, h)), true
}

// onGrid is the smallest value of min + k*step (k >= 0) not below v,
// clamped to [min, max]; a zero step means the range is the single value
// max.
func onGrid(lo, hi, step, v int) int {
	if step <= 0 {
		return hi
	}
	if v <= lo {
		return lo
	}
	k := (v - lo + step - 1) / step
	return min(lo+k*step, lo+(hi-lo)/step*step)
}

// Format returns the pixel format and size being streamed.
func (c *Camera) Format() (PixelFormat, image.Point) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.format, c.size
}

// ReadFrame returns the next raw frame. After the source reported ErrGone
// it restarts the stream first.
func (c *Camera) ReadFrame(ctx context.Context) (Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, err := c.next(ctx)
	if err != nil {
		return Frame{}, err
	}
	return Frame{Format: c.format, Size: c.size, Data: data}, nil
}

func (c *Camera) next(ctx context.Context) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if c.closed {
		return nil, errors.New("uvc: camera is closed")
	}
	if !c.running {
		c.restarts++
		c.log.Info("uvc restarting the stream", zap.Int("restarts", c.restarts))
		if err := c.start(); err != nil {
			return nil, err
		}
	}
	timeout := c.opts.Timeout
	if dl, ok := ctx.Deadline(); ok {
		timeout = min(timeout, time.Until(dl))
	}
	data, err := c.src.Frame(timeout)
	if err != nil {
		if errors.Is(err, ErrGone) {
			c.running = false
			_ = c.src.Stop()
			return nil, fmt.Errorf("uvc: camera went away (unplugged or reset; the stream restarts on the next read): %w", err)
		}
		if errors.Is(err, ErrTimeout) {
			return nil, fmt.Errorf("uvc: no %s frame within %s (camera stalled, or a USB bandwidth problem: try a smaller size or MJPEG): %w", c.format, timeout, err)
		}
		return nil, fmt.Errorf("uvc: reading a frame: %w", err)
	}
	return data, nil
}

// Capture returns the next frame that decodes, skipping up to
// Options.MaxBadFrames broken ones.
func (c *Camera) Capture(ctx context.Context) (image.Image, error) {
	img, _, err := c.CaptureFrame(ctx)
	return img, err
}

// CaptureFrame is Capture that also returns the raw frame the image was
// decoded from (for MJPEG, CompleteMJPEG turns its Data into a standalone
// JPEG without re-encoding).
func (c *Camera) CaptureFrame(ctx context.Context) (image.Image, Frame, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var last error
	for bad := 0; bad <= c.opts.MaxBadFrames; bad++ {
		data, err := c.next(ctx)
		if err != nil {
			return nil, Frame{}, err
		}
		img, err := Decode(c.format, data, c.size.X, c.size.Y)
		if err == nil {
			if b := img.Bounds(); c.format == MJPEG && (b.Dx() != c.size.X || b.Dy() != c.size.Y) {
				c.log.Debug("uvc frame size differs from the stream's", zap.Int("width", b.Dx()), zap.Int("height", b.Dy()))
			}
			return img, Frame{Format: c.format, Size: c.size, Data: data}, nil
		}
		last = err
		c.log.Debug("uvc skipping a bad frame", zap.Error(err))
	}
	return nil, Frame{}, fmt.Errorf("uvc: %d bad frames in a row, the last: %w", c.opts.MaxBadFrames+1, last)
}

// Close stops streaming. It does not close the FrameSource.
func (c *Camera) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	if !c.running {
		return nil
	}
	c.running = false
	if err := c.src.Stop(); err != nil {
		return fmt.Errorf("uvc: stopping the stream: %w", err)
	}
	return nil
}
