package simfault

import (
	"strings"
	"testing"
)

var known = []string{"garbled", "slow", "no-finger"}

func TestParse(t *testing.T) {
	tests := []struct {
		spec    string
		once    []string
		rates   map[string]float64
		wantErr string
	}{
		{"", nil, map[string]float64{}, ""},
		{"garbled", []string{"garbled"}, map[string]float64{}, ""},
		{"slow, garbled, slow", []string{"slow", "garbled", "slow"}, map[string]float64{}, ""},
		{" garbled = 0.05 , slow=0.01", nil, map[string]float64{"garbled": 0.05, "slow": 0.01}, ""},
		{"no-finger=0, no-finger", []string{"no-finger"}, map[string]float64{"no-finger": 0}, ""},
		{"melted", nil, nil, `unknown fault "melted"`},
		{"slow=2", nil, nil, "between 0 and 1"},
		{"slow=NaN", nil, nil, "between 0 and 1"},
		{"slow=x", nil, nil, "between 0 and 1"},
		{"slow=0.1,slow=0.2", nil, nil, "two rates"},
		{"garbled,", nil, nil, `unknown fault ""`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.spec, known)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) = %v, want error containing %q", tt.spec, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q) = %v", tt.spec, err)
			continue
		}
		if strings.Join(got.Once, ",") != strings.Join(tt.once, ",") {
			t.Errorf("Parse(%q).Once = %v, want %v", tt.spec, got.Once, tt.once)
		}
		if len(got.Rates) != len(tt.rates) {
			t.Errorf("Parse(%q).Rates = %v, want %v", tt.spec, got.Rates, tt.rates)
		}
		for k, v := range tt.rates {
			if got.Rates[k] != v {
				t.Errorf("Parse(%q).Rates[%q] = %v, want %v", tt.spec, k, got.Rates[k], v)
			}
		}
	}
}

func TestPlanInjectedStrikesOnce(t *testing.T) {
	p, err := New(known, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Inject("slow"); err != nil {
		t.Fatal(err)
	}
	if err := p.Inject("melted"); err == nil {
		t.Error(`Inject("melted") = nil, want an error`)
	}
	if p.Pending() != 1 {
		t.Errorf("Pending() = %d, want 1", p.Pending())
	}
	if p.Strike("garbled") {
		t.Error(`Strike("garbled") = true with nothing injected and rate 0`)
	}
	if !p.Strike("slow") {
		t.Error(`Strike("slow") = false after Inject`)
	}
	if p.Strike("slow") {
		t.Error(`Strike("slow") = true a second time`)
	}
}

func TestPlanRatesAreSeeded(t *testing.T) {
	run := func() (hits int) {
		p, err := New(known, map[string]float64{"garbled": 0.25}, 42)
		if err != nil {
			t.Fatal(err)
		}
		for range 4000 {
			if p.Strike("garbled") {
				hits++
			}
		}
		return hits
	}
	a, b := run(), run()
	if a != b {
		t.Errorf("same seed gave %d and %d strikes", a, b)
	}
	if a < 850 || a > 1150 {
		t.Errorf("rate 0.25 struck %d times in 4000, want about 1000", a)
	}
	if _, err := New(known, map[string]float64{"slow": 1.5}, 0); err == nil {
		t.Error("New with rate 1.5 = nil error")
	}
	if _, err := New(known, map[string]float64{"x": 0.5}, 0); err == nil {
		t.Error("New with unknown fault = nil error")
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "garbled", "garbled=0.5,slow", "slow=1e-3", "=,=", "no-finger = 1 ,"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		got, err := Parse(spec, known)
		if err != nil {
			return
		}
		for name, r := range got.Rates {
			if !(r >= 0 && r <= 1) {
				t.Fatalf("Parse(%q) gave %q rate %v", spec, name, r)
			}
		}
		p, err := New(known, got.Rates, 7)
		if err != nil {
			t.Fatalf("New rejected what Parse(%q) accepted: %v", spec, err)
		}
		for _, name := range got.Once {
			if err := p.Inject(name); err != nil {
				t.Fatalf("Inject rejected what Parse(%q) accepted: %v", spec, err)
			}
		}
	})
}
