package arducam

import (
	"bytes"
	"errors"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"testing"

	"periph.io/x/conn/v3"
)

// withApp inserts after SOI an APP1 segment whose payload contains FF D9
// and FF D8, as an EXIF thumbnail would.
func withApp(jpg []byte) []byte {
	app := []byte{0xFF, 0xE1, 0x00, 0x0A, 'E', 'x', 0xFF, 0xD8, 0xFF, 0xD9, 0x00, 0x00}
	out := append([]byte{}, jpg[:2]...)
	out = append(out, app...)
	return append(out, jpg[2:]...)
}

// withRestart puts a restart marker and a stuffed FF and fill bytes into
// the scan data, just before EOI.
func withRestart(jpg []byte) []byte {
	n := len(jpg)
	out := append([]byte{}, jpg[:n-2]...)
	out = append(out, 0xFF, 0xD3, 0x12, 0xFF, 0x00, 0x34, 0xFF, 0xFF)
	return append(out, 0xFF, 0xD9)
}

func TestFrameJPEG(t *testing.T) {
	jpg := testJPEG(t, 64, 48)
	tests := []struct {
		name    string
		in      []byte
		want    []byte
		wantErr error
	}{
		{"bare JPEG", jpg, jpg, nil},
		{"FIFO padding", fifoOf(jpg), jpg, nil},
		{"junk before and after", append(append([]byte{0x12, 0xFF, 0x00}, jpg...), 0xFF, 0xD9, 0x55), jpg, nil},
		{"FF D9 inside an APP segment", withApp(jpg), withApp(jpg), nil},
		{"restart, stuffing and fill bytes in the scan", withRestart(jpg), withRestart(jpg), nil},
		{"empty", nil, nil, ErrNoJPEG},
		{"no start", bytes.Repeat([]byte{0x00, 0xFF}, 50), nil, ErrNoJPEG},
		{"SOI only", []byte{0xFF, 0xD8}, nil, ErrTruncatedJPEG},
		{"cut in the scan", jpg[:len(jpg)-10], nil, ErrTruncatedJPEG},
		{"cut in a segment", jpg[:20], nil, ErrTruncatedJPEG},
		{"cut after a marker byte", []byte{0xFF, 0xD8, 0xFF}, nil, ErrTruncatedJPEG},
		{"cut in a length", []byte{0xFF, 0xD8, 0xFF, 0xDB, 0x00}, nil, ErrTruncatedJPEG},
		{"segment length 1", []byte{0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x01, 0xFF, 0xD9}, nil, ErrBadJPEG},
		{"no marker after a segment", []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x02, 0x12, 0xFF, 0xD9}, nil, ErrBadJPEG},
		{"second SOI", []byte{0xFF, 0xD8, 0xFF, 0xD8, 0xFF, 0xD9}, nil, ErrBadJPEG},
		{"bit-slipped", slip(jpg), nil, ErrNoJPEG},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FrameJPEG(tt.in)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("FrameJPEG = %d bytes, %v; want %v", len(got), err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("FrameJPEG = %v", err)
			}
			if !bytes.Equal(got, tt.want) {
				t.Fatalf("FrameJPEG = %d bytes, want %d", len(got), len(tt.want))
			}
			if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil && tt.name != "restart, stuffing and fill bytes in the scan" {
				t.Errorf("framed JPEG does not decode: %v", err)
			}
		})
	}
}

func slip(b []byte) []byte {
	out := make([]byte, len(b))
	for i := range b {
		next := byte(0)
		if i+1 < len(b) {
			next = b[i+1] >> 7
		}
		out[i] = b[i]<<1 | next
	}
	return out
}

// TestGoldenFIFODumps frames the FIFO dumps kept in testdata (recorded
// from the simulator, whose frames are real JPEG) and compares with the
// JPEG each should yield.
func TestGoldenFIFODumps(t *testing.T) {
	dumps, err := filepath.Glob(filepath.Join("testdata", "*.fifo"))
	if err != nil || len(dumps) == 0 {
		t.Fatalf("no FIFO dumps in testdata: %v", err)
	}
	for _, path := range dumps {
		fifo, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(path[:len(path)-len(".fifo")] + ".jpg")
		if err != nil {
			t.Fatal(err)
		}
		got, err := FrameJPEG(fifo)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("FrameJPEG(%s) = %d bytes, %v; want the %d-byte .jpg", path, len(got), err, len(want))
		}
		img, err := jpeg.Decode(bytes.NewReader(got))
		if err != nil {
			t.Errorf("%s: JPEG does not decode: %v", path, err)
			continue
		}
		t.Logf("%s: %d FIFO bytes, %d JPEG bytes, %v", path, len(fifo), len(got), img.Bounds().Size())
	}
}

// fifoConn serves a FIFO to burst reads and checks each transfer.
type fifoConn struct {
	data  []byte
	ptr   int
	chunk int
	err   error
}

