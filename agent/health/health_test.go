package health

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestRegistryReport(t *testing.T) {
	reg := NewRegistry()
	reg.Add("outbox", func() error { return nil })
	st := reg.Component("uplink")
	rep := reg.Check()
	if rep.Ready {
		t.Fatal("Check().Ready = true with a starting component")
	}
	if got := rep.Components[1]; got.Name != "uplink" || got.Ready || got.Reason != ErrStarting.Error() {
		t.Errorf("uplink status = %+v, want not ready, reason %q", got, ErrStarting)
	}
	st.Set(nil)
	if rep := reg.Check(); !rep.Ready {
		t.Errorf("Check() = %+v after every component became ready", rep)
	}
	st.Set(errors.New("broker unreachable"))
	if rep := reg.Check(); rep.Ready || rep.Components[1].Reason != "broker unreachable" {
		t.Errorf("Check() = %+v, want uplink not ready with its reason", rep)
	}
}

func TestHTTPEndpoints(t *testing.T) {
	reg := NewRegistry()
	st := reg.Component("devices")
	srv, err := NewServer("127.0.0.1:0", Mux(reg, NewMetrics("kiosk", "v1.2.3", "abc123", reg)), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v after cancel, want nil", err)
		}
	}()
	base := "http://" + srv.Addr().String()
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get("/healthz"); code != 200 || strings.TrimSpace(body) != "ok" {
		t.Errorf("/healthz = %d %q, want 200 ok", code, body)
	}
	code, body := get("/readyz")
	if code != http.StatusServiceUnavailable {
		t.Errorf("/readyz while starting = %d, want 503", code)
	}
	var rep Report
	if err := json.Unmarshal([]byte(body), &rep); err != nil || rep.Ready || len(rep.Components) != 1 || rep.Components[0].Reason != "starting" {
		t.Errorf("/readyz body = %s (%v), want devices not ready: starting", body, err)
	}
	st.Set(nil)
	if code, _ := get("/readyz"); code != 200 {
		t.Errorf("/readyz when ready = %d, want 200", code)
	}
	code, body = get("/metrics")
	for _, want := range []string{`kiosk_build_info{commit="abc123"`, `kiosk_component_ready{component="devices"} 1`, "kiosk_ready 1", "go_goroutines"} {
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("/metrics (%d) lacks %q", code, want)
		}
	}
}

func TestNewServerPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	_, err = NewServer(ln.Addr().String(), http.NewServeMux(), nil)
	if err == nil || !strings.Contains(err.Error(), "http.listen") {
		t.Errorf("NewServer on a taken port = %v, want an error naming http.listen", err)
	}
}

// notifySocket listens on a unixgram socket standing in for systemd's.
func notifySocket(t *testing.T) (<-chan string, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("NOTIFY_SOCKET", path)
	msgs := make(chan string, 100)
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	return msgs, func() { conn.Close(); <-done }
}

func next(t *testing.T, msgs <-chan string) string {
	t.Helper()
	select {
	case m := <-msgs:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no notify datagram within 5s")
		return ""
	}
}

func TestNotifierReadyWatchdogStopping(t *testing.T) {
	msgs, closeSock := notifySocket(t)
	defer closeSock()
	t.Setenv("WATCHDOG_USEC", "2000000") // 2 s: pings every 1 s
	t.Setenv("WATCHDOG_PID", strconv.Itoa(os.Getpid()))

	reg := NewRegistry()
	st := reg.Component("outbox")
	fc := clock.NewFake(time.Time{})
	n := NewNotifier(reg, &NotifierOptions{Clock: fc, Poll: 100 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()

	wctx, wcancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer wcancel()
	if err := fc.BlockUntil(wctx, 1); err != nil {
		t.Fatal(err)
	}
	// Not ready: neither READY nor WATCHDOG for a while.
	for i := 0; i < 15; i++ {
		fc.Advance(100 * time.Millisecond)
	}
	select {
	case m := <-msgs:
		t.Fatalf("got %q while not ready, want nothing", m)
	case <-time.After(100 * time.Millisecond):
	}
	st.Set(nil)
	fc.Advance(100 * time.Millisecond)
	if m := next(t, msgs); !strings.HasPrefix(m, "READY=1") {
		t.Fatalf("first datagram once ready = %q, want READY=1", m)
	}
	if m := next(t, msgs); m != "WATCHDOG=1" {
		t.Fatalf("datagram after READY = %q, want WATCHDOG=1", m)
	}
	// Pings pause while a component is not ready.
	st.Set(errors.New("disk full"))
	fc.Advance(100 * time.Millisecond)
	if m := next(t, msgs); !strings.Contains(m, "disk full") {
		t.Fatalf("status on losing readiness = %q, want it to name the reason", m)
	}
	for i := 0; i < 30; i++ {
		fc.Advance(100 * time.Millisecond)
	}
	select {
	case m := <-msgs:
		t.Fatalf("got %q while not ready, want no watchdog ping", m)
	case <-time.After(100 * time.Millisecond):
	}
	st.Set(nil)
	fc.Advance(100 * time.Millisecond)
	if m := next(t, msgs); m != "STATUS=ready" {
		t.Fatalf("status on regaining readiness = %q", m)
	}
	if m := next(t, msgs); m != "WATCHDOG=1" {
		t.Fatalf("after regaining readiness = %q, want WATCHDOG=1", m)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if m := next(t, msgs); !strings.HasPrefix(m, "STOPPING=1") {
		t.Errorf("last datagram = %q, want STOPPING=1", m)
	}
}

func TestNotifierWithoutSystemd(t *testing.T) {
	t.Setenv("NOTIFY_SOCKET", "")
	reg := NewRegistry()
	n := NewNotifier(reg, &NotifierOptions{Poll: time.Millisecond})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := n.Run(ctx); err != nil {
		t.Errorf("Run without NOTIFY_SOCKET = %v, want nil", err)
	}
}
