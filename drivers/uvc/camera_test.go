package uvc_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/uvc"
)

// call is one expected FrameSource call and its scripted answer.
type call struct {
	op   string // Formats, Start, Frame, Stop
	f    uvc.PixelFormat
	w, h int
	data []byte
	err  error
}

// playback is a FrameSource that checks each call against a script, as
// periph's conntest.Playback does for buses; Close reports calls that
// never came.
type playback struct {
	t       *testing.T
	formats map[uvc.PixelFormat][]uvc.FrameSize
	script  []call
	n       int
}

func (p *playback) take(op string) call {
	p.t.Helper()
	if p.n >= len(p.script) {
		p.t.Fatalf("unexpected %s (script done after %d calls)", op, p.n)
	}
	c := p.script[p.n]
	if c.op != op {
		p.t.Fatalf("call #%d is %s, script wants %s", p.n, op, c.op)
	}
	p.n++
	return c
}

func (p *playback) Formats() (map[uvc.PixelFormat][]uvc.FrameSize, error) {
	c := p.take("Formats")
	return p.formats, c.err
}

func (p *playback) Start(f uvc.PixelFormat, w, h int) error {
	c := p.take("Start")
	if f != c.f || w != c.w || h != c.h {
		p.t.Fatalf("Start(%s, %d, %d), script wants Start(%s, %d, %d)", f, w, h, c.f, c.w, c.h)
	}
	return c.err
}

func (p *playback) Frame(timeout time.Duration) ([]byte, error) {
	c := p.take("Frame")
	if timeout <= 0 {
		p.t.Fatalf("Frame(%v): want a positive timeout", timeout)
	}
	return c.data, c.err
}

func (p *playback) Stop() error { return p.take("Stop").err }

func (p *playback) Close() error {
	if p.n != len(p.script) {
		return fmt.Errorf("playback: %d of %d scripted calls happened; next: %s", p.n, len(p.script), p.script[p.n].op)
	}
	return nil
}

var usual = map[uvc.PixelFormat][]uvc.FrameSize{
	uvc.MJPEG: {uvc.Discrete(640, 480), uvc.Discrete(1280, 720), uvc.Discrete(1920, 1080)},
	uvc.YUYV:  {uvc.Discrete(640, 480), uvc.Discrete(320, 240)},
}

