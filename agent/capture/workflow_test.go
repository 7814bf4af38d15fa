package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/records"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func TestSessionSaved(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.sensor.add(shot{quality: 30}, shot{quality: 70}, shot{quality: 80})
	r.arrive()

	st := r.next(KindStarted)
	if got := st.Started; got.Trigger != "presence" || strings.Join(got.Fingers, ",") != "right_index,right_middle" || got.Policy != "default" {
		t.Errorf("started = %+v, want presence, right_index,right_middle, default", got)
	}
	if p := r.next(KindPrompt); p.Message != "Please look at the camera" || p.State != StateFace {
		t.Errorf("first prompt = %q in %s, want the camera prompt in face", p.Message, p.State)
	}
	if ff := r.next(KindFaceFrame); ff.Message != "Move closer" {
		t.Errorf("face feedback = %q, want %q", ff.Message, "Move closer")
	}
	if f := r.next(KindFace); f.Face.Quality != 80 || !f.Face.Accept {
		t.Errorf("face = %+v, want quality 80 accepted", f.Face)
	}
	wantPrompts := []string{
		"Place your right index finger on the sensor",
		"Lift your finger, then place your right index finger on the sensor again",
	}
	for i, want := range wantPrompts {
		p := r.next(KindPrompt)
		if p.Message != want || p.Finger.Attempt != i+1 || p.State != StateFingers {
			t.Errorf("prompt %d = %q attempt %d in %s, want %q attempt %d in fingers", i+1, p.Message, p.Finger.Attempt, p.State, want, i+1)
		}
		a := r.next(KindFingerAttempt)
		if i == 0 && (a.Finger.Quality != 30 || a.Finger.Good || !strings.Contains(a.Finger.Reason, "press a little harder")) {
			t.Errorf("attempt 1 = %+v, want quality 30, not good, the pipeline's hint", a.Finger)
		}
		if i == 1 && (a.Finger.Quality != 70 || !a.Finger.Good) {
			t.Errorf("attempt 2 = %+v, want quality 70 good", a.Finger)
		}
	}
	if f := r.next(KindFinger); f.Finger.Position != "right_index" || f.Finger.Attempt != 2 || f.Finger.Quality != 70 || f.Finger.Missing != "" {
		t.Errorf("right index = %+v, want 2 attempts, quality 70, not missing", f.Finger)
	}
	if f := r.next(KindFinger); f.Finger.Position != "right_middle" || f.Finger.Attempt != 1 || f.Finger.Quality != 80 {
		t.Errorf("right middle = %+v, want stopped early after 1 attempt at quality 80", f.Finger)
	}
	sv := r.next(KindSaved)
	if sv.Saved.Seq != 1 || sv.Saved.RecordID == "" || sv.State != StateSaving {
		t.Errorf("saved = %+v in %s, want seq 1 with a record id, in saving", sv.Saved, sv.State)
	}
	if e := r.ended(); e.Outcome != OutcomeSaved || e.Reason != "" {
		t.Errorf("ended = %+v, want saved", e)
	}
	if st := r.next(KindState); st.State != StateIdle {
		t.Errorf("state after the session = %s, want idle", st.State)
	}

	recs := r.saver.records()
	if len(recs) != 1 {
		t.Fatalf("saved %d records, want 1", len(recs))
	}
	rec := recs[0]
	if rec.KioskId != "kiosk-test-1" || rec.Site != "lane 1" || rec.SessionId != st.Session || rec.Policy != "default" ||
		rec.AgentVersion != "test" || len(rec.Devices) != 1 || rec.CapturedUnixMs == 0 {
		t.Errorf("record header = %v", rec)
	}
	if string(rec.Face.GetIsoRecord()) != "FAC portrait" || rec.Face.GetQuality() != 80 || rec.Face.GetMeasures()["sharpness"] != 90 || rec.Face.GetDevice() != "face" {
		t.Errorf("face sample = %v", rec.Face)
	}
	want := []struct {
		pos      rbdesv1.FingerPosition
		tpl      string
		q, tries uint32
	}{
		{rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, "FMR 2 70", 70, 2},
		{rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_MIDDLE, "FMR 3 80", 80, 1},
	}
	if len(rec.Fingers) != len(want) {
		t.Fatalf("record has %d fingers, want %d", len(rec.Fingers), len(want))
	}
	for i, w := range want {
		f := rec.Fingers[i]
		if f.Position != w.pos || string(f.IsoTemplate) != w.tpl || f.Quality != w.q || f.Attempts != w.tries || f.Device != "fingerprint" || f.MissingReason != 0 || f.Image != nil {
			t.Errorf("finger %d = %v, want %v %q quality %d attempts %d", i, f, w.pos, w.tpl, w.q, w.tries)
		}
	}
	if rec.Timings == nil {
		t.Error("record has no timings")
	}
	for _, b := range r.saver.wiped[0].Fingers[0].IsoTemplate {
		if b != 0 {
			t.Fatal("the workflow's copy of the record still holds the template after saving")
		}
	}

	sum := r.w.Last()
	if sum == nil || sum.Outcome != OutcomeSaved || sum.RecordID != rec.RecordId || sum.Seq != 1 || len(sum.Fingers) != 2 ||
		fmt.Sprint(sum.Fingers[0].Qualities) != "[30 70]" || sum.Face.Quality != 80 {
		t.Errorf("summary = %+v", sum)
	}
	if s := r.w.Status(); s.State != StateIdle || s.Sessions[OutcomeSaved] != 1 {
		t.Errorf("status = %+v, want idle with 1 saved", s)
	}
}

