package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/seal"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// writeKeys writes real kiosk keys into dir: the device key, the node's
// sealing public key (the default post-quantum suite) and a command key.
func writeKeys(t *testing.T, dir string) ed25519.PrivateKey {
	t.Helper()
	_, dev, _ := ed25519.GenerateKey(rand.Reader)
	devPEM, err := keys.MarshalEd25519Private(dev)
	if err != nil {
		t.Fatal(err)
	}
	nk, err := keys.GenerateHPKE(seal.KEMMLKEM768X25519)
	if err != nil {
		t.Fatal(err)
	}
	cmdPub, cmdKey, _ := ed25519.GenerateKey(rand.Reader)
	cmdPEM, _ := keys.MarshalEd25519Public(cmdPub)
	for name, f := range map[string]struct {
		data []byte
		mode os.FileMode
	}{
		"device.key": {devPEM, 0o600},
		"node.pub":   {keys.MarshalHPKEPublic("node-1", nk.PublicKey()), 0o644},
		"cmd.pub":    {cmdPEM, 0o644},
	} {
		if err := os.WriteFile(filepath.Join(dir, name), f.data, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	return cmdKey
}

// writeSimConfig writes a valid kioskd config with simulated devices, its
// key files and directories into a temp dir and returns the config path.
func writeSimConfig(t *testing.T, listen string) string {
	t.Helper()
	return writeConfig(t, listen, "")
}

// writeConfig is writeSimConfig with an extra YAML section (an uplink).
func writeConfig(t *testing.T, listen, extra string) string {
	t.Helper()
	dir := t.TempDir()
	writeKeys(t, dir)
	cfg := strings.ReplaceAll(extra+`
kiosk:
  id: kiosk-test-01
  country: IDN
  site: test bench
devices:
  - name: fingerprint
    driver: sim-r30x
  - name: face
    driver: sim-uvc
  - name: presence
    driver: sim-presence
outbox:
  dir: DIR/outbox
keys:
  device_key: DIR/device.key
  node_keys:
    - id: node-1
      file: DIR/node.pub
  command_keys:
    - id: cmd-1
      file: DIR/cmd.pub
http:
  listen: LISTEN
log:
  level: info
  format: json
state:
  dir: DIR/state
`, "DIR", dir)
	cfg = strings.ReplaceAll(cfg, "LISTEN", listen)
	path := filepath.Join(dir, "kioskd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestRunExitCodes(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	if err := os.WriteFile(broken, []byte("kiosk:\n  id: NOT VALID\n  country: XX\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	good := writeSimConfig(t, "127.0.0.1:0")
	badKey := writeSimConfig(t, "127.0.0.1:0")
	if err := os.WriteFile(filepath.Join(filepath.Dir(badKey), "device.key"), []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	openKey := writeSimConfig(t, "127.0.0.1:0")
	if err := os.Chmod(filepath.Join(filepath.Dir(openKey), "device.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"unknown flag", []string{"-bogus"}, 2, "flag provided but not defined"},
		{"stray argument", []string{"-config", good, "extra"}, 2, "unexpected arguments"},
		{"missing config", []string{"-config", filepath.Join(dir, "none.yaml")}, 2, "cannot read"},
		{"broken config", []string{"-config", broken}, 2, "kiosk.id"},
		{"broken config names country", []string{"-config", broken}, 2, "kiosk.country"},
		{"check valid config", []string{"-config", good, "-check"}, 0, ""},
		{"device key not a key", []string{"-config", badKey}, 2, "device signing key"},
		{"device key readable by others", []string{"-config", openKey}, 2, "device"},
		{"help", []string{"-h"}, 0, ""},
		{"version", []string{"-version"}, 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(context.Background(), tt.args, &out, &errb)
			if code != tt.wantCode {
				t.Errorf("kioskd %v exit = %d, want %d; stderr: %s", tt.args, code, tt.wantCode, errb.String())
			}
			if !strings.Contains(errb.String(), tt.wantErr) {
				t.Errorf("kioskd %v stderr = %q, want it to contain %q", tt.args, errb.String(), tt.wantErr)
			}
		})
	}
}

func TestDaemonServesHealthAndStopsCleanly(t *testing.T) {
	cfg, err := config.LoadKiosk(writeSimConfig(t, "127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	base := "http://" + d.http.Addr().String()
	waitReady(t, base)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("GET %s = %d %s", path, resp.StatusCode, b)
		}
		if path == "/metrics" && !strings.Contains(string(b), "kiosk_build_info") {
			t.Errorf("/metrics lacks kiosk_build_info")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("daemon did not stop within 5s of cancel")
	}
}

func waitReady(t *testing.T, base string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s/readyz not 200 within 5s", base)
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestSIGTERMExitsZero runs the real binary and stops it with SIGTERM.
func TestSIGTERMExitsZero(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the kioskd binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "kioskd")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	addr := freePort(t)
	cmd := exec.Command(bin, "-config", writeSimConfig(t, addr))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitReady(t, "http://"+addr)
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- cmd.Wait() }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("kioskd after SIGTERM: %v\n%s", err, stderr.String())
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("kioskd took %v to stop, want at most 5s", took)
		}
	case <-time.After(5 * time.Second):
		_ = cmd.Process.Kill()
		<-errc
		t.Fatalf("kioskd did not exit within 5s of SIGTERM\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), `"msg":"stopped"`) {
		t.Errorf("kioskd log lacks the clean stop line:\n%s", stderr.String())
	}
}
