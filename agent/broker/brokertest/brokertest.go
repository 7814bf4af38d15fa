// Package brokertest holds the test fixtures of the MQTT integration tests:
// a development PKI (CA, broker, kiosk and node certificates), Debian's
// mosquitto 2 started on a loopback port with mutual TLS and the design's
// ACL, a throwaway PostgreSQL cluster in a temporary directory, and a TCP
// proxy that cuts connections on demand.
//
// Fixtures that need a program the machine lacks (mosquitto, initdb) skip
// the test with the reason, or fail it when the environment variable CI is
// "true": CI installs them (.ci/deps), so a missing one there is a bug.
package brokertest

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

// Need skips t with reason, or fails it when CI=true.
func Need(t testing.TB, reason string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s (CI=true: .ci/deps must install it)", reason)
	}
	t.Skip(reason)
}

// PKI is a development CA in a temporary directory and the certificates
// issued from it.
type PKI struct {
	Dir    string
	CA     *keys.CA
	CAFile string
}

// NewPKI creates a CA in a temporary directory.
func NewPKI(t testing.TB) *PKI {
	t.Helper()
	dir := t.TempDir()
	ca, err := keys.InitCA(filepath.Join(dir, "ca"), "brokertest CA", time.Now().Add(-time.Hour), 0)
	if err != nil {
		t.Fatal(err)
	}
	return &PKI{Dir: dir, CA: ca, CAFile: filepath.Join(dir, "ca", keys.CACertFile)}
}

// Issue writes a certificate for cn of the given kind and its key (mode
// 0600) and returns their paths. Broker certificates name 127.0.0.1 and
// localhost.
func (p *PKI) Issue(t testing.TB, cn string, kind keys.CertKind) (certFile, keyFile string) {
	t.Helper()
	prof := keys.Profile{Kind: kind}
	if kind == keys.CertBroker {
		prof.DNS = []string{"localhost"}
		prof.IPs = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	keyPEM, certPEM, err := p.CA.Issue(cn, prof, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	certFile = filepath.Join(p.Dir, string(kind)+"-"+cn+".crt")
	keyFile = filepath.Join(p.Dir, string(kind)+"-"+cn+".key")
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// Pool returns a pool holding the CA certificate.
func (p *PKI) Pool() *x509.CertPool {
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return pool
}

// ServerTLS returns a listener config for a broker on 127.0.0.1 that
// requires client certificates from the CA.
func (p *PKI) ServerTLS(t testing.TB) *tls.Config {
	t.Helper()
	certFile, keyFile := p.Issue(t, "broker", keys.CertBroker)
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: p.Pool(), ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// WaitListening waits until something accepts TCP connections on addr.
func WaitListening(t testing.TB, addr string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on %s after %v: %v", addr, within, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
