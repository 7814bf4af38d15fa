package devices

import (
	"context"
	"errors"
	"image"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/gt521/gt521sim"
	"github.com/bali-rbdes/kiosk/drivers/r30x"
	"github.com/bali-rbdes/kiosk/drivers/serialport"
	"github.com/creack/pty"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func mustOpen(t *testing.T, cfg config.Device) *Device {
	t.Helper()
	dev, err := Open(context.Background(), cfg, nil)
	if err != nil {
		t.Fatalf("Open(%s): %v", cfg.Driver, err)
	}
	t.Cleanup(func() {
		if err := dev.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return dev
}

func param(in Info, name string) string {
	for _, p := range in.Params {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func TestOpenSimulators(t *testing.T) {
	tests := []struct {
		name     string
		cfg      config.Device
		model    string
		link     string
		firmware string
	}{
		{"sim-r30x raised", config.Device{Name: "fingerprint", Driver: "sim-r30x", Options: map[string]string{"link_baud": "115200", "fingers": "pattern", "model": "R503"}},
			"R503 (simulated)", "at 115200 baud (raised from 57600)", "not reported"},
		{"sim-r30x plain", config.Device{Name: "fp", Driver: "sim-r30x", Baud: 115200, Options: map[string]string{"fingers": "pattern", "packet_size": "256", "security_level": "4"}},
			"R307 (simulated)", "at 115200 baud", "not reported"},
		{"sim-gt521 raised", config.Device{Name: "fingerprint", Driver: "sim-gt521", Options: map[string]string{"link_baud": "115200", "fingers": "pattern"}},
			"GT-521F52 (ADH-Tech) (simulated)", "at 115200 baud (raised from 9600)", "20170523"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := mustOpen(t, tt.cfg)
			in := dev.Info
			if in.Model != tt.model || !strings.Contains(in.Link, tt.link) || !strings.HasPrefix(in.Firmware, tt.firmware) {
				t.Errorf("Info = %+v, want model %q, link containing %q, firmware %q", in, tt.model, tt.link, tt.firmware)
			}
			if dev.Role != config.RoleFingerprint || dev.Finger == nil || !dev.Simulated {
				t.Errorf("Device role %s, finger %v, simulated %v; want a simulated fingerprint sensor", dev.Role, dev.Finger, dev.Simulated)
			}
		})
	}
	dev := mustOpen(t, tests[1].cfg)
	if ps, lvl := param(dev.Info, "packet size"), param(dev.Info, "security level"); ps != "256" || lvl != "4" {
		t.Errorf("packet size %s, security level %s; want 256 and 4 as configured", ps, lvl)
	}
}

func TestCaptureThroughDevices(t *testing.T) {
	if testing.Short() {
		t.Skip("synthetic fingers and full image uploads take seconds; skipped in -short")
	}
	tests := []struct {
		cfg  config.Device
		w, h int
	}{
		{config.Device{Name: "fp", Driver: "sim-r30x", Options: map[string]string{"link_baud": "115200", "seed": "7"}}, 256, 288},
		{config.Device{Name: "fp", Driver: "sim-gt521", Options: map[string]string{"link_baud": "115200", "fingers": "pattern"}}, 258, 202},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.Driver, func(t *testing.T) {
			dev := mustOpen(t, tt.cfg)
			img, err := dev.Finger.CaptureImage(context.Background())
			if err != nil {
				t.Fatalf("CaptureImage: %v", err)
			}
			if b := img.Bounds(); b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("image %v, want %dx%d", b, tt.w, tt.h)
			}
			if dark := darkShare(img); dark < 0.1 {
				t.Errorf("only %.0f%% dark pixels: want a finger's ridges in the image", dark*100)
			}
		})
	}
}

func darkShare(img image.Image) float64 {
	g, ok := img.(*image.Gray)
	if !ok {
		return 0
	}
	n := 0
	for _, v := range g.Pix {
		if v < 128 {
			n++
		}
	}
	return float64(n) / float64(len(g.Pix))
}

func TestFaultsOption(t *testing.T) {
	dev := mustOpen(t, config.Device{Name: "fp", Driver: "sim-r30x", Baud: 115200,
		Options: map[string]string{"fingers": "pattern", "faults": "no-finger, wet-finger"}})
	d := dev.Dev.(*r30x.Dev)
	if err := d.Capture(); !errors.Is(err, r30x.ErrNoFinger) {
		t.Errorf("first Capture = %v, want ErrNoFinger from the configured fault", err)
	}
	if err := d.Capture(); err != nil {
		t.Fatal(err)
	}
	if err := d.ImageToTemplate(1); !errors.Is(err, r30x.ErrImageMessy) {
		t.Errorf("ImageToTemplate = %v, want ErrImageMessy from the configured wet finger", err)
	}
}

func TestFingerDirectory(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(context.Background(), config.Device{Name: "fp", Driver: "sim-r30x", Options: map[string]string{"fingers": dir}}, nil); err == nil || !strings.Contains(err.Error(), "holds no PNG") {
		t.Errorf("Open with an empty finger directory = %v, want an error saying it holds no images", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer m.Close()
	defer s.Close()
	tests := []struct {
		name string
		cfg  config.Device
		want []string
		is   error
	}{
		{"unknown driver", config.Device{Name: "x", Driver: "r31x"}, []string{"unknown driver", "sim-r30x"}, nil},
		{"wrong port", config.Device{Name: "fingerprint", Driver: "r30x", Port: filepath.Join(dir, "ttyUSB7")}, []string{"fingerprint (r30x on", "does not exist", "wrong port?"}, serialport.ErrNotFound},
		{"not a tty", config.Device{Name: "fingerprint", Driver: "gt521", Port: plain}, []string{"not a serial port"}, serialport.ErrNotSerial},
		{"no answer", config.Device{Name: "fingerprint", Driver: "r30x", Port: s.Name(), Options: map[string]string{"timeout": "100ms"}},
			[]string{"did not answer handshake", "check wiring and baud rate"}, r30x.ErrTimeout},
		{"bad options", config.Device{Name: "fp", Driver: "sim-r30x", Options: map[string]string{"link_baud": "fast", "timeout": "-1s", "password": "xyz"}},
			[]string{"options.link_baud", "options.timeout", "options.password"}, nil},
		{"bad fault", config.Device{Name: "fp", Driver: "sim-gt521", Options: map[string]string{"fingers": "pattern", "faults": "meteor"}}, []string{"unknown fault \"meteor\""}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev, err := Open(context.Background(), tt.cfg, nil)
			if err == nil {
				dev.Close()
				t.Fatalf("Open = nil error, want one")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Open = %v, want it to say %q", err, w)
				}
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("Open = %v, want errors.Is %v", err, tt.is)
			}
		})
	}
}

func TestUnavailableDriver(t *testing.T) {
	for name := range config.Drivers {
		if _, ok := table[name]; ok {
			continue
		}
		_, err := Open(context.Background(), config.Device{Name: "x", Driver: name}, nil)
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("Open(%s) = %v, want ErrUnavailable", name, err)
		}
		return
	}
	t.Skip("every configured driver has an opener in this build")
}

func TestGT521RecoversAfterPowerLoss(t *testing.T) {
	dev := mustOpen(t, config.Device{Name: "fp", Driver: "sim-gt521",
		Options: map[string]string{"link_baud": "115200", "fingers": "pattern", "timeout": "500ms"}})
	// The power loss hits the next reply; the adapter finds the module
	// again at 9600 baud, raises the link and retries.
	dev.Sim.(*gt521sim.Sim).Inject(gt521sim.PowerLoss)
	if err := dev.Finger.WaitFinger(context.Background()); err != nil {
		t.Fatalf("WaitFinger across a power loss: %v", err)
	}
	if d := dev.Dev.(*gt521.Dev); d.Baud() != 115200 {
		t.Errorf("after recovery: %d baud, want 115200", d.Baud())
	}
}
