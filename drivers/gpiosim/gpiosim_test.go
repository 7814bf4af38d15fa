package gpiosim

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"
	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestPinEdges(t *testing.T) {
	tests := []struct {
		name   string
		edge   gpio.Edge
		drives []gpio.Level
		want   int // edges delivered
	}{
		{"both", gpio.BothEdges, []gpio.Level{gpio.High, gpio.Low, gpio.High}, 3},
		{"rising", gpio.RisingEdge, []gpio.Level{gpio.High, gpio.Low, gpio.High}, 2},
		{"falling", gpio.FallingEdge, []gpio.Level{gpio.High, gpio.Low, gpio.High}, 1},
		{"no change is no edge", gpio.BothEdges, []gpio.Level{gpio.Low, gpio.Low}, 0},
		{"no edge detection", gpio.NoEdge, []gpio.Level{gpio.High}, 0},
	}
	for _, tt := range tests {
		p := NewPin("P", gpio.Low, drvtime.NewVirtual(time.Time{}))
		if err := p.In(gpio.PullDown, tt.edge); err != nil {
			t.Fatal(err)
		}
		for _, l := range tt.drives {
			p.Drive(l)
		}
		got := 0
		for p.WaitForEdge(time.Second) {
			got++
		}
		if got != tt.want {
			t.Errorf("%s: %d edges, want %d", tt.name, got, tt.want)
		}
		if p.Read() != tt.drives[len(tt.drives)-1] {
			t.Errorf("%s: Read() = %s", tt.name, p.Read())
		}
		if p.Func() != gpio.IN || p.Pull() != gpio.PullDown {
			t.Errorf("%s: Func %s Pull %s, want IN PullDown", tt.name, p.Func(), p.Pull())
		}
	}
}

func TestPinWaitWakesOnDriveAndHalt(t *testing.T) {
	p := NewPin("P", gpio.Low, nil) // wall clock
	if err := p.In(gpio.Float, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	got := make(chan bool)
	go func() { got <- p.WaitForEdge(-1) }()
	for {
		p.mu.Lock()
		waiting := p.wake != nil
		p.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	p.Drive(gpio.High)
	if !<-got {
		t.Error("WaitForEdge(-1) = false after Drive")
	}
	go func() { got <- p.WaitForEdge(time.Hour) }()
	for {
		p.mu.Lock()
		waiting := p.wake != nil
		p.mu.Unlock()
		if waiting {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := p.Halt(); err != nil {
		t.Fatal(err)
	}
	if <-got {
		t.Error("WaitForEdge after Halt = true")
	}
	start := time.Now()
	if p.WaitForEdge(5 * time.Millisecond) {
		t.Error("WaitForEdge(5ms) with nothing driven = true")
	}
	if time.Since(start) < 5*time.Millisecond {
		t.Error("WaitForEdge(5ms) returned early")
	}
}

func TestPinOutputs(t *testing.T) {
	p := NewPin("LED", gpio.Low, nil)
	var seen []gpio.Duty
	p.OnOut(func(_ gpio.Level, d gpio.Duty) { seen = append(seen, d) })
	if err := p.Out(gpio.High); err != nil {
		t.Fatal(err)
	}
	if err := p.PWM(gpio.DutyHalf, 0); err != nil {
		t.Fatal(err)
	}
	if err := p.Out(gpio.Low); err != nil {
		t.Fatal(err)
	}
	if err := p.PWM(gpio.DutyMax+1, 0); err == nil {
		t.Error("PWM(DutyMax+1) = nil error")
	}
	h := p.History()
	if len(h) != 3 || h[0] != gpio.High || h[1] != gpio.High || h[2] != gpio.Low {
		t.Errorf("History() = %v", h)
	}
	if len(seen) != 3 || seen[1] != gpio.DutyHalf || p.Duty() != 0 {
		t.Errorf("OnOut saw %v, Duty() = %v", seen, p.Duty())
	}
	if p.Func() != gpio.OUT || p.Name() != "LED" || p.String() != "LED" {
		t.Errorf("Func %s Name %s", p.Func(), p.Name())
	}
	for range maxHistory + 10 {
		_ = p.Out(gpio.High)
	}
	if n := len(p.History()); n != maxHistory {
		t.Errorf("History() has %d entries, want the last %d", n, maxHistory)
	}
}

func TestTravellerWalksPast(t *testing.T) {
	p := NewPin("GPIO5", gpio.High, nil)
	if err := p.In(gpio.Float, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTraveller(p, &TravellerOptions{Interval: 5 * time.Millisecond, Stay: 5 * time.Millisecond, Bounces: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Read() != gpio.Low {
		t.Fatal("NewTraveller did not start with nobody present")
	}
	for p.WaitForEdge(0) { // drop the start-up edge
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tr.Run(ctx) }()
	// One arrival: 2 bounces (4 edges) and the final rise.
	for i := range 5 {
		if !p.WaitForEdge(time.Second) {
			t.Fatalf("edge %d of the arrival did not come", i)
		}
	}
	if p.Read() != gpio.High {
		t.Error("after the arrival the line is low")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if _, err := NewTraveller(nil, nil); err == nil {
		t.Error("NewTraveller(nil) = nil error")
	}
	if _, err := NewTraveller(p, &TravellerOptions{Stay: -1}); err == nil {
		t.Error("NewTraveller(Stay -1) = nil error")
	}
}
