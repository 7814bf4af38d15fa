package devices

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strconv"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/synth"
	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/gt521/gt521sim"
	"github.com/bali-rbdes/kiosk/drivers/r30x"
	"github.com/bali-rbdes/kiosk/drivers/r30x/r30xsim"
	"github.com/bali-rbdes/kiosk/drivers/serialport"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/host/v3"
)

// uartOpeners are the UART fingerprint sensors and their simulators.
var uartOpeners = map[string]opener{
	"r30x":      openR30x,
	"sim-r30x":  openSimR30x,
	"gt521":     openGT521,
	"sim-gt521": openSimGT521,
}

func baudOf(cfg config.Device) int {
	if cfg.Baud != 0 {
		return cfg.Baud
	}
	return config.Drivers[cfg.Driver].DefaultBaud
}

func r30xOptions(o *options, baud int) *r30x.Options {
	return &r30x.Options{
		Address:       o.hex32("address", r30x.DefaultAddress),
		Password:      o.hex32("password", 0),
		Baud:          baud,
		LinkBaud:      o.int("link_baud", 0, 0, 115200),
		PacketSize:    o.int("packet_size", 0, 0, 256),
		SecurityLevel: o.int("security_level", 0, 0, 5),
		Timeout:       o.duration("timeout", 0),
		Model:         o.str("model", "R30x"),
	}
}

func openR30x(ctx context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	baud := baudOf(cfg)
	ro := r30xOptions(o, baud)
	if err := o.err(); err != nil {
		return err
	}
	ro.Logger = env.Logger.Named(cfg.Name)
	if name, ok := cfg.Pins["touch"]; ok {
		pin, err := inputPin(name)
		if err != nil {
			return fmt.Errorf("pins.touch: %w", err)
		}
		ro.Touch = pin
	}
	port, err := serialport.Open(cfg.Port, &serialport.Options{Baud: baud})
	if err != nil {
		return err
	}
	dev.OnClose(port.Close)
	return attachR30x(dev, port, cfg.Port, ro)
}

// inputPin finds a GPIO pin by its periph name, loading the host drivers.
func inputPin(name string) (gpio.PinIn, error) {
	if _, err := host.Init(); err != nil {
		return nil, fmt.Errorf("loading the GPIO drivers: %w", err)
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("no GPIO pin named %s on this board (check the pin name, and that the kiosk user may open /dev/gpiochip*: group gpio)", name)
	}
	return p, nil
}

func openSimR30x(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	baud := baudOf(cfg)
	ro := r30xOptions(o, baud)
	faults := o.str("faults", "")
	seed := o.uint64("seed", 1)
	if err := o.err(); err != nil {
		return err
	}
	src, closeSrc, err := fingerSource(o, synth.R30x)
	if err != nil {
		return err
	}
	dev.OnClose(closeSrc)
	model := ro.Model
	if model == "R30x" {
		model = "R307"
		ro.Model = model
	}
	so := &r30xsim.Options{Model: model, Baud: baud, Address: ro.Address, Password: ro.Password, Seed: seed,
		Logger: env.Logger.Named(cfg.Name + "-sim")}
	if src != nil {
		so.Source = src
	}
	sim, err := r30xsim.New(so)
	if err != nil {
		return err
	}
	dev.OnClose(sim.Close)
	dev.Sim = sim
	fs, err := parseFaults(faults)
	if err != nil {
		return err
	}
	for _, f := range fs {
		ft, err := r30xsim.ParseFault(f.name)
		if err != nil {
			return fmt.Errorf("options.faults: %w", err)
		}
		sim.InjectAt(ft, f.at)
	}
	runSim(dev, sim.Run)
	port, err := serialport.Open(sim.Path(), &serialport.Options{Baud: baud})
	if err != nil {
		return err
	}
	dev.OnClose(port.Close)
	ro.Logger = env.Logger.Named(cfg.Name)
	return attachR30x(dev, port, "simulator "+sim.Path(), ro)
}

// runSim runs a simulator until the device is closed.
func runSim(dev *Device, run func(context.Context) error) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx) }()
	dev.OnClose(func() error {
		cancel()
		return <-done
	})
}

// fault is one entry of the faults option.
type fault struct {
	name string
	at   int
}

// parseFaults reads the faults option, "name,name@packet,...": faults the
// simulator injects once each, in order, from the start.
func parseFaults(s string) ([]fault, error) {
	var out []fault
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		name, at, found := strings.Cut(f, "@")
		n := 0
		if found {
			var err error
			if n, err = strconv.Atoi(at); err != nil || n < 0 {
				return nil, fmt.Errorf("options.faults %q: want name or name@packet with a packet number >= 0", f)
			}
		}
		out = append(out, fault{name, n})
	}
	return out, nil
}

func attachR30x(dev *Device, port *serialport.Port, where string, ro *r30x.Options) error {
	d, err := r30x.New(port, ro)
	if err != nil {
		return err
	}
	dev.Dev = d
	dev.Finger = r30xFinger{d}
	p := d.Params()
	templates := "unknown"
	if n, err := d.TemplateCount(); err == nil {
		templates = strconv.Itoa(n)
	}
	link := fmt.Sprintf("%s at %d baud", where, d.Baud())
	if d.Baud() != ro.Baud {
		link += fmt.Sprintf(" (raised from %d)", ro.Baud)
	}
	model := d.Model()
	if dev.Simulated {
		model += " (simulated)"
	}
	dev.Info = Info{
		Model:    model,
		Firmware: "not reported (the R30x protocol has no version query)",
		Serial:   "not reported",
		Link:     link,
		Params: []Param{
			{"address", fmt.Sprintf("0x%08X", p.Addr)},
			{"system id", fmt.Sprintf("0x%04X", p.SystemID)},
			{"capacity", strconv.Itoa(p.Capacity)},
			{"templates", templates},
			{"security level", strconv.Itoa(p.SecurityLevel)},
			{"packet size", strconv.Itoa(p.PacketSize)},
			{"image", fmt.Sprintf("%dx%d, 4 bits a pixel", r30x.ImageWidth, r30x.ImageHeight)},
		},
	}
	return nil
}

