package arducam

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"periph.io/x/conn/v3/conntest"
	"periph.io/x/conn/v3/i2c/i2ctest"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"
	"periph.io/x/conn/v3/spi/spitest"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

var update = flag.Bool("update", false, "rewrite the golden SCCB sequences in testdata")

// SPI transfers.

func wr(reg, v byte) conntest.IO { return conntest.IO{W: []byte{reg | 0x80, v}, R: []byte{0, 0}} }
func rd(reg, v byte) conntest.IO { return conntest.IO{W: []byte{reg, 0}, R: []byte{0, v}} }

// burst is the FIFO read of data in transfers of at most chunk bytes, each
// re-issuing 0x3C.
func burst(data []byte, chunk int) []conntest.IO {
	var ops []conntest.IO
	for off := 0; off < len(data); {
		n := min(chunk-1, len(data)-off)
		w := make([]byte, n+1)
		w[0] = 0x3C
		r := make([]byte, n+1)
		copy(r[1:], data[off:off+n])
		ops = append(ops, conntest.IO{W: w, R: r})
		off += n
	}
	return ops
}

// initSPI is the SPI side of a good start-up.
func initSPI() []conntest.IO {
	return []conntest.IO{wr(0x07, 0x80), wr(0x07, 0x00), wr(0x00, 0x55), rd(0x00, 0x55), rd(0x40, 0x73)}
}

// captureSPI is a capture whose done flag rises on the third poll and
// whose FIFO holds data.
func captureSPI(data []byte, chunk int) []conntest.IO {
	ops := []conntest.IO{wr(0x04, 0x01), wr(0x04, 0x01), wr(0x04, 0x02), rd(0x41, 0), rd(0x41, 0x01), rd(0x41, 0x09)}
	n := len(data)
	ops = append(ops, rd(0x42, byte(n)), rd(0x43, byte(n>>8)), rd(0x44, byte(n>>16)))
	ops = append(ops, burst(data, chunk)...)
	return append(ops, wr(0x04, 0x01))
}

// SCCB transactions.

func sccbID(pid, ver byte) []i2ctest.IO {
	return []i2ctest.IO{
		{Addr: 0x30, W: []byte{0xFF, 0x01}},
		{Addr: 0x30, W: []byte{0x0A}, R: []byte{pid}},
		{Addr: 0x30, W: []byte{0x0B}, R: []byte{ver}},
	}
}

// golden reads (or with -update writes) the SCCB writes of a sequence.
func golden(t *testing.T, name string, ops []regOp) []i2ctest.IO {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		var b strings.Builder
		b.WriteString("# SCCB writes (reg value) to the OV2640 at 0x30, from ov2640.regs; regenerate with: go test ./drivers/arducam -update\n")
		for _, op := range ops {
			if op.delay == 0 {
				fmt.Fprintf(&b, "%02X %02X\n", op.reg, op.val)
			}
		}
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run with -update to create it)", path, err)
	}
	defer f.Close()
	var out []i2ctest.IO
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		var reg, val byte
		if _, err := fmt.Sscanf(line, "%02X %02X", &reg, &val); err != nil {
			t.Fatalf("golden %s: %q: %v", path, line, err)
		}
		out = append(out, i2ctest.IO{Addr: 0x30, W: []byte{reg, val}})
	}
	return out
}

// initSCCB is the SCCB side of a good start-up at size s, from the golden
// file for s.
func initSCCB(t *testing.T, s Size) []i2ctest.IO {
	t.Helper()
	tables, err := loadTables()
	if err != nil {
		t.Fatal(err)
	}
	ops := append(append([]regOp(nil), tables["reset"]...), tables["init"]...)
	ops = append(ops, tables.sizeOps(s, 0x0C)...)
	return append(sccbID(0x26, 0x42), golden(t, "init-"+s.String()+".sccb", ops)...)
}

type rig struct {
	port  *spitest.Playback
	bus   *i2ctest.Playback
	clk   *drvtime.Virtual
	limit int
}

