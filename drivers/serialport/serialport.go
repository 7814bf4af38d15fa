// Package serialport opens serial devices for the UART drivers (r30x,
// gt521) with go.bug.st/serial, and turns the ways opening fails into errors
// a technician can act on: no such port, no permission (naming the group
// that owns the device, usually dialout), port busy, not a serial port. A
// Port changes speed in place, bounds reads with a timeout, and reopens its
// path by itself after the device disappeared (a USB adapter unplugged and
// plugged back), so a driver's next command works once the device is back.
//
// This is the one place in the project that opens a /dev path for a UART.
package serialport

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"strconv"
	"sync"
	"syscall"
	"time"

	"go.bug.st/serial"
)

// Errors callers act on (test with errors.Is).
var (
	ErrNotFound     = errors.New("serial port does not exist")
	ErrPermission   = errors.New("no permission to open the serial port")
	ErrBusy         = errors.New("serial port is in use by another program")
	ErrNotSerial    = errors.New("not a serial port")
	ErrDisconnected = errors.New("serial device disconnected")
	ErrClosed       = errors.New("serial port closed")
)

// Options configure Open.
type Options struct {
	// Baud is the speed to open at; default 57600.
	Baud int
	// ReadTimeout is the initial read timeout; 0 means reads block until
	// data arrives (drivers set their own timeouts).
	ReadTimeout time.Duration
	// NoReopen disables reopening the path after the device disappeared.
	NoReopen bool
}

// DefaultOptions returns the options nil stands for: 57600 baud, 8N1, no
// read timeout, reopen after a disconnect.
func DefaultOptions() *Options { return &Options{Baud: 57600} }

// Port is an open serial port. Read follows go.bug.st/serial: it returns
// 0, nil when the read timeout passes with no data. Its methods are safe
// for concurrent use, but one reader at a time is expected.
type Port struct {
	path   string
	opts   Options
	mu     sync.Mutex
	p      serial.Port // nil while disconnected
	baud   int
	rto    time.Duration
	closed bool
}

// Open opens the serial device at path, 8 data bits, no parity, one stop
// bit, at opts.Baud.
func Open(path string, opts *Options) (*Port, error) {
	o := *DefaultOptions()
	if opts != nil {
		o = *opts
		if o.Baud == 0 {
			o.Baud = DefaultOptions().Baud
		}
	}
	sp := &Port{path: path, opts: o, baud: o.Baud, rto: o.ReadTimeout}
	if err := sp.open(); err != nil {
		return nil, err
	}
	return sp, nil
}

func (sp *Port) open() error {
	p, err := serial.Open(sp.path, &serial.Mode{BaudRate: sp.baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit})
	if err != nil {
		return explainOpen(sp.path, err)
	}
	timeout := sp.rto
	if timeout == 0 {
		timeout = serial.NoTimeout
	}
	if err := p.SetReadTimeout(timeout); err != nil {
		p.Close()
		return fmt.Errorf("serialport: %s: setting the read timeout: %w", sp.path, err)
	}
	sp.p = p
	return nil
}

// explainOpen turns an open error into one naming the cause and the fix.
func explainOpen(path string, err error) error {
	var pe *serial.PortError
	code := serial.PortErrorCode(-1)
	if errors.As(err, &pe) {
		code = pe.Code()
	}
	switch {
	case errors.Is(err, fs.ErrNotExist) || code == serial.PortNotFound:
		return fmt.Errorf("serialport: %s does not exist (wrong port? check the port in the config, the cable, and ls /dev/ttyUSB* /dev/ttyAMA* /dev/serial/by-id): %w: %v", path, ErrNotFound, err)
	case errors.Is(err, fs.ErrPermission) || code == serial.PermissionDenied:
		return permissionError(path, err)
	case code == serial.PortBusy:
		return fmt.Errorf("serialport: %s is in use by another program (stop it: fuser -v %s): %w", path, path, ErrBusy)
	case code == serial.InvalidSerialPort:
		return fmt.Errorf("serialport: %s is not a serial port (point the config at the UART device, e.g. /dev/ttyUSB0 or /dev/ttyAMA0): %w: %v", path, ErrNotSerial, err)
	}
	return fmt.Errorf("serialport: cannot open %s: %w", path, err)
}

