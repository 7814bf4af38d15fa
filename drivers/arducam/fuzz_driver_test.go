package arducam

import (
	"context"
	"errors"
	"testing"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// noisyChip passes the SPI link test and answers every other read, and
// every FIFO byte, from data.
type noisyChip struct {
	data []byte
	pos  int
}

func (c *noisyChip) next() byte {
	b := c.data[c.pos%len(c.data)]
	c.pos++
	return b
}

func (c *noisyChip) String() string      { return "noisy" }
func (c *noisyChip) Duplex() conn.Duplex { return conn.Full }
func (c *noisyChip) TxPackets([]spi.Packet) error {
	return errors.New("not implemented")
}
func (c *noisyChip) Tx(w, r []byte) error {
	if len(r) == 0 {
		return nil
	}
	if w[0] == regTest {
		r[1] = testPattern
		return nil
	}
	for i := 1; i < len(r); i++ {
		r[i] = c.next()
	}
	return nil
}

type noisyPort struct{ c *noisyChip }

func (p noisyPort) String() string { return "noisy" }
func (p noisyPort) Connect(physic.Frequency, spi.Mode, int) (spi.Conn, error) {
	return p.c, nil
}

// okSensor is an OV2640 that accepts every write.
type okSensor struct{}

func (okSensor) String() string                  { return "sccb" }
func (okSensor) SetSpeed(physic.Frequency) error { return nil }
func (okSensor) Tx(addr uint16, w, r []byte) error {
	if len(r) == 1 {
		switch w[0] {
		case regPIDH:
			r[0] = OV2640PID
		case regPIDL:
			r[0] = 0x42
		}
	}
	return nil
}

// FuzzDriverReplies runs Capture against a camera whose registers and
// FIFO answer arbitrary bytes: the result is a JPEG from FF D8 to FF D9 or
// an error wrapping one of the package's sentinels, never a panic or hang.
func FuzzDriverReplies(f *testing.F) {
	f.Add([]byte{0x08, 0x10, 0, 0, 0xFF, 0xD8, 0xFF, 0xD9})
	f.Add([]byte{0x00})
	f.Add([]byte{0x08, 0xFF, 0xFF, 0x7F})
	f.Add(append([]byte{0x08, 0x06, 0x00, 0x00}, fifoOf([]byte{0xFF, 0xD8, 0xFF, 0xD9})...))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		clk := drvtime.NewVirtual(time.Time{})
		d, err := New(noisyPort{&noisyChip{data: data}}, okSensor{}, &Options{
			Clock: clk, Size: Size{160, 120}, Chunk: 64, Timeout: 20 * time.Millisecond, MaxFIFO: 1 << 16,
		})
		if err != nil {
			t.Fatalf("New with a good link and sensor = %v", err)
		}
		jpg, err := d.Capture(context.Background())
		if err != nil {
			for _, s := range []error{ErrTimeout, ErrFIFOLength, ErrNoJPEG, ErrTruncatedJPEG, ErrBadJPEG} {
				if errors.Is(err, s) {
					return
				}
			}
			t.Fatalf("Capture error %v wraps no sentinel", err)
		}
		if len(jpg) < 4 || jpg[0] != 0xFF || jpg[1] != 0xD8 || jpg[len(jpg)-2] != 0xFF || jpg[len(jpg)-1] != 0xD9 {
			t.Fatalf("Capture returned % X..., not a framed JPEG", jpg[:min(4, len(jpg))])
		}
	})
}
