// Package uvcsim simulates a USB Video Class camera as a uvc.FrameSource:
// it lists MJPEG and YUYV formats with their sizes, streams frames at a
// frame interval on its clock, and encodes each frame the way UVC cameras
// do: MJPEG without Huffman tables, YUYV packed 4:2:2. Scenes come from a
// Scenes source (a face photo from a file, in the demo), scaled to the
// stream's size.
//
// Faults (a stalled frame, broken frames after start-up or at random,
// garbled bytes, a camera that is unplugged and comes back) strike when
// injected or at configured rates. The simulator runs no goroutine.
package uvcsim

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/internal/jpegseg"
	"github.com/bali-rbdes/kiosk/drivers/internal/simfault"
	"github.com/bali-rbdes/kiosk/drivers/internal/simimage"
	"github.com/bali-rbdes/kiosk/drivers/uvc"
)

// Scenes supplies what the simulated camera sees.
type Scenes interface {
	// Scene returns the view in front of the camera now; an error gives a
	// grey frame.
	Scene() (image.Image, error)
}

// Fault is a fault the simulator can inject.
type Fault string

// Faults.
const (
	// Slow: the next frame does not come within the caller's timeout.
	Slow Fault = "slow"
	// BadFrame: the next frame is cut short (MJPEG without its end, YUYV
	// missing rows).
	BadFrame Fault = "bad-frame"
	// Garbled: a run of bytes in the middle of the next frame is noise.
	Garbled Fault = "garbled"
	// Vanish: the camera is unplugged at the next frame and comes back
	// after Options.VanishFor; meanwhile frames and Start fail with
	// uvc.ErrGone.
	Vanish Fault = "vanish"
)

// AllFaults lists every fault.
var AllFaults = []Fault{Slow, BadFrame, Garbled, Vanish}

func faultNames() []string {
	names := make([]string, len(AllFaults))
	for i, f := range AllFaults {
		names[i] = string(f)
	}
	return names
}

// ParseFaults reads a faults option such as "garbled, slow=0.01": a bare
// name is injected once (Options.Inject), name=rate strikes at random with
// that probability at each opportunity (Options.Faults).
func ParseFaults(spec string) (rates map[Fault]float64, once []Fault, err error) {
	s, err := simfault.Parse(spec, faultNames())
	if err != nil {
		return nil, nil, fmt.Errorf("uvcsim: %w", err)
	}
	rates = make(map[Fault]float64, len(s.Rates))
	for k, v := range s.Rates {
		rates[Fault(k)] = v
	}
	for _, name := range s.Once {
		once = append(once, Fault(name))
	}
	return rates, once, nil
}

// Clock is the simulator's time source; agent/clock.Clock satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure a Sim; zero fields take the defaults of DefaultOptions.
type Options struct {
	// Formats are the formats and sizes the camera lists. Default: MJPEG
	// at 640x480, 1280x720 and 1920x1080; YUYV at 640x480 and 1280x720.
	Formats map[uvc.PixelFormat][]uvc.FrameSize
	// FrameInterval is the time between frames; default 33 ms.
	FrameInterval time.Duration
	// WarmupBadFrames is how many broken frames follow each Start, as
	// real cameras send; default 0.
	WarmupBadFrames int
	// Quality is the MJPEG quality (1-100); default 85.
	Quality int
	// KeepDHT keeps the Huffman tables in MJPEG frames; by default they
	// are stripped, as UVC cameras send them.
	KeepDHT bool
	// VanishFor is how long a Vanish fault lasts; default 2 s.
	VanishFor time.Duration
	// Inject are faults injected once each, in order, from the start.
	Inject []Fault
	// Faults are random fault rates per frame (0 to 1).
	Faults map[Fault]float64
	// Seed seeds the fault source.
	Seed uint64
	// Clock is the simulator's time; nil means the wall clock.
	Clock Clock
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{
		Formats: map[uvc.PixelFormat][]uvc.FrameSize{
			uvc.MJPEG: {uvc.Discrete(640, 480), uvc.Discrete(1280, 720), uvc.Discrete(1920, 1080)},
			uvc.YUYV:  {uvc.Discrete(640, 480), uvc.Discrete(1280, 720)},
		},
		FrameInterval: 33 * time.Millisecond,
		Quality:       85,
		VanishFor:     2 * time.Second,
	}
}

