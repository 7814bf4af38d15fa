package targets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// rootDisk returns the whole disk the running system's / is on, or "".
func rootDisk(t *testing.T) string {
	t.Helper()
	src, err := exec.Command("findmnt", "-n", "-o", "SOURCE", "--target", "/").Output()
	if err != nil || !strings.HasPrefix(string(src), "/dev/") {
		return ""
	}
	out, err := exec.Command("lsblk", "-nsro", "NAME,TYPE", strings.TrimSpace(string(src))).Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "disk" {
			return "/dev/" + f[0]
		}
	}
	return ""
}

// aPartition returns some partition device of this machine, or "".
func aPartition() string {
	out, err := exec.Command("lsblk", "-nrpo", "NAME,TYPE").Output()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(out), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[1] == "part" {
			return f[0]
		}
	}
	return ""
}

// loopDevice attaches a file of size bytes filled with fill to a loop
// device; it skips the test where loop devices are not available.
func loopDevice(t *testing.T, size int, fill byte) (dev, file string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("attaching a loop device needs root")
	}
	need(t, "flash", "losetup")
	file = filepath.Join(t.TempDir(), "card.bin")
	if err := os.WriteFile(file, bytes.Repeat([]byte{fill}, size), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("losetup", "-f", "--show", file).CombinedOutput()
	if err != nil {
		t.Skipf("no loop device available: %v %s", err, out)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() {
		if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
			t.Errorf("losetup -d %s: %v %s", dev, err, out)
		}
	})
	return dev, file
}

// TestFlashGuards: make flash refuses without each of its guards, and
// says why.
func TestFlashGuards(t *testing.T) {
	need(t, "flash", "lsblk", "findmnt")
	regular := filepath.Join(t.TempDir(), "not-a-disk.img")
	if err := os.WriteFile(regular, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no DEVICE", nil, "set DEVICE=/dev/sdX"},
		{"empty DEVICE", []string{"DEVICE="}, "set DEVICE=/dev/sdX"},
		{"missing device", []string{"DEVICE=/dev/kiosk-no-such-disk"}, "does not exist"},
		{"regular file", []string{"DEVICE=" + regular}, "is not a block device"},
		{"character device", []string{"DEVICE=/dev/null", "CONFIRM=yes"}, "is not a block device"},
	}
	if d := rootDisk(t); d != "" {
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"the running system's disk", []string{"DEVICE=" + d, "CONFIRM=yes", "ALLOW_FIXED=yes"}, "holds the running system"})
	}
	if p := aPartition(); p != "" {
		tests = append(tests, struct {
			name string
			args []string
			want string
		}{"a partition", []string{"DEVICE=" + p, "CONFIRM=yes"}, "is a partition"})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := runMake(t, append([]string{"flash"}, tt.args...)...)
			if code == 0 || !strings.Contains(out, tt.want) {
				t.Errorf("make flash %v: exit %d, output %q; want a refusal saying %q", tt.args, code, out, tt.want)
			}
		})
	}
}

// TestFlashNeedsConfirmAndUnmounted: on a real (loop) disk make flash
// shows model and size and still refuses without CONFIRM=yes, or while a
// filesystem on it is mounted; the disk is left untouched.
func TestFlashNeedsConfirmAndUnmounted(t *testing.T) {
	need(t, "flash", "lsblk", "findmnt")
	dev, file := loopDevice(t, 8<<20, 0xAA)
	code, out := runMake(t, "flash", "DEVICE="+dev, "IMAGE=/nonexistent.img")
	if code == 0 || !strings.Contains(out, "size 8M") {
		t.Errorf("make flash DEVICE=%s without an image: exit %d, output %q; want the size shown and a refusal", dev, code, out)
	}
	img, _ := smallImage(t)
	code, out = runMake(t, "flash", "DEVICE="+dev, "IMAGE="+img)
	if code == 0 || !strings.Contains(out, "CONFIRM=yes") {
		t.Errorf("make flash without CONFIRM: exit %d, output %q", code, out)
	}
	code, out = runMake(t, "flash", "DEVICE="+dev, "IMAGE="+img, "CONFIRM=no")
	if code == 0 || !strings.Contains(out, "CONFIRM=yes") {
		t.Errorf("make flash CONFIRM=no: exit %d, output %q", code, out)
	}
	data, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(data, bytes.Repeat([]byte{0xAA}, 8<<20)) {
		t.Errorf("a refused flash changed the disk")
	}

	// A mounted filesystem on the disk.
	need(t, "provision", "mkfs.ext4")
	run(t, "mkfs.ext4", "-q", "-F", dev)
	mnt := t.TempDir()
	if out, err := exec.Command("mount", dev, mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount here (%v %s); the mounted-filesystem guard is not exercised", err, out)
	}
	defer func() {
		if out, err := exec.Command("umount", mnt).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", mnt, err, out)
		}
	}()
	code, out = runMake(t, "flash", "DEVICE="+dev, "IMAGE="+img, "CONFIRM=yes")
	if code == 0 || !strings.Contains(out, "mounted filesystems") {
		t.Errorf("make flash of a mounted disk: exit %d, output %q", code, out)
	}
}

// smallImage makes a 16 MiB image with data in a few places and holes
// elsewhere, and its block map.
func smallImage(t *testing.T) (img string, data []byte) {
	t.Helper()
	need(t, "flash", "bmaptool")
	img = filepath.Join(t.TempDir(), "kiosk-test.img")
	data = make([]byte, 16<<20)
	for _, off := range []int{0, 1 << 20, 5<<20 + 12345, 15 << 20} {
		copy(data[off:], bytes.Repeat([]byte("kiosk image block "), 3000))
	}
	f, err := os.Create(img)
	if err != nil {
		t.Fatal(err)
	}
	// Write only the non-zero 4 KiB blocks so the file is sparse.
	for off := 0; off < len(data); off += 4096 {
		if !bytes.Equal(data[off:off+4096], make([]byte, 4096)) {
			if _, err := f.WriteAt(data[off:off+4096], int64(off)); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := f.Truncate(int64(len(data))); err != nil {
		t.Fatal(err)
	}
	f.Close()
	run(t, "bmaptool", "-q", "create", "-o", strings.TrimSuffix(img, ".img")+".bmap", img)
	return img, data
}

// TestFlashWritesAndVerifies flashes an image onto a loop device that
// holds old data and checks the card afterwards.
func TestFlashWritesAndVerifies(t *testing.T) {
	need(t, "flash", "lsblk", "findmnt", "bmaptool")
	img, data := smallImage(t)
	dev, file := loopDevice(t, 32<<20, 0x55)
	code, out := runMake(t, "flash", "DEVICE="+dev, "IMAGE="+img, "CONFIRM=yes")
	if code != 0 || !strings.Contains(out, "read back and verified") {
		t.Fatalf("make flash: exit %d:\n%s", code, out)
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	// Mapped blocks carry the image; bmaptool does not write holes, and
	// the read-back only checks mapped ranges.
	for off := 0; off < len(data); off += 4096 {
		blk := data[off : off+4096]
		if !bytes.Equal(blk, make([]byte, 4096)) && !bytes.Equal(got[off:off+4096], blk) {
			t.Fatalf("block at %d differs on the card after make flash", off)
		}
	}
	if !bytes.Equal(got[len(data):], bytes.Repeat([]byte{0x55}, len(got)-len(data))) {
		t.Errorf("make flash wrote past the image's end")
	}
}