func TestFingerOutcomes(t *testing.T) {
	one := testPolicy()
	one.Fingers = []string{"left_thumb"}
	tests := []struct {
		name     string
		shots    []shot
		missing  rbdesv1.MissingReason
		quality  uint32
		attempts uint32
		template bool
	}{
		{"good at once", []shot{{quality: 90}}, 0, 90, 1, true},
		{"best of three kept", []shot{{quality: 40}, {quality: 55}, {quality: 45}}, 0, 55, 3, true},
		{"below the minimum", []shot{{quality: 10}, {quality: 15}, {quality: 12}}, rbdesv1.MissingReason_MISSING_REASON_LOW_QUALITY, 15, 3, false},
		{"no usable image", []shot{{err: fmt.Errorf("wet finger: %w", ErrPoorImage)}, {err: ErrPoorImage}, {unread: true}},
			rbdesv1.MissingReason_MISSING_REASON_UNABLE_TO_PRINT, 0, 3, false},
		{"poor then good", []shot{{err: ErrPoorImage}, {unread: true}, {quality: 61}}, 0, 61, 3, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOptions{cfg: &one})
			r.sensor.add(tt.shots...)
			r.arrive()
			if e := r.ended(); e.Outcome != OutcomeSaved {
				t.Fatalf("session ended %+v, want saved", e)
			}
			f := r.saver.records()[0].Fingers[0]
			if f.MissingReason != tt.missing || f.Quality != tt.quality || f.Attempts != tt.attempts || (len(f.IsoTemplate) > 0) != tt.template {
				t.Errorf("finger = missing %v quality %d attempts %d template %v; want %v %d %d %v",
					f.MissingReason, f.Quality, f.Attempts, len(f.IsoTemplate) > 0, tt.missing, tt.quality, tt.attempts, tt.template)
			}
		})
	}
}

func TestTimeouts(t *testing.T) {
	t.Run("step", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.arrive()
		r.next(KindFace)
		r.next(KindPrompt)
		r.waitTimers(2) // session and step
		r.clk.Advance(30 * time.Second)
		e := r.ended()
		if e.Outcome != OutcomeTimedOut || !strings.Contains(e.Reason, "no right index finger on the sensor within 30s") {
			t.Errorf("ended = %+v, want timed_out naming the finger", e)
		}
		if n := len(r.saver.records()); n != 0 {
			t.Errorf("%d records saved after a timeout, want 0", n)
		}
		if s := r.w.Status(); s.State != StateIdle {
			t.Errorf("state = %s, want idle", s.State)
		}
	})
	t.Run("session", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.face.set(nil, true)
		r.arrive()
		r.next(KindFaceFrame)
		r.waitTimers(1)
		r.clk.Advance(3 * time.Minute)
		if e := r.ended(); e.Outcome != OutcomeTimedOut || !strings.Contains(e.Reason, "longer than 3m0s") {
			t.Errorf("ended = %+v, want timed_out after 3m", e)
		}
	})
	t.Run("step timer restarts for each attempt", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.sensor.add(shot{quality: 10})
		r.arrive()
		r.next(KindFingerAttempt)
		r.next(KindPrompt)
		r.waitTimers(2)
		r.sensor.waitBlocked(t, 2)
		r.clk.Advance(29 * time.Second)
		r.sensor.add(shot{quality: 90}, shot{quality: 90})
		// The blocked second attempt is still waiting: 29s is within the step.
		if s := r.w.Status(); s.State != StateFingers {
			t.Fatalf("state = %s after 29s of a 30s step, want fingers", s.State)
		}
		r.clk.Advance(time.Second)
		if e := r.ended(); e.Outcome != OutcomeTimedOut {
			t.Errorf("ended = %+v, want timed_out", e)
		}
	})
}

