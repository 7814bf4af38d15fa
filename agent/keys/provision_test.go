package keys

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestProvisionAndRotate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "keys")
	p, err := Provision(dir, "kiosk-001")
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	if p.DeviceKeyID != "device-1" || p.Previous != "" {
		t.Errorf("Provision device key id = %q (previous %q), want device-1", p.DeviceKeyID, p.Previous)
	}
	for path, want := range map[string]os.FileMode{
		dir: 0o700, p.DeviceKeyFile: 0o600, p.DevicePubFile: 0o644, p.TLSKeyFile: 0o600, p.CSRFile: 0o644,
	} {
		if got := mode(t, path); got != want {
			t.Errorf("mode of %s = %04o, want %04o", filepath.Base(path), got, want)
		}
	}
	priv, err := LoadEd25519Private(p.DeviceKeyFile, "device key")
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadEd25519Public(p.DevicePubFile, "device public key")
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.Public()) || !pub.Equal(p.DevicePublic) {
		t.Errorf("device-1.pub does not match device-1.key")
	}
	csrPEM, _ := os.ReadFile(p.CSRFile)
	csr, err := ParseCSR(csrPEM)
	if err != nil {
		t.Fatal(err)
	}
	if csr.Subject.CommonName != "kiosk-001" {
		t.Errorf("CSR CN = %q, want kiosk-001", csr.Subject.CommonName)
	}

	if _, err := Provision(dir, "kiosk-001"); !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "-rotate") {
		t.Errorf("second Provision = %v, want ErrExists suggesting -rotate", err)
	}

	r, err := Rotate(dir, "kiosk-001", false)
	if err != nil {
		t.Fatalf("Rotate: %v", err)
	}
	if r.DeviceKeyID != "device-2" || r.Previous != "device-1" || r.TLSKeyFile != "" {
		t.Errorf("Rotate = %q (previous %q, tls %q), want device-2 after device-1 without TLS", r.DeviceKeyID, r.Previous, r.TLSKeyFile)
	}
	if bytes.Equal(r.DevicePublic, p.DevicePublic) {
		t.Errorf("Rotate made the same key again")
	}
	if _, err := os.Stat(p.DeviceKeyFile); err != nil {
		t.Errorf("Rotate removed the old key: %v", err)
	}
	r3, err := Rotate(dir, "kiosk-001", true)
	if err != nil {
		t.Fatal(err)
	}
	if r3.DeviceKeyID != "device-3" || filepath.Base(r3.TLSKeyFile) != "tls-3.key" || mode(t, r3.TLSKeyFile) != 0o600 {
		t.Errorf("Rotate with TLS = %q, %q", r3.DeviceKeyID, r3.TLSKeyFile)
	}
	if _, err := Rotate(t.TempDir(), "kiosk-001", false); !errors.Is(err, ErrMissing) {
		t.Errorf("Rotate in an empty dir = %v, want ErrMissing", err)
	}
	if _, err := Provision(t.TempDir(), "Kiosk 1"); err == nil {
		t.Errorf("Provision with a bad kiosk id: want an error")
	}
}

// TestDevelopmentCA issues a broker certificate and a kiosk certificate
// from a provisioned CSR, then runs a mutual TLS handshake with them.
func TestDevelopmentCA(t *testing.T) {
	now := time.Now()
	caDir := filepath.Join(t.TempDir(), "ca")
	if _, err := InitCA(caDir, "", now, 0); err != nil {
		t.Fatalf("InitCA: %v", err)
	}
	if got := mode(t, filepath.Join(caDir, CAKeyFile)); got != 0o600 {
		t.Errorf("ca.key mode = %04o, want 0600", got)
	}
	if _, err := InitCA(caDir, "", now, 0); !errors.Is(err, ErrExists) {
		t.Errorf("second InitCA = %v, want ErrExists", err)
	}
	ca, err := LoadCA(caDir)
	if err != nil {
		t.Fatalf("LoadCA: %v", err)
	}

	kdir := t.TempDir()
	p, err := Provision(kdir, "kiosk-001")
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, _ := os.ReadFile(p.CSRFile)
	csr, _ := ParseCSR(csrPEM)
	kioskCert, err := ca.Sign(csr, Profile{Kind: CertKiosk}, now)
	if err != nil {
		t.Fatalf("Sign kiosk: %v", err)
	}
	brokerKey, brokerCert, err := ca.Issue("broker", Profile{Kind: CertBroker, DNS: []string{"localhost"}, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, now)
	if err != nil {
		t.Fatalf("Issue broker: %v", err)
	}

	refusals := []struct {
		name string
		cn   string
		p    Profile
		want string
	}{
		{"kiosk CN not an id", "Kiosk One", Profile{Kind: CertKiosk}, "not an id"},
		{"broker without names", "broker", Profile{Kind: CertBroker}, "at least one DNS name"},
		{"unknown kind", "x-1", Profile{Kind: "server"}, "unknown certificate kind"},
	}
	for _, tc := range refusals {
		if _, _, err := ca.Issue(tc.cn, tc.p, now); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Issue(%s) = %v, want error containing %q", tc.name, err, tc.want)
		}
	}

	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(ca.CertPEM)
	kioskKeyPEM, _ := os.ReadFile(p.TLSKeyFile)
	clientPair, err := tls.X509KeyPair(kioskCert, kioskKeyPEM)
	if err != nil {
		t.Fatal(err)
	}
	serverPair, err := tls.X509KeyPair(brokerCert, brokerKey)
	if err != nil {
		t.Fatal(err)
	}
	cConn, sConn := net.Pipe()
	defer cConn.Close()
	defer sConn.Close()
	server := tls.Server(sConn, &tls.Config{Certificates: []tls.Certificate{serverPair}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert})
	client := tls.Client(cConn, &tls.Config{Certificates: []tls.Certificate{clientPair}, RootCAs: pool, ServerName: "localhost"})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- server.HandshakeContext(ctx) }()
	if err := client.HandshakeContext(ctx); err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	if err := <-errc; err != nil {
		t.Fatalf("server handshake: %v", err)
	}
	if got := server.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "kiosk-001" {
		t.Errorf("broker sees client CN %q, want kiosk-001", got)
	}
}

