// Package fpc1020sim simulates an FPC1020 fingerprint sensor at the bus
// level: an spi.PortCloser that speaks the sensor's register protocol, a
// reset pin and an IRQ pin, so the real fpc1020 driver runs unchanged
// against it in tests and in the demo. Finger images come from a Fingers
// source, cropped to the sensor's 192-column array and converted to 8-bit
// grey. Faults (no finger, wet or dry finger, error interrupt, garbled or
// stuck data, slow replies, a sensor that vanishes and comes back) strike
// when injected or at configured rates.
//
// The simulator runs no goroutine: delays (finger placement, capture time,
// reset) are scheduled on its clock and happen when the driver waits on the
// IRQ pin or next talks to the sensor.
package fpc1020sim

import (
	"context"
	"errors"
	"fmt"
	"image"
	"math/rand/v2"
	"sync"
	"time"

	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/pin"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
	"github.com/bali-rbdes/kiosk/drivers/internal/simfault"
	"github.com/bali-rbdes/kiosk/drivers/internal/simimage"
)

// Fingers supplies the finger images the simulated sensor scans, one per
// placement.
type Fingers interface {
	// Finger returns the image of the next finger placed on the sensor, at
	// about 500 ppi. An error means no finger comes.
	Finger() (image.Image, error)
}

// Fault is a fault the simulator can inject.
type Fault string

// Faults.
const (
	// NoFinger: the next placement never happens; a capture without a
	// finger reads the empty sensor.
	NoFinger Fault = "no-finger"
	// WetFinger: the next capture is dark and smeared.
	WetFinger Fault = "wet-finger"
	// DryFinger: the next capture is faint, with broken ridges.
	DryFinger Fault = "dry-finger"
	// BadFrame: the next capture raises the error interrupt.
	BadFrame Fault = "bad-frame"
	// Garbled: a band of rows of the next image reads as noise.
	Garbled Fault = "garbled"
	// StuckMISO: the next image read returns all 0xFF.
	StuckMISO Fault = "stuck-miso"
	// Slow: the IRQ of the next capture or finger-present query comes only
	// after Options.SlowDelay.
	Slow Fault = "slow"
	// Vanish: the sensor drops off the bus at the next command (MISO reads
	// 0xFF, no IRQ) for Options.VanishFor, then powers up again and
	// signals reset.
	Vanish Fault = "vanish"
)

// AllFaults lists every fault.
var AllFaults = []Fault{NoFinger, WetFinger, DryFinger, BadFrame, Garbled, StuckMISO, Slow, Vanish}

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
		return nil, nil, fmt.Errorf("fpc1020sim: %w", err)
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

// Options configure a Sim; zero fields take the defaults of
// DefaultOptions.
type Options struct {
	// Rows and Columns of the image; default 192 x 192.
	Rows, Columns int
	// HardwareID answered at 0xFC; default 0x020A.
	HardwareID uint16
	// MaxTxSize is the largest transfer the port accepts, as spidev's
	// bufsiz; default 4096. Negative means no limit.
	MaxTxSize int
	// FingerDelay is the time from wait-for-finger to the finger landing;
	// default 300 ms.
	FingerDelay time.Duration
	// CaptureTime is the time from the capture command to image-ready;
	// default 40 ms.
	CaptureTime time.Duration
	// ResetTime is the time from reset release to the reset IRQ; default
	// 5 ms.
	ResetTime time.Duration
	// SlowDelay is how late a Slow fault's IRQ comes; default 10 s.
	SlowDelay time.Duration
	// VanishFor is how long a Vanish fault lasts; default 2 s.
	VanishFor time.Duration
	// Inject are faults injected once each, in order, from the start.
	Inject []Fault
	// Faults are random fault rates per opportunity (0 to 1).
	Faults map[Fault]float64
	// Seed seeds the fault and noise source.
	Seed uint64
	// Clock is the simulator's time; nil means the wall clock. Share a
	// virtual clock with the driver in tests.
	Clock Clock
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{
		Rows: 192, Columns: 192, HardwareID: 0x020A, MaxTxSize: 4096,
		FingerDelay: 300 * time.Millisecond, CaptureTime: 40 * time.Millisecond,
		ResetTime: 5 * time.Millisecond, SlowDelay: 10 * time.Second, VanishFor: 2 * time.Second,
	}
}

// Sensor protocol constants (see package fpc1020).
const (
	intFingerDown  = 1 << 0
	intError       = 1 << 2
	intImageReady  = 1 << 5
	intCommandDone = 1 << 7
	intReset       = 0xFF
)

