package fpc1020sim_test

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/fpc1020"
	"github.com/bali-rbdes/kiosk/drivers/fpc1020/fpc1020sim"
	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/internal/simimage"
)

// ridges is a finger-like pattern: concentric rings, 9 px apart.
type ridges struct {
	w, h  int
	calls int
	err   error
}

func (r *ridges) Finger() (image.Image, error) {
	r.calls++
	if r.err != nil {
		return nil, r.err
	}
	if r.w == 300 && r.h == 300 {
		return ridges300(), nil
	}
	return drawRidges(r.w, r.h), nil
}

var ridges300 = sync.OnceValue(func() *image.Gray { return drawRidges(300, 300) })

func drawRidges(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	cx, cy := float64(w)/2, float64(h)/2
	for y := range h {
		for x := range w {
			d := math.Hypot(float64(x)-cx, float64(y)-cy)
			g.SetGray(x, y, color.Gray{uint8(128 + 100*math.Sin(d*2*math.Pi/9))})
		}
	}
	return g
}

type bench struct {
	sim *fpc1020sim.Sim
	dev *fpc1020.Dev
	clk *drvtime.Virtual
	src *ridges
}

func newBench(t *testing.T, simOpts *fpc1020sim.Options, devOpts *fpc1020.Options) *bench {
	t.Helper()
	clk := drvtime.NewVirtual(time.Time{})
	src := &ridges{w: 300, h: 300}
	if simOpts == nil {
		simOpts = &fpc1020sim.Options{}
	}
	simOpts.Clock = clk
	sim, err := fpc1020sim.New(src, simOpts)
	if err != nil {
		t.Fatalf("fpc1020sim.New = %v", err)
	}
	if devOpts == nil {
		devOpts = &fpc1020.Options{}
	}
	devOpts.Clock = clk
	dev, err := fpc1020.New(sim.Port(), sim.ResetPin(), sim.IRQPin(), devOpts)
	if err != nil {
		t.Fatalf("fpc1020.New(sim) = %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Err(); err != nil {
			t.Errorf("simulator saw a protocol violation: %v", err)
		}
	})
	return &bench{sim: sim, dev: dev, clk: clk, src: src}
}

func (b *bench) capture(t *testing.T) *image.Gray {
	t.Helper()
	if err := b.dev.WaitFinger(context.Background()); err != nil {
		t.Fatalf("WaitFinger = %v", err)
	}
	img, err := b.dev.Capture(context.Background())
	if err != nil {
		t.Fatalf("Capture = %v", err)
	}
	return img
}

func TestCaptureIsBitExact(t *testing.T) {
	tests := []struct {
		name string
		sim  *fpc1020sim.Options
		dev  *fpc1020.Options
		rows int
	}{
		{"full array, chunks from MaxTxSize", nil, nil, 192},
		{"56-row window", &fpc1020sim.Options{Rows: 56}, &fpc1020.Options{Rows: 56}, 56},
		{"chunk option above MaxTxSize", &fpc1020sim.Options{MaxTxSize: 1024}, &fpc1020.Options{Chunk: 8000}, 192},
		{"no transfer limit, one read", &fpc1020sim.Options{MaxTxSize: -1}, &fpc1020.Options{Chunk: 192*192 + 2}, 192},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t, tt.sim, tt.dev)
			start := b.clk.Now()
			got := b.capture(t)
			src, _ := (&ridges{w: 300, h: 300}).Finger()
			want := simimage.GrayCrop(src, 192, tt.rows, 0xFF)
			if got.Bounds() != want.Bounds() || string(got.Pix) != string(want.Pix) {
				t.Fatalf("captured image (%v) differs from the source cropped to the sensor (%v)", got.Bounds(), want.Bounds())
			}
			if served := b.sim.Captured(); string(served.Pix) != string(got.Pix) {
				t.Error("captured image differs from what the simulator served")
			}
			// Finger delay 300 ms + capture 40 ms (+1 ms reset pulse before start).
			if took := b.clk.Now().Sub(start); took != 340*time.Millisecond {
				t.Errorf("WaitFinger+Capture took %v of sensor time, want 340ms", took)
			}
		})
	}
}

