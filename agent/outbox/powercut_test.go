package outbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// model is what the test knows about the records across power cuts.
type model struct {
	mu        sync.Mutex
	built     map[uint64]map[[32]byte]bool // every payload a build produced for a seq
	saved     map[uint64][32]byte          // Append returned nil
	acked     map[uint64]bool              // Ack returned nil
	dead      map[uint64]bool              // DeadLetter returned nil, or Fail moved it
	deadMaybe map[uint64]bool              // DeadLetter or Fail was tried
}

func newModel() *model {
	return &model{built: map[uint64]map[[32]byte]bool{}, saved: map[uint64][32]byte{}, acked: map[uint64]bool{},
		dead: map[uint64]bool{}, deadMaybe: map[uint64]bool{}}
}

func (m *model) build(seq uint64, prev [32]byte, size int) []byte {
	p := payloadFor(seq, prev, size)
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.built[seq] == nil {
		m.built[seq] = map[[32]byte]bool{}
	}
	m.built[seq][sha256.Sum256(p)] = true
	return p
}

// check opens nothing: it drains o and checks every invariant.
func (m *model) check(t *testing.T, o *Outbox, round int) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	rep, err := inspect(o.fs, o.dir, true)
	if err != nil {
		t.Fatalf("round %d: inspect = %v", round, err)
	}
	for _, p := range rep.Problems {
		if p.Damage {
			t.Fatalf("round %d: %v", round, p)
		}
	}
	st := o.Stats()
	if st.Lost != 0 || st.Quarantined != 0 {
		t.Fatalf("round %d: Lost %d Quarantined %d after power cuts, want 0 0", round, st.Lost, st.Quarantined)
	}
	got := map[uint64][32]byte{}
	var last uint64
	for _, d := range drain(t, o) {
		seq, prev, err := checkPayload(d.Payload)
		if err != nil || seq != d.Seq {
			t.Fatalf("round %d: record %d is damaged or phantom: payload seq %d, %v", round, d.Seq, seq, err)
		}
		h := sha256.Sum256(d.Payload)
		if !m.built[d.Seq][h] {
			t.Fatalf("round %d: record %d was never built (phantom)", round, d.Seq)
		}
		if d.Seq <= last {
			t.Fatalf("round %d: delivery order %d after %d", round, d.Seq, last)
		}
		last = d.Seq
		if ph, ok := m.saved[d.Seq-1]; ok && ph != prev {
			t.Fatalf("round %d: record %d links to %x, want the saved record %d (%x)", round, d.Seq, prev[:4], d.Seq-1, ph[:4])
		}
		got[d.Seq] = h
	}
	o.Rewind()
	deadSet := map[uint64]bool{}
	for _, dl := range o.DeadLetters() {
		deadSet[dl.Seq] = true
		p, err := o.DeadLetterPayload(dl.Seq)
		if err != nil {
			t.Fatalf("round %d: DeadLetterPayload(%d) = %v", round, dl.Seq, err)
		}
		if !m.built[dl.Seq][sha256.Sum256(p)] {
			t.Fatalf("round %d: dead letter %d holds a payload never built", round, dl.Seq)
		}
	}
	for seq, h := range m.saved {
		switch g, present := got[seq]; {
		case present && g != h:
			t.Fatalf("round %d: saved record %d changed", round, seq)
		case m.dead[seq] && !deadSet[seq]:
			t.Fatalf("round %d: dead letter %d lost", round, seq)
		case m.dead[seq] && present:
			t.Fatalf("round %d: dead letter %d delivered again", round, seq)
		case !present && !m.acked[seq] && !deadSet[seq] && !(m.deadMaybe[seq] && deadSet[seq]):
			t.Fatalf("round %d: saved record %d lost (not acked, not dead)", round, seq)
		}
	}
}

