package devices

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/drivers/fpc1020"
	"github.com/bali-rbdes/kiosk/drivers/fpc1020/fpc1020sim"
	"github.com/bali-rbdes/kiosk/drivers/gpiosim"
	"github.com/bali-rbdes/kiosk/drivers/illumination"
	"github.com/bali-rbdes/kiosk/drivers/presence"
	"github.com/bali-rbdes/kiosk/drivers/statusled"
	"github.com/bali-rbdes/kiosk/drivers/tamper"
)

func TestOpenPeriphSimulators(t *testing.T) {
	tests := []struct {
		cfg   config.Device
		model string
		role  config.DeviceRole
		param string // a Param name and value, "name=value"
	}{
		{config.Device{Name: "fp", Driver: "sim-fpc1020", Options: map[string]string{"fingers": "pattern", "chunk": "1024"}},
			"FPC1020 (Fingerprint Cards) (simulated)", config.RoleFingerprint, "transfer=1024 bytes at most"},
		{config.Device{Name: "cam", Driver: "sim-arducam", Options: map[string]string{"size": "320x240"}},
			"ArduCAM Mini 2MP Plus (OV2640) (simulated)", config.RoleCamera, "JPEG size=320x240"},
		{config.Device{Name: "cam", Driver: "sim-uvc", Options: map[string]string{"width": "640", "height": "480", "format": "yuyv"}},
			"USB Video Class camera (simulated)", config.RoleCamera, "format=YUYV"},
		{config.Device{Name: "door", Driver: "sim-presence", Options: map[string]string{"interval": "1h"}},
			"presence sensor (simulated)", config.RolePresence, "present now=false"},
		{config.Device{Name: "led", Driver: "sim-led"}, "tri-colour status LED (simulated)", config.RoleStatusLED, "dies=red, green, blue"},
		{config.Device{Name: "light", Driver: "sim-illumination"}, "face illumination LED (simulated)", config.RoleIllumination, ""},
		{config.Device{Name: "case", Driver: "sim-tamper"}, "tamper switch (simulated)", config.RoleTamper, "tampered=false"},
	}
	links := map[string]string{"sim-presence": "present when high", "sim-tamper": "open when high", "sim-led": "lit when high", "sim-illumination": "lit when high"}
	for _, tt := range tests {
		t.Run(tt.cfg.Driver, func(t *testing.T) {
			dev := mustOpen(t, tt.cfg)
			if dev.Info.Model != tt.model || dev.Role != tt.role || !dev.Simulated {
				t.Errorf("Open = model %q role %s simulated %v, want %q %s true", dev.Info.Model, dev.Role, dev.Simulated, tt.model, tt.role)
			}
			if want, ok := links[tt.cfg.Driver]; ok && !strings.Contains(dev.Info.Link, want) {
				t.Errorf("Info.Link = %q, want it to say %q", dev.Info.Link, want)
			}
			if tt.param != "" {
				name, want, _ := strings.Cut(tt.param, "=")
				if got := param(dev.Info, name); got != want {
					t.Errorf("Info param %q = %q, want %q (Info %+v)", name, got, want, dev.Info)
				}
			}
		})
	}
}

func TestFingerAndFaceThroughDevices(t *testing.T) {
	fp := mustOpen(t, config.Device{Name: "fp", Driver: "sim-fpc1020", Options: map[string]string{"fingers": "pattern"}})
	img, err := fp.Finger.CaptureImage(context.Background())
	if err != nil {
		t.Fatalf("FPC1020 CaptureImage = %v", err)
	}
	if img.Bounds() != image.Rect(0, 0, 192, 192) {
		t.Errorf("FPC1020 image %v, want 192x192", img.Bounds())
	}

	dir := t.TempDir()
	face := filepath.Join(dir, "face.png")
	writePNG(t, face)
	for _, cfg := range []config.Device{
		{Name: "cam", Driver: "sim-arducam", Options: map[string]string{"size": "640x480", "image": face}},
		{Name: "cam", Driver: "sim-uvc", Options: map[string]string{"width": "640", "height": "480", "image": face}},
		{Name: "cam", Driver: "sim-uvc", Options: map[string]string{"width": "640", "height": "480", "format": "yuyv", "image": face}},
	} {
		dev := mustOpen(t, cfg)
		img, jpg, err := dev.Camera.CaptureFrame(context.Background())
		if err != nil {
			t.Fatalf("%s CaptureFrame = %v", cfg.Driver, err)
		}
		if jpg != nil {
			if img, err = jpeg.Decode(bytes.NewReader(jpg)); err != nil {
				t.Fatalf("%s JPEG does not decode: %v", cfg.Driver, err)
			}
		}
		if img == nil || img.Bounds().Size() != image.Pt(640, 480) {
			t.Fatalf("%s frame %v, want 640x480", cfg.Driver, img)
		}
		// The configured image is red on the left, blue on the right.
		if r, _, b, _ := img.At(100, 240).RGBA(); r>>8 < 150 || b>>8 > 100 {
			t.Errorf("%s: left of the frame r%d b%d, want the configured image's red", cfg.Driver, r>>8, b>>8)
		}
	}
}