type event struct {
	at  time.Time
	irq uint8
}

// Sim is a simulated sensor. Use Port, ResetPin and IRQPin with
// fpc1020.New.
type Sim struct {
	opts   Options
	src    Fingers
	clk    Clock
	faults *simfault.Plan

	mu        sync.Mutex
	irq       uint8
	line      bool
	inReset   bool
	events    []event
	gone      time.Time // vanished until this time
	finger    *image.Gray
	placed    bool      // a finger is placed, or on its way
	landAt    time.Time // when the placed finger touches the sensor
	image     []byte
	readPos   int
	reading   bool
	stuck     bool
	adc       uint16
	captures  int
	changed   chan struct{}
	resetPin  *resetPin
	irqPin    *irqPin
	port      *port
	lastError error
}

// rings is the built-in finger.
type rings struct{}

func (rings) Finger() (image.Image, error) { return simimage.Rings(), nil }

// New returns a simulated sensor scanning fingers from src; a nil src
// gives a built-in pattern of concentric ridges.
func New(src Fingers, opts *Options) (*Sim, error) {
	o := DefaultOptions()
	if opts != nil {
		if opts.Rows != 0 {
			o.Rows = opts.Rows
		}
		if opts.Columns != 0 {
			o.Columns = opts.Columns
		}
		if opts.HardwareID != 0 {
			o.HardwareID = opts.HardwareID
		}
		if opts.MaxTxSize != 0 {
			o.MaxTxSize = opts.MaxTxSize
		}
		for _, d := range []struct{ dst, src *time.Duration }{
			{&o.FingerDelay, &opts.FingerDelay}, {&o.CaptureTime, &opts.CaptureTime},
			{&o.ResetTime, &opts.ResetTime}, {&o.SlowDelay, &opts.SlowDelay}, {&o.VanishFor, &opts.VanishFor},
		} {
			if *d.src != 0 {
				*d.dst = *d.src
			}
		}
		o.Faults, o.Inject, o.Seed, o.Clock = opts.Faults, opts.Inject, opts.Seed, opts.Clock
	}
	if o.Rows < 1 || o.Columns < 1 || o.Rows > 192 || o.Columns > 192 {
		return nil, fmt.Errorf("fpc1020sim: geometry %dx%d is outside the 192x192 array", o.Columns, o.Rows)
	}
	if src == nil {
		src = rings{}
	}
	rates := make(map[string]float64, len(o.Faults))
	for f, r := range o.Faults {
		rates[string(f)] = r
	}
	plan, err := simfault.New(faultNames(), rates, o.Seed)
	if err != nil {
		return nil, fmt.Errorf("fpc1020sim: %w", err)
	}
	for _, f := range o.Inject {
		if err := plan.Inject(string(f)); err != nil {
			return nil, fmt.Errorf("fpc1020sim: %w", err)
		}
	}
	s := &Sim{opts: *o, src: src, clk: drvtime.Or(o.Clock), faults: plan, changed: make(chan struct{})}
	s.resetPin = &resetPin{s: s, level: gpio.High}
	s.irqPin = &irqPin{s: s}
	s.port = &port{s: s}
	return s, nil
}

// Port returns the sensor's SPI port.
func (s *Sim) Port() spi.PortCloser { return s.port }

// ResetPin returns the sensor's reset input (active low).
func (s *Sim) ResetPin() gpio.PinIO { return s.resetPin }

// IRQPin returns the sensor's interrupt output (active high).
func (s *Sim) IRQPin() gpio.PinIO { return s.irqPin }

// Inject makes fault f strike at its next opportunity.
func (s *Sim) Inject(f Fault) error {
	if err := s.faults.Inject(string(f)); err != nil {
		return fmt.Errorf("fpc1020sim: %w", err)
	}
	return nil
}

// Captured returns a copy of the pixels of the last capture, exactly as the
// sensor serves them (faults included), or nil before the first capture.
func (s *Sim) Captured() *image.Gray {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.image == nil {
		return nil
	}
	g := image.NewGray(image.Rect(0, 0, s.opts.Columns, s.opts.Rows))
	copy(g.Pix, s.image)
	return g
}

// Captures returns how many capture commands the sensor has run.
func (s *Sim) Captures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.captures
}

// Err returns the last protocol violation the simulator saw (a transfer
// that breaks the sensor's rules), or nil.
func (s *Sim) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastError
}

// Sensor state machine. All with s.mu held.

