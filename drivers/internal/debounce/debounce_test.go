package debounce

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/internal/pinplay"
)

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestNextSettles(t *testing.T) {
	clk := drvtime.NewVirtual(time.Time{})
	pin := &pinplay.Pin{N: "IN", Clock: clk, Edges: []pinplay.Edge{
		{At: ms(100), L: gpio.High}, {At: ms(105), L: gpio.Low}, {At: ms(110), L: gpio.High}, // bounce, settles high
		{At: ms(500), L: gpio.Low}, {At: ms(502), L: gpio.High}, // a 2 ms glitch: no change
		{At: ms(1000), L: gpio.Low}, // settles low
	}}
	in, err := New(pin, gpio.PullDown, ms(20))
	if err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	if in.Level() != gpio.Low {
		t.Fatalf("initial level %s, want Low", in.Level())
	}
	want := []struct {
		l  gpio.Level
		at time.Duration
	}{{gpio.High, ms(130)}, {gpio.Low, ms(1020)}}
	for _, w := range want {
		l, err := in.Next(context.Background())
		if err != nil {
			t.Fatalf("Next = %v", err)
		}
		if got := clk.Now().Sub(start); l != w.l || got != w.at {
			t.Errorf("Next = %s at %v, want %s at %v", l, got, w.l, w.at)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := in.Next(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Next(cancelled) = %v", err)
	}
	if err := pin.Close(); err != nil {
		t.Error(err)
	}
	if got := pin.Pull(); got != gpio.PullDown {
		t.Errorf("pull = %s, want PullDown", got)
	}
}

func TestNextWithoutWindow(t *testing.T) {
	pin := &pinplay.Pin{N: "IN", Edges: []pinplay.Edge{{At: ms(1), L: gpio.High}}}
	in, err := New(pin, gpio.PullNoChange, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l, err := in.Next(context.Background()); err != nil || l != gpio.High {
		t.Errorf("Next = %s, %v", l, err)
	}
	if _, err := New(nil, gpio.Float, 0); err == nil {
		t.Error("New(nil) = nil error")
	}
	if _, err := New(pin, gpio.Float, -1); err == nil {
		t.Error("New(window -1) = nil error")
	}
}
