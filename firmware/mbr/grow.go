package mbr

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// GrowOptions adjusts GrowDevice; the zero value is the real system.
type GrowOptions struct {
	// SysRoot and DevRoot are where sysfs and the device nodes are ("/sys"
	// and "/dev"); tests point them at directories.
	SysRoot, DevRoot string
	// Align is the sector multiple the partition ends on; default 2048
	// (1 MiB).
	Align uint32
	// Resize tells the kernel the partition's new extent (bytes) on the
	// open disk; default the BLKPG_RESIZE_PARTITION ioctl.
	Resize func(disk *os.File, number int, start, length int64) error
}

// GrowResult says what GrowDevice did.
type GrowResult struct {
	Disk       string // the whole disk's device node, e.g. /dev/mmcblk0
	Partition  int    // 1-4
	OldSectors uint32 // the partition's size before, in sectors
	NewSectors uint32
	// Changed reports that the table on the disk was rewritten.
	Changed bool
	// KernelErr is why the running kernel could not be told the new size
	// (the filesystem then grows after the next reboot); nil when it was,
	// or when nothing needed telling.
	KernelErr error
}

// GrowDevice grows the MBR partition whose device node is part (a path
// such as /dev/disk/by-partuuid/4b494f53-04; symlinks are followed) to the
// end of its disk, and tells the running kernel. The partition must not be
// mounted yet for the filesystem on it to be grown by systemd-growfs at
// mount; the table is rewritten with one sector write and an fsync.
func GrowDevice(part string, o *GrowOptions) (*GrowResult, error) {
	major, minor, err := blockDevNumber(part)
	if err != nil {
		return nil, err
	}
	return GrowNumber(major, minor, o)
}

// GrowNumber is GrowDevice for the partition with device number
// major:minor.
func GrowNumber(major, minor uint32, o *GrowOptions) (*GrowResult, error) {
	opt := GrowOptions{SysRoot: "/sys", DevRoot: "/dev", Align: 2048, Resize: blkpgResize}
	if o != nil {
		if o.SysRoot != "" {
			opt.SysRoot = o.SysRoot
		}
		if o.DevRoot != "" {
			opt.DevRoot = o.DevRoot
		}
		if o.Align != 0 {
			opt.Align = o.Align
		}
		if o.Resize != nil {
			opt.Resize = o.Resize
		}
	}
	id := fmt.Sprintf("%d:%d", major, minor)
	partDir, err := filepath.EvalSymlinks(filepath.Join(opt.SysRoot, "dev", "block", id))
	if err != nil {
		return nil, fmt.Errorf("mbr: block device %s is not in sysfs: %w", id, err)
	}
	number, err := sysInt(partDir, "partition")
	if err != nil {
		return nil, fmt.Errorf("mbr: block device %s is not a partition (%w); name the data partition, not the whole disk", id, err)
	}
	start, err := sysInt(partDir, "start")
	if err != nil {
		return nil, err
	}
	size, err := sysInt(partDir, "size")
	if err != nil {
		return nil, err
	}
	diskDir := filepath.Dir(partDir)
	diskSectors, err := sysInt(diskDir, "size")
	if err != nil {
		return nil, err
	}
	if lbs, err := sysInt(diskDir, "queue/logical_block_size"); err == nil && lbs != SectorSize {
		return nil, fmt.Errorf("mbr: the disk has %d-byte logical sectors; only %d-byte sectors are supported", lbs, SectorSize)
	}
	name, err := devName(diskDir)
	if err != nil {
		return nil, err
	}
	res := &GrowResult{Disk: filepath.Join(opt.DevRoot, name), Partition: int(number)}

	disk, err := os.OpenFile(res.Disk, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("mbr: opening the disk %s to grow partition %d: %w (run as root)", res.Disk, number, err)
	}
	defer disk.Close()
	sector := make([]byte, SectorSize)
	if _, err := disk.ReadAt(sector, 0); err != nil {
		return nil, fmt.Errorf("mbr: reading the partition table of %s: %w", res.Disk, err)
	}
	t, err := Parse(sector)
	if err != nil {
		return nil, fmt.Errorf("%w (disk %s)", err, res.Disk)
	}
	if number < 1 || number > 4 {
		return nil, fmt.Errorf("mbr: %s partition %d is a logical partition; only primary partitions 1-4 are grown", res.Disk, number)
	}
	e := t.Entries[number-1]
	if uint64(e.Start) != start || uint64(e.Sectors) < size {
		return nil, fmt.Errorf("mbr: %s partition %d is sectors %d+%d in the table but %d+%d to the kernel; reboot so the kernel reads the table again",
			res.Disk, number, e.Start, e.Sectors, start, size)
	}
	res.OldSectors = uint32(size)
	res.NewSectors, res.Changed, err = t.Grow(int(number), diskSectors, opt.Align)
	if err != nil {
		return nil, fmt.Errorf("%w (disk %s)", err, res.Disk)
	}
	if res.Changed {
		if _, err := disk.WriteAt(t.Bytes(), 0); err != nil {
			return nil, fmt.Errorf("mbr: writing the partition table of %s: %w", res.Disk, err)
		}
		if err := disk.Sync(); err != nil {
			return nil, fmt.Errorf("mbr: syncing the partition table of %s: %w", res.Disk, err)
		}
	}
	// A table grown at an earlier boot whose kernel was not told is told
	// now, as is a table just written.
	if uint64(res.NewSectors) != size {
		if err := opt.Resize(disk, int(number), int64(start)*SectorSize, int64(res.NewSectors)*SectorSize); err != nil {
			res.KernelErr = fmt.Errorf("mbr: telling the kernel the new size of %s partition %d: %w; it applies at the next boot", res.Disk, number, err)
		}
	}
	return res, nil
}

// sysInt reads a decimal sysfs attribute.
func sysInt(dir, name string) (uint64, error) {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return 0, fmt.Errorf("mbr: reading sysfs %s: %w", filepath.Join(dir, name), err)
	}
	v, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("mbr: sysfs %s holds %q, not a number", filepath.Join(dir, name), strings.TrimSpace(string(b)))
	}
	return v, nil
}

// devName returns a sysfs block device's node name (DEVNAME in uevent).
func devName(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "uevent"))
	if err != nil {
		return "", fmt.Errorf("mbr: reading sysfs %s: %w", filepath.Join(dir, "uevent"), err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "DEVNAME="); ok && v != "" && !strings.Contains(v, "..") {
			return v, nil
		}
	}
	return "", errors.New("mbr: sysfs " + filepath.Join(dir, "uevent") + " names no DEVNAME")
}
