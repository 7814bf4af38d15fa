// Package ptysim is the serial line of the UART simulators: one side of a
// pseudo-terminal pair that behaves like a module's UART. The host opens the
// tty side by a stable path (a symlink, as udev would make) with the real
// serial code; the simulator reads and writes the master side. Output is
// paced at the module's baud rate (10 bits a byte, 8N1), so wire times are
// real; when the host's port speed (read from the tty's termios) differs from
// the module's, each side sees the other's bytes as noise, as on a real
// line. Unplug removes the tty and its path, Plug brings a new one back under
// the same path.
package ptysim

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ErrUnplugged is returned by I/O while the line is unplugged.
var ErrUnplugged = errors.New("ptysim: line unplugged")

// Line is a simulated UART line. Read and Send are for one goroutine (the
// simulator's); Path, HostBaud and Stats may be called from any.
type Line struct {
	dir, link string
	ownDir    bool

	mu       sync.Mutex
	master   *os.File // pollable: deadlines work and Close unblocks
	slave    *os.File // held open so the master never sees a hangup
	tty      string
	lineFree time.Time
	sent     int64
	dropped  int64
}

// Open creates a pseudo-terminal and a symlink named name to its tty in dir
// (a new temporary directory when dir is empty).
func Open(dir, name string) (*Line, error) {
	l := &Line{dir: dir}
	if dir == "" {
		d, err := os.MkdirTemp("", "ptysim-")
		if err != nil {
			return nil, fmt.Errorf("ptysim: making a directory for the tty link: %w", err)
		}
		l.dir, l.ownDir = d, true
	}
	l.link = filepath.Join(l.dir, name)
	if err := l.Plug(); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// Path is the stable path the host opens (a symlink to the current tty).
func (l *Line) Path() string { return l.link }

// TTY is the tty the path currently points to, empty while unplugged.
func (l *Line) TTY() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.tty
}

// Plug creates a new pseudo-terminal behind Path.
func (l *Line) Plug() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.master != nil {
		return nil
	}
	m, s, err := pty.Open()
	if err != nil {
		return fmt.Errorf("ptysim: opening a pseudo-terminal: %w", err)
	}
	// pty.Open leaves the master in blocking mode; a non-blocking duplicate
	// goes through the runtime poller so reads honour deadlines and Close.
	fd, err := unix.Dup(int(m.Fd()))
	if err == nil {
		err = unix.SetNonblock(fd, true)
	}
	name := s.Name()
	m.Close()
	if err != nil {
		s.Close()
		return fmt.Errorf("ptysim: preparing the pseudo-terminal master: %w", err)
	}
	master := os.NewFile(uintptr(fd), "ptmx")
	// Raw mode on the tty until the host configures it, so nothing echoes.
	if tio, err := unix.IoctlGetTermios(int(s.Fd()), unix.TCGETS); err == nil {
		tio.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
		tio.Oflag &^= unix.OPOST
		tio.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		_ = unix.IoctlSetTermios(int(s.Fd()), unix.TCSETS, tio)
	}
	os.Remove(l.link)
	if err := os.Symlink(name, l.link); err != nil {
		master.Close()
		s.Close()
		return fmt.Errorf("ptysim: linking %s to %s: %w", l.link, name, err)
	}
	l.master, l.slave, l.tty = master, s, name
	return nil
}

// Unplug removes the tty and its path: the host's open port fails with an
// I/O error, and opening the path fails until Plug.
func (l *Line) Unplug() {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.master == nil {
		return
	}
	os.Remove(l.link)
	l.master.Close()
	l.slave.Close()
	l.master, l.slave, l.tty = nil, nil, ""
}

// Close unplugs the line and removes the directory it made.
func (l *Line) Close() error {
	l.Unplug()
	if l.ownDir {
		return os.RemoveAll(l.dir)
	}
	return nil
}

func (l *Line) current() (*os.File, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.master == nil {
		return nil, ErrUnplugged
	}
	return l.master, nil
}

