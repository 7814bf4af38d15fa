package targets

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// repoRoot is the repository root, where the Makefile is.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Makefile")); err != nil {
		t.Fatalf("no Makefile in %s: %v", dir, err)
	}
	return dir
}

// runMake runs make -s TARGET VAR=value... in the repository root and
// returns its exit status and combined output.
func runMake(t *testing.T, args ...string) (int, string) {
	t.Helper()
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("no make on this machine")
	}
	cmd := exec.Command("make", append([]string{"-s", "--no-print-directory"}, args...)...)
	cmd.Dir = repoRoot(t)
	cmd.Env = hostEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err == nil {
		return 0, out.String()
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	t.Fatalf("make %v: %v", args, err)
	return -1, ""
}

// need skips the test when a tool is missing, except in CI, where it has
// firmware/scripts/deps.sh install it (as .ci/deps does for the other
// tests) and fails if that does not work.
// hostEnv is the environment for the tools a test runs on the machine
// itself (make, go run): without the GOOS, GOARCH and GOARM that make
// test-arm sets to cross-compile the tests, so the tools are built for the
// machine and not for the emulated board.
func hostEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if name != "GOOS" && name != "GOARCH" && name != "GOARM" {
			env = append(env, kv)
		}
	}
	return env
}

func need(t *testing.T, depsTarget string, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err == nil {
			continue
		}
		if os.Getenv("CI") != "true" {
			t.Skipf("%s is not installed (firmware/scripts/deps.sh %s installs it)", tool, depsTarget)
		}
		cmd := exec.Command(filepath.Join(repoRoot(t), "firmware/scripts/deps.sh"), depsTarget)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("%s is missing and firmware/scripts/deps.sh %s failed: %v\n%s", tool, depsTarget, err, out)
		}
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is still missing after firmware/scripts/deps.sh %s", tool, depsTarget)
		}
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}
