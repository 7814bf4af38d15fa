package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// fvcData returns the FVC2002 folder of the shared test data ($KIOSK_TESTDATA,
// else ../shared/data beside the module root); it skips the test when the
// data is absent, or fails it when CI=true.
func fvcData(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KIOSK_TESTDATA")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for d := wd; filepath.Dir(d) != d; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared", "data")
				break
			}
		}
	}
	p := filepath.Join(dir, "fvc2002")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("FVC2002 test data missing (set KIOSK_TESTDATA): %v", err)
		}
		t.Skipf("FVC2002 test data not found (set KIOSK_TESTDATA): %v", err)
	}
	return p
}

// TestEvalFVC2002Targets runs make eval's evaluation and holds the
// extractor and matcher together to the targets: mean EER at most 3.0% and
// mean FNMR at FMR 0.1% at most 10% over the four FVC2002 B sets, with no
// failure to extract.
func TestEvalFVC2002Targets(t *testing.T) {
	if testing.Short() {
		t.Skip("extracts and matches the 320 FVC2002 B-set images")
	}
	root := fvcData(t)
	code, out, errOut := runMatchEvalCLI(t, "eval",
		filepath.Join(root, "DB1_B"), filepath.Join(root, "DB2_B")+":569", filepath.Join(root, "DB3_B"), filepath.Join(root, "DB4_B"))
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	t.Logf("\n%s", out)
	var mean []string
	for _, line := range strings.Split(out, "\n") {
		if f := strings.Fields(line); len(f) > 0 && f[0] == "mean" {
			mean = f
		}
	}
	// mean images failed minutiae EER FNMR@1% FNMR@0.1% ...
	if len(mean) < 7 {
		t.Fatalf("no mean line in:\n%s", out)
	}
	pct := regexp.MustCompile(`^([0-9.]+)%$`)
	value := func(s string) float64 {
		m := pct.FindStringSubmatch(s)
		if m == nil {
			t.Fatalf("%q is not a percentage", s)
		}
		v, _ := strconv.ParseFloat(m[1], 64)
		return v
	}
	if failed := mean[2]; failed != "0" {
		t.Errorf("%s failures to extract, want 0", failed)
	}
	if eer := value(mean[4]); eer > 3.0 {
		t.Errorf("mean EER %.2f%%, want at most 3.0%%", eer)
	}
	if fnmr := value(mean[6]); fnmr > 10 {
		t.Errorf("mean FNMR at FMR 0.1%% %.2f%%, want at most 10%%", fnmr)
	}
}
