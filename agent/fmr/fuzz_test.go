package fmr

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func fuzzSeeds(f *testing.F, format Format) {
	recs := []*Record{
		{Format: format, Width: 300, Height: 400, ResX: 197, ResY: 197, Views: []View{{
			Position: 1, Quality: 60,
			Minutiae: []Minutia{{Kind: Ending, X: 1, Y: 2, Angle: 3, Quality: 4}, {Kind: Bifurcation, X: 299, Y: 399, Angle: 128, Quality: 100}},
			Extended: []byte{0, 1, 0, 4, 1, 0, 1, 5},
		}}},
		{Format: format, ProductID: 0x00330001, Width: 1, Height: 1, ResX: 1, ResY: 1},
		{Format: format, Width: 256, Height: 360, ResX: 224, ResY: 224, Views: []View{{Position: 2}, {Position: 2, ViewNumber: 1, Minutiae: []Minutia{{}}}}},
	}
	for _, r := range recs {
		b, err := Marshal(r)
		if err != nil {
			f.Fatalf("seed: %v", err)
		}
		f.Add(b)
	}
	if format == ISO {
		// The MINEX templates when the shared data is around; the committed
		// corpus in testdata/fuzz holds one too.
		dir := os.Getenv("KIOSK_TESTDATA")
		if dir == "" {
			dir = filepath.Join("..", "..", "..", "shared", "data")
		}
		paths, _ := filepath.Glob(filepath.Join(dir, "minex", "templates-iso", "*.ist"))
		for _, p := range paths {
			if b, err := os.ReadFile(p); err == nil {
				f.Add(b)
			}
		}
	}
}

// checkDecoded asserts what every successful decode must satisfy: errors
// are typed, and a decoded record encodes and decodes back to itself.
func checkDecoded(t *testing.T, data []byte, rec *Record, err error) {
	if err != nil {
		if rec != nil {
			t.Fatalf("decoder returned a record and an error %v", err)
		}
		if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) {
			t.Fatalf("decoder error %v wraps neither ErrMalformed nor ErrUnsupported", err)
		}
		return
	}
	b, err := Marshal(rec)
	if err != nil {
		t.Fatalf("Marshal of a decoded record: %v", err)
	}
	again, err := Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(Marshal(decoded)): %v", err)
	}
	if !reflect.DeepEqual(again, rec) {
		t.Fatalf("Unmarshal(Marshal(decoded)) = %+v, want %+v", again, rec)
	}
	// ISO re-encodes byte for byte (after the format identifier, which the
	// direct decoder fuzzers do not check); ANSI too unless the input used
	// the long length form for a short record.
	if rec.Format == ISO && !bytes.Equal(b[8:], data[8:]) {
		t.Fatalf("ISO record does not re-encode to its input")
	}
	for _, v := range rec.Views {
		if areas, err := ParseExtended(rec.Format, v.Extended); err == nil {
			for _, a := range areas {
				switch a.Type {
				case AreaRidgeCount:
					_, _ = ParseRidgeCounts(a.Data)
				case AreaCoreDelta:
					if cd, err := ParseCoreDelta(rec.Format, a.Data); err == nil {
						_, _ = AppendCoreDelta(rec.Format, nil, cd)
					}
				}
			}
		}
	}
}

func FuzzUnmarshal(f *testing.F) {
	fuzzSeeds(f, ISO)
	fuzzSeeds(f, ANSI)
	f.Fuzz(func(t *testing.T, data []byte) {
		rec, err := Unmarshal(data)
		checkDecoded(t, data, rec, err)
	})
}

// FuzzDecodeISO drives the ISO decoder directly, past format detection.
func FuzzDecodeISO(f *testing.F) {
	fuzzSeeds(f, ISO)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 8 {
			return
		}
		rec, err := decodeISO(data)
		checkDecoded(t, data, rec, err)
	})
}

// FuzzDecodeANSI drives the ANSI decoder directly, past format detection.
func FuzzDecodeANSI(f *testing.F) {
	fuzzSeeds(f, ANSI)
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 8 {
			return
		}
		rec, err := decodeANSI(data)
		checkDecoded(t, data, rec, err)
	})
}

func FuzzParseExtended(f *testing.F) {
	f.Add(true, []byte{0, 1, 0, 4, 1, 0, 1, 5})
	f.Add(false, []byte{0, 2, 0, 13, 0x41, 0, 1, 0, 1, 20, 0x41, 0, 5, 0, 6, 1, 2, 3})
	f.Add(true, []byte{0, 2, 0, 6, 1, 0x40, 1, 0, 1, 20})
	f.Fuzz(func(t *testing.T, iso bool, block []byte) {
		format := ANSI
		if iso {
			format = ISO
		}
		areas, err := ParseExtended(format, block)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseExtended error %v does not wrap ErrMalformed", err)
			}
			return
		}
		b, err := AppendExtended(format, nil, areas...)
		if err != nil || !bytes.Equal(b, block) {
			t.Fatalf("AppendExtended(ParseExtended(block)) = % x, %v; want the block back", b, err)
		}
		for _, a := range areas {
			if cd, err := ParseCoreDelta(format, a.Data); err == nil {
				if _, err := AppendCoreDelta(format, nil, cd); err != nil && format == ISO {
					t.Fatalf("AppendCoreDelta of a parsed ISO area: %v", err)
				}
			} else if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseCoreDelta error %v does not wrap ErrMalformed", err)
			}
			if _, err := ParseRidgeCounts(a.Data); err != nil && !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseRidgeCounts error %v does not wrap ErrMalformed", err)
			}
		}
	})
}
