package devices

import (
	"context"
	"fmt"
	"image"
	"os"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpioreg"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spireg"
	"periph.io/x/host/v3"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/synth"
	"github.com/bali-rbdes/kiosk/drivers/arducam"
	"github.com/bali-rbdes/kiosk/drivers/arducam/arducamsim"
	"github.com/bali-rbdes/kiosk/drivers/fpc1020"
	"github.com/bali-rbdes/kiosk/drivers/fpc1020/fpc1020sim"
	"github.com/bali-rbdes/kiosk/drivers/gpiosim"
	"github.com/bali-rbdes/kiosk/drivers/illumination"
	"github.com/bali-rbdes/kiosk/drivers/presence"
	"github.com/bali-rbdes/kiosk/drivers/statusled"
	"github.com/bali-rbdes/kiosk/drivers/tamper"
	"github.com/bali-rbdes/kiosk/drivers/uvc"
	"github.com/bali-rbdes/kiosk/drivers/uvc/uvcsim"
)

// periphOpeners are the drivers on periph buses and pins, the USB camera,
// and their simulators. Device.Sim is *fpc1020sim.Sim, *arducamsim.Sim or
// *uvcsim.Sim for the simulated sensors, the *gpiosim.Pin behind
// sim-presence, sim-illumination and sim-tamper (Drive it to open the
// enclosure), and [3]*gpiosim.Pin (red, green, blue) for sim-led. GPIO roles without a capability field in Device
// are reached through Device.Dev: *presence.Sensor, *statusled.LED,
// *illumination.Light and *tamper.Switch; whoever uses presence and tamper
// runs their Run(ctx) (sim-presence's traveller runs until Close).
var periphOpeners = map[string]opener{
	"fpc1020":           openFPC1020,
	"sim-fpc1020":       openSimFPC1020,
	"arducam":           openArduCAM,
	"sim-arducam":       openSimArduCAM,
	"uvc":               openUVC,
	"sim-uvc":           openSimUVC,
	"gpio-presence":     openGPIOPresence,
	"sim-presence":      openSimPresence,
	"gpio-led":          openGPIOLED,
	"sim-led":           openSimLED,
	"gpio-illumination": openGPIOIllumination,
	"sim-illumination":  openSimIllumination,
	"gpio-tamper":       openGPIOTamper,
	"sim-tamper":        openSimTamper,
}

// Buses and pins through periph.

// hostInit loads periph's host drivers once; on a machine without the
// hardware it succeeds and the lookups below say what is missing.
func hostInit() error {
	if _, err := host.Init(); err != nil {
		return fmt.Errorf("loading the periph host drivers: %w", err)
	}
	return nil
}

func spiPort(name string) (spi.PortCloser, error) {
	if err := hostInit(); err != nil {
		return nil, err
	}
	p, err := spireg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no SPI port %q (enable SPI, e.g. dtparam=spi=on on a Raspberry Pi; ls /dev/spidev* lists the ports; the kiosk user needs the spi group): %w", name, err)
	}
	return p, nil
}

func i2cBus(name string) (i2c.BusCloser, error) {
	if err := hostInit(); err != nil {
		return nil, err
	}
	b, err := i2creg.Open(name)
	if err != nil {
		return nil, fmt.Errorf("no I2C bus %q (enable I2C, e.g. dtparam=i2c_arm=on on a Raspberry Pi; ls /dev/i2c-* lists the buses; the kiosk user needs the i2c group): %w", name, err)
	}
	return b, nil
}

// gpioPin finds the pin the config names for role.
func gpioPin(cfg config.Device, role string) (gpio.PinIO, error) {
	name, ok := cfg.Pins[role]
	if !ok || name == "" {
		return nil, fmt.Errorf("pins.%s is not set (driver %s needs it)", role, cfg.Driver)
	}
	if err := hostInit(); err != nil {
		return nil, err
	}
	p := gpioreg.ByName(name)
	if p == nil {
		return nil, fmt.Errorf("pins.%s: no GPIO pin named %s on this board (check the pin name, and that the kiosk user may open /dev/gpiochip*: group gpio)", role, name)
	}
	return p, nil
}

// Options shared by these drivers.

// activeLow reads the active option: "high" (default) or "low".
func activeLow(o *options) bool {
	switch v := strings.ToLower(o.str("active", "high")); v {
	case "high":
		return false
	case "low":
		return true
	default:
		o.bad("active", v, "high or low")
		return false
	}
}

