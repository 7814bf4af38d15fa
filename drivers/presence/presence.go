package presence

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/internal/debounce"
	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// Clock stamps events; agent/clock.Clock satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure a Sensor; zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// Debounce is how long the line must be quiet before a change counts;
	// default 50 ms. Negative means none.
	Debounce time.Duration
	// ActiveLow means a low line is "present" (default: high is present).
	ActiveLow bool
	// Pull is the pull resistor to set; default gpio.PullNoChange.
	Pull gpio.Pull
	// Clock stamps events; nil means the wall clock.
	Clock Clock
	// Logger receives debug logs; nil means none.
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{Debounce: 50 * time.Millisecond, Pull: gpio.PullNoChange}
}

// Event is a settled change of presence.
type Event struct {
	// Present is true when a traveller arrived, false when they left.
	Present bool
	// At is when the change settled.
	At time.Time
}

// Sensor is a presence sensor. Run delivers its events on Events.
type Sensor struct {
	in      *debounce.Input
	pin     gpio.PinIn
	active  gpio.Level
	clk     Clock
	log     *zap.Logger
	events  chan Event
	mu      sync.Mutex
	present bool
	running bool
}

// New configures pin as an input with edge detection and reads the
// current state.
func New(pin gpio.PinIn, opts *Options) (*Sensor, error) {
	o := DefaultOptions()
	if opts != nil {
		if opts.Debounce != 0 {
			o.Debounce = max(0, opts.Debounce)
		}
		o.ActiveLow = opts.ActiveLow
		if opts.Pull != 0 {
			o.Pull = opts.Pull
		}
		o.Clock, o.Logger = opts.Clock, opts.Logger
	}
	if pin == nil {
		return nil, errors.New("presence: New needs a pin")
	}
	in, err := debounce.New(pin, o.Pull, o.Debounce)
	if err != nil {
		return nil, fmt.Errorf("presence: %w", err)
	}
	s := &Sensor{
		in: in, pin: pin, active: gpio.Level(!o.ActiveLow), clk: drvtime.Or(o.Clock),
		log: o.Logger, events: make(chan Event, 8),
	}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.present = in.Level() == s.active
	return s, nil
}

// String names the sensor's pin.
func (s *Sensor) String() string { return fmt.Sprintf("presence(%s)", s.pin) }

// Present reports the settled state.
func (s *Sensor) Present() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.present
}

// Events returns the channel Run sends events on. Run blocks when nobody
// reads it and its buffer of 8 is full.
func (s *Sensor) Events() <-chan Event { return s.events }

// Run watches the line until ctx ends, sending each settled change on
// Events. It returns nil when ctx ends; only one Run may be active.
func (s *Sensor) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("presence: Run is already running")
	}
	s.running = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.running = false
		s.mu.Unlock()
	}()
	for {
		l, err := s.in.Next(ctx)
		if err != nil {
			return nil // ctx ended
		}
		ev := Event{Present: l == s.active, At: s.clk.Now()}
		s.mu.Lock()
		s.present = ev.Present
		s.mu.Unlock()
		s.log.Debug("presence changed", zap.Bool("present", ev.Present))
		select {
		case s.events <- ev:
		case <-ctx.Done():
			return nil
		}
	}
}
