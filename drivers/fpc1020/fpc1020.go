package fpc1020

import (
	"context"
	"errors"
	"fmt"
	"image"
	"slices"
	"sync"
	"time"

	"go.uber.org/zap"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// Sentinel errors callers act on; test them with errors.Is.
var (
	// ErrTimeout: the sensor did not raise its IRQ line in time.
	ErrTimeout = errors.New("fpc1020: timeout")
	// ErrWrongChip: the hardware id is not one the driver accepts.
	ErrWrongChip = errors.New("fpc1020: wrong chip")
	// ErrNoAnswer: the sensor answered all zeros or all ones (MISO stuck,
	// sensor unpowered or not selected).
	ErrNoAnswer = errors.New("fpc1020: no answer")
	// ErrNoFinger: no finger was placed before the wait ended.
	ErrNoFinger = errors.New("fpc1020: no finger")
	// ErrSensor: the sensor set its error interrupt bit.
	ErrSensor = errors.New("fpc1020: sensor error")
	// ErrBadImage: the image read back cannot be a scan (constant bytes).
	ErrBadImage = errors.New("fpc1020: bad image")
	// ErrDeviceReset: the sensor came out of reset unexpectedly (power
	// glitch, unplugged and plugged back); the driver re-initialises it
	// before the next command.
	ErrDeviceReset = errors.New("fpc1020: device was reset")
)

// Commands, registers and ids (see doc.go).
const (
	cmdFingerPresentQuery = 0x20
	cmdWaitForFinger      = 0x24
	cmdSleep              = 0x28
	cmdDeepSleep          = 0x2C
	cmdCaptureImage       = 0xC0
	cmdReadImage          = 0xC4

	regInterrupt      = 0x18
	regInterruptClear = 0x1C
	regADCShiftGain   = 0xA0
	regFingerPresent  = 0xD4
	regHardwareID     = 0xFC

	// HardwareIDFPC1020 is the hardware id of the FPC1020.
	HardwareIDFPC1020 = 0x020A

	// Columns is the number of columns of the FPC1020 pixel array.
	Columns = 192
	// Rows is the number of rows of the full FPC1020 pixel array.
	Rows = 192

	// Hz is the SPI clock the sensor is specified for.
	Hz = 8 * physic.MegaHertz

	// ResetTimeout is FPC102X_TIRQVALID: the sensor raises IRQ within it
	// after reset is released.
	ResetTimeout = 1300 * time.Millisecond
)

// Interrupt is the value of the interrupt register.
type Interrupt uint8

// Interrupt bits.
const (
	IntFingerDown  Interrupt = 1 << 0
	IntError       Interrupt = 1 << 2
	IntImageReady  Interrupt = 1 << 5
	IntCommandDone Interrupt = 1 << 7
	// IntReset is the whole register after the sensor comes out of reset.
	IntReset Interrupt = 0xFF
)

// String lists the bits that are set.
func (i Interrupt) String() string {
	if i == IntReset {
		return "reset"
	}
	if i == 0 {
		return "none"
	}
	var s []byte
	for _, b := range []struct {
		bit  Interrupt
		name string
	}{{IntFingerDown, "finger-down"}, {IntError, "error"}, {IntImageReady, "image-ready"}, {IntCommandDone, "command-done"}} {
		if i&b.bit != 0 {
			if len(s) > 0 {
				s = append(s, '|')
			}
			s = append(s, b.name...)
		}
	}
	if rest := i &^ (IntFingerDown | IntError | IntImageReady | IntCommandDone); rest != 0 {
		if len(s) > 0 {
			s = append(s, '|')
		}
		s = fmt.Appendf(s, "0x%02X", uint8(rest))
	}
	return string(s)
}

// Clock is the time source the driver waits on; agent/clock.Clock
// satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure a Dev. The zero value of a field means its default.
type Options struct {
	// Hz is the SPI clock; default Hz (8 MHz).
	Hz physic.Frequency
	// Rows is the number of rows the sensor is set up to capture; default
	// Rows (192). The 2021 Linux driver's window is 56.
	Rows int
	// Columns is the number of columns; default Columns (192).
	Columns int
	// Chunk is the largest SPI transfer in bytes, command byte included
	// (at least 3). Default: the port's MaxTxSize when it reports one,
	// else 4096 (the spidev default). A Chunk above the port's MaxTxSize
	// is lowered to it.
	Chunk int
	// Timeout bounds each command's wait for the IRQ line (capture,
	// finger-present query); default 500 ms.
	Timeout time.Duration
	// ResetTimeout bounds the wait for IRQ after reset; default
	// ResetTimeout (1300 ms).
	ResetTimeout time.Duration
	// HardwareIDs are the accepted hardware ids; default
	// {HardwareIDFPC1020}.
	HardwareIDs []uint16
	// ADCShiftGain, when not nil, is written to register 0xA0 after each
	// reset: shift in bits 8-12, gain in bits 0-3.
	ADCShiftGain *uint16
	// IRQActiveLow is for boards that invert the IRQ line.
	IRQActiveLow bool
	// Clock is the time source for datasheet delays and deadlines; nil
	// means the wall clock.
	Clock Clock
	// Logger receives debug and warning logs; nil means none.
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for: 8 MHz, 192 x 192,
// chunks from the port's limit, 500 ms command timeout, 1300 ms reset
// timeout, hardware id 0x020A.
func DefaultOptions() *Options {
	return &Options{
		Hz:           Hz,
		Rows:         Rows,
		Columns:      Columns,
		Timeout:      500 * time.Millisecond,
		ResetTimeout: ResetTimeout,
		HardwareIDs:  []uint16{HardwareIDFPC1020},
	}
}

// irqSlice bounds one WaitForEdge so a cancelled context is seen promptly.
const irqSlice = 50 * time.Millisecond

// defaultChunk is the spidev default transfer limit.
const defaultChunk = 4096

// Dev is an FPC1020-class sensor. Its methods are safe for concurrent use;
// they run one at a time.
type Dev struct {
	mu        sync.Mutex
	c         spi.Conn
	name      string
	reset     gpio.PinOut
	irq       gpio.PinIn
	opts      Options
	chunk     int
	clk       Clock
	log       *zap.Logger
	hwid      uint16
	needReset bool
	buf       []byte // transfer scratch, len chunk
	zero      []byte // zeros to clock out, len chunk
}

// New connects to the sensor on port, resets it with the reset line, waits
// for it to signal on irq, and checks its hardware id. reset and irq are
// not owned by the driver, nor is port.
func New(port spi.Port, reset gpio.PinOut, irq gpio.PinIn, opts *Options) (*Dev, error) {
	if port == nil || reset == nil || irq == nil {
		return nil, errors.New("fpc1020: New needs an SPI port, a reset pin and an IRQ pin")
	}
	o := DefaultOptions()
	if opts != nil {
		merge(o, opts)
	}
	if o.Rows < 1 || o.Rows > Rows || o.Columns < 1 || o.Columns > Columns {
		return nil, fmt.Errorf("fpc1020: geometry %dx%d is outside the %dx%d array (check Options.Rows and Columns)", o.Columns, o.Rows, Columns, Rows)
	}
	if o.Chunk != 0 && o.Chunk < 3 {
		return nil, fmt.Errorf("fpc1020: Options.Chunk %d is too small: a read needs the command, the dummy byte and at least one pixel (use 0 for the port's limit)", o.Chunk)
	}
	c, err := port.Connect(o.Hz, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("fpc1020: cannot connect to SPI port %s at %s mode 0 (check the port name and that no other driver holds it): %w", port, o.Hz, err)
	}
	chunk := o.Chunk
	limit := 0
	if l, ok := c.(conn.Limits); ok {
		limit = l.MaxTxSize()
	}
	switch {
	case chunk == 0 && limit > 0:
		chunk = limit
	case chunk == 0:
		chunk = defaultChunk
	case limit > 0 && chunk > limit:
		chunk = limit
	}
	if chunk < 3 {
		return nil, fmt.Errorf("fpc1020: SPI port %s allows only %d-byte transfers; an image read needs at least 3", port, chunk)
	}
	if frame := o.Rows*o.Columns + 2; chunk > frame {
		chunk = frame
	}
	d := &Dev{
		c:     c,
		name:  fmt.Sprintf("fpc1020(%s)", port),
		reset: reset,
		irq:   irq,
		opts:  *o,
		chunk: chunk,
		clk:   drvtime.Or(o.Clock),
		log:   o.Logger,
		buf:   make([]byte, chunk),
		zero:  make([]byte, chunk),
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	edge := gpio.RisingEdge
	if o.IRQActiveLow {
		edge = gpio.FallingEdge
	}
	if err := irq.In(gpio.PullNoChange, edge); err != nil {
		return nil, fmt.Errorf("fpc1020: cannot set IRQ pin %s as an input with edge detection (check the pin name and that the GPIO driver supports edges): %w", irq, err)
	}
	if err := d.resetLocked(context.Background()); err != nil {
		return nil, err
	}
	return d, nil
}

func merge(o, in *Options) {
	if in.Hz != 0 {
		o.Hz = in.Hz
	}
	if in.Rows != 0 {
		o.Rows = in.Rows
	}
	if in.Columns != 0 {
		o.Columns = in.Columns
	}
	o.Chunk = in.Chunk
	if in.Timeout != 0 {
		o.Timeout = in.Timeout
	}
	if in.ResetTimeout != 0 {
		o.ResetTimeout = in.ResetTimeout
	}
	if len(in.HardwareIDs) > 0 {
		o.HardwareIDs = in.HardwareIDs
	}
	o.ADCShiftGain = in.ADCShiftGain
	o.IRQActiveLow = in.IRQActiveLow
	o.Clock = in.Clock
	o.Logger = in.Logger
}

// String names the driver and its port.
func (d *Dev) String() string { return d.name }

// HardwareID returns the hardware id read at the last reset.
func (d *Dev) HardwareID() uint16 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.hwid
}

// Chunk returns the largest SPI transfer the driver makes, in bytes.
func (d *Dev) Chunk() int { return d.chunk }

// Bounds returns the image rectangle Capture returns.
func (d *Dev) Bounds() image.Rectangle { return image.Rect(0, 0, d.opts.Columns, d.opts.Rows) }

// Reset pulses the reset line, waits for the sensor's IRQ and checks its
// hardware id again.
func (d *Dev) Reset(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.resetLocked(ctx)
}

func (d *Dev) resetLocked(ctx context.Context) error {
	d.needReset = true
	if err := d.reset.Out(gpio.Low); err != nil {
		return fmt.Errorf("fpc1020: cannot drive reset pin %s low (check the pin name): %w", d.reset, err)
	}
	// Datasheet: reset low for at least 1000 µs.
	if err := d.clk.Sleep(ctx, time.Millisecond); err != nil {
		return fmt.Errorf("fpc1020: reset interrupted: %w", err)
	}
	if err := d.reset.Out(gpio.High); err != nil {
		return fmt.Errorf("fpc1020: cannot release reset pin %s: %w", d.reset, err)
	}
	irq, err := d.waitIRQ(ctx, d.opts.ResetTimeout)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			return fmt.Errorf("fpc1020: sensor did not raise IRQ on %s within %s of reset (check power, the reset and IRQ wiring, and Options.IRQActiveLow): %w", d.irq, d.opts.ResetTimeout, err)
		}
		return err
	}
	if irq != IntReset {
		return fmt.Errorf("fpc1020: after reset the interrupt register is %s (0x%02X), want 0xFF (check that reset is wired to this sensor): %w", irq, uint8(irq), ErrNoAnswer)
	}
	var id [2]byte
	if err := d.readReg(regHardwareID, id[:]); err != nil {
		return err
	}
	hwid := uint16(id[0])<<8 | uint16(id[1])
	if hwid == 0 || hwid == 0xFFFF {
		return fmt.Errorf("fpc1020: hardware id reads 0x%04X on %s (check MISO wiring, chip select and sensor power): %w", hwid, d.c, ErrNoAnswer)
	}
	if !slices.Contains(d.opts.HardwareIDs, hwid) {
		return fmt.Errorf("fpc1020: hardware id 0x%04X is not one of %s (wrong sensor model, or set Options.HardwareIDs): %w", hwid, hexIDs(d.opts.HardwareIDs), ErrWrongChip)
	}
	d.hwid = hwid
	if v := d.opts.ADCShiftGain; v != nil {
		if err := d.tx([]byte{regADCShiftGain, byte(*v >> 8), byte(*v)}, nil, "write ADC shift and gain"); err != nil {
			return err
		}
	}
	d.needReset = false
	d.log.Debug("fpc1020 ready", zap.Stringer("port", d.c), zap.Uint16("hwid", hwid))
	return nil
}

