package jpegseg

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"testing"
)

func encode(t testing.TB) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewGray(image.Rect(0, 0, 16, 8)), nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// stripDHT removes every DHT segment, as UVC cameras send MJPEG.
func stripDHT(t testing.TB, jpg []byte) []byte {
	t.Helper()
	out := []byte{0xFF, SOI}
	i := 2
	for i+4 <= len(jpg) && jpg[i+1] != SOS {
		n := int(jpg[i+2])<<8 | int(jpg[i+3])
		if jpg[i+1] != DHT {
			out = append(out, jpg[i:i+2+n]...)
		}
		i += 2 + n
	}
	return append(out, jpg[i:]...)
}

func TestFind(t *testing.T) {
	jpg := encode(t)
	info, err := Find(append([]byte{0, 1}, append(jpg, 9, 9)...))
	if err != nil {
		t.Fatalf("Find = %v", err)
	}
	if info.Start != 2 || info.End != 2+len(jpg) {
		t.Errorf("Find bounds = [%d, %d), want [2, %d)", info.Start, info.End, 2+len(jpg))
	}
	if !info.HasDHT || !info.HasDQT || info.FirstSOS < 0 {
		t.Errorf("Find info = %+v, want DHT, DQT and a scan", info)
	}
	bare := stripDHT(t, jpg)
	info, err = Find(bare)
	if err != nil {
		t.Fatalf("Find(no DHT) = %v", err)
	}
	if info.HasDHT || !info.HasDQT || info.End != len(bare) {
		t.Errorf("Find(no DHT) info = %+v, want no DHT, DQT, end %d", info, len(bare))
	}
	for _, tt := range []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNoStart},
		{"cut", jpg[:len(jpg)-1], ErrTruncated},
		{"bad length", []byte{0xFF, SOI, 0xFF, DQT, 0, 1}, ErrMalformed},
	} {
		if _, err := Find(tt.in); !errors.Is(err, tt.want) {
			t.Errorf("Find(%s) = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func FuzzFind(f *testing.F) {
	jpg := encode(f)
	f.Add(jpg)
	f.Add(stripDHT(f, jpg))
	f.Add([]byte{0xFF, SOI, 0xFF, 0xFF, EOI})
	f.Fuzz(func(t *testing.T, buf []byte) {
		info, err := Find(buf)
		if err != nil {
			if !errors.Is(err, ErrNoStart) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrMalformed) {
				t.Fatalf("Find error %v is none of the sentinels", err)
			}
			return
		}
		if info.Start < 0 || info.End > len(buf) || info.End-info.Start < 4 {
			t.Fatalf("Find bounds [%d, %d) in %d bytes", info.Start, info.End, len(buf))
		}
		if buf[info.Start] != 0xFF || buf[info.Start+1] != SOI || buf[info.End-2] != 0xFF || buf[info.End-1] != EOI {
			t.Fatalf("Find bounds do not hold FF D8 .. FF D9")
		}
		if info.FirstSOS >= 0 && (info.FirstSOS < info.Start || info.FirstSOS >= info.End || buf[info.FirstSOS+1] != SOS) {
			t.Fatalf("FirstSOS %d is not an FF DA inside the image", info.FirstSOS)
		}
	})
}
