package r30x

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"go.uber.org/zap"
	"periph.io/x/conn/v3/gpio"
)

// Port is the serial link to the module: an io.ReadWriter whose reads can be
// bounded in time. A Read that returns 0, nil, or an error matching
// os.ErrDeadlineExceeded, means the read timeout passed with no data (the
// convention of go.bug.st/serial). drivers/serialport.Port satisfies it, as
// does go.bug.st/serial.Port itself.
type Port interface {
	io.ReadWriter
	SetReadTimeout(d time.Duration) error
}

// BaudSetter is the optional ability of a Port to change its speed. It is
// needed to raise the link speed (Options.LinkBaud, SetBaud).
type BaudSetter interface {
	SetBaudRate(baud int) error
}

// inputResetter is the optional ability to drop unread input; used when
// resynchronising after a link error.
type inputResetter interface {
	ResetInputBuffer() error
}

// Options configure a Dev. The zero value of each field means its default.
type Options struct {
	// Address is the module address; 0 means DefaultAddress (0xFFFFFFFF).
	Address uint32
	// Password is the module password verified at open (VfyPwd); default 0.
	Password uint32
	// Baud is the speed the port was opened at; default 57600.
	Baud int
	// LinkBaud, when non-zero and different from Baud, is the speed New
	// raises the link to (SetSysPara register 4) and proves by talking to
	// the module at it. A module left at LinkBaud by an earlier run is found
	// there too. The port must implement BaudSetter.
	LinkBaud int
	// PacketSize, when non-zero, is the data packet size (32, 64, 128 or 256
	// bytes) New configures if the module has another.
	PacketSize int
	// SecurityLevel, when non-zero, is the matching security level (1..5)
	// New configures if the module has another.
	SecurityLevel int
	// Timeout bounds each command's reply; default 1 s (the Adafruit
	// library's DEFAULTTIMEOUT).
	Timeout time.Duration
	// PacketTimeout bounds the arrival of each image data packet; default
	// four times the packet's wire time plus half of Timeout.
	PacketTimeout time.Duration
	// PollInterval is the pause between GenImg polls in WaitFinger; default
	// 100 ms.
	PollInterval time.Duration
	// Touch is the R503 WAKEUP (touch) output as an input pin; when set,
	// WaitFinger waits for it instead of polling GenImg. New configures it
	// for edges on both sides.
	Touch gpio.PinIn
	// TouchActive is the level of Touch while a finger is on the sensor;
	// default gpio.High.
	TouchActive *gpio.Level
	// Model names the module for reports (R307, R503, ZFM-20, AS608); the
	// protocol cannot tell them apart. Default "R30x".
	Model string
	// Logger receives link events (speed changes, resynchronisation); nil
	// means zap.NewNop().
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for: address 0xFFFFFFFF,
// password 0, 57600 baud, no speed or parameter change, 1 s reply timeout,
// 100 ms finger polling, no touch pin.
func DefaultOptions() *Options {
	return &Options{Address: DefaultAddress, Baud: 57600, Timeout: time.Second, PollInterval: 100 * time.Millisecond, Model: "R30x"}
}

// Dev is an R30x-family module on a serial link. Its methods are safe for
// concurrent use; they run one command at a time.
type Dev struct {
	port   Port
	opts   Options
	log    *zap.Logger
	active gpio.Level

	mu      sync.Mutex
	baud    int
	params  SysParams
	buf     []byte // received bytes not yet parsed, a window of store
	store   []byte
	wbuf    []byte
	dirty   bool // a link error happened; resynchronise before the next command
	aborted bool // an image upload was cut short; its rest may still be coming
	noise   int  // bytes discarded while looking for a start code since the last packet
}

// New talks to the module on port: it verifies the password (the
// handshake), reads the system parameters, applies the configured packet
// size and security level, and raises the link speed when LinkBaud asks for
// it, proving the module answers at the new speed. It returns a Dev that
// works or an error saying what to check.
func New(port Port, opts *Options) (*Dev, error) {
	o := *DefaultOptions()
	if opts != nil {
		o = *opts
		def := DefaultOptions()
		if o.Address == 0 {
			o.Address = def.Address
		}
		if o.Baud == 0 {
			o.Baud = def.Baud
		}
		if o.Timeout <= 0 {
			o.Timeout = def.Timeout
		}
		if o.PollInterval <= 0 {
			o.PollInterval = def.PollInterval
		}
		if o.Model == "" {
			o.Model = def.Model
		}
	}
	if err := checkBaud(o.Baud); err != nil {
		return nil, fmt.Errorf("r30x: Options.Baud: %w", err)
	}
	if o.LinkBaud != 0 {
		if err := checkBaud(o.LinkBaud); err != nil {
			return nil, fmt.Errorf("r30x: Options.LinkBaud: %w", err)
		}
	}
	if o.PacketSize != 0 && PacketSizeCode(o.PacketSize) < 0 {
		return nil, fmt.Errorf("r30x: Options.PacketSize %d: want 32, 64, 128 or 256", o.PacketSize)
	}
	if o.SecurityLevel < 0 || o.SecurityLevel > 5 {
		return nil, fmt.Errorf("r30x: Options.SecurityLevel %d: want 1..5 (0 keeps the module's)", o.SecurityLevel)
	}
	d := &Dev{port: port, opts: o, log: o.Logger, baud: o.Baud, active: gpio.High}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	if o.TouchActive != nil {
		d.active = *o.TouchActive
	}
	if err := d.open(); err != nil {
		return nil, err
	}
	if o.Touch != nil {
		if err := o.Touch.In(gpio.PullNoChange, gpio.BothEdges); err != nil {
			return nil, fmt.Errorf("r30x: cannot watch touch pin %s for edges (check the pin name and that it supports edge detection): %w", o.Touch, err)
		}
	}
	return d, nil
}

func (d *Dev) open() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	o := d.opts
	err := d.handshake()
	if err != nil && errors.Is(err, ErrTimeout) && o.LinkBaud != 0 && o.LinkBaud != o.Baud {
		// A module raised by an earlier run keeps its speed in flash.
		if bs, ok := d.port.(BaudSetter); ok {
			if err2 := d.switchHost(bs, o.LinkBaud); err2 != nil {
				return err2
			}
			if err2 := d.handshake(); err2 == nil {
				d.log.Info("r30x: module already at the configured link speed", zap.Int("baud", o.LinkBaud))
				err = nil
			} else {
				if err3 := d.switchHost(bs, o.Baud); err3 != nil {
					return err3
				}
				return linkErrorf(ErrTimeout, "r30x: sensor did not answer handshake on address 0x%08X at %d or %d baud (check wiring and baud rate)", o.Address, o.Baud, o.LinkBaud)
			}
		}
	}
	if err != nil {
		return err
	}
	if o.PacketSize != 0 && o.PacketSize != d.params.PacketSize {
		if err := d.setParam("PacketSize", RegPacketSize, byte(PacketSizeCode(o.PacketSize))); err != nil {
			return err
		}
		if d.params.PacketSize != o.PacketSize {
			return linkErrorf(ErrFrame, "r30x: module reports packet size %d after setting %d", d.params.PacketSize, o.PacketSize)
		}
	}
	if o.SecurityLevel != 0 && o.SecurityLevel != d.params.SecurityLevel {
		if err := d.setParam("SecurityLevel", RegSecurity, byte(o.SecurityLevel)); err != nil {
			return err
		}
		if d.params.SecurityLevel != o.SecurityLevel {
			return linkErrorf(ErrFrame, "r30x: module reports security level %d after setting %d", d.params.SecurityLevel, o.SecurityLevel)
		}
	}
	if o.LinkBaud != 0 && o.LinkBaud != d.baud {
		return d.setBaud(o.LinkBaud)
	}
	return nil
}