// debounceOpt reads the debounce option; "0" turns debouncing off.
func debounceOpt(o *options, def time.Duration) time.Duration {
	if o.cfg.Options["debounce"] == "0" {
		return -1
	}
	return o.duration("debounce", def)
}

func spiHz(cfg config.Device) physic.Frequency {
	return physic.Frequency(cfg.SPIHz) * physic.Hertz
}

// activeLevel names the level that means "active".
func activeLevel(activeLow bool) string {
	if activeLow {
		return "low"
	}
	return "high"
}

// faultsOption reads the faults option of the simulators here: a bare
// name is injected once, name=rate strikes at random.
func faultsOption[F ~string](o *options, parse func(string) (map[F]float64, []F, error)) (map[F]float64, []F) {
	rates, once, err := parse(o.str("faults", ""))
	if err != nil {
		o.bad("faults", o.str("faults", ""), err.Error())
	}
	return rates, once
}

// The FPC1020 fingerprint sensor.

func fpc1020Options(o *options, cfg config.Device) *fpc1020.Options {
	return &fpc1020.Options{
		Hz:      spiHz(cfg),
		Chunk:   o.int("chunk", 0, 3, 1<<20),
		Timeout: o.duration("timeout", 0),
	}
}

func openFPC1020(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	fo := fpc1020Options(o, cfg)
	if err := o.err(); err != nil {
		return err
	}
	reset, err := gpioPin(cfg, "reset")
	if err != nil {
		return err
	}
	irq, err := gpioPin(cfg, "irq")
	if err != nil {
		return err
	}
	port, err := spiPort(cfg.Port)
	if err != nil {
		return err
	}
	dev.OnClose(port.Close)
	fo.Logger = env.Logger.Named(cfg.Name)
	return attachFPC1020(dev, port, reset, irq, cfg.Port, fo)
}

// fingers adapts the finger sources of fingers.go to fpc1020sim.Fingers.
type fingers struct{ src imageSource }

func (f fingers) Finger() (image.Image, error) { return f.src.NextFinger() }

func openSimFPC1020(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	fo := fpc1020Options(o, cfg)
	rates, once := faultsOption(o, fpc1020sim.ParseFaults)
	seed := o.uint64("seed", 1)
	src, closeSrc, srcErr := fingerSource(o, synth.FPC1020)
	if err := o.err(); err != nil {
		closeSrc()
		return err
	}
	dev.OnClose(closeSrc)
	if srcErr != nil {
		return srcErr
	}
	so := &fpc1020sim.Options{Faults: rates, Inject: once, Seed: seed}
	var fsrc fpc1020sim.Fingers
	if src != nil {
		fsrc = fingers{src}
	}
	sim, err := fpc1020sim.New(fsrc, so)
	if err != nil {
		return err
	}
	dev.Sim = sim
	fo.Logger = env.Logger.Named(cfg.Name)
	return attachFPC1020(dev, sim.Port(), sim.ResetPin(), sim.IRQPin(), "simulator", fo)
}

func attachFPC1020(dev *Device, port spi.Port, reset gpio.PinOut, irq gpio.PinIn, where string, fo *fpc1020.Options) error {
	d, err := fpc1020.New(port, reset, irq, fo)
	if err != nil {
		return err
	}
	dev.Dev = d
	dev.Finger = fpcFinger{d}
	model := "FPC1020 (Fingerprint Cards)"
	if dev.Simulated {
		model += " (simulated)"
	}
	hz := fo.Hz
	if hz == 0 {
		hz = fpc1020.Hz
	}
	b := d.Bounds()
	dev.Info = Info{
		Model:    model,
		Firmware: "not reported (the sensor has a hardware id only)",
		Serial:   "not reported",
		Link:     fmt.Sprintf("SPI %s at %s, reset %s, IRQ %s", where, hz, reset, irq),
		Params: []Param{
			{"hardware id", fmt.Sprintf("0x%04X", d.HardwareID())},
			{"image", fmt.Sprintf("%dx%d, 8 bits a pixel", b.Dx(), b.Dy())},
			{"transfer", fmt.Sprintf("%d bytes at most", d.Chunk())},
		},
	}
	return nil
}

// fpcFinger adapts an FPC1020 to FingerSensor.
type fpcFinger struct{ d *fpc1020.Dev }

