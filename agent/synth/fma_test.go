package synth

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"testing"
)

// TestNoFusedMultiplyAdd builds this package's tests for arm64, where Go
// fuses x*y+z into one instruction unless an explicit conversion forbids
// it, and checks that the disassembly of the package's own functions has
// no fused multiply-add: one would make arm64 machines generate different
// fingerprints from amd64 ones. (On armv7 the compiler uses VMLA/VMLS,
// which round the product first and so give the same bits as separate
// instructions; TestGolden under qemu covers it.)
func TestNoFusedMultiplyAdd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and disassembles the package for arm64; skipped with -short")
	}
	if runtime.GOOS != "linux" && runtime.GOOS != "darwin" {
		t.Skip("needs a Unix go toolchain")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("go toolchain not in PATH: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "synth_arm64.test")
	build := exec.Command(goBin, "test", "-c", "-o", bin, ".")
	build.Env = append(os.Environ(), "GOOS=linux", "GOARCH=arm64", "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go test -c for arm64: %v\n%s", err, out)
	}
	out, err := exec.Command(goBin, "tool", "objdump", "-s", `agent/synth\.`, bin).CombinedOutput()
	if err != nil {
		t.Fatalf("go tool objdump: %v\n%s", err, out)
	}
	fused := regexp.MustCompile(`(?m)^\s*(\S+\.go:\d+).*\b(FMADD[SD]|FMSUB[SD]|FNMADD[SD]|FNMSUB[SD])\b`)
	hits := fused.FindAllStringSubmatch(string(out), -1)
	for _, h := range hits {
		if regexp.MustCompile(`_test\.go:`).MatchString(h[1]) {
			continue // tests may fuse; they do not generate output
		}
		t.Errorf("%s: fused %s on arm64; wrap the product in float64(...)", h[1], h[2])
	}
	if len(regexp.MustCompile(`(?m)TEXT .*agent/synth\.`).FindAllString(string(out), -1)) < 20 {
		t.Errorf("disassembly lists too few functions of the package; did the objdump filter break?")
	}
}