// advance applies every event due by now.
func (s *Sim) advance(now time.Time) {
	if !s.gone.IsZero() && !now.Before(s.gone) {
		// Power comes back: the sensor boots and signals reset.
		s.gone = time.Time{}
		s.events = []event{{at: now.Add(s.opts.ResetTime), irq: intReset}}
		s.irq, s.line, s.placed, s.reading = 0, false, false, false
	}
	kept := s.events[:0]
	for _, e := range s.events {
		if e.at.After(now) {
			kept = append(kept, e)
			continue
		}
		if e.irq == intReset {
			s.irq = intReset
		} else {
			s.irq |= e.irq
		}
		s.line = true
	}
	s.events = kept
}

func (s *Sim) vanished() bool { return !s.gone.IsZero() }

// schedule raises irq after a command's processing time, or after
// SlowDelay when a Slow fault strikes.
func (s *Sim) schedule(after time.Duration, irq uint8) {
	if s.faults.Strike(string(Slow)) {
		after = s.opts.SlowDelay
	}
	s.at(after, irq)
}

// at raises irq after d.
func (s *Sim) at(after time.Duration, irq uint8) {
	s.events = append(s.events, event{at: s.clk.Now().Add(after), irq: irq})
	s.wake()
}

func (s *Sim) wake() {
	close(s.changed)
	s.changed = make(chan struct{})
}

func (s *Sim) protocolError(format string, args ...any) error {
	s.lastError = fmt.Errorf("fpc1020sim: "+format, args...)
	return s.lastError
}

// tx is one chip-select cycle.
func (s *Sim) tx(w, r []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if limit := s.opts.MaxTxSize; limit > 0 && (len(w) > limit || len(r) > limit) {
		return fmt.Errorf("sysfs-spi: maximum Tx length is %d", limit)
	}
	if len(r) != 0 && len(r) != len(w) {
		return s.protocolError("full-duplex transfer with %d bytes out and %d in", len(w), len(r))
	}
	if len(w) == 0 {
		return s.protocolError("empty transfer")
	}
	now := s.clk.Now()
	s.advance(now)
	if s.vanished() || s.inReset {
		fill(r, 0xFF)
		return nil
	}
	if (w[0] == 0x20 || w[0] == 0x24 || w[0] == 0xC0) && s.faults.Strike(string(Vanish)) {
		s.gone = now.Add(s.opts.VanishFor)
		s.events, s.line, s.irq = nil, false, 0
		fill(r, 0xFF)
		return nil
	}
	fill(r, 0)
	switch w[0] {
	case 0x18:
		if len(r) > 1 {
			r[1] = s.irq
		}
	case 0x1C:
		if len(r) > 1 {
			r[1] = s.irq
		}
		s.irq, s.line = 0, false
	case 0xFC:
		if len(r) > 2 {
			r[1], r[2] = byte(s.opts.HardwareID>>8), byte(s.opts.HardwareID)
		}
	case 0xD4:
		if len(r) > 2 && s.fingerOn(now) {
			r[1], r[2] = 0x0F, 0xFF // all twelve detection zones covered
		}
	case 0xA0:
		if len(r) > 2 {
			r[1], r[2] = byte(s.adc>>8), byte(s.adc)
		}
		if len(w) > 2 {
			s.adc = uint16(w[1])<<8 | uint16(w[2])
		}
	case 0x20:
		irq := uint8(intCommandDone)
		if s.fingerOn(now) {
			irq |= intFingerDown
		}
		s.schedule(time.Millisecond, irq)
	case 0x24:
		s.placed = false
		if s.faults.Strike(string(NoFinger)) {
			return nil
		}
		img, err := s.src.Finger()
		if err != nil {
			return nil // no finger comes
		}
		s.finger = simimage.GrayCrop(img, s.opts.Columns, s.opts.Rows, 0xFF)
		s.placed, s.landAt = true, now.Add(s.opts.FingerDelay)
		s.at(s.opts.FingerDelay, intFingerDown)
	case 0x28, 0x2C:
		s.placed = false
	case 0xC0:
		s.capture(now)
	case 0xC4:
		s.read(w, r)
	default:
		// Unknown registers read as zero.
	}
	return nil
}

// fingerOn reports whether a finger touches the sensor at now.
func (s *Sim) fingerOn(now time.Time) bool {
	return s.placed && s.finger != nil && !now.Before(s.landAt)
}

