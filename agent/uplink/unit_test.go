package uplink

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/command"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// fakeQueue is an in-memory Queue that records how each record was
// settled.
type fakeQueue struct {
	mu      sync.Mutex
	acked   map[uint64]bool
	failed  map[uint64]int
	dead    map[uint64]string
	rewinds int
}

func newFakeQueue() *fakeQueue {
	return &fakeQueue{acked: map[uint64]bool{}, failed: map[uint64]int{}, dead: map[uint64]string{}}
}

func (q *fakeQueue) Next(ctx context.Context) (outbox.Delivery, error) {
	<-ctx.Done()
	return outbox.Delivery{}, ctx.Err()
}
func (q *fakeQueue) Ack(seq uint64) error {
	q.mu.Lock()
	q.acked[seq] = true
	q.mu.Unlock()
	return nil
}
func (q *fakeQueue) Fail(seq uint64, _ string) error {
	q.mu.Lock()
	q.failed[seq]++
	q.mu.Unlock()
	return nil
}
func (q *fakeQueue) DeadLetter(seq uint64, r string) error {
	q.mu.Lock()
	q.dead[seq] = r
	q.mu.Unlock()
	return nil
}
func (q *fakeQueue) Rewind() { q.mu.Lock(); q.rewinds++; q.mu.Unlock() }
func (q *fakeQueue) Stats() outbox.Stats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return outbox.Stats{DeadLetters: len(q.dead)}
}

// unitUplink is an uplink over a fakeQueue with one record in flight.
func unitUplink(t testing.TB) (*Uplink, *fakeQueue, ed25519.PrivateKey, *rbdesv1.Ack) {
	t.Helper()
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	q := newFakeQueue()
	u, err := New(q, &Options{KioskID: "kiosk-001", Country: "IDN", Brokers: []string{"tcp://127.0.0.1:1"}, AckKeys: map[string]ed25519.PublicKey{"cmd-1": pub}})
	if err != nil {
		t.Fatal(err)
	}
	payload := []byte("sealed record 7")
	f := &flight{seq: 7, id: uuid.Must(uuid.NewV7()).String(), hash: sha256.Sum256(payload)}
	u.inflight[7] = f
	a := &rbdesv1.Ack{RecordId: f.id, Sha256: f.hash[:], Status: rbdesv1.AckStatus_ACK_STATUS_STORED, NodeId: "node-idn-1", Seq: 7, KioskId: "kiosk-001", StoredUnixMs: 1}
	if err := wire.SignAck(a, "cmd-1", key); err != nil {
		t.Fatal(err)
	}
	return u, q, key, a
}

func TestHandleAckSettles(t *testing.T) {
	tests := []struct {
		name    string
		mod     func(a *rbdesv1.Ack)
		resign  bool
		acked   bool
		dead    bool
		failed  bool
		badKind string
	}{
		{"stored", nil, false, true, false, false, ""},
		{"duplicate", func(a *rbdesv1.Ack) { a.Status = rbdesv1.AckStatus_ACK_STATUS_DUPLICATE }, true, true, false, false, ""},
		{"rejected", func(a *rbdesv1.Ack) {
			a.Status, a.Reason = rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_CHAIN_FORK
		}, true, false, true, false, ""},
		{"storage unavailable", func(a *rbdesv1.Ack) {
			a.Status, a.Reason = rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_STORAGE_UNAVAILABLE
		}, true, false, false, true, ""},
		{"tampered status", func(a *rbdesv1.Ack) { a.Status = rbdesv1.AckStatus_ACK_STATUS_DUPLICATE }, false, false, false, false, "bad_signature"},
		{"other kiosk", func(a *rbdesv1.Ack) { a.KioskId = "kiosk-002" }, true, false, false, false, "wrong_kiosk"},
		{"other hash", func(a *rbdesv1.Ack) { a.Sha256 = make([]byte, 32) }, true, false, false, false, "mismatch"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			u, q, key, a := unitUplink(t)
			if tc.mod != nil {
				tc.mod(a)
			}
			if tc.resign {
				if err := wire.SignAck(a, "cmd-1", key); err != nil {
					t.Fatal(err)
				}
			}
			p, _ := wire.Marshal(a)
			u.handleAck(p)
			if q.acked[7] != tc.acked || (q.dead[7] != "") != tc.dead || (q.failed[7] > 0) != tc.failed {
				t.Errorf("acked %v dead %q failed %d; want acked %v dead %v failed %v", q.acked[7], q.dead[7], q.failed[7], tc.acked, tc.dead, tc.failed)
			}
			if _, still := u.inflight[7]; still == (tc.acked || tc.dead || tc.failed) {
				t.Errorf("record still in flight: %v", still)
			}
			if tc.dead && u.Alarms()[0].Kind != "dead_letter" {
				t.Errorf("alarms = %+v, want dead_letter", u.Alarms())
			}
		})
	}
}