func (c *fifoConn) String() string      { return "fifo" }
func (c *fifoConn) Duplex() conn.Duplex { return conn.Full }
func (c *fifoConn) Tx(w, r []byte) error {
	switch {
	case len(w) > c.chunk || len(w) < 2:
		c.err = fmt.Errorf("transfer of %d bytes with chunk %d", len(w), c.chunk)
	case len(r) != len(w):
		c.err = fmt.Errorf("transfer writes %d and reads %d", len(w), len(r))
	case w[0] != 0x3C || !bytes.Equal(w[1:], make([]byte, len(w)-1)):
		c.err = fmt.Errorf("transfer does not start with 0x3C followed by zeros: % X", w[:min(8, len(w))])
	}
	if c.err != nil {
		return c.err
	}
	r[0] = 0xEE // the command's reply byte, to be dropped
	for i := 1; i < len(r); i++ {
		if c.ptr < len(c.data) {
			r[i] = c.data[c.ptr]
		}
		c.ptr++
	}
	return nil
}

// FuzzFIFOFrame runs what Capture does with a FIFO: decode and check the
// length registers, burst-read that many bytes in chunks, and frame the
// JPEG. Whatever the bytes, it must not panic, must read exactly the
// length in transfers no larger than the chunk, and a framed JPEG must be
// a subslice from FF D8 to FF D9.
func FuzzFIFOFrame(f *testing.F) {
	jpg := testJPEG(f, 32, 16)
	f.Add(fifoOf(jpg), uint16(4096), byte(0), byte(0), byte(0))
	f.Add(withApp(jpg), uint16(2), byte(0x10), byte(0x00), byte(0x00))
	f.Add(withRestart(jpg), uint16(100), byte(0xFF), byte(0xFF), byte(0xFF))
	f.Add([]byte{0xFF, 0xD8, 0xFF, 0xD9}, uint16(3), byte(4), byte(0), byte(0x80))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint16, r42, r43, r44 byte) {
		n := FIFOLength(r42, r43, r44)
		if n < 0 || n > 0x7FFFFF {
			t.Fatalf("FIFOLength(%02X %02X %02X) = %d", r42, r43, r44, n)
		}
		if n > len(data) {
			n = len(data) // keep the fuzzer's memory bounded: read what is there
		}
		if err := CheckFIFOLength(n, 1<<20); err != nil {
			if !errors.Is(err, ErrFIFOLength) {
				t.Fatalf("CheckFIFOLength error %v is not ErrFIFOLength", err)
			}
			return
		}
		c := &fifoConn{data: data, chunk: int(chunk)}
		buf := make([]byte, n)
		err := readFIFO(c, buf, int(chunk))
		if chunk < 2 {
			if err == nil {
				t.Fatal("readFIFO with chunk < 2 = nil error")
			}
			return
		}
		if err != nil || c.err != nil {
			t.Fatalf("readFIFO = %v (conn: %v)", err, c.err)
		}
		if c.ptr != n || !bytes.Equal(buf, data[:n]) {
			t.Fatalf("readFIFO read %d bytes, want %d in order", c.ptr, n)
		}
		got, err := FrameJPEG(buf)
		if err != nil {
			if !errors.Is(err, ErrNoJPEG) && !errors.Is(err, ErrTruncatedJPEG) && !errors.Is(err, ErrBadJPEG) {
				t.Fatalf("FrameJPEG error %v is none of the sentinels", err)
			}
			return
		}
		if len(got) < 4 || got[0] != 0xFF || got[1] != 0xD8 || got[len(got)-2] != 0xFF || got[len(got)-1] != 0xD9 {
			t.Fatalf("FrameJPEG = % X..., not FF D8 .. FF D9", got[:min(4, len(got))])
		}
		if i := bytes.Index(buf, got); i < 0 {
			t.Fatal("FrameJPEG result is not part of its input")
		}
	})
}

// FuzzParseRegs feeds the register-table parser arbitrary text.
func FuzzParseRegs(f *testing.F) {
	f.Add(ov2640Regs)
	f.Add("[a]\nFF 01\ndelay 1ms\n")
	f.Add("[a]\n[b]\n# x\nzz\n")
	f.Fuzz(func(t *testing.T, text string) {
		tables, err := parseRegs(text, nil)
		if err != nil {
			return
		}
		for name, ops := range tables {
			for _, op := range ops {
				if op.delay < 0 || op.delay > 1e9 {
					t.Fatalf("table %q has delay %v", name, op.delay)
				}
			}
		}
	})
}

// BenchmarkFrameJPEG is the scan of one 800x600 frame's FIFO dump, done on
// every capture.
func BenchmarkFrameJPEG(b *testing.B) {
	fifo := fifoOf(testJPEG(b, 800, 600))
	b.SetBytes(int64(len(fifo)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := FrameJPEG(fifo); err != nil {
			b.Fatal(err)
		}
	}
}
