// Package officer is the kiosk's local officer API: HTTP with JSON bodies
// on the loopback listener kioskd already runs for health and metrics
// (config http.listen), and the capture workflow's events as server-sent
// events. It is what the officer console uses: start and cancel a
// session, skip a finger with its ISO reason, see the current state, the
// last session's summary (quality figures and timings, never biometric
// data), device health, the outbox's depth and the uplink's state.
//
// Routes (all under /api/v1):
//
//	GET  /state                       capture state, devices, outbox, uplink
//	GET  /devices                     device health
//	GET  /outbox                      outbox depth, bytes, oldest record, dead letters
//	GET  /uplink                      broker connection and alarms
//	GET  /sessions/last               summary of the last session that ended
//	POST /sessions                    start a session {"officer": "id"}
//	POST /sessions/current/cancel     cancel it {"reason": "..."}
//	POST /sessions/current/fingers/{finger}/skip
//	                                  record a finger missing {"reason": "amputated"}
//	GET  /events                      server-sent events (Last-Event-ID resumes)
//
// Requests that change something must say Content-Type: application/json,
// which a web page from another origin cannot send without a CORS
// preflight that this API never grants: a browser on the kiosk cannot be
// made to start or cancel sessions by a page it visits. Errors are JSON
// {"error": "..."} with 400 (bad request), 404 (no such session), 409
// (busy, or too late to cancel) or 503 (refused: the outbox is full).
package officer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/clock"
)

// Workflow is what the API needs of the capture workflow;
// *capture.Workflow implements it.
type Workflow interface {
	Start(officer string) (string, error)
	Cancel(reason string) error
	SkipFinger(pos capture.Finger, reason string) error
	Status() capture.Status
	Last() *capture.Summary
	Events() *capture.Stream
}

// Device is the health of one device.
type Device struct {
	Name      string `json:"name"`
	Driver    string `json:"driver"`
	Role      string `json:"role"`
	Model     string `json:"model,omitempty"`
	Simulated bool   `json:"simulated,omitempty"`
	OK        bool   `json:"ok"`
	// Detail says what is wrong, or what the device reports.
	Detail string `json:"detail,omitempty"`
}

// Outbox is the state of the outbox.
type Outbox struct {
	// Depth is the number of saved records the node has not acknowledged.
	Depth    int64 `json:"depth"`
	InFlight int   `json:"in_flight"`
	// UsedBytes counts against MaxBytes; at 100% new sessions are refused.
	UsedBytes int64 `json:"used_bytes"`
	MaxBytes  int64 `json:"max_bytes"`
	// OldestAgeMS is the age of the oldest unacknowledged record.
	OldestAgeMS int64 `json:"oldest_age_ms"`
	DeadLetters int   `json:"dead_letters"`
	// Alarm is the fill level alarm: 0, 50, 80 or 95 (percent).
	Alarm   int    `json:"alarm"`
	LastSeq uint64 `json:"last_seq"`
}

// Uplink is the state of the connection to the national node.
type Uplink struct {
	// Enabled is false for a kiosk configured to run offline.
	Enabled   bool   `json:"enabled"`
	Connected bool   `json:"connected"`
	LastError string `json:"last_error,omitempty"`
	// Alarms are the raised uplink alarms (dead_letter, poison, no_ack,
	// subscribe), each with what to do.
	Alarms []Alarm `json:"alarms,omitempty"`
}