// Sim is a simulated camera; it implements uvc.FrameSource.
type Sim struct {
	opts   Options
	src    Scenes
	clk    Clock
	faults *simfault.Plan

	mu        sync.Mutex
	streaming bool
	format    uvc.PixelFormat
	w, h      int
	next      time.Time
	warmup    int
	gone      time.Time
	last      image.Image
	frames    int
	starts    int
}

// portrait is the built-in scene.
type portrait struct{}

func (portrait) Scene() (image.Image, error) { return builtin(), nil }

var builtin = sync.OnceValue(simimage.Portrait)

// New returns a simulated camera looking at src; a nil src gives a
// built-in head-and-shoulders scene.
func New(src Scenes, opts *Options) (*Sim, error) {
	if src == nil {
		src = portrait{}
	}
	o := DefaultOptions()
	if opts != nil {
		if len(opts.Formats) > 0 {
			o.Formats = opts.Formats
		}
		if opts.FrameInterval != 0 {
			o.FrameInterval = opts.FrameInterval
		}
		if opts.Quality != 0 {
			o.Quality = opts.Quality
		}
		if opts.VanishFor != 0 {
			o.VanishFor = opts.VanishFor
		}
		o.WarmupBadFrames, o.KeepDHT = opts.WarmupBadFrames, opts.KeepDHT
		o.Faults, o.Inject, o.Seed, o.Clock = opts.Faults, opts.Inject, opts.Seed, opts.Clock
	}
	if o.Quality < 1 || o.Quality > 100 {
		return nil, fmt.Errorf("uvcsim: quality %d is outside 1-100", o.Quality)
	}
	for f := range o.Formats {
		if f != uvc.MJPEG && f != uvc.YUYV {
			return nil, fmt.Errorf("uvcsim: cannot produce pixel format %s (MJPEG and YUYV only)", f)
		}
	}
	rates := make(map[string]float64, len(o.Faults))
	for f, r := range o.Faults {
		rates[string(f)] = r
	}
	plan, err := simfault.New(faultNames(), rates, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("uvcsim: %w", err)
	}
	for _, f := range o.Inject {
		if err := plan.Inject(string(f)); err != nil {
			return nil, fmt.Errorf("uvcsim: %w", err)
		}
	}
	return &Sim{opts: *o, src: src, clk: drvtime.Or(o.Clock), faults: plan}, nil
}

// Inject makes fault f strike at its next opportunity.
func (s *Sim) Inject(f Fault) error {
	if err := s.faults.Inject(string(f)); err != nil {
		return fmt.Errorf("uvcsim: %w", err)
	}
	return nil
}

// LastScene returns the scene of the last frame, scaled to the stream's
// size, before encoding; nil before the first frame.
func (s *Sim) LastScene() image.Image {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

// Stats returns how many frames were served and how many times streaming
// started.
func (s *Sim) Stats() (frames, starts int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frames, s.starts
}

// here reports whether the camera is plugged in at now.
func (s *Sim) here(now time.Time) bool {
	if s.gone.IsZero() {
		return true
	}
	if now.Before(s.gone) {
		return false
	}
	s.gone = time.Time{}
	return true
}

// Formats implements uvc.FrameSource.
func (s *Sim) Formats() (map[uvc.PixelFormat][]uvc.FrameSize, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.here(s.clk.Now()) {
		return nil, fmt.Errorf("uvcsim: camera unplugged: %w", uvc.ErrGone)
	}
	out := make(map[uvc.PixelFormat][]uvc.FrameSize, len(s.opts.Formats))
	for f, sizes := range s.opts.Formats {
		out[f] = append([]uvc.FrameSize(nil), sizes...)
	}
	return out, nil
}

// Start implements uvc.FrameSource.
func (s *Sim) Start(f uvc.PixelFormat, w, h int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clk.Now()
	if !s.here(now) {
		return fmt.Errorf("uvcsim: camera unplugged: %w", uvc.ErrGone)
	}
	if s.streaming {
		return errors.New("uvcsim: already streaming (VIDIOC_S_FMT fails with EBUSY)")
	}
	sizes, ok := s.opts.Formats[f]
	if !ok {
		return fmt.Errorf("uvcsim: format %s is not offered: %w", f, uvc.ErrNoFormat)
	}
	listed := false
	for _, sz := range sizes {
		if w >= sz.MinW && w <= sz.MaxW && h >= sz.MinH && h <= sz.MaxH &&
			(sz.StepW == 0 || (w-sz.MinW)%sz.StepW == 0) && (sz.StepH == 0 || (h-sz.MinH)%sz.StepH == 0) {
			listed = true
		}
	}
	if !listed {
		return fmt.Errorf("uvcsim: %dx%d is not a listed %s size", w, h, f)
	}
	s.streaming, s.format, s.w, s.h = true, f, w, h
	s.next = now.Add(s.opts.FrameInterval)
	s.warmup = s.opts.WarmupBadFrames
	s.starts++
	return nil
}

// Stop implements uvc.FrameSource.
func (s *Sim) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.streaming = false
	return nil
}

