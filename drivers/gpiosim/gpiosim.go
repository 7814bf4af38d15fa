// Package gpiosim simulates the kiosk's GPIO peripherals for development,
// tests and the demo: a Pin that a simulator drives (a presence sensor's
// output, a tamper switch) or that a driver drives (status LED,
// illumination), and a Traveller that walks travellers past a presence
// sensor, with the contact bounce real sensors have.
//
// Pin implements periph's gpio.PinIO and honours In, Read, WaitForEdge,
// Out and PWM; time comes from an injected clock. Unlike periph's
// gpiotest.Pin it needs no channel set up front and records the levels
// written to it.
package gpiosim

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// Clock is the simulation's time source; agent/clock.Clock satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// maxHistory bounds the recorded writes.
const maxHistory = 1024

// Pin is a simulated GPIO pin. It is safe for concurrent use.
type Pin struct {
	name string
	clk  Clock

	mu      sync.Mutex
	input   bool
	level   gpio.Level
	pull    gpio.Pull
	edge    gpio.Edge
	pending []gpio.Level
	wake    context.CancelFunc
	duty    gpio.Duty
	freq    physic.Frequency
	history []gpio.Level
	onOut   func(gpio.Level, gpio.Duty)
}

// NewPin returns a pin named name at level initial. A nil clock means the
// wall clock.
func NewPin(name string, initial gpio.Level, clk Clock) *Pin {
	return &Pin{name: name, level: initial, clk: drvtime.Or(clk)}
}

// OnOut sets a function called with each level (and PWM duty, DutyMax for
// a plain Out(High)) a driver writes; the demo logs LED changes with it.
func (p *Pin) OnOut(f func(gpio.Level, gpio.Duty)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.onOut = f
}

// Drive sets the level as the device behind the pin would, queueing an
// edge for WaitForEdge when it changes and edge detection asks for it.
func (p *Pin) Drive(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if l == p.level {
		return
	}
	p.level = l
	if p.edge == gpio.BothEdges || (p.edge == gpio.RisingEdge && l) || (p.edge == gpio.FallingEdge && !l) {
		p.pending = append(p.pending, l)
		if p.wake != nil {
			p.wake()
		}
	}
}

// History returns the levels written with Out and PWM, oldest first (the
// last 1024).
func (p *Pin) History() []gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]gpio.Level(nil), p.history...)
}

// Duty returns the last PWM duty written (DutyMax after Out(High), 0 after
// Out(Low)).
func (p *Pin) Duty() gpio.Duty {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.duty
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.name }

// Halt implements conn.Resource: it wakes a pending WaitForEdge.
func (p *Pin) Halt() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.wake != nil {
		p.wake()
	}
	return nil
}

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.name }

// Number implements pin.Pin.
func (p *Pin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *Pin) Function() string { return string(p.Func()) }

// Func implements pin.PinFunc: IN once In was called, OUT once Out or PWM
// was.
func (p *Pin) Func() pin.Func {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.input {
		return gpio.IN
	}
	return gpio.OUT
}

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc.
func (p *Pin) SetFunc(pin.Func) error {
	return errors.New("gpiosim: SetFunc not supported; use In or Out")
}

// In implements gpio.PinIn.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.input, p.pull, p.edge, p.pending = true, pull, edge, nil
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.level
}

// WaitForEdge implements gpio.PinIn.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	if p.edge == gpio.NoEdge {
		p.mu.Unlock()
		return false
	}
	if len(p.pending) > 0 {
		p.pending = p.pending[1:]
		p.mu.Unlock()
		return true
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.wake = cancel
	p.mu.Unlock()
	if timeout < 0 {
		<-ctx.Done()
	} else {
		_ = p.clk.Sleep(ctx, timeout)
	}
	cancel()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.wake = nil
	if len(p.pending) > 0 {
		p.pending = p.pending[1:]
		return true
	}
	return false
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut.
func (p *Pin) Out(l gpio.Level) error {
	d := gpio.Duty(0)
	if l {
		d = gpio.DutyMax
	}
	p.write(l, d, 0)
	return nil
}

// PWM implements gpio.PinOut.
func (p *Pin) PWM(duty gpio.Duty, f physic.Frequency) error {
	if duty < 0 || duty > gpio.DutyMax {
		return fmt.Errorf("gpiosim: duty %d out of range", duty)
	}
	p.write(duty > 0, duty, f)
	return nil
}

func (p *Pin) write(l gpio.Level, d gpio.Duty, f physic.Frequency) {
	p.mu.Lock()
	p.input, p.edge, p.pull = false, gpio.NoEdge, gpio.PullNoChange
	p.level, p.duty, p.freq = l, d, f
	p.history = append(p.history, l)
	if len(p.history) > maxHistory {
		p.history = p.history[len(p.history)-maxHistory:]
	}
	cb := p.onOut
	p.mu.Unlock()
	if cb != nil {
		cb(l, d)
	}
}

var _ gpio.PinIO = (*Pin)(nil)
