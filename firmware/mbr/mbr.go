// Package mbr reads and edits a disk's MBR (DOS) partition table, and grows
// a kiosk's data partition to the end of the card it was flashed to.
//
// make image writes a small image (the data partition is DATA_MIB, 256 MiB
// by default) so that flashing is quick on any card; at first boot
// kiosk-grow-data.service calls Grow before the data partition is mounted,
// and systemd-growfs (x-systemd.growfs in fstab) then grows its ext4
// filesystem to the new size. Only the one partition entry is changed, and
// only when that partition is the last on the disk.
package mbr

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// SectorSize is the logical sector size the table is read in. Disks with
// 4 KiB logical sectors are refused: kiosk cards and eMMC use 512.
const SectorSize = 512

// ErrInvalid wraps every reason a sector is not a usable MBR table.
var ErrInvalid = errors.New("mbr: not a usable MBR partition table")

// Entry is one of the four primary partition entries.
type Entry struct {
	Bootable bool
	// Type is the partition type byte (0x83 Linux, 0x0c FAT32 LBA, ...);
	// 0 marks an unused entry.
	Type byte
	// Start and Sectors are in SectorSize units.
	Start, Sectors uint32
}

// End is the sector after the partition's last.
func (e Entry) End() uint64 { return uint64(e.Start) + uint64(e.Sectors) }

// Used reports whether the entry describes a partition.
func (e Entry) Used() bool { return e.Type != 0 && e.Sectors != 0 }

// Table is a parsed MBR sector. Bytes re-encodes it, keeping the boot code,
// the disk signature and the CHS fields of entries it did not change.
type Table struct {
	Entries [4]Entry
	raw     [SectorSize]byte
}

const (
	entriesAt = 446
	entrySize = 16
)

// Parse reads the first sector of a disk. It refuses a sector without the
// 0x55AA signature, a GPT protective table, and entries that overlap or
// whose status byte is neither 0x00 nor 0x80.
func Parse(sector []byte) (*Table, error) {
	if len(sector) < SectorSize {
		return nil, fmt.Errorf("%w: %d bytes, want a %d-byte sector", ErrInvalid, len(sector), SectorSize)
	}
	t := &Table{}
	copy(t.raw[:], sector)
	if t.raw[510] != 0x55 || t.raw[511] != 0xAA {
		return nil, fmt.Errorf("%w: no 0x55AA boot signature (an unpartitioned or damaged disk)", ErrInvalid)
	}
	for i := range t.Entries {
		b := t.raw[entriesAt+i*entrySize:][:entrySize]
		if b[0] != 0 && b[0] != 0x80 {
			return nil, fmt.Errorf("%w: entry %d has status 0x%02x (want 0x00 or 0x80)", ErrInvalid, i+1, b[0])
		}
		e := Entry{Bootable: b[0] == 0x80, Type: b[4], Start: binary.LittleEndian.Uint32(b[8:]), Sectors: binary.LittleEndian.Uint32(b[12:])}
		if e.Type == 0xEE {
			return nil, fmt.Errorf("%w: a GPT protective entry (the disk is GPT-partitioned; grow it with a GPT tool)", ErrInvalid)
		}
		if e.Used() && e.Start == 0 {
			return nil, fmt.Errorf("%w: entry %d starts at sector 0, over the table itself", ErrInvalid, i+1)
		}
		t.Entries[i] = e
	}
	for i, a := range t.Entries {
		for j, b := range t.Entries[i+1:] {
			if a.Used() && b.Used() && uint64(a.Start) < b.End() && uint64(b.Start) < a.End() {
				return nil, fmt.Errorf("%w: entries %d and %d overlap", ErrInvalid, i+1, i+j+2)
			}
		}
	}
	return t, nil
}

// Bytes encodes the table into a sector.
func (t *Table) Bytes() []byte {
	out := t.raw
	for i, e := range t.Entries {
		b := out[entriesAt+i*entrySize:][:entrySize]
		b[0] = 0
		if e.Bootable {
			b[0] = 0x80
		}
		b[4] = e.Type
		binary.LittleEndian.PutUint32(b[8:], e.Start)
		binary.LittleEndian.PutUint32(b[12:], e.Sectors)
	}
	out[510], out[511] = 0x55, 0xAA
	return out[:]
}

// extended reports whether a type byte is an extended partition, whose
// logical partitions live in a chain of tables this package does not edit.
func extended(typ byte) bool { return typ == 0x05 || typ == 0x0F || typ == 0x85 }

// Grow extends partition number (1-4) to the end of a disk of diskSectors
// sectors, rounded down so that it ends on a multiple of align sectors
// (2048: 1 MiB), and at most to the 2 TiB an MBR can address. It returns
// the partition's new size in sectors and whether anything changed: a
// partition that would gain less than align sectors is left as it is. It
// refuses a partition that is not the last on the disk, an extended one,
// and one that already reaches past the disk's end.
func (t *Table) Grow(number int, diskSectors uint64, align uint32) (sectors uint32, changed bool, err error) {
	if number < 1 || number > 4 {
		return 0, false, fmt.Errorf("mbr: partition %d is not a primary partition (1-4)", number)
	}
	if align == 0 {
		align = 1
	}
	e := t.Entries[number-1]
	switch {
	case !e.Used():
		return 0, false, fmt.Errorf("mbr: partition %d is not in the table", number)
	case extended(e.Type):
		return 0, false, fmt.Errorf("mbr: partition %d is an extended partition; grow a logical partition with a partitioning tool", number)
	case e.End() > diskSectors:
		return 0, false, fmt.Errorf("mbr: partition %d ends at sector %d, past the disk's %d sectors (an image written to a smaller disk?)", number, e.End(), diskSectors)
	}
	for i, o := range t.Entries {
		if i != number-1 && o.Used() && o.Start >= e.Start {
			return 0, false, fmt.Errorf("mbr: partition %d is not the last on the disk (partition %d starts at sector %d, after it)", number, i+1, o.Start)
		}
	}
	end := min(diskSectors, 1<<32-1)
	end -= end % uint64(align)
	if end < e.End()+uint64(align) {
		return e.Sectors, false, nil
	}
	e.Sectors = uint32(end - uint64(e.Start))
	t.Entries[number-1] = e
	// The CHS end of a partition past cylinder 1023 is the conventional
	// maximum (as sfdisk and fdisk write it); every reader uses the LBA.
	b := t.raw[entriesAt+(number-1)*entrySize:][:entrySize]
	b[5], b[6], b[7] = 0xFE, 0xFF, 0xFF
	return e.Sectors, true, nil
}