func TestLoadCARefusesMixedFiles(t *testing.T) {
	now := time.Now()
	a, b := t.TempDir(), t.TempDir()
	if _, err := InitCA(a, "", now, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := InitCA(b, "", now, 0); err != nil {
		t.Fatal(err)
	}
	other, _ := os.ReadFile(filepath.Join(b, CACertFile))
	if err := os.WriteFile(filepath.Join(a, CACertFile), other, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(a); !errors.Is(err, ErrFormat) {
		t.Errorf("LoadCA with another CA's certificate = %v, want ErrFormat", err)
	}
	os.Chmod(filepath.Join(b, CAKeyFile), 0o644)
	if _, err := LoadCA(b); !errors.Is(err, ErrPermissions) {
		t.Errorf("LoadCA with a world-readable key = %v, want ErrPermissions", err)
	}
}

func TestPEMRoundTrips(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	privPEM, _ := MarshalEd25519Private(priv)
	pubPEM, _ := MarshalEd25519Public(pub)
	if k, err := ParseEd25519Private(privPEM); err != nil || !k.Equal(priv) {
		t.Errorf("Ed25519 private round trip: %v", err)
	}
	if k, err := ParseEd25519Public(pubPEM); err != nil || !k.Equal(pub) {
		t.Errorf("Ed25519 public round trip: %v", err)
	}
	if _, err := ParseEd25519Private(pubPEM); !errors.Is(err, ErrFormat) {
		t.Errorf("public PEM as private = %v, want ErrFormat", err)
	}
	_, tlsPEM, _ := NewTLSKey()
	if _, err := ParseEd25519Private(tlsPEM); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), "want Ed25519") {
		t.Errorf("ECDSA key as Ed25519 = %v, want ErrFormat", err)
	}

	for _, kem := range []uint16{seal.KEMMLKEM768X25519, seal.KEMX25519} {
		k, err := GenerateHPKE(kem)
		if err != nil {
			t.Fatal(err)
		}
		privPEM, err := MarshalHPKEPrivate("node-1", k)
		if err != nil {
			t.Fatal(err)
		}
		pubPEM := MarshalHPKEPublic("node-1", k.PublicKey())
		if !bytes.Contains(privPEM, []byte("KEM-ID: 0x")) || !bytes.Contains(pubPEM, []byte("Key-ID: node-1")) {
			t.Errorf("HPKE PEM headers missing:\n%s", pubPEM)
		}
		gotPriv, id, err := ParseHPKEPrivate(privPEM)
		if err != nil || id != "node-1" || gotPriv.KEM().ID() != kem {
			t.Fatalf("ParseHPKEPrivate = %v, %q, %v", gotPriv, id, err)
		}
		gotPub, _, err := ParseHPKEPublic(pubPEM)
		if err != nil || !bytes.Equal(gotPub.Bytes(), k.PublicKey().Bytes()) || !bytes.Equal(gotPriv.PublicKey().Bytes(), gotPub.Bytes()) {
			t.Errorf("HPKE public key round trip (%s): %v", seal.KEMName(kem), err)
		}
		if _, _, err := ParseHPKEPublic(privPEM); !errors.Is(err, ErrFormat) {
			t.Errorf("private PEM as public = %v, want ErrFormat", err)
		}
		dir := t.TempDir()
		if err := CreateFile(filepath.Join(dir, "n.key"), privPEM, 0o600); err != nil {
			t.Fatal(err)
		}
		if _, err := LoadHPKEPrivate(filepath.Join(dir, "n.key"), "node-2"); !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), `"node-1"`) {
			t.Errorf("LoadHPKEPrivate with another id = %v, want ErrFormat naming node-1", err)
		}
	}
	bad := []byte("-----BEGIN RBDES HPKE PUBLIC KEY-----\nKEM-ID: 0x0010\n\nAAAA\n-----END RBDES HPKE PUBLIC KEY-----\n")
	if _, _, err := ParseHPKEPublic(bad); !errors.Is(err, ErrFormat) {
		t.Errorf("P-256 KEM public key = %v, want ErrFormat", err)
	}
}
