package main

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// diskSpace reports the bytes an unprivileged writer may still use on the
// filesystem holding dir, and the filesystem's size.
type diskSpace func(dir string) (free, size int64, err error)

func statDisk(dir string) (free, size int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", dir, err)
	}
	bs := int64(st.Bsize)
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil
}
