// Package arducamsim simulates an ArduCAM Mini 2MP Plus at the bus level:
// an spi.PortCloser speaking the ArduChip's register and burst-FIFO
// protocol and an i2c.BusCloser with an OV2640 behind address 0x30. The
// real arducam driver runs unchanged against it. The simulated sensor
// follows the registers the driver writes: it produces JPEG only once
// IMAGE_MODE selects JPEG, at the output size the zoom registers
// (ZMOW/ZMOH/ZMHH) give, with a quality that follows QS; otherwise the FIFO
// fills with YUV bytes, as a real sensor left at its defaults would.
// Scenes come from a Scenes source (a face photo from a file, in the demo),
// scaled to the output size and encoded as real JPEG.
//
// Faults (no frame, slow frame, bad FIFO length, truncated or bit-slipped
// data, a camera that vanishes and comes back with its registers reset)
// strike when injected or at configured rates. The simulator runs no
// goroutine: capture time passes on its clock.
package arducamsim

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/internal/simfault"
	"github.com/bali-rbdes/kiosk/drivers/internal/simimage"
)

// Scenes supplies what the simulated camera sees.
type Scenes interface {
	// Scene returns the view in front of the camera now. An error gives a
	// grey frame.
	Scene() (image.Image, error)
}

// Fault is a fault the simulator can inject.
type Fault string

// Faults.
const (
	// NoFrame: the next capture never sets the done flag.
	NoFrame Fault = "no-frame"
	// Slow: the next capture's done flag comes after Options.SlowDelay.
	Slow Fault = "slow"
	// BadLength: the next capture's FIFO length reads 0.
	BadLength Fault = "bad-length"
	// Overflow: the next capture's FIFO length reads 0x7FFFFF.
	Overflow Fault = "overflow"
	// Truncated: the next frame stops halfway, without FF D9.
	Truncated Fault = "truncated"
	// Garbled: every byte of the next frame is bit-slipped (shifted left by
	// one bit), as with an SPI clock too fast for the wiring.
	Garbled Fault = "garbled"
	// Vanish: at the next capture start the camera drops off both buses
	// for Options.VanishFor (SPI reads 0x00, I2C gets no ACK), then powers
	// up again with every register at its default.
	Vanish Fault = "vanish"
)

// AllFaults lists every fault.
var AllFaults = []Fault{NoFrame, Slow, BadLength, Overflow, Truncated, Garbled, Vanish}

func faultNames() []string {
	names := make([]string, len(AllFaults))
	for i, f := range AllFaults {
		names[i] = string(f)
	}
	return names
}

// ParseFaults reads a faults option such as "garbled, slow=0.01": a bare
// name is injected once (Options.Inject), name=rate strikes at random with
// that probability at each opportunity (Options.Faults).
func ParseFaults(spec string) (rates map[Fault]float64, once []Fault, err error) {
	s, err := simfault.Parse(spec, faultNames())
	if err != nil {
		return nil, nil, fmt.Errorf("arducamsim: %w", err)
	}
	rates = make(map[Fault]float64, len(s.Rates))
	for k, v := range s.Rates {
		rates[Fault(k)] = v
	}
	for _, name := range s.Once {
		once = append(once, Fault(name))
	}
	return rates, once, nil
}

// Clock is the simulator's time source; agent/clock.Clock satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure a Sim; zero fields take the defaults of DefaultOptions.
type Options struct {
	// MaxTxSize is the largest SPI transfer accepted (spidev bufsiz);
	// default 4096; negative means no limit.
	MaxTxSize int
	// CaptureTime is the time from start to the done flag; default 70 ms.
	CaptureTime time.Duration
	// SlowDelay is how late a Slow fault's done flag comes; default 10 s.
	SlowDelay time.Duration
	// VanishFor is how long a Vanish fault lasts; default 2 s.
	VanishFor time.Duration
	// Version is the OV2640 version byte at 0x0B; default 0x42.
	Version byte
	// Inject are faults injected once each, in order, from the start.
	Inject []Fault
	// Faults are random fault rates per capture (0 to 1).
	Faults map[Fault]float64
	// Seed seeds the fault source.
	Seed uint64
	// Clock is the simulator's time; nil means the wall clock.
	Clock Clock
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{MaxTxSize: 4096, CaptureTime: 70 * time.Millisecond, SlowDelay: 10 * time.Second, VanishFor: 2 * time.Second, Version: 0x42}
}

// Revision is the value the simulated ArduChip revision register (0x40)
// reads.
const Revision = 0x73

