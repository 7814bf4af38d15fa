package arducam

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.uber.org/zap"
	"periph.io/x/conn/v3"
	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/physic"
	"periph.io/x/conn/v3/spi"

	"github.com/bali-rbdes/kiosk/drivers/internal/drvtime"
)

// Sentinel errors callers act on; test them with errors.Is.
var (
	// ErrNoSPI: the ArduChip test register did not read back over SPI.
	ErrNoSPI = errors.New("arducam: SPI link test failed")
	// ErrNoSensor: the image sensor did not answer over SCCB (I2C).
	ErrNoSensor = errors.New("arducam: sensor did not answer")
	// ErrWrongChip: the sensor's product id is not an OV2640's.
	ErrWrongChip = errors.New("arducam: wrong sensor chip")
	// ErrTimeout: the capture-done flag did not rise before the deadline.
	ErrTimeout = errors.New("arducam: capture timeout")
	// ErrFIFOLength: the FIFO length is 0 or beyond the FIFO.
	ErrFIFOLength = errors.New("arducam: bad FIFO length")
	// ErrNoJPEG: the FIFO holds no JPEG start marker.
	ErrNoJPEG = errors.New("arducam: no JPEG in FIFO")
	// ErrTruncatedJPEG: the JPEG has no end marker.
	ErrTruncatedJPEG = errors.New("arducam: truncated JPEG")
	// ErrBadJPEG: the JPEG's marker structure is broken.
	ErrBadJPEG = errors.New("arducam: malformed JPEG")
)

// ArduChip registers and values (SPI side; see doc.go).
const (
	regTest      = 0x00
	regFIFOCtl   = 0x04
	regCPLDReset = 0x07
	regRevision  = 0x40
	regTrig      = 0x41
	regFIFOSize1 = 0x42
	regFIFOSize2 = 0x43
	regFIFOSize3 = 0x44

	cmdBurstRead = 0x3C
	writeBit     = 0x80

	fifoClear      = 0x01 // clear the capture-done flag
	fifoStart      = 0x02 // start a capture
	trigCaptureEnd = 0x08 // CAP_DONE in ARDUCHIP_TRIG
	cpldResetBit   = 0x80

	testPattern = 0x55

	// MaxFIFO2MP is MAX_FIFO_SIZE of the ArduCAM Mini 2MP (384 KiB).
	MaxFIFO2MP = 0x5FFFF
	// MaxFIFOPlus is MAX_FIFO_SIZE of the Plus boards (8 MiB).
	MaxFIFOPlus = 0x7FFFFF
)

// Clock is the time source the driver waits on; agent/clock.Clock
// satisfies it.
type Clock interface {
	Now() time.Time
	Sleep(ctx context.Context, d time.Duration) error
}

// Options configure a Dev. Zero fields take the defaults of DefaultOptions.
type Options struct {
	// Hz is the SPI clock; default 4 MHz (the ArduChip takes up to 8 MHz;
	// lower it on long wires).
	Hz physic.Frequency
	// Size is the JPEG size; default 800x600. It must be one of Sizes.
	Size Size
	// Quality is the OV2640 JPEG quantisation scale (register QS): lower is
	// better and larger; default 12 (0x0C). 2 to 63.
	Quality int
	// Chunk is the largest SPI transfer of a burst read, command byte
	// included. Default: the port's MaxTxSize when it reports one, else
	// 4096 (spidev's default bufsiz). A Chunk above MaxTxSize is lowered.
	Chunk int
	// Timeout bounds a capture: from start to the capture-done flag;
	// default 3 s.
	Timeout time.Duration
	// Poll is the interval between reads of the capture-done flag;
	// default 5 ms.
	Poll time.Duration
	// MaxFIFO is the FIFO size; lengths at or above it are errors. Default
	// MaxFIFOPlus (8 MiB), the Mini 2MP Plus; use MaxFIFO2MP on the Mini
	// 2MP without Plus.
	MaxFIFO int
	// SensorAddr is the SCCB address; default SensorAddr (0x30).
	SensorAddr uint16
	// Clock is the time source; nil means the wall clock.
	Clock Clock
	// Logger receives debug and info logs; nil means none.
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{
		Hz:         4 * physic.MegaHertz,
		Size:       Size{800, 600},
		Quality:    0x0C,
		Timeout:    3 * time.Second,
		Poll:       5 * time.Millisecond,
		MaxFIFO:    MaxFIFOPlus,
		SensorAddr: SensorAddr,
	}
}

