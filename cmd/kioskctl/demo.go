package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/officer"
	"github.com/bali-rbdes/kiosk/cmd/internal/demo"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

const demoAbout = `Run the whole chain on this machine, on loopback, with nothing but Go: a
throwaway development CA, the embedded MQTT broker (mochi, mutual TLS), the
reference national node storing into SQLite in a temporary folder, and
kioskd (built next to kioskctl) driving simulated devices: its real R30x
driver talks to the R307 simulator over a pseudo-terminal at 115200 baud,
the simulated camera looks at the committed public-domain portrait, the
simulated presence sensor starts a session at each arrival. Synthetic
travellers (some returning) walk up, place the finger each prompt asks for,
and are captured, sealed, saved, published, stored at the node and acked.

One line per event; on exit the summary (its last line): travellers,
records stored, capture-to-ack latency (p50/p99, from "saved" in the
kiosk's outbox to the kiosk receiving the node's signed ack), outbox depth
and dead letters. With -outage D the broker is cut for D after half the
travellers: the outbox grows, then drains. Exit status 0 only when every
record was stored exactly once and acknowledged. Ctrl-C stops everything.

Each image upload takes 3.4 s on the wire at 115200 baud, as on a real
R307; the default policy asks for two fingers (a border policy asks for
four: -fingers).`

// demoRun is one run of the demo.
type demoRun struct {
	out   io.Writer
	start time.Time
	world *demo.World
	base  string
	n     int

	mu         sync.Mutex
	saved      map[uint64]demoSaved // seq -> record
	delivered  map[uint64]time.Time
	published  map[uint64]int
	acks       map[uint64]rbdesv1.AckStatus
	returning  int
	failed     int
	lastEvent  time.Time
	extra      int
	outageDone bool
	down       bool
	peak       int64 // outbox depth peak while the broker is down
	pid        int
	rss        rssStats
	first      time.Time // first traveller's arrival
	// pending holds lines about a record printed before its "saved" line.
	pending map[uint64][]string
}

type demoSaved struct {
	traveller int
	recordID  string
	at        time.Time
}

func runDemo(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "demo", "", demoAbout)
	travellers := fs.Int("travellers", 6, "travellers to serve")
	outage := fs.Duration("outage", 0, "cut the broker for this long after half the travellers (e.g. 20s; 0: no outage)")
	fingers := fs.String("fingers", "right_index,right_middle", "fingers the capture policy asks for, in order")
	returning := fs.Float64("returning", 0.3, "share of arrivals who are travellers seen before (0-1)")
	seed := fs.Uint64("seed", 2028, "seed of the synthetic travellers (the default brings a returning traveller third)")
	every := fs.Duration("presence", time.Second, "interval of the simulated presence sensor between travellers")
	kioskd := fs.String("kioskd", "", "kioskd binary (default: the one next to kioskctl, then $PATH)")
	portrait := fs.String("portrait", filepath.Join("agent", "face", "testdata", "astronaut.png"), "portrait the simulated camera sees (PNG)")
	keep := fs.Bool("keep", false, "keep the working folder (keys, kioskd config and log, outbox, node database)")
	suite := fs.String("suite", "mlkem768-x25519", "HPKE suite records are sealed with: mlkem768-x25519 or x25519")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usageError("demo takes no arguments")
	case *travellers < 1 || *travellers > 100000:
		return usageError("-travellers %d: want 1 to 100000", *travellers)
	case *outage < 0:
		return usageError("-outage must not be negative")
	case *returning < 0 || *returning > 1:
		return usageError("-returning %v: want 0 to 1", *returning)
	case *every < 100*time.Millisecond:
		return usageError("-presence %v: want at least 100ms", *every)
	case *suite != "mlkem768-x25519" && *suite != "x25519":
		return usageError("-suite %q: want mlkem768-x25519 or x25519", *suite)
	}
	var policyFingers []string
	for _, f := range splitList(*fingers) {
		if _, err := capture.ParseFinger(f); err != nil {
			return usageError("-fingers: %v", err)
		}
		policyFingers = append(policyFingers, f)
	}
	bin, err := findKioskd(*kioskd)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "kiosk-demo-")
	if err != nil {
		return fmt.Errorf("cannot make a working folder: %w", err)
	}
	if !*keep {
		defer os.RemoveAll(dir)
	}
	r := &demoRun{out: st.out, start: time.Now(), n: *travellers, saved: map[uint64]demoSaved{}, delivered: map[uint64]time.Time{},
		published: map[uint64]int{}, acks: map[uint64]rbdesv1.AckStatus{}, lastEvent: time.Now(), pending: map[uint64][]string{}}
	share := *returning
	if share == 0 {
		share = -1 // demo.Options reads 0 as its default
	}
	err = r.run(ctx, dir, bin, *portrait, demo.Options{Dir: dir, Suite: *suite, Seed: *seed, Returning: share, Travellers: *travellers},
		demo.KioskSettings{Fingers: policyFingers, PresenceEvery: *every}, *outage)
	if *keep {
		r.printf("working folder kept: %s", dir)
	}
	return err
}

