package main

import (
	"syscall"
	"time"
	"unsafe"
)

// clockThreadCPUTimeID is CLOCK_THREAD_CPUTIME_ID, which package syscall
// does not name.
const clockThreadCPUTimeID = 3

// threadCPUTime returns the CPU time the calling OS thread has used, to the
// nanosecond (getrusage's per-thread figures are too coarse), or a
// negative value if the kernel does not say.
func threadCPUTime() time.Duration {
	var ts syscall.Timespec
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		return -1
	}
	return time.Duration(ts.Nano())
}

// haveThreadCPUTime reports whether threadCPUTime works here.
func haveThreadCPUTime() bool { return threadCPUTime() >= 0 }
