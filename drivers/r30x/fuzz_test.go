package r30x

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"go.uber.org/zap"
)

// bytesPort serves fixed input; at its end every read times out.
type bytesPort struct {
	r     *bytes.Reader
	wrote int
}

func (p *bytesPort) Read(b []byte) (int, error) {
	n, _ := p.r.Read(b)
	return n, nil
}
func (p *bytesPort) Write(b []byte) (int, error)        { p.wrote += len(b); return len(b), nil }
func (p *bytesPort) SetReadTimeout(time.Duration) error { return nil }

func fuzzDev(in []byte, packetSize int) *Dev {
	o := DefaultOptions()
	o.Timeout = time.Millisecond
	o.PacketTimeout = time.Millisecond
	return &Dev{port: &bytesPort{r: bytes.NewReader(in)}, opts: *o, log: zap.NewNop(), baud: 57600,
		params: SysParams{PacketSize: packetSize, Baud: 57600, SecurityLevel: 3}}
}

func FuzzParsePacket(f *testing.F) {
	f.Add(ack(0))
	f.Add(ack(0, params(128, 57600, 3)...))
	f.Add(cmd(cmdVfyPwd, 0, 0, 0, 0))
	f.Add(corruptSum(ack(2)))
	f.Add([]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x02, 0x01, 0x02})
	f.Add([]byte{0xEF, 0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0x00, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, n, err := ParsePacket(b)
		if n < 0 || n > len(b) {
			t.Fatalf("ParsePacket used %d of %d bytes", n, len(b))
		}
		if err == nil {
			if got := AppendPacket(nil, p); !bytes.Equal(got, b[:n]) {
				t.Fatalf("re-encoded packet % X differs from input % X", got, b[:n])
			}
			return
		}
		if err == errShort {
			if n != 0 {
				t.Fatalf("errShort with n=%d, want 0", n)
			}
			return
		}
		if !errors.Is(err, ErrLink) || n == 0 {
			t.Fatalf("ParsePacket error %v with n=%d: want a link error that consumes bytes", err, n)
		}
	})
}

func FuzzReadPacket(f *testing.F) {
	f.Add(append([]byte{0x55, 0x00, 0xEF}, ack(0)...))
	f.Add(append(ack(0x02), ack(0, params(64, 115200, 5)...)...))
	f.Add(append([]byte{0xEF, 0x01, 0xEF, 0x01}, corruptSum(ack(0))...))
	f.Add([]byte{0xEF})
	f.Fuzz(func(t *testing.T, in []byte) {
		d := fuzzDev(in, 128)
		for range len(in) + 1 {
			p, err := d.readPacket(time.Now().Add(time.Second))
			if errors.Is(err, ErrTimeout) {
				return
			}
			if err != nil {
				if !errors.Is(err, ErrLink) {
					t.Fatalf("readPacket = %v, want a link error", err)
				}
				continue
			}
			if !bytes.Contains(in, AppendPacket(nil, p)) {
				t.Fatalf("packet %+v is not in the input", p)
			}
		}
		t.Fatalf("readPacket did not reach the end of %d input bytes", len(in))
	})
}

func FuzzParseSysParams(f *testing.F) {
	f.Add(params(128, 57600, 3))
	f.Add(params(32, 9600, 1))
	f.Add(params(256, 115200, 5))
	f.Add(make([]byte, 16))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseSysParams(b)
		if err != nil {
			if !errors.Is(err, ErrFrame) {
				t.Fatalf("ParseSysParams = %v, want ErrFrame", err)
			}
			return
		}
		if got := AppendSysParams(nil, p); !bytes.Equal(got, b) {
			t.Fatalf("re-encoded % X, input % X", got, b)
		}
	})
}

func FuzzUploadImage(f *testing.F) {
	packed, _ := PackImage(testImage())
	good := imageOps(packed, 256)[0].R
	f.Add(byte(3), good)
	f.Add(byte(3), good[:len(good)/2])
	f.Add(byte(0), append(ack(0), AppendPacket(nil, Packet{Addr: addr, PID: PIDEnd, Payload: packed[:32]})...))
	f.Add(byte(2), ack(0x0F))
	f.Fuzz(func(t *testing.T, sizeCode byte, in []byte) {
		size := 32 << (sizeCode % 4)
		d := fuzzDev(in, size)
		pix := make([]byte, ImageWidth*ImageHeight)
		err := d.UploadImageInto(pix)
		if err != nil {
			return
		}
		// Success means the input held the acknowledgement and a whole,
		// well-formed image whose pixels are what was returned.
		if len(in) < ImageBytes {
			t.Fatalf("image decoded from %d input bytes, fewer than %d", len(in), ImageBytes)
		}
		for i, v := range pix {
			if v%17 != 0 {
				t.Fatalf("pixel %d = %d, not a 4-bit sample times 17", i, v)
			}
		}
	})
}
