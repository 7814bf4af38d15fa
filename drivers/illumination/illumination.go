package illumination

import (
	"errors"
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
)

// Options configure a Light; zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// ActiveLow lights the LED on a low output.
	ActiveLow bool
	// PWMFrequency enables dimming by PWM at this frequency; 0 means on/off
	// only.
	PWMFrequency physic.Frequency
}

// DefaultOptions returns the options nil stands for: active high, on/off.
func DefaultOptions() *Options { return &Options{} }

// DefaultPWMFrequency is a flicker-free PWM frequency for dimming.
const DefaultPWMFrequency = 20 * physic.KiloHertz

// Light is the face illumination LED. Its methods are safe for concurrent
// use.
type Light struct {
	pin   gpio.PinOut
	opts  Options
	mu    sync.Mutex
	level float64
}

// New takes the light's output pin and turns the light off.
func New(pin gpio.PinOut, opts *Options) (*Light, error) {
	if pin == nil {
		return nil, errors.New("illumination: New needs a pin")
	}
	o := DefaultOptions()
	if opts != nil {
		*o = *opts
	}
	if o.PWMFrequency < 0 {
		return nil, fmt.Errorf("illumination: PWM frequency %s is negative", o.PWMFrequency)
	}
	l := &Light{pin: pin, opts: *o}
	if err := l.Set(0); err != nil {
		return nil, err
	}
	return l, nil
}

// String names the light's pin.
func (l *Light) String() string { return fmt.Sprintf("illumination(%s)", l.pin) }

// On lights the LED fully.
func (l *Light) On() error { return l.Set(1) }

// Off turns the LED off.
func (l *Light) Off() error { return l.Set(0) }

// Halt implements conn.Resource: it turns the LED off.
func (l *Light) Halt() error { return l.Off() }

// Level returns the level last set, 0 to 1.
func (l *Light) Level() float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.level
}

// Set sets the brightness from 0 (off) to 1 (full). Between the two it
// dims by PWM when Options.PWMFrequency is set, else it lights fully.
func (l *Light) Set(level float64) error {
	if math.IsNaN(level) || level < 0 || level > 1 {
		return fmt.Errorf("illumination: level %v is outside 0-1", level)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	on := gpio.Level(!l.opts.ActiveLow)
	var err error
	switch {
	case level == 0:
		err = l.pin.Out(!on)
	case level == 1 || l.opts.PWMFrequency == 0:
		err = l.pin.Out(on)
	default:
		duty := gpio.Duty(math.Round(level * float64(gpio.DutyMax)))
		if l.opts.ActiveLow {
			duty = gpio.DutyMax - duty
		}
		if perr := l.pin.PWM(duty, l.opts.PWMFrequency); perr != nil {
			// Fall back to full on, and say why the light is not dimmed.
			if oerr := l.pin.Out(on); oerr != nil {
				return fmt.Errorf("illumination: cannot drive %s: %w", l.pin, oerr)
			}
			l.level = 1
			return fmt.Errorf("illumination: %s refused PWM at %s, lit fully instead (use a hardware-PWM pin or clear the PWM frequency): %w", l.pin, l.opts.PWMFrequency, perr)
		}
	}
	if err != nil {
		return fmt.Errorf("illumination: cannot drive %s: %w", l.pin, err)
	}
	l.level = level
	if level > 0 && level < 1 && l.opts.PWMFrequency == 0 {
		l.level = 1
	}
	return nil
}
