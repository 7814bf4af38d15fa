package gt521

import (
	"bytes"
	"testing"

	"go.uber.org/zap"
)

func BenchmarkParseData(b *testing.B) {
	pkt := data(pattern(ImageWidth * ImageHeight))
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseData(pkt, ImageWidth*ImageHeight, 1); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkGetImageDecode measures the host side of GetImage: reading the
// response and the 52,122-byte data packet from the port and checking it.
func BenchmarkGetImageDecode(b *testing.B) {
	stream := cat(ack(0), data(pattern(ImageWidth*ImageHeight)))
	port := &bytesPort{r: bytes.NewReader(stream)}
	o := DefaultOptions()
	d := &Dev{port: port, opts: *o, log: zap.NewNop(), baud: 115200, tmp: make([]byte, 4096)}
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		port.r.Reset(stream)
		if _, err := d.GetImage(); err != nil {
			b.Fatal(err)
		}
	}
}
