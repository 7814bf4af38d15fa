package tamper

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

// Options configure a Switch; zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// Debounce is how long the line must be quiet before a change counts;
	// default 20 ms. Negative means none.
	Debounce time.Duration
	// ActiveLow means a low line is "open" (default: high is open).
	ActiveLow bool
	// Pull is the pull resistor to set; default gpio.PullUp (a cut wire
	// then reads as open).
	Pull gpio.Pull
	// Clock stamps events; nil means the wall clock.
	Clock Clock
	// Logger receives warnings on each opening; nil means none.
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{Debounce: 20 * time.Millisecond, Pull: gpio.PullUp}
}

// Event is a settled change of the switch.
type Event struct {
	// Open is true when the enclosure opened, false when it closed.
	Open bool
	// At is when the change settled.
	At time.Time
}

// Switch is a tamper switch. Run delivers its events on Events.
type Switch struct {
	in      *debounce.Input
	pin     gpio.PinIn
	open    gpio.Level
	clk     Clock
	log     *zap.Logger
	events  chan Event
	mu      sync.Mutex
	isOpen  bool
	latched bool
	running bool
}

// New configures pin as an input with edge detection. An enclosure that is
// open already is latched as tampered.
func New(pin gpio.PinIn, opts *Options) (*Switch, error) {
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
		return nil, errors.New("tamper: New needs a pin")
	}
	in, err := debounce.New(pin, o.Pull, o.Debounce)
	if err != nil {
		return nil, fmt.Errorf("tamper: %w", err)
	}
	s := &Switch{in: in, pin: pin, open: gpio.Level(!o.ActiveLow), clk: drvtime.Or(o.Clock), log: o.Logger, events: make(chan Event, 8)}
	if s.log == nil {
		s.log = zap.NewNop()
	}
	s.isOpen = in.Level() == s.open
	s.latched = s.isOpen
	if s.isOpen {
		s.log.Warn("tamper switch open at start", zap.Stringer("pin", pin))
	}
	return s, nil
}

// String names the switch's pin.
func (s *Switch) String() string { return fmt.Sprintf("tamper(%s)", s.pin) }

// Open reports whether the enclosure is open now.
func (s *Switch) Open() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.isOpen
}

// Tampered reports whether the enclosure has been open since the last
// Clear (or since New).
func (s *Switch) Tampered() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latched
}

// Clear acknowledges an opening. It fails while the enclosure is still
// open, which stays latched.
func (s *Switch) Clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.isOpen {
		return errors.New("tamper: the enclosure is still open; close it before clearing the alarm")
	}
	s.latched = false
	return nil
}

// Events returns the channel Run sends events on. Run blocks when nobody
// reads it and its buffer of 8 is full.
func (s *Switch) Events() <-chan Event { return s.events }

// Run watches the switch until ctx ends, sending each settled change on
// Events. It returns nil when ctx ends; only one Run may be active.
func (s *Switch) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running {
		s.mu.Unlock()
		return errors.New("tamper: Run is already running")
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
			return nil
		}
		ev := Event{Open: l == s.open, At: s.clk.Now()}
		s.mu.Lock()
		s.isOpen = ev.Open
		if ev.Open {
			s.latched = true
		}
		s.mu.Unlock()
		if ev.Open {
			s.log.Warn("tamper switch opened", zap.Stringer("pin", s.pin))
		} else {
			s.log.Info("tamper switch closed", zap.Stringer("pin", s.pin))
		}
		select {
		case s.events <- ev:
		case <-ctx.Done():
			return nil
		}
	}
}