func hexIDs(ids []uint16) string {
	b := []byte{'['}
	for i, id := range ids {
		if i > 0 {
			b = append(b, ' ')
		}
		b = fmt.Appendf(b, "0x%04X", id)
	}
	return string(append(b, ']'))
}

// ready resets the sensor when an earlier error left it in doubt.
func (d *Dev) ready(ctx context.Context) error {
	if !d.needReset {
		return nil
	}
	d.log.Info("fpc1020 re-initialising after an error", zap.Stringer("port", d.c))
	return d.resetLocked(ctx)
}

// FingerPresent asks the sensor whether a finger is on it now.
func (d *Dev) FingerPresent(ctx context.Context) (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(ctx); err != nil {
		return false, err
	}
	irq, err := d.command(ctx, cmdFingerPresentQuery, "finger-present query")
	if err != nil {
		return false, err
	}
	if irq&IntCommandDone == 0 && irq&IntFingerDown == 0 {
		return false, fmt.Errorf("fpc1020: finger-present query ended with interrupt %s, want command-done: %w", irq, ErrSensor)
	}
	var st [2]byte
	if err := d.readReg(regFingerPresent, st[:]); err != nil {
		return false, err
	}
	return st[0]|st[1] != 0, nil
}

// WaitFinger puts the sensor in wait-for-finger mode and returns when a
// finger is down. When ctx ends first the error wraps both ErrNoFinger and
// ctx.Err().
func (d *Dev) WaitFinger(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(ctx); err != nil {
		return err
	}
	if err := d.clearPending(); err != nil {
		return err
	}
	if err := d.tx([]byte{cmdWaitForFinger}, nil, "wait-for-finger command"); err != nil {
		return err
	}
	for {
		irq, err := d.waitIRQ(ctx, -1)
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("fpc1020: no finger on the sensor before the wait ended (%w): %w", ErrNoFinger, ctx.Err())
			}
			return err
		}
		if err := d.check(irq, "waiting for a finger"); err != nil {
			return err
		}
		if irq&IntFingerDown != 0 {
			return nil
		}
	}
}