// Alarm is one raised alarm.
type Alarm struct {
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// State is the kiosk at a glance (GET /api/v1/state).
type State struct {
	Capture capture.Status `json:"capture"`
	Devices []Device       `json:"devices"`
	Outbox  *Outbox        `json:"outbox,omitempty"`
	Uplink  *Uplink        `json:"uplink,omitempty"`
}

// Options configure an API. The reporting functions may be nil when the
// kiosk has no such part; they are called on every request and must be
// quick.
type Options struct {
	Devices func() []Device
	Outbox  func() Outbox
	Uplink  func() Uplink
	// Heartbeat is the interval of keep-alive comments on event streams;
	// default 15s.
	Heartbeat time.Duration
	// Clock times heartbeats; default clock.Real().
	Clock clock.Clock
	// Logger; default zap.NewNop().
	Logger *zap.Logger
}

// API serves the officer API. Register adds its routes to a mux; Run must
// run for event streams to end when the daemon stops.
type API struct {
	wf   Workflow
	o    Options
	clk  clock.Clock
	log  *zap.Logger
	stop chan struct{}
}

// New returns the API for wf.
func New(wf Workflow, opts *Options) (*API, error) {
	if wf == nil {
		return nil, errors.New("officer: New needs the capture workflow")
	}
	var o Options
	if opts != nil {
		o = *opts
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	a := &API{wf: wf, o: o, clk: clock.OrReal(o.Clock), log: o.Logger, stop: make(chan struct{})}
	if a.log == nil {
		a.log = zap.NewNop()
	}
	return a, nil
}

// Run waits until ctx ends, then ends every open event stream so that
// the HTTP server can shut down. It returns nil.
func (a *API) Run(ctx context.Context) error {
	<-ctx.Done()
	close(a.stop)
	return nil
}

// Register adds the API's routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/state", a.state)
	mux.HandleFunc("GET /api/v1/devices", func(w http.ResponseWriter, _ *http.Request) { reply(w, http.StatusOK, a.devices()) })
	mux.HandleFunc("GET /api/v1/outbox", func(w http.ResponseWriter, _ *http.Request) {
		if a.o.Outbox == nil {
			fail(w, http.StatusNotFound, "this kiosk has no outbox")
			return
		}
		reply(w, http.StatusOK, a.o.Outbox())
	})
	mux.HandleFunc("GET /api/v1/uplink", func(w http.ResponseWriter, _ *http.Request) {
		reply(w, http.StatusOK, a.uplink())
	})
	mux.HandleFunc("GET /api/v1/sessions/last", a.last)
	mux.HandleFunc("POST /api/v1/sessions", a.start)
	mux.HandleFunc("POST /api/v1/sessions/current/cancel", a.cancel)
	mux.HandleFunc("POST /api/v1/sessions/current/fingers/{finger}/skip", a.skip)
	mux.HandleFunc("GET /api/v1/events", a.events)
}

func (a *API) devices() []Device {
	if a.o.Devices == nil {
		return []Device{}
	}
	return a.o.Devices()
}

func (a *API) uplink() *Uplink {
	if a.o.Uplink == nil {
		return &Uplink{}
	}
	u := a.o.Uplink()
	return &u
}

func (a *API) state(w http.ResponseWriter, _ *http.Request) {
	st := State{Capture: a.wf.Status(), Devices: a.devices(), Uplink: a.uplink()}
	if a.o.Outbox != nil {
		ob := a.o.Outbox()
		st.Outbox = &ob
	}
	reply(w, http.StatusOK, st)
}

func (a *API) last(w http.ResponseWriter, _ *http.Request) {
	s := a.wf.Last()
	if s == nil {
		fail(w, http.StatusNotFound, "no session has ended since the kiosk started")
		return
	}
	reply(w, http.StatusOK, s)
}

// StartRequest is the body of POST /api/v1/sessions (optional).
type StartRequest struct {
	// Officer is the officer's id, recorded in the capture record.
	Officer string `json:"officer"`
}

// StartReply answers a start.
type StartReply struct {
	Session string `json:"session"`
}

// CancelRequest is the body of a cancel (optional).
type CancelRequest struct {
	Reason string `json:"reason"`
}

// SkipRequest is the body of a skip.
type SkipRequest struct {
	// Reason is amputated, unable_to_print, skipped_by_officer or exempt.
	Reason string `json:"reason"`
}

// maxBody bounds request bodies.
const maxBody = 4 << 10

// maxText bounds the officer id and reasons.
const maxText = 200

func (a *API) start(w http.ResponseWriter, r *http.Request) {
	var req StartRequest
	if !decode(w, r, &req) {
		return
	}
	if err := checkText("officer", req.Officer); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	id, err := a.wf.Start(req.Officer)
	if err != nil {
		failWorkflow(w, err, http.StatusInternalServerError)
		return
	}
	a.log.Info("officer started a session", zap.String("session", id), zap.String("officer", req.Officer))
	reply(w, http.StatusCreated, StartReply{Session: id})
}

func (a *API) cancel(w http.ResponseWriter, r *http.Request) {
	var req CancelRequest
	if !decode(w, r, &req) {
		return
	}
	if err := checkText("reason", req.Reason); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	st := a.wf.Status()
	if err := a.wf.Cancel(req.Reason); err != nil {
		failWorkflow(w, err, http.StatusInternalServerError)
		return
	}
	a.log.Info("officer cancelled the session", zap.String("session", st.Session), zap.String("reason", req.Reason))
	reply(w, http.StatusOK, StartReply{Session: st.Session})
}

func (a *API) skip(w http.ResponseWriter, r *http.Request) {
	var req SkipRequest
	if !decode(w, r, &req) {
		return
	}
	pos, err := capture.ParseFinger(r.PathValue("finger"))
	if err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := a.wf.SkipFinger(pos, req.Reason); err != nil {
		failWorkflow(w, err, http.StatusBadRequest) // otherwise a bad reason or a finger not asked for
		return
	}
	a.log.Info("officer recorded a finger as missing", zap.String("finger", pos.String()), zap.String("reason", req.Reason))
	reply(w, http.StatusOK, map[string]string{"finger": pos.String(), "missing": req.Reason})
}

// decode reads an optional JSON body into v, answering 400 or 415 itself
// when it cannot; it reports whether the handler should go on.
func decode(w http.ResponseWriter, r *http.Request, v any) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		fail(w, http.StatusUnsupportedMediaType, "send Content-Type: application/json (with a JSON body, or none)")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		fail(w, http.StatusBadRequest, "reading the request: "+err.Error())
		return false
	}
	if err := decodeBody(body, v); err != nil {
		fail(w, http.StatusBadRequest, err.Error())
		return false
	}
	return true
}

