package matcher

import (
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns the shared test-data directory: $KIOSK_TESTDATA, else
// ../shared/data beside the directory holding go.mod. It skips the test when
// the data is absent, or fails it when CI=true.
func sharedData(t testing.TB, sub string) string {
	t.Helper()
	dir := os.Getenv("KIOSK_TESTDATA")
	if dir == "" {
		wd, err := os.Getwd()
		if err != nil {
			t.Fatalf("getwd: %v", err)
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				dir = filepath.Join(d, "..", "shared", "data")
				break
			}
			if filepath.Dir(d) == d {
				break
			}
		}
	}
	p := filepath.Join(dir, sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s missing (set KIOSK_TESTDATA): %v", sub, err)
		}
		t.Skipf("test data %s not found (set KIOSK_TESTDATA to the shared data directory): %v", sub, err)
	}
	return p
}