// r30xFinger adapts an R30x to FingerSensor.
type r30xFinger struct{ d *r30x.Dev }

func (f r30xFinger) WaitFinger(ctx context.Context) error { return f.d.WaitFinger(ctx) }

func (f r30xFinger) CaptureImage(ctx context.Context) (image.Image, error) {
	if err := f.d.WaitFinger(ctx); err != nil {
		return nil, err
	}
	return f.d.UploadImage()
}

func gt521Options(o *options, baud int) *gt521.Options {
	return &gt521.Options{Baud: baud, LinkBaud: o.int("link_baud", 0, 0, 115200), Timeout: o.duration("timeout", 0)}
}

func openGT521(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	baud := baudOf(cfg)
	gopts := gt521Options(o, baud)
	if err := o.err(); err != nil {
		return err
	}
	gopts.Logger = env.Logger.Named(cfg.Name)
	port, err := serialport.Open(cfg.Port, &serialport.Options{Baud: baud})
	if err != nil {
		return err
	}
	dev.OnClose(port.Close)
	return attachGT521(dev, port, cfg.Port, gopts)
}

func openSimGT521(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	baud := baudOf(cfg)
	gopts := gt521Options(o, baud)
	faults := o.str("faults", "")
	seed := o.uint64("seed", 1)
	if err := o.err(); err != nil {
		return err
	}
	src, closeSrc, err := fingerSource(o, synth.Optical)
	if err != nil {
		return err
	}
	dev.OnClose(closeSrc)
	so := &gt521sim.Options{Baud: baud, Seed: seed, Logger: env.Logger.Named(cfg.Name + "-sim")}
	if src != nil {
		so.Source = src
	}
	sim, err := gt521sim.New(so)
	if err != nil {
		return err
	}
	dev.OnClose(sim.Close)
	dev.Sim = sim
	fs, err := parseFaults(faults)
	if err != nil {
		return err
	}
	for _, f := range fs {
		ft, err := gt521sim.ParseFault(f.name)
		if err != nil {
			return fmt.Errorf("options.faults: %w", err)
		}
		sim.InjectAt(ft, f.at)
	}
	runSim(dev, sim.Run)
	port, err := serialport.Open(sim.Path(), &serialport.Options{Baud: baud})
	if err != nil {
		return err
	}
	dev.OnClose(port.Close)
	gopts.Logger = env.Logger.Named(cfg.Name)
	return attachGT521(dev, port, "simulator "+sim.Path(), gopts)
}

func attachGT521(dev *Device, port *serialport.Port, where string, o *gt521.Options) error {
	d, err := gt521.New(port, o)
	if err != nil {
		return err
	}
	dev.Dev = d
	dev.Finger = gt521Finger{d}
	in := d.Info()
	enrolled := "unknown"
	if n, err := d.EnrollCount(); err == nil {
		enrolled = strconv.Itoa(n)
	}
	link := fmt.Sprintf("%s at %d baud", where, d.Baud())
	if d.Baud() != o.Baud {
		link += fmt.Sprintf(" (raised from %d)", o.Baud)
	}
	model := "GT-521F52 (ADH-Tech)"
	if dev.Simulated {
		model += " (simulated)"
	}
	dev.Info = Info{
		Model:    model,
		Firmware: in.FirmwareString(),
		Serial:   in.SerialString(),
		Link:     link,
		Params: []Param{
			{"device id", strconv.Itoa(int(max(o.DeviceID, 1)))},
			{"ISO area max", strconv.Itoa(int(in.ISOAreaMax))},
			{"templates", enrolled},
			{"image", fmt.Sprintf("%dx%d, 8 bits a pixel", gt521.ImageWidth, gt521.ImageHeight)},
		},
	}
	return nil
}

// gt521Finger adapts a GT-521 to FingerSensor. The module restarts at
// 9600 baud when it loses power or is unplugged, so after a link error the
// adapter finds it again (Reopen) and retries once.
type gt521Finger struct{ d *gt521.Dev }

func (f gt521Finger) WaitFinger(ctx context.Context) error {
	return f.retry(func() error { return f.d.WaitFinger(ctx) })
}

func (f gt521Finger) CaptureImage(ctx context.Context) (image.Image, error) {
	var img image.Image
	err := f.retry(func() error {
		if err := f.d.WaitFinger(ctx); err != nil {
			return err
		}
		defer f.d.CmosLed(false)
		if err := f.d.Capture(true); err != nil {
			return err
		}
		var err error
		img, err = f.d.GetImage()
		return err
	})
	return img, err
}

func (f gt521Finger) retry(op func() error) error {
	err := op()
	if err == nil || !errors.Is(err, gt521.ErrLink) {
		return err
	}
	if rerr := f.d.Reopen(); rerr != nil {
		return fmt.Errorf("%w (and finding the module again failed: %v)", err, rerr)
	}
	return op()
}
