package main

import (
	"bytes"
	"context"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

func runExtractCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &stdio{out: &out, err: &errb}, append([]string{"extract"}, args...))
	return code, out.String(), errb.String()
}

// writeSynthPNG writes a synthetic 500 ppi impression as a PNG.
func writeSynthPNG(t *testing.T, path string, seed uint64) {
	t.Helper()
	g, err := synth.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	im := g.Finger(seed).Impression(0)
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, im.Image); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestExtractWritesRecords(t *testing.T) {
	in := t.TempDir()
	img := filepath.Join(in, "finger.one.png")
	writeSynthPNG(t, img, 7)
	for _, tt := range []struct {
		format string
		want   fmr.Format
	}{
		{"iso", fmr.ISO},
		{"ansi", fmr.ANSI},
	} {
		t.Run(tt.format, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "new", "dir")
			code, stdout, stderr := runExtractCLI(t, "-format", tt.format, "-v", "-o", out, img)
			if code != 0 {
				t.Fatalf("kioskctl extract exit %d, want 0; stderr: %s", code, stderr)
			}
			if !strings.Contains(stdout, "finger.one.ist") {
				t.Errorf("stdout %q does not name the record", stdout)
			}
			data, err := os.ReadFile(filepath.Join(out, "finger.one.ist"))
			if err != nil {
				t.Fatal(err)
			}
			rec, err := fmr.Unmarshal(data)
			if err != nil {
				t.Fatalf("record does not decode: %v", err)
			}
			if rec.Format != tt.want || len(rec.Views) != 1 {
				t.Fatalf("record is %v with %d views, want %v with 1", rec.Format, len(rec.Views), tt.want)
			}
			if rec.PPI() != 500 {
				t.Errorf("record resolution %d ppi, want 500", rec.PPI())
			}
			v := rec.Views[0]
			if len(v.Minutiae) < 10 {
				t.Errorf("record has %d minutiae, want at least 10 from a synthetic print", len(v.Minutiae))
			}
			for _, m := range v.Minutiae {
				if int(m.X) >= int(rec.Width) || int(m.Y) >= int(rec.Height) {
					t.Fatalf("minutia at (%d,%d) outside the %dx%d image", m.X, m.Y, rec.Width, rec.Height)
				}
			}
		})
	}
}

func TestExtractReportsFailuresAndGoesOn(t *testing.T) {
	in := t.TempDir()
	good := filepath.Join(in, "good.png")
	writeSynthPNG(t, good, 8)
	bad := filepath.Join(in, "bad.jpg")
	if err := os.WriteFile(bad, []byte("\xff\xd8\xff\xe0 not a fingerprint"), 0o644); err != nil {
		t.Fatal(err)
	}
	tiny := filepath.Join(in, "tiny.pgm")
	if err := os.WriteFile(tiny, []byte("P5 8 8 255\n"+strings.Repeat("\x80", 64)), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(in, "missing.tif")
	out := t.TempDir()
	code, _, stderr := runExtractCLI(t, "-o", out, bad, good, tiny, missing)
	if code != 1 {
		t.Fatalf("kioskctl extract exit %d, want 1; stderr: %s", code, stderr)
	}
	for _, name := range []string{"bad.jpg", "tiny.pgm", "missing.tif", "3 of 4 images failed"} {
		if !strings.Contains(stderr, name) {
			t.Errorf("stderr does not mention %s:\n%s", name, stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(out, "good.ist")); err != nil {
		t.Errorf("the good image after a bad one was not extracted: %v", err)
	}
	if _, err := os.Stat(filepath.Join(out, "bad.ist")); err == nil {
		t.Error("a record was written for an image that failed")
	}
}

func TestExtractUsage(t *testing.T) {
	for _, tt := range []struct {
		name string
		args []string
		code int
	}{
		{"help", []string{"-h"}, 0},
		{"no output dir", []string{"x.png"}, 2},
		{"no images", []string{"-o", "out"}, 2},
		{"bad format", []string{"-format", "xml", "-o", "out", "x.png"}, 2},
		{"bad ppi", []string{"-ppi", "20", "-o", "out", "x.png"}, 2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, stderr := runExtractCLI(t, tt.args...); code != tt.code {
				t.Errorf("kioskctl extract %v exit %d, want %d; stderr: %s", tt.args, code, tt.code, stderr)
			}
		})
	}
}