func TestNewChoosesFormatAndSize(t *testing.T) {
	tests := []struct {
		name    string
		formats map[uvc.PixelFormat][]uvc.FrameSize
		opts    *uvc.Options
		f       uvc.PixelFormat
		w, h    int
	}{
		{"MJPEG preferred, default 1280x720", usual, nil, uvc.MJPEG, 1280, 720},
		{"smallest covering size", usual, &uvc.Options{Width: 800, Height: 600}, uvc.MJPEG, 1280, 720},
		{"largest when none covers", usual, &uvc.Options{Width: 4000, Height: 3000}, uvc.MJPEG, 1920, 1080},
		{"YUYV asked for", usual, &uvc.Options{Format: "YUYV", Width: 320, Height: 240}, uvc.YUYV, 320, 240},
		{"YUYV fallback", map[uvc.PixelFormat][]uvc.FrameSize{uvc.YUYV: {uvc.Discrete(640, 480)}}, nil, uvc.YUYV, 640, 480},
		{"stepwise sizes", map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {{MinW: 160, MaxW: 1600, StepW: 16, MinH: 120, MaxH: 1200, StepH: 8}}},
			&uvc.Options{Width: 1000, Height: 700}, uvc.MJPEG, 1008, 704},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &playback{t: t, formats: tt.formats, script: []call{{op: "Formats"}, {op: "Start", f: tt.f, w: tt.w, h: tt.h}, {op: "Stop"}}}
			cam, err := uvc.New(p, tt.opts)
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if f, size := cam.Format(); f != tt.f || size != image.Pt(tt.w, tt.h) {
				t.Errorf("Format() = %s %v, want %s %dx%d", f, size, tt.f, tt.w, tt.h)
			}
			if err := cam.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestNewErrors(t *testing.T) {
	nv12 := map[uvc.PixelFormat][]uvc.FrameSize{uvc.FourCC('N', 'V', '1', '2'): {uvc.Discrete(640, 480)}}
	tests := []struct {
		name    string
		formats map[uvc.PixelFormat][]uvc.FrameSize
		script  []call
		opts    *uvc.Options
		wantErr error
		wantMsg string
	}{
		{"no usable format", nv12, []call{{op: "Formats"}}, nil, uvc.ErrNoFormat, "offers NV12, not MJPG or YUYV"},
		{"YUYV not offered", map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {uvc.Discrete(640, 480)}}, []call{{op: "Formats"}}, &uvc.Options{Format: "yuyv"}, uvc.ErrNoFormat, "not YUYV"},
		{"no sizes", map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: nil}, []call{{op: "Formats"}}, nil, uvc.ErrNoFormat, "no frame size"},
		{"listing fails", nil, []call{{op: "Formats", err: uvc.ErrGone}}, nil, uvc.ErrGone, "listing the camera's formats"},
		{"start fails", usual, []call{{op: "Formats"}, {op: "Start", f: uvc.MJPEG, w: 1280, h: 720, err: errors.New("EBUSY")}}, nil, nil, "starting MJPG 1280x720"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &playback{t: t, formats: tt.formats, script: tt.script}
			_, err := uvc.New(p, tt.opts)
			if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("New = %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
			}
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
	}
	for _, o := range []*uvc.Options{{Format: "h264"}, {Width: -1}, {Timeout: -time.Second}} {
		p := &playback{t: t, formats: usual, script: []call{{op: "Formats"}}}
		if _, err := uvc.New(p, o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
	if _, err := uvc.New(nil, nil); err == nil {
		t.Error("New(nil) = nil error")
	}
}

func TestCapture(t *testing.T) {
	mjpeg := readFixture(t, "astronaut-320x240.mjpeg")
	yuyv := readFixture(t, "astronaut-320x240.yuyv")
	small := map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {uvc.Discrete(320, 240)}, uvc.YUYV: {uvc.Discrete(320, 240)}}
	start := func(f uvc.PixelFormat) []call {
		return []call{{op: "Formats"}, {op: "Start", f: f, w: 320, h: 240}}
	}
	tests := []struct {
		name    string
		format  string
		script  []call // after start
		wantErr error
		wantMsg string
	}{
		{"MJPEG frame", "mjpeg", []call{{op: "Frame", data: mjpeg}}, nil, ""},
		{"YUYV frame", "yuyv", []call{{op: "Frame", data: yuyv}}, nil, ""},
		{"two bad frames skipped", "mjpeg", []call{{op: "Frame", data: mjpeg[:100]}, {op: "Frame", data: []byte{1}}, {op: "Frame", data: mjpeg}}, nil, ""},
		{"too many bad frames", "yuyv", []call{{op: "Frame", data: yuyv[:10]}, {op: "Frame", data: yuyv[:10]}, {op: "Frame", data: yuyv[:10]}}, uvc.ErrBadFrame, "3 bad frames in a row"},
		{"timeout", "mjpeg", []call{{op: "Frame", err: fmt.Errorf("sim: %w", uvc.ErrTimeout)}}, uvc.ErrTimeout, "no MJPG frame within 2s"},
		{"other frame error", "mjpeg", []call{{op: "Frame", err: errors.New("EIO")}}, nil, "reading a frame: EIO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := uvc.MJPEG
			if tt.format == "yuyv" {
				f = uvc.YUYV
			}
			script := append(start(f), tt.script...)
			script = append(script, call{op: "Stop"})
			p := &playback{t: t, formats: small, script: script}
			cam, err := uvc.New(p, &uvc.Options{Format: tt.format, Width: 320, Height: 240, MaxBadFrames: 2})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			img, frame, err := cam.CaptureFrame(context.Background())
			if tt.wantMsg == "" {
				if err != nil {
					t.Fatalf("CaptureFrame = %v", err)
				}
				if frame.Format != f || frame.Size != image.Pt(320, 240) || len(frame.Data) == 0 {
					t.Errorf("CaptureFrame frame = %s %v %d bytes", frame.Format, frame.Size, len(frame.Data))
				}
				if p := psnr(t, img, referenceImage(t)); p < 30 {
					t.Errorf("captured image PSNR %.1f dB, want >= 30", p)
				}
			} else if err == nil || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Capture = %v, want %v saying %q", err, tt.wantErr, tt.wantMsg)
			}
			if err := cam.Close(); err != nil {
				t.Errorf("Close = %v", err)
			}
			if err := p.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

// A camera that goes away is stopped; the next read starts the stream
// again (the V4L2 Device reopens itself in Start).
func TestCaptureRestartsAfterGone(t *testing.T) {
	mjpeg := readFixture(t, "astronaut-320x240.mjpeg")
	small := map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {uvc.Discrete(320, 240)}}
	p := &playback{t: t, formats: small, script: []call{
		{op: "Formats"}, {op: "Start", f: uvc.MJPEG, w: 320, h: 240},
		{op: "Frame", err: fmt.Errorf("ENODEV: %w", uvc.ErrGone)}, {op: "Stop"},
		{op: "Start", f: uvc.MJPEG, w: 320, h: 240, err: fmt.Errorf("still unplugged: %w", uvc.ErrGone)},
		{op: "Start", f: uvc.MJPEG, w: 320, h: 240}, {op: "Frame", data: mjpeg},
		{op: "Stop"},
	}}
	cam, err := uvc.New(p, &uvc.Options{Width: 320, Height: 240})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	ctx := context.Background()
	if _, err := cam.Capture(ctx); !errors.Is(err, uvc.ErrGone) || !strings.Contains(err.Error(), "restarts on the next read") {
		t.Fatalf("Capture = %v, want ErrGone", err)
	}
	if _, err := cam.Capture(ctx); !errors.Is(err, uvc.ErrGone) {
		t.Fatalf("Capture while unplugged = %v, want ErrGone", err)
	}
	frame, err := cam.ReadFrame(ctx)
	if err != nil || frame.Format != uvc.MJPEG || frame.Size != image.Pt(320, 240) || len(frame.Data) != len(mjpeg) {
		t.Fatalf("ReadFrame after the camera came back = %+v, %v", frame.Size, err)
	}
	if err := cam.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if _, err := cam.Capture(ctx); err == nil || !strings.Contains(err.Error(), "closed") {
		t.Errorf("Capture after Close = %v, want a closed error", err)
	}
	if err := cam.Close(); err != nil {
		t.Errorf("second Close = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

func TestCaptureCancelled(t *testing.T) {
	p := &playback{t: t, formats: usual, script: []call{{op: "Formats"}, {op: "Start", f: uvc.MJPEG, w: 1280, h: 720}}}
	cam, err := uvc.New(p, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := cam.Capture(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Capture(cancelled) = %v", err)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}
}

func TestChooseSize(t *testing.T) {
	tests := []struct {
		name  string
		sizes []uvc.FrameSize
		w, h  int
		want  image.Point
		ok    bool
	}{
		{"none", nil, 640, 480, image.Point{}, false},
		{"invalid only", []uvc.FrameSize{{MinW: 10, MaxW: 5, MaxH: 5}}, 640, 480, image.Point{}, false},
		{"exact", []uvc.FrameSize{uvc.Discrete(640, 480), uvc.Discrete(320, 240)}, 640, 480, image.Pt(640, 480), true},
		{"covers width and height", []uvc.FrameSize{uvc.Discrete(1280, 720), uvc.Discrete(1024, 768)}, 1000, 750, image.Pt(1024, 768), true},
		{"step below minimum", []uvc.FrameSize{{MinW: 160, MaxW: 640, StepW: 32, MinH: 120, MaxH: 480, StepH: 24}}, 10, 10, image.Pt(160, 120), true},
		{"step above maximum", []uvc.FrameSize{{MinW: 160, MaxW: 650, StepW: 32, MinH: 120, MaxH: 480, StepH: 24}}, 9999, 9999, image.Pt(640, 480), true},
	}
	for _, tt := range tests {
		got, ok := uvc.ChooseSize(tt.sizes, tt.w, tt.h)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%s: ChooseSize = %v, %v; want %v, %v", tt.name, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPixelFormatString(t *testing.T) {
	if got := uvc.MJPEG.String(); got != "MJPG" {
		t.Errorf("MJPEG.String() = %q", got)
	}
	if got := uvc.PixelFormat(1).String(); got != "0x00000001" {
		t.Errorf("PixelFormat(1).String() = %q", got)
	}
	if got := (uvc.FrameSize{MinW: 1, MaxW: 9, StepW: 2, MinH: 1, MaxH: 9, StepH: 2}).String(); got != "[1-9;2]x[1-9;2]" {
		t.Errorf("FrameSize.String() = %q", got)
	}
}
