package statusled

import (
	"context"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/internal/pinplay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const (
	L = gpio.Low
	H = gpio.High
)

func outs(ls ...gpio.Level) []gpio.Level { return ls }

// stepClock hands each Sleep to the test, which lets it end.
type stepClock struct {
	sleeps  chan time.Duration
	release chan struct{}
}

func newStepClock() *stepClock {
	return &stepClock{sleeps: make(chan time.Duration), release: make(chan struct{})}
}

func (c *stepClock) Now() time.Time { return time.Time{} }

func (c *stepClock) Sleep(ctx context.Context, d time.Duration) error {
	select {
	case c.sleeps <- d:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-c.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func TestSetColours(t *testing.T) {
	tests := []struct {
		name      string
		activeLow bool
		c         Color
		r, g, b   []gpio.Level // after New's all-off
	}{
		{"red", false, Red, outs(H), outs(L), outs(L)},
		{"yellow", false, Yellow, outs(H), outs(H), outs(L)},
		{"white", false, White, outs(H), outs(H), outs(H)},
		{"off", false, Off, outs(L), outs(L), outs(L)},
		{"cyan, common anode", true, Cyan, outs(H), outs(L), outs(L)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := gpio.Level(tt.activeLow)
			r := &pinplay.Pin{N: "GPIO17", Outs: append(outs(off), tt.r...)}
			g := &pinplay.Pin{N: "GPIO27", Outs: append(outs(off), tt.g...)}
			b := &pinplay.Pin{N: "GPIO22", Outs: append(outs(off), tt.b...)}
			led, err := New(r, g, b, &Options{ActiveLow: tt.activeLow})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if err := led.Set(tt.c); err != nil {
				t.Fatalf("Set(%s) = %v", tt.c, err)
			}
			if led.Color() != tt.c {
				t.Errorf("Color() = %s, want %s", led.Color(), tt.c)
			}
			for _, p := range []*pinplay.Pin{r, g, b} {
				if err := p.Close(); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func TestMissingDie(t *testing.T) {
	r := &pinplay.Pin{N: "GPIO17", Outs: outs(L, H)}
	led, err := New(r, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if led.Supports(Yellow) || !led.Supports(Red) || !led.Supports(Off) {
		t.Errorf("Supports: yellow %v red %v off %v", led.Supports(Yellow), led.Supports(Red), led.Supports(Off))
	}
	err = led.Set(Cyan)
	if err == nil || !strings.Contains(err.Error(), "needs the green and blue pin") {
		t.Errorf("Set(cyan) on a red-only LED = %v", err)
	}
	if err := led.Set(Red); err != nil {
		t.Errorf("Set(red) = %v", err)
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
	if got := led.String(); got != "statusled(red=GPIO17)" {
		t.Errorf("String() = %q", got)
	}
	if _, err := New(nil, nil, nil, nil); err == nil {
		t.Error("New with no pins = nil error")
	}
}

func TestBlinkRunsAndStops(t *testing.T) {
	clk := newStepClock()
	r := &pinplay.Pin{N: "R", Outs: outs(L, L, L, L, H, L)}
	g := &pinplay.Pin{N: "G", Outs: outs(L, H, L, H, L, L)}
	led, err := New(r, g, nil, &Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	if err := led.Blink(Green, time.Second); err != nil { // shows green at once
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- led.Run(ctx) }()
	if d := <-clk.sleeps; d != 500*time.Millisecond { // after turning green off
		t.Errorf("blink half-period %v, want 500ms", d)
	}
	clk.release <- struct{}{}
	<-clk.sleeps // after turning green on again
	if err := led.Set(Red); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	for _, p := range []*pinplay.Pin{r, g} {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	}
	if err := led.Blink(Red, 0); err == nil {
		t.Error("Blink with period 0 = nil error")
	}
}

func TestHaltAndRunOnce(t *testing.T) {
	// New's off, Halt's off, and Run's off on return.
	r := &pinplay.Pin{N: "R", Outs: outs(L, L, L)}
	led, err := New(r, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- led.Run(ctx) }()
	}
	first := <-results
	if err := led.Halt(); err != nil {
		t.Fatal(err)
	}
	cancel()
	second := <-results
	if (first == nil) == (second == nil) {
		t.Errorf("two Runs returned %v and %v, want exactly one error", first, second)
	}
	if err := led.Set(Red); err == nil {
		t.Error("Set after Halt = nil error")
	}
	if err := r.Close(); err != nil {
		t.Error(err)
	}
}

func TestParseColor(t *testing.T) {
	for i, n := range colorNames {
		c, err := ParseColor(" " + strings.ToUpper(n))
		if err != nil || c != Color(i) || c.String() != n {
			t.Errorf("ParseColor(%q) = %v, %v", n, c, err)
		}
	}
	if _, err := ParseColor("purple"); err == nil {
		t.Error(`ParseColor("purple") = nil error`)
	}
	if got := Color(9).String(); got != "Color(9)" {
		t.Errorf("Color(9).String() = %q", got)
	}
}

func TestPinFailure(t *testing.T) {
	// The red pin accepts New's off and nothing more: the next write fails.
	r := &pinplay.Pin{N: "GPIO17", Outs: outs(L)}
	g := &pinplay.Pin{N: "GPIO27", Outs: outs(L, H)}
	led, err := New(r, g, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = led.Set(Yellow)
	if err == nil || !strings.Contains(err.Error(), "cannot drive the red pin GPIO17") {
		t.Errorf("Set(yellow) with a failing red pin = %v", err)
	}
	if err := g.Close(); err != nil {
		t.Error(err)
	}
	if _, err := New(&pinplay.Pin{N: "GPIO5"}, nil, nil, nil); err == nil {
		t.Error("New with a pin that refuses writes = nil error")
	}
}