// fifoSize is the Plus boards' 8 MiB FIFO.
const fifoSize = 0x7FFFFF

// Sim is a simulated ArduCAM Mini 2MP Plus.
type Sim struct {
	opts   Options
	src    Scenes
	clk    Clock
	faults *simfault.Plan

	mu        sync.Mutex
	gone      time.Time
	test      byte
	capturing bool
	doneAt    time.Time
	neverDone bool
	fifo      []byte
	lenRegs   [3]byte
	readPtr   int
	bank      byte
	regs      [2][256]byte
	last      []byte
	captures  int
	lastError error
}

// portrait is the built-in scene.
type portrait struct{}

func (portrait) Scene() (image.Image, error) { return builtin(), nil }

var builtin = sync.OnceValue(simimage.Portrait)

// New returns a simulated camera looking at src; a nil src gives a
// built-in head-and-shoulders scene.
func New(src Scenes, opts *Options) (*Sim, error) {
	if src == nil {
		src = portrait{}
	}
	o := DefaultOptions()
	if opts != nil {
		if opts.MaxTxSize != 0 {
			o.MaxTxSize = opts.MaxTxSize
		}
		if opts.CaptureTime != 0 {
			o.CaptureTime = opts.CaptureTime
		}
		if opts.SlowDelay != 0 {
			o.SlowDelay = opts.SlowDelay
		}
		if opts.VanishFor != 0 {
			o.VanishFor = opts.VanishFor
		}
		if opts.Version != 0 {
			o.Version = opts.Version
		}
		o.Faults, o.Inject, o.Seed, o.Clock = opts.Faults, opts.Inject, opts.Seed, opts.Clock
	}
	rates := make(map[string]float64, len(o.Faults))
	for f, r := range o.Faults {
		rates[string(f)] = r
	}
	plan, err := simfault.New(faultNames(), rates, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("arducamsim: %w", err)
	}
	for _, f := range o.Inject {
		if err := plan.Inject(string(f)); err != nil {
			return nil, fmt.Errorf("arducamsim: %w", err)
		}
	}
	s := &Sim{opts: *o, src: src, clk: drvtime.Or(o.Clock), faults: plan}
	s.powerUp()
	return s, nil
}

// powerUp puts every register at its power-on value.
func (s *Sim) powerUp() {
	s.test, s.capturing, s.neverDone, s.fifo, s.readPtr = 0, false, false, nil, 0
	s.lenRegs = [3]byte{}
	s.bank = 0
	s.regs = [2][256]byte{}
	s.regs[1][0x0A], s.regs[1][0x0B] = 0x26, s.opts.Version
	s.regs[1][0x1C], s.regs[1][0x1D] = 0x7F, 0xA2
}

// Port returns the ArduChip's SPI port.
func (s *Sim) Port() spi.PortCloser { return &port{s} }

// Bus returns the I2C bus with the OV2640 on it.
func (s *Sim) Bus() *Bus { return &Bus{s} }

// Inject makes fault f strike at its next opportunity.
func (s *Sim) Inject(f Fault) error {
	if err := s.faults.Inject(string(f)); err != nil {
		return fmt.Errorf("arducamsim: %w", err)
	}
	return nil
}

// LastJPEG returns the JPEG the sensor encoded at the last capture (before
// any fault mangled the FIFO), or nil.
func (s *Sim) LastJPEG() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]byte(nil), s.last...)
}

// OutputSize returns the output size the zoom registers select.
func (s *Sim) OutputSize() (w, h int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.outputSize()
}

// Captures returns how many captures were started.
func (s *Sim) Captures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.captures
}

// Err returns the last protocol violation the simulator saw, or nil.
func (s *Sim) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

func (s *Sim) violation(format string, args ...any) error {
	s.lastError = fmt.Errorf("arducamsim: "+format, args...)
	return s.lastError
}

// here reports whether the camera is on the bus now, powering it up again
// when an outage has ended.
func (s *Sim) here(now time.Time) bool {
	if s.gone.IsZero() {
		return true
	}
	if now.Before(s.gone) {
		return false
	}
	s.gone = time.Time{}
	s.powerUp()
	return true
}

// OV2640 DSP registers the simulator follows.
const (
	dspQS        = 0x44
	dspZMOW      = 0x5A
	dspZMOH      = 0x5B
	dspZMHH      = 0x5C
	dspImageMode = 0xDA
	jpegEnable   = 0x10
)

func (s *Sim) outputSize() (w, h int) {
	d := &s.regs[0]
	w = (int(d[dspZMOW]) | int(d[dspZMHH]&0x03)<<8) * 4
	h = (int(d[dspZMOH]) | int(d[dspZMHH]&0x04)<<6) * 4
	return w, h
}