const defaultChunk = 4096

// Dev is an ArduCAM Mini 2MP Plus. Its methods are safe for concurrent
// use; they run one at a time.
type Dev struct {
	mu       sync.Mutex
	c        spi.Conn
	sensor   i2c.Dev
	name     string
	opts     Options
	chunk    int
	clk      Clock
	log      *zap.Logger
	tables   regTables
	pid, ver byte
	rev      byte
	needInit bool
}

// New connects to the ArduCAM on port (frame FIFO) and bus (sensor
// setup), resets the board's CPLD, checks the SPI link and the sensor's
// product id, and sets the sensor up for JPEG at Options.Size. The driver
// owns neither port nor bus.
func New(port spi.Port, bus i2c.Bus, opts *Options) (*Dev, error) {
	if port == nil || bus == nil {
		return nil, errors.New("arducam: New needs an SPI port and an I2C bus")
	}
	o := DefaultOptions()
	if opts != nil {
		merge(o, opts)
	}
	if !validSize(o.Size) {
		return nil, fmt.Errorf("arducam: size %s is not one of %s", o.Size, sizeList())
	}
	if o.Quality < 2 || o.Quality > 63 {
		return nil, fmt.Errorf("arducam: JPEG quality scale %d is outside 2-63", o.Quality)
	}
	if o.Chunk != 0 && o.Chunk < 2 {
		return nil, fmt.Errorf("arducam: Options.Chunk %d is too small: a burst read needs the command and a byte (use 0 for the port's limit)", o.Chunk)
	}
	tables, err := loadTables()
	if err != nil {
		return nil, err
	}
	c, err := port.Connect(o.Hz, spi.Mode0, 8)
	if err != nil {
		return nil, fmt.Errorf("arducam: cannot connect to SPI port %s at %s mode 0 (check the port name and that no other driver holds it): %w", port, o.Hz, err)
	}
	chunk, limit := o.Chunk, 0
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
	if chunk < 2 {
		return nil, fmt.Errorf("arducam: SPI port %s allows only %d-byte transfers; a burst read needs at least 2", port, chunk)
	}
	d := &Dev{
		c:      c,
		sensor: i2c.Dev{Bus: bus, Addr: o.SensorAddr},
		name:   fmt.Sprintf("arducam(%s, %s)", port, bus),
		opts:   *o,
		chunk:  chunk,
		clk:    drvtime.Or(o.Clock),
		log:    o.Logger,
		tables: tables,
	}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if err := d.init(context.Background()); err != nil {
		return nil, err
	}
	return d, nil
}

func merge(o, in *Options) {
	if in.Hz != 0 {
		o.Hz = in.Hz
	}
	if in.Size != (Size{}) {
		o.Size = in.Size
	}
	if in.Quality != 0 {
		o.Quality = in.Quality
	}
	o.Chunk = in.Chunk
	if in.Timeout != 0 {
		o.Timeout = in.Timeout
	}
	if in.Poll != 0 {
		o.Poll = in.Poll
	}
	if in.MaxFIFO != 0 {
		o.MaxFIFO = in.MaxFIFO
	}
	if in.SensorAddr != 0 {
		o.SensorAddr = in.SensorAddr
	}
	o.Clock = in.Clock
	o.Logger = in.Logger
}

func validSize(s Size) bool {
	for _, k := range Sizes {
		if s == k {
			return true
		}
	}
	return false
}

// String names the driver, its port and bus.
func (d *Dev) String() string { return d.name }

