package main

import (
	"context"
	"errors"
	"fmt"
	"image"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/records"
	"github.com/bali-rbdes/kiosk/agent/synth"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	"github.com/bali-rbdes/kiosk/cmd/internal/devices"
	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/r30x"
)

// scriptedFinger answers CaptureImage with err.
type scriptedFinger struct{ err error }

func (f scriptedFinger) WaitFinger(context.Context) error { return f.err }

func (f scriptedFinger) CaptureImage(context.Context) (image.Image, error) {
	if f.err != nil {
		return nil, f.err
	}
	return image.NewGray(image.Rect(0, 0, 8, 8)), nil
}

func TestFingerSensorErrors(t *testing.T) {
	tests := []struct {
		name    string
		err     error
		poor    bool
		healthy bool
	}{
		{"image taken", nil, false, true},
		{"r30x could not take the image", &r30x.CodeError{Op: "GenImg", Code: 0x03}, true, true},
		{"r30x messy image", fmt.Errorf("r30x: Img2Tz: %w", r30x.ErrImageMessy), true, true},
		{"gt521 bad finger", fmt.Errorf("gt521: %w", gt521.ErrBadFinger), true, true},
		{"r30x link broken", fmt.Errorf("r30x: sensor did not answer: %w", r30x.ErrTimeout), false, false},
		{"unknown failure", errors.New("serial: port closed"), false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &deviceState{dev: &devices.Device{Name: "fingerprint", Finger: scriptedFinger{tt.err}}, ok: true}
			fs := &fingerSensor{st: st}
			img, err := fs.CaptureImage(context.Background())
			if (err == nil) != (tt.err == nil) || (err == nil && img == nil) {
				t.Fatalf("CaptureImage = %v, %v", img, err)
			}
			if got := errors.Is(err, capture.ErrPoorImage); got != tt.poor {
				t.Errorf("error %v is a poor image: %v, want %v", err, got, tt.poor)
			}
			if ok, detail := st.health(); ok != tt.healthy {
				t.Errorf("device health = %v %q, want ok %v", ok, detail, tt.healthy)
			}
		})
	}
	// A cancelled wait says nothing about the sensor's health.
	st := &deviceState{dev: &devices.Device{Name: "fingerprint", Finger: scriptedFinger{context.Canceled}}, ok: true}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := (&fingerSensor{st: st}).CaptureImage(ctx); err == nil {
		t.Fatal("cancelled CaptureImage succeeded")
	}
	if ok, _ := st.health(); !ok {
		t.Error("a cancelled wait marked the sensor unhealthy")
	}
}

func TestFingerPipelineTemplate(t *testing.T) {
	g, err := synth.New(&synth.Options{Sensor: synth.R30x})
	if err != nil {
		t.Fatal(err)
	}
	fp, err := newFingerPipeline("r30x")
	if err != nil {
		t.Fatal(err)
	}
	im := g.Finger(5).Impression(1)
	tpl, err := fp.Extract(im.Image, 4)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := fmr.Unmarshal(tpl.ISO)
	if err != nil {
		t.Fatalf("template is not an ISO record: %v", err)
	}
	v := rec.Views[0]
	if v.Position != 4 || int(v.Quality) != tpl.Quality || len(v.Minutiae) != tpl.Minutiae || tpl.PPI != 500 || rec.Format != fmr.ISO {
		t.Errorf("record view = position %d quality %d, %d minutiae at %d ppi; template says quality %d, %d minutiae",
			v.Position, v.Quality, len(v.Minutiae), tpl.PPI, tpl.Quality, tpl.Minutiae)
	}
	if _, err := fp.Extract(image.NewGray(image.Rect(0, 0, 10, 10)), 2); err == nil {
		t.Error("a 10x10 image gave a template")
	}
}

