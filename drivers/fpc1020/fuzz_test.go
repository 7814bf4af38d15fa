package fpc1020

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/gpio/gpiotest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// streamConn answers image reads from a byte stream and checks each
// transfer against the split-read rule.
type streamConn struct {
	stream []byte
	pos    int
	chunk  int
	txs    int
	err    error
}

func (c *streamConn) String() string      { return "stream" }
func (c *streamConn) Duplex() conn.Duplex { return conn.Full }

func (c *streamConn) Tx(w, r []byte) error {
	head := 1
	if c.txs == 0 {
		head = 2
	}
	c.txs++
	switch {
	case len(w) > c.chunk:
		c.err = fmt.Errorf("transfer #%d is %d bytes, chunk is %d", c.txs, len(w), c.chunk)
	case len(w) != len(r):
		c.err = fmt.Errorf("transfer #%d writes %d bytes and reads %d", c.txs, len(w), len(r))
	case len(w) <= head:
		c.err = fmt.Errorf("transfer #%d of %d bytes carries no pixel", c.txs, len(w))
	case w[0] != cmdReadImage:
		c.err = fmt.Errorf("transfer #%d starts with 0x%02X, want 0xC4", c.txs, w[0])
	case !bytes.Equal(w[1:], make([]byte, len(w)-1)):
		c.err = fmt.Errorf("transfer #%d clocks out non-zero bytes after the command", c.txs)
	}
	if c.err != nil {
		return c.err
	}
	for i := head; i < len(r); i++ {
		r[i] = c.stream[c.pos%len(c.stream)]
		c.pos++
	}
	return nil
}

// FuzzReadImage checks the chunked image read: whatever the chunk size and
// image size, every transfer obeys the split-read rule and the pixels come
// out in the order the sensor sent them.
func FuzzReadImage(f *testing.F) {
	f.Add(uint16(4096), uint16(36864&0xFFFF), []byte{1, 2, 3})
	f.Add(uint16(3), uint16(192), []byte{0xFF})
	f.Add(uint16(10754), uint16(10752), []byte{0, 1})
	f.Add(uint16(0), uint16(1), []byte{9})
	f.Fuzz(func(t *testing.T, chunk, n uint16, stream []byte) {
		if len(stream) == 0 {
			stream = []byte{0}
		}
		c := &streamConn{stream: stream, chunk: int(chunk)}
		pix := make([]byte, n)
		size := max(int(chunk), 1)
		err := readImage(c, pix, int(chunk), make([]byte, size), make([]byte, size))
		if chunk < 3 {
			if err == nil {
				t.Fatalf("readImage(chunk %d) = nil, want an error", chunk)
			}
			return
		}
		if err != nil {
			t.Fatalf("readImage(chunk %d, %d px) = %v", chunk, n, err)
		}
		for i, p := range pix {
			if want := stream[i%len(stream)]; p != want {
				t.Fatalf("pixel %d = 0x%02X, want 0x%02X", i, p, want)
			}
		}
		if c.pos != int(n) {
			t.Fatalf("sensor sent %d pixels, image has %d", c.pos, n)
		}
		_ = CheckImage(pix)
	})
}

// noiseConn answers every transfer with bytes from data, cycling.
type noiseConn struct {
	data []byte
	pos  int
}

func (c *noiseConn) String() string      { return "noise" }
func (c *noiseConn) Duplex() conn.Duplex { return conn.Full }
func (c *noiseConn) Tx(w, r []byte) error {
	for i := range r {
		r[i] = c.data[c.pos%len(c.data)]
		c.pos++
	}
	return nil
}
func (c *noiseConn) TxPackets([]spi.Packet) error { return fmt.Errorf("not implemented") }

type noisePort struct{ c *noiseConn }

func (p noisePort) String() string { return "noise" }
func (p noisePort) Connect(physic.Frequency, spi.Mode, int) (spi.Conn, error) {
	return p.c, nil
}

// FuzzDriverReplies drives New, FingerPresent and Capture against a sensor
// that answers arbitrary bytes: the driver must return an error or an image
// of the right size, never panic or hang.
func FuzzDriverReplies(f *testing.F) {
	f.Add([]byte{0, 0xFF, 0, 0x02, 0x0A, 0, 0xA0, 1, 2, 3})
	f.Add([]byte{0xFF})
	f.Add([]byte{0, 0xFF, 0, 0x02, 0x0A, 0, 0x80, 0, 0x00, 0x01, 0, 0x24})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		clk := drvtime.NewVirtual(time.Time{})
		irq := &gpiotest.Pin{N: "IRQ", L: gpio.High, EdgesChan: make(chan gpio.Level, 1)}
		rst := &gpiotest.Pin{N: "RST"}
		port := noisePort{&noiseConn{data: data}}
		d, err := New(port, rst, irq, &Options{Clock: clk, Rows: 8, Chunk: 64, Timeout: time.Millisecond})
		if err != nil {
			return
		}
		ctx := context.Background()
		_, _ = d.FingerPresent(ctx)
		img, err := d.Capture(ctx)
		if err == nil && len(img.Pix) != 8*Columns {
			t.Fatalf("Capture returned %d pixels, want %d", len(img.Pix), 8*Columns)
		}
	})
}
