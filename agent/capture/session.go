package capture

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// session is one traveller's session. Its fields below mu are shared with
// the officer's calls (Cancel, SkipFinger) under Workflow.mu.
type session struct {
	id      string
	trigger trigger
	policy  Policy
	start   time.Time
	cancel  context.CancelCauseFunc

	// Under Workflow.mu.
	saving        bool
	finger        Finger
	attempt       int
	done          map[Finger]bool
	skips         map[Finger]rbdesv1.MissingReason
	cancelAttempt context.CancelCauseFunc
}

// errSkipped ends an attempt whose finger the officer skipped.
var errSkipped = errors.New("capture: finger skipped by the officer")

// skip marks pos missing; called under Workflow.mu.
func (s *session) skip(pos Finger, r rbdesv1.MissingReason) error {
	listed := false
	for _, f := range s.policy.Fingers {
		listed = listed || f == pos
	}
	switch {
	case !listed:
		return fmt.Errorf("capture: the policy of session %s does not ask for the %s", s.id, pos.Spoken())
	case s.done[pos]:
		return fmt.Errorf("capture: the %s of session %s is already captured", pos.Spoken(), s.id)
	case s.saving:
		return fmt.Errorf("%w: the record of session %s is already being saved", ErrBusy, s.id)
	}
	s.skips[pos] = r
	if s.finger == pos && s.cancelAttempt != nil {
		s.cancelAttempt(errSkipped)
	}
	return nil
}

// Summary describes a finished session for the officer: outcome, quality
// figures and timings; no biometric data.
type Summary struct {
	Session  string  `json:"session"`
	Trigger  string  `json:"trigger"`
	Officer  string  `json:"officer,omitempty"`
	Policy   string  `json:"policy"`
	Outcome  Outcome `json:"outcome"`
	Reason   string  `json:"reason,omitempty"`
	RecordID string  `json:"record_id,omitempty"`
	// Seq is the record's sequence number in the outbox (saved only).
	Seq     uint64          `json:"seq,omitempty"`
	Started time.Time       `json:"started"`
	Ended   time.Time       `json:"ended"`
	Face    *FaceInfo       `json:"face,omitempty"`
	Fingers []FingerSummary `json:"fingers"`
	Timings Timings         `json:"timings"`
}

