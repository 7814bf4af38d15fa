package fmr_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func sampleRecord(f fmr.Format) *fmr.Record {
	r := &fmr.Record{
		Format:    f,
		Equipment: 0x1234 & 0x0fff,
		Width:     388, Height: 374,
		ResX: 197, ResY: 197,
		Views: []fmr.View{{
			Position: 2, ViewNumber: 1, Impression: 0, Quality: 77,
			Minutiae: []fmr.Minutia{
				{Kind: fmr.Ending, X: 10, Y: 20, Angle: 0, Quality: 90},
				{Kind: fmr.Bifurcation, X: 387, Y: 373, Angle: 128, Quality: 5},
				{Kind: fmr.Other, X: 0, Y: 0, Angle: 255, Quality: 0},
			},
		}},
	}
	if f == fmr.ANSI {
		r.ProductID = 0x00330001
	}
	return r
}

func TestMarshalGolden(t *testing.T) {
	iso := []byte{
		'F', 'M', 'R', 0, ' ', '2', '0', 0,
		0, 0, 0, 0x30, // length 24 + 4 + 18 + 2 = 48
		0x02, 0x34, // equipment
		0x01, 0x84, 0x01, 0x76, // 388 x 374
		0x00, 0xc5, 0x00, 0xc5, // 197 ppcm
		1, 0, // one view, reserved
		2, 0x10, 77, 3, // position 2, view 1 impression 0, quality 77, 3 minutiae
		0x40, 10, 0, 20, 0, 90,
		0x81, 0x83, 0x01, 0x75, 128, 5,
		0x00, 0x00, 0x00, 0x00, 255, 0,
		0, 0, // no extended data
	}
	ansi := []byte{
		'F', 'M', 'R', 0, ' ', '2', '0', 0,
		0, 0x32, // length 26 + 4 + 18 + 2 = 50
		0x00, 0x33, 0x00, 0x01, // CBEFF product id
		0x02, 0x34,
		0x01, 0x84, 0x01, 0x76,
		0x00, 0xc5, 0x00, 0xc5,
		1, 0,
		2, 0x10, 77, 3,
		0x40, 10, 0, 20, 0, 90,
		0x81, 0x83, 0x01, 0x75, 90, 5, // 180° = 90 ANSI units
		0x00, 0x00, 0x00, 0x00, 179, 0, // 358.6° → 179 (358°)
		0, 0,
	}
	tests := []struct {
		name string
		f    fmr.Format
		want []byte
	}{
		{"iso", fmr.ISO, iso},
		{"ansi", fmr.ANSI, ansi},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := fmr.Marshal(sampleRecord(tt.f))
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Errorf("Marshal(%s) =\n% x\nwant\n% x", tt.name, got, tt.want)
			}
		})
	}
}

