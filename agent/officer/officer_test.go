package officer

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/records"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeWorkflow answers with the errors it is given and records calls.
type fakeWorkflow struct {
	mu       sync.Mutex
	startErr error
	stopErr  error
	skipErr  error
	calls    []string
	last     *capture.Summary
	stream   *capture.Stream
}

func (f *fakeWorkflow) call(s string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, s)
}

func (f *fakeWorkflow) Start(officer string) (string, error) {
	f.call("start " + officer)
	if f.startErr != nil {
		return "", f.startErr
	}
	return "0190a000-0000-7000-8000-000000000001", nil
}

func (f *fakeWorkflow) Cancel(reason string) error {
	f.call("cancel " + reason)
	return f.stopErr
}

func (f *fakeWorkflow) SkipFinger(pos capture.Finger, reason string) error {
	f.call(fmt.Sprintf("skip %s %s", pos, reason))
	return f.skipErr
}

func (f *fakeWorkflow) Status() capture.Status {
	return capture.Status{State: capture.StateFingers, Session: "s-1", Finger: "right_index", Attempt: 2}
}

func (f *fakeWorkflow) Last() *capture.Summary { return f.last }

func (f *fakeWorkflow) Events() *capture.Stream { return f.stream }

func newServer(t *testing.T, wf *fakeWorkflow, opts *Options) (*httptest.Server, *API, func()) {
	t.Helper()
	if wf.stream == nil {
		wf.stream = capture.NewStream(16, nil)
	}
	a, err := New(wf, opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	a.Register(mux)
	srv := httptest.NewServer(mux)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			<-done
			srv.Close()
		})
	}
	t.Cleanup(stop)
	return srv, a, stop
}

func do(t *testing.T, method, url, ctype, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	if len(b) > 0 && b[0] == '{' {
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s %s: reply is not JSON: %v: %s", method, url, err, b)
		}
	}
	return resp.StatusCode, v
}

const jsonType = "application/json"

func TestRequests(t *testing.T) {
	full := fmt.Errorf("%w: %w", capture.ErrRefused, records.ErrOutboxFull)
	tests := []struct {
		name       string
		wf         *fakeWorkflow
		method     string
		path       string
		ctype      string
		body       string
		wantCode   int
		wantCall   string
		wantInBody string
	}{
		{"start", &fakeWorkflow{}, "POST", "/api/v1/sessions", jsonType, `{"officer":"off-12"}`, 201, "start off-12", "0190a000"},
		{"start without a body", &fakeWorkflow{}, "POST", "/api/v1/sessions", "application/json; charset=utf-8", "", 201, "start ", "session"},
		{"start busy", &fakeWorkflow{startErr: capture.ErrBusy}, "POST", "/api/v1/sessions", jsonType, `{}`, 409, "start ", "already running"},
		{"start refused", &fakeWorkflow{startErr: full}, "POST", "/api/v1/sessions", jsonType, `{}`, 503, "start ", "outbox is full"},
		{"start from a web form", &fakeWorkflow{}, "POST", "/api/v1/sessions", "text/plain", `{}`, 415, "", "application/json"},
		{"start unknown field", &fakeWorkflow{}, "POST", "/api/v1/sessions", jsonType, `{"oficer":"x"}`, 400, "", "unknown field"},
		{"start two values", &fakeWorkflow{}, "POST", "/api/v1/sessions", jsonType, `{} {}`, 400, "", "more than one"},
		{"start control characters", &fakeWorkflow{}, "POST", "/api/v1/sessions", jsonType, `{"officer":"a\u0007b"}`, 400, "", "control"},
		{"start huge body", &fakeWorkflow{}, "POST", "/api/v1/sessions", jsonType, `{"officer":"` + strings.Repeat("x", 5000) + `"}`, 400, "", "larger than"},
		{"cancel", &fakeWorkflow{}, "POST", "/api/v1/sessions/current/cancel", jsonType, `{"reason":"passport expired"}`, 200, "cancel passport expired", "s-1"},
		{"cancel nothing", &fakeWorkflow{stopErr: capture.ErrNoSession}, "POST", "/api/v1/sessions/current/cancel", jsonType, ``, 404, "cancel ", "no session"},
		{"cancel too late", &fakeWorkflow{stopErr: fmt.Errorf("%w: saving", capture.ErrBusy)}, "POST", "/api/v1/sessions/current/cancel", jsonType, ``, 409, "cancel ", "saving"},
		{"skip", &fakeWorkflow{}, "POST", "/api/v1/sessions/current/fingers/right_ring/skip", jsonType, `{"reason":"amputated"}`, 200, "skip right_ring amputated", "amputated"},
		{"skip bad finger", &fakeWorkflow{}, "POST", "/api/v1/sessions/current/fingers/nose/skip", jsonType, `{"reason":"amputated"}`, 400, "", "unknown finger"},
		{"skip refused", &fakeWorkflow{skipErr: errors.New("capture: missing reason \"lost\"")}, "POST", "/api/v1/sessions/current/fingers/left_thumb/skip", jsonType, `{"reason":"lost"}`, 400, "skip left_thumb lost", "lost"},
		{"skip no session", &fakeWorkflow{skipErr: capture.ErrNoSession}, "POST", "/api/v1/sessions/current/fingers/left_thumb/skip", jsonType, `{"reason":"exempt"}`, 404, "skip left_thumb exempt", "no session"},
		{"last before any", &fakeWorkflow{}, "GET", "/api/v1/sessions/last", "", "", 404, "", "no session has ended"},
		{"last", &fakeWorkflow{last: &capture.Summary{Session: "s-0", Outcome: capture.OutcomeSaved, Fingers: []capture.FingerSummary{{Position: "right_index", Quality: 71}}}},
			"GET", "/api/v1/sessions/last", "", "", 200, "", `"quality": 71`},
		{"get start", &fakeWorkflow{}, "GET", "/api/v1/sessions", "", "", 405, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wf := tt.wf
			srv, _, _ := newServer(t, wf, nil)
			req, _ := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantCode || !strings.Contains(string(b), tt.wantInBody) {
				t.Errorf("%s %s = %d %s, want %d containing %q", tt.method, tt.path, resp.StatusCode, b, tt.wantCode, tt.wantInBody)
			}
			calls := strings.Join(wf.calls, "; ")
			if calls != tt.wantCall {
				t.Errorf("workflow calls = %q, want %q", calls, tt.wantCall)
			}
		})
	}
}

