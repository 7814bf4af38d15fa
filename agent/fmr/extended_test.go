package fmr_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func TestExtendedAreas(t *testing.T) {
	areas := []fmr.ExtendedArea{
		{Type: fmr.AreaRidgeCount, Data: []byte{2, 0, 1, 4, 0, 2, 7}},
		{Type: 0x0101, Data: []byte{}},
		{Type: 0x8001, Data: []byte{1, 2, 3}},
	}
	tests := []struct {
		name string
		f    fmr.Format
		want []byte
	}{
		{"iso counts data only", fmr.ISO, []byte{0, 1, 0, 7, 2, 0, 1, 4, 0, 2, 7, 1, 1, 0, 0, 0x80, 1, 0, 3, 1, 2, 3}},
		{"ansi counts the header too", fmr.ANSI, []byte{0, 1, 0, 11, 2, 0, 1, 4, 0, 2, 7, 1, 1, 0, 4, 0x80, 1, 0, 7, 1, 2, 3}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fmr.AppendExtended(tt.f, nil, areas...)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("AppendExtended = % x, want % x", got, tt.want)
			}
			back, err := fmr.ParseExtended(tt.f, got)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, areas) {
				t.Errorf("ParseExtended(AppendExtended(areas)) = %v, want %v", back, areas)
			}
		})
	}
}

func TestExtendedMalformed(t *testing.T) {
	tests := []struct {
		name  string
		f     fmr.Format
		block []byte
		msg   string
	}{
		{"stray bytes", fmr.ISO, []byte{0, 1, 0}, "stray"},
		{"area beyond block", fmr.ISO, []byte{0, 1, 0, 5, 1, 2}, "wants 5 bytes"},
		{"ansi length below header", fmr.ANSI, []byte{0, 1, 0, 3, 1, 2}, "less than its own"},
		{"ansi area beyond block", fmr.ANSI, []byte{0, 1, 0, 9, 1, 2}, "wants 5 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := fmr.ParseExtended(tt.f, tt.block)
			if !errors.Is(err, fmr.ErrMalformed) || !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("ParseExtended(% x) = %v, want ErrMalformed mentioning %q", tt.block, err, tt.msg)
			}
		})
	}
	if _, err := fmr.ParseExtended(0, nil); !errors.Is(err, fmr.ErrInvalid) {
		t.Errorf("ParseExtended(format 0) = %v, want ErrInvalid", err)
	}
}

func TestRidgeCounts(t *testing.T) {
	rc := fmr.RidgeCounts{Method: 1, Counts: []fmr.RidgeCount{{A: 0, B: 1, Count: 3}, {A: 0, B: 5, Count: 9}}}
	data := rc.Append(nil)
	if want := []byte{1, 0, 1, 3, 0, 5, 9}; !bytes.Equal(data, want) {
		t.Errorf("RidgeCounts.Append = % x, want % x", data, want)
	}
	got, err := fmr.ParseRidgeCounts(data)
	if err != nil || !reflect.DeepEqual(got, rc) {
		t.Errorf("ParseRidgeCounts = %+v, %v; want %+v", got, err, rc)
	}
	for _, bad := range [][]byte{nil, {1, 0}, {1, 0, 1, 2, 3}} {
		if _, err := fmr.ParseRidgeCounts(bad); !errors.Is(err, fmr.ErrMalformed) {
			t.Errorf("ParseRidgeCounts(% x) = %v, want ErrMalformed", bad, err)
		}
	}
}

func TestCoreDelta(t *testing.T) {
	// Angles chosen to survive ANSI's 2° units (ISO = round(ansi*256/180)).
	cd := fmr.CoreDelta{
		Cores:  []fmr.Core{{X: 100, Y: 200, HasAngle: true, Angle: 64}, {X: 16383, Y: 1, HasAngle: true, Angle: 0}},
		Deltas: []fmr.Delta{{X: 50, Y: 60, HasAngles: true, Angles: [3]uint8{0, 128, 192}}},
	}
	noAngles := fmr.CoreDelta{Cores: []fmr.Core{{X: 1, Y: 2}}, Deltas: []fmr.Delta{{X: 3, Y: 4}, {X: 5, Y: 6}}}
	mixedISO := fmr.CoreDelta{Cores: []fmr.Core{{X: 1, Y: 2, HasAngle: true, Angle: 9}, {X: 3, Y: 4}}}
	tests := []struct {
		name string
		f    fmr.Format
		cd   fmr.CoreDelta
		want []byte
	}{
		{"iso angles", fmr.ISO, cd, []byte{2, 0x40, 100, 0, 200, 64, 0x7f, 0xff, 0, 1, 0, 1, 0x40, 50, 0, 60, 0, 128, 192}},
		{"ansi angles", fmr.ANSI, cd, []byte{0x42, 0, 100, 0, 200, 45, 0x3f, 0xff, 0, 1, 0, 0x41, 0, 50, 0, 60, 0, 90, 135}},
		{"iso no angles", fmr.ISO, noAngles, []byte{1, 0, 1, 0, 2, 2, 0, 3, 0, 4, 0, 5, 0, 6}},
		{"ansi no angles", fmr.ANSI, noAngles, []byte{1, 0, 1, 0, 2, 2, 0, 3, 0, 4, 0, 5, 0, 6}},
		{"iso mixed", fmr.ISO, mixedISO, []byte{2, 0x40, 1, 0, 2, 9, 0, 3, 0, 4, 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := fmr.AppendCoreDelta(tt.f, nil, tt.cd)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(data, tt.want) {
				t.Errorf("AppendCoreDelta = % x, want % x", data, tt.want)
			}
			got, err := fmr.ParseCoreDelta(tt.f, data)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.cd) {
				t.Errorf("ParseCoreDelta(AppendCoreDelta(cd)) = %+v, want %+v", got, tt.cd)
			}
		})
	}
	if _, err := fmr.AppendCoreDelta(fmr.ANSI, nil, mixedISO); !errors.Is(err, fmr.ErrInvalid) {
		t.Errorf("AppendCoreDelta(ANSI, mixed angles) = %v, want ErrInvalid", err)
	}
	malformed := []struct {
		name string
		f    fmr.Format
		data []byte
	}{
		{"empty", fmr.ISO, nil},
		{"truncated core", fmr.ISO, []byte{1, 0, 1}},
		{"missing delta count", fmr.ISO, []byte{0}},
		{"trailing bytes", fmr.ISO, []byte{0, 0, 9}},
		{"ansi angle out of range", fmr.ANSI, []byte{0x41, 0, 1, 0, 1, 200, 0}},
	}
	for _, tt := range malformed {
		if _, err := fmr.ParseCoreDelta(tt.f, tt.data); !errors.Is(err, fmr.ErrMalformed) {
			t.Errorf("ParseCoreDelta(%s) = %v, want ErrMalformed", tt.name, err)
		}
	}
}
