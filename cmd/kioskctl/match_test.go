package main

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

func runMatchEvalCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &stdio{out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

// writeRecordFile writes minutiae as a record of the given format.
func writeRecordFile(t *testing.T, path string, f fmr.Format, ppi int, ms []fmr.Minutia) {
	t.Helper()
	b, err := fmr.Marshal(&fmr.Record{Format: f, Width: 800, Height: 800, ResX: fmr.PPIToPPCM(ppi), ResY: fmr.PPIToPPCM(ppi), Views: []fmr.View{{Minutiae: ms}}})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func randomMinutiae(seed uint64, n int) []fmr.Minutia {
	rng := rand.New(rand.NewPCG(seed, 9))
	ms := make([]fmr.Minutia, n)
	for i := range ms {
		ms[i] = fmr.Minutia{Kind: fmr.Kind(1 + rng.IntN(2)), X: uint16(50 + rng.IntN(300)), Y: uint16(50 + rng.IntN(300)), Angle: uint8(rng.IntN(256)), Quality: 60}
	}
	return ms
}

func lastLineScore(t *testing.T, out string) float64 {
	t.Helper()
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	v, err := strconv.ParseFloat(lines[len(lines)-1], 64)
	if err != nil {
		t.Fatalf("last line %q is not a number: %v", lines[len(lines)-1], err)
	}
	return v
}

func TestMatch(t *testing.T) {
	dir := t.TempDir()
	a, b := randomMinutiae(1, 40), randomMinutiae(2, 40)
	writeRecordFile(t, filepath.Join(dir, "a.ist"), fmr.ISO, 500, a)
	writeRecordFile(t, filepath.Join(dir, "a-ansi.ist"), fmr.ANSI, 500, a)
	writeRecordFile(t, filepath.Join(dir, "b.ist"), fmr.ISO, 500, b)
	// a at 569 ppi: the same finger, coordinates scaled.
	a569 := make([]fmr.Minutia, len(a))
	for i, m := range a {
		m.X, m.Y = uint16(float64(m.X)*569/500), uint16(float64(m.Y)*569/500)
		a569[i] = m
	}
	writeRecordFile(t, filepath.Join(dir, "a569.ist"), fmr.ISO, 569, a569)
	tests := []struct {
		name     string
		a, b     string
		min, max float64
	}{
		{"same record", "a.ist", "a.ist", 0.85, 1},
		{"ISO against ANSI", "a.ist", "a-ansi.ist", 0.6, 1},
		{"500 against 569 ppi", "a.ist", "a569.ist", 0.5, 1},
		{"different fingers", "a.ist", "b.ist", 0, 0.2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runMatchEvalCLI(t, "match", filepath.Join(dir, tt.a), filepath.Join(dir, tt.b))
			if code != 0 {
				t.Fatalf("exit %d, stderr %s", code, errOut)
			}
			if s := lastLineScore(t, out); s < tt.min || s > tt.max {
				t.Errorf("score %v, want in [%v, %v]", s, tt.min, tt.max)
			}
		})
	}
	code, out, errOut := runMatchEvalCLI(t, "match", "-v", filepath.Join(dir, "a.ist"), filepath.Join(dir, "b.ist"))
	if code != 0 || !strings.Contains(errOut, "40 minutiae") || strings.Count(out, "\n") != 1 {
		t.Errorf("match -v: exit %d, stdout %q, stderr %q; want the score alone on stdout and the records described on stderr", code, out, errOut)
	}
}

func TestMatchErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.ist")
	writeRecordFile(t, good, fmr.ISO, 500, randomMinutiae(3, 10))
	bad := filepath.Join(dir, "bad.ist")
	if err := os.WriteFile(bad, []byte("FMR\x00 20\x00\x00\x00\x00\x05"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"-h"}, 0, "usage: kioskctl match"},
		{"one file", []string{good}, 2, "exactly two"},
		{"missing file", []string{good, filepath.Join(dir, "none.ist")}, 1, "no such file"},
		{"malformed record", []string{good, bad}, 1, "malformed"},
		{"no such view", []string{"-view-b", "3", good, good}, 1, "no view 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, errOut := runMatchEvalCLI(t, append([]string{"match"}, tt.args...)...)
			if code != tt.code || !strings.Contains(errOut, tt.msg) {
				t.Errorf("exit %d, stderr %q; want exit %d mentioning %q", code, errOut, tt.code, tt.msg)
			}
		})
	}
}