func TestCancel(t *testing.T) {
	t.Run("no session", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		if err := r.w.Cancel(""); !errors.Is(err, ErrNoSession) {
			t.Errorf("Cancel = %v, want ErrNoSession", err)
		}
	})
	t.Run("during face", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.face.set(nil, true)
		id, err := r.w.Start("officer-7")
		if err != nil {
			t.Fatal(err)
		}
		if st := r.next(KindStarted); st.Session != id || st.Started.Trigger != "officer" || st.Started.Officer != "officer-7" {
			t.Errorf("started = %+v, want officer-7's session %s", st.Started, id)
		}
		r.next(KindFaceFrame)
		if err := r.w.Cancel("traveller sent to the desk"); err != nil {
			t.Fatal(err)
		}
		if e := r.ended(); e.Outcome != OutcomeCancelled || !strings.Contains(e.Reason, "traveller sent to the desk") {
			t.Errorf("ended = %+v, want cancelled with the reason", e)
		}
	})
	t.Run("during fingers", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.sensor.add(shot{quality: 90})
		r.arrive()
		r.next(KindFinger)
		r.next(KindPrompt)
		if err := r.w.Cancel(""); err != nil {
			t.Fatal(err)
		}
		if e := r.ended(); e.Outcome != OutcomeCancelled || !strings.Contains(e.Reason, "cancelled by the officer") {
			t.Errorf("ended = %+v, want cancelled", e)
		}
		if n := len(r.saver.records()); n != 0 {
			t.Errorf("%d records saved after cancel, want 0", n)
		}
	})
	t.Run("while saving", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		gate := make(chan struct{})
		r.saver.gate = gate
		r.sensor.add(shot{quality: 90}, shot{quality: 90})
		r.arrive()
		for st := r.next(KindState); st.State != StateSaving; st = r.next(KindState) {
		}
		if err := r.w.Cancel(""); !errors.Is(err, ErrBusy) {
			t.Errorf("Cancel while saving = %v, want ErrBusy", err)
		}
		close(gate)
		if e := r.ended(); e.Outcome != OutcomeSaved {
			t.Errorf("ended = %+v, want saved", e)
		}
	})
	t.Run("kiosk stopping", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.arrive()
		r.next(KindPrompt)
		r.next(KindPrompt)
		r.stop()
		if e := r.ended(); e.Outcome != OutcomeCancelled || e.Reason != "the kiosk is stopping" {
			t.Errorf("ended = %+v, want cancelled because the kiosk is stopping", e)
		}
		if n := len(r.saver.records()); n != 0 {
			t.Errorf("%d records saved, want 0", n)
		}
	})
}

func TestDeviceFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(r *rig)
		outcome Outcome
		reason  string
		device  bool
	}{
		{"sensor", func(r *rig) { r.sensor.add(shot{err: errors.New("r30x: serial link error")}) }, OutcomeFailed, "fingerprint sensor fingerprint: r30x: serial link error", true},
		{"camera", func(r *rig) { r.face.set(errors.New("uvc: device unplugged"), false) }, OutcomeFailed, "camera face: uvc: device unplugged", true},
		{"no face", func(r *rig) { r.face.set(fmt.Errorf("face: 12 frames: %w", ErrNoFace), false) }, OutcomeFailed, "no usable face within 8s", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newRig(t, rigOptions{})
			tt.setup(r)
			r.arrive()
			e := r.ended()
			if e.Outcome != tt.outcome || !strings.Contains(e.Reason, tt.reason) {
				t.Errorf("ended = %+v, want %s with %q", e, tt.outcome, tt.reason)
			}
			if got := strings.Contains(e.Reason, ErrDevice.Error()); got != tt.device {
				t.Errorf("reason %q names a device failure: %v, want %v", e.Reason, got, tt.device)
			}
			if n := len(r.saver.records()); n != 0 {
				t.Errorf("%d records saved, want 0", n)
			}
		})
	}
}

