package pinplay

import (
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

func TestOutsAreChecked(t *testing.T) {
	p := &Pin{N: "LED", Outs: []gpio.Level{gpio.High, gpio.Low}}
	if err := p.Out(gpio.High); err != nil {
		t.Fatalf("Out(High) = %v", err)
	}
	if err := p.Out(gpio.High); err == nil {
		t.Fatal("second Out(High) = nil, want a mismatch")
	}
	err := p.Close()
	if err == nil || !strings.Contains(err.Error(), "want Out(Low)") || !strings.Contains(err.Error(), "1 of 2 scripted writes") {
		t.Errorf("Close = %v, want the mismatch and the missing write", err)
	}
}

func TestEdgesRunOnVirtualTime(t *testing.T) {
	clk := drvtime.NewVirtual(time.Time{})
	p := &Pin{N: "IN", Clock: clk, Edges: []Edge{{At: 30 * time.Millisecond, L: gpio.High}, {At: 100 * time.Millisecond, L: gpio.Low}}}
	if err := p.In(gpio.PullDown, gpio.BothEdges); err != nil {
		t.Fatal(err)
	}
	start := clk.Now()
	if p.WaitForEdge(10 * time.Millisecond) {
		t.Fatal("WaitForEdge(10ms) = true, edge is at 30ms")
	}
	if !p.WaitForEdge(time.Second) || p.Read() != gpio.High {
		t.Fatal("WaitForEdge(1s) did not deliver the 30ms edge")
	}
	if got := clk.Now().Sub(start); got != 30*time.Millisecond {
		t.Errorf("clock at %v after the first edge, want 30ms", got)
	}
	if !p.WaitForEdge(-1) || p.Read() != gpio.Low {
		t.Fatal("WaitForEdge(-1) did not deliver the 100ms edge")
	}
	if p.WaitForEdge(time.Second) {
		t.Fatal("WaitForEdge after the script = true")
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	go func() { _ = p.Halt() }()
	if p.WaitForEdge(-1) {
		t.Error("WaitForEdge(-1) after Halt = true")
	}
}

func TestUnconsumedEdgeAndPWM(t *testing.T) {
	p := &Pin{N: "X", Edges: []Edge{{L: gpio.High}}, PWMs: []PWM{{Duty: gpio.DutyHalf}}}
	if err := p.PWM(gpio.DutyMax, 0); err == nil {
		t.Error("PWM(max) = nil, want a mismatch")
	}
	err := p.Close()
	if err == nil || !strings.Contains(err.Error(), "0 of 1 scripted edges") || !strings.Contains(err.Error(), "0 of 1 scripted PWM") {
		t.Errorf("Close = %v", err)
	}
	if p.WaitForEdge(0) {
		t.Error("WaitForEdge without In = true")
	}
}