func newRig(spiOps []conntest.IO, sccb []i2ctest.IO) *rig {
	return &rig{
		port: &spitest.Playback{Playback: conntest.Playback{Ops: spiOps, DontPanic: true}},
		bus:  &i2ctest.Playback{Ops: sccb, DontPanic: true},
		clk:  drvtime.NewVirtual(time.Time{}),
	}
}

func (r *rig) String() string                    { return "SPI0.0" }
func (r *rig) LimitSpeed(physic.Frequency) error { return nil }
func (r *rig) Connect(f physic.Frequency, m spi.Mode, bits int) (spi.Conn, error) {
	c, err := r.port.Connect(f, m, bits)
	if err != nil || r.limit == 0 {
		return c, err
	}
	return limited{c, r.limit}, nil
}

type limited struct {
	spi.Conn
	n int
}

func (l limited) MaxTxSize() int { return l.n }

func (r *rig) opts() *Options { return &Options{Clock: r.clk, Chunk: 4096} }

func (r *rig) close(t *testing.T) {
	t.Helper()
	if err := r.port.Close(); err != nil {
		t.Errorf("SPI playback: %v", err)
	}
	if err := r.bus.Close(); err != nil {
		t.Errorf("SCCB playback: %v", err)
	}
}

// testJPEG is a real JPEG of a w x h gradient.
func testJPEG(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 80}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// fifoOf is jpg as the OV2640 leaves it in the FIFO: a leading 0x00 and
// zero padding to a multiple of 8.
func fifoOf(jpg []byte) []byte {
	data := append([]byte{0}, jpg...)
	for len(data)%8 != 0 {
		data = append(data, 0)
	}
	return data
}

func TestNew(t *testing.T) {
	r := newRig(append(initSPI(), wr(0x04, 0x01)), initSCCB(t, Size{800, 600}))
	d, err := New(r, r.bus, r.opts())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if pid, ver := d.SensorID(); pid != 0x26 || ver != 0x42 {
		t.Errorf("SensorID() = 0x%02X 0x%02X, want 0x26 0x42", pid, ver)
	}
	if got := d.Revision(); got != 0x73 {
		t.Errorf("Revision() = 0x%02X, want 0x73", got)
	}
	if got := d.Size(); got != (Size{800, 600}) {
		t.Errorf("Size() = %v, want 800x600", got)
	}
	// Datasheet delays: 2 x 100 ms CPLD reset, 100 ms sensor reset, 10 ms
	// after the DSP restart, 10 ms after the JPEG table.
	if got, want := r.clk.Slept(), 320*time.Millisecond; got != want {
		t.Errorf("start-up slept %v, want %v", got, want)
	}
	r.close(t)
}

func TestNewErrors(t *testing.T) {
	base := initSPI()
	tests := []struct {
		name    string
		spi     []conntest.IO
		sccb    []i2ctest.IO
		wantErr error
		wantMsg string
	}{
		{
			name:    "SPI test register reads 0x00",
			spi:     []conntest.IO{wr(0x07, 0x80), wr(0x07, 0x00), wr(0x00, 0x55), rd(0x00, 0x00)},
			wantErr: ErrNoSPI,
			wantMsg: "reads 0x00 after writing 0x55",
		},
		{
			name:    "sensor does not answer",
			spi:     base,
			wantErr: ErrNoSensor,
			wantMsg: "check SDA/SCL wiring",
		},
		{
			name:    "OV5642 instead of OV2640",
			spi:     base,
			sccb:    sccbID(0x56, 0x42),
			wantErr: ErrWrongChip,
			wantMsg: "0x5642",
		},
		{
			// The ArduCAM example would accept this one.
			name:    "OV2640 id with an unknown version",
			spi:     base,
			sccb:    sccbID(0x26, 0x43),
			wantErr: ErrWrongChip,
			wantMsg: "0x2643",
		},
		{
			name:    "sensor stops answering during set-up",
			spi:     base,
			sccb:    append(sccbID(0x26, 0x41), i2ctest.IO{Addr: 0x30, W: []byte{0xFF, 0x01}}),
			wantErr: ErrNoSensor,
			wantMsg: "register 0x12=0x80 (step 2 of",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(tt.spi, tt.sccb)
			_, err := New(r, r.bus, r.opts())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("New = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("New error %q does not say %q", err, tt.wantMsg)
			}
			r.close(t)
		})
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts *Options
		want string
	}{
		{"odd size", &Options{Size: Size{1920, 1080}}, "not one of"},
		{"quality", &Options{Quality: 70}, "outside 2-63"},
		{"chunk", &Options{Chunk: 1}, "too small"},
	}
	for _, tt := range tests {
		r := newRig(nil, nil)
		if _, err := New(r, r.bus, tt.opts); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: New = %v, want an error saying %q", tt.name, err, tt.want)
		}
		r.close(t)
	}
	if _, err := New(nil, nil, nil); err == nil {
		t.Error("New(nil, nil) = nil error")
	}
	r := newRig(nil, nil)
	r.port.Initialized = true
	if _, err := New(r, r.bus, nil); err == nil || !strings.Contains(err.Error(), "cannot connect to SPI port SPI0.0") {
		t.Errorf("New with a taken port = %v", err)
	}
}