// TestTimeoutsFailOrRewind: an overdue record is a failed delivery when
// the node acknowledged a later one, and a silent node otherwise.
func TestTimeoutsFailOrRewind(t *testing.T) {
	u, q, _, _ := unitUplink(t)
	now := u.clk.Now()
	u.inflight[7].sentAt, u.inflight[7].deadline = now.Add(-time.Hour), now.Add(-time.Minute)
	u.checkTimeouts()
	if q.failed[7] != 0 || q.rewinds != 1 || len(u.inflight) != 0 {
		t.Fatalf("silent node: failed %d rewinds %d inflight %d; want 0, 1, 0", q.failed[7], q.rewinds, len(u.inflight))
	}
	if len(u.Alarms()) != 1 || u.Alarms()[0].Kind != "no_ack" {
		t.Errorf("alarms = %+v, want no_ack", u.Alarms())
	}
	u.inflight[8] = &flight{seq: 8, sentAt: now.Add(-time.Hour), deadline: now.Add(-time.Minute)}
	u.lastAck = now.Add(-time.Second)
	u.checkTimeouts()
	if q.failed[8] != 1 || q.rewinds != 1 {
		t.Fatalf("record-specific timeout: failed %d rewinds %d; want 1, 1", q.failed[8], q.rewinds)
	}
}

// TestDropsMakePoison: a record alone in flight across MaxDrops drops goes
// to dead letters; records in flight together only become suspects.
func TestDropsMakePoison(t *testing.T) {
	u, q, _, _ := unitUplink(t)
	u.inflight[8] = &flight{seq: 8}
	u.endSession(true)
	if len(u.suspects) != 2 || u.drops[7] != 0 || u.windowLocked() != 1 {
		t.Fatalf("after a drop with two in flight: suspects %v drops %v window %d", u.suspects, u.drops, u.windowLocked())
	}
	for i := range u.o.MaxDrops {
		u.inflight[7] = &flight{seq: 7}
		u.endSession(true)
		if want := i < u.o.MaxDrops-1; (q.dead[7] == "") != want {
			t.Fatalf("after drop %d alone: dead %q", i+1, q.dead[7])
		}
	}
	if u.suspects[7] || !u.suspects[8] {
		t.Errorf("suspects after poison = %v, want only 8", u.suspects)
	}
}