// FingerSummary is the outcome of one finger.
type FingerSummary struct {
	Position string `json:"position"`
	// Quality and Minutiae of the kept attempt.
	Quality  int `json:"quality"`
	Minutiae int `json:"minutiae"`
	Attempts int `json:"attempts"`
	// Qualities of every attempt in order (0 for an attempt without a
	// usable image).
	Qualities  []int  `json:"qualities"`
	Missing    string `json:"missing,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Timings are the durations of a session's steps in milliseconds.
type Timings struct {
	FaceMS    int64 `json:"face_ms"`
	FingersMS int64 `json:"fingers_ms"`
	SaveMS    int64 `json:"save_ms"`
	TotalMS   int64 `json:"total_ms"`
}

// runSession runs one session to its end and records its outcome.
func (w *Workflow) runSession(ctx context.Context, t trigger) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	w.mu.Lock()
	s := &session{id: t.id, trigger: t, policy: w.policy, start: w.clk.Now(), cancel: cancel,
		done: map[Finger]bool{}, skips: map[Finger]rbdesv1.MissingReason{}}
	w.sess, w.pending = s, false
	if err := w.cancelQueued; err != nil {
		w.cancelQueued = nil
		cancel(err)
	}
	w.setStateLocked(StatePresent, s.id, "")
	fingers := make([]string, len(s.policy.Fingers))
	for i, f := range s.policy.Fingers {
		fingers[i] = f.String()
	}
	w.publishLocked(Event{Kind: KindStarted, Session: s.id, Message: "Welcome",
		Started: &StartedInfo{Trigger: t.kind, Officer: t.officer, Policy: s.policy.Name, Fingers: fingers}})
	w.mu.Unlock()

	tctx, stop := withTimeout(sctx, w.clk, s.policy.SessionTimeout,
		fmt.Errorf("%w: the session took longer than %v", ErrSessionTimeout, s.policy.SessionTimeout))
	sum := &Summary{Session: s.id, Trigger: t.kind, Officer: t.officer, Policy: s.policy.Name, Started: s.start, Fingers: []FingerSummary{}}
	rec, err := w.capture(tctx, s, sum)
	if err == nil {
		err = w.save(tctx, s, rec, sum)
	}
	stop()
	if rec != nil {
		seal.Wipe(rec)
	}
	w.finish(s, sum, err)
}

// capture takes the portrait and the fingers and assembles the record.
func (w *Workflow) capture(ctx context.Context, s *session, sum *Summary) (*rbdesv1.CaptureRecord, error) {
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	faceStart := w.clk.Now()
	fs, err := w.face(ctx, s, sum)
	sum.Timings.FaceMS = w.clk.Since(faceStart).Milliseconds()
	if err != nil {
		return nil, err
	}
	fingerStart := w.clk.Now()
	var samples []*rbdesv1.FingerSample
	for _, pos := range s.policy.Fingers {
		fsm, err := w.finger(ctx, s, pos, sum)
		if err != nil {
			for _, x := range samples {
				clear(x.IsoTemplate)
				if x.Image != nil {
					clear(x.Image.Data)
				}
			}
			clear(fs.IsoRecord)
			return nil, err
		}
		samples = append(samples, fsm)
	}
	sum.Timings.FingersMS = w.clk.Since(fingerStart).Milliseconds()
	assembleStart := w.clk.Now()
	rec := &rbdesv1.CaptureRecord{
		KioskId:        w.o.KioskID,
		Site:           w.o.Site,
		CapturedUnixMs: s.start.UnixMilli(),
		SessionId:      s.id,
		OfficerId:      s.trigger.officer,
		Devices:        w.o.Devices,
		Face:           fs,
		Fingers:        samples,
		Policy:         s.policy.Name,
		AgentVersion:   w.o.AgentVersion,
	}
	rec.Timings = &rbdesv1.CaptureTimings{FaceMs: uint32(sum.Timings.FaceMS), FingersMs: uint32(sum.Timings.FingersMS),
		AssembleMs: uint32(w.clk.Since(assembleStart).Milliseconds()), TotalMs: uint32(w.clk.Since(s.start).Milliseconds())}
	return rec, nil
}

// faceFeedbackEvery bounds how often face progress is published.
const faceFeedbackEvery = 500 * time.Millisecond

// face finds the portrait.
func (w *Workflow) face(ctx context.Context, s *session, sum *Summary) (*rbdesv1.FaceSample, error) {
	w.setState(StateFace, s)
	w.publish(Event{Kind: KindPrompt, Session: s.id, Message: "Please look at the camera"})
	start := w.clk.Now()
	var last time.Time
	var lastAccept bool
	frames := 0
	p, err := w.d.Face.Best(ctx, w.d.Camera, s.policy.FaceBudget, func(fi FaceInfo) {
		frames++
		fi.Frames = frames
		now := w.clk.Now()
		if frames > 1 && now.Sub(last) < faceFeedbackEvery && fi.Accept == lastAccept {
			return
		}
		last, lastAccept = now, fi.Accept
		msg := "Hold still"
		if len(fi.Reasons) > 0 {
			msg = sentence(fi.Reasons[0])
		}
		w.publish(Event{Kind: KindFaceFrame, Session: s.id, Message: msg, Face: &fi})
	})
	if err != nil {
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		if errors.Is(err, ErrNoFace) {
			return nil, fmt.Errorf("no usable face within %v (%d frames): ask the traveller to face the camera and start again: %w", s.policy.FaceBudget, frames, err)
		}
		return nil, fmt.Errorf("%w: camera %s: %w", ErrDevice, w.o.FaceDevice, err)
	}
	d := w.clk.Since(start)
	fi := &FaceInfo{Quality: p.Quality, Accept: p.Accept, Reasons: p.Reasons, Frames: p.Frames, DurationMS: d.Milliseconds()}
	sum.Face = fi
	msg := "Thank you"
	if !p.Accept && len(p.Reasons) > 0 {
		msg = "Best portrait kept; not all checks passed: " + p.Reasons[0]
	}
	w.publish(Event{Kind: KindFace, Session: s.id, Message: msg, Face: fi})
	w.m.faceQuality.Observe(float64(p.Quality))
	fs := &rbdesv1.FaceSample{IsoRecord: p.ISO, Quality: uint32(p.Quality), Accepted: p.Accept,
		Frames: uint32(p.Frames), Reasons: p.Reasons, Device: w.o.FaceDevice, DurationMs: uint32(d.Milliseconds()),
		Measures: map[string]uint32{}}
	for k, v := range p.Measures {
		fs.Measures[k] = uint32(v)
	}
	return fs, nil
}

// finger captures one finger: up to MaxAttempts attempts, the best kept.
func (w *Workflow) finger(ctx context.Context, s *session, pos Finger, sum *Summary) (*rbdesv1.FingerSample, error) {
	pol := s.policy
	start := w.clk.Now()
	w.mu.Lock()
	s.finger, s.attempt = pos, 0
	w.setStateLocked(StateFingers, s.id, "")
	missing := s.skips[pos]
	w.mu.Unlock()

	fsum := FingerSummary{Position: pos.String(), Qualities: []int{}}
	var best *FingerTemplate
	var bestImg image.Image
	attempts := 0
	for attempt := 1; attempt <= pol.MaxAttempts && missing == 0; attempt++ {
		actx, acancel := context.WithCancelCause(ctx)
		w.mu.Lock()
		s.attempt, s.cancelAttempt = attempt, acancel
		missing = s.skips[pos]
		w.mu.Unlock()
		if missing != 0 {
			acancel(nil)
			break
		}
		msg := "Place your " + pos.Spoken() + " on the sensor"
		if attempt > 1 {
			msg = "Lift your finger, then place your " + pos.Spoken() + " on the sensor again"
		}
		w.publish(Event{Kind: KindPrompt, Session: s.id, Message: msg, Finger: &FingerInfo{Position: pos.String(), Attempt: attempt}})
		stepCtx, stop := withTimeout(actx, w.clk, pol.StepTimeout,
			fmt.Errorf("%w: no %s on the sensor within %v", ErrStepTimeout, pos.Spoken(), pol.StepTimeout))
		img, err := w.d.Finger.CaptureImage(stepCtx)
		stepCause := context.Cause(stepCtx)
		stop()
		attemptCause := context.Cause(actx)
		acancel(nil)
		w.mu.Lock()
		s.cancelAttempt = nil
		missing = s.skips[pos]
		w.mu.Unlock()
		if cause := context.Cause(ctx); cause != nil {
			return nil, cause
		}
		if missing != 0 || errors.Is(attemptCause, errSkipped) {
			break // the officer skipped the finger; any image is dropped
		}
		if err != nil && errors.Is(stepCause, ErrStepTimeout) {
			return nil, stepCause
		}
		attempts++
		info := FingerInfo{Position: pos.String(), Attempt: attempt}
		var t *FingerTemplate
		switch {
		case errors.Is(err, ErrPoorImage):
			info.Reason = "No usable image: " + err.Error()
		case err != nil:
			return nil, fmt.Errorf("%w: fingerprint sensor %s: %w", ErrDevice, w.o.FingerDevice, err)
		default:
			t, err = w.d.FingerPipeline.Extract(img, pos)
			if err != nil {
				t = nil
				info.Reason = "The image could not be read: " + err.Error()
			}
		}
		if t == nil {
			fsum.Qualities = append(fsum.Qualities, 0)
			w.m.attempts.WithLabelValues("no_image").Inc()
			w.publish(Event{Kind: KindFingerAttempt, Session: s.id, Message: info.Reason, Finger: &info})
			continue
		}
		info.Quality, info.Minutiae = t.Quality, t.Minutiae
		info.Good = t.Quality >= pol.GoodFingerQuality
		fsum.Qualities = append(fsum.Qualities, t.Quality)
		w.m.fingerQuality.Observe(float64(t.Quality))
		msg = "Good"
		if !info.Good {
			info.Reason = fmt.Sprintf("quality %d is below %d", t.Quality, pol.GoodFingerQuality)
			if t.Hint != "" {
				info.Reason += ": " + t.Hint
			}
			msg = sentence(info.Reason)
			w.m.attempts.WithLabelValues("low").Inc()
		} else {
			w.m.attempts.WithLabelValues("good").Inc()
		}
		w.publish(Event{Kind: KindFingerAttempt, Session: s.id, Message: msg, Finger: &info})
		if best == nil || t.Quality > best.Quality {
			if best != nil {
				clear(best.ISO)
			}
			best, bestImg = t, img
		} else {
			clear(t.ISO)
		}
		if info.Good {
			break
		}
	}

	d := w.clk.Since(start)
	fs := &rbdesv1.FingerSample{Position: pos.Proto(), Attempts: uint32(attempts), Device: w.o.FingerDevice, DurationMs: uint32(d.Milliseconds())}
	info := FingerInfo{Position: pos.String(), Attempt: attempts, DurationMS: d.Milliseconds()}
	switch {
	case missing != 0:
		fs.MissingReason = missing
	case best == nil:
		fs.MissingReason = rbdesv1.MissingReason_MISSING_REASON_UNABLE_TO_PRINT
		info.Reason = fmt.Sprintf("no usable image in %d attempts", attempts)
	case best.Quality < pol.MinFingerQuality:
		fs.MissingReason = rbdesv1.MissingReason_MISSING_REASON_LOW_QUALITY
		fs.Quality, fs.Minutiae = uint32(best.Quality), uint32(best.Minutiae)
		info.Quality, info.Minutiae = best.Quality, best.Minutiae
		info.Reason = fmt.Sprintf("best quality %d is below the minimum %d", best.Quality, pol.MinFingerQuality)
	default:
		fs.IsoTemplate, fs.Quality, fs.Minutiae = best.ISO, uint32(best.Quality), uint32(best.Minutiae)
		info.Quality, info.Minutiae = best.Quality, best.Minutiae
		info.Good = best.Quality >= pol.GoodFingerQuality
		if pol.KeepFingerImages {
			fi, err := encodeFingerImage(bestImg, best.PPI)
			if err != nil {
				return nil, fmt.Errorf("capture: keeping the image of the %s: %w", pos.Spoken(), err)
			}
			fs.Image = fi
		}
		best = nil
	}
	if best != nil {
		clear(best.ISO)
	}
	info.Missing = MissingName(fs.MissingReason)
	fsum.Attempts, fsum.Missing, fsum.DurationMS = attempts, info.Missing, info.DurationMS
	fsum.Quality, fsum.Minutiae = info.Quality, info.Minutiae
	sum.Fingers = append(sum.Fingers, fsum)
	w.mu.Lock()
	s.done[pos] = true
	w.mu.Unlock()
	msg := "Thank you"
	if info.Missing != "" {
		msg = fmt.Sprintf("The %s is recorded as missing (%s)", pos.Spoken(), info.Missing)
	}
	w.publish(Event{Kind: KindFinger, Session: s.id, Message: msg, Finger: &info})
	return fs, nil
}

// save seals and appends the record; cancelling is no longer possible.
func (w *Workflow) save(ctx context.Context, s *session, rec *rbdesv1.CaptureRecord, sum *Summary) error {
	w.mu.Lock()
	if cause := context.Cause(ctx); cause != nil {
		w.mu.Unlock()
		return cause
	}
	s.saving = true
	w.setStateLocked(StateSaving, s.id, "")
	w.mu.Unlock()
	start := w.clk.Now()
	// Once saving has begun it is not interrupted: the outbox appends the
	// whole record or nothing, and the officer is told which.
	saved, err := w.d.Saver.Save(context.WithoutCancel(ctx), rec)
	d := w.clk.Since(start)
	sum.Timings.SaveMS = d.Milliseconds()
	if err != nil {
		return err
	}
	sum.RecordID, sum.Seq = saved.RecordID, saved.Seq
	w.publish(Event{Kind: KindSaved, Session: s.id, Message: "Saved",
		Saved: &SavedInfo{RecordID: saved.RecordID, Seq: saved.Seq, Bytes: saved.Bytes, SaveMS: d.Milliseconds()}})
	return nil
}

// finish records the outcome of a session and returns to idle.
func (w *Workflow) finish(s *session, sum *Summary, err error) {
	sum.Ended = w.clk.Now()
	sum.Timings.TotalMS = sum.Ended.Sub(s.start).Milliseconds()
	switch {
	case err == nil:
		sum.Outcome = OutcomeSaved
	case isFull(err):
		sum.Outcome = OutcomeRefused
	case errors.Is(err, ErrCancelled), errors.Is(err, context.Canceled):
		sum.Outcome = OutcomeCancelled
	case errors.Is(err, ErrStepTimeout), errors.Is(err, ErrSessionTimeout):
		sum.Outcome = OutcomeTimedOut
	default:
		sum.Outcome = OutcomeFailed
	}
	if err != nil {
		sum.Reason = err.Error()
		if errors.Is(err, context.Canceled) && !errors.Is(err, ErrCancelled) {
			sum.Reason = "the kiosk is stopping"
		}
	}
	w.m.sessions.WithLabelValues(string(sum.Outcome)).Inc()
	w.m.duration.Observe(float64(sum.Timings.TotalMS) / 1000)
	log := w.log.Info
	if sum.Outcome == OutcomeFailed || sum.Outcome == OutcomeRefused {
		log = w.log.Error
	}
	log("session ended", zap.String("session", s.id), zap.String("outcome", string(sum.Outcome)),
		zap.String("reason", sum.Reason), zap.String("record_id", sum.RecordID), zap.Uint64("seq", sum.Seq),
		zap.Int64("total_ms", sum.Timings.TotalMS))

	w.mu.Lock()
	defer w.mu.Unlock()
	switch sum.Outcome {
	case OutcomeFailed, OutcomeTimedOut, OutcomeRefused:
		w.publishLocked(Event{Kind: KindError, Session: s.id, Message: sentence(sum.Reason)})
	}
	w.last = sum
	w.counts[sum.Outcome]++
	w.sess = nil
	msg := "Saved. Thank you"
	switch sum.Outcome {
	case OutcomeSaved:
		w.setStateLocked(StateSaved, s.id, "")
		w.full = nil
	case OutcomeRefused:
		msg = "Not saved: the outbox is full. Please see an officer"
		w.full = err
	default:
		msg = "Not saved: " + sum.Reason
	}
	w.publishLocked(Event{Kind: KindEnded, Session: s.id, Message: msg,
		Ended: &EndedInfo{Outcome: sum.Outcome, Reason: sum.Reason, DurationMS: sum.Timings.TotalMS}})
	next := StateIdle
	if w.full != nil {
		next = StateRefused
	}
	w.setStateLocked(next, "", "")
}

// encodeFingerImage encodes a kept finger image as 8-bit grey PNG.
func encodeFingerImage(img image.Image, ppi int) (*rbdesv1.FingerImage, error) {
	g, ok := img.(*image.Gray)
	if !ok {
		b := img.Bounds()
		g = image.NewGray(b)
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				g.Set(x, y, img.At(x, y))
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		return nil, err
	}
	b := g.Bounds()
	return &rbdesv1.FingerImage{Format: rbdesv1.ImageFormat_IMAGE_FORMAT_PNG, Width: uint32(b.Dx()), Height: uint32(b.Dy()),
		Ppi: uint32(ppi), Data: buf.Bytes()}, nil
}

// sentence capitalises the first letter of s.
func sentence(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}

// withTimeout returns a context that ends with cause when d has passed on
// clk. The returned stop must be called; it waits for the timer's
// goroutine.
func withTimeout(ctx context.Context, clk clock.Clock, d time.Duration, cause error) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := clk.NewTimer(d)
	quit := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-t.C():
			cancel(cause)
		case <-quit:
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		close(quit)
		<-done
		t.Stop()
		cancel(nil)
	}
}
