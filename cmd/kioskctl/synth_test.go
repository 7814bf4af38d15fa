package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fingerimage"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

func runSynthCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &stdio{out: &out, err: &errb}, append([]string{"synth"}, args...))
	return code, out.String(), errb.String()
}

func TestSynthWritesFVCLayoutWithTruth(t *testing.T) {
	dir := t.TempDir()
	code, _, stderr := runSynthCLI(t, "-n", "2", "-impressions", "2", "-seed", "5", "-sensor", "r30x", "-o", dir)
	if code != 0 {
		t.Fatalf("kioskctl synth exit %d, want 0; stderr: %s", code, stderr)
	}
	for _, name := range []string{"101_1", "101_2", "102_1", "102_2"} {
		png, err := os.ReadFile(filepath.Join(dir, name+".png"))
		if err != nil {
			t.Fatal(err)
		}
		img, err := fingerimage.DecodeBytes(png)
		if err != nil {
			t.Fatalf("%s.png: %v", name, err)
		}
		if img.PPI != 508 || img.Gray.Bounds().Dx() != 256 || img.Gray.Bounds().Dy() != 288 {
			t.Errorf("%s.png: %v at %d ppi, want 256x288 at 508", name, img.Gray.Bounds(), img.PPI)
		}
		js, err := os.ReadFile(filepath.Join(dir, name+".json"))
		if err != nil {
			t.Fatal(err)
		}
		tf, err := synth.ParseTruthFile(js)
		if err != nil {
			t.Fatalf("%s.json: %v", name, err)
		}
		if tf.Width != 256 || tf.Height != 288 || tf.PPI != 508 || tf.Sensor != "r30x" {
			t.Errorf("%s.json: %dx%d at %d ppi from %q, want 256x288 at 508 ppi from r30x", name, tf.Width, tf.Height, tf.PPI, tf.Sensor)
		}
		ist, err := os.ReadFile(filepath.Join(dir, name+".ist"))
		if err != nil {
			t.Fatal(err)
		}
		rec, err := fmr.Unmarshal(ist)
		if err != nil {
			t.Fatalf("%s.ist: %v", name, err)
		}
		if rec.Format != fmr.ISO || len(rec.Views) != 1 {
			t.Fatalf("%s.ist: format %v with %d views, want ISO with 1", name, rec.Format, len(rec.Views))
		}
		if got, want := len(rec.Views[0].Minutiae), len(tf.Minutiae); got != want {
			t.Errorf("%s.ist has %d minutiae, %s.json %d", name, got, name, want)
		}
		for i, m := range rec.Views[0].Minutiae {
			tm := tf.Minutiae[i]
			if m.Angle != tm.Angle || int(m.X) != int(tm.X+0.5) || int(m.Y) != int(tm.Y+0.5) {
				t.Errorf("%s minutia %d: record (%d,%d) angle %d, json (%.1f,%.1f) angle %d", name, i, m.X, m.Y, m.Angle, tm.X, tm.Y, tm.Angle)
			}
		}
	}
	// Every ten fingers are one traveller: fingers 101 and 102 are
	// positions 1 and 2 of the same one.
	a, _ := os.ReadFile(filepath.Join(dir, "101_1.json"))
	b, _ := os.ReadFile(filepath.Join(dir, "102_1.json"))
	ta, _ := synth.ParseTruthFile(a)
	tb, _ := synth.ParseTruthFile(b)
	if ta.TravellerSeed != tb.TravellerSeed || ta.Position != 1 || tb.Position != 2 {
		t.Errorf("fingers 101, 102: travellers %d, %d positions %d, %d; want one traveller, positions 1, 2", ta.TravellerSeed, tb.TravellerSeed, ta.Position, tb.Position)
	}
}

func TestSynthIsReproducible(t *testing.T) {
	d1, d2 := t.TempDir(), t.TempDir()
	for _, c := range []struct{ dir, jobs string }{{d1, "1"}, {d2, "3"}} {
		if code, _, stderr := runSynthCLI(t, "-n", "3", "-impressions", "2", "-seed", "9", "-sensor", "fpc1020", "-j", c.jobs, "-o", c.dir); code != 0 {
			t.Fatalf("exit %d: %s", code, stderr)
		}
	}
	ents, err := os.ReadDir(d1)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 3*2*3 {
		t.Errorf("%d files, want 18", len(ents))
	}
	for _, e := range ents {
		a, _ := os.ReadFile(filepath.Join(d1, e.Name()))
		b, err := os.ReadFile(filepath.Join(d2, e.Name()))
		if err != nil || !bytes.Equal(a, b) {
			t.Errorf("%s differs between -j 1 and -j 3 (err %v)", e.Name(), err)
		}
	}
}

func TestSynthFlags(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"help", []string{"-h"}, 0, "usage: kioskctl synth"},
		{"no output dir", []string{"-n", "1"}, 2, "-o DIR is required"},
		{"bad sensor", []string{"-sensor", "ccd", "-o", dir}, 2, "unknown sensor"},
		{"zero fingers", []string{"-n", "0", "-o", dir}, 2, "want 1 to 899"},
		{"too many impressions", []string{"-impressions", "100", "-o", dir}, 2, "want 1 to 99"},
		{"stray argument", []string{"-o", dir, "extra"}, 2, "unexpected argument"},
		{"unknown flag", []string{"-x"}, 2, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			code, _, stderr := runSynthCLI(t, c.args...)
			if code != c.code {
				t.Errorf("kioskctl synth %s: exit %d, want %d; stderr: %s", strings.Join(c.args, " "), code, c.code, stderr)
			}
			if !strings.Contains(stderr, c.msg) {
				t.Errorf("kioskctl synth %s: stderr %q, want it to contain %q", strings.Join(c.args, " "), stderr, c.msg)
			}
		})
	}
}

func TestSynthUnwritableDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, stderr := runSynthCLI(t, "-n", "1", "-impressions", "1", "-o", filepath.Join(file, "sub"))
	if code != 1 || !strings.Contains(stderr, "cannot create output directory") {
		t.Errorf("exit %d stderr %q, want 1 and a message naming the output directory", code, stderr)
	}
}
