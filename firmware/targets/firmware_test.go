package targets

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/firmware/bundle"
)

// TestMakeFirmwareReproducible runs make firmware twice for the same
// version, commit and key (a development key created by the first run in a
// temporary DIST): the two bundles are byte for byte the same, verify
// against the development key, reject a flipped byte, and carry the
// board's binaries, units, rules and default config.
func TestMakeFirmwareReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("cross-compiles kioskd and kioskctl; skipped with -short")
	}
	dist := t.TempDir()
	p := filepath.Join(dist, "kiosk-v9.9.9-repro-rpi4.bundle")
	var runs [][]byte
	for range 2 {
		code, out := runMake(t, "firmware", "BOARD=rpi4", "DIST="+dist, "VERSION=v9.9.9-repro", "SEQUENCE=5",
			"COMMIT=0123456789abcdef0123456789abcdef01234567", "SOURCE_DATE_EPOCH=1767225600", "GOFLAGS=-buildvcs=false")
		if code != 0 {
			t.Fatalf("make firmware: exit %d:\n%s", code, out)
		}
		if !strings.Contains(out, "WARNING: signed with the DEVELOPMENT key") {
			t.Errorf("make firmware without FIRMWARE_KEY did not warn about the development key:\n%s", out)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		runs = append(runs, data)
		if err := os.Remove(p); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(runs[0], runs[1]) {
		t.Fatalf("two make firmware runs for the same commit and key differ (%d and %d bytes)", len(runs[0]), len(runs[1]))
	}
	data := runs[0]
	pub, err := keys.LoadEd25519Public(filepath.Join(dist, "firmware-dev.pub"), "development firmware key")
	if err != nil {
		t.Fatal(err)
	}
	trusted := []ed25519.PublicKey{pub}
	b, err := bundle.Open(bytes.NewReader(data), int64(len(data)), trusted)
	if err != nil {
		t.Fatalf("the bundle make firmware wrote does not verify: %v", err)
	}
	m := b.Manifest
	if m.Board != "rpi4" || m.Arch != "arm64" || m.Version != "v9.9.9-repro" || m.Sequence != 5 {
		t.Errorf("manifest = %+v", m)
	}
	for _, f := range []string{"bin/kioskd", "bin/kioskctl", "config/kioskd.yaml", "systemd/kioskd.service",
		"systemd/kiosk-firmware-boot.service", "sysusers/kiosk.conf", "udev/70-kiosk.rules", "udev/71-kiosk-rpi4.rules", "board/config.txt"} {
		if m.File(f) == nil {
			t.Errorf("bundle lacks %s", f)
		}
	}
	bad := bytes.Clone(data)
	bad[len(bad)/3] ^= 0x80
	if _, err := bundle.Open(bytes.NewReader(bad), int64(len(bad)), trusted); !errors.Is(err, bundle.ErrSignature) {
		t.Errorf("a flipped byte in the made bundle: Open = %v, want ErrSignature", err)
	}
}
