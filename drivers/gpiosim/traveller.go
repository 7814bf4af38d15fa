package gpiosim

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// TravellerOptions configure a Traveller; zero fields take the defaults of
// DefaultTravellerOptions.
type TravellerOptions struct {
	// Interval is the time from one traveller leaving to the next
	// arriving; default 20 s.
	Interval time.Duration
	// Stay is how long each traveller stays; default 30 s.
	Stay time.Duration
	// Bounces is how many short glitches accompany each arrival and
	// departure, as a mat or beam gives; default 3. Negative means none.
	Bounces int
	// ActiveLow drives low for "present".
	ActiveLow bool
	// Seed seeds the jitter of times and bounces.
	Seed uint64
	// Clock is the simulation's time; nil means the wall clock.
	Clock Clock
}

// DefaultTravellerOptions returns the options nil stands for.
func DefaultTravellerOptions() *TravellerOptions {
	return &TravellerOptions{Interval: 20 * time.Second, Stay: 30 * time.Second, Bounces: 3}
}

// Traveller walks simulated travellers past a presence sensor's pin.
type Traveller struct {
	pin  *Pin
	opts TravellerOptions
	clk  Clock
	rng  *rand.Rand
}

// NewTraveller returns a Traveller driving pin.
func NewTraveller(pin *Pin, opts *TravellerOptions) (*Traveller, error) {
	if pin == nil {
		return nil, errors.New("gpiosim: NewTraveller needs a pin")
	}
	o := DefaultTravellerOptions()
	if opts != nil {
		if opts.Interval != 0 {
			o.Interval = opts.Interval
		}
		if opts.Stay != 0 {
			o.Stay = opts.Stay
		}
		if opts.Bounces != 0 {
			o.Bounces = max(0, opts.Bounces)
		}
		o.ActiveLow, o.Seed, o.Clock = opts.ActiveLow, opts.Seed, opts.Clock
	}
	if o.Interval < 0 || o.Stay < 0 {
		return nil, fmt.Errorf("gpiosim: interval %v and stay %v must not be negative", o.Interval, o.Stay)
	}
	t := &Traveller{pin: pin, opts: *o, clk: o.Clock, rng: rand.New(rand.NewPCG(o.Seed, o.Seed+1))}
	if t.clk == nil {
		t.clk = pin.clk
	}
	pin.Drive(gpio.Level(o.ActiveLow)) // nobody there
	return t, nil
}

// Run walks travellers past until ctx ends; it returns nil then.
func (t *Traveller) Run(ctx context.Context) error {
	present := gpio.Level(!t.opts.ActiveLow)
	for {
		if err := t.clk.Sleep(ctx, t.jitter(t.opts.Interval)); err != nil {
			return nil
		}
		if err := t.change(ctx, present); err != nil {
			return nil
		}
		if err := t.clk.Sleep(ctx, t.jitter(t.opts.Stay)); err != nil {
			return nil
		}
		if err := t.change(ctx, !present); err != nil {
			return nil
		}
	}
}

// change moves the line to l with a few millisecond-long bounces first.
func (t *Traveller) change(ctx context.Context, l gpio.Level) error {
	for range t.opts.Bounces {
		t.pin.Drive(l)
		if err := t.clk.Sleep(ctx, time.Duration(1+t.rng.IntN(4))*time.Millisecond); err != nil {
			return err
		}
		t.pin.Drive(!l)
		if err := t.clk.Sleep(ctx, time.Duration(1+t.rng.IntN(4))*time.Millisecond); err != nil {
			return err
		}
	}
	t.pin.Drive(l)
	return nil
}

// jitter varies d by up to a quarter either way.
func (t *Traveller) jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return 0
	}
	q := int64(d / 4)
	if q == 0 {
		return d
	}
	return d - time.Duration(q) + time.Duration(t.rng.Int64N(2*q+1))
}
