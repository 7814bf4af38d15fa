// Package debounce turns the raw edges of a GPIO input (a presence beam, a
// tamper switch) into settled level changes: after an edge the level must
// stay unchanged for a quiet window before it counts, so contact bounce and
// brief glitches produce no event. It waits on the pin's own WaitForEdge,
// in slices so a cancelled context is seen promptly.
package debounce

import (
	"context"
	"errors"
	"fmt"
	"time"

	"periph.io/x/conn/v3/gpio"
)

// Slice bounds one WaitForEdge call while nothing happens.
const Slice = 100 * time.Millisecond

// Input is a debounced input. It is not safe for concurrent use: one
// goroutine calls Next.
type Input struct {
	pin    gpio.PinIn
	window time.Duration
	level  gpio.Level
}

// New configures pin as an input with pull and edge detection on both
// edges, and takes its current level as the settled one.
func New(pin gpio.PinIn, pull gpio.Pull, window time.Duration) (*Input, error) {
	if pin == nil {
		return nil, errors.New("no pin")
	}
	if window < 0 {
		return nil, fmt.Errorf("debounce window %v is negative", window)
	}
	if err := pin.In(pull, gpio.BothEdges); err != nil {
		return nil, fmt.Errorf("cannot set %s as an input with edge detection (check the pin name and that the GPIO driver supports edges): %w", pin, err)
	}
	return &Input{pin: pin, window: window, level: pin.Read()}, nil
}

// Level returns the settled level.
func (in *Input) Level() gpio.Level { return in.level }

// Next blocks until the settled level changes and returns the new level,
// or returns ctx.Err() when ctx ends first.
func (in *Input) Next(ctx context.Context) (gpio.Level, error) {
	for {
		if err := ctx.Err(); err != nil {
			return in.level, err
		}
		if !in.pin.WaitForEdge(Slice) {
			// No edge, but a level change may have been missed (an edge
			// lost while nobody waited): compare the level too.
			if in.pin.Read() == in.level {
				continue
			}
		}
		// Something moved: wait until the line is quiet for the window.
		for in.window > 0 && in.pin.WaitForEdge(in.window) {
			if err := ctx.Err(); err != nil {
				return in.level, err
			}
		}
		if l := in.pin.Read(); l != in.level {
			in.level = l
			return l, nil
		}
	}
}