func writePNG(t *testing.T, path string) {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 400, 300))
	for y := range 300 {
		for x := range 400 {
			c := color.RGBA{220, 30, 30, 255}
			if x >= 200 {
				c = color.RGBA{30, 30, 220, 255}
			}
			img.SetRGBA(x, y, c)
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestSimulatorFaultsOption(t *testing.T) {
	dev := mustOpen(t, config.Device{Name: "fp", Driver: "sim-fpc1020", Options: map[string]string{"fingers": "pattern", "faults": "stuck-miso"}})
	d := dev.Dev.(*fpc1020.Dev)
	if _, err := d.Capture(context.Background()); !errors.Is(err, fpc1020.ErrBadImage) {
		t.Errorf("first Capture = %v, want ErrBadImage from the configured fault", err)
	}
	if _, err := d.Capture(context.Background()); err != nil {
		t.Errorf("second Capture = %v", err)
	}
	// And one injected through Device.Sim.
	if err := dev.Sim.(*fpc1020sim.Sim).Inject(fpc1020sim.BadFrame); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Capture(context.Background()); !errors.Is(err, fpc1020.ErrSensor) {
		t.Errorf("Capture after injecting bad-frame = %v, want ErrSensor", err)
	}
}

func TestGPIOSimulators(t *testing.T) {
	led := mustOpen(t, config.Device{Name: "led", Driver: "sim-led"}).Dev.(*statusled.LED)
	if err := led.Set(statusled.Yellow); err != nil || led.Color() != statusled.Yellow {
		t.Errorf("LED Set(yellow) = %v, colour %s", err, led.Color())
	}
	light := mustOpen(t, config.Device{Name: "light", Driver: "sim-illumination"}).Dev.(*illumination.Light)
	if err := light.Set(0.5); err != nil || light.Level() != 0.5 {
		t.Errorf("light Set(0.5) = %v, level %v", err, light.Level())
	}
	tdev := mustOpen(t, config.Device{Name: "case", Driver: "sim-tamper"})
	sw := tdev.Dev.(*tamper.Switch)
	if sw.Open() || sw.Tampered() {
		t.Error("simulated enclosure starts open")
	}
	// Open the simulated enclosure through Device.Sim.
	tctx, tcancel := context.WithCancel(context.Background())
	tdone := make(chan error)
	go func() { tdone <- sw.Run(tctx) }()
	tdev.Sim.(*gpiosim.Pin).Drive(gpio.High)
	if ev := <-sw.Events(); !ev.Open || !sw.Tampered() {
		t.Errorf("after opening the simulated enclosure: event %+v, tampered %v", ev, sw.Tampered())
	}
	tcancel()
	if err := <-tdone; err != nil {
		t.Errorf("tamper Run = %v", err)
	}
	if pins, ok := mustOpen(t, config.Device{Name: "led", Driver: "sim-led"}).Sim.([3]*gpiosim.Pin); !ok || pins[2] == nil {
		t.Error("sim-led Device.Sim is not its three pins")
	}

	s := mustOpen(t, config.Device{Name: "door", Driver: "sim-presence",
		Options: map[string]string{"interval": "20ms", "debounce": "5ms"}}).Dev.(*presence.Sensor)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	select {
	case ev := <-s.Events():
		if !ev.Present {
			t.Errorf("first event %+v, want an arrival", ev)
		}
	case <-ctx.Done():
		t.Error("no traveller arrived within 10s")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// Bad options and missing pins are reported before anything is opened, so
// these run on any machine and touch no device.
func TestPeriphOpenErrors(t *testing.T) {
	tests := []struct {
		cfg  config.Device
		want string
	}{
		{config.Device{Name: "fp", Driver: "fpc1020", Port: "SPI0.0", Pins: map[string]string{"irq": "GPIO24"}}, "pins.reset is not set"},
		{config.Device{Name: "fp", Driver: "fpc1020", Port: "SPI0.0", Options: map[string]string{"chunk": "2"}}, "options.chunk"},
		{config.Device{Name: "cam", Driver: "arducam", Port: "SPI0.0", Bus: "I2C1", Options: map[string]string{"size": "1920x1080"}}, "options.size"},
		{config.Device{Name: "cam", Driver: "sim-arducam", Options: map[string]string{"faults": "melted"}}, "options.faults"},
		{config.Device{Name: "cam", Driver: "sim-uvc", Options: map[string]string{"format": "h264"}}, "options.format"},
		{config.Device{Name: "cam", Driver: "sim-uvc", Options: map[string]string{"image": "/nonexistent/face.png"}}, "options.image"},
		{config.Device{Name: "cam", Driver: "uvc", Port: "/nonexistent/video0"}, "is the camera plugged in"},
		{config.Device{Name: "door", Driver: "gpio-presence", Options: map[string]string{"active": "sideways"}}, "options.active"},
		{config.Device{Name: "door", Driver: "gpio-presence"}, "pins.in is not set"},
		{config.Device{Name: "case", Driver: "gpio-tamper", Options: map[string]string{"debounce": "soon"}}, "options.debounce"},
		{config.Device{Name: "light", Driver: "gpio-illumination"}, "pins.out is not set"},
		{config.Device{Name: "door", Driver: "sim-presence", Options: map[string]string{"interval": "-1s"}}, "options.interval"},
	}
	for _, tt := range tests {
		_, err := Open(context.Background(), tt.cfg, nil)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Open(%s %v) = %v, want an error saying %q", tt.cfg.Driver, tt.cfg.Options, err, tt.want)
		}
	}
}

func TestEveryDriverHasAnOpener(t *testing.T) {
	for name := range config.Drivers {
		if _, ok := table[name]; !ok {
			t.Errorf("config driver %q has no opener", name)
		}
	}
}