func TestFingerPresentFollowsPlacement(t *testing.T) {
	b := newBench(t, nil, nil)
	ctx := context.Background()
	if on, err := b.dev.FingerPresent(ctx); err != nil || on {
		t.Fatalf("FingerPresent before any finger = %v, %v, want false, nil", on, err)
	}
	b.capture(t)
	if on, err := b.dev.FingerPresent(ctx); err != nil || !on {
		t.Fatalf("FingerPresent after placement = %v, %v, want true, nil", on, err)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name       string
		fault      fpc1020sim.Fault
		beforeWait bool  // inject before WaitFinger, else between it and Capture
		wantErr    error // nil: the capture succeeds but differs
	}{
		{"bad frame", fpc1020sim.BadFrame, false, fpc1020.ErrSensor},
		{"stuck MISO", fpc1020sim.StuckMISO, false, fpc1020.ErrBadImage},
		{"slow reply", fpc1020sim.Slow, false, fpc1020.ErrTimeout},
		{"vanishes at capture", fpc1020sim.Vanish, false, fpc1020.ErrTimeout},
		{"vanishes while waiting for a finger", fpc1020sim.Vanish, true, fpc1020.ErrDeviceReset},
		{"garbled", fpc1020sim.Garbled, false, nil},
		{"wet finger", fpc1020sim.WetFinger, false, nil},
		{"dry finger", fpc1020sim.DryFinger, false, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A 1 s outage ends within the driver's 1.3 s reset window, so
			// the very next command succeeds after the re-probe.
			b := newBench(t, &fpc1020sim.Options{Seed: 3, VanishFor: time.Second}, nil)
			clean := b.capture(t)
			inject := func() {
				if err := b.sim.Inject(tt.fault); err != nil {
					t.Fatal(err)
				}
			}
			if tt.beforeWait {
				inject()
			}
			ctx := context.Background()
			var img *image.Gray
			err := b.dev.WaitFinger(ctx)
			if err == nil {
				if !tt.beforeWait {
					inject()
				}
				img, err = b.dev.Capture(ctx)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("after %s: err = %v, want %v", tt.fault, err, tt.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("after %s: err = %v, want an image", tt.fault, err)
				}
				if string(img.Pix) == string(clean.Pix) {
					t.Errorf("after %s: image identical to a clean capture", tt.fault)
				}
				if served := b.sim.Captured(); string(served.Pix) != string(img.Pix) {
					t.Errorf("after %s: driver image differs from what the simulator served", tt.fault)
				}
				switch tt.fault {
				case fpc1020sim.WetFinger:
					if mean(img) >= mean(clean) {
						t.Errorf("wet finger mean %.1f, clean %.1f: want darker", mean(img), mean(clean))
					}
				case fpc1020sim.DryFinger:
					if mean(img) <= mean(clean) {
						t.Errorf("dry finger mean %.1f, clean %.1f: want lighter", mean(img), mean(clean))
					}
				}
			}
			// The next capture succeeds and is clean again.
			again := b.capture(t)
			if string(again.Pix) != string(clean.Pix) {
				t.Errorf("capture after %s is not clean", tt.fault)
			}
		})
	}
}

func TestNoFinger(t *testing.T) {
	for _, tt := range []struct {
		name  string
		setup func(b *bench)
	}{
		{"injected", func(b *bench) { _ = b.sim.Inject(fpc1020sim.NoFinger) }},
		{"source has none", func(b *bench) { b.src.err = errors.New("no more fingers") }},
	} {
		t.Run(tt.name, func(t *testing.T) {
			b := newBench(t, nil, nil)
			tt.setup(b)
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
			defer cancel()
			err := b.dev.WaitFinger(ctx)
			if !errors.Is(err, fpc1020.ErrNoFinger) {
				t.Fatalf("WaitFinger = %v, want ErrNoFinger", err)
			}
			// A capture without a finger reads the empty sensor: near white.
			img, err := b.dev.Capture(context.Background())
			if err != nil {
				t.Fatalf("Capture of the empty sensor = %v", err)
			}
			if m := mean(img); m < 245 {
				t.Errorf("empty sensor mean %.1f, want near 255", m)
			}
			b.src.err = nil
			b.capture(t)
		})
	}
}