func (f fpcFinger) WaitFinger(ctx context.Context) error { return f.d.WaitFinger(ctx) }

func (f fpcFinger) CaptureImage(ctx context.Context) (image.Image, error) {
	if err := f.d.WaitFinger(ctx); err != nil {
		return nil, err
	}
	return f.d.Capture(ctx)
}

// The ArduCAM.

func arducamOptions(o *options, cfg config.Device) *arducam.Options {
	ao := &arducam.Options{Hz: spiHz(cfg), Chunk: o.int("chunk", 0, 2, 1<<20), Timeout: o.duration("timeout", 0)}
	if s := o.str("size", ""); s != "" {
		size, err := arducam.ParseSize(s)
		if err != nil {
			o.bad("size", s, "one of the OV2640 JPEG sizes, e.g. 800x600")
		}
		ao.Size = size
	}
	return ao
}

func openArduCAM(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	ao := arducamOptions(o, cfg)
	if err := o.err(); err != nil {
		return err
	}
	port, err := spiPort(cfg.Port)
	if err != nil {
		return err
	}
	dev.OnClose(port.Close)
	bus, err := i2cBus(cfg.Bus)
	if err != nil {
		return err
	}
	dev.OnClose(bus.Close)
	ao.Logger = env.Logger.Named(cfg.Name)
	return attachArduCAM(dev, port, bus, fmt.Sprintf("SPI %s, I2C %s", cfg.Port, cfg.Bus), ao)
}

func openSimArduCAM(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	ao := arducamOptions(o, cfg)
	rates, once := faultsOption(o, arducamsim.ParseFaults)
	scene, err := sceneOption(o)
	if err := o.err(); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	so := &arducamsim.Options{Faults: rates, Inject: once, Seed: o.uint64("seed", 1)}
	var src arducamsim.Scenes
	if scene != nil {
		src = scene
	}
	sim, err := arducamsim.New(src, so)
	if err != nil {
		return err
	}
	dev.Sim = sim
	ao.Logger = env.Logger.Named(cfg.Name)
	return attachArduCAM(dev, sim.Port(), sim.Bus(), "simulator", ao)
}

func attachArduCAM(dev *Device, port spi.Port, bus i2c.Bus, where string, ao *arducam.Options) error {
	d, err := arducam.New(port, bus, ao)
	if err != nil {
		return err
	}
	dev.Dev = d
	dev.Camera = arducamCamera{d}
	pid, ver := d.SensorID()
	model := "ArduCAM Mini 2MP Plus (OV2640)"
	if dev.Simulated {
		model += " (simulated)"
	}
	dev.Info = Info{
		Model:    model,
		Firmware: fmt.Sprintf("ArduChip revision 0x%02X", d.Revision()),
		Serial:   "not reported",
		Link:     where,
		Params: []Param{
			{"sensor id", fmt.Sprintf("0x%02X%02X", pid, ver)},
			{"JPEG size", d.Size().String()},
			{"transfer", fmt.Sprintf("%d bytes at most", d.Chunk())},
		},
	}
	return nil
}

// arducamCamera adapts an ArduCAM to Camera: it returns the sensor's own
// JPEG.
type arducamCamera struct{ d *arducam.Dev }

func (c arducamCamera) CaptureFrame(ctx context.Context) (image.Image, []byte, error) {
	jpg, err := c.d.Capture(ctx)
	return nil, jpg, err
}

// UVC cameras.

func uvcOptions(o *options) *uvc.Options {
	return &uvc.Options{
		Width:   o.int("width", 0, 16, 8192),
		Height:  o.int("height", 0, 16, 8192),
		Format:  strings.ToLower(o.str("format", "auto")),
		Timeout: o.duration("timeout", 0),
	}
}

func checkFormat(o *options, uo *uvc.Options) {
	switch uo.Format {
	case "auto", "mjpeg", "yuyv":
	default:
		o.bad("format", uo.Format, "auto, mjpeg or yuyv")
	}
}

func openSimUVC(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	uo := uvcOptions(o)
	checkFormat(o, uo)
	rates, once := faultsOption(o, uvcsim.ParseFaults)
	scene, err := sceneOption(o)
	if err := o.err(); err != nil {
		return err
	}
	if err != nil {
		return err
	}
	so := &uvcsim.Options{Faults: rates, Inject: once, Seed: o.uint64("seed", 1), WarmupBadFrames: 2}
	var src uvcsim.Scenes
	if scene != nil {
		src = scene
	}
	sim, err := uvcsim.New(src, so)
	if err != nil {
		return err
	}
	dev.Sim = sim
	uo.Logger = env.Logger.Named(cfg.Name)
	return attachUVC(dev, sim, "simulator", uo)
}

