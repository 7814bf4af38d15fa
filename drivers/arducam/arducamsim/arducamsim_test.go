package arducamsim_test

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/arducam"
	"github.com/bali-rbdes/kiosk/drivers/arducam/arducamsim"
	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

var update = flag.Bool("update", false, "rewrite the golden FIFO dumps in ../testdata")

// portrait is a stand-in scene: a light background with a darker disc.
type portrait struct{ err error }

var portraitImage = sync.OnceValue(func() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, 480, 640))
	for y := range 640 {
		for x := range 480 {
			c := color.RGBA{200, 210, 220, 255}
			dx, dy := x-240, y-280
			if dx*dx+dy*dy < 130*130 {
				c = color.RGBA{180, 130, 100, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	return img
})

func (p portrait) Scene() (image.Image, error) {
	if p.err != nil {
		return nil, p.err
	}
	return portraitImage(), nil
}

type bench struct {
	sim *arducamsim.Sim
	dev *arducam.Dev
	clk *drvtime.Virtual
}

func newBench(t *testing.T, simOpts *arducamsim.Options, devOpts *arducam.Options) *bench {
	t.Helper()
	clk := drvtime.NewVirtual(time.Time{})
	if simOpts == nil {
		simOpts = &arducamsim.Options{}
	}
	simOpts.Clock = clk
	sim, err := arducamsim.New(portrait{}, simOpts)
	if err != nil {
		t.Fatalf("arducamsim.New = %v", err)
	}
	if devOpts == nil {
		devOpts = &arducam.Options{}
	}
	devOpts.Clock = clk
	dev, err := arducam.New(sim.Port(), sim.Bus(), devOpts)
	if err != nil {
		t.Fatalf("arducam.New(sim) = %v", err)
	}
	t.Cleanup(func() {
		if err := sim.Err(); err != nil {
			t.Errorf("simulator saw a protocol violation: %v", err)
		}
	})
	return &bench{sim: sim, dev: dev, clk: clk}
}

func decode(t *testing.T, jpg []byte) image.Image {
	t.Helper()
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		t.Fatalf("JPEG does not decode: %v", err)
	}
	return img
}

func TestEverySizeIsBitExact(t *testing.T) {
	sizes := arducam.Sizes
	switch {
	case testing.Short():
		sizes = []arducam.Size{{W: 160, H: 120}, {W: 352, H: 288}}
	case raceEnabled:
		sizes = []arducam.Size{{W: 160, H: 120}, {W: 800, H: 600}, {W: 1600, H: 1200}}
	}
	for _, sz := range sizes {
		t.Run(sz.String(), func(t *testing.T) {
			b := newBench(t, nil, &arducam.Options{Size: sz})
			if w, h := b.sim.OutputSize(); w != sz.W || h != sz.H {
				t.Fatalf("driver set the sensor to %dx%d, want %v", w, h, sz)
			}
			jpg, err := b.dev.Capture(context.Background())
			if err != nil {
				t.Fatalf("Capture = %v", err)
			}
			if !bytes.Equal(jpg, b.sim.LastJPEG()) {
				t.Fatalf("captured %d bytes differ from the %d-byte JPEG the sensor made", len(jpg), len(b.sim.LastJPEG()))
			}
			if got := decode(t, jpg).Bounds().Size(); got != image.Pt(sz.W, sz.H) {
				t.Errorf("JPEG is %v, want %v", got, sz)
			}
		})
	}
}

func TestSetSizeFollowsThrough(t *testing.T) {
	b := newBench(t, nil, &arducam.Options{Size: arducam.Size{W: 160, H: 120}})
	to := arducam.Size{W: 1024, H: 768}
	if testing.Short() {
		to = arducam.Size{W: 640, H: 480}
	}
	if err := b.dev.SetSize(context.Background(), to); err != nil {
		t.Fatalf("SetSize = %v", err)
	}
	jpg, err := b.dev.Capture(context.Background())
	if err != nil {
		t.Fatalf("Capture = %v", err)
	}
	if got := decode(t, jpg).Bounds().Size(); got != image.Pt(to.W, to.H) {
		t.Errorf("JPEG after SetSize is %v, want %v", got, to)
	}
}

func TestQualityFollowsQS(t *testing.T) {
	fine := newBench(t, nil, &arducam.Options{Size: arducam.Size{W: 320, H: 240}, Quality: 4})
	coarse := newBench(t, nil, &arducam.Options{Size: arducam.Size{W: 320, H: 240}, Quality: 60})
	a, err1 := fine.dev.Capture(context.Background())
	c, err2 := coarse.dev.Capture(context.Background())
	if err1 != nil || err2 != nil {
		t.Fatalf("Capture = %v, %v", err1, err2)
	}
	if len(a) <= len(c) {
		t.Errorf("QS 4 gave %d bytes, QS 60 gave %d: want the finer scale larger", len(a), len(c))
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		fault   arducamsim.Fault
		wantErr error
	}{
		{arducamsim.NoFrame, arducam.ErrTimeout},
		{arducamsim.Slow, arducam.ErrTimeout},
		{arducamsim.BadLength, arducam.ErrFIFOLength},
		{arducamsim.Overflow, arducam.ErrFIFOLength},
		{arducamsim.Truncated, arducam.ErrTruncatedJPEG},
		{arducamsim.Garbled, arducam.ErrNoJPEG},
		{arducamsim.Vanish, arducam.ErrTimeout},
	}
	for _, tt := range tests {
		t.Run(string(tt.fault), func(t *testing.T) {
			b := newBench(t, nil, &arducam.Options{Size: arducam.Size{W: 160, H: 120}})
			ctx := context.Background()
			if _, err := b.dev.Capture(ctx); err != nil {
				t.Fatalf("clean Capture = %v", err)
			}
			if err := b.sim.Inject(tt.fault); err != nil {
				t.Fatal(err)
			}
			if _, err := b.dev.Capture(ctx); !errors.Is(err, tt.wantErr) {
				t.Fatalf("Capture after %s = %v, want %v", tt.fault, err, tt.wantErr)
			}
			jpg, err := b.dev.Capture(ctx)
			if err != nil {
				t.Fatalf("Capture after recovering from %s = %v", tt.fault, err)
			}
			if !bytes.Equal(jpg, b.sim.LastJPEG()) {
				t.Error("recovered capture differs from the sensor's JPEG")
			}
		})
	}
}

func TestVanishLongerThanATimeout(t *testing.T) {
	b := newBench(t, &arducamsim.Options{VanishFor: 10 * time.Second}, &arducam.Options{Size: arducam.Size{W: 160, H: 120}})
	ctx := context.Background()
	if err := b.sim.Inject(arducamsim.Vanish); err != nil {
		t.Fatal(err)
	}
	if _, err := b.dev.Capture(ctx); !errors.Is(err, arducam.ErrTimeout) {
		t.Fatalf("Capture while gone = %v, want ErrTimeout", err)
	}
	if _, err := b.dev.Capture(ctx); !errors.Is(err, arducam.ErrNoSPI) {
		t.Fatalf("Capture while still gone = %v, want ErrNoSPI from the re-probe", err)
	}
	b.clk.Advance(10 * time.Second)
	if _, err := b.dev.Capture(ctx); err != nil {
		t.Fatalf("Capture after the camera came back = %v", err)
	}
}

func TestRandomFaultsAreRepeatable(t *testing.T) {
	run := func() (errs []string) {
		rates, once, err := arducamsim.ParseFaults("truncated=0.3, bad-length=0.2")
		if err != nil || len(once) != 0 {
			t.Fatal(once, err)
		}
		b := newBench(t, &arducamsim.Options{Faults: rates, Seed: 5}, &arducam.Options{Size: arducam.Size{W: 160, H: 120}})
		for range 12 {
			_, err := b.dev.Capture(context.Background())
			s := ""
			if err != nil {
				s = err.Error()
			}
			errs = append(errs, s)
		}
		return errs
	}
	a, c := run(), run()
	fails := 0
	for i := range a {
		if a[i] != c[i] {
			t.Fatalf("capture %d: %q then %q with the same seed", i, a[i], c[i])
		}
		if a[i] != "" {
			fails++
		}
	}
	if fails == 0 || fails == len(a) {
		t.Errorf("%d of %d captures failed, want some but not all", fails, len(a))
	}
}

func TestSensorLeftInYUVHasNoJPEG(t *testing.T) {
	clk := drvtime.NewVirtual(time.Time{})
	sim, err := arducamsim.New(portrait{}, &arducamsim.Options{Clock: clk, MaxTxSize: -1})
	if err != nil {
		t.Fatal(err)
	}
	// Start a capture without setting the sensor up: the FIFO fills with YUV.
	c, err := sim.Port().Connect(4*physic.MegaHertz, spi.Mode0, 8)
	if err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 2)
	for _, w := range [][]byte{{0x84, 0x01}, {0x84, 0x02}} {
		if err := c.Tx(w, r); err != nil {
			t.Fatal(err)
		}
	}
	clk.Advance(time.Second)
	var n [3]byte
	for i := range n {
		if err := c.Tx([]byte{0x42 + byte(i), 0}, r); err != nil {
			t.Fatal(err)
		}
		n[i] = r[1]
	}
	size := arducam.FIFOLength(n[0], n[1], n[2])
	if size != 1600*1200*2 {
		t.Fatalf("FIFO length %d, want a UXGA YUV frame", size)
	}
	w := make([]byte, size+1)
	w[0] = 0x3C
	buf := make([]byte, size+1)
	if err := c.Tx(w, buf); err != nil {
		t.Fatal(err)
	}
	if _, err := arducam.FrameJPEG(buf[1:]); !errors.Is(err, arducam.ErrNoJPEG) {
		t.Errorf("FrameJPEG(YUV FIFO) = %v, want ErrNoJPEG", err)
	}
}

