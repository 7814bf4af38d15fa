package capture

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

func TestStream(t *testing.T) {
	s := NewStream(16, clock.NewFake(time.Time{}))
	if evs, missed, _ := s.Since(0); len(evs) != 0 || missed != 0 {
		t.Fatalf("Since(0) on an empty stream = %d events, %d missed", len(evs), missed)
	}
	for i := range 20 {
		e := s.Publish(Event{Kind: KindPrompt, Message: fmt.Sprint(i + 1)})
		if e.Seq != uint64(i+1) || e.Time.IsZero() {
			t.Fatalf("Publish %d = seq %d time %v", i+1, e.Seq, e.Time)
		}
	}
	tests := []struct {
		after       uint64
		first, n    int
		wantMissed  uint64
		description string
	}{
		{0, 5, 16, 4, "from the start: the 4 oldest are gone"},
		{4, 5, 16, 0, "just behind the ring"},
		{10, 11, 10, 0, "within the ring"},
		{19, 20, 1, 0, "the last one"},
		{20, 0, 0, 0, "nothing new"},
		{99, 0, 0, 0, "ahead of the stream"},
	}
	for _, tt := range tests {
		evs, missed, _ := s.Since(tt.after)
		if len(evs) != tt.n || missed != tt.wantMissed || (tt.n > 0 && evs[0].Seq != uint64(tt.first)) {
			first := uint64(0)
			if len(evs) > 0 {
				first = evs[0].Seq
			}
			t.Errorf("%s: Since(%d) = %d events from %d, %d missed; want %d from %d, %d missed",
				tt.description, tt.after, len(evs), first, missed, tt.n, tt.first, tt.wantMissed)
		}
	}
	if s.Last() != 20 {
		t.Errorf("Last = %d, want 20", s.Last())
	}
}

func TestStreamFollow(t *testing.T) {
	s := NewStream(16, nil)
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	var got []uint64
	done := make(chan error, 1)
	go func() {
		done <- s.Follow(ctx, 0, func(e Event, missed uint64) error {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, e.Seq)
			if len(got) == 3 {
				cancel()
			}
			return nil
		})
	}()
	for range 3 {
		s.Publish(Event{Kind: KindState})
	}
	if err := <-done; err != nil {
		t.Errorf("Follow = %v, want nil when ctx ends", err)
	}
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Errorf("followed %v, want [1 2 3]", got)
	}
	stop := errors.New("stop")
	if err := s.Follow(context.Background(), 0, func(Event, uint64) error { return stop }); err != stop {
		t.Errorf("Follow = %v, want the callback's error", err)
	}
}

// fakeLight records what it was told to show.
type fakeLight struct {
	mu    sync.Mutex
	shown []string
	err   error
}

func (l *fakeLight) Show(c Colour, blink time.Duration) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := fmt.Sprint(c)
	if blink > 0 {
		s += "~"
	}
	l.shown = append(l.shown, s)
	return l.err
}

func (l *fakeLight) last() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.shown) == 0 {
		return ""
	}
	return l.shown[len(l.shown)-1]
}

func TestRunLight(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	s := NewStream(64, clk)
	l := &fakeLight{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunLight(ctx, s, l, clk, nil) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunLight = %v", err)
		}
	}()
	wait := func(want string) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for l.last() != want {
			if time.Now().After(deadline) {
				t.Fatalf("LED shows %q, want %q", l.last(), want)
			}
			time.Sleep(time.Millisecond)
		}
	}
	const green, blue, yellow, red = "2", "4", "3", "1"
	wait(green) // ready
	steps := []struct {
		e    Event
		want string
	}{
		{Event{Kind: KindState, State: StatePresent}, blue},
		{Event{Kind: KindPrompt, State: StateFingers, Finger: &FingerInfo{Position: "right_index", Attempt: 1}}, blue + "~"},
		{Event{Kind: KindFingerAttempt, State: StateFingers, Finger: &FingerInfo{Quality: 10}}, yellow},
		{Event{Kind: KindPrompt, State: StateFingers, Finger: &FingerInfo{Position: "right_index", Attempt: 2}}, yellow}, // the flash lasts
		{Event{Kind: KindEnded, State: StateSaving, Ended: &EndedInfo{Outcome: OutcomeSaved}}, green + "~"},
	}
	for _, st := range steps {
		s.Publish(st.e)
		wait(st.want)
	}
	s.Publish(Event{Kind: KindState, State: StateIdle})
	if err := clk.BlockUntil(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	clk.Advance(flashFor)
	wait(green)
	s.Publish(Event{Kind: KindState, State: StateRefused})
	wait(red + "~")
}

func FuzzApplyValues(f *testing.F) {
	f.Add("max_attempts", "2", "fingers", "right_index,left_index")
	f.Add("face_budget", "3s", "step_timeout", "1m")
	f.Add("policy", "ees", "good_finger_quality", "70")
	f.Add("fingers", "[]", "min_finger_quality", "-1")
	f.Add("keep_finger_images", "true", "session_timeout", "9999999h")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2 string) {
		c, err := applyValues(testPolicy(), map[string]string{k1: v1, k2: v2})
		if err != nil {
			if !errors.Is(err, ErrInvalidPolicy) {
				t.Fatalf("applyValues error %v does not wrap ErrInvalidPolicy", err)
			}
			return
		}
		if _, err := PolicyFromConfig(c); err != nil {
			t.Fatalf("applyValues accepted a policy PolicyFromConfig refuses: %v", err)
		}
	})
}

func FuzzParsePolicyFile(f *testing.F) {
	f.Add([]byte(`{"values":{"max_attempts":"2"},"changed":"2026-01-01T00:00:00Z"}`))
	f.Add([]byte(`{"values":null}`))
	f.Add([]byte(`[1,2]`))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := parsePolicyFile(b)
		if err != nil {
			return
		}
		if len(v) > 0 {
			_, _ = applyValues(testPolicy(), v)
		}
	})
}
