package capture

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/records"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// State is where the workflow is.
type State string

// States. A session goes present, face, fingers, saving, saved and back to
// idle; a session that does not end saved goes straight back to idle (or
// to refused).
const (
	StateIdle    State = "idle"
	StatePresent State = "present"
	StateFace    State = "face"
	StateFingers State = "fingers"
	StateSaving  State = "saving"
	StateSaved   State = "saved"
	// StateRefused is idle with new sessions refused: the outbox is full.
	StateRefused State = "refused"
)

// Outcome is how a session ended.
type Outcome string

// Outcomes.
const (
	OutcomeSaved     Outcome = "saved"
	OutcomeCancelled Outcome = "cancelled"
	OutcomeTimedOut  Outcome = "timed_out"
	OutcomeFailed    Outcome = "failed"
	// OutcomeRefused: everything was captured but the outbox had no room;
	// nothing was saved.
	OutcomeRefused Outcome = "refused"
)

// Options configure a Workflow. KioskID is required.
type Options struct {
	// KioskID, Site and AgentVersion go into every record.
	KioskID      string
	Site         string
	AgentVersion string
	// Devices describe the devices that take part, recorded in every
	// record; FingerDevice and FaceDevice are the names of the
	// fingerprint sensor and the camera among them.
	Devices      []*rbdesv1.DeviceInfo
	FingerDevice string
	FaceDevice   string
	// PolicyFile keeps run-time policy changes (SetCapturePolicy) across
	// restarts; empty keeps them in memory only.
	PolicyFile string
	// Events is the stream events go to; nil means a new stream of the
	// last 1024 events.
	Events *Stream
	// Clock times steps and sessions; default clock.Real().
	Clock clock.Clock
	// Logger; default zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the kiosk_capture_* metrics; nil means none.
	Registerer prometheus.Registerer
}

// Workflow runs traveller sessions one at a time: it waits for a traveller
// (presence or the officer's start), takes the portrait and the
// fingerprints the policy asks for, assembles the CaptureRecord and has it
// sealed and appended to the outbox, publishing every step on its event
// stream. Create it with New, run it with Run; its other methods may be
// called from any goroutine.
type Workflow struct {
	d      Deps
	o      Options
	clk    clock.Clock
	log    *zap.Logger
	events *Stream
	m      *metrics
	// triggers holds at most one session to start; pending guards it.
	triggers chan trigger

	mu        sync.Mutex
	base      config.Capture
	overrides map[string]string
	policy    Policy
	state     State
	since     time.Time
	sess      *session
	pending   bool
	// cancelQueued cancels the queued session as it begins.
	cancelQueued error
	full         error // why sessions are refused, or nil
	last         *Summary
	running      bool
	counts       map[Outcome]int
}

type trigger struct {
	kind    string // "presence" or "officer"
	officer string
	id      string
}

// New returns a Workflow driving deps under the capture policy of cfg
// (a valid kioskd config section) and the changes saved in
// opts.PolicyFile.
func New(deps Deps, cfg config.Capture, opts *Options) (*Workflow, error) {
	if opts == nil || opts.KioskID == "" {
		return nil, errors.New("capture: Options with the kiosk id are required")
	}
	switch {
	case deps.Finger == nil, deps.FingerPipeline == nil:
		return nil, errors.New("capture: New needs a fingerprint sensor and the finger pipeline")
	case deps.Camera == nil, deps.Face == nil:
		return nil, errors.New("capture: New needs a camera and the face pipeline")
	case deps.Saver == nil:
		return nil, errors.New("capture: New needs a saver (sealer and outbox)")
	}
	o := *opts
	w := &Workflow{d: deps, o: o, clk: clock.OrReal(o.Clock), log: o.Logger, events: o.Events,
		triggers: make(chan trigger, 1), base: cfg, state: StateIdle, counts: map[Outcome]int{}}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	if w.events == nil {
		w.events = NewStream(1024, w.clk)
	}
	w.since = w.clk.Now()
	var err error
	if w.policy, err = PolicyFromConfig(cfg); err != nil {
		return nil, fmt.Errorf("capture: the config's capture section: %w", err)
	}
	if o.PolicyFile != "" {
		saved, err := loadPolicyFile(o.PolicyFile)
		if err == nil && len(saved) > 0 {
			var c config.Capture
			if c, err = applyValues(cfg, saved); err == nil {
				p, perr := PolicyFromConfig(c)
				if err = perr; err == nil {
					w.policy, w.overrides = p, saved
					w.log.Info("capture policy changes from the node in force", zap.String("file", o.PolicyFile), zap.Any("values", saved))
				}
			}
		}
		if err != nil {
			// A kiosk must not refuse to start over its own state file:
			// the config's policy applies and the node can send the
			// change again.
			w.log.Error("saved capture policy changes ignored; the config's policy applies", zap.String("file", o.PolicyFile), zap.Error(err))
		}
	}
	if w.m, err = newMetrics(o.Registerer); err != nil {
		return nil, err
	}
	return w, nil
}