// TestReconnectBackoff: attempts against a refusing broker back off
// exponentially with jitter, on the injected clock, up to ReconnectMax.
func TestReconnectBackoff(t *testing.T) {
	clk := newFakeClock()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	u, err := New(newFakeQueue(), &Options{KioskID: "kiosk-001", Country: "IDN", Brokers: []string{"tcp://127.0.0.1:1"}, AckKeys: map[string]ed25519.PublicKey{"cmd-1": pub},
		ReconnectMin: time.Second, ReconnectMax: 8 * time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	waits := make(chan time.Duration, 1)
	u.onBackoff = func(d time.Duration) { waits <- d }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.Run(ctx) }()
	// Before attempt n+2 the uplink sleeps a jittered backoff in [b/2, b],
	// b = min(2^n s, 8 s); the attempt comes only when the clock gets there.
	for n, b := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second} {
		var w time.Duration
		select {
		case w = <-waits:
		case <-time.After(10 * time.Second):
			t.Fatalf("no backoff after attempt %d", n+1)
		}
		if w < b/2 || w > b {
			t.Errorf("backoff %d = %v, want in [%v, %v]", n+1, w, b/2, b)
		}
		if got := u.o.ConnectEpochs.Value(); got != uint64(n+1) {
			t.Fatalf("attempts = %d during backoff %d, want %d", got, n+1, n+1)
		}
		waitSleeping(t, clk)
		clk.Advance(w - time.Millisecond)
		time.Sleep(5 * time.Millisecond)
		if got := u.o.ConnectEpochs.Value(); got != uint64(n+1) {
			t.Fatalf("attempt %d came before its backoff %v", n+2, w)
		}
		clk.Advance(time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
}

// FuzzHandleAck feeds arbitrary bytes to the kiosk's ack handler: it never
// panics and settles the record in flight only for the node's genuine ack.
func FuzzHandleAck(f *testing.F) {
	u, _, key, genuine := unitUplink(f)
	g, _ := wire.Marshal(genuine)
	f.Add(g)
	f.Add(g[:len(g)-2])
	rej := proto.Clone(genuine).(*rbdesv1.Ack)
	rej.Status = rbdesv1.AckStatus_ACK_STATUS_REJECTED
	_ = wire.SignAck(rej, "cmd-1", key)
	r, _ := wire.Marshal(rej)
	f.Add(r)
	f.Add([]byte{})
	fl := *u.inflight[7]
	f.Fuzz(func(t *testing.T, b []byte) {
		q := newFakeQueue()
		u.q = q
		u.inflight = map[uint64]*flight{7: &fl}
		u.known = map[uint64]sent{}
		u.handleAck(b)
		if !q.acked[7] && q.dead[7] == "" && q.failed[7] == 0 {
			return
		}
		a, err := wire.ParseAck(b)
		if err != nil || !(proto.Equal(a, genuine) || proto.Equal(a, rej)) {
			t.Fatalf("a record was settled by an ack the node never signed: %x", b)
		}
	})
}

// memNonces is an in-memory command.NonceStore.
type memNonces map[string]bool

func (m memNonces) Use(n []byte, _, _ time.Time) (bool, error) {
	if m[string(n)] {
		return false, nil
	}
	m[string(n)] = true
	return true, nil
}

// FuzzRunCommand feeds arbitrary bytes to the kiosk's command handler: it
// never panics, every reply names this kiosk, and only a genuine signed
// command runs.
func FuzzRunCommand(f *testing.F) {
	pub, key, _ := ed25519.GenerateKey(rand.Reader)
	signer, err := command.NewSigner("cmd-1", key, nil)
	if err != nil {
		f.Fatal(err)
	}
	var genuine []*rbdesv1.Command
	for _, c := range []*rbdesv1.Command{
		{Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}},
		{Body: &rbdesv1.Command_SetCapturePolicy{SetCapturePolicy: &rbdesv1.SetCapturePolicy{Values: map[string]string{"max_attempts": "3"}}}},
		{Body: &rbdesv1.Command_RetireNodeKey{RetireNodeKey: &rbdesv1.RetireNodeKey{KeyId: "node-1"}}},
	} {
		c.KioskId = "kiosk-001"
		if err := signer.Sign(c); err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, c)
		b, _ := wire.Marshal(c)
		f.Add(b)
	}
	f.Add([]byte{})
	u, _, _, _ := unitUplink(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		v, err := command.NewVerifier("kiosk-001", map[string]ed25519.PublicKey{"cmd-1": pub}, memNonces{}, nil)
		if err != nil {
			t.Fatal(err)
		}
		u.o.Commands = v
		rep := u.runCommand(b)
		if rep == nil || rep.r.GetKioskId() != "kiosk-001" {
			t.Fatalf("reply %v does not name the kiosk", rep)
		}
		if _, err := wire.Marshal(rep.r); err != nil {
			t.Fatalf("reply does not encode: %v", err)
		}
		if rep.r.GetResult() != rbdesv1.CommandResult_COMMAND_RESULT_OK {
			return
		}
		cmd := &rbdesv1.Command{}
		if proto.Unmarshal(b, cmd) != nil {
			t.Fatal("a payload that is not a command ran")
		}
		for _, g := range genuine {
			if proto.Equal(cmd, g) {
				return
			}
		}
		t.Fatalf("a command that was never signed ran: %v", cmd)
	})
}

func TestCounterPersists(t *testing.T) {
	path := filepath.Join(t.TempDir(), "epoch")
	c, err := OpenCounter(path)
	if err != nil {
		t.Fatal(err)
	}
	for want := uint64(1); want <= 3; want++ {
		if got, err := c.Next(); got != want || err != nil {
			t.Fatalf("Next = %d, %v; want %d", got, err, want)
		}
	}
	c2, err := OpenCounter(path)
	if err != nil || c2.Value() != 3 {
		t.Fatalf("reopened counter = %d, %v; want 3", c2.Value(), err)
	}
	if err := writeFile(path, "garbage"); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenCounter(path); err == nil {
		t.Error("OpenCounter of a garbage file = nil error")
	}
}

func TestRecordID(t *testing.T) {
	id := uuid.Must(uuid.NewV7()).String()
	b, _ := wire.Marshal(&rbdesv1.SealedRecord{Version: 1, KioskId: "kiosk-001", RecordId: id, Seq: 3, Ciphertext: []byte{1, 2}})
	if got, err := recordID(b); got != id || err != nil {
		t.Errorf("recordID = %q, %v; want %q", got, err, id)
	}
	for _, bad := range [][]byte{nil, {0xff}, b[:10]} {
		if _, err := recordID(bad); !errors.Is(err, errNoRecordID) {
			t.Errorf("recordID(%x) = %v, want errNoRecordID", bad, err)
		}
	}
}