func (s *Sim) capture(now time.Time) {
	s.captures++
	s.readPos, s.reading, s.stuck = 0, false, false
	n := s.opts.Rows * s.opts.Columns
	if s.faults.Strike(string(BadFrame)) {
		s.image = make([]byte, n)
		s.schedule(s.opts.CaptureTime, intError|intCommandDone)
		return
	}
	s.stuck = s.faults.Strike(string(StuckMISO))
	rng := s.faults.Fork()
	var pix []byte
	if s.fingerOn(now) {
		pix = append([]byte(nil), s.finger.Pix...)
	} else {
		// The empty sensor: near white with a little noise.
		pix = make([]byte, n)
		for i := range pix {
			pix[i] = 0xFF - byte(rng.IntN(6))
		}
	}
	switch {
	case s.faults.Strike(string(WetFinger)):
		pix = wet(pix, s.opts.Columns, s.opts.Rows)
	case s.faults.Strike(string(DryFinger)):
		pix = dry(pix, rng)
	}
	if s.faults.Strike(string(Garbled)) {
		rows := s.opts.Rows
		start := rng.IntN(rows)
		end := min(rows, start+max(1, rows/4))
		for i := start * s.opts.Columns; i < end*s.opts.Columns; i++ {
			pix[i] = byte(rng.IntN(256))
		}
	}
	s.image = pix
	s.schedule(s.opts.CaptureTime, intImageReady|intCommandDone)
}

// read serves 0xC4: the first cycle after a capture has a dummy byte, the
// next ones carry on from the read pointer.
func (s *Sim) read(w, r []byte) {
	head := 1
	if !s.reading {
		head = 2
		s.reading = true
	}
	for i := head; i < len(r); i++ {
		switch {
		case s.stuck:
			r[i] = 0xFF
		case s.readPos < len(s.image):
			r[i] = s.image[s.readPos]
		}
		s.readPos++
	}
}

func fill(b []byte, v byte) {
	for i := range b {
		b[i] = v
	}
}

// wet darkens and smears: ridges run into each other.
func wet(pix []byte, w, h int) []byte {
	out := make([]byte, len(pix))
	for y := range h {
		for x := range w {
			sum, n := 0, 0
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					xx, yy := x+dx, y+dy
					if xx >= 0 && xx < w && yy >= 0 && yy < h {
						sum += int(pix[yy*w+xx])
						n++
					}
				}
			}
			out[y*w+x] = byte(sum / n * 3 / 5)
		}
	}
	return out
}

// dry lightens and breaks ridges.
func dry(pix []byte, rng *rand.Rand) []byte {
	out := make([]byte, len(pix))
	for i, v := range pix {
		v = 0xFF - (0xFF-v)/2
		if rng.IntN(8) == 0 {
			v = 0xFF
		}
		out[i] = v
	}
	return out
}

// port is the SPI side.
type port struct{ s *Sim }

func (p *port) String() string                    { return "fpc1020sim" }
func (p *port) Close() error                      { return nil }
func (p *port) LimitSpeed(physic.Frequency) error { return nil }

func (p *port) Connect(f physic.Frequency, mode spi.Mode, bits int) (spi.Conn, error) {
	if mode != spi.Mode0 || bits != 8 {
		return nil, fmt.Errorf("fpc1020sim: sensor speaks SPI mode 0 with 8-bit words, not mode %s with %d bits", mode, bits)
	}
	if f > 16*physic.MegaHertz {
		return nil, fmt.Errorf("fpc1020sim: %s is above the sensor's SPI clock limit", f)
	}
	return &simConn{p.s}, nil
}

type simConn struct{ s *Sim }

func (c *simConn) String() string       { return "fpc1020sim" }
func (c *simConn) Duplex() conn.Duplex  { return conn.Full }
func (c *simConn) Tx(w, r []byte) error { return c.s.tx(w, r) }
func (c *simConn) MaxTxSize() int       { return max(0, c.s.opts.MaxTxSize) }
func (c *simConn) TxPackets(p []spi.Packet) error {
	for _, pk := range p {
		if err := c.s.tx(pk.W, pk.R); err != nil {
			return err
		}
	}
	return nil
}
func (c *simConn) CLK() gpio.PinOut  { return gpio.INVALID }
func (c *simConn) MOSI() gpio.PinOut { return gpio.INVALID }
func (c *simConn) MISO() gpio.PinIn  { return gpio.INVALID }
func (c *simConn) CS() gpio.PinOut   { return gpio.INVALID }

// basePin holds what both pins share.
type basePin struct{}