var errFull = fmt.Errorf("%w: %w", records.ErrOutboxFull, errors.New("outbox: full"))

func TestOutboxFull(t *testing.T) {
	t.Run("save refused", func(t *testing.T) {
		r := newRig(t, rigOptions{})
		r.saver.setErr(errFull)
		r.sensor.add(shot{quality: 90}, shot{quality: 90})
		r.arrive()
		e := r.ended()
		if e.Outcome != OutcomeRefused || !strings.Contains(e.Reason, "outbox is full") {
			t.Errorf("ended = %+v, want refused because the outbox is full", e)
		}
		if st := r.next(KindState); st.State != StateRefused {
			t.Errorf("state = %s, want refused", st.State)
		}
		if s := r.w.Status(); !strings.Contains(s.Refused, "outbox is full") {
			t.Errorf("status refused = %q, want the outbox message", s.Refused)
		}
		// An arrival is refused at once, with the message.
		r.arrive()
		if ev := r.next(KindRefused); !strings.Contains(ev.Message, "outbox is full") {
			t.Errorf("refusal = %q", ev.Message)
		}
		// The officer may try again; once a save succeeds the kiosk is idle.
		r.saver.setErr(nil)
		r.sensor.add(shot{quality: 90}, shot{quality: 90})
		if _, err := r.w.Start(""); err != nil {
			t.Fatalf("officer Start after a full outbox = %v, want a try", err)
		}
		if e := r.ended(); e.Outcome != OutcomeSaved {
			t.Errorf("ended = %+v, want saved", e)
		}
		if s := r.w.Status(); s.State != StateIdle || s.Refused != "" {
			t.Errorf("status = %s refused %q, want idle", s.State, s.Refused)
		}
	})
	t.Run("room checked first", func(t *testing.T) {
		var room error = errFull
		r := newRig(t, rigOptions{room: func() error { return room }})
		_, err := r.w.Start("")
		if !errors.Is(err, ErrRefused) || !errors.Is(err, records.ErrOutboxFull) {
			t.Fatalf("Start with a full outbox = %v, want ErrRefused wrapping ErrOutboxFull", err)
		}
		if s := r.w.Status(); s.State != StateRefused {
			t.Errorf("state = %s, want refused", s.State)
		}
		room = nil
		if _, err := r.w.Start(""); err != nil {
			t.Fatalf("Start with room = %v", err)
		}
		r.next(KindStarted)
		if err := r.w.Cancel(""); err != nil {
			t.Fatal(err)
		}
		r.ended()
	})
}

func TestBusy(t *testing.T) {
	r := newRig(t, rigOptions{})
	id, err := r.w.Start("")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.w.Start(""); !errors.Is(err, ErrBusy) {
		t.Errorf("second Start = %v, want ErrBusy", err)
	}
	r.next(KindPrompt)
	r.arrive() // ignored: a session runs
	r.settle()
	if s := r.w.Status(); s.Session != id {
		t.Errorf("status session = %q, want %q", s.Session, id)
	}
	if err := r.w.Cancel(""); err != nil {
		t.Fatal(err)
	}
	r.ended()
	r.next(KindState)
	evs, _, _ := r.w.Events().Since(0)
	starts := 0
	for _, e := range evs {
		if e.Kind == KindStarted {
			starts++
		}
	}
	if starts != 1 {
		t.Errorf("%d sessions started, want 1 (arrivals during a session are ignored)", starts)
	}
}

