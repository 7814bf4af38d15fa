package r30xsim_test

import (
	"bytes"
	"context"
	"errors"
	"image"
	"sync"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/internal/ridges"
	"github.com/bali-rbdes/kiosk/drivers/r30x"
	"github.com/bali-rbdes/kiosk/drivers/r30x/r30xsim"
	"github.com/bali-rbdes/kiosk/drivers/serialport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// startSim runs a simulator until the test ends.
func startSim(t *testing.T, opts *r30xsim.Options) *r30xsim.Sim {
	t.Helper()
	s, err := r30xsim.New(opts)
	if err != nil {
		t.Skipf("cannot simulate over a pseudo-terminal here: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		s.Close()
	})
	return s
}

// open opens the simulator's tty with the real serial code and the driver.
func open(t *testing.T, s *r30xsim.Sim, baud int, opts *r30x.Options) (*r30x.Dev, *serialport.Port) {
	t.Helper()
	port, err := serialport.Open(s.Path(), &serialport.Options{Baud: baud})
	if err != nil {
		t.Fatalf("serialport.Open(%s): %v", s.Path(), err)
	}
	t.Cleanup(func() { port.Close() })
	if opts == nil {
		opts = &r30x.Options{}
	}
	opts.Baud = baud
	d, err := r30x.New(port, opts)
	if err != nil {
		t.Fatalf("r30x.New at %d baud: %v", baud, err)
	}
	return d, port
}

// colourSource hands out RGBA fingers larger than the sensor, so the
// simulator's conversion to 256x288 at 4 bits is exercised. They are drawn
// before the simulator starts: drawing is slow under qemu.
type colourSource struct {
	imgs []image.Image
	n    int
}

func newColourSource() *colourSource {
	c := &colourSource{}
	for seed := range uint64(2) {
		g := ridges.Pattern(seed+1, 320, 360)
		rgba := image.NewRGBA(g.Rect)
		for i, v := range g.Pix {
			copy(rgba.Pix[4*i:], []byte{v, v, v, 255})
		}
		c.imgs = append(c.imgs, rgba)
	}
	return c
}

func (c *colourSource) NextFinger() (image.Image, error) {
	c.n++
	return c.imgs[c.n%len(c.imgs)], nil
}

func TestUploadBitExactOverPTY(t *testing.T) {
	tests := []struct {
		name       string
		linkBaud   int
		packetSize int
		long       bool
	}{
		{"115200 raised from 57600, 128-byte packets", 115200, 128, false},
		{"57600, 128-byte packets", 0, 128, true},
		{"115200, 256-byte packets", 115200, 256, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.long && testing.Short() {
				t.Skip("a full image at this speed takes several seconds of wire time; skipped in -short")
			}
			s := startSim(t, &r30xsim.Options{Source: newColourSource()})
			// Generous deadlines: this test is about bit-exactness and wire
			// time on a machine that may be busy, the fault tests about
			// deadlines.
			d, port := open(t, s, 57600, &r30x.Options{LinkBaud: tt.linkBaud, PacketSize: tt.packetSize, Timeout: 5 * time.Second, PacketTimeout: 2 * time.Second})
			wantBaud := 57600
			if tt.linkBaud != 0 {
				wantBaud = tt.linkBaud
			}
			if d.Baud() != wantBaud || s.Baud() != wantBaud || port.BaudRate() != wantBaud {
				t.Fatalf("link speed: driver %d, module %d, port %d; want %d all", d.Baud(), s.Baud(), port.BaudRate(), wantBaud)
			}
			if err := d.WaitFinger(context.Background()); err != nil {
				t.Fatalf("WaitFinger: %v", err)
			}
			start := time.Now()
			got, err := d.UploadImage()
			wire := time.Since(start)
			if err != nil {
				t.Fatalf("UploadImage: %v", err)
			}
			want := s.LastImage()
			if !bytes.Equal(got.Pix, want.Pix) {
				t.Fatalf("uploaded image differs from the simulator's source")
			}
			onWire := r30x.ImageBytes/tt.packetSize*(9+tt.packetSize+2) + 12
			ideal := time.Duration(onWire) * 10 * time.Second / time.Duration(wantBaud)
			t.Logf("UpImage at %d baud, %d-byte packets: %d bytes on the wire in %v (ideal %v), bit-exact", wantBaud, tt.packetSize, onWire, wire.Round(time.Millisecond), ideal.Round(time.Millisecond))
			if wire < ideal*95/100 {
				t.Errorf("upload took %v, less than the wire time %v: the line is not paced", wire, ideal)
			}
		})
	}
}

func TestModuleKeepsRaisedSpeed(t *testing.T) {
	s := startSim(t, nil)
	_, port := open(t, s, 57600, &r30x.Options{LinkBaud: 115200})
	port.Close()
	// A kiosk restart: the config still says 57600, the module is at 115200.
	d, _ := open(t, s, 57600, &r30x.Options{LinkBaud: 115200, Timeout: 500 * time.Millisecond})
	if d.Baud() != 115200 {
		t.Errorf("reopened at %d baud, want 115200", d.Baud())
	}
	// Without LinkBaud the driver cannot find it and says why.
	p2, err := serialport.Open(s.Path(), &serialport.Options{Baud: 57600})
	if err != nil {
		t.Fatal(err)
	}
	defer p2.Close()
	port.Close()
	_, err = r30x.New(p2, &r30x.Options{Baud: 57600, Timeout: 500 * time.Millisecond})
	if !errors.Is(err, r30x.ErrTimeout) {
		t.Errorf("New at the wrong speed = %v, want ErrTimeout", err)
	}
}

