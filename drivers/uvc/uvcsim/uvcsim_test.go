package uvcsim_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/uvc"
	"github.com/bali-rbdes/kiosk/drivers/uvc/uvcsim"
)

type portrait struct{}

var portraitImage = sync.OnceValue(func() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for y := range 480 {
		for x := range 640 {
			c := color.RGBA{uint8(x / 3), 160, uint8(y / 2), 255}
			if dx, dy := x-320, y-220; dx*dx+dy*dy < 120*120 {
				c = color.RGBA{190, 140, 110, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
})

func (portrait) Scene() (image.Image, error) { return portraitImage(), nil }

func newCamera(t *testing.T, simOpts *uvcsim.Options, camOpts *uvc.Options) (*uvcsim.Sim, *uvc.Camera, *drvtime.Virtual) {
	t.Helper()
	clk := drvtime.NewVirtual(time.Time{})
	if simOpts == nil {
		simOpts = &uvcsim.Options{}
	}
	simOpts.Clock = clk
	sim, err := uvcsim.New(portrait{}, simOpts)
	if err != nil {
		t.Fatalf("uvcsim.New = %v", err)
	}
	cam, err := uvc.New(sim, camOpts)
	if err != nil {
		t.Fatalf("uvc.New(sim) = %v", err)
	}
	t.Cleanup(func() { _ = cam.Close() })
	return sim, cam, clk
}

func psnr(a, b image.Image) float64 {
	var se float64
	n := 0
	bb := a.Bounds()
	for y := bb.Min.Y; y < bb.Max.Y; y += 2 {
		for x := bb.Min.X; x < bb.Max.X; x += 2 {
			r1, g1, b1, _ := a.At(x, y).RGBA()
			r2, g2, b2, _ := b.At(x, y).RGBA()
			for _, d := range []float64{float64(r1>>8) - float64(r2>>8), float64(g1>>8) - float64(g2>>8), float64(b1>>8) - float64(b2>>8)} {
				se += d * d
				n++
			}
		}
	}
	if se == 0 {
		return math.Inf(1)
	}
	return 10 * math.Log10(255*255/(se/float64(n)))
}

func TestFormatsAndSizes(t *testing.T) {
	tests := []struct {
		name string
		opts *uvc.Options
		f    uvc.PixelFormat
		w, h int
	}{
		{"MJPEG 720p", &uvc.Options{Width: 1280, Height: 720}, uvc.MJPEG, 1280, 720},
		{"MJPEG VGA", &uvc.Options{Width: 640, Height: 480}, uvc.MJPEG, 640, 480},
		{"YUYV VGA", &uvc.Options{Format: "yuyv", Width: 640, Height: 480}, uvc.YUYV, 640, 480},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if testing.Short() && tt.w > 640 {
				t.Skip("720p encode and decode are slow under qemu; run without -short")
			}
			sim, cam, clk := newCamera(t, nil, tt.opts)
			if f, size := cam.Format(); f != tt.f || size != image.Pt(tt.w, tt.h) {
				t.Fatalf("Format() = %s %v, want %s %dx%d", f, size, tt.f, tt.w, tt.h)
			}
			start := clk.Now()
			img, err := cam.Capture(context.Background())
			if err != nil {
				t.Fatalf("Capture = %v", err)
			}
			if img.Bounds().Size() != image.Pt(tt.w, tt.h) {
				t.Errorf("image is %v", img.Bounds().Size())
			}
			if p := psnr(img, sim.LastScene()); p < 30 {
				t.Errorf("PSNR against the scene %.1f dB, want >= 30", p)
			}
			if took := clk.Now().Sub(start); took != 33*time.Millisecond {
				t.Errorf("first frame took %v of camera time, want one 33 ms interval", took)
			}
		})
	}
}

func TestWarmupFramesAreSkipped(t *testing.T) {
	sim, cam, _ := newCamera(t, &uvcsim.Options{WarmupBadFrames: 3, Formats: map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {uvc.Discrete(320, 240)}}}, &uvc.Options{Width: 320, Height: 240})
	if _, err := cam.Capture(context.Background()); err != nil {
		t.Fatalf("Capture = %v", err)
	}
	if frames, _ := sim.Stats(); frames != 4 {
		t.Errorf("camera served %d frames, want 3 broken + 1 good", frames)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault   uvcsim.Fault
		wantErr error // nil: Capture still succeeds by skipping the bad frame
	}{
		{uvcsim.Slow, uvc.ErrTimeout},
		{uvcsim.Vanish, uvc.ErrGone},
		{uvcsim.BadFrame, nil},
		{uvcsim.Garbled, nil},
	}
	for _, tt := range tests {
		for _, format := range []string{"mjpeg", "yuyv"} {
			t.Run(string(tt.fault)+"/"+format, func(t *testing.T) {
				small := map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {uvc.Discrete(320, 240)}, uvc.YUYV: {uvc.Discrete(320, 240)}}
				sim, cam, clk := newCamera(t, &uvcsim.Options{VanishFor: time.Second, Formats: small}, &uvc.Options{Format: format, Width: 320, Height: 240, MaxBadFrames: 1})
				ctx := context.Background()
				if err := sim.Inject(tt.fault); err != nil {
					t.Fatal(err)
				}
				_, err := cam.Capture(ctx)
				if tt.wantErr != nil && !errors.Is(err, tt.wantErr) {
					t.Fatalf("Capture after %s = %v, want %v", tt.fault, err, tt.wantErr)
				}
				if tt.wantErr == nil && err != nil && tt.fault == uvcsim.BadFrame {
					t.Fatalf("Capture after %s = %v, want the bad frame skipped", tt.fault, err)
				}
				if tt.fault == uvcsim.Vanish {
					if _, err := cam.Capture(ctx); !errors.Is(err, uvc.ErrGone) {
						t.Fatalf("Capture while unplugged = %v, want ErrGone", err)
					}
					clk.Advance(time.Second)
				}
				img, err := cam.Capture(ctx)
				if err != nil {
					t.Fatalf("Capture after recovering from %s = %v", tt.fault, err)
				}
				if p := psnr(img, sim.LastScene()); p < 30 {
					t.Errorf("recovered frame PSNR %.1f dB", p)
				}
			})
		}
	}
}