// quality maps the QS quantisation scale to an image/jpeg quality.
func quality(qs byte) int {
	if qs == 0 {
		qs = 0x0C
	}
	return max(5, min(100, 100-int(qs)*5/4))
}

// startCapture fills the FIFO with the next frame and schedules the done
// flag.
func (s *Sim) startCapture(now time.Time) {
	s.captures++
	s.capturing, s.neverDone, s.readPtr = true, false, 0
	s.doneAt = now.Add(s.opts.CaptureTime)
	if s.faults.Strike(string(Vanish)) {
		s.gone = now.Add(s.opts.VanishFor)
		return
	}
	switch {
	case s.faults.Strike(string(NoFrame)):
		s.neverDone = true
	case s.faults.Strike(string(Slow)):
		s.doneAt = now.Add(s.opts.SlowDelay)
	}
	w, h := s.outputSize()
	var data []byte
	if s.regs[0][dspImageMode]&jpegEnable != 0 && w > 0 && h > 0 {
		scene, err := s.src.Scene()
		if err != nil {
			scene = nil
		}
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, simimage.Cover(scene, w, h), &jpeg.Options{Quality: quality(s.regs[0][dspQS])}); err != nil {
			s.violation("encoding the frame: %v", err)
			return
		}
		s.last = buf.Bytes()
		// The OV2640 leads with a 0x00 and the length runs past FF D9 to
		// the next multiple of 8.
		data = make([]byte, 0, len(s.last)+16)
		data = append(data, 0x00)
		data = append(data, s.last...)
		for len(data)%8 != 0 {
			data = append(data, 0x00)
		}
	} else {
		// Not in JPEG mode: the sensor streams YUV at its default UXGA.
		s.last = nil
		data = make([]byte, 1600*1200*2)
		rng := s.faults.Fork()
		for i := range data {
			data[i] = byte(rng.IntN(0xF0)) // never FF, so never a marker
		}
	}
	switch {
	case s.faults.Strike(string(Truncated)):
		data = data[:len(data)/2]
	case s.faults.Strike(string(Garbled)):
		for i := range data {
			next := byte(0)
			if i+1 < len(data) {
				next = data[i+1] >> 7
			}
			data[i] = data[i]<<1 | next
		}
	}
	s.fifo = data
	n := len(data)
	switch {
	case s.faults.Strike(string(BadLength)):
		n = 0
	case s.faults.Strike(string(Overflow)):
		n = fifoSize
	}
	s.lenRegs = [3]byte{byte(n), byte(n >> 8), byte(n>>16) & 0x7F}
}

// ArduChip registers.
const (
	regTest    = 0x00
	regFIFO    = 0x04
	regCPLD    = 0x07
	regRev     = 0x40
	regTrig    = 0x41
	regSize1   = 0x42
	burstRead  = 0x3C
	singleRead = 0x3D
)

func (s *Sim) spiTx(w, r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit := s.opts.MaxTxSize; limit > 0 && (len(w) > limit || len(r) > limit) {
		return fmt.Errorf("sysfs-spi: maximum Tx length is %d", limit)
	}
	if len(w) == 0 || (len(r) != 0 && len(r) != len(w)) {
		return s.violation("SPI transfer with %d bytes out and %d in", len(w), len(r))
	}
	now := s.clk.Now()
	if !s.here(now) {
		fill(r, 0x00)
		return nil
	}
	fill(r, 0)
	addr := w[0]
	switch {
	case addr == burstRead:
		if s.readPtr < len(s.fifo) {
			copy(r[1:], s.fifo[s.readPtr:])
		}
		s.readPtr += len(r) - 1
		return nil
	case addr == singleRead:
		if len(r) > 1 && s.readPtr < len(s.fifo) {
			r[1] = s.fifo[s.readPtr]
		}
		s.readPtr++
		return nil
	case len(w) != 2:
		return s.violation("register access 0x%02X of %d bytes, want 2", addr, len(w))
	case addr&0x80 != 0:
		s.writeChip(addr&0x7F, w[1], now)
	case len(r) == 2:
		r[1] = s.readChip(addr, now)
	}
	return nil
}

func (s *Sim) writeChip(reg, v byte, now time.Time) {
	switch reg {
	case regTest:
		s.test = v
	case regCPLD:
		if v&0x80 != 0 {
			s.capturing, s.fifo, s.readPtr, s.test = false, nil, 0, 0
			s.lenRegs = [3]byte{}
		}
	case regFIFO:
		if v&0x01 != 0 {
			s.capturing = false
		}
		if v&0x10 != 0 {
			s.readPtr = 0
		}
		if v&0x02 != 0 {
			s.startCapture(now)
		}
	}
}