func TestCapture(t *testing.T) {
	jpg := testJPEG(t, 160, 120)
	data := fifoOf(jpg)
	tests := []struct {
		name  string
		chunk int
		limit int
		want  int // transfers of the burst read
	}{
		{name: "one transfer", chunk: 4096, want: 2},
		{name: "chunks from MaxTxSize", limit: 512, want: (len(data) + 510) / 511},
		{name: "chunk option above MaxTxSize", chunk: 9000, limit: 1000, want: (len(data) + 998) / 999},
		{name: "two-byte chunks", chunk: 2, want: len(data)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			chunk := tt.chunk
			if tt.limit > 0 && (chunk == 0 || chunk > tt.limit) {
				chunk = tt.limit
			}
			if got := len(burst(data, chunk)); got != tt.want && tt.name != "one transfer" {
				t.Fatalf("script has %d burst transfers, want %d", got, tt.want)
			}
			r := newRig(append(append(initSPI(), wr(0x04, 0x01)), captureSPI(data, chunk)...), initSCCB(t, Size{160, 120}))
			r.limit = tt.limit
			d, err := New(r, r.bus, &Options{Clock: r.clk, Chunk: tt.chunk, Size: Size{160, 120}})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			start := r.clk.Now()
			got, err := d.Capture(context.Background())
			if err != nil {
				t.Fatalf("Capture = %v", err)
			}
			if !bytes.Equal(got, jpg) {
				t.Fatalf("Capture returned %d bytes, want the %d-byte JPEG", len(got), len(jpg))
			}
			if _, err := jpeg.Decode(bytes.NewReader(got)); err != nil {
				t.Errorf("captured JPEG does not decode: %v", err)
			}
			if took := r.clk.Now().Sub(start); took != 10*time.Millisecond {
				t.Errorf("capture polled for %v, want 10ms (two 5 ms polls)", took)
			}
			r.close(t)
		})
	}
}