// permissionError names the group that owns the device, so the message
// says which group the kiosk user must join.
func permissionError(path string, err error) error {
	group, mode := "dialout", ""
	if fi, serr := os.Stat(path); serr == nil {
		mode = " (mode " + fi.Mode().String()
		if st, ok := fi.Sys().(*syscall.Stat_t); ok {
			gid := strconv.FormatUint(uint64(st.Gid), 10)
			if g, gerr := user.LookupGroupId(gid); gerr == nil {
				group = g.Name
			} else {
				group = "gid " + gid
			}
			mode += ", group " + group
		}
		mode += ")"
	}
	return fmt.Errorf("serialport: no permission to open %s%s: add the kiosk user to group %s (sudo usermod -aG %s USER, then log in again or restart the service): %w: %v",
		path, mode, group, group, ErrPermission, err)
}

// Path returns the device path the port was opened with.
func (sp *Port) Path() string { return sp.path }

// BaudRate returns the current speed.
func (sp *Port) BaudRate() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.baud
}

// port returns the open port, reopening the path if the device had
// disappeared.
func (sp *Port) port() (serial.Port, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil, fmt.Errorf("serialport: %s: %w", sp.path, ErrClosed)
	}
	if sp.p == nil {
		if sp.opts.NoReopen {
			return nil, fmt.Errorf("serialport: %s: %w", sp.path, ErrDisconnected)
		}
		if err := sp.open(); err != nil {
			return nil, fmt.Errorf("serialport: %s is still gone (check the cable and power): %w: %v", sp.path, ErrDisconnected, err)
		}
	}
	return sp.p, nil
}

// lost records that p failed in a way that means the device is gone.
func (sp *Port) lost(p serial.Port, err error) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return fmt.Errorf("serialport: %s: %w", sp.path, ErrClosed)
	}
	if sp.p == p {
		p.Close()
		sp.p = nil
	}
	return fmt.Errorf("serialport: %s disconnected (the next call tries to reopen it): %w: %v", sp.path, ErrDisconnected, err)
}

// Read reads what arrived, waiting at most the read timeout; 0, nil means
// the timeout passed with no data.
func (sp *Port) Read(b []byte) (int, error) {
	p, err := sp.port()
	if err != nil {
		return 0, err
	}
	n, err := p.Read(b)
	if err != nil {
		return n, sp.lost(p, err)
	}
	return n, nil
}

// Write writes b.
func (sp *Port) Write(b []byte) (int, error) {
	p, err := sp.port()
	if err != nil {
		return 0, err
	}
	n, err := p.Write(b)
	if err != nil {
		return n, sp.lost(p, err)
	}
	return n, nil
}

// SetReadTimeout bounds each Read; 0 or less means no timeout.
func (sp *Port) SetReadTimeout(d time.Duration) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.rto = d
	if sp.p == nil {
		return nil
	}
	if d <= 0 {
		d = serial.NoTimeout
	}
	return sp.p.SetReadTimeout(d)
}

// SetBaudRate changes the speed in place (8N1 kept). Output still queued is
// drained first so it leaves at the old speed.
func (sp *Port) SetBaudRate(baud int) error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if baud <= 0 {
		return fmt.Errorf("serialport: %s: baud %d: want a positive rate", sp.path, baud)
	}
	if sp.p != nil {
		_ = sp.p.Drain()
		if err := sp.p.SetMode(&serial.Mode{BaudRate: baud, DataBits: 8, Parity: serial.NoParity, StopBits: serial.OneStopBit}); err != nil {
			return fmt.Errorf("serialport: %s: cannot set %d baud (the adapter may not support it): %w", sp.path, baud, err)
		}
	}
	sp.baud = baud
	return nil
}

// ResetInputBuffer drops received bytes not yet read.
func (sp *Port) ResetInputBuffer() error {
	p, err := sp.port()
	if err != nil {
		return err
	}
	if err := p.ResetInputBuffer(); err != nil {
		return sp.lost(p, err)
	}
	return nil
}

// Close closes the port; later calls fail with ErrClosed.
func (sp *Port) Close() error {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.closed {
		return nil
	}
	sp.closed = true
	if sp.p == nil {
		return nil
	}
	err := sp.p.Close()
	sp.p = nil
	return err
}