// findKioskd locates the kioskd binary.
func findKioskd(flagPath string) (string, error) {
	if flagPath != "" {
		return flagPath, nil
	}
	if self, err := os.Executable(); err == nil {
		p := filepath.Join(filepath.Dir(self), "kioskd")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	if p, err := exec.LookPath("kioskd"); err == nil {
		return p, nil
	}
	return "", errors.New("no kioskd binary next to kioskctl or in $PATH: run make demo (it builds both into bin/), or pass -kioskd")
}

func (r *demoRun) printf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.printfLocked(format, args...)
}

func (r *demoRun) printfLocked(format string, args ...any) {
	fmt.Fprintf(r.out, "%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

func (r *demoRun) run(ctx context.Context, dir, bin, portrait string, wo demo.Options, ks demo.KioskSettings, outage time.Duration) (err error) {
	var summary string
	defer func() {
		if summary == "" {
			r.mu.Lock()
			summary = fmt.Sprintf("FAILED: %s (%d of %d travellers saved, %d acked)", errString(err), len(r.saved), r.n, r.countDelivered())
			r.mu.Unlock()
		}
		// The summary is the last line.
		fmt.Fprintf(r.out, "summary: %s\n", summary)
		if err != nil {
			err = &exitError{code: 1}
		}
	}()
	wo.OnPublish = r.onPublish
	wo.OnAck = r.onAck
	world, err := demo.Start(ctx, wo)
	if err != nil {
		return err
	}
	r.world = world
	defer func() {
		if cerr := world.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("stopping the broker, node and simulator: %w", cerr)
		}
	}()
	r.printf("working folder %s", dir)
	r.printf("development CA made; broker (mochi) listening on %s with mutual TLS", world.BrokerURL())
	r.printf("node %s subscribed; it stores into %s (SQLite)", demo.NodeID, filepath.Join(dir, "node.db"))
	r.printf("R307 fingerprint module simulated on %s; travellers are synthetic (seed %d)", world.Sim.Path(), wo.Seed)
	ks.Portrait = filepath.Join(dir, "portrait.png")
	if err := demo.FramePortrait(portrait, ks.Portrait); err != nil {
		return err
	}
	cfg, listen, err := world.WriteKioskConfig(ks)
	if err != nil {
		return err
	}
	r.base = "http://" + listen

	logFile, err := os.Create(filepath.Join(dir, "kioskd.log"))
	if err != nil {
		return err
	}
	defer logFile.Close()
	cmd := exec.Command(bin, "-config", cfg)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = demoChildAttr()
	t0 := time.Now()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	// stop asks kioskd to stop as systemd would (SIGTERM) and waits; a
	// kioskd that does not stop within 15 s is killed.
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return fmt.Errorf("kioskd did not stop within 15 s of SIGTERM and was killed; see %s", logFile.Name())
		}
		if !cmd.ProcessState.Success() && ctx.Err() == nil {
			return fmt.Errorf("kioskd stopped with %v; see %s", cmd.ProcessState, logFile.Name())
		}
		return nil
	}
	defer stop()

	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	err = waitReadyOrExit(rctx, r.base, exited)
	cancel()
	if err != nil {
		return fmt.Errorf("%w (kioskd log: %s)", err, logFile.Name())
	}
	r.printf("kioskd (pid %d) ready in %.2f s: config %s, log %s, officer API %s/api/v1/state",
		cmd.Process.Pid, time.Since(t0).Seconds(), cfg, logFile.Name(), r.base)
	r.pid = cmd.Process.Pid

	fctx, stopFollow := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		demo.FollowEvents(fctx, r.base, 0, r.onEvent, func(n int) { r.printf("(%d events missed)", n) })
	}()
	defer func() { stopFollow(); <-followed }()

	if err := r.wait(ctx, outage, exited); err != nil {
		return err
	}
	ob, err := r.outbox()
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.rss.sample(r.pid)
	r.mu.Unlock()
	if err := stop(); err != nil {
		return err
	}
	summary, err = r.verify(ctx, ob, outage)
	return err
}

