package main

import (
	"errors"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if dir := os.Getenv(childEnv); dir != "" {
		runChild(dir)
		return
	}
	os.Exit(m.Run())
}

// TestSoak is the short form of make soak-outbox: 50 SIGKILL cycles (10
// with -short).
func TestSoak(t *testing.T) {
	defer goleak.VerifyNone(t)
	cycles := 50
	if testing.Short() {
		cycles = 10
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := exec.Command(exe, "-test.run=^$").Run(); errors.Is(err, syscall.ENOEXEC) {
		// Under qemu-user (make test-arm) without binfmt_misc the test binary
		// cannot start itself as the child.
		t.Skipf("cannot run %s as a child process here: %v", exe, err)
	}
	res, err := Run(Config{Dir: t.TempDir(), Cycles: cycles, Seed: uint64(time.Now().UnixNano()), MaxKill: 200 * time.Millisecond,
		Child: exec.Command(exe), Log: testLog{t}})
	if err != nil || !res.OK() {
		t.Fatalf("soak: %v: %v", res, err)
	}
	if res.Appended == 0 {
		t.Fatalf("soak: %v: the child saved nothing", res)
	}
	t.Log(res)
}

type testLog struct{ t *testing.T }

func (l testLog) Write(p []byte) (int, error) { l.t.Log(string(p)); return len(p), nil }