func TestRoundTrip(t *testing.T) {
	many := make([]fmr.Minutia, fmr.MaxMinutiae)
	for i := range many {
		many[i] = fmr.Minutia{Kind: fmr.Kind(1 + i%2), X: uint16(i * 37 % 16384), Y: uint16(i * 91 % 16384), Angle: uint8(i * 7), Quality: uint8(i % 101)}
	}
	ansiMany := make([]fmr.Minutia, len(many))
	for i, m := range many {
		// ANSI keeps angles only to 2°: use angles that survive ISO→ANSI→ISO.
		m.Angle = uint8((int(i%180)*256 + 90) / 180 % 256)
		ansiMany[i] = m
	}
	ext, err := fmr.AppendExtended(fmr.ISO, nil, fmr.ExtendedArea{Type: fmr.AreaRidgeCount, Data: []byte{1, 0, 1, 5}})
	if err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte{0xab}, 40000)
	tests := []struct {
		name string
		rec  *fmr.Record
	}{
		{"iso sample", sampleRecord(fmr.ISO)},
		{"iso no views", &fmr.Record{Format: fmr.ISO, Width: 1, Height: 1, ResX: 1, ResY: 1}},
		{"iso empty view", &fmr.Record{Format: fmr.ISO, Width: 300, Height: 300, ResX: 197, ResY: 197, Views: []fmr.View{{Position: 10, ViewNumber: 15, Impression: 8, Quality: 100}}}},
		{"iso 255 minutiae", &fmr.Record{Format: fmr.ISO, Width: 16383, Height: 16383, ResX: 224, ResY: 224, Views: []fmr.View{{Minutiae: many}}}},
		{"iso two views extended", &fmr.Record{Format: fmr.ISO, Width: 400, Height: 500, ResX: 197, ResY: 197, Views: []fmr.View{
			{Position: 1, Minutiae: many[:3], Extended: ext},
			{Position: 1, ViewNumber: 1, Minutiae: many[3:9]},
		}}},
		{"ansi sample", func() *fmr.Record {
			r := sampleRecord(fmr.ANSI)
			for i := range r.Views[0].Minutiae {
				m := &r.Views[0].Minutiae[i]
				m.Angle = uint8((int(i*60)*256 + 90) / 180 % 256)
			}
			return r
		}()},
		{"ansi 255 minutiae", &fmr.Record{Format: fmr.ANSI, ProductID: 0xffffffff, Equipment: 0xffff, Width: 800, Height: 750, ResX: 394, ResY: 394, Views: []fmr.View{{Minutiae: ansiMany}}}},
		{"ansi long length form", &fmr.Record{Format: fmr.ANSI, ProductID: 1, Width: 400, Height: 500, ResX: 197, ResY: 197, Views: []fmr.View{
			{Position: 3, Extended: big}, {Position: 4, Extended: big},
		}}},
		{"iso over 64 KiB", &fmr.Record{Format: fmr.ISO, Width: 400, Height: 500, ResX: 197, ResY: 197, Views: []fmr.View{
			{Position: 3, Extended: big}, {Position: 4, Extended: big},
		}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := fmr.Marshal(tt.rec)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := fmr.Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(Marshal(r)): %v", err)
			}
			if !reflect.DeepEqual(got, tt.rec) {
				t.Errorf("Unmarshal(Marshal(r)) = %+v\nwant %+v", got, tt.rec)
			}
			again, err := fmr.Marshal(got)
			if err != nil {
				t.Fatalf("Marshal again: %v", err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("Marshal(Unmarshal(b)) differs from b")
			}
		})
	}
}

func TestANSILongFormHeader(t *testing.T) {
	big := bytes.Repeat([]byte{1}, 65535)
	r := &fmr.Record{Format: fmr.ANSI, ProductID: 7, Width: 10, Height: 10, ResX: 197, ResY: 197, Views: []fmr.View{{Extended: big}}}
	b, err := fmr.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(b), 30+4+2+65535; got != want {
		t.Fatalf("len = %d, want %d", got, want)
	}
	if b[8] != 0 || b[9] != 0 || int(b[10])<<24|int(b[11])<<16|int(b[12])<<8|int(b[13]) != len(b) {
		t.Errorf("length field % x, want 00 00 then the 4-byte length %d", b[8:14], len(b))
	}
	// A non-compliant long form for a short record still decodes.
	short := sampleRecord(fmr.ANSI)
	short.Views[0].Minutiae = nil
	sb, err := fmr.Marshal(short)
	if err != nil {
		t.Fatal(err)
	}
	long := append([]byte{}, sb[:8]...)
	long = append(long, 0, 0, 0, 0, 0, byte(len(sb)+4))
	long = append(long, sb[10:]...)
	got, err := fmr.Unmarshal(long)
	if err != nil {
		t.Fatalf("Unmarshal(6-byte length form of a short record): %v", err)
	}
	if !reflect.DeepEqual(got, short) {
		t.Errorf("Unmarshal(long form) = %+v, want %+v", got, short)
	}
}