func errString(err error) string {
	if err == nil {
		return "interrupted"
	}
	return err.Error()
}

// waitReadyOrExit waits for kioskd's /readyz, or its early exit.
func waitReadyOrExit(ctx context.Context, base string, exited <-chan error) error {
	ready := make(chan error, 1)
	go func() { ready <- demo.WaitReady(ctx, base) }()
	select {
	case err := <-ready:
		return err
	case err := <-exited:
		return fmt.Errorf("kioskd exited at start: %v", err)
	}
}

// wait runs until every traveller's record is saved and acknowledged,
// cutting the broker on the way when asked.
func (r *demoRun) wait(ctx context.Context, outage time.Duration, exited <-chan error) error {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	var restoreAt, sampled, measured time.Time
	for {
		select {
		case <-ctx.Done():
			r.printf("interrupted: stopping kioskd, the node, the broker and the simulator")
			return errors.New("interrupted")
		case err := <-exited:
			return fmt.Errorf("kioskd exited: %v", err)
		case <-tick.C:
		}
		r.mu.Lock()
		saved, delivered := len(r.saved), r.countDelivered()
		idle := time.Since(r.lastEvent)
		if time.Since(measured) >= time.Second {
			measured = time.Now()
			r.rss.sample(r.pid)
		}
		if r.down && time.Since(sampled) >= 500*time.Millisecond {
			sampled = time.Now()
			if ob, err := r.outboxLocked(); err == nil && ob.Depth > r.peak {
				r.peak = ob.Depth
				r.printfLocked("outbox: %s waiting for the broker", plural(int(ob.Depth), "record"))
			}
		}
		r.mu.Unlock()
		switch {
		case outage > 0 && restoreAt.IsZero() && saved >= (r.n+1)/2:
			if err := r.world.CutBroker(); err != nil {
				return err
			}
			restoreAt = time.Now().Add(outage)
			r.mu.Lock()
			r.down = true
			r.printfLocked("=== broker cut for %v: the kiosk keeps capturing; records wait in its outbox ===", outage)
			r.mu.Unlock()
		case !restoreAt.IsZero() && !r.outageDone && time.Now().After(restoreAt):
			if err := r.world.RestoreBroker(); err != nil {
				return err
			}
			r.mu.Lock()
			r.outageDone, r.down = true, false
			ob, _ := r.outboxLocked()
			r.printfLocked("=== broker back on %s: the outbox (%s) drains ===", r.world.BrokerURL(), plural(int(ob.Depth), "record"))
			r.mu.Unlock()
		case saved >= r.n && delivered >= r.n && (outage == 0 || r.outageDone):
			return nil
		case idle > 2*time.Minute:
			return fmt.Errorf("nothing happened for %v (saved %d, acked %d of %d)", idle.Round(time.Second), saved, delivered, r.n)
		}
	}
}

func (r *demoRun) countDelivered() int {
	n := 0
	for seq := range r.saved {
		if _, ok := r.delivered[seq]; ok {
			n++
		}
	}
	return n
}

// outbox asks kioskd for its outbox.
func (r *demoRun) outbox() (officer.Outbox, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.outboxLocked()
}