// Frame implements uvc.FrameSource.
func (s *Sim) Frame(timeout time.Duration) ([]byte, error) {
	s.mu.Lock()
	now := s.clk.Now()
	if !s.here(now) {
		s.streaming = false
		s.mu.Unlock()
		return nil, fmt.Errorf("uvcsim: camera unplugged (ENODEV): %w", uvc.ErrGone)
	}
	if !s.streaming {
		s.mu.Unlock()
		return nil, fmt.Errorf("uvcsim: not streaming: %w", uvc.ErrGone)
	}
	if s.faults.Strike(string(Vanish)) {
		s.gone = now.Add(s.opts.VanishFor)
		s.streaming = false
		s.mu.Unlock()
		return nil, fmt.Errorf("uvcsim: camera unplugged (ENODEV): %w", uvc.ErrGone)
	}
	wait := s.next.Sub(now)
	if s.faults.Strike(string(Slow)) {
		s.next = now.Add(timeout + s.opts.FrameInterval)
		s.mu.Unlock()
		_ = s.clk.Sleep(context.Background(), timeout)
		return nil, fmt.Errorf("uvcsim: no frame in %s: %w", timeout, uvc.ErrTimeout)
	}
	if wait > timeout {
		s.mu.Unlock()
		_ = s.clk.Sleep(context.Background(), timeout)
		return nil, fmt.Errorf("uvcsim: no frame in %s: %w", timeout, uvc.ErrTimeout)
	}
	s.next = s.next.Add(s.opts.FrameInterval)
	if !s.next.After(now) {
		s.next = now.Add(s.opts.FrameInterval) // the reader fell behind: frames were dropped
	}
	bad := s.warmup > 0 || s.faults.Strike(string(BadFrame))
	if s.warmup > 0 {
		s.warmup--
	}
	garble := s.faults.Strike(string(Garbled))
	f, w, h := s.format, s.w, s.h
	s.mu.Unlock()

	_ = s.clk.Sleep(context.Background(), wait)
	scene, err := s.src.Scene()
	if err != nil {
		scene = nil
	}
	img := simimage.Cover(scene, w, h)
	var data []byte
	if f == uvc.MJPEG {
		data, err = s.mjpeg(img)
		if err != nil {
			return nil, err
		}
	} else {
		data = simimage.YUYV(img)
	}
	if bad {
		data = data[:len(data)*2/3]
	}
	if garble {
		rng := s.faults.Fork()
		start := len(data) / 3
		for i := start; i < min(len(data), start+len(data)/10+1); i++ {
			data[i] = byte(rng.IntN(256))
		}
	}
	s.mu.Lock()
	s.last = img
	s.frames++
	s.mu.Unlock()
	return data, nil
}

// mjpeg encodes img and, unless KeepDHT, strips its Huffman tables.
func (s *Sim) mjpeg(img image.Image) ([]byte, error) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: s.opts.Quality}); err != nil {
		return nil, fmt.Errorf("uvcsim: encoding a frame: %w", err)
	}
	if s.opts.KeepDHT {
		return b.Bytes(), nil
	}
	return StripDHT(b.Bytes())
}

// StripDHT removes the DHT segments before the first scan of a JPEG, as a
// UVC camera's MJPEG frames come.
func StripDHT(jpg []byte) ([]byte, error) {
	info, err := jpegseg.Find(jpg)
	if err != nil || info.FirstSOS < 0 {
		return nil, fmt.Errorf("uvcsim: stripping Huffman tables: not a JPEG with a scan: %v", err)
	}
	out := append([]byte(nil), jpg[info.Start:info.Start+2]...)
	i := info.Start + 2
	for i < info.FirstSOS {
		n := int(jpg[i+2])<<8 | int(jpg[i+3])
		if jpg[i+1] != jpegseg.DHT {
			out = append(out, jpg[i:i+2+n]...)
		}
		i += 2 + n
	}
	return append(out, jpg[info.FirstSOS:info.End]...), nil
}

var _ uvc.FrameSource = (*Sim)(nil)
