// Package pinplay is a scripted gpio.PinIO for driver tests, in the spirit
// of periph's conntest.Playback: the test lists the levels (and PWM duties)
// the driver must write, in order, and the edges the pin will see, each at a
// given time; Close reports any write that did not match and any scripted
// write or edge that never happened.
//
// Edge times run on a drvtime.Virtual clock shared with the driver, so a
// debounce window of 50 ms or a 1.3 s IRQ timeout costs no wall time:
// WaitForEdge jumps the clock to the next edge, or by the whole timeout when
// no edge is due within it. periph's gpiotest.Pin does the same job with a
// real or clockwork clock and a channel; it is used where a test wants a
// free-running pin, this one where the order and timing of every event is
// part of what is tested.
package pinplay

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// Edge is a level change the pin sees At after the driver first configured
// it for edge detection.
type Edge struct {
	At time.Duration
	L  gpio.Level
}

// PWM is one expected PWM call.
type PWM struct {
	Duty gpio.Duty
	F    physic.Frequency
}

// Pin is a scripted pin. Set the exported fields before handing it to the
// driver and do not change them afterwards.
type Pin struct {
	// N is the pin's name.
	N string
	// Clock is the virtual clock edges are scheduled on; it must be the one
	// the driver under test uses, if the driver uses one.
	Clock *drvtime.Virtual
	// L is the level before any edge or write.
	L gpio.Level
	// Outs are the levels the driver must write with Out, in order.
	Outs []gpio.Level
	// PWMs are the PWM calls the driver must make, in order.
	PWMs []PWM
	// Edges are the level changes the pin sees, in time order.
	Edges []Edge
	// NoPWM makes PWM fail as on a pin without hardware PWM.
	NoPWM bool

	mu       sync.Mutex
	started  bool
	start    time.Time
	outs     int
	pwms     int
	edges    int
	pull     gpio.Pull
	edge     gpio.Edge
	errs     []error
	halt     chan struct{}
	haltOnce sync.Once
}

// String implements conn.Resource.
func (p *Pin) String() string { return p.N }

// Halt implements conn.Resource; it wakes a WaitForEdge(-1).
func (p *Pin) Halt() error {
	p.haltOnce.Do(func() {
		p.mu.Lock()
		if p.halt == nil {
			p.halt = make(chan struct{})
		}
		close(p.halt)
		p.mu.Unlock()
	})
	return nil
}

// Name implements pin.Pin.
func (p *Pin) Name() string { return p.N }

// Number implements pin.Pin.
func (p *Pin) Number() int { return -1 }

// Function implements pin.Pin.
func (p *Pin) Function() string { return "" }

// Func implements pin.PinFunc.
func (p *Pin) Func() pin.Func { return pin.FuncNone }

// SupportedFuncs implements pin.PinFunc.
func (p *Pin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }

// SetFunc implements pin.PinFunc.
func (p *Pin) SetFunc(pin.Func) error { return errors.New("pinplay: SetFunc not supported") }

// In implements gpio.PinIn. The first call with edge detection starts the
// edge schedule.
func (p *Pin) In(pull gpio.Pull, edge gpio.Edge) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pull, p.edge = pull, edge
	if edge != gpio.NoEdge && !p.started {
		p.started = true
		p.start = p.now()
	}
	return nil
}

// Read implements gpio.PinIn.
func (p *Pin) Read() gpio.Level {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.L
}

// Set changes the level at once, as the device behind the pin would (an
// interrupt line dropping when its register is read); it is not an edge.
func (p *Pin) Set(l gpio.Level) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.L = l
}

// WaitForEdge implements gpio.PinIn on the virtual clock.
func (p *Pin) WaitForEdge(timeout time.Duration) bool {
	p.mu.Lock()
	if p.edge == gpio.NoEdge {
		p.errs = append(p.errs, fmt.Errorf("pinplay: %s: WaitForEdge called without edge detection set by In", p.N))
		p.mu.Unlock()
		return false
	}
	if p.edges >= len(p.Edges) {
		if timeout < 0 {
			if p.halt == nil {
				p.halt = make(chan struct{})
			}
			h := p.halt
			p.mu.Unlock()
			<-h
			return false
		}
		p.advance(timeout)
		p.mu.Unlock()
		return false
	}
	next := p.Edges[p.edges]
	due := p.start.Add(next.At)
	now := p.now()
	if wait := due.Sub(now); timeout >= 0 && wait > timeout {
		p.advance(timeout)
		p.mu.Unlock()
		return false
	} else if wait > 0 {
		p.advance(wait)
	}
	p.L = next.L
	p.edges++
	p.mu.Unlock()
	return true
}

// Pull implements gpio.PinIn.
func (p *Pin) Pull() gpio.Pull {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pull
}

// DefaultPull implements gpio.PinIn.
func (p *Pin) DefaultPull() gpio.Pull { return gpio.Float }

// Out implements gpio.PinOut and checks l against the script.
func (p *Pin) Out(l gpio.Level) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.outs >= len(p.Outs) {
		err := fmt.Errorf("pinplay: %s: unexpected Out(%s) (write #%d; script has %d)", p.N, l, p.outs, len(p.Outs))
		p.errs = append(p.errs, err)
		return err
	}
	if want := p.Outs[p.outs]; l != want {
		err := fmt.Errorf("pinplay: %s: write #%d is Out(%s), want Out(%s)", p.N, p.outs, l, want)
		p.errs = append(p.errs, err)
		return err
	}
	p.outs++
	p.L = l
	return nil
}

// PWM implements gpio.PinOut and checks the call against the script.
func (p *Pin) PWM(duty gpio.Duty, f physic.Frequency) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.NoPWM {
		return errors.New("pinplay: PWM not supported on this pin")
	}
	if p.pwms >= len(p.PWMs) {
		err := fmt.Errorf("pinplay: %s: unexpected PWM(%s, %s)", p.N, duty, f)
		p.errs = append(p.errs, err)
		return err
	}
	if want := p.PWMs[p.pwms]; duty != want.Duty || f != want.F {
		err := fmt.Errorf("pinplay: %s: PWM call #%d is PWM(%s, %s), want PWM(%s, %s)", p.N, p.pwms, duty, f, want.Duty, want.F)
		p.errs = append(p.errs, err)
		return err
	}
	p.pwms++
	p.L = duty > 0
	return nil
}

// Close reports mismatched writes and scripted events that never happened.
func (p *Pin) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	errs := append([]error(nil), p.errs...)
	if p.outs != len(p.Outs) {
		errs = append(errs, fmt.Errorf("pinplay: %s: %d of %d scripted writes happened", p.N, p.outs, len(p.Outs)))
	}
	if p.pwms != len(p.PWMs) {
		errs = append(errs, fmt.Errorf("pinplay: %s: %d of %d scripted PWM calls happened", p.N, p.pwms, len(p.PWMs)))
	}
	if p.edges != len(p.Edges) {
		errs = append(errs, fmt.Errorf("pinplay: %s: %d of %d scripted edges were consumed", p.N, p.edges, len(p.Edges)))
	}
	return errors.Join(errs...)
}

func (p *Pin) now() time.Time {
	if p.Clock == nil {
		p.Clock = drvtime.NewVirtual(time.Time{})
	}
	return p.Clock.Now()
}

func (p *Pin) advance(d time.Duration) {
	if d > 0 {
		p.now()
		p.Clock.Advance(d)
	}
}

var _ gpio.PinIO = (*Pin)(nil)
