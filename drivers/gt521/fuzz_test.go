package gt521

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
)

type bytesPort struct{ r *bytes.Reader }

func (p *bytesPort) Read(b []byte) (int, error)         { n, _ := p.r.Read(b); return n, nil }
func (p *bytesPort) Write(b []byte) (int, error)        { return len(b), nil }
func (p *bytesPort) SetReadTimeout(time.Duration) error { return nil }

func FuzzParsePacket(f *testing.F) {
	f.Add(ack(0))
	f.Add(nack(0x1012))
	f.Add(cmd(CmdCmosLed, 1))
	f.Add(corrupt(ack(7)))
	f.Add([]byte{0x55, 0xAA})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParsePacket(b)
		if err != nil {
			if !errors.Is(err, ErrLink) {
				t.Fatalf("ParsePacket = %v, want a link error", err)
			}
			return
		}
		if got := AppendPacket(nil, p); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded % X, input % X", got, b)
		}
	})
}

func FuzzParseData(f *testing.F) {
	f.Add(data(AppendInfo(nil, testInfo)), uint16(InfoLen))
	f.Add(data(nil), uint16(0))
	f.Add(corrupt(data([]byte{1, 2, 3})), uint16(3))
	f.Add(AppendData(nil, 2, []byte{9}), uint16(1))
	f.Fuzz(func(t *testing.T, b []byte, n uint16) {
		got, err := ParseData(b, int(n), 1)
		if err != nil {
			if !errors.Is(err, ErrLink) {
				t.Fatalf("ParseData = %v, want a link error", err)
			}
			return
		}
		if len(got) != int(n) || !bytes.Equal(AppendData(nil, 1, got), b) {
			t.Fatalf("ParseData returned %d bytes that do not re-encode to the input", len(got))
		}
	})
}

func FuzzParseInfo(f *testing.F) {
	f.Add(AppendInfo(nil, testInfo))
	f.Add(make([]byte, InfoLen))
	f.Add([]byte{1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		in, err := ParseInfo(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("ParseInfo = %v, want ErrFrame", err)
			}
			return
		}
		if !bytes.Equal(AppendInfo(nil, in), b) {
			t.Fatalf("ParseInfo does not round-trip % X", b)
		}
		_ = in.SerialString() + in.FirmwareString()
	})
}

// FuzzReply feeds arbitrary bytes to the driver as the reply to GetRawImage:
// the response packet, then the data packet, through the stream reader.
func FuzzReply(f *testing.F) {
	raw := pattern(RawImageWidth * RawImageHeight)
	f.Add(cat(ack(0), data(raw)))
	f.Add(cat([]byte{0x55, 0x5A, 0xA5}, ack(0), data(raw[:100])))
	f.Add(nack(0x1012))
	f.Add(cat(ack(0), corrupt(data(raw))))
	f.Fuzz(func(t *testing.T, in []byte) {
		o := DefaultOptions()
		o.Timeout = time.Millisecond
		d := &Dev{port: &bytesPort{r: bytes.NewReader(in)}, opts: *o, log: zap.NewNop(), baud: 115200, tmp: make([]byte, 4096)}
		g, err := d.GetRawImage()
		if err != nil {
			var ne *NackError
			if !errors.Is(err, ErrLink) && !errors.As(err, &ne) {
				t.Fatalf("GetRawImage = %v, want a link error or a NACK", err)
			}
			return
		}
		if !bytes.Contains(in, AppendData(nil, 1, g.Pix)) {
			t.Fatalf("image returned is not a data packet of the input")
		}
	})
}
