package mbr

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeSystem lays out a sysfs tree for disk vda (254:0) with partition
// vda4 (254:4) and a regular file standing in for /dev/vda.
type fakeSystem struct {
	sys, dev, disk string
	resized        []int64
	resizeErr      error
}

func newFakeSystem(t *testing.T, diskSectors, partStart, partSize string, table []byte) *fakeSystem {
	t.Helper()
	root := t.TempDir()
	f := &fakeSystem{sys: filepath.Join(root, "sys"), dev: filepath.Join(root, "dev")}
	diskDir := filepath.Join(f.sys, "devices/pci0000:00/virtio2/block/vda")
	partDir := filepath.Join(diskDir, "vda4")
	write := func(path, s string) {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(s+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(filepath.Join(diskDir, "size"), diskSectors)
	write(filepath.Join(diskDir, "uevent"), "MAJOR=254\nMINOR=0\nDEVNAME=vda\nDEVTYPE=disk")
	write(filepath.Join(diskDir, "queue/logical_block_size"), "512")
	write(filepath.Join(partDir, "partition"), "4")
	write(filepath.Join(partDir, "start"), partStart)
	write(filepath.Join(partDir, "size"), partSize)
	write(filepath.Join(partDir, "uevent"), "MAJOR=254\nMINOR=4\nDEVNAME=vda4\nDEVTYPE=partition")
	links := filepath.Join(f.sys, "dev/block")
	if err := os.MkdirAll(links, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(partDir, filepath.Join(links, "254:4")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(diskDir, filepath.Join(links, "254:0")); err != nil {
		t.Fatal(err)
	}
	f.disk = filepath.Join(f.dev, "vda")
	if err := os.MkdirAll(f.dev, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.disk, table, 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fakeSystem) opts() *GrowOptions {
	return &GrowOptions{SysRoot: f.sys, DevRoot: f.dev, Resize: func(_ *os.File, number int, start, length int64) error {
		f.resized = append(f.resized, int64(number), start, length)
		return f.resizeErr
	}}
}

func (f *fakeSystem) entry4(t *testing.T) Entry {
	t.Helper()
	b, err := os.ReadFile(f.disk)
	if err != nil {
		t.Fatal(err)
	}
	tb, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	return tb.Entries[3]
}

func TestGrowNumber(t *testing.T) {
	// A card whose size is not a multiple of 1 MiB.
	const card = "15524000"
	const grown = 15524000 - 15524000%2048 - 6817792
	t.Run("first boot", func(t *testing.T) {
		f := newFakeSystem(t, card, "6817792", "524288", kioskTable(t))
		res, err := GrowNumber(254, 4, f.opts())
		if err != nil {
			t.Fatal(err)
		}
		if !res.Changed || res.OldSectors != 524288 || res.NewSectors != grown || res.Partition != 4 || res.Disk != f.disk || res.KernelErr != nil {
			t.Errorf("result = %+v", res)
		}
		if e := f.entry4(t); e.Sectors != grown {
			t.Errorf("table on the disk: partition 4 has %d sectors, want %d", e.Sectors, grown)
		}
		if want := []int64{4, 6817792 * 512, grown * 512}; !slices.Equal(f.resized, want) {
			t.Errorf("kernel told %v, want %v", f.resized, want)
		}
	})
	t.Run("later boots do nothing", func(t *testing.T) {
		f := newFakeSystem(t, card, "6817792", "524288", kioskTable(t))
		if _, err := GrowNumber(254, 4, f.opts()); err != nil {
			t.Fatal(err)
		}
		g := newFakeSystem(t, card, "6817792", strconv.Itoa(grown), mustRead(t, f.disk))
		res, err := GrowNumber(254, 4, g.opts())
		if err != nil || res.Changed || len(g.resized) != 0 {
			t.Errorf("second run = %+v, %v, kernel told %v; want nothing done", res, err, g.resized)
		}
	})
	t.Run("kernel refuses", func(t *testing.T) {
		f := newFakeSystem(t, card, "6817792", "524288", kioskTable(t))
		f.resizeErr = errors.New("device or resource busy")
		res, err := GrowNumber(254, 4, f.opts())
		if err != nil || !res.Changed || res.KernelErr == nil || !strings.Contains(res.KernelErr.Error(), "applies at the next boot") {
			t.Fatalf("= %+v, %v; want the table grown and a kernel error", res, err)
		}
		// The same boot again: the table is grown but the kernel still has
		// the old size, so it is told again and the table left alone.
		f.resizeErr, f.resized = nil, nil
		res, err = GrowNumber(254, 4, f.opts())
		if err != nil || res.Changed || res.KernelErr != nil || len(f.resized) != 3 {
			t.Errorf("retry = %+v, %v, kernel told %v; want only the kernel told", res, err, f.resized)
		}
	})
	t.Run("refusals", func(t *testing.T) {
		for _, tt := range []struct {
			name, start, size string
			edit              func(f *fakeSystem)
			major, minor      uint32
			want              string
		}{
			{"unknown device", "6817792", "524288", nil, 8, 1, "not in sysfs"},
			{"whole disk", "6817792", "524288", nil, 254, 0, "not a partition"},
			{"kernel disagrees", "6817792", "600000", nil, 254, 4, "reboot so the kernel reads the table again"},
			{"4K sectors", "6817792", "524288", func(f *fakeSystem) {
				os.WriteFile(filepath.Join(f.sys, "devices/pci0000:00/virtio2/block/vda/queue/logical_block_size"), []byte("4096\n"), 0o644)
			}, 254, 4, "4096-byte logical sectors"},
			{"no table", "6817792", "524288", func(f *fakeSystem) { os.WriteFile(f.disk, make([]byte, 512), 0o644) }, 254, 4, "0x55AA"},
			{"no disk node", "6817792", "524288", func(f *fakeSystem) { os.Remove(f.disk) }, 254, 4, "run as root"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				f := newFakeSystem(t, card, tt.start, tt.size, kioskTable(t))
				if tt.edit != nil {
					tt.edit(f)
				}
				before, _ := os.ReadFile(f.disk)
				_, err := GrowNumber(tt.major, tt.minor, f.opts())
				if err == nil || !strings.Contains(err.Error(), tt.want) {
					t.Errorf("GrowNumber = %v, want an error saying %q", err, tt.want)
				}
				if after, _ := os.ReadFile(f.disk); string(after) != string(before) || len(f.resized) != 0 {
					t.Error("a refused grow changed the disk or told the kernel")
				}
			})
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