func (r *demoRun) outboxLocked() (officer.Outbox, error) {
	var ob officer.Outbox
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get(r.base + "/api/v1/outbox")
	if err != nil {
		return ob, fmt.Errorf("asking kioskd for its outbox: %w", err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&ob); err != nil {
		return ob, fmt.Errorf("kioskd's outbox answer: %w", err)
	}
	return ob, nil
}

// cancelExtra cancels a session nobody came to once the demo's
// travellers are served.
func (r *demoRun) cancelExtra() {
	c := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("POST", r.base+"/api/v1/sessions/current/cancel", strings.NewReader(`{"reason":"demo over: no more travellers"}`))
	req.Header.Set("Content-Type", "application/json")
	if resp, err := c.Do(req); err == nil {
		resp.Body.Close()
	}
}

func (r *demoRun) who(v *demo.Visit) string {
	if v == nil {
		return "nobody"
	}
	return fmt.Sprintf("traveller %d", v.N)
}

// onEvent prints a kiosk event.
func (r *demoRun) onEvent(e capture.Event) {
	v := r.world.Crowd.Handle(e)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lastEvent = time.Now()
	if v == nil && e.Session != "" && e.Kind != capture.KindStarted && e.Kind != capture.KindSaved {
		return // a session nobody came to, being cancelled
	}
	who := r.who(v)
	switch e.Kind {
	case capture.KindStarted:
		if v == nil {
			r.extra++
			if r.extra == 1 {
				r.printfLocked("(every traveller served: further arrivals are cancelled)")
			}
			go r.cancelExtra()
			return
		}
		how := "new"
		switch {
		case len(v.Sessions) > 1:
			how = "trying again"
		case v.Returning:
			how = fmt.Sprintf("returning: identity %d seen before", v.Identity)
			r.returning++
		}
		if r.first.IsZero() {
			r.first = time.Now()
		}
		r.printfLocked("%s arrives (%s; presence sensor) - session %s", who, how, short(e.Session))
	case capture.KindFace:
		f := e.Face
		verdict := "accepted"
		if !f.Accept {
			verdict = "not accepted (" + strings.Join(f.Reasons, ", ") + "), best kept"
		}
		r.printfLocked("%s  face: quality %d, %s, %s in %.2f s", who, f.Quality, verdict, plural(f.Frames, "frame"), float64(f.DurationMS)/1000)
	case capture.KindFingerAttempt:
		f := e.Finger
		note := "good"
		if !f.Good {
			note = f.Reason
		}
		r.printfLocked("%s  %s attempt %d: quality %d, %d minutiae - %s", who, spoken(f.Position), f.Attempt, f.Quality, f.Minutiae, note)
	case capture.KindFinger:
		f := e.Finger
		if f.Missing != "" {
			r.printfLocked("%s  %s: recorded missing (%s) after %s: %s", who, spoken(f.Position), f.Missing, plural(f.Attempt, "attempt"), f.Reason)
		} else {
			r.printfLocked("%s  %s: kept quality %d after %s", who, spoken(f.Position), f.Quality, plural(f.Attempt, "attempt"))
		}
	case capture.KindSaved:
		s := e.Saved
		n := 0
		if v != nil {
			n = v.N
		}
		r.saved[s.Seq] = demoSaved{traveller: n, recordID: s.RecordID, at: e.Time}
		r.printfLocked("%s  sealed: record %s, %.1f KB, signed, encrypted to the node (%s), chained as seq %d", who, short(s.RecordID), float64(s.Bytes)/1024, r.world.Suite(), s.Seq)
		depth := ""
		if r.down {
			if ob, err := r.outboxLocked(); err == nil {
				depth = fmt.Sprintf("; outbox now holds %d (broker down)", ob.Depth)
			}
		}
		r.printfLocked("%s  saved: durably in the outbox in %d ms%s", who, s.SaveMS, depth)
		for _, line := range r.pending[s.Seq] {
			r.printfLocked("%s  %s", who, line)
		}
		delete(r.pending, s.Seq)
	case capture.KindEnded:
		if e.Ended.Outcome != capture.OutcomeSaved && v != nil {
			r.failed++
			r.printfLocked("%s  session %s: %s - they will try again", who, e.Ended.Outcome, e.Ended.Reason)
		}
	case capture.KindDelivered:
		seq := e.Delivered.Seq
		r.delivered[seq] = e.Time
		if s, ok := r.saved[seq]; ok {
			r.printfLocked("traveller %d  acked: the kiosk has the node's signed ack for seq %d and drops it from its outbox (capture-to-ack %.3f s)",
				s.traveller, seq, e.Time.Sub(s.at).Seconds())
		} else {
			r.printfLocked("seq %d  acked", seq)
		}
	case capture.KindRefused:
		r.printfLocked("refused: %s", e.Message)
	case capture.KindError:
		if e.Session == "" { // a session's errors are in its ending line
			r.printfLocked("kiosk error: %s", e.Message)
		}
	}
}

func (r *demoRun) onPublish(seq uint64, recordID string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.published[seq]++
	again := ""
	if n := r.published[seq]; n > 1 {
		again = fmt.Sprintf(" (sent again: %d times now)", n)
	}
	r.recordLine(seq, fmt.Sprintf("published: seq %d (%s) reached the broker%s", seq, short(recordID), again))
}

func (r *demoRun) onAck(seq uint64, recordID string, status rbdesv1.AckStatus) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acks[seq] = status
	r.recordLine(seq, fmt.Sprintf("stored at %s: verified, decrypted, committed to SQLite; signed ack %s sent", demo.NodeID,
		strings.TrimPrefix(status.String(), "ACK_STATUS_")))
}

