package gt521sim_test

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/gt521/gt521sim"
	"github.com/bali-rbdes/kiosk/drivers/serialport"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func startSim(t *testing.T, opts *gt521sim.Options) *gt521sim.Sim {
	t.Helper()
	s, err := gt521sim.New(opts)
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

func open(t *testing.T, s *gt521sim.Sim, opts *gt521.Options) *gt521.Dev {
	t.Helper()
	port, err := serialport.Open(s.Path(), &serialport.Options{Baud: 9600})
	if err != nil {
		t.Fatalf("serialport.Open(%s): %v", s.Path(), err)
	}
	t.Cleanup(func() { port.Close() })
	opts.Baud = 9600
	d, err := gt521.New(port, opts)
	if err != nil {
		t.Fatalf("gt521.New: %v", err)
	}
	return d
}

func TestImagesOverPTY(t *testing.T) {
	s := startSim(t, &gt521sim.Options{Seed: 3})
	d := open(t, s, &gt521.Options{LinkBaud: 115200, Timeout: 3 * time.Second})
	if d.Baud() != 115200 || s.Baud() != 115200 {
		t.Fatalf("link speed: driver %d, module %d; want 115200", d.Baud(), s.Baud())
	}
	if in := d.Info(); in.Firmware != 0x20170523 || in.SerialString() == "" {
		t.Errorf("Info() = %+v, want the simulator's firmware 20170523 and a serial", in)
	}
	if err := d.WaitFinger(context.Background()); err != nil {
		t.Fatalf("WaitFinger: %v", err)
	}
	start := time.Now()
	raw, err := d.GetRawImage()
	if err != nil {
		t.Fatalf("GetRawImage: %v", err)
	}
	t.Logf("GetRawImage at 115200: %d bytes in %v", raw.Rect.Dx()*raw.Rect.Dy()+18, time.Since(start).Round(time.Millisecond))
	if !bytes.Equal(raw.Pix, s.LastRawImage().Pix) {
		t.Errorf("raw image differs from the simulator's")
	}
	if testing.Short() {
		return
	}
	if err := d.Capture(true); err != nil {
		t.Fatalf("Capture: %v", err)
	}
	start = time.Now()
	img, err := d.GetImage()
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	t.Logf("GetImage at 115200: %d bytes in %v (ideal %v)", len(img.Pix)+18, time.Since(start).Round(time.Millisecond),
		time.Duration(len(img.Pix)+18)*10*time.Second/115200)
	if img.Rect.Dx() != gt521.ImageWidth || img.Rect.Dy() != gt521.ImageHeight || !bytes.Equal(img.Pix, s.LastImage().Pix) {
		t.Errorf("GetImage %v differs from the simulator's", img.Rect)
	}
}

func TestFaultsOverPTY(t *testing.T) {
	const timeout = 800 * time.Millisecond
	// The slow reply comes well past the deadline but within the one
	// Timeout the resynchronisation waits for late replies.
	s := startSim(t, &gt521sim.Options{SlowDelay: timeout + 500*time.Millisecond, Outage: 600 * time.Millisecond})
	d := open(t, s, &gt521.Options{LinkBaud: 115200, Timeout: timeout})
	ctx := context.Background()
	if err := d.CmosLed(true); err != nil {
		t.Fatal(err)
	}
	capture := func() error { return d.Capture(true) }
	count := func() error { _, err := d.EnrollCount(); return err }
	tests := []struct {
		fault  gt521sim.Fault
		op     func() error
		want   []error
		reopen bool
	}{
		{gt521sim.NoFinger, capture, []error{gt521.ErrFingerNotPressed}, false},
		{gt521sim.WetFinger, capture, []error{gt521.ErrBadFinger}, false},
		{gt521sim.DryFinger, capture, []error{gt521.ErrBadFinger}, false},
		{gt521sim.BadChecksum, count, []error{gt521.ErrLink, gt521.ErrChecksum}, false},
		{gt521sim.DropByte, count, []error{gt521.ErrLink, gt521.ErrTimeout}, false},
		{gt521sim.DuplicateByte, capture, []error{gt521.ErrLink, gt521.ErrChecksum}, false},
		{gt521sim.Garbled, count, []error{gt521.ErrLink, gt521.ErrFrame}, false},
		{gt521sim.SlowReply, capture, []error{gt521.ErrLink, gt521.ErrTimeout}, false},
		{gt521sim.PowerLoss, count, []error{gt521.ErrLink, gt521.ErrTimeout}, true},
		{gt521sim.Unplug, count, []error{gt521.ErrLink, serialport.ErrDisconnected}, true},
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
			if tt.reopen {
				// The module restarted at 9600 baud: find it and raise again.
				if err := d.Reopen(); err != nil {
					t.Fatalf("Reopen after %v: %v", tt.fault, err)
				}
				if d.Baud() != 115200 {
					t.Errorf("after Reopen: %d baud, want 115200", d.Baud())
				}
				if err := d.CmosLed(true); err != nil {
					t.Fatal(err)
				}
			}
			if err := capture(); err != nil {
				t.Errorf("next command after %v: %v, want success", tt.fault, err)
			}
		})
	}
}

func TestDataFaultsOverPTY(t *testing.T) {
	if testing.Short() {
		t.Skip("aborted image downloads cost wire time; skipped in -short")
	}
	s := startSim(t, nil)
	d := open(t, s, &gt521.Options{LinkBaud: 115200, Timeout: 2 * time.Second})
	if err := d.CmosLed(true); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		fault gt521sim.Fault
		want  error
	}{
		{gt521sim.BadChecksum, gt521.ErrChecksum},
		{gt521sim.DropByte, gt521.ErrTimeout},
		{gt521sim.DuplicateByte, gt521.ErrChecksum},
		{gt521sim.Garbled, gt521.ErrFrame},
	} {
		s.InjectAt(tt.fault, 1)
		if _, err := d.GetRawImage(); !errors.Is(err, tt.want) {
			t.Errorf("GetRawImage with %v in the data = %v, want %v", tt.fault, err, tt.want)
		}
		raw, err := d.GetRawImage()
		if err != nil || !bytes.Equal(raw.Pix, s.LastRawImage().Pix) {
			t.Errorf("GetRawImage after %v = %v, want the simulator's image", tt.fault, err)
		}
	}
}