func (basePin) Halt() error                { return nil }
func (basePin) Number() int                { return -1 }
func (basePin) Function() string           { return "" }
func (basePin) Func() pin.Func             { return pin.FuncNone }
func (basePin) SupportedFuncs() []pin.Func { return []pin.Func{gpio.IN, gpio.OUT} }
func (basePin) SetFunc(pin.Func) error     { return errors.New("fpc1020sim: SetFunc not supported") }
func (basePin) Pull() gpio.Pull            { return gpio.Float }
func (basePin) DefaultPull() gpio.Pull     { return gpio.Float }
func (basePin) PWM(gpio.Duty, physic.Frequency) error {
	return errors.New("fpc1020sim: no PWM on this pin")
}

// resetPin is the sensor's reset input: low holds the sensor in reset.
type resetPin struct {
	basePin
	s     *Sim
	level gpio.Level
}

func (p *resetPin) String() string { return "fpc1020sim-RST" }
func (p *resetPin) Name() string   { return "fpc1020sim-RST" }

func (p *resetPin) In(gpio.Pull, gpio.Edge) error {
	return errors.New("fpc1020sim: the reset pin is the sensor's input; drive it with Out")
}

func (p *resetPin) Read() gpio.Level {
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	return p.level
}

func (p *resetPin) WaitForEdge(time.Duration) bool { return false }

func (p *resetPin) Out(l gpio.Level) error {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clk.Now())
	prev := p.level
	p.level = l
	if s.vanished() {
		return nil
	}
	switch {
	case l == gpio.Low:
		s.inReset = true
		s.events, s.irq, s.line = nil, 0, false
		s.placed, s.reading = false, false
	case prev == gpio.Low:
		s.inReset = false
		s.events = append(s.events, event{at: s.clk.Now().Add(s.opts.ResetTime), irq: intReset})
		s.wake()
	}
	return nil
}

// irqPin is the sensor's interrupt output.
type irqPin struct {
	basePin
	s    *Sim
	edge gpio.Edge
}

func (p *irqPin) String() string { return "fpc1020sim-IRQ" }
func (p *irqPin) Name() string   { return "fpc1020sim-IRQ" }

func (p *irqPin) In(pull gpio.Pull, edge gpio.Edge) error {
	if edge == gpio.FallingEdge {
		return errors.New("fpc1020sim: the IRQ line is active high; configure a rising edge")
	}
	p.s.mu.Lock()
	defer p.s.mu.Unlock()
	p.edge = edge
	return nil
}

func (p *irqPin) Read() gpio.Level {
	s := p.s
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advance(s.clk.Now())
	return gpio.Level(s.line)
}

func (p *irqPin) Out(gpio.Level) error {
	return errors.New("fpc1020sim: the IRQ pin is the sensor's output; read it")
}

// WaitForEdge sleeps on the simulator's clock until the next scheduled
// interrupt raises the line, or timeout passes.
func (p *irqPin) WaitForEdge(timeout time.Duration) bool {
	s := p.s
	for {
		s.mu.Lock()
		if p.edge == gpio.NoEdge {
			s.mu.Unlock()
			return false
		}
		now := s.clk.Now()
		wasHigh := s.line
		s.advance(now)
		if s.line && !wasHigh {
			s.mu.Unlock()
			return true
		}
		next, ok := s.nextEvent()
		changed := s.changed
		s.mu.Unlock()
		switch {
		case ok && (timeout < 0 || next.Sub(now) <= timeout):
			_ = s.clk.Sleep(context.Background(), next.Sub(now))
			timeout = -1 // the event is due now; the loop delivers it
		case timeout >= 0:
			_ = s.clk.Sleep(context.Background(), timeout)
			s.mu.Lock()
			wasHigh := s.line
			s.advance(s.clk.Now())
			rose := s.line && !wasHigh
			s.mu.Unlock()
			return rose
		default:
			<-changed
		}
	}
}

// nextEvent returns the time of the earliest scheduled event, including
// the end of a vanish.
func (s *Sim) nextEvent() (time.Time, bool) {
	var t time.Time
	ok := false
	for _, e := range s.events {
		if !ok || e.at.Before(t) {
			t, ok = e.at, true
		}
	}
	if s.vanished() && (!ok || s.gone.Before(t)) {
		t, ok = s.gone, true
	}
	return t, ok
}

var (
	_ spi.PortCloser = (*port)(nil)
	_ conn.Limits    = (*simConn)(nil)
	_ gpio.PinIO     = (*resetPin)(nil)
	_ gpio.PinIO     = (*irqPin)(nil)
)
