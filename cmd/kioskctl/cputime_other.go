//go:build !linux

package main

import "time"

func threadCPUTime() time.Duration { return -1 }

func haveThreadCPUTime() bool { return false }
