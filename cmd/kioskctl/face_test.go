package main

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fac"
	"github.com/bali-rbdes/kiosk/agent/face"
)

const facePortrait = "../../agent/face/testdata/astronaut.png"

func runFaceCLI(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), &stdio{out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

// portraitJPEG writes the test portrait as a JPEG file and returns its path.
func portraitJPEG(t *testing.T) string {
	t.Helper()
	f, err := os.Open(facePortrait)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "portrait.jpg")
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 92}); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

type detectLine struct {
	File  string `json:"file"`
	Faces []struct {
		X, Y, Size, Score float64
		LeftEye           []float64 `json:"left_eye"`
		RightEye          []float64 `json:"right_eye"`
	} `json:"faces"`
	Quality map[string]any `json:"quality"`
}

func TestFaceDetect(t *testing.T) {
	jpg := portraitJPEG(t)
	missing := filepath.Join(t.TempDir(), "missing.png")
	code, out, stderr := runFaceCLI(t, "face", "detect", "-min-face", "60", facePortrait, missing, jpg)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (one unreadable image); stderr: %s", code, stderr)
	}
	if !strings.Contains(stderr, "missing.png") {
		t.Errorf("stderr %q does not name the unreadable image", stderr)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("%d output lines, want 2 (PNG and JPEG):\n%s", len(lines), out)
	}
	for i, want := range []string{facePortrait, jpg} {
		var d detectLine
		if err := json.Unmarshal([]byte(lines[i]), &d); err != nil {
			t.Fatalf("line %d is not JSON: %v\n%s", i, err, lines[i])
		}
		if d.File != want || len(d.Faces) != 1 {
			t.Fatalf("line %d: file %q with %d faces, want %q with 1", i, d.File, len(d.Faces), want)
		}
		f := d.Faces[0]
		// The subject's right eye is on the image's left.
		if len(f.RightEye) != 2 || len(f.LeftEye) != 2 || f.RightEye[0] >= f.LeftEye[0] {
			t.Errorf("line %d: eyes right %v left %v, want both, right eye left of the left eye", i, f.RightEye, f.LeftEye)
		}
		for _, m := range face.MeasureNames() {
			v, ok := d.Quality[m].(float64)
			if !ok || v < 0 || v > 100 {
				t.Errorf("line %d: quality.%s = %v, want 0..100", i, m, d.Quality[m])
			}
		}
		if _, ok := d.Quality["accept"].(bool); !ok {
			t.Errorf("line %d: quality.accept missing", i)
		}
		if _, ok := d.Quality["reasons"].([]any); !ok {
			t.Errorf("line %d: quality.reasons missing", i)
		}
	}
	// Measure names come in the pipeline's order.
	if i, j := strings.Index(lines[0], `"inter_eye_distance"`), strings.Index(lines[0], `"background_uniformity"`); i < 0 || j < i {
		t.Errorf("measures out of order: %s", lines[0])
	}
}

func TestFaceDetectNoFace(t *testing.T) {
	blank := filepath.Join(t.TempDir(), "blank.png")
	var b bytes.Buffer
	if err := png.Encode(&b, newGray(64, 48)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(blank, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, stderr := runFaceCLI(t, "face", "detect", blank)
	if code != 0 {
		t.Fatalf("exit %d, stderr %s", code, stderr)
	}
	want := `{"file":"` + blank + `","faces":[],"quality":{"accept":false,"reasons":["stand in front of the camera"]}}`
	if strings.TrimSpace(out) != want {
		t.Errorf("output %s\nwant   %s", out, want)
	}
}

func TestFaceToken(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "out.fac")
	code, stdout, stderr := runFaceCLI(t, "face", "token", facePortrait, "-o", out, "-min-face", "60", "-accept", "inter_eye_distance=30")
	if code != 0 {
		t.Fatalf("exit %d, stderr: %s", code, stderr)
	}
	if !strings.Contains(stdout, "480x640") || !strings.Contains(stdout, "accepted true") {
		t.Errorf("stdout %q, want the token size and the verdict", stdout)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := fac.Unmarshal(b)
	if err != nil {
		t.Fatalf("written record does not decode: %v", err)
	}
	if err := rec.Validate(); err != nil {
		t.Fatalf("written record does not validate: %v", err)
	}
	im := rec.Images[0]
	if im.FaceImageType != fac.ImageTypeTokenFrontal || im.Width != 480 || im.Height != 640 {
		t.Errorf("record image type %d %dx%d, want token frontal 480x640", im.FaceImageType, im.Width, im.Height)
	}
	if _, err := jpeg.Decode(bytes.NewReader(im.Data)); err != nil {
		t.Errorf("record image data is not a JPEG: %v", err)
	}
}

func TestFaceTokenStrict(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out.fac")
	// With the default thresholds the portrait is too small: "move closer".
	code, _, stderr := runFaceCLI(t, "face", "token", "-strict", "-min-face", "60", facePortrait, "-o", out)
	if code != 1 || !strings.Contains(stderr, "move closer") {
		t.Fatalf("exit %d, stderr %q; want 1 naming the reason", code, stderr)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("record written despite -strict: %v", err)
	}
	// Without -strict it is written with a warning.
	code, _, stderr = runFaceCLI(t, "face", "token", "-min-face", "60", facePortrait, "-o", out)
	if code != 0 || !strings.Contains(stderr, "warning") {
		t.Fatalf("exit %d, stderr %q; want 0 with a warning", code, stderr)
	}
}

func TestFaceUsage(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code int
	}{
		{"detect help", []string{"face", "detect", "-h"}, 0},
		{"token help", []string{"face", "token", "-h"}, 0},
		{"detect without images", []string{"face", "detect"}, 2},
		{"token without output", []string{"face", "token", facePortrait}, 2},
		{"bad accept syntax", []string{"face", "detect", "-accept", "sharpness", facePortrait}, 2},
		{"unknown measure", []string{"face", "detect", "-accept", "beauty=3", facePortrait}, 2},
		{"bad token width", []string{"face", "token", "-width", "100", facePortrait, "-o", "x.fac"}, 2},
		{"unknown flag", []string{"face", "detect", "-nope", facePortrait}, 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if code, _, stderr := runFaceCLI(t, tc.args...); code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
		})
	}
}

func newGray(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for i := range g.Pix {
		g.Pix[i] = 128
	}
	return g
}
