package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func TestEvalImages(t *testing.T) {
	if testing.Short() {
		t.Skip("renders and extracts synthetic images")
	}
	dir := t.TempDir()
	for f := 1; f <= 3; f++ {
		for i := 1; i <= 2; i++ {
			writeSynthPNG(t, filepath.Join(dir, fmt.Sprintf("10%d_%d.png", f, i)), uint64(10*f+i))
		}
	}
	code, out, errOut := runMatchEvalCLI(t, "eval", "-details", dir+":500")
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	for _, want := range []string{"EER", "FNMR@FMR0.1%", "ms/image", "ms/match", filepath.Base(dir), "3 genuine, 12 impostor"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
}

func TestEvalTemplates(t *testing.T) {
	dir := t.TempDir()
	for f := 1; f <= 4; f++ {
		ms := randomMinutiae(uint64(f), 35)
		for i := 1; i <= 3; i++ {
			writeRecordFile(t, filepath.Join(dir, fmt.Sprintf("%d_%d.ist", 100+f, i)), fmr.ISO, 500, ms[i:])
		}
	}
	code, out, errOut := runMatchEvalCLI(t, "eval", dir, dir)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.HasPrefix(strings.TrimSpace(lines[3]), "mean") {
		t.Fatalf("want a header, two databases and the mean, got:\n%s", out)
	}
	if !strings.Contains(lines[1], " 0.00% ") {
		t.Errorf("identical-finger templates should separate perfectly (EER 0.00%%):\n%s", out)
	}
}

func TestEvalErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "101_1.ist"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"-h"}, 0, "usage: kioskctl eval"},
		{"no folder", nil, 2, "at least one"},
		{"bad ppi", []string{"-ppi", "10", dir}, 2, "-ppi 10"},
		{"bad folder ppi", []string{dir + ":9000"}, 2, "9000"},
		{"bad workers", []string{"-workers", "0", dir}, 2, "-workers"},
		{"missing folder", []string{filepath.Join(dir, "none")}, 1, "no such file"},
		{"empty folder", []string{t.TempDir()}, 1, "no NNN_K"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runMatchEvalCLI(t, append([]string{"eval"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
	// A malformed template is a failure to extract, not an error.
	code, out, errOut := runMatchEvalCLI(t, "eval", dir)
	if code != 0 || !strings.Contains(out, "failed") {
		t.Errorf("eval of a folder with one malformed template: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
}