func (s *Sim) readChip(reg byte, now time.Time) byte {
	switch reg {
	case regTest:
		return s.test
	case regRev:
		return Revision
	case regTrig:
		if s.capturing && !s.neverDone && !now.Before(s.doneAt) {
			return 0x08
		}
		return 0
	case regSize1, regSize1 + 1, regSize1 + 2:
		return s.lenRegs[reg-regSize1]
	}
	return 0
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// sccbTx is one I2C transaction with the sensor.
func (s *Sim) sccbTx(addr uint16, w, r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if addr != 0x30 || !s.here(s.clk.Now()) {
		return fmt.Errorf("sysfs-i2c: no device answered at 0x%02X (remote I/O error)", addr)
	}
	bank := 0
	if s.bank == 1 {
		bank = 1
	}
	switch {
	case len(w) == 2 && len(r) == 0:
		reg, v := w[0], w[1]
		if reg == 0xFF {
			s.bank = v
			return nil
		}
		if bank == 1 && reg == 0x12 && v&0x80 != 0 {
			// COM7 soft reset: every register back to its default.
			id := s.regs[1]
			s.regs = [2][256]byte{}
			s.regs[1][0x0A], s.regs[1][0x0B], s.regs[1][0x1C], s.regs[1][0x1D] = id[0x0A], id[0x0B], id[0x1C], id[0x1D]
			return nil
		}
		if bank == 1 && (reg == 0x0A || reg == 0x0B || reg == 0x1C || reg == 0x1D) {
			return nil // read-only id registers
		}
		s.regs[bank][reg] = v
		return nil
	case len(w) == 1 && len(r) == 1:
		if w[0] == 0xFF {
			r[0] = s.bank
			return nil
		}
		r[0] = s.regs[bank][w[0]]
		return nil
	}
	return s.violation("SCCB transaction with %d bytes out and %d in; SCCB writes [reg, value] and reads one register", len(w), len(r))
}

// port is the SPI side.
type port struct{ s *Sim }

func (p *port) String() string                    { return "arducamsim-spi" }
func (p *port) Close() error                      { return nil }
func (p *port) LimitSpeed(physic.Frequency) error { return nil }

func (p *port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if mode != spi.Mode0 || bits != 8 {
		return nil, fmt.Errorf("arducamsim: the ArduChip speaks SPI mode 0 with 8-bit words, not mode %s with %d bits", mode, bits)
	}
	if f > 8*physic.MegaHertz {
		return nil, fmt.Errorf("arducamsim: %s is above the ArduChip's 8 MHz", f)
	}
	return &spiConn{p.s}, nil
}

type spiConn struct{ s *Sim }

func (c *spiConn) String() string       { return "arducamsim-spi" }
func (c *spiConn) Duplex() conn.Duplex  { return conn.Full }
func (c *spiConn) Tx(w, r []byte) error { return c.s.spiTx(w, r) }
func (c *spiConn) MaxTxSize() int       { return max(0, c.s.opts.MaxTxSize) }
func (c *spiConn) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		if err := c.s.spiTx(pk.W, pk.R); err != nil {
			return err
		}
	}
	return nil
}

// Bus is the simulated I2C bus; it implements i2c.BusCloser.
type Bus struct{ s *Sim }

// String implements i2c.Bus.
func (b *Bus) String() string { return "arducamsim-i2c" }

// Tx implements i2c.Bus.
func (b *Bus) Tx(addr uint16, w, r []byte) error { return b.s.sccbTx(addr, w, r) }

// SetSpeed implements i2c.Bus.
func (b *Bus) SetSpeed(f physic.Frequency) error {
	if f > 400*physic.KiloHertz {
		return fmt.Errorf("arducamsim: SCCB runs at up to 400 kHz, not %s", f)
	}
	return nil
}

// Close implements i2c.BusCloser.
func (b *Bus) Close() error { return nil }

// SCL implements i2c.Pins.
func (b *Bus) SCL() gpio.PinIO { return gpio.INVALID }

// SDA implements i2c.Pins.
func (b *Bus) SDA() gpio.PinIO { return gpio.INVALID }

var (
	_ spi.PortCloser = (*port)(nil)
	_ conn.Limits    = (*spiConn)(nil)
	_ i2c.BusCloser  = (*Bus)(nil)
)
