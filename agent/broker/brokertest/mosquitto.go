package brokertest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

// MosquittoACL returns the ACL file of the design for mosquitto 2 with
// use_identity_as_username (the username is the certificate's CN): every
// kiosk may write only its own capture, status and cmd/reply topics and
// read only its own ack and cmd topics; each node in nodes may read every
// kiosk's capture, status and cmd/reply topics of country cc (lowercase)
// and write their ack and cmd topics.
func MosquittoACL(cc string, nodes []string) string {
	var b strings.Builder
	b.WriteString(`# Kiosks: the username is the CN of the client certificate (= kiosk id).
pattern write rbdes/v1/+/kiosk/%u/capture
pattern write rbdes/v1/+/kiosk/%u/status
pattern write rbdes/v1/+/kiosk/%u/cmd/reply
pattern read rbdes/v1/+/kiosk/%u/ack
pattern read rbdes/v1/+/kiosk/%u/cmd
`)
	for _, n := range nodes {
		fmt.Fprintf(&b, `
# National node instance %[1]s.
user %[1]s
topic read rbdes/v1/%[2]s/kiosk/+/capture
topic read rbdes/v1/%[2]s/kiosk/+/status
topic read rbdes/v1/%[2]s/kiosk/+/cmd/reply
topic write rbdes/v1/%[2]s/kiosk/+/ack
topic write rbdes/v1/%[2]s/kiosk/+/cmd
`, n, cc)
	}
	return b.String()
}

// MosquittoOptions configure StartMosquitto.
type MosquittoOptions struct {
	// Country is the lowercase country code of the node ACL; default "idn".
	Country string
	// Nodes are the CNs with node rights.
	Nodes []string
}

// Mosquitto is a mosquitto 2 process with mutual TLS and the design's ACL
// on a loopback port.
type Mosquitto struct {
	t    testing.TB
	bin  string
	conf string
	log  string
	Addr string

	mu  sync.Mutex
	cmd *exec.Cmd
}

// MosquittoBinary returns the path of the mosquitto binary, or "".
func MosquittoBinary() string {
	if p, err := exec.LookPath("mosquitto"); err == nil {
		return p
	}
	if _, err := os.Stat("/usr/sbin/mosquitto"); err == nil {
		return "/usr/sbin/mosquitto"
	}
	return ""
}

// StartMosquitto starts mosquitto and stops it at the end of the test. It
// skips the test (fails it under CI=true) when mosquitto is not installed.
func StartMosquitto(t testing.TB, pki *PKI, opts MosquittoOptions) *Mosquitto {
	t.Helper()
	bin := MosquittoBinary()
	if bin == "" {
		Need(t, "mosquitto is not installed (apt-get install mosquitto)")
	}
	if opts.Country == "" {
		opts.Country = "idn"
	}
	dir := t.TempDir()
	certFile, keyFile := pki.Issue(t, "mosquitto", keys.CertBroker)
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte(MosquittoACL(opts.Country, opts.Nodes)), 0o644); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	m := &Mosquitto{t: t, bin: bin, conf: filepath.Join(dir, "mosquitto.conf"), log: filepath.Join(dir, "mosquitto.log"), Addr: fmt.Sprintf("127.0.0.1:%d", port)}
	user := ""
	if os.Geteuid() == 0 {
		user = "user root\n"
	}
	// max_queued_messages 0 is not "no limit" in mosquitto 2.0.11: every
	// denied QoS 1 publish then ends in a disconnect instead of a PUBACK.
	// set_tcp_nodelay: without it Nagle's algorithm holds small packets
	// (acks, PUBACKs) for up to 40 ms, which is most of a record's round
	// trip on loopback.
	conf := fmt.Sprintf(`%sper_listener_settings false
allow_anonymous false
persistence true
persistence_location %s/
autosave_interval 1
max_queued_messages 1000000
set_tcp_nodelay true
log_dest file %s
log_type error
log_type warning
log_type notice
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
acl_file %s
`, user, dir, m.log, port, pki.CAFile, certFile, keyFile, acl)
	if err := os.WriteFile(m.conf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	m.Start()
	t.Cleanup(func() {
		m.Kill()
		if t.Failed() {
			if b, err := os.ReadFile(m.log); err == nil {
				t.Logf("mosquitto log (last 4 KiB):\n%s", tail(b, 4096))
			}
		}
	})
	return m
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		b = b[len(b)-n:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
	}
	return b
}

// CPU returns the CPU time (user + system) the running mosquitto process
// has used, from /proc; 0 when it is not running or /proc is absent.
func (m *Mosquitto) CPU() time.Duration {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return 0
	}
	return procCPU(m.cmd.Process.Pid)
}

// URL returns tls://127.0.0.1:port.
func (m *Mosquitto) URL() string { return "tls://" + m.Addr }

// Start starts mosquitto (again) on its port and waits until it listens.
func (m *Mosquitto) Start() {
	m.t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd != nil {
		return
	}
	cmd := exec.Command(m.bin, "-c", m.conf)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		m.t.Fatalf("starting mosquitto: %v", err)
	}
	m.cmd = cmd
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := dialTCP(m.Addr); err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			m.t.Fatalf("mosquitto does not listen on %s after 10s: %s", m.Addr, stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Kill stops mosquitto with SIGKILL (no goodbye, wills fire) and waits
// for it to exit.
func (m *Mosquitto) Kill() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.cmd == nil {
		return
	}
	_ = m.cmd.Process.Signal(syscall.SIGKILL)
	_ = m.cmd.Wait()
	m.cmd = nil
}
