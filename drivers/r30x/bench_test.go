package r30x

import (
	"bytes"
	"testing"
	"time"
)

func BenchmarkParsePacket(b *testing.B) {
	packed, _ := PackImage(testImage())
	pkt := AppendPacket(nil, Packet{Addr: addr, PID: PIDData, Payload: packed[:128]})
	b.SetBytes(int64(len(pkt)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := ParsePacket(pkt); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUploadImageDecode measures the host side of an upload: reading
// 289 packets from the port, checking them and unpacking the pixels.
func BenchmarkUploadImageDecode(b *testing.B) {
	packed, _ := PackImage(testImage())
	stream := imageOps(packed, 128)[0].R
	pix := make([]byte, ImageWidth*ImageHeight)
	port := &bytesPort{r: bytes.NewReader(stream)}
	d := fuzzDev(nil, 128)
	d.port = port
	d.opts.Timeout, d.opts.PacketTimeout = time.Second, time.Second
	b.SetBytes(int64(len(stream)))
	b.ReportAllocs()
	for b.Loop() {
		port.r.Reset(stream)
		if err := d.UploadImageInto(pix); err != nil {
			b.Fatal(err)
		}
	}
}

// TestUploadImageAllocs holds the upload path to its allocation budget:
// none per image once the receive buffer has grown.
func TestUploadImageAllocs(t *testing.T) {
	packed, _ := PackImage(testImage())
	stream := imageOps(packed, 128)[0].R
	pix := make([]byte, ImageWidth*ImageHeight)
	port := &bytesPort{r: bytes.NewReader(stream)}
	d := fuzzDev(nil, 128)
	d.port = port
	d.opts.Timeout, d.opts.PacketTimeout = time.Second, time.Second
	allocs := testing.AllocsPerRun(20, func() {
		port.r.Reset(stream)
		if err := d.UploadImageInto(pix); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("UploadImageInto = %.0f allocations per image, want at most 1", allocs)
	}
}
