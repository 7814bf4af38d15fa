package gt521

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.uber.org/zap"
)

// Port is the serial link to the module: an io.ReadWriter whose reads can be
// bounded in time. A Read that returns 0, nil, or an error matching
// os.ErrDeadlineExceeded, means the timeout passed with no data (the
// convention of go.bug.st/serial). drivers/serialport.Port satisfies it.
type Port interface {
	io.ReadWriter
	SetReadTimeout(d time.Duration) error
}

// BaudSetter is the optional ability of a Port to change its speed, needed
// for Options.LinkBaud and SetBaud.
type BaudSetter interface {
	SetBaudRate(baud int) error
}

type inputResetter interface {
	ResetInputBuffer() error
}

// Image geometry. GetImage returns ImageWidth x ImageHeight by default (per
// the GT-511C3-era documents; see Options to correct it for a module that
// differs); GetRawImage returns a 320x240 capture subsampled to 160x120.
const (
	ImageWidth     = 258
	ImageHeight    = 202
	RawImageWidth  = 160
	RawImageHeight = 120
)

// Options configure a Dev. The zero value of each field means its default.
type Options struct {
	// DeviceID is the module's device id; default 1.
	DeviceID uint16
	// Baud is the speed the port was opened at; default 9600 (the module's
	// speed after power-on).
	Baud int
	// LinkBaud, when non-zero and different from Baud, is the speed New
	// raises the link to with ChangeBaudRate and proves. A module left at
	// LinkBaud by an earlier run (and not power-cycled since) is found there
	// too. The port must implement BaudSetter.
	LinkBaud int
	// Timeout bounds each reply, and each pause inside a data packet;
	// default 1 s.
	Timeout time.Duration
	// PollInterval is the pause between IsPressFinger polls; default 100 ms.
	PollInterval time.Duration
	// ImageWidth and ImageHeight are the GetImage geometry; default 258 x
	// 202 (unverified for the GT-521F52: check on hardware).
	ImageWidth, ImageHeight int
	// Logger; nil means zap.NewNop().
	Logger *zap.Logger
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{DeviceID: 1, Baud: 9600, Timeout: time.Second, PollInterval: 100 * time.Millisecond,
		ImageWidth: ImageWidth, ImageHeight: ImageHeight}
}

// Dev is a GT-511C3 / GT-521F32 / GT-521F52 module on a serial link. Its
// methods are safe for concurrent use; they run one command at a time.
type Dev struct {
	port Port
	opts Options
	log  *zap.Logger

	mu      sync.Mutex
	baud    int
	info    Info
	buf     []byte
	tmp     []byte
	dirty   bool
	errAt   time.Time
	pending int // bytes of an aborted data packet that may still arrive
	noise   int
}