// handshake verifies the password and reads the system parameters.
func (d *Dev) handshake() error {
	d.dirty, d.aborted, d.buf = false, false, d.buf[:0]
	var pw [4]byte
	pw[0], pw[1], pw[2], pw[3] = byte(d.opts.Password>>24), byte(d.opts.Password>>16), byte(d.opts.Password>>8), byte(d.opts.Password)
	if _, err := d.transact("handshake (VfyPwd)", cmdVfyPwd, pw[:], 0); err != nil {
		if errors.Is(err, ErrWrongPassword) {
			return fmt.Errorf("r30x: sensor on address 0x%08X rejected the password (set the password option to the module's): %w", d.opts.Address, err)
		}
		return err // a link error, already saying what to check
	}
	return d.readParams()
}

func (d *Dev) readParams() error {
	res, err := d.transact("ReadSysPara", cmdReadSys, nil, sysParamsLen)
	if err != nil {
		return err
	}
	p, err := ParseSysParams(res)
	if err != nil {
		d.dirty = true
		return err
	}
	d.params = p
	return nil
}

func (d *Dev) setParam(name string, reg, val byte) error {
	if _, err := d.transact("SetSysPara("+name+")", cmdSetSysPara, []byte{reg, val}, 0); err != nil {
		return err
	}
	return d.readParams()
}