// recordLine prints a line about record seq under its traveller, or keeps
// it until the record's "saved" line is printed (the broker may see the
// record before the kiosk's event stream says it is saved).
func (r *demoRun) recordLine(seq uint64, line string) {
	if s, ok := r.saved[seq]; ok {
		r.printfLocked("traveller %d  %s", s.traveller, line)
		return
	}
	r.pending[seq] = append(r.pending[seq], line)
}

// verify checks the node's store and returns the summary.
func (r *demoRun) verify(ctx context.Context, ob officer.Outbox, outage time.Duration) (string, error) {
	stored, err := r.world.Store.Records(ctx, r.world.KioskID())
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	var problems []string
	bySeq := map[uint64]int{}
	byID := map[string]int{}
	for _, s := range stored {
		bySeq[s.Seq]++
		byID[s.RecordID]++
	}
	var lat []float64
	for seq, s := range r.saved {
		switch {
		case bySeq[seq] != 1 || byID[s.recordID] != 1:
			problems = append(problems, fmt.Sprintf("seq %d stored %d times", seq, bySeq[seq]))
		}
		if at, ok := r.delivered[seq]; ok {
			lat = append(lat, at.Sub(s.at).Seconds())
		} else {
			problems = append(problems, fmt.Sprintf("seq %d not acked", seq))
		}
	}
	if len(stored) != len(r.saved) {
		problems = append(problems, fmt.Sprintf("the node holds %d records, the kiosk saved %d", len(stored), len(r.saved)))
	}
	if len(r.saved) != r.n {
		problems = append(problems, fmt.Sprintf("%d of %d travellers saved", len(r.saved), r.n))
	}
	if ob.Depth != 0 || ob.DeadLetters != 0 {
		problems = append(problems, fmt.Sprintf("outbox depth %d, dead letters %d", ob.Depth, ob.DeadLetters))
	}
	slices.Sort(lat)
	p50, p99 := percentile(lat, 50), percentile(lat, 99)
	out := "no outage"
	if outage > 0 {
		out = fmt.Sprintf("outage %v (outbox peak %d)", outage, r.peak)
	}
	setup := "?"
	if !r.first.IsZero() {
		setup = fmt.Sprintf("%.1f s", r.first.Sub(r.start).Seconds())
	}
	s := fmt.Sprintf("travellers %d (%d returning, %d sessions retried), records stored %d (exactly once: %v), acked %d, capture-to-ack p50 %.3f s p99 %.3f s, outbox depth %d, dead letters %d, %s, kioskd RSS %s, setup to first traveller %s, %s in all",
		r.n, r.returning, r.failed, len(stored), len(problems) == 0, len(lat), p50, p99, ob.Depth, ob.DeadLetters, out, r.rss, setup, time.Since(r.start).Round(time.Second))
	if len(problems) > 0 {
		return "FAILED (" + strings.Join(problems, "; ") + "): " + s, errors.New(strings.Join(problems, "; "))
	}
	return s, nil
}

// rssStats follows kioskd's resident memory (Linux /proc; elsewhere it
// stays empty).
type rssStats struct {
	last, max, hwm int64 // KiB
	n              int
}

func (s *rssStats) sample(pid int) {
	if pid == 0 {
		return
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return
	}
	for _, line := range strings.Split(string(b), "\n") {
		var v int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			if _, err := fmt.Sscanf(line[len("VmRSS:"):], "%d", &v); err == nil {
				s.last, s.max, s.n = v, max(s.max, v), s.n+1
			}
		case strings.HasPrefix(line, "VmHWM:"):
			if _, err := fmt.Sscanf(line[len("VmHWM:"):], "%d", &v); err == nil {
				s.hwm = v
			}
		}
	}
}

func (s rssStats) String() string {
	if s.n == 0 {
		return "not measured"
	}
	return fmt.Sprintf("%.1f MB at the end, %.1f MB at most (%d samples, kernel high-water mark %.1f MB)",
		float64(s.last)/1024, float64(s.max)/1024, s.n, float64(s.hwm)/1024)
}

// percentile is the nearest-rank percentile of sorted values.
func percentile(sorted []float64, p int) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := (p*len(sorted)+99)/100 - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

func short(id string) string {
	if len(id) > 13 {
		return id[:13] + "..."
	}
	return id
}

func spoken(position string) string {
	f, err := capture.ParseFinger(position)
	if err != nil {
		return position
	}
	return f.Spoken()
}