func TestFingerHint(t *testing.T) {
	tests := []struct {
		m    minutiae.QualityMeasures
		want string
	}{
		{minutiae.QualityMeasures{Area: 30, Clarity: 80, Certainty: 80, Minutiae: 40}, "more of the finger"},
		{minutiae.QualityMeasures{Area: 90, Clarity: 20, Certainty: 80, Minutiae: 40}, "press"},
		{minutiae.QualityMeasures{Area: 90, Clarity: 80, Certainty: 20, Minutiae: 40}, "still"},
		{minutiae.QualityMeasures{Area: 90, Clarity: 80, Certainty: 80, Minutiae: 5}, "centre"},
		{minutiae.QualityMeasures{Area: 90, Clarity: 80, Certainty: 80, Minutiae: 40}, ""},
	}
	for _, tt := range tests {
		got := fingerHint(&minutiae.Result{Measures: tt.m})
		if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
			t.Errorf("fingerHint(%+v) = %q, want it to contain %q", tt.m, got, tt.want)
		}
	}
}

func TestCapturePolicyHook(t *testing.T) {
	d := &daemon{}
	if err := (capturePolicy{d}).SetCapturePolicy(map[string]string{"max_attempts": "2"}); err == nil {
		t.Error("set_capture_policy on a kiosk without capture succeeded")
	}
	wf, err := capture.New(capture.Deps{Finger: &fingerSensor{}, FingerPipeline: &fingerPipeline{}, Camera: &cameraDevice{},
		Face: facePipeline{}, Saver: &sizedSaver{}}, config.DefaultKiosk().Capture, &capture.Options{KioskID: "kiosk-test-01"})
	if err != nil {
		t.Fatal(err)
	}
	d.capture = &captureWiring{wf: wf}
	err = (capturePolicy{d}).SetCapturePolicy(map[string]string{"max_attempts": "99"})
	if !errors.Is(err, uplink.ErrInvalidPolicy) {
		t.Errorf("an out-of-range value = %v, want uplink.ErrInvalidPolicy (answered REJECTED INVALID_ARGUMENT)", err)
	}
	if err := (capturePolicy{d}).SetCapturePolicy(map[string]string{"max_attempts": "2"}); err != nil {
		t.Errorf("a valid value = %v", err)
	}
	if got := wf.Policy().MaxAttempts; got != 2 {
		t.Errorf("max attempts after the command = %d, want 2", got)
	}
}

// TestRoom: a session is refused before the capture when the outbox is at
// max_bytes or when its disk has less free space than a record needs.
func TestRoom(t *testing.T) {
	dir := t.TempDir()
	ob, err := outbox.New(dir, &outbox.Options{MaxBytes: 1 << 20, SegmentBytes: 256 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	var free int64
	var statErr error
	d := &daemon{cfg: &config.Kiosk{Outbox: config.Outbox{Dir: dir}}, outbox: ob,
		disk: func(string) (int64, int64, error) { return free, 8 << 30, statErr }}
	s := &sizedSaver{}
	free = 4 << 30
	if err := d.room(s); err != nil {
		t.Errorf("room with 4 GiB free = %v, want nil", err)
	}
	free = 200 << 10
	if err := d.room(s); !errors.Is(err, records.ErrOutboxFull) || !strings.Contains(err.Error(), "204800 bytes free") {
		t.Errorf("room with 200 KiB free = %v, want ErrOutboxFull naming the free space", err)
	}
	free, statErr = 0, errors.New("statfs: input/output error")
	if err := d.room(s); err != nil {
		t.Errorf("room when the disk cannot be measured = %v, want max_bytes to decide (nil)", err)
	}
	// The largest record saved so far sets the need: twice 600 KiB is past
	// the 1 MiB max_bytes.
	s.largest.Store(600 << 10)
	free, statErr = 4<<30, nil
	if err := d.room(s); !errors.Is(err, records.ErrOutboxFull) || !strings.Contains(err.Error(), "of 1048576 bytes used") {
		t.Errorf("room when max_bytes cannot take the largest record twice = %v, want ErrOutboxFull", err)
	}
}
