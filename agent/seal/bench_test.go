package seal

import (
	"testing"
)

// BenchmarkSeal measures Seal (serialize, HPKE encrypt, Ed25519 sign,
// serialize) of a 50 KB record. Target: at most 1 ms per record.
func BenchmarkSeal(b *testing.B) {
	for _, suite := range []Suite{SuiteMLKEM768X25519, SuiteX25519} {
		b.Run(suite.Name()+"/50KB", func(b *testing.B) {
			f := newFixture(b, suite)
			rec := testRecord(b, 50<<10)
			var prev [HashSize]byte
			b.ReportAllocs()
			start := cpuTime()
			for b.Loop() {
				out, err := f.sealer.Seal(rec, 1, prev)
				if err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(out)))
			}
			reportCPU(b, start)
		})
	}
}