func TestProtocolChecks(t *testing.T) {
	// No source: the built-in scene.
	bclk := drvtime.NewVirtual(time.Time{})
	builtin, err := arducamsim.New(nil, &arducamsim.Options{Clock: bclk})
	if err != nil {
		t.Fatal(err)
	}
	bdev, err := arducam.New(builtin.Port(), builtin.Bus(), &arducam.Options{Size: arducam.Size{W: 160, H: 120}, Clock: bclk})
	if err != nil {
		t.Fatal(err)
	}
	if jpg, err := bdev.Capture(context.Background()); err != nil {
		t.Errorf("Capture of the built-in scene = %v", err)
	} else {
		decode(t, jpg)
	}
	if _, _, err := arducamsim.ParseFaults("melted"); err == nil {
		t.Error(`ParseFaults("melted") = nil error`)
	}
	clk := drvtime.NewVirtual(time.Time{})
	sim, err := arducamsim.New(portrait{err: errors.New("no scene")}, &arducamsim.Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := sim.Inject("melted"); err == nil {
		t.Error(`Inject("melted") = nil error`)
	}
	if _, err := sim.Port().Connect(20*physic.MegaHertz, spi.Mode0, 8); err == nil {
		t.Error("Connect at 20 MHz = nil error")
	}
	if err := sim.Bus().Tx(0x3C, []byte{0x0A}, make([]byte, 1)); err == nil {
		t.Error("SCCB read at 0x3C (an OV5642) = nil error")
	}
	if err := sim.Bus().Tx(0x30, []byte{1, 2, 3}, nil); err == nil || sim.Err() == nil {
		t.Error("3-byte SCCB write = nil error")
	}
	if err := sim.Bus().SetSpeed(1 * physic.MegaHertz); err == nil {
		t.Error("SetSpeed(1 MHz) = nil error")
	}
	// With no scene the camera still produces a (grey) frame.
	dev, err := arducam.New(sim.Port(), sim.Bus(), &arducam.Options{Size: arducam.Size{W: 160, H: 120}, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := dev.Capture(context.Background()); err != nil {
		t.Errorf("Capture with no scene = %v", err)
	}
}

// TestWriteGoldenDumps writes FIFO dumps for the arducam package's framing
// tests when run with -update.
func TestWriteGoldenDumps(t *testing.T) {
	if !*update {
		t.Skip("run with -update to rewrite ../testdata/*.fifo")
	}
	for _, sz := range []arducam.Size{{W: 160, H: 120}, {W: 320, H: 240}} {
		clk := drvtime.NewVirtual(time.Time{})
		sim, err := arducamsim.New(portrait{}, &arducamsim.Options{Clock: clk, MaxTxSize: -1})
		if err != nil {
			t.Fatal(err)
		}
		dev, err := arducam.New(sim.Port(), sim.Bus(), &arducam.Options{Size: sz, Clock: clk})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dev.Capture(context.Background()); err != nil {
			t.Fatal(err)
		}
		jpg := sim.LastJPEG()
		fifo := append([]byte{0}, jpg...)
		for len(fifo)%8 != 0 {
			fifo = append(fifo, 0)
		}
		base := filepath.Join("..", "testdata", "sim-"+sz.String())
		if err := os.WriteFile(base+".fifo", fifo, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(base+".jpg", jpg, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
