package targets

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// kioskImage makes a small image file with a kiosk partition table (disk
// id 0x4b494f53, four partitions) whose first three partitions are filled
// with a marker, and returns the partitions' byte ranges.
func kioskImage(t *testing.T, path string) [][2]int64 {
	t.Helper()
	const mib = 1 << 20
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 64*mib); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sfdisk", "-q", path)
	cmd.Stdin = strings.NewReader("label: dos\nlabel-id: 0x4b494f53\nstart=2048, size=16384, type=c\nstart=18432, size=32768, type=83\nstart=51200, size=16384, type=83\nstart=67584, type=83\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	var table struct {
		PartitionTable struct {
			Partitions []struct{ Start, Size int64 } `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal([]byte(run(t, "sfdisk", "-J", path)), &table); err != nil {
		t.Fatal(err)
	}
	var parts [][2]int64
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for i, p := range table.PartitionTable.Partitions {
		parts = append(parts, [2]int64{p.Start * 512, (p.Start + p.Size) * 512})
		if i < 3 {
			if _, err := f.WriteAt(bytes.Repeat([]byte{byte('A' + i)}, int(p.Size*512)), p.Start*512); err != nil {
				t.Fatal(err)
			}
		}
	}
	if len(parts) != 4 {
		t.Fatalf("sfdisk made %d partitions, want 4", len(parts))
	}
	return parts
}

// nodeKeys makes a test node and returns a directory with its public keys.
func nodeKeys(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("go", "run", "./cmd/kioskctl", "keys", "node", "-out", filepath.Join(dir, "all"))
	cmd.Dir = repoRoot(t)
	cmd.Env = hostEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("kioskctl keys node: %v\n%s", err, out)
	}
	pubs := filepath.Join(dir, "pub")
	if err := os.MkdirAll(pubs, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"node-1.hpke.pub", "cmd-1.cmd.pub"} {
		data, err := os.ReadFile(filepath.Join(dir, "all", n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(pubs, n), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return pubs
}

// TestProvisionImageFile runs make provision on a kiosk image file: the
// data partition gets the identity, node keys and site config; the other
// partitions are untouched; the shared image in DIST is refused.
func TestProvisionImageFile(t *testing.T) {
	need(t, "provision", "sfdisk", "mkfs.ext4", "debugfs")
	dir := t.TempDir()
	img := filepath.Join(dir, "kiosk-0042.img")
	parts := kioskImage(t, img)
	before, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	node := nodeKeys(t)
	dist := filepath.Join(dir, "dist")
	vars := []string{"KIOSK_ID=kiosk-0042", "SITE_CONFIG=firmware/site-sim.yaml", "NODE_KEYS=" + node, "DIST=" + dist}

	code, out := runMake(t, append([]string{"provision", "DEVICE=" + img}, vars...)...)
	if code == 0 || !strings.Contains(out, "CONFIRM=yes") {
		t.Fatalf("make provision without CONFIRM: exit %d:\n%s", code, out)
	}
	code, out = runMake(t, append([]string{"provision", "DEVICE=" + img, "CONFIRM=yes"}, vars...)...)
	if code != 0 {
		t.Fatalf("make provision: exit %d:\n%s", code, out)
	}
	after, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before[:parts[3][0]], after[:parts[3][0]]) {
		t.Errorf("make provision changed bytes before the data partition")
	}
	fs := img + "?offset=" + strconv.FormatInt(parts[3][0], 10)
	cfg := run(t, "debugfs", "-R", "cat /config/kioskd.yaml", fs)
	for _, want := range []string{"id: kiosk-0042", "device_key: /var/lib/kiosk/keys/device-1.key"} {
		if !strings.Contains(cfg, want) {
			t.Errorf("data partition config lacks %q:\n%s", want, cfg)
		}
	}
	ls := run(t, "debugfs", "-R", "ls -l /keys", fs) + run(t, "debugfs", "-R", "ls -l /node", fs)
	for _, want := range []string{"device-1.key", "tls-1.key", "tls-1.csr", "node-1.hpke.pub", "cmd-1.cmd.pub"} {
		if !strings.Contains(ls, want) {
			t.Errorf("data partition lacks %s:\n%s", want, ls)
		}
	}
	if _, err := os.Stat(filepath.Join(dist, "provisioned", "kiosk-0042", "device-1.pub")); err != nil {
		t.Errorf("the public key was not kept for the node registry: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dist, "provisioned", "kiosk-0042", "device-1.key")); err == nil {
		t.Errorf("the private key was kept off the kiosk")
	}

	// The shared image is refused.
	if err := os.MkdirAll(dist, 0o755); err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(dist, "kiosk-v1-generic-arm64.img")
	kioskImage(t, shared)
	code, out = runMake(t, append([]string{"provision", "DEVICE=" + shared, "CONFIRM=yes"}, vars...)...)
	if code == 0 || !strings.Contains(out, "is the shared image") {
		t.Errorf("make provision on the shared image: exit %d:\n%s", code, out)
	}
	// So is a disk that is not a kiosk image.
	plain := filepath.Join(dir, "kiosk-plain.img")
	if err := os.WriteFile(plain, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out = runMake(t, append([]string{"provision", "DEVICE=" + plain, "CONFIRM=yes"}, vars...)...)
	if code == 0 || !strings.Contains(out, "kiosk image") {
		t.Errorf("make provision on a non-kiosk disk: exit %d:\n%s", code, out)
	}
}
