package nodeverify

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

func TestLoadRegistry(t *testing.T) {
	dir := t.TempDir()
	p, err := keys.Provision(filepath.Join(dir, "kiosk-001"), "kiosk-001")
	if err != nil {
		t.Fatal(err)
	}
	ca, err := keys.InitCA(filepath.Join(dir, "ca"), "", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	csrPEM, _ := os.ReadFile(p.CSRFile)
	csr, _ := keys.ParseCSR(csrPEM)
	cert, err := ca.Sign(csr, keys.Profile{Kind: keys.CertKiosk}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "kiosk-001.crt"), cert, 0o644)
	pub2, _, _ := ed25519.GenerateKey(rand.Reader)
	yaml := `
kiosks:
  - id: kiosk-001
    status: active
    certificate_file: kiosk-001.crt
    device_keys:
      - id: device-1
        public_key_file: kiosk-001/device-1.pub
        retired_at: 2026-03-01T00:00:00Z
        accept_until: 2026-04-01T00:00:00Z
      - id: device-2
        public_key: ` + base64.StdEncoding.EncodeToString(pub2) + `
  - id: kiosk-002
    status: revoked
    device_keys:
      - id: device-1
        public_key: ` + base64.StdEncoding.EncodeToString(pub2) + `
`
	path := filepath.Join(dir, "registry.yaml")
	os.WriteFile(path, []byte(yaml), 0o644)
	r, err := LoadRegistry(path)
	if err != nil {
		t.Fatalf("LoadRegistry: %v", err)
	}
	if r.Len() != 2 {
		t.Errorf("Len = %d, want 2", r.Len())
	}
	k, ok := r.Kiosk("kiosk-001")
	if !ok || k.Status != StatusActive || k.Certificate == nil || k.Certificate.Subject.CommonName != "kiosk-001" {
		t.Fatalf("kiosk-001 = %+v", k)
	}
	d1, ok := k.DeviceKey("device-1")
	if !ok || !d1.Public.Equal(p.DevicePublic) || !d1.RetiredAt.Equal(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)) || !d1.AcceptUntil.Equal(time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("device-1 = %+v", d1)
	}
	if d2, ok := k.DeviceKey("device-2"); !ok || !d2.Public.Equal(pub2) || !d2.RetiredAt.IsZero() {
		t.Errorf("device-2 = %+v", d2)
	}
	if k2, _ := r.Kiosk("kiosk-002"); k2.Status != StatusRevoked {
		t.Errorf("kiosk-002 status = %q, want revoked", k2.Status)
	}
	if _, ok := r.Kiosk("kiosk-003"); ok {
		t.Errorf("kiosk-003 found in a registry without it")
	}
}

func TestParseRegistryRefuses(t *testing.T) {
	key := base64.StdEncoding.EncodeToString(make([]byte, 32))
	entry := func(extra string) string {
		return "kiosks:\n  - id: kiosk-001\n    status: active\n    device_keys:\n      - id: device-1\n        public_key: " + key + "\n" + extra
	}
	tests := []struct {
		name string
		yaml string
		want string
	}{
		{"unknown field", entry("        colour: red\n"), "field colour not found"},
		{"bad kiosk id", strings.Replace(entry(""), "kiosk-001", "Kiosk_1", 1), "not valid"},
		{"twice", entry("") + "  - id: kiosk-001\n    status: active\n    device_keys:\n      - id: device-1\n        public_key: " + key + "\n", "twice"},
		{"bad status", strings.Replace(entry(""), "active", "suspended", 1), "not active or revoked"},
		{"no device key", "kiosks:\n  - id: kiosk-001\n    status: active\n", "no device key"},
		{"short key", strings.Replace(entry(""), key, "AAAA", 1), "base64 of 32 bytes"},
		{"both key forms", entry("        public_key_file: x.pub\n"), "keep one"},
		{"no key", "kiosks:\n  - id: kiosk-001\n    status: active\n    device_keys:\n      - id: device-1\n", "needs public_key"},
		{"bad time", entry("        retired_at: yesterday\n"), "RFC 3339"},
		{"window before retirement", entry("        retired_at: 2026-03-01T00:00:00Z\n        accept_until: 2026-02-01T00:00:00Z\n"), "before retired_at"},
		{"duplicate device key", entry("      - id: device-1\n        public_key: " + key + "\n"), "twice"},
		{"missing key file", strings.Replace(entry(""), "public_key: "+key, "public_key_file: nowhere.pub", 1), "does not exist"},
		{"not YAML", "kiosks: [", "not valid YAML"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRegistry([]byte(tc.yaml), t.TempDir())
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseRegistry = %v, want error containing %q", err, tc.want)
			}
		})
	}
	if r, err := ParseRegistry(nil, "."); err != nil || r.Len() != 0 {
		t.Errorf("empty registry = %v, %v; want 0 kiosks", r, err)
	}
}
