package main

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/creack/pty"
)

func writeConfig(t *testing.T, devices string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "kioskd.yaml")
	data := "kiosk:\n  id: test-kiosk\n  country: IDN\ndevices:\n" + devices
	if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func runCmd(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(context.Background(), &stdio{out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

const simR30x = `  - name: fingerprint
    driver: sim-r30x
    options: {link_baud: "115200", fingers: pattern, model: R503}
`

// silentTTY is a pseudo-terminal nobody answers on, like a sensor that is
// not wired or not powered.
func silentTTY(t *testing.T) string {
	t.Helper()
	m, s, err := pty.Open()
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return s.Name()
}

func TestProbe(t *testing.T) {
	silent := silentTTY(t)
	tests := []struct {
		name     string
		devices  string
		args     []string
		code     int
		out, err []string
	}{
		{"simulated r30x", simR30x, nil, 0,
			[]string{"fingerprint: sim-r30x: ok", "R503 (simulated)", "at 115200 baud (raised from 57600)", "capacity", "packet size"},
			[]string{"problems outside the devices section"}},
		{"simulated gt521", "  - name: fingerprint\n    driver: sim-gt521\n    options: {fingers: pattern}\n", nil, 0,
			[]string{"GT-521F52", "firmware         20170523", "at 9600 baud"}, nil},
		{"no answer", "  - name: fingerprint\n    driver: r30x\n    port: " + silent + "\n    options: {timeout: 100ms}\n", nil, 1,
			[]string{"fingerprint: r30x: FAILED", "did not answer handshake", "check wiring and baud rate"}, []string{"1 of 1 devices failed"}},
		{"no such device", simR30x, []string{"-device", "camera"}, 2, nil, []string{`no device named "camera"`}},
		{"bad device entry", "  - name: fingerprint\n    driver: r31x\n", nil, 1, nil, []string{"devices[0].driver"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.devices)
			code, out, errs := runCmd(append([]string{"probe", "-config", cfg}, tt.args...)...)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, out, errs)
			}
			for _, w := range tt.out {
				if !strings.Contains(out, w) {
					t.Errorf("stdout lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.err {
				if !strings.Contains(errs, w) {
					t.Errorf("stderr lacks %q:\n%s", w, errs)
				}
			}
		})
	}
}

func TestProbeAndCaptureHelp(t *testing.T) {
	for _, args := range [][]string{{"probe", "-h"}, {"capture", "finger", "-h"}, {"capture", "face", "-h"}} {
		if code, _, errs := runCmd(args...); code != 0 || !strings.Contains(errs, "usage: kioskctl") {
			t.Errorf("%v: exit %d, stderr %q; want 0 and a usage text", args, code, errs)
		}
	}
	if code, _, _ := runCmd("capture", "finger"); code != 2 {
		t.Errorf("capture finger without -o: exit %d, want 2", code)
	}
}

func TestCaptureFinger(t *testing.T) {
	if testing.Short() {
		t.Skip("a full image upload takes 3.5 s of wire time; skipped in -short")
	}
	cfg := writeConfig(t, simR30x)
	out := filepath.Join(t.TempDir(), "finger.png")
	code, stdout, errs := runCmd("capture", "finger", "-config", cfg, "-o", out)
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
	}
	if !strings.Contains(errs, "place a finger") || !strings.Contains(stdout, "256x288") {
		t.Errorf("stdout %q, stderr %q: want a prompt and the image size", stdout, errs)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil || img.Bounds().Dx() != 256 || img.Bounds().Dy() != 288 {
		t.Errorf("finger.png: %v, %v; want a 256x288 PNG", img.Bounds(), err)
	}
}

func TestCaptureErrors(t *testing.T) {
	silent := silentTTY(t)
	tests := []struct {
		name, devices string
		args          []string
		code          int
		want          string
	}{
		{"no camera", simR30x, []string{"capture", "face"}, 1, "configures no camera device"},
		{"no answer", "  - name: fingerprint\n    driver: gt521\n    port: " + silent + "\n    options: {timeout: 100ms}\n", []string{"capture", "finger"}, 1, "did not answer Open"},
		{"not a sensor", simR30x, []string{"capture", "face", "-device", "fingerprint"}, 1, "is not a camera"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeConfig(t, tt.devices)
			args := append(tt.args, "-config", cfg, "-o", filepath.Join(t.TempDir(), "x"))
			code, _, errs := runCmd(args...)
			if code != tt.code || !strings.Contains(errs, tt.want) {
				t.Errorf("exit %d, stderr %q; want %d and %q", code, errs, tt.code, tt.want)
			}
		})
	}
}

func TestFaceJPEG(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 64, 48))
	var enc bytes.Buffer
	jpeg.Encode(&enc, img, nil)
	tests := []struct {
		name    string
		img     image.Image
		jpeg    []byte
		w, h    int
		wantErr bool
	}{
		{"camera JPEG kept", nil, enc.Bytes(), 64, 48, false},
		{"frame encoded", img, nil, 64, 48, false},
		{"broken JPEG", nil, []byte{0xFF, 0xD8, 0x00}, 0, 0, true},
		{"nothing", nil, nil, 0, 0, true},
	}
	for _, tt := range tests {
		data, b, err := faceJPEG(tt.img, tt.jpeg)
		if (err != nil) != tt.wantErr {
			t.Errorf("%s: err %v, want error %v", tt.name, err, tt.wantErr)
			continue
		}
		if err == nil {
			if c, derr := jpeg.DecodeConfig(bytes.NewReader(data)); derr != nil || c.Width != tt.w || b.Dx() != tt.w || b.Dy() != tt.h {
				t.Errorf("%s: %v (%v), want a %dx%d JPEG", tt.name, b, derr, tt.w, tt.h)
			}
		}
	}
}

func TestCaptureFace(t *testing.T) {
	for _, drv := range []string{"sim-arducam", "sim-uvc"} {
		t.Run(drv, func(t *testing.T) {
			if drv == "sim-uvc" && testing.Short() {
				t.Skip("the UVC simulator renders a 1280x720 frame; slow under -race and qemu, skipped in -short")
			}
			cfg := writeConfig(t, "  - name: face\n    driver: "+drv+"\n")
			out := filepath.Join(t.TempDir(), "face.jpg")
			code, stdout, errs := runCmd("capture", "face", "-config", cfg, "-o", out)
			if code != 0 {
				t.Fatalf("exit %d\n%s\n%s", code, stdout, errs)
			}
			data, err := os.ReadFile(out)
			if err != nil {
				t.Fatal(err)
			}
			c, err := jpeg.DecodeConfig(bytes.NewReader(data))
			if err != nil || !strings.Contains(stdout, "wrote "+out) || c.Width < 320 {
				t.Errorf("face.jpg: %+v, %v; stdout %q: want a decodable JPEG reported as written", c, err, stdout)
			}
		})
	}
}
