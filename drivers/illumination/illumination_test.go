package illumination

import (
	"strings"
	"testing"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/bali-rbdes/kiosk/drivers/internal/pinplay"
)

func TestLevels(t *testing.T) {
	tests := []struct {
		name      string
		opts      *Options
		levels    []float64
		outs      []gpio.Level // after New's off
		pwms      []pinplay.PWM
		wantLevel float64
	}{
		{"on, off", nil, []float64{1, 0}, []gpio.Level{gpio.High, gpio.Low}, nil, 0},
		{"half without PWM is full on", nil, []float64{0.5}, []gpio.Level{gpio.High}, nil, 1},
		{"half with PWM", &Options{PWMFrequency: DefaultPWMFrequency}, []float64{0.5, 1},
			[]gpio.Level{gpio.High}, []pinplay.PWM{{Duty: gpio.DutyHalf, F: 20 * physic.KiloHertz}}, 1},
		{"active low with PWM", &Options{ActiveLow: true, PWMFrequency: physic.KiloHertz}, []float64{0.25, 0},
			[]gpio.Level{gpio.High}, []pinplay.PWM{{Duty: gpio.DutyMax - gpio.DutyMax/4, F: physic.KiloHertz}}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			off := gpio.Low
			if tt.opts != nil && tt.opts.ActiveLow {
				off = gpio.High
			}
			pin := &pinplay.Pin{N: "GPIO18", Outs: append([]gpio.Level{off}, tt.outs...), PWMs: tt.pwms}
			l, err := New(pin, tt.opts)
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			for _, lv := range tt.levels {
				if err := l.Set(lv); err != nil {
					t.Fatalf("Set(%v) = %v", lv, err)
				}
			}
			if got := l.Level(); got != tt.wantLevel {
				t.Errorf("Level() = %v, want %v", got, tt.wantLevel)
			}
			if err := pin.Close(); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestPWMRefused(t *testing.T) {
	pin := &pinplay.Pin{N: "GPIO4", NoPWM: true, Outs: []gpio.Level{gpio.Low, gpio.High, gpio.Low}}
	l, err := New(pin, &Options{PWMFrequency: DefaultPWMFrequency})
	if err != nil {
		t.Fatal(err)
	}
	err = l.Set(0.3)
	if err == nil || !strings.Contains(err.Error(), "refused PWM") || l.Level() != 1 {
		t.Errorf("Set(0.3) on a pin without PWM = %v, level %v; want an error and full on", err, l.Level())
	}
	if err := l.Halt(); err != nil {
		t.Fatal(err)
	}
	if err := pin.Close(); err != nil {
		t.Error(err)
	}
}

func TestBadInput(t *testing.T) {
	pin := &pinplay.Pin{N: "GPIO18", Outs: []gpio.Level{gpio.Low, gpio.High}}
	l, err := New(pin, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []float64{-0.1, 1.5} {
		if err := l.Set(v); err == nil {
			t.Errorf("Set(%v) = nil error", v)
		}
	}
	if err := l.On(); err != nil {
		t.Fatal(err)
	}
	if err := pin.Close(); err != nil {
		t.Error(err)
	}
	if _, err := New(nil, nil); err == nil {
		t.Error("New(nil) = nil error")
	}
	if _, err := New(&pinplay.Pin{}, &Options{PWMFrequency: -1}); err == nil {
		t.Error("New with a negative frequency = nil error")
	}
	// A pin whose writes fail.
	bad := &pinplay.Pin{N: "GPIO99"}
	if _, err := New(bad, nil); err == nil || !strings.Contains(err.Error(), "cannot drive GPIO99") {
		t.Errorf("New on a failing pin = %v", err)
	}
}