func TestANSIAngles(t *testing.T) {
	for a := 0; a < 180; a++ {
		r := &fmr.Record{Format: fmr.ANSI, Width: 10, Height: 10, ResX: 197, ResY: 197, Views: []fmr.View{{Minutiae: []fmr.Minutia{{Kind: fmr.Ending}}}}}
		b, _ := fmr.Marshal(r)
		b[len(b)-4] = byte(a) // angle byte of the only minutia
		got, err := fmr.Unmarshal(b)
		if err != nil {
			t.Fatalf("Unmarshal with ANSI angle %d: %v", a, err)
		}
		iso := got.Views[0].Minutiae[0].Angle
		if d := float64(iso)*360/256 - float64(a)*2; d > 0.71 || d < -0.71 {
			t.Errorf("ANSI angle %d (%d°) decoded to ISO %d (%.2f°), off by %.2f°", a, 2*a, iso, float64(iso)*360/256, d)
		}
		back, err := fmr.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		if back[len(back)-4] != byte(a) {
			t.Errorf("ANSI angle %d → ISO %d → ANSI %d, want %d", a, iso, back[len(back)-4], a)
		}
	}
	for a := 0; a < 256; a++ {
		r := &fmr.Record{Format: fmr.ANSI, Width: 10, Height: 10, ResX: 197, ResY: 197, Views: []fmr.View{{Minutiae: []fmr.Minutia{{Angle: uint8(a)}}}}}
		b, _ := fmr.Marshal(r)
		ansi := int(b[len(b)-4])
		if ansi > 179 {
			t.Fatalf("ISO angle %d encoded as ANSI %d, beyond 179", a, ansi)
		}
		d := float64(a)*360/256 - float64(ansi)*2
		for d > 180 {
			d -= 360
		}
		if d > 1.0 || d < -1.0 {
			t.Errorf("ISO angle %d (%.2f°) encoded as ANSI %d (%d°)", a, float64(a)*360/256, ansi, 2*ansi)
		}
	}
}

func TestMarshalInvalid(t *testing.T) {
	tests := []struct {
		name   string
		mutate func(*fmr.Record)
		want   string
	}{
		{"no format", func(r *fmr.Record) { r.Format = 0 }, "format"},
		{"zero resolution", func(r *fmr.Record) { r.ResY = 0 }, "resolution"},
		{"finger position", func(r *fmr.Record) { r.Views[0].Position = 11 }, "finger position"},
		{"view number", func(r *fmr.Record) { r.Views[0].ViewNumber = 16 }, "view number"},
		{"impression", func(r *fmr.Record) { r.Views[0].Impression = 16 }, "impression"},
		{"finger quality", func(r *fmr.Record) { r.Views[0].Quality = 101 }, "finger quality"},
		{"too many minutiae", func(r *fmr.Record) { r.Views[0].Minutiae = make([]fmr.Minutia, 256) }, "256 minutiae"},
		{"kind", func(r *fmr.Record) { r.Views[0].Minutiae[0].Kind = 3 }, "kind"},
		{"x beyond 14 bits", func(r *fmr.Record) { r.Views[0].Minutiae[1].X = 1 << 14 }, "14 bits"},
		{"minutia quality", func(r *fmr.Record) { r.Views[0].Minutiae[2].Quality = 200 }, "quality 200"},
		{"extended too long", func(r *fmr.Record) { r.Views[0].Extended = make([]byte, 1<<16) }, "extended"},
		{"too many views", func(r *fmr.Record) { r.Views = make([]fmr.View, 256) }, "256 views"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := sampleRecord(fmr.ISO)
			tt.mutate(r)
			_, err := fmr.Marshal(r)
			if !errors.Is(err, fmr.ErrInvalid) {
				t.Fatalf("Marshal = %v, want an error wrapping ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Marshal error %q does not mention %q", err, tt.want)
			}
		})
	}
	if _, err := fmr.Marshal(nil); !errors.Is(err, fmr.ErrInvalid) {
		t.Errorf("Marshal(nil) = %v, want ErrInvalid", err)
	}
}