func TestSkipFinger(t *testing.T) {
	three := testPolicy()
	three.Fingers = []string{"right_index", "right_middle", "right_ring"}
	r := newRig(t, rigOptions{cfg: &three})
	if err := r.w.SkipFinger(4, "amputated"); !errors.Is(err, ErrNoSession) {
		t.Errorf("SkipFinger without a session = %v, want ErrNoSession", err)
	}
	r.sensor.add(shot{block: true}, shot{quality: 70})
	r.arrive()
	r.next(KindFace)
	r.next(KindPrompt)
	for _, bad := range []struct {
		pos    Finger
		reason string
	}{{4, "lost"}, {7, "amputated"}} {
		if err := r.w.SkipFinger(bad.pos, bad.reason); err == nil {
			t.Errorf("SkipFinger(%s, %s) = nil, want an error", bad.pos, bad.reason)
		}
	}
	if err := r.w.SkipFinger(4, "amputated"); err != nil {
		t.Fatalf("skipping a later finger: %v", err)
	}
	if err := r.w.SkipFinger(2, "unable_to_print"); err != nil {
		t.Fatalf("skipping the finger asked for: %v", err)
	}
	if f := r.next(KindFinger); f.Finger.Position != "right_index" || f.Finger.Missing != "unable_to_print" {
		t.Errorf("right index = %+v, want missing unable_to_print", f.Finger)
	}
	if f := r.next(KindFinger); f.Finger.Position != "right_middle" || f.Finger.Quality != 70 {
		t.Errorf("right middle = %+v, want quality 70", f.Finger)
	}
	if err := r.w.SkipFinger(3, "amputated"); err == nil {
		t.Error("skipping a captured finger succeeded")
	}
	if f := r.next(KindFinger); f.Finger.Position != "right_ring" || f.Finger.Missing != "amputated" || f.Finger.Attempt != 0 {
		t.Errorf("right ring = %+v, want missing amputated without attempts", f.Finger)
	}
	if e := r.ended(); e.Outcome != OutcomeSaved {
		t.Fatalf("ended = %+v, want saved", e)
	}
	fs := r.saver.records()[0].Fingers
	wantMissing := []rbdesv1.MissingReason{rbdesv1.MissingReason_MISSING_REASON_UNABLE_TO_PRINT, 0, rbdesv1.MissingReason_MISSING_REASON_AMPUTATED}
	for i, w := range wantMissing {
		if fs[i].MissingReason != w || (w == 0) != (len(fs[i].IsoTemplate) > 0) {
			t.Errorf("finger %d: missing %v template %d bytes, want missing %v", i, fs[i].MissingReason, len(fs[i].IsoTemplate), w)
		}
	}
}

func TestKeepFingerImages(t *testing.T) {
	c := testPolicy()
	c.Fingers = []string{"right_index"}
	c.KeepFingerImages = true
	r := newRig(t, rigOptions{cfg: &c})
	r.sensor.add(shot{quality: 77})
	r.arrive()
	r.ended()
	img := r.saver.records()[0].Fingers[0].Image
	if img == nil || img.Format != rbdesv1.ImageFormat_IMAGE_FORMAT_PNG || img.Width != 4 || img.Ppi != 500 {
		t.Fatalf("kept image = %v, want a 4x4 PNG at 500 ppi", img)
	}
	g, err := png.Decode(bytes.NewReader(img.Data))
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _, _ := g.At(0, 0).RGBA(); v>>8 != 77 {
		t.Errorf("kept image pixel = %d, want 77", v>>8)
	}
}

func TestSetCapturePolicy(t *testing.T) {
	file := filepath.Join(t.TempDir(), "state", "capture-policy.json")
	r := newRig(t, rigOptions{policyFile: file})
	before := r.w.Policy()
	for _, bad := range []map[string]string{
		{},
		{"keep_finger_images": "true"},
		{"max_attempts": "0"},
		{"max_attempts": "three"},
		{"fingers": "right_index, nose"},
		{"good_finger_quality": "10"}, // below min_finger_quality 20
		{"face_budget": "1h"},
		{"policy": "bad\x00name"},
		{"max_attempts": "2", "colour": "red"},
	} {
		err := r.w.SetCapturePolicy(bad)
		if !errors.Is(err, ErrInvalidPolicy) {
			t.Errorf("SetCapturePolicy(%v) = %v, want ErrInvalidPolicy", bad, err)
		}
	}
	if got := r.w.Policy(); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Fatalf("policy changed by refused values: %+v", got)
	}
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("refused changes wrote %s", file)
	}
	if err := r.w.SetCapturePolicy(map[string]string{"max_attempts": "1", "fingers": "[left_index]", "policy": "ees-2026"}); err != nil {
		t.Fatalf("valid change: %v", err)
	}
	if ev := r.next(KindPolicy); !strings.Contains(ev.Message, "max_attempts=1") {
		t.Errorf("policy event = %q", ev.Message)
	}
	// Later changes add to earlier ones.
	if err := r.w.SetCapturePolicy(map[string]string{"step_timeout": "45s"}); err != nil {
		t.Fatal(err)
	}
	p := r.w.Policy()
	if p.MaxAttempts != 1 || fmt.Sprint(p.Fingers) != "[left_index]" || p.Name != "ees-2026" || p.StepTimeout != 45*time.Second {
		t.Errorf("policy = %+v, want 1 attempt, left index, ees-2026, 45s", p)
	}
	r.sensor.add(shot{quality: 30})
	r.arrive()
	r.ended()
	rec := r.saver.records()[0]
	if rec.Policy != "ees-2026" || len(rec.Fingers) != 1 || rec.Fingers[0].Attempts != 1 || rec.Fingers[0].Position != rbdesv1.FingerPosition_FINGER_POSITION_LEFT_INDEX {
		t.Errorf("record under the new policy = %v", rec)
	}
	r.stop()

	// A restart keeps the changes; a damaged file is ignored.
	r2 := newRig(t, rigOptions{policyFile: file})
	if got := r2.w.Status().Policy; got.MaxAttempts != 1 || got.Changed["fingers"] != "[left_index]" || got.StepTimeout != "45s" {
		t.Errorf("policy after restart = %+v", got)
	}
	r2.stop()
	if err := os.WriteFile(file, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	r3 := newRig(t, rigOptions{policyFile: file})
	if got := r3.w.Policy(); got.MaxAttempts != 3 {
		t.Errorf("policy with a damaged file = %+v, want the config's", got)
	}

	// A change that cannot be saved changes nothing.
	blocker := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	r4 := newRig(t, rigOptions{policyFile: filepath.Join(blocker, "capture-policy.json")})
	err := r4.w.SetCapturePolicy(map[string]string{"max_attempts": "2"})
	if err == nil || errors.Is(err, ErrInvalidPolicy) {
		t.Errorf("SetCapturePolicy with an unwritable file = %v, want a plain error", err)
	}
	if got := r4.w.Policy(); got.MaxAttempts != 3 {
		t.Errorf("policy after a failed save = %d attempts, want 3", got.MaxAttempts)
	}
}

