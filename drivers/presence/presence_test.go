package presence

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

func TestRunReportsSettledChanges(t *testing.T) {
	tests := []struct {
		name      string
		activeLow bool
		edges     []pinplay.Edge
		want      []Event // At as offsets
	}{
		{
			name: "arrival with bounce, departure",
			edges: []pinplay.Edge{
				{At: ms(1000), L: gpio.High}, {At: ms(1010), L: gpio.Low}, {At: ms(1020), L: gpio.High},
				{At: ms(9000), L: gpio.Low},
			},
			want: []Event{{Present: true, At: time.Time{}.Add(ms(1070))}, {Present: false, At: time.Time{}.Add(ms(9050))}},
		},
		{
			name:  "a glitch shorter than the window is ignored",
			edges: []pinplay.Edge{{At: ms(100), L: gpio.High}, {At: ms(120), L: gpio.Low}, {At: ms(3000), L: gpio.High}},
			want:  []Event{{Present: true, At: time.Time{}.Add(ms(3050))}},
		},
		{
			name:      "active low",
			activeLow: true,
			edges:     []pinplay.Edge{{At: ms(200), L: gpio.Low}},
			want:      []Event{{Present: true, At: time.Time{}.Add(ms(250))}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := drvtime.NewVirtual(time.Time{})
			initial := gpio.Level(tt.activeLow) // idle: not present
			pin := &pinplay.Pin{N: "GPIO5", Clock: clk, L: initial, Edges: tt.edges}
			s, err := New(pin, &Options{Clock: clk, ActiveLow: tt.activeLow, Pull: gpio.PullDown})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if s.Present() {
				t.Fatal("Present() = true on an idle line")
			}
			base := clk.Now()
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- s.Run(ctx) }()
			for i, w := range tt.want {
				ev := <-s.Events()
				if ev.Present != w.Present || ev.At.Sub(base) != w.At.Sub(time.Time{}) {
					t.Errorf("event %d = %v at +%v, want %v at +%v", i, ev.Present, ev.At.Sub(base), w.Present, w.At.Sub(time.Time{}))
				}
			}
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run = %v, want nil after cancel", err)
			}
			if got, want := s.Present(), tt.want[len(tt.want)-1].Present; got != want {
				t.Errorf("Present() = %v, want %v", got, want)
			}
			if err := pin.Close(); err != nil {
				t.Error(err)
			}
			if got := pin.Pull(); got != gpio.PullDown {
				t.Errorf("pull = %s, want PullDown", got)
			}
		})
	}
}

func TestRunOnce(t *testing.T) {
	pin := &pinplay.Pin{N: "GPIO5"}
	s, err := New(pin, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	results := make(chan error, 2)
	for range 2 {
		go func() { results <- s.Run(ctx) }()
	}
	// One of the two returns at once with an error; then stop the other.
	first := <-results
	cancel()
	second := <-results
	if (first == nil) == (second == nil) {
		t.Errorf("two concurrent Runs returned %v and %v, want exactly one error", first, second)
	}
}

func TestNewErrors(t *testing.T) {
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil) = nil error")
	}
	// gpiotest refuses edge detection without an edge channel.
	if _, err := New(&gpiotest.Pin{N: "GPIO5"}, nil); err == nil {
		t.Error("New on a pin without edge support = nil error")
	}
}

// With periph's own fake pin and a real clock.
func TestWithGpiotestPin(t *testing.T) {
	pin := &gpiotest.Pin{N: "GPIO6", EdgesChan: make(chan gpio.Level, 4)}
	s, err := New(pin, &Options{Debounce: ms(5)})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	pin.EdgesChan <- gpio.High
	ev := <-s.Events()
	if !ev.Present {
		t.Errorf("event %+v, want present", ev)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
