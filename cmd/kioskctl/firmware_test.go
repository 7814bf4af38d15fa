package main

import (
	"bytes"
	"debug/elf"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeELF writes a minimal ELF header for machine m: enough for the
// architecture check, not a program.
func fakeELF(t *testing.T, path string, m elf.Machine, filler string) {
	t.Helper()
	var buf bytes.Buffer
	h := elf.Header64{Type: uint16(elf.ET_EXEC), Machine: uint16(m), Version: 1, Ehsize: 64}
	copy(h.Ident[:], []byte{0x7f, 'E', 'L', 'F', byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)})
	if err := binary.Write(&buf, binary.LittleEndian, h); err != nil {
		t.Fatal(err)
	}
	buf.WriteString(filler)
	if err := os.WriteFile(path, buf.Bytes(), 0o755); err != nil {
		t.Fatal(err)
	}
}

// firmwareFixture makes fake arm64 binaries and a firmware key.
func firmwareFixture(t *testing.T) (bin, key, pub string) {
	t.Helper()
	dir := t.TempDir()
	bin = filepath.Join(dir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	fakeELF(t, filepath.Join(bin, "kioskd"), elf.EM_AARCH64, "kioskd")
	fakeELF(t, filepath.Join(bin, "kioskctl"), elf.EM_AARCH64, "kioskctl")
	key = filepath.Join(dir, "keys", "fw.key")
	if code, _, stderr := kioskctl(t, "firmware", "keygen", "-key", key); code != 0 {
		t.Fatalf("firmware keygen: exit %d: %s", code, stderr)
	}
	return bin, key, strings.TrimSuffix(key, ".key") + ".pub"
}

func buildBundle(t *testing.T, bin, key, boardName, out string) {
	t.Helper()
	code, _, stderr := kioskctl(t, "firmware", "build", "-board", boardName, "-src", "../../firmware", "-bin", bin,
		"-version", "v1.0.0-test", "-sequence", "7", "-commit", "0123456789abcdef0123456789abcdef01234567",
		"-created", "1767225600", "-key", key, "-o", out)
	if code != 0 {
		t.Fatalf("firmware build: exit %d: %s", code, stderr)
	}
}

func TestFirmwareBuildVerifyInspectSign(t *testing.T) {
	bin, key, pub := firmwareFixture(t)
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.bundle"), filepath.Join(dir, "b.bundle")
	buildBundle(t, bin, key, "rpi4", a)
	buildBundle(t, bin, key, "rpi4", b)
	da, _ := os.ReadFile(a)
	db, _ := os.ReadFile(b)
	if !bytes.Equal(da, db) {
		t.Errorf("two builds from the same inputs and key differ")
	}

	if code, out, stderr := kioskctl(t, "firmware", "verify", "-pub", pub, a); code != 0 || !strings.Contains(out, "ok: rbdes-kiosk v1.0.0-test (sequence 7) for rpi4 (arm64)") {
		t.Errorf("verify good bundle: exit %d, out %q, err %q", code, out, stderr)
	}
	code, out, _ := kioskctl(t, "firmware", "inspect", a)
	for _, want := range []string{"board        rpi4", "bin/kioskd", "systemd/kioskd.service", "udev/70-kiosk.rules",
		"udev/71-kiosk-rpi4.rules", "sysusers/kiosk.conf", "config/kioskd.yaml", "board/config.txt"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("inspect: exit %d, output lacks %q:\n%s", code, want, out)
		}
	}

	// A byte flipped anywhere is rejected (sampled here; the bundle
	// package flips every byte of a small bundle).
	for _, off := range []int{0, 100, 600, len(da) / 2, len(da) - 200, len(da) - 100, len(da) - 50, len(da) - 1} {
		bad := bytes.Clone(da)
		bad[off] ^= 0x01
		p := filepath.Join(dir, "bad.bundle")
		if err := os.WriteFile(p, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if code, _, stderr := kioskctl(t, "firmware", "verify", "-pub", pub, p); code != 1 || !strings.Contains(stderr, "REJECTED") {
			t.Errorf("verify with byte %d of %d flipped: exit %d, stderr %q; want exit 1 and REJECTED", off, len(da), code, stderr)
		}
	}

	// Re-signing with another key: the old key no longer verifies it.
	_, key2, pub2 := firmwareFixture(t)
	if code, _, stderr := kioskctl(t, "firmware", "sign", "-key", key2, a); code != 0 {
		t.Fatalf("sign: exit %d: %s", code, stderr)
	}
	if code, _, _ := kioskctl(t, "firmware", "verify", "-pub", pub, a); code != 1 {
		t.Errorf("verify re-signed bundle with the old key: exit %d, want 1", code)
	}
	if code, _, stderr := kioskctl(t, "firmware", "verify", "-pub", pub2, a); code != 0 {
		t.Errorf("verify re-signed bundle with the new key: exit %d: %s", code, stderr)
	}
}

func TestFirmwareVerifyTrustsDevKeyBesideBundle(t *testing.T) {
	t.Setenv("KIOSK_FIRMWARE_KEYS", "")
	if _, err := os.Stat("/etc/kiosk/firmware-keys"); err == nil {
		t.Skip("this machine has /etc/kiosk/firmware-keys, which verify prefers")
	}
	bin, _, _ := firmwareFixture(t)
	dist := t.TempDir()
	key := filepath.Join(dist, devKeyName+".key")
	if code, _, stderr := kioskctl(t, "firmware", "keygen", "-key", key); code != 0 {
		t.Fatal(stderr)
	}
	p := filepath.Join(dist, "kiosk-v1-generic-arm64.bundle")
	buildBundle(t, bin, key, "generic-arm64", p)
	code, _, stderr := kioskctl(t, "firmware", "verify", p)
	if code != 0 || !strings.Contains(stderr, "DEVELOPMENT key") {
		t.Errorf("verify without -pub beside the dev key: exit %d, stderr %q; want 0 with a warning", code, stderr)
	}
	os.Remove(filepath.Join(dist, devKeyName+".pub"))
	if code, _, _ := kioskctl(t, "firmware", "verify", p); code != 2 {
		t.Errorf("verify without any trusted key: exit %d, want 2", code)
	}
}

func TestFirmwareBuildRefusesWrongArchitecture(t *testing.T) {
	bin, key, _ := firmwareFixture(t)
	code, _, stderr := kioskctl(t, "firmware", "build", "-board", "generic-armv7", "-src", "../../firmware", "-bin", bin,
		"-version", "v1", "-sequence", "1", "-created", "1767225600", "-key", key, "-o", filepath.Join(t.TempDir(), "x.bundle"))
	if code == 0 || !strings.Contains(stderr, "built for EM_AARCH64") {
		t.Errorf("build arm64 binaries for an armv7 board: exit %d, stderr %q; want a refusal", code, stderr)
	}
}

func TestFirmwareInstallOfflineAndStatus(t *testing.T) {
	bin, key, pub := firmwareFixture(t)
	p := filepath.Join(t.TempDir(), "fw.bundle")
	buildBundle(t, bin, key, "rpi4", p)
	root := t.TempDir()
	if code, _, _ := kioskctl(t, "firmware", "install", "-offline", "-root", root, "-pub", pub, p); code == 0 {
		t.Errorf("install without a board file or -board succeeded")
	}
	if code, _, stderr := kioskctl(t, "firmware", "install", "-offline", "-root", root, "-board", "generic-arm64", "-pub", pub, p); code == 0 || !strings.Contains(stderr, "another board") {
		t.Errorf("install an rpi4 bundle on a generic-arm64: exit %d, %s", code, stderr)
	}
	code, out, stderr := kioskctl(t, "firmware", "install", "-offline", "-root", root, "-board", "rpi4", "-pub", pub, p)
	if code != 0 || !strings.Contains(out, "slot a: committed") {
		t.Fatalf("install -offline: exit %d, out %q, err %q", code, out, stderr)
	}
	link, err := os.Readlink(filepath.Join(root, "etc/systemd/system/kioskd.service"))
	if err != nil || link != "/opt/kiosk/current/systemd/kioskd.service" {
		t.Errorf("kioskd.service link = %q, %v", link, err)
	}
	code, out, _ = kioskctl(t, "firmware", "status", "-root", root, "-board", "rpi4", "-deep")
	if code != 0 || !strings.Contains(out, "committed  a") || !strings.Contains(out, "slot a     v1.0.0-test (sequence 7, rpi4), complete") {
		t.Errorf("status: exit %d:\n%s", code, out)
	}
	if code, out, _ := kioskctl(t, "firmware", "boot", "-root", root, "-board", "rpi4"); code != 0 || !strings.Contains(out, "consistent") {
		t.Errorf("boot: exit %d: %s", code, out)
	}
	if code, _, stderr := kioskctl(t, "firmware", "failed", "-root", root, "-board", "rpi4"); code != 3 || !strings.Contains(stderr, "nothing to roll back") {
		t.Errorf("failed without a trial: exit %d: %s", code, stderr)
	}
}

func TestFirmwareProvision(t *testing.T) {
	dir := t.TempDir()
	node := filepath.Join(dir, "node-all")
	if code, _, stderr := kioskctl(t, "keys", "node", "-out", node); code != 0 {
		t.Fatal(stderr)
	}
	pubs := filepath.Join(dir, "node")
	if err := os.MkdirAll(pubs, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-1.hpke.pub", "cmd-1.cmd.pub"} {
		if err := copyFile(filepath.Join(node, n), filepath.Join(pubs, n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	site := "../../firmware/site-sim.yaml"

	if code, _, stderr := kioskctl(t, "firmware", "provision", "-id", "kiosk-t-1", "-site", site, "-node", node, "-out", filepath.Join(dir, "a")); code == 0 || !strings.Contains(stderr, "private key") {
		t.Errorf("provision with the node's private keys: exit %d, %s; want a refusal", code, stderr)
	}
	if code, _, stderr := kioskctl(t, "firmware", "provision", "-id", "kiosk-t-1", "-site", "../../firmware/kioskd.yaml", "-node", pubs, "-out", filepath.Join(dir, "b")); code == 0 || !strings.Contains(stderr, "does not validate") {
		t.Errorf("provision with a config naming files outside the data partition: exit %d, %s", code, stderr)
	}
	out := filepath.Join(dir, "c")
	code, stdout, stderr := kioskctl(t, "firmware", "provision", "-id", "kiosk-t-1", "-site", site, "-node", pubs, "-out", out)
	if code != 0 {
		t.Fatalf("provision: exit %d: %s", code, stderr)
	}
	cfg, err := os.ReadFile(filepath.Join(out, "config", "kioskd.yaml"))
	if err != nil || !strings.Contains(string(cfg), "id: kiosk-t-1") || !strings.Contains(string(cfg), "device_key: /var/lib/kiosk/keys/device-1.key") {
		t.Errorf("site config = %v\n%s", err, cfg)
	}
	if fi, err := os.Stat(filepath.Join(out, "keys", "device-1.key")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("device key: %v", err)
	}
	if !strings.Contains(stdout, "Node registry entry") {
		t.Errorf("provision output lacks the node registry entry:\n%s", stdout)
	}
	if code, _, _ := kioskctl(t, "firmware", "provision", "-id", "kiosk-t-1", "-site", site, "-node", pubs, "-out", out); code != 2 {
		t.Errorf("provision into a non-empty directory: exit %d, want 2", code)
	}
}

func TestFirmwareCommandsHelp(t *testing.T) {
	for _, c := range []string{"build", "keygen", "sign", "verify", "inspect", "install", "status", "commit", "rollback", "boot", "failed", "provision", "grow-data"} {
		if code, _, _ := kioskctl(t, "firmware", c, "-h"); code != 0 {
			t.Errorf("kioskctl firmware %s -h: exit %d, want 0", c, code)
		}
		if code, _, _ := kioskctl(t, "firmware", c, "-no-such-flag"); code != 2 {
			t.Errorf("kioskctl firmware %s -no-such-flag: exit %d, want 2", c, code)
		}
	}
}

func TestFirmwareGrowDataRefuses(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "want the data partition's device node"},
		{[]string{dir}, 1, "is not a block device"},
		{[]string{filepath.Join(dir, "missing")}, 1, "is the data partition there?"},
	} {
		code, _, stderr := kioskctl(t, append([]string{"firmware", "grow-data"}, tt.args...)...)
		if code != tt.code || !strings.Contains(stderr, tt.want) {
			t.Errorf("grow-data %v: exit %d, %q; want %d saying %q", tt.args, code, stderr, tt.code, tt.want)
		}
	}
}
