package capture

import (
	"context"
	"errors"
	"fmt"
	"image"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/records"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// shot is one scripted answer of the fake sensor.
type shot struct {
	quality int   // quality the fake pipeline reads off the image
	unread  bool  // the pipeline cannot read the image
	err     error // CaptureImage fails with it
	block   bool  // CaptureImage waits for ctx to end
}

// fakeSensor answers CaptureImage from a script; with the script used up
// it waits for ctx to end, as a sensor nobody touches does.
type fakeSensor struct {
	mu    sync.Mutex
	shots []shot
	calls int
}

func (f *fakeSensor) CaptureImage(ctx context.Context) (image.Image, error) {
	f.mu.Lock()
	f.calls++
	if len(f.shots) == 0 {
		f.mu.Unlock()
		<-ctx.Done()
		return nil, fmt.Errorf("fake sensor: waiting for a finger: %w", ctx.Err())
	}
	s := f.shots[0]
	f.shots = f.shots[1:]
	f.mu.Unlock()
	switch {
	case s.block:
		<-ctx.Done()
		return nil, fmt.Errorf("fake sensor: waiting for a finger: %w", ctx.Err())
	case s.err != nil:
		return nil, s.err
	}
	img := image.NewGray(image.Rect(0, 0, 4, 4))
	img.Pix[0] = uint8(s.quality)
	if s.unread {
		img.Pix[1] = 1
	}
	return img, nil
}

// waitBlocked waits until the sensor has been asked for n images, the
// last of which found no shot queued and is waiting on its context.
// Shots added after it returns are not seen by that call.
func (f *fakeSensor) waitBlocked(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f.mu.Lock()
		calls, queued := f.calls, len(f.shots)
		f.mu.Unlock()
		if calls >= n && queued == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("fake sensor: %d captures asked for within 10s, want %d", calls, n)
		}
		time.Sleep(time.Millisecond)
	}
}

func (f *fakeSensor) add(s ...shot) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.shots = append(f.shots, s...)
}

// fakePipeline reads the quality the fake sensor wrote into the image.
type fakePipeline struct{}

func (fakePipeline) Extract(img image.Image, pos Finger) (*FingerTemplate, error) {
	g, ok := img.(*image.Gray)
	if !ok || len(g.Pix) < 2 {
		return nil, errors.New("fake pipeline: not a fake sensor image")
	}
	if g.Pix[1] == 1 {
		return nil, errors.New("fake pipeline: too few ridges")
	}
	q := int(g.Pix[0])
	t := &FingerTemplate{ISO: []byte(fmt.Sprintf("FMR %d %d", pos, q)), Quality: q, Minutiae: q / 2, PPI: 500}
	if q < 50 {
		t.Hint = "press a little harder"
	}
	return t, nil
}

type fakeCamera struct{ err error }

func (c fakeCamera) Frame(ctx context.Context) (image.Image, error) {
	if c.err != nil {
		return nil, c.err
	}
	return image.NewGray(image.Rect(0, 0, 2, 2)), ctx.Err()
}

// fakeFace takes one frame from the camera, reports a few assessments and
// returns its script.
type fakeFace struct {
	mu    sync.Mutex
	err   error
	block bool
}

func (f *fakeFace) Best(ctx context.Context, cam Camera, budget time.Duration, onFrame func(FaceInfo)) (*Portrait, error) {
	f.mu.Lock()
	err, block := f.err, f.block
	f.mu.Unlock()
	if budget <= 0 {
		return nil, errors.New("fake face: no budget")
	}
	if _, err := cam.Frame(ctx); err != nil {
		return nil, fmt.Errorf("fake face: %w", err)
	}
	onFrame(FaceInfo{Quality: 40, Reasons: []string{"move closer"}})
	onFrame(FaceInfo{Quality: 45, Reasons: []string{"move closer"}})
	onFrame(FaceInfo{Quality: 80, Accept: true})
	if block {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	if err != nil {
		return nil, err
	}
	return &Portrait{ISO: []byte("FAC portrait"), Quality: 80, Accept: true, Frames: 3, Measures: map[string]int{"sharpness": 90}}, nil
}

func (f *fakeFace) set(err error, block bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err, f.block = err, block
}

// fakeSaver keeps copies of what it saves and wipes the original, as
// records.Saver does.
type fakeSaver struct {
	mu    sync.Mutex
	saved []*rbdesv1.CaptureRecord
	err   error
	gate  chan struct{} // when set, Save waits for it
	wiped []*rbdesv1.CaptureRecord
}

func (s *fakeSaver) Save(ctx context.Context, rec *rbdesv1.CaptureRecord) (records.Saved, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.wiped = append(s.wiped, rec)
	if s.err != nil {
		return records.Saved{}, s.err
	}
	c := proto.Clone(rec).(*rbdesv1.CaptureRecord)
	c.RecordId = fmt.Sprintf("0190a000-0000-7000-8000-%012d", len(s.saved)+1)
	s.saved = append(s.saved, c)
	return records.Saved{Seq: uint64(len(s.saved)), RecordID: c.RecordId, Bytes: proto.Size(c)}, nil
}

func (s *fakeSaver) records() []*rbdesv1.CaptureRecord {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]*rbdesv1.CaptureRecord(nil), s.saved...)
}