func TestNewChecks(t *testing.T) {
	good := Deps{Finger: &fakeSensor{}, FingerPipeline: fakePipeline{}, Camera: fakeCamera{}, Face: &fakeFace{}, Saver: &fakeSaver{}}
	opts := &Options{KioskID: "kiosk-test-1"}
	bad := config.DefaultKiosk().Capture
	bad.MaxAttempts = 0
	tests := []struct {
		name string
		deps Deps
		cfg  config.Capture
		opts *Options
	}{
		{"no options", good, testPolicy(), nil},
		{"no sensor", Deps{FingerPipeline: fakePipeline{}, Camera: fakeCamera{}, Face: &fakeFace{}, Saver: &fakeSaver{}}, testPolicy(), opts},
		{"no saver", Deps{Finger: &fakeSensor{}, FingerPipeline: fakePipeline{}, Camera: fakeCamera{}, Face: &fakeFace{}}, testPolicy(), opts},
		{"bad policy", good, bad, opts},
	}
	for _, tt := range tests {
		if _, err := New(tt.deps, tt.cfg, tt.opts); err == nil {
			t.Errorf("New(%s) = nil error, want one", tt.name)
		}
	}
}

// failingPresence fails every Next until ctx ends.
type failingPresence struct{}

func (failingPresence) Next(ctx context.Context) (bool, error) {
	return false, errors.New("presence: pin read failed")
}

func TestErrorEvents(t *testing.T) {
	r := newRig(t, rigOptions{})
	r.sensor.add(shot{err: errors.New("r30x: serial link error")})
	r.arrive()
	e := r.next(KindError)
	if !strings.Contains(e.Message, "fingerprint sensor") || e.Session == "" {
		t.Errorf("error event = %+v, want the sensor failure of the session", e)
	}
	if end := r.ended(); end.Outcome != OutcomeFailed {
		t.Errorf("ended = %+v, want failed after the error", end)
	}

	clk := clock.NewFake(time.Time{})
	w, err := New(Deps{Finger: &fakeSensor{}, FingerPipeline: fakePipeline{}, Camera: fakeCamera{}, Face: &fakeFace{}, Saver: &fakeSaver{},
		Presence: failingPresence{}}, testPolicy(), &Options{KioskID: "kiosk-test-1", Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	deadline := time.After(10 * time.Second)
	for found := false; !found; {
		evs, _, wake := w.Events().Since(0)
		for _, e := range evs {
			found = found || (e.Kind == KindError && strings.Contains(e.Message, "presence sensor failed"))
		}
		if !found {
			select {
			case <-wake:
			case <-deadline:
				t.Fatal("no error event for a failing presence sensor")
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}