// Params returns the system parameters last read from the module.
func (d *Dev) Params() SysParams {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.params
}

// Baud returns the link speed the driver talks at now.
func (d *Dev) Baud() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.baud
}

// Model returns the model name from Options.
func (d *Dev) Model() string { return d.opts.Model }

// ReadParams reads the system parameters from the module again.
func (d *Dev) ReadParams() (SysParams, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	err := d.readParams()
	return d.params, err
}

// SetPacketSize sets the data packet size (32, 64, 128 or 256 bytes). The
// module keeps it in flash.
func (d *Dev) SetPacketSize(size int) error {
	code := PacketSizeCode(size)
	if code < 0 {
		return fmt.Errorf("r30x: packet size %d: want 32, 64, 128 or 256", size)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setParam("PacketSize", RegPacketSize, byte(code))
}

// SetSecurityLevel sets the matching security level (1..5).
func (d *Dev) SetSecurityLevel(level int) error {
	if level < 1 || level > 5 {
		return fmt.Errorf("r30x: security level %d: want 1..5", level)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setParam("SecurityLevel", RegSecurity, byte(level))
}

// SetBaud changes the link speed: the module is told first, then the port,
// and the new speed is proven by a handshake and a parameter read that must
// report it. If the module still answers at the old speed, the port goes
// back to it and the error matches ErrBaudNotApplied. The port must
// implement BaudSetter.
func (d *Dev) SetBaud(baud int) error {
	if err := checkBaud(baud); err != nil {
		return fmt.Errorf("r30x: SetBaud: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setBaud(baud)
}

// baudSwitchDelay is how long the module is given to store the new speed
// and switch its UART after acknowledging SetSysPara(4).
const baudSwitchDelay = 50 * time.Millisecond

func (d *Dev) setBaud(baud int) error {
	bs, ok := d.port.(BaudSetter)
	if !ok {
		return fmt.Errorf("r30x: cannot change the link speed to %d: the port (%T) cannot change its speed; open it with drivers/serialport", baud, d.port)
	}
	old := d.baud
	if _, err := d.transact("SetSysPara(Baud)", cmdSetSysPara, []byte{RegBaud, byte(baud / 9600)}, 0); err != nil {
		return fmt.Errorf("r30x: setting the link speed to %d baud: %w", baud, err)
	}
	time.Sleep(baudSwitchDelay)
	if err := d.switchHost(bs, baud); err != nil {
		return err
	}
	err := d.handshake()
	if err == nil && d.params.Baud == baud {
		d.log.Info("r30x: link speed raised", zap.Int("from", old), zap.Int("to", baud))
		return nil
	}
	if err == nil {
		err = fmt.Errorf("module reports %d baud", d.params.Baud)
	}
	if err2 := d.switchHost(bs, old); err2 != nil {
		return err2
	}
	if err2 := d.handshake(); err2 == nil {
		return fmt.Errorf("r30x: module acknowledged %d baud but still answers at %d (some firmware applies it only after a power cycle; the driver stays at %d): %w (%v)", baud, old, old, ErrBaudNotApplied, err)
	}
	return fmt.Errorf("r30x: module answers neither at %d nor at %d baud after a speed change (power-cycle the sensor): %w", baud, old, err)
}

func (d *Dev) switchHost(bs BaudSetter, baud int) error {
	if err := bs.SetBaudRate(baud); err != nil {
		return fmt.Errorf("r30x: cannot set the serial port to %d baud: %w", baud, err)
	}
	d.baud = baud
	d.buf = d.buf[:0]
	return nil
}

func checkBaud(b int) error {
	if b < 9600 || b > 115200 || b%9600 != 0 {
		return fmt.Errorf("baud %d: want a multiple of 9600 from 9600 to 115200", b)
	}
	return nil
}

// transact sends one instruction and reads its acknowledgement. wantLen is
// the length of the results after the confirmation code on success; a
// reply of another length is a stale or foreign reply (ErrFrame).
func (d *Dev) transact(op string, instr byte, args []byte, wantLen int) ([]byte, error) {
	if d.dirty {
		if err := d.resync(op); err != nil {
			return nil, err
		}
	}
	payload := append(append(make([]byte, 0, 1+len(args)), instr), args...)
	d.wbuf = AppendPacket(d.wbuf[:0], Packet{Addr: d.opts.Address, PID: PIDCommand, Payload: payload})
	if _, err := d.port.Write(d.wbuf); err != nil {
		d.dirty = true
		return nil, &linkError{kind: ErrLink, msg: fmt.Sprintf("r30x: %s: writing to the serial port", op), err: err}
	}
	p, err := d.readPacket(time.Now().Add(d.opts.Timeout))
	if err != nil {
		d.dirty = true
		return nil, d.explain(op, d.opts.Timeout, err)
	}
	if p.PID != PIDAck || len(p.Payload) < 1 {
		d.dirty = true
		return nil, linkErrorf(ErrFrame, "r30x: %s: got packet type 0x%02X with %d payload bytes, want an acknowledgement", op, p.PID, len(p.Payload))
	}
	if code := p.Payload[0]; code != 0 {
		return nil, &CodeError{Op: op, Code: code}
	}
	if len(p.Payload)-1 != wantLen {
		d.dirty = true
		return nil, linkErrorf(ErrFrame, "r30x: %s: acknowledgement carries %d result bytes, want %d (a stale or foreign reply)", op, len(p.Payload)-1, wantLen)
	}
	if wantLen == 0 {
		return nil, nil
	}
	return append([]byte(nil), p.Payload[1:]...), nil
}

// explain turns a read error into a message naming the instruction.
func (d *Dev) explain(op string, timeout time.Duration, err error) error {
	if errors.Is(err, ErrTimeout) {
		hint := "check wiring and baud rate"
		if d.noise > 0 {
			hint = fmt.Sprintf("received %d bytes of noise: check the baud rate and wiring", d.noise)
		}
		return linkErrorf(ErrTimeout, "r30x: sensor did not answer %s within %v on address 0x%08X at %d baud (%s)", op, timeout, d.opts.Address, d.baud, hint)
	}
	var le *linkError
	if errors.As(err, &le) {
		le.msg = "r30x: " + op + ": " + trimPrefix(le.msg)
		return le
	}
	return err
}

func trimPrefix(s string) string {
	const p = "r30x: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

var startCode = []byte{0xEF, 0x01}

// readPacket returns the next whole packet, skipping bytes before a start
// code, or an error by the deadline. The payload aliases the receive
// buffer: it is valid until the next read.
func (d *Dev) readPacket(deadline time.Time) (Packet, error) {
	d.noise = 0
	for {
		if i := bytes.Index(d.buf, startCode); i > 0 {
			d.noise += i
			d.buf = d.buf[i:]
		} else if i < 0 && len(d.buf) > 0 {
			keep := 0
			if d.buf[len(d.buf)-1] == 0xEF {
				keep = 1
			}
			d.noise += len(d.buf) - keep
			d.buf = append(d.buf[:0], d.buf[len(d.buf)-keep:]...)
		}
		if len(d.buf) >= 2 {
			p, n, err := ParsePacket(d.buf)
			if err != errShort {
				d.buf = d.buf[n:]
				if err != nil {
					return Packet{}, err
				}
				if p.Addr != d.opts.Address {
					return Packet{}, linkErrorf(ErrFrame, "r30x: packet from address 0x%08X, want 0x%08X (another module on the line, or set the address option)", p.Addr, d.opts.Address)
				}
				return p, nil
			}
		}
		if err := d.fill(deadline); err != nil {
			return Packet{}, err
		}
	}
}

// readChunk is the most one read asks the port for.
const readChunk = 1024

// fill reads more bytes into d.buf, waiting at most until deadline.
func (d *Dev) fill(deadline time.Time) error {
	rem := time.Until(deadline)
	if rem <= 0 {
		return linkErrorf(ErrTimeout, "r30x: read deadline passed")
	}
	if err := d.port.SetReadTimeout(rem); err != nil {
		return &linkError{kind: ErrLink, msg: "r30x: setting the serial read timeout", err: err}
	}
	// Read straight into the buffer's free space, first moving what is
	// left to the front of the buffer's storage when the space runs short.
	if cap(d.buf)-len(d.buf) < readChunk {
		if len(d.buf)+readChunk > cap(d.store) {
			d.store = make([]byte, 0, 2*(len(d.buf)+readChunk))
		}
		d.buf = append(d.store[:0], d.buf...)
	}
	n, err := d.port.Read(d.buf[len(d.buf) : len(d.buf)+readChunk])
	d.buf = d.buf[:len(d.buf)+n]
	switch {
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		return linkErrorf(ErrTimeout, "r30x: read deadline passed")
	case err != nil && n == 0:
		return &linkError{kind: ErrLink, msg: "r30x: reading from the serial port", err: err}
	case n == 0:
		return linkErrorf(ErrTimeout, "r30x: read deadline passed")
	}
	return nil
}

// resync brings the link back to a known state after a link error: it drops
// unread input, asks for the system parameters and skips everything until
// their reply (late replies to earlier commands, the rest of an aborted
// image, power-on bytes), then waits for the line to go quiet.
func (d *Dev) resync(op string) error {
	if r, ok := d.port.(inputResetter); ok {
		if err := r.ResetInputBuffer(); err != nil {
			return &linkError{kind: ErrLink, msg: "r30x: " + op + ": dropping unread input", err: err}
		}
	}
	d.buf = d.buf[:0]
	// A late reply may still be on its way: allow it a second timeout.
	budget := 2 * d.opts.Timeout
	if d.aborted {
		budget += d.wireTime(imageWireBytes(d.params.PacketSize))
	}
	deadline := time.Now().Add(budget)
	d.wbuf = AppendPacket(d.wbuf[:0], Packet{Addr: d.opts.Address, PID: PIDCommand, Payload: []byte{cmdReadSys}})
	if _, err := d.port.Write(d.wbuf); err != nil {
		return &linkError{kind: ErrLink, msg: "r30x: " + op + ": writing to the serial port", err: err}
	}
	skipped := 0
	for {
		p, err := d.readPacket(deadline)
		if errors.Is(err, ErrTimeout) {
			return linkErrorf(ErrTimeout, "r30x: %s: sensor did not answer after a link error within %v on address 0x%08X at %d baud (check wiring and power)", op, budget, d.opts.Address, d.baud)
		}
		if err != nil && !errors.Is(err, ErrLink) {
			return err
		}
		if err == nil && p.PID == PIDAck && len(p.Payload) == 1+sysParamsLen && p.Payload[0] == 0 {
			if sp, err := ParseSysParams(p.Payload[1:]); err == nil {
				d.params = sp
				break
			}
		}
		skipped++
	}
	// A reply still in flight behind the one just read would arrive now.
	quiet := 20*time.Millisecond + d.wireTime(2*(headerLen+2+1+sysParamsLen))
	for end := time.Now().Add(d.opts.Timeout); time.Now().Before(end); {
		if err := d.fill(time.Now().Add(quiet)); err != nil {
			if errors.Is(err, ErrTimeout) {
				break
			}
			return d.explain(op, quiet, err)
		}
	}
	d.buf = d.buf[:0]
	d.dirty, d.aborted = false, false
	d.log.Warn("r30x: link resynchronised", zap.String("before", op), zap.Int("skipped_packets", skipped))
	return nil
}

// wireTime is how long n bytes take on the line (8N1: 10 bits a byte).
func (d *Dev) wireTime(n int) time.Duration {
	return time.Duration(n) * 10 * time.Second / time.Duration(d.baud)
}