// Capture takes one image and reads it back: Options.Rows rows of
// Options.Columns 8-bit pixels, 0 black (ridge) to 255 white. It does not
// wait for a finger: call WaitFinger first.
func (d *Dev) Capture(ctx context.Context) (*image.Gray, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.ready(ctx); err != nil {
		return nil, err
	}
	irq, err := d.command(ctx, cmdCaptureImage, "capture")
	if err != nil {
		return nil, err
	}
	if irq&IntImageReady == 0 {
		return nil, fmt.Errorf("fpc1020: capture ended with interrupt %s, want image-ready: %w", irq, ErrSensor)
	}
	img := image.NewGray(d.Bounds())
	if err := readImage(d.c, img.Pix, d.chunk, d.buf, d.zero); err != nil {
		d.needReset = true
		return nil, fmt.Errorf("fpc1020: reading the image from %s: %w", d.c, err)
	}
	if err := CheckImage(img.Pix); err != nil {
		return nil, err
	}
	return img, nil
}

// Sleep puts the sensor into sleep (or deep sleep) mode; the next command
// resets it first.
func (d *Dev) Sleep(deep bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	cmd, what := byte(cmdSleep), "sleep command"
	if deep {
		cmd, what = cmdDeepSleep, "deep-sleep command"
	}
	if err := d.tx([]byte{cmd}, nil, what); err != nil {
		return err
	}
	d.needReset = true
	return nil
}

