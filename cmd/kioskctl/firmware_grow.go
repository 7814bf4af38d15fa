package main

import (
	"context"
	"fmt"

	"github.com/bali-rbdes/kiosk/firmware/mbr"
)

func runFirmwareGrowData(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware grow-data", "PARTITION", `Grow the kiosk's data partition to the end of its card (first boot,
kiosk-grow-data.service, before the partition is mounted): make image
writes a small data partition so that images flash quickly on any card.
PARTITION is its device node, e.g. /dev/disk/by-partuuid/4b494f53-04. It
must be a primary MBR partition and the last on the disk; only its entry
in the table changes. The running kernel is told the new size, and
systemd-growfs (x-systemd.growfs in fstab) grows the filesystem when it
is mounted. Nothing is done when the partition already fills the disk.
Needs root.`)
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want the data partition's device node")
	}
	res, err := mbr.GrowDevice(fs.Arg(0), nil)
	if err != nil {
		return err
	}
	size := func(sectors uint32) string { return byteSize(int64(sectors) * mbr.SectorSize) }
	if !res.Changed && res.NewSectors == res.OldSectors {
		fmt.Fprintf(st.out, "%s partition %d already fills the disk (%s)\n", res.Disk, res.Partition, size(res.NewSectors))
		return nil
	}
	if res.Changed {
		fmt.Fprintf(st.out, "grew %s partition %d from %s to %s\n", res.Disk, res.Partition, size(res.OldSectors), size(res.NewSectors))
	}
	if res.KernelErr != nil {
		fmt.Fprintf(st.err, "kioskctl: warning: %v\n", res.KernelErr)
	} else if !res.Changed {
		fmt.Fprintf(st.out, "told the kernel %s partition %d is %s (the table was grown at an earlier boot)\n", res.Disk, res.Partition, size(res.NewSectors))
	}
	return nil
}
