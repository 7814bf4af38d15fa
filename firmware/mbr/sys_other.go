//go:build !linux

package mbr

import (
	"errors"
	"os"
)

var errNotLinux = errors.New("mbr: growing a partition needs Linux")

func blockDevNumber(string) (uint32, uint32, error) { return 0, 0, errNotLinux }

func blkpgResize(*os.File, int, int64, int64) error { return errNotLinux }