func TestRandomFaultsAreRepeatable(t *testing.T) {
	run := func() (out []string) {
		rates, once, err := uvcsim.ParseFaults("bad-frame=0.4, slow=0.2")
		if err != nil || len(once) != 0 {
			t.Fatal(once, err)
		}
		_, cam, _ := newCamera(t, &uvcsim.Options{Faults: rates, Seed: 9, Formats: map[uvc.PixelFormat][]uvc.FrameSize{uvc.MJPEG: {uvc.Discrete(160, 120)}}},
			&uvc.Options{Width: 160, Height: 120, MaxBadFrames: 1})
		for range 15 {
			_, err := cam.Capture(context.Background())
			s := ""
			if err != nil {
				s = err.Error()
			}
			out = append(out, s)
		}
		return out
	}
	a, b := run(), run()
	fails := 0
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("capture %d: %q then %q with the same seed", i, a[i], b[i])
		}
		if a[i] != "" {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Errorf("%d of %d captures failed, want some but not all", fails, len(a))
	}
}

func TestSourceContract(t *testing.T) {
	clk := drvtime.NewVirtual(time.Time{})
	sim, err := uvcsim.New(portrait{}, &uvcsim.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Frame(time.Second); !errors.Is(err, uvc.ErrGone) {
		t.Errorf("Frame before Start = %v, want ErrGone", err)
	}
	if err := sim.Start(uvc.MJPEG, 800, 600); err == nil {
		t.Error("Start at an unlisted size = nil error")
	}
	if err := sim.Start(uvc.FourCC('H', '2', '6', '4'), 640, 480); !errors.Is(err, uvc.ErrNoFormat) {
		t.Errorf("Start(H264) = %v, want ErrNoFormat", err)
	}
	if err := sim.Start(uvc.MJPEG, 640, 480); err != nil {
		t.Fatal(err)
	}
	if err := sim.Start(uvc.MJPEG, 640, 480); err == nil {
		t.Error("second Start while streaming = nil error")
	}
	if _, err := sim.Frame(10 * time.Millisecond); !errors.Is(err, uvc.ErrTimeout) {
		t.Errorf("Frame(10ms) with a 33 ms interval = %v, want ErrTimeout", err)
	}
	if err := sim.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, o := range []*uvcsim.Options{
		{Quality: 101},
		{Formats: map[uvc.PixelFormat][]uvc.FrameSize{uvc.FourCC('N', 'V', '1', '2'): {uvc.Discrete(8, 8)}}},
		{Faults: map[uvcsim.Fault]float64{"melted": 1}},
	} {
		if _, err := uvcsim.New(portrait{}, o); err == nil {
			t.Errorf("New(%+v) = nil error", o)
		}
	}
	// No source: the built-in scene.
	builtin, err := uvcsim.New(nil, &uvcsim.Options{Clock: drvtime.NewVirtual(time.Time{})})
	if err != nil {
		t.Fatal(err)
	}
	bcam, err := uvc.New(builtin, &uvc.Options{Width: 640, Height: 480, Format: "yuyv"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bcam.Capture(context.Background()); err != nil {
		t.Errorf("Capture of the built-in scene = %v", err)
	}
	_ = bcam.Close()
	if err := sim.Inject("melted"); err == nil {
		t.Error(`Inject("melted") = nil error`)
	}
	if _, _, err := uvcsim.ParseFaults("slow=x"); err == nil {
		t.Error(`ParseFaults("slow=x") = nil error`)
	}
	if _, err := uvcsim.StripDHT([]byte{1, 2, 3}); err == nil {
		t.Error("StripDHT(garbage) = nil error")
	}
}
