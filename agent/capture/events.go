package capture

import (
	"context"
	"sync"
	"time"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

// Kind says what an Event reports.
type Kind string

// Event kinds, in the order a session produces them.
const (
	// KindState: the workflow moved to Event.State.
	KindState Kind = "state"
	// KindStarted: a session started (Event.Started says why).
	KindStarted Kind = "session_started"
	// KindPrompt: tell the traveller Event.Message ("Place your right index
	// finger on the sensor").
	KindPrompt Kind = "prompt"
	// KindFaceFrame: progress of the portrait search (Event.Face), at most
	// a few a second, with what the traveller should change.
	KindFaceFrame Kind = "face_frame"
	// KindFace: the portrait chosen (Event.Face).
	KindFace Kind = "face"
	// KindFingerAttempt: one attempt of one finger (Event.Finger): its
	// quality and, when it is not good enough, why.
	KindFingerAttempt Kind = "finger_attempt"
	// KindFinger: the outcome of one finger (Event.Finger): the kept
	// attempt, or why the finger is missing.
	KindFinger Kind = "finger"
	// KindSaved: the record is sealed and durably in the outbox
	// (Event.Saved); only now may the officer be told "saved".
	KindSaved Kind = "saved"
	// KindError: something went wrong that the officer must see
	// (Event.Message says what and what to do): a session that failed,
	// timed out or could not be saved, or a device that stopped answering.
	// It comes before the KindEnded of the session concerned.
	KindError Kind = "error"
	// KindEnded: the session ended (Event.Ended): saved, cancelled, timed
	// out, failed or refused.
	KindEnded Kind = "session_ended"
	// KindRefused: a start was refused (Event.Message says why): a session
	// is running, or the outbox is full.
	KindRefused Kind = "refused"
	// KindDelivered: the national node acknowledged a saved record
	// (Event.Delivered); published by the wiring that watches the uplink.
	KindDelivered Kind = "delivered"
	// KindPolicy: the capture policy changed (Event.Message lists the
	// values).
	KindPolicy Kind = "policy"
)

// Event is one entry of the workflow's event stream: what the LEDs, the
// logs, the officer API and simulated travellers follow. It carries no
// biometric data: qualities, counts, reasons and timings only.
type Event struct {
	// Seq numbers events from 1 in the order they were published.
	Seq  uint64    `json:"seq"`
	Time time.Time `json:"time"`
	Kind Kind      `json:"kind"`
	// Session is the session the event belongs to, if any.
	Session string `json:"session,omitempty"`
	// State is set on every event: the workflow's state after it.
	State State `json:"state"`
	// Message is for people: the prompt, the feedback, the error.
	Message string `json:"message,omitempty"`

	Started   *StartedInfo   `json:"started,omitempty"`
	Face      *FaceInfo      `json:"face,omitempty"`
	Finger    *FingerInfo    `json:"finger,omitempty"`
	Saved     *SavedInfo     `json:"saved,omitempty"`
	Ended     *EndedInfo     `json:"ended,omitempty"`
	Delivered *DeliveredInfo `json:"delivered,omitempty"`
}

// StartedInfo says how a session started.
type StartedInfo struct {
	// Trigger is "presence" or "officer".
	Trigger string `json:"trigger"`
	Officer string `json:"officer,omitempty"`
	Policy  string `json:"policy"`
	// Fingers are the positions the policy asks for, in order.
	Fingers []string `json:"fingers"`
}

// FaceInfo is the quality of a frame or of the chosen portrait.
type FaceInfo struct {
	Quality int  `json:"quality"`
	Accept  bool `json:"accept"`
	// Reasons tell the traveller what to change, most important first.
	Reasons []string `json:"reasons,omitempty"`
	// Frames assessed so far.
	Frames int `json:"frames"`
	// DurationMS is the time spent on the portrait (KindFace only).
	DurationMS int64 `json:"duration_ms,omitempty"`
}

// FingerInfo is one attempt of a finger (KindFingerAttempt) or its outcome
// (KindFinger).
type FingerInfo struct {
	// Position is the policy name of the finger, e.g. "right_index".
	Position string `json:"position"`
	// Attempt is the attempt number (KindFingerAttempt) or the number of
	// attempts made (KindFinger).
	Attempt  int `json:"attempt"`
	Quality  int `json:"quality"`
	Minutiae int `json:"minutiae"`
	// Good is set when the quality reaches the policy's good quality.
	Good bool `json:"good,omitempty"`
	// Reason says why an attempt was not good enough, or why an image
	// could not be taken.
	Reason string `json:"reason,omitempty"`
	// Missing is the ISO reason the finger carries no template
	// (KindFinger): amputated, unable_to_print, low_quality,
	// skipped_by_officer, exempt.
	Missing    string `json:"missing,omitempty"`
	DurationMS int64  `json:"duration_ms,omitempty"`
}

// SavedInfo locates a saved record. The record itself never leaves the
// workflow except sealed.
type SavedInfo struct {
	RecordID string `json:"record_id"`
	// Seq is the record's sequence number in the outbox and hash chain.
	Seq uint64 `json:"seq"`
	// Bytes is the size of the sealed record.
	Bytes int `json:"bytes"`
	// SaveMS is the time to seal and durably append it.
	SaveMS int64 `json:"save_ms"`
}

// EndedInfo is how a session ended.
type EndedInfo struct {
	Outcome Outcome `json:"outcome"`
	// Reason says why a session did not end saved.
	Reason     string `json:"reason,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// DeliveredInfo is a record the node acknowledged.
type DeliveredInfo struct {
	Seq uint64 `json:"seq"`
}

// Stream is the workflow's event stream: a ring of the latest events that
// any number of readers follow at their own pace. Publishing never blocks;
// a reader that falls more than the ring's size behind is told how many
// events it missed. It is safe for concurrent use.
type Stream struct {
	clk clock.Clock

	mu   sync.Mutex
	ring []Event // ring[i%len] holds event seq i+1
	next uint64  // seq of the next event
	wake chan struct{}
}

// NewStream returns a stream keeping the last size events (at least 16)
// and stamping them with clk (nil means the wall clock).
func NewStream(size int, clk clock.Clock) *Stream {
	return &Stream{clk: clock.OrReal(clk), ring: make([]Event, max(size, 16)), next: 1, wake: make(chan struct{})}
}

// Publish stamps e with the next sequence number and the time (unless set)
// and wakes every reader. It returns the event as published.
func (s *Stream) Publish(e Event) Event {
	s.mu.Lock()
	e.Seq = s.next
	if e.Time.IsZero() {
		e.Time = s.clk.Now()
	}
	s.ring[(s.next-1)%uint64(len(s.ring))] = e
	s.next++
	close(s.wake)
	s.wake = make(chan struct{})
	s.mu.Unlock()
	return e
}

// Last returns the sequence number of the latest event (0 before any).
func (s *Stream) Last() uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next - 1
}

// Since returns the events published after seq after, oldest first;
// missed counts those no longer in the ring. When there is nothing new,
// wake is closed at the next Publish.
func (s *Stream) Since(after uint64) (events []Event, missed uint64, wake <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.next - 1
	if after >= last {
		return nil, 0, s.wake
	}
	oldest := uint64(1)
	if last > uint64(len(s.ring)) {
		oldest = last - uint64(len(s.ring)) + 1
	}
	if after+1 < oldest {
		missed = oldest - after - 1
		after = oldest - 1
	}
	events = make([]Event, 0, last-after)
	for seq := after + 1; seq <= last; seq++ {
		events = append(events, s.ring[(seq-1)%uint64(len(s.ring))])
	}
	return events, missed, s.wake
}

// Follow calls fn with every event published after seq after, in order,
// until ctx ends (it returns nil then) or fn returns an error (it returns
// that error). missed is the number of events skipped because the reader
// fell behind the ring, usually 0.
func (s *Stream) Follow(ctx context.Context, after uint64, fn func(e Event, missed uint64) error) error {
	for {
		evs, missed, wake := s.Since(after)
		for _, e := range evs {
			if err := fn(e, missed); err != nil {
				return err
			}
			missed = 0
			after = e.Seq
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		}
	}
}