// Halt implements conn.Resource: it puts the sensor to sleep.
func (d *Dev) Halt() error { return d.Sleep(false) }

// command clears stale interrupts, sends cmd and waits for the IRQ it
// raises.
func (d *Dev) command(ctx context.Context, cmd byte, what string) (Interrupt, error) {
	if err := d.clearPending(); err != nil {
		return 0, err
	}
	if err := d.tx([]byte{cmd}, nil, what+" command"); err != nil {
		return 0, err
	}
	irq, err := d.waitIRQ(ctx, d.opts.Timeout)
	if err != nil {
		if errors.Is(err, ErrTimeout) {
			d.needReset = true
			return 0, fmt.Errorf("fpc1020: no IRQ within %s after the %s command (sensor stalled or unplugged; it will be reset before the next command): %w", d.opts.Timeout, what, err)
		}
		return 0, err
	}
	return irq, d.check(irq, "after the "+what+" command")
}

// check turns the error and reset interrupts into errors.
func (d *Dev) check(irq Interrupt, when string) error {
	switch {
	case irq == IntReset:
		d.needReset = true
		return fmt.Errorf("fpc1020: sensor came out of reset %s (power glitch or reconnected; it will be re-initialised): %w", when, ErrDeviceReset)
	case irq&IntError != 0:
		return fmt.Errorf("fpc1020: sensor reported an error %s (interrupt %s): %w", when, irq, ErrSensor)
	}
	return nil
}

