package main

import "syscall"

// demoChildAttr makes kioskd stop (SIGTERM) when kioskctl demo dies
// without cleaning up (SIGKILL), so that nothing is left running.
func demoChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}
