//go:build !linux

package synth

import "time"

// threadCPU is unavailable off Linux; benchmarks then report wall time only.
func threadCPU() (time.Duration, bool) { return 0, false }