func TestFaultsOverPTY(t *testing.T) {
	const timeout = 800 * time.Millisecond
	// The slow reply comes well past the deadline, so a test process starved
	// of CPU still sees it late; the resynchronisation absorbs it.
	s := startSim(t, &r30xsim.Options{Model: "R503", Baud: 115200, SlowDelay: 2 * timeout, Outage: 600 * time.Millisecond})
	d, _ := open(t, s, 115200, &r30x.Options{Timeout: timeout, Model: "R503"})
	ctx := context.Background()
	capture := func() error { return d.Capture() }
	template := func() error {
		if err := d.Capture(); err != nil {
			return err
		}
		return d.ImageToTemplate(1)
	}
	upload := func() error {
		if err := d.Capture(); err != nil {
			return err
		}
		_, err := d.UploadImage()
		return err
	}
	count := func() error { _, err := d.TemplateCount(); return err }
	aura := func() error { return d.Aura(r30x.AuraFlashing, r30x.AuraRed, 0x40, 3) }
	tests := []struct {
		fault r30xsim.Fault
		op    func() error
		want  []error
	}{
		{r30xsim.NoFinger, capture, []error{r30x.ErrNoFinger}},
		{r30xsim.ImageFail, capture, []error{r30x.ErrImageFail}},
		{r30xsim.WetFinger, template, []error{r30x.ErrImageMessy}},
		{r30xsim.DryFinger, template, []error{r30x.ErrFewFeatures}},
		{r30xsim.UploadFail, upload, []error{r30x.ErrUploadImage}},
		{r30xsim.BadChecksum, count, []error{r30x.ErrLink, r30x.ErrChecksum}},
		{r30xsim.DropByte, count, []error{r30x.ErrLink, r30x.ErrTimeout}},
		{r30xsim.DuplicateByte, capture, []error{r30x.ErrLink, r30x.ErrChecksum}},
		{r30xsim.Garbled, aura, []error{r30x.ErrLink, r30x.ErrFrame}},
		{r30xsim.SlowReply, capture, []error{r30x.ErrLink, r30x.ErrTimeout}},
		{r30xsim.PowerLoss, count, []error{r30x.ErrLink, r30x.ErrTimeout}},
		{r30xsim.Unplug, capture, []error{r30x.ErrLink, serialport.ErrDisconnected}},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			s.Inject(tt.fault)
			err := tt.op()
			for _, w := range tt.want {
				if !errors.Is(err, w) {
					t.Errorf("with %v: got %v, want errors.Is %v", tt.fault, err, w)
				}
			}
			if err := s.WaitUp(ctx); err != nil {
				t.Fatal(err)
			}
			if err := template(); err != nil {
				t.Errorf("next command after %v: %v, want success", tt.fault, err)
			}
		})
	}
	st := s.Stats()
	t.Logf("simulator: %d commands, %d images, %d bytes sent, %d noise bytes", st.Commands, st.Images, st.Sent, st.NoiseBytes)
}

func TestImageFaultsOverPTY(t *testing.T) {
	if testing.Short() {
		t.Skip("each aborted upload costs an image's wire time; skipped in -short")
	}
	s := startSim(t, &r30xsim.Options{Baud: 115200, SlowDelay: 2 * time.Second})
	d, _ := open(t, s, 115200, &r30x.Options{Timeout: 2 * time.Second, PacketTimeout: time.Second})
	tests := []struct {
		fault  r30xsim.Fault
		packet int
		want   error
	}{
		{r30xsim.BadChecksum, 280, r30x.ErrChecksum},
		{r30xsim.DropByte, 200, r30x.ErrChecksum},
		{r30xsim.SlowReply, 250, r30x.ErrTimeout},
		{r30xsim.Garbled, 287, r30x.ErrFrame},
	}
	for _, tt := range tests {
		t.Run(tt.fault.String(), func(t *testing.T) {
			if err := d.Capture(); err != nil {
				t.Fatal(err)
			}
			s.InjectAt(tt.fault, tt.packet)
			if _, err := d.UploadImage(); !errors.Is(err, tt.want) || !errors.Is(err, r30x.ErrLink) {
				t.Errorf("UploadImage with %v at packet %d = %v, want %v", tt.fault, tt.packet, err, tt.want)
			}
		})
	}
	got, err := d.UploadImage()
	if err != nil {
		t.Fatalf("UploadImage after the faults: %v", err)
	}
	if !bytes.Equal(got.Pix, s.LastImage().Pix) {
		t.Errorf("image after the faults differs from the simulator's source")
	}
}

func TestPasswordAndParameters(t *testing.T) {
	s := startSim(t, &r30xsim.Options{Password: 0x01020304, Baud: 115200})
	port, err := serialport.Open(s.Path(), &serialport.Options{Baud: 115200})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	if _, err := r30x.New(port, &r30x.Options{Baud: 115200, Password: 7}); !errors.Is(err, r30x.ErrWrongPassword) {
		t.Errorf("New with the wrong password = %v, want ErrWrongPassword", err)
	}
	d, err := r30x.New(port, &r30x.Options{Baud: 115200, Password: 0x01020304, PacketSize: 64, SecurityLevel: 5})
	if err != nil {
		t.Fatalf("New with the right password: %v", err)
	}
	if p := d.Params(); p.PacketSize != 64 || p.SecurityLevel != 5 || p.Baud != 115200 || p.Capacity != 1000 {
		t.Errorf("Params() = %v, want packet size 64, level 5, 115200 baud, capacity 1000", p)
	}
}