// workload appends, delivers and settles records until the power goes or
// ops appends are done.
func (m *model) workload(o *Outbox, fs *vfs.Mem, rng *rand.Rand, ops int) {
	sizes := make([]int, ops)
	for i := range sizes {
		sizes[i] = 80 + rng.IntN(3000)
	}
	var wg sync.WaitGroup
	var next sync.Mutex
	i := 0
	appender := func() {
		defer wg.Done()
		for !fs.IsCut() {
			next.Lock()
			if i >= ops {
				next.Unlock()
				return
			}
			size := sizes[i]
			i++
			next.Unlock()
			var h [32]byte
			seq, err := o.AppendWith(context.Background(), func(seq uint64, prev [32]byte) ([]byte, error) {
				p := m.build(seq, prev, size)
				h = sha256.Sum256(p)
				return p, nil
			})
			switch {
			case err == nil:
				m.mu.Lock()
				m.saved[seq] = h
				m.mu.Unlock()
			case errors.Is(err, ErrFull) && !fs.IsCut():
				time.Sleep(time.Millisecond) // let the deliverer free space
			case !fs.IsCut():
				panic("append failed without a power cut: " + err.Error())
			}
		}
	}
	wg.Add(3)
	go appender()
	go appender()
	go appender()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	drng := rand.New(rand.NewPCG(rng.Uint64(), 7))
	for {
		select {
		case <-done:
			return
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Millisecond)
		d, err := o.Next(ctx)
		cancel()
		if err != nil {
			if fs.IsCut() {
				<-done
				return
			}
			continue
		}
		switch r := drng.IntN(100); {
		case r == 0:
			m.setMaybe(d.Seq)
			if o.DeadLetter(d.Seq, "rejected by the test node") == nil {
				m.setDead(d.Seq)
			}
		case r <= 8:
			m.setMaybe(d.Seq)
			if o.Fail(d.Seq, "no ack in time") == nil && o.isDead(d.Seq) {
				m.setDead(d.Seq)
			}
		default:
			if o.Ack(d.Seq) == nil {
				m.mu.Lock()
				m.acked[d.Seq] = true
				m.mu.Unlock()
			}
		}
	}
}

func (m *model) setMaybe(seq uint64) { m.mu.Lock(); m.deadMaybe[seq] = true; m.mu.Unlock() }
func (m *model) setDead(seq uint64)  { m.mu.Lock(); m.dead[seq] = true; m.mu.Unlock() }

func (o *Outbox) isDead(seq uint64) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	_, ok := o.dead[seq]
	return ok
}

// TestPowerCuts cuts the power at random operations, while appending,
// delivering and acknowledging and while opening, and checks after each
// restart that no saved record is lost, changed, reordered or invented, that
// dead letters stay, and that nothing was quarantined (a power cut never
// damages what was synced).
func TestPowerCuts(t *testing.T) {
	cuts := 400
	if testing.Short() {
		cuts = 200
	}
	rng := rand.New(rand.NewPCG(20260101, uint64(cuts)))
	fs := vfs.NewMem()
	m := newModel()
	opts := func() *Options {
		op := testOpts(fs)
		op.MaxBytes = 256 << 10
		op.SegmentBytes = 8 << 10
		op.Window = 4
		if rng.IntN(2) == 0 { // half the time with the committer's delay on a real clock
			op.Clock, op.CommitDelay = clock.Real(), 2*time.Millisecond
		}
		return op
	}
	var torn float64
	for round := 0; round < cuts; round++ {
		if round%4 == 3 {
			// Cut during open and recovery.
			fs.CutAfter(rng.IntN(40))
			if o, err := New("/ob", opts()); err == nil {
				fs.Cut()
				o.Close()
			} else if !fs.IsCut() {
				t.Fatalf("round %d: New failed without a power cut: %v", round, err)
			}
			fs = fs.Restart(rng)
			continue
		}
		fs.CutAfter(-1)
		o, err := New("/ob", opts())
		if err != nil {
			t.Fatalf("round %d: New after a power cut = %v", round, err)
		}
		m.check(t, o, round)
		torn += testutil.ToFloat64(o.m.recoveries.WithLabelValues("torn_tail"))
		fs.CutAfter(rng.IntN(300))
		m.workload(o, fs, rng, 60)
		fs.Cut()
		o.Close()
		fs = fs.Restart(rng)
	}
	fs.CutAfter(-1)
	o, err := New("/ob", opts())
	if err != nil {
		t.Fatalf("final New = %v", err)
	}
	defer o.Close()
	m.check(t, o, cuts)
	t.Logf("%d power cuts: %d records saved, %d acked, %d dead letters, %.0f torn tails cut", cuts, len(m.saved), len(m.acked), len(m.dead), torn)
}