// Events returns the workflow's event stream.
func (w *Workflow) Events() *Stream { return w.events }

// Policy returns the capture policy new sessions use.
func (w *Workflow) Policy() Policy {
	w.mu.Lock()
	defer w.mu.Unlock()
	p := w.policy
	p.Fingers = append([]Finger(nil), p.Fingers...)
	return p
}

// Status is a snapshot of the workflow.
type Status struct {
	State State     `json:"state"`
	Since time.Time `json:"since"`
	// Session is the running session's id.
	Session string `json:"session,omitempty"`
	// Finger and Attempt say where a session in the fingers state is.
	Finger  string `json:"finger,omitempty"`
	Attempt int    `json:"attempt,omitempty"`
	// Refused says why new sessions are refused (the outbox is full).
	Refused string `json:"refused,omitempty"`
	// Sessions counts the sessions since start by outcome.
	Sessions map[Outcome]int `json:"sessions"`
	// Policy is the policy new sessions use.
	Policy PolicyView `json:"policy"`
}

// PolicyView is a Policy as JSON shows it.
type PolicyView struct {
	Name              string   `json:"name"`
	Fingers           []string `json:"fingers"`
	MaxAttempts       int      `json:"max_attempts"`
	MinFingerQuality  int      `json:"min_finger_quality"`
	GoodFingerQuality int      `json:"good_finger_quality"`
	KeepFingerImages  bool     `json:"keep_finger_images"`
	FaceBudget        string   `json:"face_budget"`
	StepTimeout       string   `json:"step_timeout"`
	SessionTimeout    string   `json:"session_timeout"`
	// Changed lists the values a set_capture_policy command changed.
	Changed map[string]string `json:"changed,omitempty"`
}

// Status returns where the workflow is.
func (w *Workflow) Status() Status {
	w.mu.Lock()
	defer w.mu.Unlock()
	st := Status{State: w.state, Since: w.since, Sessions: maps.Clone(w.counts)}
	if s := w.sess; s != nil {
		st.Session = s.id
		if w.state == StateFingers {
			st.Finger, st.Attempt = s.finger.String(), s.attempt
		}
	}
	if w.full != nil {
		st.Refused = w.full.Error()
	}
	p := w.policy
	st.Policy = PolicyView{Name: p.Name, MaxAttempts: p.MaxAttempts, MinFingerQuality: p.MinFingerQuality,
		GoodFingerQuality: p.GoodFingerQuality, KeepFingerImages: p.KeepFingerImages,
		FaceBudget: p.FaceBudget.String(), StepTimeout: p.StepTimeout.String(), SessionTimeout: p.SessionTimeout.String(),
		Fingers: []string{}, Changed: maps.Clone(w.overrides)}
	for _, f := range p.Fingers {
		st.Policy.Fingers = append(st.Policy.Fingers, f.String())
	}
	return st
}

// Last returns the summary of the last session that ended, or nil.
func (w *Workflow) Last() *Summary {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.last == nil {
		return nil
	}
	s := *w.last
	s.Fingers = append([]FingerSummary(nil), s.Fingers...)
	return &s
}

// Start starts a session for the officer with id officer (may be empty)
// and returns its id. It fails with ErrBusy while a session runs or is
// about to, and with an error wrapping ErrRefused while the outbox is
// full.
func (w *Workflow) Start(officer string) (string, error) {
	return w.admit("officer", officer)
}

