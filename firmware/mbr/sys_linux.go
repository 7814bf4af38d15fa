package mbr

import (
	"fmt"
	"os"
	"runtime"
	"unsafe"

	"golang.org/x/sys/unix"
)

// blockDevNumber returns the device number of the block device node path.
func blockDevNumber(path string) (major, minor uint32, err error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, 0, fmt.Errorf("mbr: %s: %w (is the data partition there?)", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return 0, 0, fmt.Errorf("mbr: %s is not a block device", path)
	}
	return unix.Major(uint64(st.Rdev)), unix.Minor(uint64(st.Rdev)), nil
}

// blkpg is BLKPG, _IO(0x12, 105).
const blkpg = 0x1269

// blkpgResize tells the kernel a partition's new extent, as growpart and
// resizepart do; it works while other partitions of the disk are in use.
func blkpgResize(disk *os.File, number int, start, length int64) error {
	p := unix.BlkpgPartition{Start: start, Length: length, Pno: int32(number)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, disk.Fd(), blkpg, uintptr(unsafe.Pointer(&arg)))
	runtime.KeepAlive(&p)
	runtime.KeepAlive(&arg)
	if errno != 0 {
		return errno
	}
	return nil
}