// SensorID returns the sensor's product id bytes (0x26, then 0x41 or 0x42).
func (d *Dev) SensorID() (pid, ver byte) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.pid, d.ver
}

// Revision returns the ArduChip revision register (0x40).
func (d *Dev) Revision() byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.rev
}

// Chunk returns the largest SPI transfer of a burst read, in bytes.
func (d *Dev) Chunk() int { return d.chunk }

// Size returns the JPEG size the sensor is set up for.
func (d *Dev) Size() Size {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.opts.Size
}

// SetSize switches the JPEG size.
func (d *Dev) SetSize(ctx context.Context, s Size) error {
	if !validSize(s) {
		return fmt.Errorf("arducam: size %s is not one of %s", s, sizeList())
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.writeSensor(ctx, d.tables.sizeOps(s, byte(d.opts.Quality))); err != nil {
		d.needInit = true
		return err
	}
	d.opts.Size = s
	return nil
}

// init resets the CPLD, probes both links and sets the sensor up.
func (d *Dev) init(ctx context.Context) error {
	d.needInit = true
	if err := d.writeReg(regCPLDReset, cpldResetBit); err != nil {
		return err
	}
	if err := d.sleep(ctx, 100*time.Millisecond); err != nil {
		return err
	}
	if err := d.writeReg(regCPLDReset, 0); err != nil {
		return err
	}
	if err := d.sleep(ctx, 100*time.Millisecond); err != nil {
		return err
	}
	if err := d.writeReg(regTest, testPattern); err != nil {
		return err
	}
	v, err := d.readReg(regTest)
	if err != nil {
		return err
	}
	if v != testPattern {
		return fmt.Errorf("arducam: test register on %s reads 0x%02X after writing 0x%02X (check SPI wiring, chip select, mode 0 and the camera's power): %w", d.c, v, testPattern, ErrNoSPI)
	}
	if d.rev, err = d.readReg(regRevision); err != nil {
		return err
	}
	if err := d.probeSensor(); err != nil {
		return err
	}
	ops := append(append([]regOp(nil), d.tables["reset"]...), d.tables["init"]...)
	ops = append(ops, d.tables.sizeOps(d.opts.Size, byte(d.opts.Quality))...)
	if err := d.writeSensor(ctx, ops); err != nil {
		return err
	}
	if err := d.writeReg(regFIFOCtl, fifoClear); err != nil {
		return err
	}
	d.needInit = false
	d.log.Debug("arducam ready", zap.String("dev", d.name), zap.Uint8("revision", d.rev),
		zap.Uint8("pid", d.pid), zap.Uint8("ver", d.ver), zap.Stringer("size", d.opts.Size))
	return nil
}

func (d *Dev) sleep(ctx context.Context, t time.Duration) error {
	if err := d.clk.Sleep(ctx, t); err != nil {
		return fmt.Errorf("arducam: set-up interrupted: %w", err)
	}
	return nil
}

// probeSensor reads the OV2640 product id. The ArduCAM examples' check
// "(pid != 0x41) || (pid != 0x42)" is always true, so they test only the
// high byte; here both are checked.
func (d *Dev) probeSensor() error {
	if err := d.sensor.Tx([]byte{regBankSelect, bankSensor}, nil); err != nil {
		return fmt.Errorf("arducam: sensor did not answer at I2C address 0x%02X on %s (check SDA/SCL wiring, pull-ups and the camera's power): %w: %w", d.sensor.Addr, d.sensor.Bus, ErrNoSensor, err)
	}
	var id [1]byte
	if err := d.sensor.Tx([]byte{regPIDH}, id[:]); err != nil {
		return fmt.Errorf("arducam: reading the sensor id at 0x%02X: %w: %w", d.sensor.Addr, ErrNoSensor, err)
	}
	d.pid = id[0]
	if err := d.sensor.Tx([]byte{regPIDL}, id[:]); err != nil {
		return fmt.Errorf("arducam: reading the sensor version at 0x%02X: %w: %w", d.sensor.Addr, ErrNoSensor, err)
	}
	d.ver = id[0]
	if d.pid != OV2640PID || (d.ver != 0x41 && d.ver != 0x42) {
		return fmt.Errorf("arducam: sensor id is 0x%02X%02X, want 0x2641 or 0x2642 (an OV2640; this driver does not set up other sensors): %w", d.pid, d.ver, ErrWrongChip)
	}
	return nil
}

// writeSensor writes a register table over SCCB.
func (d *Dev) writeSensor(ctx context.Context, ops []regOp) error {
	for i, op := range ops {
		if op.delay > 0 {
			if err := d.sleep(ctx, op.delay); err != nil {
				return err
			}
			continue
		}
		if err := d.sensor.Tx([]byte{op.reg, op.val}, nil); err != nil {
			return fmt.Errorf("arducam: writing sensor register 0x%02X=0x%02X (step %d of %d) at I2C 0x%02X: %w: %w", op.reg, op.val, i+1, len(ops), d.sensor.Addr, ErrNoSensor, err)
		}
	}
	return nil
}

// Capture takes one JPEG and returns it, from FF D8 to FF D9.
func (d *Dev) Capture(ctx context.Context) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.needInit {
		d.log.Info("arducam re-initialising after an error", zap.String("dev", d.name))
		if err := d.init(ctx); err != nil {
			return nil, err
		}
	}
	jpeg, err := d.capture(ctx)
	if err != nil {
		d.needInit = true
	}
	return jpeg, err
}

