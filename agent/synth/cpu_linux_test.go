package synth

import (
	"syscall"
	"time"
)

// threadCPU returns the CPU time the calling OS thread has used, so that
// benchmarks can report cost that other load on the machine does not
// inflate. The caller locks itself to its thread.
func threadCPU() (time.Duration, bool) {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0, false
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()), true
}