// admit queues a session start after checking that the kiosk can take it.
func (w *Workflow) admit(kind, officer string) (string, error) {
	w.mu.Lock()
	if w.sess != nil || w.pending {
		w.mu.Unlock()
		return "", ErrBusy
	}
	w.pending = true
	full := w.full
	w.mu.Unlock()

	var room error
	switch {
	case w.d.Room != nil:
		room = w.d.Room()
	case full != nil && kind != "officer":
		room = full
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if room != nil {
		w.pending = false
		w.setFullLocked(room)
		err := fmt.Errorf("%w: %w", ErrRefused, room)
		w.publishLocked(Event{Kind: KindRefused, Message: "New captures are refused: " + room.Error()})
		return "", err
	}
	if w.d.Room != nil {
		w.setFullLocked(nil)
	}
	t := trigger{kind: kind, officer: officer, id: newID(w.clk)}
	w.triggers <- t // pending guarantees room
	return t.id, nil
}

// setFullLocked records whether sessions are refused and moves between
// idle and refused accordingly.
func (w *Workflow) setFullLocked(err error) {
	w.full = err
	switch {
	case err != nil && w.state == StateIdle:
		w.setStateLocked(StateRefused, "", "")
	case err == nil && w.state == StateRefused:
		w.setStateLocked(StateIdle, "", "")
	}
}

// Cancel cancels the running session; nothing of it is saved. It fails
// with ErrNoSession when none runs, and with ErrBusy when the record is
// already being saved (it will be saved).
func (w *Workflow) Cancel(reason string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sess
	if s == nil {
		if w.pending {
			// Queued but not begun: it ends as soon as it begins.
			if reason == "" {
				reason = "cancelled by the officer"
			}
			w.cancelQueued = fmt.Errorf("%w: %s", ErrCancelled, reason)
			return nil
		}
		return ErrNoSession
	}
	if s.saving {
		return fmt.Errorf("%w: the record of session %s is already being saved", ErrBusy, s.id)
	}
	if reason == "" {
		reason = "cancelled by the officer"
	}
	s.cancel(fmt.Errorf("%w: %s", ErrCancelled, reason))
	return nil
}

// Missing reasons an officer may give for a finger (SkipFinger).
var missingNames = map[string]rbdesv1.MissingReason{
	"amputated":          rbdesv1.MissingReason_MISSING_REASON_AMPUTATED,
	"unable_to_print":    rbdesv1.MissingReason_MISSING_REASON_UNABLE_TO_PRINT,
	"skipped_by_officer": rbdesv1.MissingReason_MISSING_REASON_SKIPPED_BY_OFFICER,
	"exempt":             rbdesv1.MissingReason_MISSING_REASON_EXEMPT,
}

// MissingName returns the name of a missing reason as events and the
// officer API show it ("amputated", "low_quality"), "" for UNSPECIFIED.
func MissingName(r rbdesv1.MissingReason) string {
	if r == rbdesv1.MissingReason_MISSING_REASON_UNSPECIFIED {
		return ""
	}
	return strings.ToLower(strings.TrimPrefix(r.String(), "MISSING_REASON_"))
}

// SkipFinger records the finger at pos of the running session as missing
// for reason (amputated, unable_to_print, skipped_by_officer or exempt)
// instead of capturing it; if the traveller is being asked for it now, the
// session moves on to the next finger. Fingers already captured cannot be
// skipped.
func (w *Workflow) SkipFinger(pos Finger, reason string) error {
	r, ok := missingNames[reason]
	if !ok {
		return fmt.Errorf("capture: missing reason %q: want amputated, unable_to_print, skipped_by_officer or exempt", reason)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	s := w.sess
	if s == nil {
		return ErrNoSession
	}
	return s.skip(pos, r)
}

// SetCapturePolicy applies values (names as in the config's capture
// section, see PolicyValues) to the policy of the sessions that start from
// now on, saving them durably first when Options.PolicyFile is set; it
// changes nothing on error. An error wrapping ErrInvalidPolicy names the
// values refused. It implements the uplink's set_capture_policy hook.
func (w *Workflow) SetCapturePolicy(values map[string]string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	merged := maps.Clone(w.overrides)
	if merged == nil {
		merged = map[string]string{}
	}
	for k, v := range values {
		merged[k] = strings.TrimSpace(v)
	}
	if _, err := applyValues(w.base, values); err != nil {
		return err
	}
	c, err := applyValues(w.base, merged)
	if err != nil {
		return err
	}
	p, err := PolicyFromConfig(c)
	if err != nil {
		return err
	}
	if w.o.PolicyFile != "" {
		if err := savePolicyFile(w.o.PolicyFile, merged, w.clk.Now()); err != nil {
			return err
		}
	}
	w.policy, w.overrides = p, merged
	keys := make([]string, 0, len(values))
	for k, v := range values {
		keys = append(keys, k+"="+v)
	}
	slices.Sort(keys)
	msg := "Capture policy changed: " + strings.Join(keys, ", ")
	w.log.Info("capture policy changed", zap.Any("values", values))
	w.publishLocked(Event{Kind: KindPolicy, Message: msg})
	return nil
}

// Run waits for travellers and runs their sessions until ctx ends; it
// returns nil then (a session running at that moment is cancelled and
// nothing of it is saved). Only one Run may be active.
func (w *Workflow) Run(ctx context.Context) error {
	w.mu.Lock()
	if w.running {
		w.mu.Unlock()
		return errors.New("capture: Run is already running")
	}
	w.running = true
	w.publishLocked(Event{Kind: KindState, Message: "Ready"})
	w.mu.Unlock()
	defer func() {
		w.mu.Lock()
		w.running = false
		w.mu.Unlock()
	}()

	var wg sync.WaitGroup
	if w.d.Presence != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.watchPresence(ctx)
		}()
	}
	defer wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return nil
		case t := <-w.triggers:
			w.runSession(ctx, t)
		}
	}
}

