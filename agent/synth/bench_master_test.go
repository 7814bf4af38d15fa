package synth

import "testing"

func BenchmarkMaster(b *testing.B) {
	g, err := New(nil)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		g.newMaster(uint64(i % 8))
	}
}