func TestUnmarshalMalformed(t *testing.T) {
	iso, err := fmr.Marshal(sampleRecord(fmr.ISO))
	if err != nil {
		t.Fatal(err)
	}
	ansi, err := fmr.Marshal(sampleRecord(fmr.ANSI))
	if err != nil {
		t.Fatal(err)
	}
	edit := func(b []byte, f func([]byte) []byte) []byte { return f(append([]byte(nil), b...)) }
	setLen := func(b []byte) []byte { // fix the ISO length field after editing
		b[8], b[9], b[10], b[11] = byte(len(b)>>24), byte(len(b)>>16), byte(len(b)>>8), byte(len(b))
		return b
	}
	tests := []struct {
		name string
		data []byte
		want error
		msg  string
	}{
		{"empty", nil, fmr.ErrMalformed, "shorter"},
		{"bad magic", edit(iso, func(b []byte) []byte { b[0] = 'X'; return b }), fmr.ErrMalformed, "FMR"},
		{"2011 edition", edit(iso, func(b []byte) []byte { copy(b[4:], "030\x00"); return b }), fmr.ErrUnsupported, "2011"},
		{"unknown version", edit(iso, func(b []byte) []byte { copy(b[4:], " 21\x00"); return b }), fmr.ErrUnsupported, "version"},
		{"truncated", iso[:len(iso)-1], fmr.ErrMalformed, "length field"},
		{"padded", append(append([]byte(nil), iso...), 0), fmr.ErrMalformed, "length field"},
		{"header only length", edit(iso[:12], func(b []byte) []byte { return setLen(b) }), fmr.ErrMalformed, "truncated"},
		{"reserved header byte", edit(iso, func(b []byte) []byte { b[23] = 1; return b }), fmr.ErrMalformed, "reserved byte"},
		{"zero resolution", edit(iso, func(b []byte) []byte { b[18], b[19] = 0, 0; return b }), fmr.ErrMalformed, "resolution"},
		{"too many views", edit(iso, func(b []byte) []byte { b[22] = 200; return b }), fmr.ErrMalformed, "200 finger views"},
		{"two views announced", edit(iso, func(b []byte) []byte { b[22] = 2; return b }), fmr.ErrMalformed, "view 1"},
		{"zero views with data", edit(iso, func(b []byte) []byte { b[22] = 0; return b }), fmr.ErrMalformed, "bytes left"},
		{"finger position", edit(iso, func(b []byte) []byte { b[24] = 11; return b }), fmr.ErrMalformed, "finger position"},
		{"finger quality", edit(iso, func(b []byte) []byte { b[26] = 101; return b }), fmr.ErrMalformed, "finger quality"},
		{"minutia count too big", edit(iso, func(b []byte) []byte { b[27] = 4; return b }), fmr.ErrMalformed, "minutiae"},
		{"minutia count too small", edit(iso, func(b []byte) []byte { b[27] = 2; return b }), fmr.ErrMalformed, "bytes left"},
		{"reserved minutia type", edit(iso, func(b []byte) []byte { b[28] |= 0xc0; return b }), fmr.ErrMalformed, "type bits"},
		{"reserved y bits", edit(iso, func(b []byte) []byte { b[30] |= 0x40; return b }), fmr.ErrMalformed, "reserved bits"},
		{"minutia quality", edit(iso, func(b []byte) []byte { b[33] = 101; return b }), fmr.ErrMalformed, "quality 101"},
		{"extended length beyond end", edit(iso, func(b []byte) []byte { b[len(b)-1] = 5; return b }), fmr.ErrMalformed, "extended data block"},
		{"ansi angle 180", edit(ansi, func(b []byte) []byte { b[34] = 180; return b }), fmr.ErrMalformed, "ANSI angle 180"},
		{"ansi truncated", ansi[:len(ansi)-2], fmr.ErrMalformed, "length field"},
		{"ansi length mismatch", edit(ansi, func(b []byte) []byte { b[9]++; return b }), fmr.ErrMalformed, "length field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := fmr.Unmarshal(tt.data)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Unmarshal = %+v, %v; want an error wrapping %v", rec, err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("Unmarshal error %q does not mention %q", err, tt.msg)
			}
		})
	}
}

