package nodeverify

import (
	"context"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// BenchmarkOpen measures verify-then-open of a 50 KB record at the node:
// parse, canonical check, Ed25519 verify, HPKE open, CaptureRecord decode.
// Target: at most 1 ms per record.
func BenchmarkOpen(b *testing.B) {
	for _, nk := range []struct{ name, key string }{{"mlkem768-x25519", "node-1"}, {"x25519", "node-x"}} {
		b.Run(nk.name+"/50KB", func(b *testing.B) {
			w := newWorld(b)
			out, err := w.sealer(b, "kiosk-001", nk.key).Seal(record(b, "kiosk-001", 50<<10), 1, [32]byte{})
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(out)))
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				if _, err := w.v.Open("kiosk-001", out); err != nil {
					b.Fatal(err)
				}
			}
			reportCPU(b, start)
		})
	}
}

// BenchmarkReceive adds the chain check against an in-memory store.
func BenchmarkReceive(b *testing.B) {
	w := newWorld(b)
	s := w.sealer(b, "kiosk-001", "node-1")
	const n = 256
	recs := make([][]byte, n)
	var prev [seal.HashSize]byte
	for i := range recs {
		out, err := s.Seal(record(b, "kiosk-001", 50<<10), uint64(i+1), prev)
		if err != nil {
			b.Fatal(err)
		}
		recs[i], prev = out, seal.Hash(out)
	}
	store := NewMemChain()
	b.ReportAllocs()
	i := 0
	start := cpuTime()
	for b.Loop() {
		if i%n == 0 {
			store = NewMemChain()
		}
		vd := w.v.Receive(context.Background(), store, "kiosk-001", recs[i%n], nil)
		if vd.Err != nil {
			b.Fatal(vd.Err)
		}
		i++
	}
	reportCPU(b, start)
}