// New opens the module: Open with the info request (firmware version and
// serial number), then raises the link speed when LinkBaud asks for it and
// proves the module answers at the new speed.
func New(port Port, opts *Options) (*Dev, error) {
	o := *DefaultOptions()
	if opts != nil {
		def := o
		o = *opts
		if o.DeviceID == 0 {
			o.DeviceID = def.DeviceID
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
		if o.ImageWidth == 0 {
			o.ImageWidth = def.ImageWidth
		}
		if o.ImageHeight == 0 {
			o.ImageHeight = def.ImageHeight
		}
	}
	if err := checkBaud(o.Baud); err != nil {
		return nil, fmt.Errorf("gt521: Options.Baud: %w", err)
	}
	if o.LinkBaud != 0 {
		if err := checkBaud(o.LinkBaud); err != nil {
			return nil, fmt.Errorf("gt521: Options.LinkBaud: %w", err)
		}
	}
	if o.ImageWidth <= 0 || o.ImageHeight <= 0 || o.ImageWidth*o.ImageHeight > 1<<20 {
		return nil, fmt.Errorf("gt521: image geometry %dx%d: want positive sizes up to 1 MiB", o.ImageWidth, o.ImageHeight)
	}
	d := &Dev{port: port, opts: o, log: o.Logger, baud: o.Baud, tmp: make([]byte, 4096)}
	if d.log == nil {
		d.log = zap.NewNop()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.open(); err != nil {
		return nil, err
	}
	return d, nil
}

func checkBaud(b int) error {
	switch b {
	case 9600, 19200, 38400, 57600, 115200:
		return nil
	}
	return fmt.Errorf("baud %d: want 9600, 19200, 38400, 57600 or 115200", b)
}

// open finds the module: it tries Open at the current speed, then at
// Options.Baud and Options.LinkBaud, and raises the link to LinkBaud.
// The caller holds d.mu.
func (d *Dev) open() error {
	o := d.opts
	speeds := []int{d.baud}
	for _, b := range []int{o.Baud, o.LinkBaud} {
		if b != 0 && !slices.Contains(speeds, b) {
			speeds = append(speeds, b)
		}
	}
	bs, canSwitch := d.port.(BaudSetter)
	var first error
	for i, b := range speeds {
		if i > 0 {
			if !canSwitch {
				break
			}
			if err := d.switchHost(bs, b); err != nil {
				return err
			}
		}
		d.dirty, d.buf = false, d.buf[:0]
		err := d.openInfo()
		if err == nil {
			if i > 0 {
				d.log.Info("gt521: module found at another speed", zap.Int("baud", b))
			}
			first = nil
			break
		}
		if first == nil {
			first = err
		}
		var ne *NackError
		if errors.As(err, &ne) {
			break // it answered: the speed is right
		}
	}
	if first != nil {
		if canSwitch && d.baud != speeds[0] {
			if err := d.switchHost(bs, speeds[0]); err != nil {
				return err
			}
		}
		if len(speeds) > 1 && canSwitch && errors.Is(first, ErrTimeout) {
			return linkErrorf(ErrTimeout, "gt521: sensor did not answer Open as device %d at %s baud (check wiring and baud rate)", o.DeviceID, joinInts(speeds))
		}
		return first
	}
	if o.LinkBaud != 0 && o.LinkBaud != d.baud {
		return d.setBaud(o.LinkBaud)
	}
	return nil
}

// Reopen finds the module again after it lost power or was unplugged (it
// then restarts at 9600 baud): Open at the current speed or the configured
// ones, then the link speed raised again. Call it when commands keep
// failing with link errors.
func (d *Dev) Reopen() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.port.(inputResetter); ok {
		_ = r.ResetInputBuffer()
	}
	return d.open()
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, x := range v {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, " or ")
}

// openInfo sends Open with the info request and reads the info packet.
func (d *Dev) openInfo() error {
	if _, err := d.command("Open", CmdOpen, 1); err != nil {
		return err // already names Open, the device, the speed and what to check
	}
	data, err := d.readData("Open", InfoLen)
	if err != nil {
		return err
	}
	in, err := ParseInfo(data)
	if err != nil {
		return err
	}
	d.info = in
	return nil
}

// Info returns the firmware version and serial number read at open.
func (d *Dev) Info() Info {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.info
}

// Baud returns the link speed the driver talks at now.
func (d *Dev) Baud() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.baud
}

