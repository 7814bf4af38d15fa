//go:build !linux

package main

import "syscall"

// demoChildAttr: only Linux can tie kioskd's life to kioskctl's.
func demoChildAttr() *syscall.SysProcAttr { return nil }