func TestUnmarshalDoesNotAlias(t *testing.T) {
	r := sampleRecord(fmr.ISO)
	r.Views[0].Extended = []byte{0, 1, 0, 1, 9}
	b, err := fmr.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	got, err := fmr.Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	for i := range b {
		b[i] = 0xff
	}
	if !reflect.DeepEqual(got, r) {
		t.Errorf("decoded record changed when its input was overwritten")
	}
}

// TestMINEX decodes the MINEX III reference templates, checks them against
// the images they were made from, and re-encodes them byte for byte.
func TestMINEX(t *testing.T) {
	dir := sharedData(t, "minex")
	paths, err := filepath.Glob(filepath.Join(dir, "templates-iso", "*.ist"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no MINEX templates in %s: %v", dir, err)
	}
	if len(paths) != 9 {
		t.Errorf("found %d MINEX templates, want 9", len(paths))
	}
	for _, p := range paths {
		name := strings.TrimSuffix(filepath.Base(p), ".ist")
		t.Run(name, func(t *testing.T) {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			r, err := fmr.Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal(%s): %v", name, err)
			}
			if r.Format != fmr.ISO || r.PPI() != 500 || len(r.Views) != 1 {
				t.Errorf("%s: format %v, %d ppi, %d views; want ISO, 500 ppi, 1 view", name, r.Format, r.PPI(), len(r.Views))
			}
			var w, h int
			pgm, err := os.ReadFile(filepath.Join(dir, "images-pgm", name+".pgm"))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := fmt.Sscanf(string(pgm[:32]), "P5 %d %d", &w, &h); err != nil {
				t.Fatalf("PGM header of %s: %v", name, err)
			}
			if int(r.Width) != w || int(r.Height) != h {
				t.Errorf("%s: record size %dx%d, image %dx%d", name, r.Width, r.Height, w, h)
			}
			v := r.Views[0]
			if len(v.Minutiae) < 30 {
				t.Errorf("%s: %d minutiae, want at least 30", name, len(v.Minutiae))
			}
			for i, m := range v.Minutiae {
				if int(m.X) >= w || int(m.Y) >= h {
					t.Errorf("%s minutia %d = %+v: outside the %dx%d image", name, i, m, w, h)
				}
			}
			again, err := fmr.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, b) {
				t.Errorf("%s: Marshal(Unmarshal(b)) is not b", name)
			}
		})
	}
}

func TestPPIConversions(t *testing.T) {
	tests := []struct {
		ppi  int
		ppcm uint16
	}{{500, 197}, {569, 224}, {508, 200}, {1000, 394}, {250, 98}}
	for _, tt := range tests {
		if got := fmr.PPIToPPCM(tt.ppi); got != tt.ppcm {
			t.Errorf("PPIToPPCM(%d) = %d, want %d", tt.ppi, got, tt.ppcm)
		}
		if got := fmr.PPCMToPPI(tt.ppcm); got < tt.ppi-1 || got > tt.ppi+1 {
			t.Errorf("PPCMToPPI(%d) = %d, want %d±1", tt.ppcm, got, tt.ppi)
		}
	}
}

func TestAngleRadians(t *testing.T) {
	for a := 0; a < 256; a++ {
		m := fmr.Minutia{Angle: uint8(a)}
		if got := fmr.AngleFromRadians(m.Radians()); got != uint8(a) {
			t.Errorf("AngleFromRadians(Minutia{Angle: %d}.Radians()) = %d", a, got)
		}
	}
	if got := fmr.AngleFromRadians(-0.01); got != 0 {
		t.Errorf("AngleFromRadians(-0.01) = %d, want 0", got)
	}
	if got := fmr.AngleFromRadians(-3.14159265 / 2); got != 192 {
		t.Errorf("AngleFromRadians(-π/2) = %d, want 192", got)
	}
}
