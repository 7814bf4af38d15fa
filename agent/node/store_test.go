package node

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/broker/brokertest"
	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// env is a node (registry of kiosk-001, its sealer) over a store, driven
// through Handle.
type env struct {
	n      *Node
	store  *Store
	sealer *seal.Sealer
	cmdPub ed25519.PublicKey
	prev   [32]byte
}

func newEnv(t testing.TB, store *Store) *env {
	t.Helper()
	kx, _ := seal.KEM(seal.KEMX25519)
	nk, err := kx.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	devPub, dev, _ := ed25519.GenerateKey(rand.Reader)
	reg, err := nodeverify.NewRegistry([]nodeverify.Kiosk{{ID: "kiosk-001", Status: nodeverify.StatusActive, DeviceKeys: []nodeverify.DeviceKey{{ID: "device-1", Public: devPub}}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := nodeverify.New(reg, map[string]hpke.PrivateKey{"node-1": nk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmdPub, cmdKey, _ := ed25519.GenerateKey(rand.Reader)
	n, err := New(v, store, &Options{NodeID: "node-idn-1", Country: "IDN", Brokers: []string{"tcp://127.0.0.1:1"}, AckKeyID: "cmd-1", AckKey: cmdKey})
	if err != nil {
		t.Fatal(err)
	}
	s, err := seal.New("kiosk-001", "device-1", dev, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: nk.PublicKey()}), &seal.Options{BootEpoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	return &env{n: n, store: store, sealer: s, cmdPub: cmdPub}
}

func sqliteStore(t testing.TB) *Store {
	t.Helper()
	s, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// seal makes record seq of kiosk-001 chained after the previous one.
func (e *env) seal(t testing.TB, seq uint64) []byte {
	t.Helper()
	b := make([]byte, 300)
	rand.Read(b)
	rec := &rbdesv1.CaptureRecord{RecordId: uuid.Must(uuid.NewV7()).String(), KioskId: "kiosk-001", Face: &rbdesv1.FaceSample{IsoRecord: b[:100]},
		Fingers: []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_LEFT_THUMB, IsoTemplate: b[100:]}}}
	out, err := e.sealer.Seal(rec, seq, e.prev)
	if err != nil {
		t.Fatal(err)
	}
	e.prev = seal.Hash(out)
	return out
}

const capture = "rbdes/v1/idn/kiosk/kiosk-001/capture"

func (e *env) handle(t testing.TB, topic string, payload []byte) *rbdesv1.Ack {
	t.Helper()
	a := e.n.Handle(context.Background(), topic, payload)
	if a != nil {
		if err := wire.VerifyAck(a, map[string]ed25519.PublicKey{"cmd-1": e.cmdPub}); err != nil {
			t.Fatalf("the node's ack does not verify: %v", err)
		}
	}
	return a
}

func TestHandleStoresOnceAndAcks(t *testing.T) {
	e := newEnv(t, sqliteStore(t))
	r1 := e.seal(t, 1)
	tests := []struct {
		name    string
		topic   string
		payload []byte
		status  rbdesv1.AckStatus
		reason  rbdesv1.RejectReason
	}{
		{"first", capture, r1, rbdesv1.AckStatus_ACK_STATUS_STORED, 0},
		{"again", capture, r1, rbdesv1.AckStatus_ACK_STATUS_DUPLICATE, 0},
		{"garbage", capture, []byte("garbage"), rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_MALFORMED},
		{"other kiosk's topic", "rbdes/v1/idn/kiosk/kiosk-002/capture", e.seal(t, 2), rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_KIOSK_MISMATCH},
	}
	for _, tc := range tests {
		a := e.handle(t, tc.topic, tc.payload)
		if a == nil || a.GetStatus() != tc.status || a.GetReason() != tc.reason {
			t.Errorf("%s: ack %v/%v, want %v/%v", tc.name, a.GetStatus(), a.GetReason(), tc.status, tc.reason)
		}
	}
	recs, err := e.store.Records(context.Background(), "kiosk-001")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Seq != 1 {
		t.Errorf("stored %+v, want seq 1 once", recs)
	}
	if a := e.handle(t, "not/a/kiosk/topic", r1); a != nil {
		t.Errorf("ack for a message on no kiosk topic: %v", a)
	}
}

// TestGaps: records arriving with holes record a gap; late records shrink
// it and finally close it.
func TestGaps(t *testing.T) {
	e := newEnv(t, sqliteStore(t))
	var recs [][]byte
	for seq := uint64(1); seq <= 6; seq++ {
		recs = append(recs, e.seal(t, seq))
	}
	gaps := func() []nodeverify.Gap {
		vs, err := e.store.Kiosks(context.Background())
		if err != nil || len(vs) != 1 {
			t.Fatalf("Kiosks = %v, %v", vs, err)
		}
		return vs[0].Gaps
	}
	steps := []struct {
		seq  int
		want string
	}{
		{1, "[]"}, {5, "[{2 4 false}]"}, {3, "[{2 2 false} {4 4 false}]"}, {2, "[{4 4 false}]"}, {4, "[]"}, {6, "[]"},
	}
	for _, s := range steps {
		if a := e.handle(t, capture, recs[s.seq-1]); a.GetStatus() != rbdesv1.AckStatus_ACK_STATUS_STORED {
			t.Fatalf("seq %d: %v %s", s.seq, a.GetStatus(), a.GetDetail())
		}
		if got := fmtGaps(gaps()); got != s.want {
			t.Errorf("after seq %d gaps = %s, want %s", s.seq, got, s.want)
		}
	}
}

func fmtGaps(g []nodeverify.Gap) string {
	s := "["
	for i, x := range g {
		if i > 0 {
			s += " "
		}
		s += "{" + itoa(x.From) + " " + itoa(x.To) + " " + map[bool]string{true: "true", false: "false"}[x.Open] + "}"
	}
	return s + "]"
}

func itoa(u uint64) string {
	if u == 0 {
		return "0"
	}
	var b []byte
	for ; u > 0; u /= 10 {
		b = append([]byte{byte('0' + u%10)}, b...)
	}
	return string(b)
}

// TestLateWillIgnored: a will of an earlier connection arriving after the
// birth of a newer one does not mark the kiosk offline.
func TestLateWillIgnored(t *testing.T) {
	e := newEnv(t, sqliteStore(t))
	status := func(kind rbdesv1.StatusKind, state rbdesv1.KioskState, epoch uint64) {
		b, _ := wire.Marshal(&rbdesv1.Status{KioskId: "kiosk-001", Kind: kind, State: state, ConnectEpoch: epoch, BootEpoch: 1, QueueDepth: epoch})
		if a := e.handle(t, "rbdes/v1/idn/kiosk/kiosk-001/status", b); a != nil {
			t.Fatalf("ack for a status: %v", a)
		}
	}
	online := func() (bool, uint64) {
		vs, err := e.store.Kiosks(context.Background())
		if err != nil || len(vs) != 1 {
			t.Fatalf("Kiosks = %v, %v", vs, err)
		}
		return vs[0].Online, vs[0].ConnectEpoch
	}
	on, off := rbdesv1.KioskState_KIOSK_STATE_ONLINE, rbdesv1.KioskState_KIOSK_STATE_OFFLINE
	steps := []struct {
		name      string
		kind      rbdesv1.StatusKind
		state     rbdesv1.KioskState
		epoch     uint64
		wantOn    bool
		wantEpoch uint64
	}{
		{"birth 5", rbdesv1.StatusKind_STATUS_KIND_BIRTH, on, 5, true, 5},
		{"birth 6 (reconnected)", rbdesv1.StatusKind_STATUS_KIND_BIRTH, on, 6, true, 6},
		{"late will of 5", rbdesv1.StatusKind_STATUS_KIND_WILL, off, 5, true, 6},
		{"heartbeat 6", rbdesv1.StatusKind_STATUS_KIND_HEARTBEAT, on, 6, true, 6},
		{"will of 6", rbdesv1.StatusKind_STATUS_KIND_WILL, off, 6, false, 6},
		{"birth 7", rbdesv1.StatusKind_STATUS_KIND_BIRTH, on, 7, true, 7},
		{"shutdown 7", rbdesv1.StatusKind_STATUS_KIND_SHUTDOWN, off, 7, false, 7},
	}
	for _, s := range steps {
		status(s.kind, s.state, s.epoch)
		if gotOn, gotEpoch := online(); gotOn != s.wantOn || gotEpoch != s.wantEpoch {
			t.Errorf("after %s: online %v epoch %d, want %v %d", s.name, gotOn, gotEpoch, s.wantOn, s.wantEpoch)
		}
	}
}

// TestBothStores runs the store tests on SQLite and, unless -short, on a
// throwaway PostgreSQL cluster (started once for all of them).
func TestBothStores(t *testing.T) {
	for _, tc := range stores(t) {
		t.Run(tc.name+"/rollback", func(t *testing.T) { testGroupRollsBackOneOp(t, tc.store) })
		t.Run(tc.name+"/chain", func(t *testing.T) { testChain(t, tc.store) })
		t.Run(tc.name+"/batches", func(t *testing.T) { testBatchesMatchOneByOne(t, tc.store) })
	}
}

// testGroupRollsBackOneOp: a failing op leaves the others committed,
// whether it failed before writing (no savepoint needed) or after (the
// batch runs again with savepoints).
func testGroupRollsBackOneOp(t *testing.T, s *Store) {
	tests := []struct {
		name string
		bad  func(tx *Tx) error
	}{
		{"fails before writing", func(tx *Tx) error {
			if _, _, err := tx.ByRecordID("r"); err != nil {
				return err
			}
			return errTest
		}},
		{"fails after Put", func(tx *Tx) error {
			if err := tx.Put(nodeverify.Link{KioskID: tx.kiosk, RecordID: "r", Seq: 1}); err != nil {
				return err
			}
			return errTest
		}},
		{"fails after writing", func(tx *Tx) error {
			if err := tx.Seen(t0); err != nil {
				return err
			}
			if err := tx.Put(nodeverify.Link{KioskID: tx.kiosk, RecordID: "r", Seq: 1}); err != nil {
				return err
			}
			if _, ok, err := tx.ByRecordID("r"); err != nil || !ok { // reads its own write
				t.Errorf("ByRecordID after Put = %v, %v; want the record", ok, err)
			}
			return errTest
		}},
	}
	for i, tc := range tests {
		good, bad := fmt.Sprintf("kiosk-r%d1", i), fmt.Sprintf("kiosk-r%d2", i)
		ok1 := &Op{KioskID: good, Fn: func(tx *Tx) error { return tx.Seen(t0) }}
		failing := &Op{KioskID: bad, Fn: tc.bad}
		ok2 := &Op{KioskID: good, Fn: func(tx *Tx) error { return tx.Seen(t0.Add(time.Second)) }}
		if err := s.Group(context.Background(), []*Op{ok1, failing, ok2}); err != nil {
			t.Fatalf("%s: Group = %v", tc.name, err)
		}
		if ok1.Err != nil || failing.Err != errTest || ok2.Err != nil {
			t.Errorf("%s: op errors = %v, %v, %v; want nil, errTest, nil", tc.name, ok1.Err, failing.Err, ok2.Err)
		}
		if recs, _ := s.Records(context.Background(), bad); len(recs) != 0 {
			t.Errorf("%s: a failed op's record was committed: %+v", tc.name, recs)
		}
		vs, _ := s.Kiosks(context.Background())
		seen := map[string]time.Time{}
		for _, v := range vs {
			seen[v.ID] = v.LastSeen
		}
		if last, registered := seen[bad]; !seen[good].Equal(t0.Add(time.Second)) || !last.IsZero() || !registered {
			t.Errorf("%s: kiosks last seen %v; want %s seen by both good ops and %s registered but not seen", tc.name, seen, good, bad)
		}
	}
}

var errTest = errTestType{}

type errTestType struct{}

func (errTestType) Error() string { return "test error" }

type namedStore struct {
	name  string
	store *Store
}

// stores returns a SQLite store, and a PostgreSQL one when PostgreSQL is
// installed (skipped otherwise, failed under CI=true) and not -short.
func stores(t *testing.T) []namedStore {
	out := []namedStore{{"sqlite", sqliteStore(t)}}
	if testing.Short() {
		return out
	}
	pg := brokertest.StartPostgres(t)
	s, err := OpenPostgres(context.Background(), pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return append(out, namedStore{"postgres", s})
}

// testChain runs the chain and duplicate logic and the export.
func testChain(t *testing.T, store *Store) {
	{
		{
			e := newEnv(t, store)
			r1, r2, r3 := e.seal(t, 1), e.seal(t, 2), e.seal(t, 3)
			for _, step := range []struct {
				p    []byte
				want rbdesv1.AckStatus
			}{{r1, rbdesv1.AckStatus_ACK_STATUS_STORED}, {r3, rbdesv1.AckStatus_ACK_STATUS_STORED}, {r2, rbdesv1.AckStatus_ACK_STATUS_STORED}, {r2, rbdesv1.AckStatus_ACK_STATUS_DUPLICATE}} {
				if a := e.handle(t, capture, step.p); a.GetStatus() != step.want {
					t.Fatalf("ack %v (%s), want %v", a.GetStatus(), a.GetDetail(), step.want)
				}
			}
			vs, err := store.Kiosks(context.Background())
			if err != nil || len(vs) < 1 || vs[0].ID != "kiosk-001" || vs[0].Records != 3 || vs[0].LastSeq != 3 || len(vs[0].Gaps) != 0 {
				t.Errorf("Kiosks = %+v, %v; want 3 records up to seq 3 without gaps", vs, err)
			}
			out := t.TempDir()
			st, err := store.Export(context.Background(), out)
			if err != nil || st.Records != 3 || st.Templates != 3 || st.Faces != 3 {
				t.Errorf("Export = %+v, %v; want 3 records, templates and faces", st, err)
			}
		}
	}
}