func attachUVC(dev *Device, src uvc.FrameSource, where string, uo *uvc.Options) error {
	cam, err := uvc.New(src, uo)
	if err != nil {
		return err
	}
	dev.OnClose(cam.Close)
	dev.Dev = cam
	dev.Camera = uvcCamera{cam}
	f, size := cam.Format()
	model := "USB Video Class camera"
	if dev.Simulated {
		model += " (simulated)"
	}
	dev.Info = Info{
		Model:    model,
		Firmware: "not reported",
		Serial:   "not reported",
		Link:     where,
		Params: []Param{
			{"format", f.String()},
			{"size", fmt.Sprintf("%dx%d", size.X, size.Y)},
		},
	}
	return nil
}

// uvcCamera adapts a UVC camera to Camera: MJPEG frames come back as JPEG
// (with the Huffman tables put back), YUYV as a decoded image.
type uvcCamera struct{ cam *uvc.Camera }

func (c uvcCamera) CaptureFrame(ctx context.Context) (image.Image, []byte, error) {
	img, frame, err := c.cam.CaptureFrame(ctx)
	if err != nil {
		return nil, nil, err
	}
	if frame.Format == uvc.MJPEG {
		if jpg, err := uvc.CompleteMJPEG(frame.Data); err == nil {
			return img, jpg, nil
		}
	}
	return img, nil, nil
}

// fileScene is a still image the simulated cameras look at.
type fileScene struct{ img image.Image }

func (s fileScene) Scene() (image.Image, error) { return s.img, nil }

// sceneOption reads the image option: a PNG, JPEG, TIFF or BMP file the
// simulated camera sees; unset means the simulator's built-in scene.
func sceneOption(o *options) (*fileScene, error) {
	path := o.str("image", "")
	if path == "" {
		return nil, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("options.image: %w", err)
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("options.image %s: not a PNG, JPEG, TIFF or BMP image: %w", path, err)
	}
	return &fileScene{img}, nil
}

// GPIO peripherals.

func openGPIOPresence(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	po := &presence.Options{Debounce: debounceOpt(o, 0), ActiveLow: activeLow(o)}
	if err := o.err(); err != nil {
		return err
	}
	pin, err := gpioPin(cfg, "in")
	if err != nil {
		return err
	}
	po.Logger = env.Logger.Named(cfg.Name)
	return attachPresence(dev, pin, po)
}

func openSimPresence(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	po := &presence.Options{Debounce: debounceOpt(o, 0)}
	interval := o.duration("interval", 20*time.Second)
	if err := o.err(); err != nil {
		return err
	}
	pin := gpiosim.NewPin("sim-presence", gpio.Low, nil)
	tr, err := gpiosim.NewTraveller(pin, &gpiosim.TravellerOptions{Interval: interval, Stay: interval * 3 / 2})
	if err != nil {
		return err
	}
	po.Logger = env.Logger.Named(cfg.Name)
	if err := attachPresence(dev, pin, po); err != nil {
		return err
	}
	dev.Sim = pin
	runSim(dev, tr.Run)
	dev.Info.Params = append(dev.Info.Params, Param{"traveller every", interval.String()})
	return nil
}

func attachPresence(dev *Device, pin gpio.PinIn, po *presence.Options) error {
	s, err := presence.New(pin, po)
	if err != nil {
		return err
	}
	dev.Dev = s
	dev.Info = Info{
		Model: gpioModel(dev, "presence sensor"), Firmware: "none", Serial: "none",
		Link:   fmt.Sprintf("GPIO %s, present when %s", pin, activeLevel(po.ActiveLow)),
		Params: []Param{{"present now", strconv.FormatBool(s.Present())}},
	}
	return nil
}

func openGPIOLED(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	lo := &statusled.Options{ActiveLow: activeLow(o)}
	if err := o.err(); err != nil {
		return err
	}
	var pins [3]gpio.PinOut
	for i, role := range []string{"red", "green", "blue"} {
		if _, ok := cfg.Pins[role]; !ok {
			continue
		}
		p, err := gpioPin(cfg, role)
		if err != nil {
			return err
		}
		pins[i] = p
	}
	lo.Logger = env.Logger.Named(cfg.Name)
	return attachLED(dev, pins, lo)
}

