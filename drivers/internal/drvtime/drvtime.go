// Package drvtime gives the drivers and simulators under drivers/ a time
// source they can be handed, without importing agent/ (drivers know periph
// and their protocol only). Each driver declares the two-method Clock it
// needs; agent/clock.Clock satisfies it, and so do the clocks here: Real for
// production and Virtual for tests and simulators that must not sleep.
package drvtime

import (
	"context"
	"sync"
	"time"
)

// Clock is the shape every driver's Clock interface has.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Real returns the wall clock.
func Real() Clock { return realClock{} }

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

func (realClock) Sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Or returns c, or the wall clock when c is nil.
func Or(c Clock) Clock {
	if c == nil {
		return Real()
	}
	return c
}

// Virtual is a clock whose Sleep returns at once after moving its time
// forward by the duration asked for. A driver polling a register every 5 ms
// with a 2 s deadline therefore runs its whole loop, deadline included, in
// microseconds and with a repeatable number of polls. It is safe for
// concurrent use; concurrent sleepers each advance the shared time.
type Virtual struct {
	mu    sync.Mutex
	now   time.Time
	slept time.Duration
}

// NewVirtual returns a Virtual clock set to start; a zero start means
// 2026-01-01T00:00:00Z.
func NewVirtual(start time.Time) *Virtual {
	if start.IsZero() {
		start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return &Virtual{now: start}
}

// Now returns the virtual time.
func (v *Virtual) Now() time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.now
}

// Sleep advances the virtual time by d and returns ctx.Err(), so a
// cancelled context still stops a polling loop.
func (v *Virtual) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d > 0 {
		v.Advance(d)
	}
	return nil
}

// Advance moves the virtual time forward by d.
func (v *Virtual) Advance(d time.Duration) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.now = v.now.Add(d)
	v.slept += d
}

// Slept returns the total time slept or advanced since the clock was made.
func (v *Virtual) Slept() time.Duration {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.slept
}