func TestCaptureErrors(t *testing.T) {
	jpg := testJPEG(t, 160, 120)
	start := []conntest.IO{wr(0x04, 0x01), wr(0x04, 0x01), wr(0x04, 0x02)}
	withLen := func(n int, polls ...conntest.IO) []conntest.IO {
		ops := append(append([]conntest.IO(nil), start...), polls...)
		return append(ops, rd(0x41, 0x08), rd(0x42, byte(n)), rd(0x43, byte(n>>8)), rd(0x44, byte(n>>16)))
	}
	full := func(data []byte) []conntest.IO {
		return append(append(withLen(len(data)), burst(data, 4096)...), wr(0x04, 0x01))
	}
	var timeout []conntest.IO
	timeout = append(timeout, start...)
	for range 5 { // t = 0, 5, 10, 15, 20 ms with a 20 ms deadline
		timeout = append(timeout, rd(0x41, 0x00))
	}
	tests := []struct {
		name    string
		capture []conntest.IO
		wantErr error
		wantMsg string
	}{
		{"done flag never rises", timeout, ErrTimeout, "not set after 20ms (5 polls"},
		{"FIFO empty", withLen(0), ErrFIFOLength, "FIFO is empty"},
		{"FIFO overflow", withLen(MaxFIFOPlus), ErrFIFOLength, "at or above the 8388607-byte FIFO"},
		{"no JPEG start", full(make([]byte, 64)), ErrNoJPEG, "no JPEG start (FF D8) in 64 FIFO bytes"},
		{"no JPEG end", full(jpg[:len(jpg)/2]), ErrTruncatedJPEG, "without FF D9"},
		{"top bit of 0x44 ignored", append(append([]conntest.IO(nil), start...), rd(0x41, 0x08), rd(0x42, 0), rd(0x43, 0), rd(0x44, 0x80)), ErrFIFOLength, "FIFO is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spiOps := append(append(initSPI(), wr(0x04, 0x01)), tt.capture...)
			r := newRig(spiOps, initSCCB(t, Size{160, 120}))
			d, err := New(r, r.bus, &Options{Clock: r.clk, Chunk: 4096, Size: Size{160, 120}, Timeout: 20 * time.Millisecond})
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			_, err = d.Capture(context.Background())
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Capture = %v, want %v", err, tt.wantErr)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("Capture error %q does not say %q", err, tt.wantMsg)
			}
			r.close(t)
		})
	}
}

// After an error the next Capture sets the camera up again from scratch
// and then succeeds: a camera that lost power comes back.
func TestCaptureReinitialisesAfterError(t *testing.T) {
	jpg := testJPEG(t, 160, 120)
	data := fifoOf(jpg)
	sz := Size{160, 120}
	spiOps := append(initSPI(), wr(0x04, 0x01))
	spiOps = append(spiOps, wr(0x04, 0x01), wr(0x04, 0x01), wr(0x04, 0x02), rd(0x41, 0x08), rd(0x42, 0), rd(0x43, 0), rd(0x44, 0))
	spiOps = append(spiOps, append(initSPI(), wr(0x04, 0x01))...)
	spiOps = append(spiOps, captureSPI(data, 4096)...)
	sccb := append(initSCCB(t, sz), initSCCB(t, sz)...)
	r := newRig(spiOps, sccb)
	d, err := New(r, r.bus, &Options{Clock: r.clk, Chunk: 4096, Size: sz})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if _, err := d.Capture(context.Background()); !errors.Is(err, ErrFIFOLength) {
		t.Fatalf("first Capture = %v, want ErrFIFOLength", err)
	}
	got, err := d.Capture(context.Background())
	if err != nil || !bytes.Equal(got, jpg) {
		t.Fatalf("second Capture = %d bytes, %v; want the JPEG after re-initialising", len(got), err)
	}
	r.close(t)
}

func TestCaptureCancelled(t *testing.T) {
	spiOps := append(append(initSPI(), wr(0x04, 0x01)), wr(0x04, 0x01), wr(0x04, 0x01), wr(0x04, 0x02), rd(0x41, 0))
	r := newRig(spiOps, initSCCB(t, Size{160, 120}))
	d, err := New(r, r.bus, &Options{Clock: r.clk, Chunk: 4096, Size: Size{160, 120}})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Capture(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Capture(cancelled) = %v, want context.Canceled", err)
	}
	r.close(t)
}

func TestSetSize(t *testing.T) {
	tables, err := loadTables()
	if err != nil {
		t.Fatal(err)
	}
	sccb := append(initSCCB(t, Size{800, 600}), golden(t, "size-1600x1200.sccb", tables.sizeOps(Size{1600, 1200}, 0x0C))...)
	r := newRig(append(initSPI(), wr(0x04, 0x01)), sccb)
	d, err := New(r, r.bus, r.opts())
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	if err := d.SetSize(context.Background(), Size{1600, 1200}); err != nil {
		t.Fatalf("SetSize = %v", err)
	}
	if got := d.Size(); got != (Size{1600, 1200}) {
		t.Errorf("Size() = %v after SetSize", got)
	}
	if err := d.SetSize(context.Background(), Size{1, 1}); err == nil {
		t.Error("SetSize(1x1) = nil error")
	}
	r.close(t)
}

