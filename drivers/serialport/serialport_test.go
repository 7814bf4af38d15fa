package serialport

import (
	"bytes"
	"errors"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/creack/pty"
	"golang.org/x/sys/unix"
)

// ptyPair opens a pseudo-terminal; the test keeps the slave open so the
// master does not see a hangup while the port under test is closed.
func ptyPair(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

func speedOf(t *testing.T, m *os.File) uint32 {
	t.Helper()
	tio, err := unix.IoctlGetTermios(int(m.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatalf("TCGETS on the master: %v", err)
	}
	return tio.Cflag & unix.CBAUD
}

func TestOpenReadWriteBaud(t *testing.T) {
	m, s := ptyPair(t)
	p, err := Open(s.Name(), &Options{Baud: 57600})
	if err != nil {
		t.Fatalf("Open(%s): %v", s.Name(), err)
	}
	defer p.Close()
	if got := speedOf(t, m); got != unix.B57600 {
		t.Errorf("line speed after Open = %o, want B57600 (%o)", got, unix.B57600)
	}
	// Raw mode: bytes that a cooked tty would translate pass untouched.
	raw := []byte{0xEF, 0x01, 0x0A, 0x0D, 0x03, 0x11, 0x13, 0x7F, 0x00}
	if _, err := p.Write(raw); err != nil {
		t.Fatalf("Write: %v", err)
	}
	got := make([]byte, len(raw))
	if _, err := m.Read(got); err != nil || !bytes.Equal(got, raw) {
		t.Errorf("master read % X, %v; want % X", got, err, raw)
	}
	if _, err := m.Write(raw); err != nil {
		t.Fatal(err)
	}
	if err := p.SetReadTimeout(time.Second); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 32)
	n, err := p.Read(buf)
	if err != nil || !bytes.Equal(buf[:n], raw) {
		t.Errorf("Read = % X, %v; want % X", buf[:n], err, raw)
	}
	if err := p.SetBaudRate(115200); err != nil {
		t.Fatalf("SetBaudRate: %v", err)
	}
	if got := speedOf(t, m); got != unix.B115200 || p.BaudRate() != 115200 {
		t.Errorf("line speed after SetBaudRate(115200) = %o (BaudRate %d), want B115200", got, p.BaudRate())
	}
	p.SetReadTimeout(20 * time.Millisecond)
	start := time.Now()
	if n, err := p.Read(buf); n != 0 || err != nil {
		t.Errorf("Read with nothing sent = %d, %v; want 0, nil (timeout)", n, err)
	}
	if el := time.Since(start); el < 15*time.Millisecond {
		t.Errorf("timed-out Read returned after %v, want about 20ms", el)
	}
	// Four bytes in one write reach the port together: reading the first
	// proves the other three are waiting in the input buffer.
	m.Write([]byte{0, 1, 2, 3})
	p.SetReadTimeout(5 * time.Second)
	if n, err := p.Read(buf[:1]); n != 1 || err != nil {
		t.Fatalf("Read of the first byte = %d, %v; want 1, nil", n, err)
	}
	p.SetReadTimeout(20 * time.Millisecond)
	if err := p.ResetInputBuffer(); err != nil {
		t.Fatalf("ResetInputBuffer: %v", err)
	}
	if n, _ := p.Read(buf); n != 0 {
		t.Errorf("Read after ResetInputBuffer got %d bytes, want 0", n)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := p.Read(buf); !errors.Is(err, ErrClosed) {
		t.Errorf("Read after Close = %v, want ErrClosed", err)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("x"), 0o600)
	tests := []struct {
		name string
		path string
		want error
		msg  string
	}{
		{"missing", filepath.Join(dir, "ttyUSB9"), ErrNotFound, "does not exist"},
		{"regular file", plain, ErrNotSerial, "not a serial port"},
	}
	for _, tt := range tests {
		p, err := Open(tt.path, nil)
		if err == nil {
			p.Close()
		}
		if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) || !strings.Contains(err.Error(), tt.path) {
			t.Errorf("Open(%s) = %v, want %v naming the path and %q", tt.name, err, tt.want, tt.msg)
		}
	}
}

func TestPermissionErrorNamesGroup(t *testing.T) {
	f := filepath.Join(t.TempDir(), "ttyAMA0")
	if err := os.WriteFile(f, nil, 0o660); err != nil {
		t.Fatal(err)
	}
	if g, err := user.LookupGroup("dialout"); err == nil {
		gid, _ := strconv.Atoi(g.Gid)
		if err := os.Chown(f, -1, gid); err != nil {
			t.Logf("cannot chown to dialout: %v", err)
		}
	}
	var st unix.Stat_t
	if err := unix.Stat(f, &st); err != nil {
		t.Fatal(err)
	}
	want := "gid " + strconv.Itoa(int(st.Gid))
	if g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid))); err == nil {
		want = g.Name
	}
	err := explainOpen(f, unix.EACCES)
	if !errors.Is(err, ErrPermission) || !strings.Contains(err.Error(), "group "+want) || !strings.Contains(err.Error(), "usermod -aG") {
		t.Errorf("explainOpen(EACCES) = %v, want ErrPermission naming group %s and usermod", err, want)
	}
}

func TestReopenAfterDisconnect(t *testing.T) {
	dir := t.TempDir()
	link := filepath.Join(dir, "fingerprint")
	m1, s1, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals here: %v", err)
	}
	if err := os.Symlink(s1.Name(), link); err != nil {
		t.Fatal(err)
	}
	p, err := Open(link, &Options{Baud: 115200, ReadTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer p.Close()
	// Unplug: the device node goes away.
	s1.Close()
	m1.Close()
	os.Remove(link)
	buf := make([]byte, 8)
	if _, err := p.Read(buf); !errors.Is(err, ErrDisconnected) {
		t.Fatalf("Read after unplug = %v, want ErrDisconnected", err)
	}
	if _, err := p.Write([]byte{1}); !errors.Is(err, ErrDisconnected) || !strings.Contains(err.Error(), "still gone") {
		t.Fatalf("Write while unplugged = %v, want ErrDisconnected saying it is still gone", err)
	}
	// Plug back in: a new tty behind the same name.
	m2, s2, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer m2.Close()
	defer s2.Close()
	os.Symlink(s2.Name(), link)
	if _, err := p.Write([]byte{0x42}); err != nil {
		t.Fatalf("Write after replug: %v", err)
	}
	if n, err := m2.Read(buf); err != nil || n != 1 || buf[0] != 0x42 {
		t.Errorf("master after replug read % X, %v; want 42", buf[:n], err)
	}
	if got := speedOf(t, m2); got != unix.B115200 {
		t.Errorf("reopened at speed %o, want B115200", got)
	}
}
