//go:build !linux

package matcher

import "testing"

// cpuTimer reports nothing where the thread CPU clock is not available.
func cpuTimer(b *testing.B) func() { return func() {} }
