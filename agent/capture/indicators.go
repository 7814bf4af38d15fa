package capture

import (
	"context"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

// Colour is a colour of the status LED: a set of dies, bit 0 red, bit 1
// green, bit 2 blue.
type Colour uint8

// Colours.
const (
	Off    Colour = 0
	Red    Colour = 1
	Green  Colour = 2
	Yellow Colour = Red | Green
	Blue   Colour = 4
)

// Light is the kiosk's status LED.
type Light interface {
	// Show lights c steadily, or blinking with the given period when it
	// is not zero.
	Show(c Colour, blink time.Duration) error
}

// flashFor is how long the outcome of a session is shown.
const flashFor = 2 * time.Second

// lightOf is what the LED shows in each state: green ready, blue while a
// traveller is served (blinking while a finger is awaited), red blinking
// while sessions are refused.
func lightOf(s State, awaitingFinger bool) (Colour, time.Duration) {
	switch s {
	case StateIdle:
		return Green, 0
	case StateRefused:
		return Red, time.Second
	case StateFingers:
		if awaitingFinger {
			return Blue, 500 * time.Millisecond
		}
		return Blue, 0
	case StateSaved:
		return Green, 250 * time.Millisecond
	default:
		return Blue, 0
	}
}

// RunLight drives light from the events of stream until ctx ends; it
// returns nil then. The outcome of a session (green blinking when saved,
// red when not, yellow for a poor attempt) shows for two seconds, then
// the LED follows the state again. A failing LED is logged once per
// failure streak; the workflow does not depend on it.
func RunLight(ctx context.Context, stream *Stream, light Light, clk clock.Clock, log *zap.Logger) error {
	clk = clock.OrReal(clk)
	if log == nil {
		log = zap.NewNop()
	}
	state, awaiting := StateIdle, false
	var flashUntil time.Time
	failing := false
	show := func(c Colour, blink time.Duration) {
		if err := light.Show(c, blink); err != nil {
			if !failing {
				log.Warn("status LED failed", zap.Error(err))
			}
			failing = true
			return
		}
		failing = false
	}
	// Take the position in the stream before the first show, so nothing
	// published once the LED is lit can be missed.
	after := stream.Last()
	show(lightOf(state, awaiting))
	timer := clk.NewTimer(time.Hour)
	timer.Stop()
	defer timer.Stop()
	for {
		evs, _, wake := stream.Since(after)
		for _, e := range evs {
			after = e.Seq
			state = e.State
			flash := Off
			var blink time.Duration
			switch e.Kind {
			case KindPrompt:
				awaiting = e.Finger != nil
			case KindFingerAttempt:
				awaiting = false
				if e.Finger != nil && !e.Finger.Good {
					flash = Yellow
				}
			case KindEnded:
				awaiting = false
				flash, blink = Red, 0
				if e.Ended != nil && e.Ended.Outcome == OutcomeSaved {
					flash, blink = Green, 250*time.Millisecond
				}
			case KindRefused:
				flash, blink = Red, 250*time.Millisecond
			}
			if flash != Off {
				show(flash, blink)
				flashUntil = clk.Now().Add(flashFor)
				timer.Reset(flashFor)
			} else if !clk.Now().Before(flashUntil) {
				show(lightOf(state, awaiting))
			}
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C():
			show(lightOf(state, awaiting))
		case <-wake:
		}
	}
}

// LogEvents writes the events of stream to log until ctx ends: prompts and
// progress at debug level, results at info, problems at warn. The events
// carry no biometric data, so neither do the logs.
func LogEvents(ctx context.Context, stream *Stream, log *zap.Logger) error {
	return stream.Follow(ctx, stream.Last(), func(e Event, missed uint64) error {
		if missed > 0 {
			log.Warn("capture events not logged: the log fell behind", zap.Uint64("missed", missed))
		}
		fields := []zap.Field{zap.String("kind", string(e.Kind)), zap.String("state", string(e.State))}
		if e.Session != "" {
			fields = append(fields, zap.String("session", e.Session))
		}
		if e.Message != "" {
			fields = append(fields, zap.String("message", e.Message))
		}
		level := log.Debug
		switch e.Kind {
		case KindFingerAttempt, KindFinger:
			f := e.Finger
			if f == nil {
				break
			}
			fields = append(fields, zap.String("finger", f.Position), zap.Int("attempt", f.Attempt), zap.Int("quality", f.Quality),
				zap.Int("minutiae", f.Minutiae))
			if f.Missing != "" {
				fields = append(fields, zap.String("missing", f.Missing))
			}
			if e.Kind == KindFinger {
				level = log.Info
			}
		case KindFace:
			if e.Face == nil {
				break
			}
			fields = append(fields, zap.Int("quality", e.Face.Quality), zap.Bool("accept", e.Face.Accept), zap.Int("frames", e.Face.Frames))
			level = log.Info
		case KindSaved:
			if e.Saved == nil {
				break
			}
			fields = append(fields, zap.String("record_id", e.Saved.RecordID), zap.Uint64("seq", e.Saved.Seq), zap.Int("bytes", e.Saved.Bytes))
			level = log.Info
		case KindStarted:
			if e.Started == nil {
				break
			}
			fields = append(fields, zap.String("trigger", e.Started.Trigger), zap.String("officer", e.Started.Officer))
			level = log.Info
		case KindRefused, KindError:
			level = log.Warn
		case KindEnded, KindPolicy:
			return nil // the workflow logs these itself
		}
		level("capture", fields...)
		return nil
	})
}