// HostBaud returns the speed the host set on its side of the line, 0 if it
// cannot be read.
func (l *Line) HostBaud() int {
	m, err := l.current()
	if err != nil {
		return 0
	}
	sc, err := m.SyscallConn()
	if err != nil {
		return 0
	}
	var tio *unix.Termios
	if cerr := sc.Control(func(fd uintptr) { tio, err = unix.IoctlGetTermios(int(fd), unix.TCGETS) }); cerr != nil || err != nil {
		return 0
	}
	return speeds[tio.Cflag&unix.CBAUD]
}

var speeds = map[uint32]int{
	unix.B1200: 1200, unix.B2400: 2400, unix.B4800: 4800, unix.B9600: 9600, unix.B19200: 19200,
	unix.B38400: 38400, unix.B57600: 57600, unix.B115200: 115200, unix.B230400: 230400,
}

// Read reads what the host wrote, waiting at most wait; it returns 0, nil
// when nothing came.
func (l *Line) Read(buf []byte, wait time.Duration) (int, error) {
	m, err := l.current()
	if err != nil {
		return 0, err
	}
	m.SetReadDeadline(time.Now().Add(wait))
	n, err := m.Read(buf)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return n, nil
	}
	if err != nil {
		if _, uerr := l.current(); uerr != nil {
			return n, uerr
		}
		// EIO: no process has the tty open; the simulator holds it, so this
		// is transient.
		return n, nil
	}
	return n, nil
}

// Send transmits b at baud: each chunk is written when it would have
// finished crossing the wire, so the host sees the real wire time. Bytes the
// host does not take within a moment are lost, as a UART overrun loses them.
// If the host's speed differs from baud, the host gets noise instead.
func (l *Line) Send(ctx context.Context, b []byte, baud int) error {
	const chunk = 64
	byteTime := 10 * time.Second / time.Duration(baud)
	hb := l.HostBaud()
	for off := 0; off < len(b); off += chunk {
		m, err := l.current()
		if err != nil {
			return err
		}
		c := b[off:min(off+chunk, len(b))]
		// An idle line starts now; a late wake-up is caught up on the next
		// chunk, so timer slack does not add up over a long transfer.
		if now := time.Now(); now.Sub(l.lineFree) > 20*time.Millisecond {
			l.lineFree = now
		}
		l.lineFree = l.lineFree.Add(time.Duration(len(c)) * byteTime)
		if err := sleepUntil(ctx, l.lineFree); err != nil {
			return err
		}
		if hb != 0 && hb != baud {
			c = Noise(c, baud, hb)
		}
		m.SetWriteDeadline(time.Now().Add(200 * time.Millisecond))
		n, err := m.Write(c)
		l.mu.Lock()
		l.sent += int64(n)
		l.dropped += int64(len(c) - n)
		l.mu.Unlock()
		if err != nil && !errors.Is(err, os.ErrDeadlineExceeded) {
			if _, uerr := l.current(); uerr != nil {
				return uerr
			}
			return fmt.Errorf("ptysim: writing to the host: %w", err)
		}
	}
	return nil
}

// Drain discards whatever the host has written so far.
func (l *Line) Drain() {
	buf := make([]byte, 512)
	for {
		n, err := l.Read(buf, time.Millisecond)
		if n == 0 || err != nil {
			return
		}
	}
}

// Stats returns the bytes sent to the host and the bytes lost because the
// host did not read them in time.
func (l *Line) Stats() (sent, dropped int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.sent, l.dropped
}

// Noise is what a receiver at speed rx makes of bytes sent at speed tx: a
// deterministic scramble that never contains the bytes themselves in order.
// A real receiver sees framing errors, breaks and wrong bytes.
func Noise(b []byte, tx, rx int) []byte {
	out := make([]byte, 0, len(b))
	for i, c := range b {
		if tx > rx && i%2 == 1 {
			continue // a slower receiver sees fewer, longer characters
		}
		out = append(out, ^c&0xF8|byte(i)&0x07)
	}
	return out
}

func sleepUntil(ctx context.Context, t time.Time) error {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err()
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return nil
	}
}

// Sleep waits d or until ctx is done.
func Sleep(ctx context.Context, d time.Duration) error { return sleepUntil(ctx, time.Now().Add(d)) }