func TestRandomFaultsAreRepeatable(t *testing.T) {
	run := func() (errs []string) {
		rates, once, err := fpc1020sim.ParseFaults("bad-frame=0.3,stuck-miso=0.2")
		if err != nil || len(once) != 0 {
			t.Fatal(once, err)
		}
		b := newBench(t, &fpc1020sim.Options{Faults: rates, Seed: 11}, nil)
		for range 20 {
			_, err := b.dev.Capture(context.Background())
			errs = append(errs, errString(err))
		}
		return errs
	}
	a, c := run(), run()
	failures := 0
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("capture %d: %q then %q with the same seed", i, a[i], c[i])
		}
		if a[i] != "" {
			failures++
		}
	}
	if failures == 0 || failures == len(a) {
		t.Errorf("%d of %d captures failed at rates 0.3+0.2, want some but not all", failures, len(a))
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestOptionsAndProtocolChecks(t *testing.T) {
	if _, err := fpc1020sim.New(&ridges{}, &fpc1020sim.Options{Rows: 300}); err == nil {
		t.Error("New with 300 rows = nil error")
	}
	// No source: the built-in ridges.
	clk := drvtime.NewVirtual(time.Time{})
	builtin, err := fpc1020sim.New(nil, &fpc1020sim.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	dev, err := fpc1020.New(builtin.Port(), builtin.ResetPin(), builtin.IRQPin(), &fpc1020.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := dev.WaitFinger(context.Background()); err != nil {
		t.Fatal(err)
	}
	if img, err := dev.Capture(context.Background()); err != nil || mean(img) > 200 {
		t.Errorf("Capture of the built-in finger = %v, mean %.0f; want ridges", err, mean(img))
	}
	if _, err := fpc1020sim.New(&ridges{}, &fpc1020sim.Options{Faults: map[fpc1020sim.Fault]float64{"melted": 1}}); err == nil {
		t.Error("New with an unknown fault = nil error")
	}
	if _, _, err := fpc1020sim.ParseFaults("slow=2"); err == nil {
		t.Error(`ParseFaults("slow=2") = nil error`)
	}
	sim, err := fpc1020sim.New(&ridges{w: 10, h: 10}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject("melted"); err == nil {
		t.Error(`Inject("melted") = nil error`)
	}
	if _, err := sim.Port().Connect(8*physic.MegaHertz, spi.Mode3, 8); err == nil {
		t.Error("Connect in mode 3 = nil error")
	}
	c, err := sim.Port().Connect(8*physic.MegaHertz, spi.Mode0, 8)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Tx(make([]byte, 5000), make([]byte, 5000)); err == nil {
		t.Error("Tx of 5000 bytes = nil error, want the spidev limit")
	}
	if err := c.Tx([]byte{0x18, 0}, make([]byte, 1)); err == nil || sim.Err() == nil {
		t.Errorf("Tx with mismatched lengths = %v (Err %v), want a protocol error", err, sim.Err())
	}
}

func mean(g *image.Gray) float64 {
	sum := 0
	for _, p := range g.Pix {
		sum += int(p)
	}
	return float64(sum) / float64(len(g.Pix))
}

func TestFaultsInjectedAtStart(t *testing.T) {
	rates, once, err := fpc1020sim.ParseFaults("bad-frame, stuck-miso")
	if err != nil || len(rates) != 0 {
		t.Fatal(rates, err)
	}
	b := newBench(t, &fpc1020sim.Options{Inject: once}, nil)
	ctx := context.Background()
	if _, err := b.dev.Capture(ctx); !errors.Is(err, fpc1020.ErrSensor) {
		t.Errorf("first Capture = %v, want ErrSensor", err)
	}
	if _, err := b.dev.Capture(ctx); !errors.Is(err, fpc1020.ErrBadImage) {
		t.Errorf("second Capture = %v, want ErrBadImage", err)
	}
	if _, err := b.dev.Capture(ctx); err != nil {
		t.Errorf("third Capture = %v", err)
	}
	if _, err := fpc1020sim.New(&ridges{}, &fpc1020sim.Options{Inject: []fpc1020sim.Fault{"melted"}}); err == nil {
		t.Error("New with an unknown injected fault = nil error")
	}
}