// The golden sequences say what the tables say: spot-check them against
// the datasheet's meaning, independently of the table file.
func TestGoldenSequenceMeaning(t *testing.T) {
	seq := initSCCB(t, Size{800, 600})[3:]
	reg := func(i int) string { return fmt.Sprintf("%02X %02X", seq[i].W[0], seq[i].W[1]) }
	if reg(0) != "FF 01" || reg(1) != "12 80" {
		t.Errorf("sequence starts %s, %s; want FF 01 then 12 80 (sensor bank, COM7 soft reset)", reg(0), reg(1))
	}
	has := func(want string) bool {
		for i := range seq {
			if reg(i) == want {
				return true
			}
		}
		return false
	}
	for _, want := range []string{"DA 12", "5A C8", "5B 96", "5C 00", "44 0C", "15 00"} {
		if !has(want) {
			t.Errorf("sequence lacks %s", want)
		}
	}
}

func TestSizes(t *testing.T) {
	for _, s := range Sizes {
		z := zoomRegs(s)
		if got := OutputSize(z[0].val, z[1].val, z[2].val); got != s {
			t.Errorf("zoomRegs(%v) decode to %v", s, got)
		}
		p, err := ParseSize(s.String())
		if err != nil || p != s {
			t.Errorf("ParseSize(%q) = %v, %v", s, p, err)
		}
	}
	for _, bad := range []string{"", "640", "640x", "x480", "641x480", "-1x-1"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) = nil error", bad)
		}
	}
	modes := map[Size]string{{176, 144}: "cif", {352, 288}: "cif", {640, 480}: "svga", {800, 600}: "svga", {1024, 768}: "uxga"}
	for s, want := range modes {
		if got := sensorMode(s); got != want {
			t.Errorf("sensorMode(%v) = %s, want %s", s, got, want)
		}
	}
}

func TestParseRegs(t *testing.T) {
	tests := []struct {
		name, text, want string
	}{
		{"ok", "[a]\nFF 01 # bank\ndelay 10ms\n", ""},
		{"before table", "FF 01\n", "before any [table]"},
		{"bad header", "[a\n", "bad table header"},
		{"twice", "[a]\n12 80\n[a]\n", "defined twice"},
		{"bad hex", "[a]\nFG 01\n", "not two 2-digit hex"},
		{"three digits", "[a]\n123 01\n", "not two 2-digit hex"},
		{"three fields", "[a]\n12 80 00\n", "want \"RR VV\""},
		{"long delay", "[a]\ndelay 1h\n", "between 0 and 1s"},
		{"missing table", "[b]\n12 80\n", "[a] is missing"},
	}
	for _, tt := range tests {
		_, err := parseRegs(tt.text, []string{"a"})
		if tt.want == "" {
			if err != nil {
				t.Errorf("%s: parseRegs = %v", tt.name, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: parseRegs = %v, want an error saying %q", tt.name, err, tt.want)
		}
	}
	if _, err := loadTables(); err != nil {
		t.Errorf("embedded tables: %v", err)
	}
}

func TestFIFOLength(t *testing.T) {
	tests := []struct {
		r     [3]byte
		want  int
		valid bool
	}{
		{[3]byte{0x10, 0x27, 0x00}, 10000, true},
		{[3]byte{0xFF, 0xFF, 0xFF}, 0x7FFFFF, false},
		{[3]byte{0x00, 0x00, 0x80}, 0, false},
		{[3]byte{0xFE, 0xFF, 0x05}, 0x5FFFE, true},
	}
	for _, tt := range tests {
		got := FIFOLength(tt.r[0], tt.r[1], tt.r[2])
		if got != tt.want {
			t.Errorf("FIFOLength(% X) = %d, want %d", tt.r, got, tt.want)
		}
		if err := CheckFIFOLength(got, MaxFIFO2MP+1); (err == nil) != tt.valid {
			t.Errorf("CheckFIFOLength(%d) = %v, want valid=%v", got, err, tt.valid)
		}
	}
}