func TestState(t *testing.T) {
	wf := &fakeWorkflow{}
	srv, _, _ := newServer(t, wf, &Options{
		Devices: func() []Device {
			return []Device{{Name: "fingerprint", Driver: "r30x", Role: "fingerprint", OK: false, Detail: "no answer"}}
		},
		Outbox: func() Outbox { return Outbox{Depth: 3, UsedBytes: 4096, MaxBytes: 1 << 20, DeadLetters: 1} },
		Uplink: func() Uplink {
			return Uplink{Enabled: true, Connected: false, LastError: "dial tcp: refused", Alarms: []Alarm{{Kind: "no_ack", Message: "node silent"}}}
		},
	})
	code, v := do(t, "GET", srv.URL+"/api/v1/state", "", "")
	if code != 200 {
		t.Fatalf("GET /state = %d", code)
	}
	b, _ := json.Marshal(v)
	for _, want := range []string{`"state":"fingers"`, `"finger":"right_index"`, `"depth":3`, `"dead_letters":1`, `"detail":"no answer"`, `"kind":"no_ack"`, `"connected":false`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("state %s lacks %s", b, want)
		}
	}
	for _, path := range []string{"/api/v1/devices", "/api/v1/outbox", "/api/v1/uplink"} {
		if code, _ := do(t, "GET", srv.URL+path, "", ""); code != 200 {
			t.Errorf("GET %s = %d, want 200", path, code)
		}
	}
	// A kiosk without an outbox says so.
	srv2, _, _ := newServer(t, &fakeWorkflow{}, nil)
	if code, v := do(t, "GET", srv2.URL+"/api/v1/outbox", "", ""); code != 404 || v["error"] == nil {
		t.Errorf("GET /outbox without an outbox = %d %v, want 404 with an error", code, v)
	}
}

// sse reads server-sent events.
type sse struct {
	resp *http.Response
	sc   *bufio.Scanner
}

type sseEvent struct {
	id, kind, data string
}

func openSSE(t *testing.T, url, lastID string) *sse {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET events = %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	t.Cleanup(func() { resp.Body.Close() })
	return &sse{resp: resp, sc: bufio.NewScanner(resp.Body)}
}