func openSimLED(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	log := env.Logger.Named(cfg.Name)
	var pins [3]gpio.PinOut
	var sims [3]*gpiosim.Pin
	for i, colour := range []string{"red", "green", "blue"} {
		p := gpiosim.NewPin("sim-led-"+colour, gpio.Low, nil)
		p.OnOut(func(l gpio.Level, _ gpio.Duty) {
			log.Debug("simulated LED die", zap.String("die", colour), zap.Bool("on", bool(l)))
		})
		pins[i] = p
		sims[i] = p
	}
	dev.Sim = sims
	return attachLED(dev, pins, &statusled.Options{Logger: log})
}

func attachLED(dev *Device, pins [3]gpio.PinOut, lo *statusled.Options) error {
	led, err := statusled.New(pins[0], pins[1], pins[2], lo)
	if err != nil {
		return err
	}
	dev.Dev = led
	var wired []string
	for _, c := range []statusled.Color{statusled.Red, statusled.Green, statusled.Blue} {
		if led.Supports(c) {
			wired = append(wired, c.String())
		}
	}
	dev.Info = Info{
		Model: gpioModel(dev, "tri-colour status LED"), Firmware: "none", Serial: "none",
		Link:   led.String() + ", lit when " + activeLevel(lo.ActiveLow),
		Params: []Param{{"dies", strings.Join(wired, ", ")}},
	}
	return nil
}

func openGPIOIllumination(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	io := &illumination.Options{ActiveLow: activeLow(o)}
	if err := o.err(); err != nil {
		return err
	}
	pin, err := gpioPin(cfg, "out")
	if err != nil {
		return err
	}
	return attachIllumination(dev, pin, io)
}

func openSimIllumination(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	log := env.Logger.Named(cfg.Name)
	pin := gpiosim.NewPin("sim-illumination", gpio.Low, nil)
	dev.Sim = pin
	pin.OnOut(func(l gpio.Level, d gpio.Duty) {
		log.Debug("simulated face light", zap.Bool("on", bool(l)), zap.Stringer("duty", d))
	})
	return attachIllumination(dev, pin, &illumination.Options{PWMFrequency: illumination.DefaultPWMFrequency})
}

func attachIllumination(dev *Device, pin gpio.PinOut, io *illumination.Options) error {
	l, err := illumination.New(pin, io)
	if err != nil {
		return err
	}
	dev.Dev = l
	dev.OnClose(l.Off)
	dev.Info = Info{
		Model: gpioModel(dev, "face illumination LED"), Firmware: "none", Serial: "none",
		Link: fmt.Sprintf("GPIO %s, lit when %s", pin, activeLevel(io.ActiveLow)),
	}
	return nil
}

func openGPIOTamper(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	to := &tamper.Options{Debounce: debounceOpt(o, 0), ActiveLow: activeLow(o)}
	if err := o.err(); err != nil {
		return err
	}
	pin, err := gpioPin(cfg, "in")
	if err != nil {
		return err
	}
	to.Logger = env.Logger.Named(cfg.Name)
	return attachTamper(dev, pin, to)
}

func openSimTamper(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	pin := gpiosim.NewPin("sim-tamper", gpio.Low, nil) // enclosure closed
	dev.Sim = pin
	return attachTamper(dev, pin, &tamper.Options{Logger: env.Logger.Named(cfg.Name)})
}

func attachTamper(dev *Device, pin gpio.PinIn, to *tamper.Options) error {
	sw, err := tamper.New(pin, to)
	if err != nil {
		return err
	}
	dev.Dev = sw
	dev.Info = Info{
		Model: gpioModel(dev, "tamper switch"), Firmware: "none", Serial: "none",
		Link:   fmt.Sprintf("GPIO %s, open when %s", pin, activeLevel(to.ActiveLow)),
		Params: []Param{{"open now", strconv.FormatBool(sw.Open())}, {"tampered", strconv.FormatBool(sw.Tampered())}},
	}
	return nil
}

func gpioModel(dev *Device, what string) string {
	if dev.Simulated {
		return what + " (simulated)"
	}
	return what + " (GPIO)"
}