// watchPresence starts a session at every arrival while the kiosk is
// idle. A failing presence sensor is reported and retried every few
// seconds; the officer can still start sessions.
func (w *Workflow) watchPresence(ctx context.Context) {
	failures := 0
	for {
		present, err := w.d.Presence.Next(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			failures++
			if failures == 1 || failures%100 == 0 {
				w.log.Error("presence sensor failed; sessions start only from the officer until it recovers", zap.Int("failures", failures), zap.Error(err))
			}
			if failures == 1 {
				w.publish(Event{Kind: KindError, Message: "The presence sensor failed (" + err.Error() + "); start sessions from the officer console until it is fixed"})
			}
			if w.clk.Sleep(ctx, 2*time.Second) != nil {
				return
			}
			continue
		}
		failures = 0
		if !present {
			continue
		}
		if _, err := w.admit("presence", ""); err != nil && !errors.Is(err, ErrBusy) {
			w.log.Warn("traveller arrived but the session was refused", zap.Error(err))
		}
	}
}

func (w *Workflow) setState(s State, sess *session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id := ""
	if sess != nil {
		id = sess.id
	}
	w.setStateLocked(s, id, "")
}

func (w *Workflow) setStateLocked(s State, session, msg string) {
	if w.state == s {
		return
	}
	w.state, w.since = s, w.clk.Now()
	w.publishLocked(Event{Kind: KindState, Session: session, Message: msg})
}

// publish sends an event stamped with the current state.
func (w *Workflow) publish(e Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.publishLocked(e)
}

func (w *Workflow) publishLocked(e Event) {
	e.State = w.state
	w.events.Publish(e)
}

// newID returns a UUIDv7 stamped by clk.
func newID(clk clock.Clock) string {
	var u uuid.UUID
	_, _ = rand.Read(u[:])
	ms := uint64(clk.Now().UnixMilli())
	var ts [8]byte
	binary.BigEndian.PutUint64(ts[:], ms)
	copy(u[:6], ts[2:])
	u[6] = 0x70 | u[6]&0x0f
	u[8] = 0x80 | u[8]&0x3f
	return u.String()
}

// isFull reports whether err says the outbox had no room.
func isFull(err error) bool { return errors.Is(err, records.ErrOutboxFull) }
