package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/fac"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/matcher"
	"github.com/bali-rbdes/kiosk/cmd/internal/demo"
)

// e2eLog records what the kiosk's event stream says.
type e2eLog struct {
	mu        sync.Mutex
	saved     map[uint64]string // seq -> session
	delivered map[uint64]bool
	ended     map[capture.Outcome]int
	reasons   []string
}

func (l *e2eLog) handle(e capture.Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch e.Kind {
	case capture.KindSaved:
		l.saved[e.Saved.Seq] = e.Session
	case capture.KindDelivered:
		l.delivered[e.Delivered.Seq] = true
	case capture.KindEnded:
		l.ended[e.Ended.Outcome]++
		if e.Ended.Outcome != capture.OutcomeSaved {
			l.reasons = append(l.reasons, e.Ended.Reason)
		}
	}
}

func (l *e2eLog) counts() (saved, delivered int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.saved), len(l.delivered)
}

// TestEndToEnd runs the demo's wiring in one process: travellers walk up
// to kioskd (real r30x driver over the simulator's pty, simulated camera
// and presence sensor), kioskd captures, seals, saves and delivers to the
// reference node through the embedded broker, which is cut in the middle.
// Every record must be stored exactly once and acknowledged, the node must
// decrypt it, its templates must match the synthetic fingers' ground
// truth, and its face record must decode.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("end-to-end: about 20 s of simulated wire time (the R30x image upload is 3.4 s at 115200 baud)")
	}
	const travellers = 4
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	w, err := demo.Start(ctx, demo.Options{Dir: dir, Suite: "x25519", Seed: 11, Returning: 0.5, Travellers: travellers})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := w.Close(); err != nil {
			t.Errorf("closing the world: %v", err)
		}
	}()
	portrait := filepath.Join(dir, "portrait.png")
	if err := demo.FramePortrait("../../agent/face/testdata/astronaut.png", portrait); err != nil {
		t.Fatal(err)
	}
	path, listen, err := w.WriteKioskConfig(demo.KioskSettings{Portrait: portrait,
		Fingers: []string{"right_index"}, PresenceEvery: 300 * time.Millisecond, FaceBudget: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.LoadKiosk(path)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Capture.GoodFingerQuality = 30 // fewer 3.4 s uploads
	log := zap.NewNop()
	if testing.Verbose() {
		log = zaptest.NewLogger(t, zaptest.Level(zapcore.InfoLevel))
	}
	d, err := newDaemon(cfg, log, nil)
	if err != nil {
		t.Fatal(err)
	}
	dctx, stopKiosk := context.WithCancel(context.Background())
	kioskDone := make(chan error, 1)
	go func() { kioskDone <- d.Run(dctx) }()
	defer func() {
		stopKiosk()
		if err := <-kioskDone; err != nil {
			t.Errorf("kioskd Run = %v", err)
		}
	}()
	base := "http://" + listen
	if err := demo.WaitReady(ctx, base); err != nil {
		t.Fatal(err)
	}

	l := &e2eLog{saved: map[uint64]string{}, delivered: map[uint64]bool{}, ended: map[capture.Outcome]int{}}
	fctx, stopFollow := context.WithCancel(ctx)
	followed := make(chan struct{})
	go func() {
		defer close(followed)
		demo.FollowEvents(fctx, base, 0, func(e capture.Event) {
			w.Crowd.Handle(e)
			l.handle(e)
			if testing.Verbose() && e.Kind != capture.KindFaceFrame {
				t.Logf("%s event %s %s %s", e.Time.Format("05.000"), e.Kind, e.State, e.Message)
			}
		}, func(n int) { t.Errorf("missed %d events", n) })
	}()
	defer func() { stopFollow(); <-followed }()

	waitUntil := func(what string, within time.Duration, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(within)
		for !cond() {
			if time.Now().After(deadline) {
				s, dl := l.counts()
				t.Fatalf("%s: not within %v (saved %d, delivered %d, other outcomes %v)", what, within, s, dl, l.reasons)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	half := travellers / 2
	waitUntil("first half delivered", 2*time.Minute, func() bool { s, dl := l.counts(); return s >= half && dl >= half })
	// Outage: the broker goes away; the kiosk keeps capturing into its
	// outbox, which drains once the broker is back.
	if err := w.CutBroker(); err != nil {
		t.Fatal(err)
	}
	before, _ := l.counts()
	waitUntil("a record saved during the outage", 2*time.Minute, func() bool { s, _ := l.counts(); return s > before })
	if st := d.outbox.Stats(); st.Records == 0 {
		t.Errorf("outbox depth during the outage = 0, want the records saved meanwhile")
	}
	if err := w.RestoreBroker(); err != nil {
		t.Fatal(err)
	}
	waitUntil("every record saved and acknowledged", 3*time.Minute, func() bool {
		s, dl := l.counts()
		return s >= travellers && dl >= s
	})
	waitUntil("outbox drained", time.Minute, func() bool { return d.outbox.Stats().Records == 0 })
	if st := d.outbox.Stats(); st.DeadLetters != 0 {
		t.Errorf("dead letters = %d, want 0", st.DeadLetters)
	}

	// The node stored each record exactly once.
	stored, err := w.Store.Records(ctx, w.KioskID())
	if err != nil {
		t.Fatal(err)
	}
	savedN, _ := l.counts()
	seqs := map[uint64]bool{}
	ids := map[string]bool{}
	for _, r := range stored {
		if seqs[r.Seq] || ids[r.RecordID] {
			t.Errorf("record seq %d (%s) stored twice", r.Seq, r.RecordID)
		}
		seqs[r.Seq], ids[r.RecordID] = true, true
	}
	if len(stored) != savedN {
		t.Errorf("node stored %d records, kiosk saved %d", len(stored), savedN)
	}
	for seq := range l.saved {
		if !seqs[seq] {
			t.Errorf("saved record seq %d is not at the node", seq)
		}
	}

	// The node decrypted them: templates match the ground truth of the
	// travellers' fingers, the face records decode.
	out := filepath.Join(dir, "export")
	if _, err := w.Store.Export(ctx, out); err != nil {
		t.Fatal(err)
	}
	checkExport(t, out, w)
}

// checkExport checks every exported record against the crowd's ground
// truth.
func checkExport(t *testing.T, out string, w *demo.World) {
	t.Helper()
	m := matcher.Default()
	recDirs, err := filepath.Glob(filepath.Join(out, w.KioskID(), "*"))
	if err != nil || len(recDirs) == 0 {
		t.Fatalf("no exported records (%v)", err)
	}
	visits := w.Crowd.Visits()
	templates := 0
	for _, rd := range recDirs {
		var meta struct {
			SessionID string `json:"session_id"`
			Policy    string `json:"policy"`
		}
		b, err := os.ReadFile(filepath.Join(rd, "record.json"))
		if err != nil || json.Unmarshal(b, &meta) != nil {
			t.Fatalf("%s: record.json: %v", rd, err)
		}
		v := w.Crowd.Visit(meta.SessionID)
		if v == nil {
			t.Errorf("%s: session %s has no traveller", rd, meta.SessionID)
			continue
		}
		if meta.Policy != "demo" {
			t.Errorf("%s: policy %q, want demo", rd, meta.Policy)
		}
		iso, err := os.ReadFile(filepath.Join(rd, "face.iso"))
		if err != nil {
			t.Errorf("%s: no face record: %v", rd, err)
		} else if fr, err := fac.Unmarshal(iso); err != nil || len(fr.Images) != 1 {
			t.Errorf("%s: face record does not decode: %v", rd, err)
		} else if _, err := jpeg.Decode(bytes.NewReader(fr.Images[0].Data)); err != nil {
			t.Errorf("%s: face image is not JPEG: %v", rd, err)
		}
		ists, _ := filepath.Glob(filepath.Join(rd, "finger-*.ist"))
		for _, ist := range ists {
			b, err := os.ReadFile(ist)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := fmr.Unmarshal(b)
			if err != nil {
				t.Errorf("%s: not an ISO record: %v", ist, err)
				continue
			}
			pos := int(rec.Views[0].Position)
			tpl, err := m.PrepareRecord(rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			genuine := bestScore(m, tpl, v, pos)
			impostor := 0.0
			for _, o := range visits {
				if o.Identity != v.Identity {
					impostor = max(impostor, bestScore(m, tpl, o, pos))
				}
			}
			t.Logf("traveller %d (identity %d) finger %d: genuine %.3f, best impostor %.3f", v.N, v.Identity, pos, genuine, impostor)
			if genuine < 0.075 || genuine <= impostor {
				t.Errorf("%s: template of traveller %d finger %d scores %.3f against its ground truth and %.3f against another traveller's; want >= 0.075 and higher",
					filepath.Base(ist), v.N, pos, genuine, impostor)
			}
			templates++
		}
	}
	if templates == 0 {
		t.Error("no finger template reached the node")
	}
	names := slices.Collect(func(yield func(string) bool) {
		for _, v := range visits {
			if !yield(fmt.Sprintf("%d:%d", v.N, v.Identity)) {
				return
			}
		}
	})
	t.Logf("travellers (number:identity): %s; %d templates checked", strings.Join(names, " "), templates)
}

// bestScore is the best score of tpl against the ground truth of every
// impression of finger pos placed by visit v (and by the same identity in
// other visits, which are the same finger).
func bestScore(m *matcher.Matcher, tpl *matcher.Template, v *demo.Visit, pos int) float64 {
	best := 0.0
	for _, im := range v.Placed[pos] {
		truth := m.Prepare(im.Minutiae(), im.PPI)
		best = max(best, m.Score(tpl, truth))
	}
	return best
}