// SetBaud changes the link speed (ChangeBaudRate), then the port's, and
// proves the module answers at the new speed; otherwise it returns to the
// old speed and an error matching ErrBaudNotApplied. The module returns to
// 9600 baud when it is power-cycled.
func (d *Dev) SetBaud(baud int) error {
	if err := checkBaud(baud); err != nil {
		return fmt.Errorf("gt521: SetBaud: %w", err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.setBaud(baud)
}

// baudSwitchDelay is how long the module needs after acknowledging
// ChangeBaudRate before it listens at the new speed.
const baudSwitchDelay = 200 * time.Millisecond

func (d *Dev) setBaud(baud int) error {
	bs, ok := d.port.(BaudSetter)
	if !ok {
		return fmt.Errorf("gt521: cannot change the link speed to %d: the port (%T) cannot change its speed; open it with drivers/serialport", baud, d.port)
	}
	old := d.baud
	if _, err := d.command("ChangeBaudRate", CmdChangeBaudRate, uint32(baud)); err != nil {
		return fmt.Errorf("gt521: setting the link speed to %d baud: %w", baud, err)
	}
	time.Sleep(baudSwitchDelay)
	if err := d.switchHost(bs, baud); err != nil {
		return err
	}
	_, err := d.command("Open", CmdOpen, 0)
	if err == nil {
		d.log.Info("gt521: link speed raised", zap.Int("from", old), zap.Int("to", baud))
		return nil
	}
	if err2 := d.switchHost(bs, old); err2 != nil {
		return err2
	}
	d.dirty = false
	if _, err2 := d.command("Open", CmdOpen, 0); err2 == nil {
		return fmt.Errorf("gt521: module acknowledged %d baud but still answers at %d (the driver stays at %d): %w (%v)", baud, old, old, ErrBaudNotApplied, err)
	}
	return fmt.Errorf("gt521: module answers neither at %d nor at %d baud after a speed change (power-cycle the sensor: it restarts at 9600): %w", baud, old, err)
}

func (d *Dev) switchHost(bs BaudSetter, baud int) error {
	if err := bs.SetBaudRate(baud); err != nil {
		return fmt.Errorf("gt521: cannot set the serial port to %d baud: %w", baud, err)
	}
	d.baud = baud
	d.buf = d.buf[:0]
	return nil
}

// CmosLed turns the sensor's backlight on or off. Finger detection and
// capture need it on.
func (d *Dev) CmosLed(on bool) error {
	var p uint32
	if on {
		p = 1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.command("CmosLed", CmdCmosLed, p)
	return err
}

// IsPressFinger reports whether a finger is on the sensor (backlight on).
func (d *Dev) IsPressFinger() (bool, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.command("IsPressFinger", CmdIsPressFinger, 0)
	if err != nil {
		return false, err
	}
	return r.Param == 0, nil
}

// EnrollCount returns how many templates the module holds.
func (d *Dev) EnrollCount() (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	r, err := d.command("GetEnrollCount", CmdGetEnrollCount, 0)
	if err != nil {
		return 0, err
	}
	return int(r.Param), nil
}

// Capture takes a finger image into the module (CaptureFinger); best asks
// for the slower, better image used for enrolment. With no finger it
// returns an error matching ErrFingerNotPressed.
func (d *Dev) Capture(best bool) error {
	var p uint32
	if best {
		p = 1
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	_, err := d.command("CaptureFinger", CmdCaptureFinger, p)
	return err
}

// WaitFinger turns the backlight on and polls IsPressFinger until a finger
// is on the sensor or ctx is done.
func (d *Dev) WaitFinger(ctx context.Context) error {
	if err := d.CmosLed(true); err != nil {
		return err
	}
	for {
		on, err := d.IsPressFinger()
		if err != nil {
			return err
		}
		if on {
			return nil
		}
		t := time.NewTimer(d.opts.PollInterval)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("gt521: waiting for a finger: %w", ctx.Err())
		case <-t.C:
		}
	}
}

// GetImage downloads the captured finger image (ImageWidth x ImageHeight, 8
// bits a pixel). Capture first.
func (d *Dev) GetImage() (*image.Gray, error) {
	return d.image("GetImage", CmdGetImage, d.opts.ImageWidth, d.opts.ImageHeight)
}

// GetRawImage captures and downloads a raw 160 x 120 image (the 320 x 240
// sensor frame subsampled), e.g. for a live preview.
func (d *Dev) GetRawImage() (*image.Gray, error) {
	return d.image("GetRawImage", CmdGetRawImage, RawImageWidth, RawImageHeight)
}

func (d *Dev) image(op string, cmd uint16, w, h int) (*image.Gray, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.command(op, cmd, 0); err != nil {
		return nil, err
	}
	data, err := d.readData(op, w*h)
	if err != nil {
		return nil, err
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	copy(g.Pix, data)
	return g, nil
}

// command sends one command and reads its response; a NACK is a
// *NackError.
func (d *Dev) command(op string, cmd uint16, param uint32) (Packet, error) {
	if d.dirty {
		if err := d.resync(op); err != nil {
			return Packet{}, err
		}
	}
	w := AppendPacket(make([]byte, 0, PacketLen), Packet{DeviceID: d.opts.DeviceID, Param: param, Code: cmd})
	if _, err := d.port.Write(w); err != nil {
		d.fail(0)
		return Packet{}, &linkError{kind: ErrLink, msg: "gt521: " + op + ": writing to the serial port", err: err}
	}
	end := time.Now().Add(d.opts.Timeout)
	frame, err := d.readFrame(cmdStart1, cmdStart2, PacketLen, end, false)
	if err != nil {
		d.fail(0)
		return Packet{}, d.explain(op, err)
	}
	p, err := ParsePacket(frame)
	if err == nil && p.DeviceID != d.opts.DeviceID {
		err = linkErrorf(ErrFrame, "gt521: response from device %d, want %d", p.DeviceID, d.opts.DeviceID)
	}
	if err == nil && p.Code != Ack && p.Code != Nack {
		err = linkErrorf(ErrFrame, "gt521: response code 0x%04X, want ACK (0x30) or NACK (0x31)", p.Code)
	}
	if err != nil {
		d.fail(0)
		return Packet{}, d.explain(op, err)
	}
	if p.Code == Nack {
		return Packet{}, &NackError{Op: op, Code: p.Param}
	}
	return p, nil
}

// readData reads the data packet of n bytes that follows an ACK.
func (d *Dev) readData(op string, n int) ([]byte, error) {
	total := time.Now().Add(d.opts.Timeout + d.wireTime(n+DataOverhead)*5/4)
	frame, err := d.readFrame(dataStart1, dataStart2, n+DataOverhead, total, true)
	if err == nil {
		var data []byte
		data, err = ParseData(frame, n, d.opts.DeviceID)
		if err == nil {
			return data, nil
		}
	}
	d.fail(n + DataOverhead)
	return nil, d.explain(op+" data", err)
}

// fail marks the link for resynchronisation; pending is how many bytes of
// an aborted data packet may still arrive.
func (d *Dev) fail(pending int) {
	d.dirty, d.errAt, d.pending = true, time.Now(), pending
}

func (d *Dev) explain(op string, err error) error {
	if errors.Is(err, ErrTimeout) {
		hint := "check wiring and baud rate"
		if d.noise > 0 {
			hint = fmt.Sprintf("received %d bytes of noise: check the baud rate and wiring", d.noise)
		}
		return linkErrorf(ErrTimeout, "gt521: sensor did not answer %s in time as device %d at %d baud (%s)", op, d.opts.DeviceID, d.baud, hint)
	}
	var le *linkError
	if errors.As(err, &le) {
		le.msg = "gt521: " + op + ": " + trimPrefix(le.msg)
		return le
	}
	return err
}

func trimPrefix(s string) string {
	const p = "gt521: "
	if len(s) >= len(p) && s[:len(p)] == p {
		return s[len(p):]
	}
	return s
}

// readFrame returns the next n bytes starting with the start code s1 s2,
// skipping anything before it, by end. With stall set, each read also
// waits at most Timeout, so a long data packet that stops fails fast.
func (d *Dev) readFrame(s1, s2 byte, n int, end time.Time, stall bool) ([]byte, error) {
	d.noise = 0
	start := []byte{s1, s2}
	for {
		if i := bytes.Index(d.buf, start); i > 0 {
			d.noise += i
			d.buf = d.buf[i:]
		} else if i < 0 && len(d.buf) > 0 {
			keep := 0
			if d.buf[len(d.buf)-1] == s1 {
				keep = 1
			}
			d.noise += len(d.buf) - keep
			d.buf = append(d.buf[:0], d.buf[len(d.buf)-keep:]...)
		}
		if len(d.buf) >= n && d.buf[0] == s1 {
			frame := append([]byte(nil), d.buf[:n]...)
			d.buf = d.buf[n:]
			return frame, nil
		}
		limit := end
		if stall {
			if s := time.Now().Add(d.opts.Timeout); s.Before(limit) {
				limit = s
			}
		}
		if err := d.fill(limit, n-len(d.buf)); err != nil {
			return nil, err
		}
	}
}

func (d *Dev) fill(deadline time.Time, want int) error {
	rem := time.Until(deadline)
	if rem <= 0 {
		return linkErrorf(ErrTimeout, "gt521: read deadline passed")
	}
	if err := d.port.SetReadTimeout(rem); err != nil {
		return &linkError{kind: ErrLink, msg: "gt521: setting the serial read timeout", err: err}
	}
	if want < 64 {
		want = 64
	}
	n, err := d.port.Read(d.tmp[:min(len(d.tmp), want)])
	d.buf = append(d.buf, d.tmp[:n]...)
	switch {
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		return linkErrorf(ErrTimeout, "gt521: read deadline passed")
	case err != nil && n == 0:
		return &linkError{kind: ErrLink, msg: "gt521: reading from the serial port", err: err}
	case n == 0:
		return linkErrorf(ErrTimeout, "gt521: read deadline passed")
	}
	return nil
}

// resync drops everything the module may still send after a link error: a
// reply up to one Timeout late, or the rest of an aborted data packet. It
// reads until the line has been quiet for a moment after that window.
// Responses carry no sequence number, so this is what keeps a late reply
// from being taken for the next command's.
func (d *Dev) resync(op string) error {
	if r, ok := d.port.(inputResetter); ok {
		if err := r.ResetInputBuffer(); err != nil {
			return &linkError{kind: ErrLink, msg: "gt521: " + op + ": dropping unread input", err: err}
		}
	}
	d.buf = d.buf[:0]
	// A late reply comes within a Timeout of the error; the rest of an
	// aborted data packet streams without pauses, so quiet after that
	// window means it is over.
	window := d.errAt.Add(d.opts.Timeout)
	hard := time.Now().Add(2*d.opts.Timeout + d.wireTime(d.pending))
	quiet := 20*time.Millisecond + d.wireTime(2*PacketLen)
	for {
		wait := quiet
		if rem := time.Until(window); rem > wait {
			wait = rem
		}
		err := d.fill(time.Now().Add(wait), len(d.tmp))
		d.buf = d.buf[:0]
		if errors.Is(err, ErrTimeout) && !time.Now().Before(window) {
			break
		}
		if err != nil && !errors.Is(err, ErrTimeout) {
			return d.explain(op, err)
		}
		if time.Now().After(hard) {
			return linkErrorf(ErrTimeout, "gt521: %s: the line does not go quiet after a link error (noise: check the baud rate and wiring)", op)
		}
	}
	d.dirty, d.pending = false, 0
	d.log.Warn("gt521: link resynchronised", zap.String("before", op))
	return nil
}

func (d *Dev) wireTime(n int) time.Duration {
	return time.Duration(n) * 10 * time.Second / time.Duration(d.baud)
}
