package fmr_test

import (
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func benchRecord(f fmr.Format) *fmr.Record {
	ms := make([]fmr.Minutia, 60)
	for i := range ms {
		ms[i] = fmr.Minutia{Kind: fmr.Kind(1 + i%2), X: uint16(7 * i), Y: uint16(5 * i), Angle: uint8(i * 4), Quality: uint8(i)}
	}
	return &fmr.Record{Format: f, Width: 388, Height: 374, ResX: 197, ResY: 197, Views: []fmr.View{{Position: 2, Quality: 70, Minutiae: ms}}}
}

func BenchmarkMarshal(b *testing.B) {
	for _, f := range []fmr.Format{fmr.ISO, fmr.ANSI} {
		b.Run(map[fmr.Format]string{fmr.ISO: "iso", fmr.ANSI: "ansi"}[f], func(b *testing.B) {
			r := benchRecord(f)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := fmr.Marshal(r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkUnmarshal(b *testing.B) {
	for _, f := range []fmr.Format{fmr.ISO, fmr.ANSI} {
		b.Run(map[fmr.Format]string{fmr.ISO: "iso", fmr.ANSI: "ansi"}[f], func(b *testing.B) {
			data, err := fmr.Marshal(benchRecord(f))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				if _, err := fmr.Unmarshal(data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