func (d *Dev) capture(ctx context.Context) ([]byte, error) {
	for _, v := range []byte{fifoClear, fifoClear, fifoStart} {
		if err := d.writeReg(regFIFOCtl, v); err != nil {
			return nil, err
		}
	}
	deadline := d.clk.Now().Add(d.opts.Timeout)
	for polls := 1; ; polls++ {
		v, err := d.readReg(regTrig)
		if err != nil {
			return nil, err
		}
		if v&trigCaptureEnd != 0 {
			break
		}
		if !d.clk.Now().Before(deadline) {
			return nil, fmt.Errorf("arducam: capture-done flag not set after %s (%d polls; sensor not streaming, or Options.Timeout too short for %s): %w", d.opts.Timeout, polls, d.opts.Size, ErrTimeout)
		}
		if err := d.clk.Sleep(ctx, d.opts.Poll); err != nil {
			return nil, fmt.Errorf("arducam: capture interrupted: %w", err)
		}
	}
	var sz [3]byte
	for i, reg := range []byte{regFIFOSize1, regFIFOSize2, regFIFOSize3} {
		v, err := d.readReg(reg)
		if err != nil {
			return nil, err
		}
		sz[i] = v
	}
	n := FIFOLength(sz[0], sz[1], sz[2])
	if err := CheckFIFOLength(n, d.opts.MaxFIFO); err != nil {
		return nil, err
	}
	buf := make([]byte, n)
	if err := readFIFO(d.c, buf, d.chunk); err != nil {
		return nil, fmt.Errorf("arducam: reading the FIFO on %s: %w", d.c, err)
	}
	if err := d.writeReg(regFIFOCtl, fifoClear); err != nil {
		return nil, err
	}
	return FrameJPEG(buf)
}

// writeReg writes an ArduChip register: [addr|0x80, value].
func (d *Dev) writeReg(reg, v byte) error {
	var r [2]byte
	if err := d.c.Tx([]byte{reg | writeBit, v}, r[:]); err != nil {
		return fmt.Errorf("arducam: SPI write of register 0x%02X on %s failed (check the SPI port): %w", reg, d.c, err)
	}
	return nil
}

// readReg reads an ArduChip register: [addr, 0], the value in the second
// reply byte.
func (d *Dev) readReg(reg byte) (byte, error) {
	var r [2]byte
	if err := d.c.Tx([]byte{reg &^ writeBit, 0}, r[:]); err != nil {
		return 0, fmt.Errorf("arducam: SPI read of register 0x%02X on %s failed (check the SPI port): %w", reg, d.c, err)
	}
	return r[1], nil
}
