package tamper

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/internal/pinplay"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func ms(n int) time.Duration { return time.Duration(n) * time.Millisecond }

func TestOpeningIsLatched(t *testing.T) {
	clk := drvtime.NewVirtual(time.Time{})
	pin := &pinplay.Pin{N: "GPIO26", Clock: clk, L: gpio.Low, Edges: []pinplay.Edge{
		{At: ms(10), L: gpio.High}, {At: ms(12), L: gpio.Low}, // a knock: 2 ms, ignored
		{At: ms(500), L: gpio.High}, {At: ms(503), L: gpio.Low}, {At: ms(505), L: gpio.High}, // opened, with bounce
		{At: ms(4000), L: gpio.Low}, // closed again
	}}
	s, err := New(pin, &Options{Clock: clk})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if s.Open() || s.Tampered() {
		t.Fatal("closed switch reads open or tampered at start")
	}
	base := clk.Now()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	ev := <-s.Events()
	if !ev.Open || ev.At.Sub(base) != ms(525) {
		t.Errorf("first event %+v at +%v, want open at +525ms", ev, ev.At.Sub(base))
	}
	ev = <-s.Events()
	if ev.Open || ev.At.Sub(base) != ms(4020) {
		t.Errorf("second event %+v at +%v, want closed at +4020ms", ev, ev.At.Sub(base))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if s.Open() || !s.Tampered() {
		t.Errorf("after open and close: Open %v Tampered %v, want false true", s.Open(), s.Tampered())
	}
	if err := s.Clear(); err != nil || s.Tampered() {
		t.Errorf("Clear = %v, Tampered %v", err, s.Tampered())
	}
	if err := pin.Close(); err != nil {
		t.Error(err)
	}
	if pin.Pull() != gpio.PullUp {
		t.Errorf("pull %s, want PullUp", pin.Pull())
	}
}

func TestOpenAtStart(t *testing.T) {
	tests := []struct {
		name      string
		level     gpio.Level
		activeLow bool
		open      bool
	}{
		{"high is open", gpio.High, false, true},
		{"low is closed", gpio.Low, false, false},
		{"active low: low is open", gpio.Low, true, true},
	}
	for _, tt := range tests {
		pin := &pinplay.Pin{N: "GPIO26", L: tt.level}
		s, err := New(pin, &Options{ActiveLow: tt.activeLow})
		if err != nil {
			t.Fatal(err)
		}
		if s.Open() != tt.open || s.Tampered() != tt.open {
			t.Errorf("%s: Open %v Tampered %v, want %v", tt.name, s.Open(), s.Tampered(), tt.open)
		}
		if err := s.Clear(); (err == nil) == tt.open {
			t.Errorf("%s: Clear = %v", tt.name, err)
		}
	}
}

func TestRunOnceAndErrors(t *testing.T) {
	s, err := New(&pinplay.Pin{N: "GPIO26"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- s.Run(ctx) }()
	}
	first := <-results
	cancel()
	second := <-results
	if (first == nil) == (second == nil) {
		t.Errorf("two Runs returned %v and %v, want exactly one error", first, second)
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil) = nil error")
	}
	if _, err := New(&gpiotest.Pin{N: "X"}, nil); err == nil {
		t.Error("New on a pin without edges = nil error")
	}
}