// decodeBody decodes a request body strictly: one JSON object with known
// fields only, at most maxBody bytes; an empty body is an empty request.
func decodeBody(body []byte, v any) error {
	if len(body) > maxBody {
		return fmt.Errorf("request body larger than %d bytes", maxBody)
	}
	if strings.TrimSpace(string(body)) == "" {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("request body is not the expected JSON object: %v", err)
	}
	if dec.More() {
		return errors.New("request body holds more than one JSON value")
	}
	return nil
}

func checkText(field, s string) error {
	if len(s) > maxText {
		return fmt.Errorf("%s is longer than %d bytes", field, maxText)
	}
	for _, c := range s {
		if c < 0x20 || c == 0x7f || c == 0xfffd {
			return fmt.Errorf("%s holds control characters or invalid UTF-8", field)
		}
	}
	return nil
}

func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func fail(w http.ResponseWriter, code int, msg string) {
	reply(w, code, map[string]string{"error": msg})
}

// failWorkflow answers a capture workflow error with the status its
// sentinel stands for (capture/errors.go), or with otherwise.
func failWorkflow(w http.ResponseWriter, err error, otherwise int) {
	code := otherwise
	switch {
	case errors.Is(err, capture.ErrNoSession):
		code = http.StatusNotFound
	case errors.Is(err, capture.ErrBusy):
		code = http.StatusConflict
	case errors.Is(err, capture.ErrRefused):
		code = http.StatusServiceUnavailable
	}
	fail(w, code, err.Error())
}

// events streams the capture events as server-sent events: "id: SEQ",
// "event: KIND", "data: JSON". A client resumes after a reconnect with
// Last-Event-ID (or ?after=SEQ); events already gone from the ring are
// announced with an event "missed" whose data is {"missed": N}. Without
// either, the stream starts with the next event; ?after=0 replays what the
// ring still holds. A comment line is sent every Options.Heartbeat.
func (a *API) events(w http.ResponseWriter, r *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		fail(w, http.StatusInternalServerError, "this server cannot stream")
		return
	}
	stream := a.wf.Events()
	after := stream.Last()
	from := r.Header.Get("Last-Event-ID")
	if v := r.URL.Query().Get("after"); v != "" {
		from = v
	}
	if from != "" {
		n, err := strconv.ParseUint(from, 10, 64)
		if err != nil {
			fail(w, http.StatusBadRequest, fmt.Sprintf("Last-Event-ID or after %q: want an event number", from))
			return
		}
		after = n
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	fmt.Fprintf(w, ": kiosk capture events\nretry: 1000\n\n")
	fl.Flush()

	hb := a.clk.NewTicker(a.o.Heartbeat)
	defer hb.Stop()
	ctx := r.Context()
	for {
		evs, missed, wake := stream.Since(after)
		if missed > 0 {
			fmt.Fprintf(w, "event: missed\ndata: {\"missed\": %d}\n\n", missed)
		}
		for _, e := range evs {
			b, err := json.Marshal(e)
			if err != nil {
				continue
			}
			fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", e.Seq, e.Kind, b)
			after = e.Seq
		}
		if len(evs) > 0 || missed > 0 {
			fl.Flush()
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-a.stop:
			return
		case <-hb.C():
			fmt.Fprintf(w, ": %s\n\n", a.clk.Now().UTC().Format(time.RFC3339))
			fl.Flush()
		case <-wake:
		}
	}
}