func (s *fakeSaver) setErr(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.err = err
}

type fakePresence struct{ ch chan bool }

func (p fakePresence) Next(ctx context.Context) (bool, error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case v := <-p.ch:
		return v, nil
	}
}

// rig is a running Workflow over fakes, on a fake clock.
type rig struct {
	t        *testing.T
	clk      *clock.Fake
	w        *Workflow
	sensor   *fakeSensor
	face     *fakeFace
	saver    *fakeSaver
	presence fakePresence
	seq      uint64 // last event consumed by next
	stop     func()
}

// testPolicy is the capture section of the tests: two fingers, three
// attempts, minimum 20, good 60, step 30s, session 3m.
func testPolicy() config.Capture {
	c := config.DefaultKiosk().Capture
	c.Fingers = []string{"right_index", "right_middle"}
	return c
}

type rigOptions struct {
	cfg        *config.Capture
	room       func() error
	policyFile string
}

func newRig(t *testing.T, ro rigOptions) *rig {
	t.Helper()
	r := &rig{t: t, clk: clock.NewFake(time.Time{}), sensor: &fakeSensor{}, face: &fakeFace{}, saver: &fakeSaver{},
		presence: fakePresence{ch: make(chan bool)}}
	cfg := testPolicy()
	if ro.cfg != nil {
		cfg = *ro.cfg
	}
	w, err := New(Deps{Finger: r.sensor, FingerPipeline: fakePipeline{}, Camera: fakeCamera{}, Face: r.face, Saver: r.saver,
		Presence: r.presence, Room: ro.room}, cfg,
		&Options{KioskID: "kiosk-test-1", Site: "lane 1", AgentVersion: "test", FingerDevice: "fingerprint", FaceDevice: "face",
			Devices:    []*rbdesv1.DeviceInfo{{Kind: rbdesv1.DeviceKind_DEVICE_KIND_FINGERPRINT_SENSOR, Name: "fingerprint", Driver: "fake"}},
			PolicyFile: ro.policyFile, Clock: r.clk})
	if err != nil {
		t.Fatal(err)
	}
	r.w = w
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Run = %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Error("Run did not return within 10s of cancel")
			}
		})
	}
	t.Cleanup(r.stop)
	r.next(KindState) // Run's "Ready"
	return r
}

// next returns the next event of kind, skipping others; it fails the test
// after 10 s of real time.
func (r *rig) next(kind Kind) Event {
	r.t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		evs, _, wake := r.w.Events().Since(r.seq)
		for _, e := range evs {
			r.seq = e.Seq
			if e.Kind == kind {
				return e
			}
		}
		if len(evs) > 0 {
			continue
		}
		select {
		case <-wake:
		case <-deadline:
			r.t.Fatalf("no %s event within 10s (last seq %d, state %s)", kind, r.seq, r.w.Status().State)
		}
	}
}

// ended waits for the end of the session and returns how it ended.
func (r *rig) ended() EndedInfo {
	r.t.Helper()
	e := r.next(KindEnded)
	return *e.Ended
}

// arrive signals a traveller's arrival.
func (r *rig) arrive() {
	r.t.Helper()
	r.sendPresence(true)
}

// sendPresence hands the workflow one presence reading.
func (r *rig) sendPresence(present bool) {
	r.t.Helper()
	select {
	case r.presence.ch <- present:
	case <-time.After(5 * time.Second):
		r.t.Fatal("the workflow does not read the presence sensor")
	}
}

// settle sends a departure and returns once the workflow has read it:
// the presence sensor is unbuffered and read by one loop, so every
// arrival sent before it has been acted on.
func (r *rig) settle() {
	r.t.Helper()
	r.sendPresence(false)
}

// waitTimers waits until the workflow has n timers armed.
func (r *rig) waitTimers(n int) {
	r.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.clk.BlockUntil(ctx, n); err != nil {
		r.t.Fatalf("%d timers never armed (have %d)", n, r.clk.Waiters())
	}
}
