// Package devices is the one place where kioskd and kioskctl turn a
// config.Device into a working driver (or a simulator and the real driver
// on top of it). Each group of drivers lives in its own file and
// contributes an openers table; table joins them. A Device carries what the
// rest of the program needs: an Info for kioskctl probe, the capability its
// role needs (Finger, Camera) and a Close that releases the port and stops
// any simulator.
package devices

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/config"
	"go.uber.org/zap"
)

// ErrUnavailable means the driver is valid in the config but this build has
// no opener for it.
var ErrUnavailable = errors.New("driver not available in this build")

// Env is what openers get from the program besides the config entry.
type Env struct {
	// Logger; nil means zap.NewNop().
	Logger *zap.Logger
}

// opener opens one driver's device. It fills dev (Info, capabilities,
// closers); on error, Open runs the closers added so far.
type opener func(ctx context.Context, cfg config.Device, env *Env, dev *Device) error

// table maps every driver name to its opener; each file of this package
// contributes its own map.
var table = join(uartOpeners, periphOpeners)

func join(tables ...map[string]opener) map[string]opener {
	all := map[string]opener{}
	for _, t := range tables {
		for name, o := range t {
			all[name] = o
		}
	}
	return all
}

// FingerSensor is a fingerprint sensor as capture and kioskctl need it.
type FingerSensor interface {
	// WaitFinger returns when a finger is on the sensor (or ctx is done).
	WaitFinger(ctx context.Context) error
	// CaptureImage takes the finger image and downloads it.
	CaptureImage(ctx context.Context) (image.Image, error)
}

// Camera is a face camera as capture and kioskctl need it.
type Camera interface {
	// CaptureFrame returns one frame: jpegData is non-nil when the camera
	// encodes JPEG itself (img may then be nil); otherwise img is set.
	CaptureFrame(ctx context.Context) (img image.Image, jpegData []byte, err error)
}

// Param is one named value in an Info, kept in display order.
type Param struct {
	Name, Value string
}

// Info describes an opened device for kioskctl probe and the logs.
type Info struct {
	Model    string
	Firmware string
	Serial   string
	// Link says how the device is reached: port, speed, bus, simulator.
	Link   string
	Params []Param
}

// Device is an opened device.
type Device struct {
	Name      string
	Driver    string
	Role      config.DeviceRole
	Simulated bool
	Info      Info
	// Finger is set for fingerprint sensors, Camera for face cameras.
	Finger FingerSensor
	Camera Camera
	// Dev is the driver instance (e.g. *r30x.Dev); roles without a field
	// above are reached through it with a type assertion.
	Dev any
	// Sim is the simulator behind a simulated device (e.g. *r30xsim.Sim),
	// so tests and demos can inject faults or lift the finger; nil for
	// real hardware.
	Sim any

	closers []func() error
}

// OnClose adds f to what Close runs (in reverse order of adding).
func (d *Device) OnClose(f func() error) { d.closers = append(d.closers, f) }

// Close releases the device: ports closed, simulators stopped.
func (d *Device) Close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		if err := d.closers[i](); err != nil {
			errs = append(errs, err)
		}
	}
	d.closers = nil
	return errors.Join(errs...)
}

// Drivers returns the names of the drivers this build can open.
func Drivers() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// Open opens the device cfg describes. Errors name the device, the driver
// and the port, and say what to check.
func Open(ctx context.Context, cfg config.Device, env *Env) (*Device, error) {
	if env == nil {
		env = &Env{}
	}
	if env.Logger == nil {
		env = &Env{Logger: zap.NewNop()}
	}
	spec, ok := config.Drivers[cfg.Driver]
	if !ok {
		return nil, fmt.Errorf("devices: %s: unknown driver %q; want one of %s", cfg.Name, cfg.Driver, strings.Join(Drivers(), ", "))
	}
	op, ok := table[cfg.Driver]
	if !ok {
		return nil, fmt.Errorf("devices: %s: driver %s: %w (this build opens %s)", cfg.Name, cfg.Driver, ErrUnavailable, strings.Join(Drivers(), ", "))
	}
	dev := &Device{Name: cfg.Name, Driver: cfg.Driver, Role: spec.Role, Simulated: spec.Simulated}
	if err := op(ctx, cfg, env, dev); err != nil {
		dev.Close()
		where := cfg.Driver
		if cfg.Port != "" {
			where += " on " + cfg.Port
		}
		return nil, fmt.Errorf("devices: %s (%s): %w", cfg.Name, where, err)
	}
	return dev, nil
}