// clearPending reads and clears the interrupt register when the IRQ line
// says one is pending, so a stale interrupt is not taken for the answer to
// the next command.
func (d *Dev) clearPending() error {
	if !d.irqActive() {
		return nil
	}
	var v [1]byte
	if err := d.readReg(regInterruptClear, v[:]); err != nil {
		return err
	}
	irq := Interrupt(v[0])
	if irq == IntReset {
		d.needReset = true
		return fmt.Errorf("fpc1020: sensor came out of reset unexpectedly (power glitch or reconnected; it will be re-initialised): %w", ErrDeviceReset)
	}
	d.log.Debug("fpc1020 cleared stale interrupt", zap.Stringer("irq", irq))
	return nil
}

func (d *Dev) irqActive() bool {
	return d.irq.Read() == gpio.Level(!d.opts.IRQActiveLow)
}

// waitIRQ waits until the IRQ line is active, then reads and clears the
// interrupt register. A negative timeout waits until ctx ends.
func (d *Dev) waitIRQ(ctx context.Context, timeout time.Duration) (Interrupt, error) {
	remaining := timeout
	var deadline time.Time
	if timeout >= 0 {
		deadline = d.clk.Now().Add(timeout)
	}
	for !d.irqActive() {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("fpc1020: waiting for IRQ on %s: %w", d.irq, err)
		}
		step := irqSlice
		if timeout >= 0 {
			if remaining <= 0 || !d.clk.Now().Before(deadline) {
				return 0, fmt.Errorf("fpc1020: IRQ on %s stayed inactive for %s: %w", d.irq, timeout, ErrTimeout)
			}
			step = min(step, remaining)
		}
		if !d.irq.WaitForEdge(step) {
			remaining -= step
		}
	}
	var v [1]byte
	if err := d.readReg(regInterruptClear, v[:]); err != nil {
		return 0, err
	}
	return Interrupt(v[0]), nil
}

// readReg reads len(v) bytes of register reg.
func (d *Dev) readReg(reg byte, v []byte) error {
	w := d.zero[:1+len(v)]
	w[0] = reg
	r := d.buf[:1+len(v)]
	err := d.tx(w, r, fmt.Sprintf("read register 0x%02X", reg))
	w[0] = 0
	if err != nil {
		return err
	}
	copy(v, r[1:])
	return nil
}

func (d *Dev) tx(w, r []byte, what string) error {
	if err := d.c.Tx(w, r); err != nil {
		d.needReset = true
		return fmt.Errorf("fpc1020: SPI transfer to %s failed (%s): %w", d.c, what, err)
	}
	return nil
}

// readImage reads len(pix) pixels with cmdReadImage in transfers of at most
// chunk bytes: the first is command, dummy byte and chunk-2 pixels, every
// later one command and chunk-1 pixels (the sensor's read pointer carries
// on). buf and zero are scratch of at least chunk bytes; zero must be all
// zeros and is left so.
func readImage(c conn.Conn, pix []byte, chunk int, buf, zero []byte) error {
	if chunk < 3 {
		return fmt.Errorf("chunk of %d bytes cannot hold command, dummy byte and a pixel", chunk)
	}
	for off, first := 0, true; off < len(pix); first = false {
		head := 1
		if first {
			head = 2
		}
		n := min(chunk-head, len(pix)-off)
		w, r := zero[:head+n], buf[:head+n]
		w[0] = cmdReadImage
		err := c.Tx(w, r)
		w[0] = 0
		if err != nil {
			return fmt.Errorf("image chunk at pixel %d (%d bytes): %w", off, head+n, err)
		}
		off += copy(pix[off:off+n], r[head:])
	}
	return nil
}

// CheckImage rejects pixel data that cannot come from a working sensor:
// empty, or one value throughout (a stuck MISO line reads all 0x00 or all
// 0xFF; a real scan, even of no finger, has noise).
func CheckImage(pix []byte) error {
	if len(pix) == 0 {
		return fmt.Errorf("fpc1020: empty image: %w", ErrBadImage)
	}
	v := pix[0]
	for _, p := range pix[1:] {
		if p != v {
			return nil
		}
	}
	return fmt.Errorf("fpc1020: all %d pixels read 0x%02X (MISO stuck or sensor not driving the bus; check wiring and power): %w", len(pix), v, ErrBadImage)
}

var _ conn.Resource = (*Dev)(nil)