// next returns the next event; ok is false at the end of the stream.
func (s *sse) next() (e sseEvent, ok bool) {
	for s.sc.Scan() {
		line := s.sc.Text()
		switch {
		case line == "":
			if e.kind != "" {
				return e, true
			}
		case strings.HasPrefix(line, "id: "):
			e.id = line[4:]
		case strings.HasPrefix(line, "event: "):
			e.kind = line[7:]
		case strings.HasPrefix(line, "data: "):
			e.data = line[6:]
		}
	}
	return e, false
}

func TestEvents(t *testing.T) {
	wf := &fakeWorkflow{stream: capture.NewStream(16, nil)}
	srv, _, stop := newServer(t, wf, nil)
	wf.stream.Publish(capture.Event{Kind: capture.KindState, State: capture.StateIdle}) // before: not sent
	s := openSSE(t, srv.URL+"/api/v1/events", "")
	wf.stream.Publish(capture.Event{Kind: capture.KindPrompt, State: capture.StateFingers, Message: "Place your right index finger on the sensor",
		Finger: &capture.FingerInfo{Position: "right_index", Attempt: 1}})
	e, ok := s.next()
	if !ok || e.id != "2" || e.kind != "prompt" || !strings.Contains(e.data, `"message":"Place your right index finger on the sensor"`) {
		t.Fatalf("first event = %+v (ok %v), want prompt 2", e, ok)
	}
	var ev capture.Event
	if err := json.Unmarshal([]byte(e.data), &ev); err != nil || ev.Finger.Position != "right_index" {
		t.Errorf("event data = %v %+v", err, ev)
	}

	// Resuming after event 1 replays 2; after 0, with 20 more published,
	// the ring of 16 has lost some.
	r := openSSE(t, srv.URL+"/api/v1/events", "1")
	if e, _ := r.next(); e.id != "2" {
		t.Errorf("resumed after 1: first event %s, want 2", e.id)
	}
	for range 20 {
		wf.stream.Publish(capture.Event{Kind: capture.KindFaceFrame})
	}
	m := openSSE(t, srv.URL+"/api/v1/events?after=0", "")
	if e, _ := m.next(); e.kind != "missed" || e.data != `{"missed": 6}` {
		t.Errorf("replay from 0 = %+v, want 6 missed", e)
	}
	if e, _ := m.next(); e.id != "7" {
		t.Errorf("first replayed event = %s, want 7", e.id)
	}
	if code, _ := do(t, "GET", srv.URL+"/api/v1/events?after=x", "", ""); code != 400 {
		t.Errorf("after=x = %d, want 400", code)
	}

	// Stopping the API ends the streams.
	done := make(chan struct{})
	go func() {
		for {
			if _, ok := s.next(); !ok {
				close(done)
				return
			}
		}
	}()
	stop()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the event stream did not end when the API stopped")
	}
}

func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"officer":"off-1"}`))
	f.Add([]byte(`{"reason":"amputated"}`))
	f.Add([]byte(`  `))
	f.Add([]byte(`{"officer":1}`))
	f.Add([]byte(`{"officer":"a"}{"officer":"b"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var s StartRequest
		if err := decodeBody(b, &s); err == nil {
			_ = checkText("officer", s.Officer)
		}
		var k SkipRequest
		_ = decodeBody(b, &k)
	})
}

func TestEventsHeartbeat(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	wf := &fakeWorkflow{stream: capture.NewStream(16, clk)}
	srv, _, _ := newServer(t, wf, &Options{Heartbeat: 10 * time.Second, Clock: clk})
	resp, err := http.Get(srv.URL + "/api/v1/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rd := bufio.NewReader(resp.Body)
	line := func() string {
		t.Helper()
		s, err := rd.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the stream: %v", err)
		}
		return strings.TrimRight(s, "\n")
	}
	if got := line(); got != ": kiosk capture events" {
		t.Fatalf("first line = %q", got)
	}
	line() // retry
	line() // blank
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatal("the stream armed no heartbeat ticker")
	}
	clk.Advance(10 * time.Second)
	if got := line(); got != ": 2026-01-01T00:00:10Z" {
		t.Errorf("heartbeat = %q, want a comment with the time", got)
	}
}
