package node

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	mrand "math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/google/uuid"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// twin is one kiosk of testBatchesMatchOneByOne: the same script of
// messages is sealed for two kiosks, one stored a message per transaction,
// the other in batches.
type twin struct {
	id     string
	sealer *seal.Sealer
	msgs   [][]byte // the script's messages, sealed for this kiosk
	topic  string
}

// step is one message of the script: a record of the chain (by position),
// again (a resend), a fork at its position, a replay of its record id at
// another position, a status, or garbage.
type step struct {
	kind string // "rec", "status", "fork", "replay", "garbage"
	i    int
}

// script returns n chain records in a mostly ascending order with resends,
// swaps, forks, replays, statuses and garbage mixed in.
func script(r *mrand.Rand, n int) []step {
	var out []step
	for i := 1; i <= n; i++ {
		out = append(out, step{"rec", i})
		switch x := r.IntN(20); {
		case x == 0 && i > 1:
			out = append(out, step{"rec", i - 1 - r.IntN(i-1)}) // resend
		case x == 1:
			out = append(out, step{"fork", i})
		case x == 2:
			out = append(out, step{"replay", i})
		case x == 3:
			out = append(out, step{"status", i})
		case x == 4:
			out = append(out, step{"garbage", i})
		}
	}
	for range n / 4 { // late records: swap neighbours
		k := r.IntN(len(out) - 1)
		out[k], out[k+1] = out[k+1], out[k]
	}
	out = slices.DeleteFunc(out, func(s step) bool { return s.kind == "rec" && s.i == 7 }) // a gap that stays
	return out
}

func (w *twin) seal(t *testing.T, steps []step, n int) {
	t.Helper()
	recs := make([]*rbdesv1.CaptureRecord, n+1)
	chain := make([][]byte, n+1)
	var prev [32]byte
	for i := 1; i <= n; i++ {
		b := make([]byte, 64)
		rand.Read(b)
		recs[i] = &rbdesv1.CaptureRecord{RecordId: uuid.Must(uuid.NewV7()).String(), KioskId: w.id, CapturedUnixMs: int64(i),
			Face: &rbdesv1.FaceSample{IsoRecord: b[:32]}, Fingers: []*rbdesv1.FingerSample{{IsoTemplate: b[32:]}}}
		out, err := w.sealer.Seal(recs[i], uint64(i), prev)
		if err != nil {
			t.Fatal(err)
		}
		chain[i], prev = out, seal.Hash(out)
	}
	w.topic = "rbdes/v1/idn/kiosk/" + w.id + "/capture"
	for _, s := range steps {
		var msg []byte
		var err error
		switch s.kind {
		case "rec":
			msg = chain[s.i]
		case "fork":
			other := &rbdesv1.CaptureRecord{RecordId: uuid.Must(uuid.NewV7()).String(), KioskId: w.id}
			var p [32]byte
			if s.i > 1 {
				p = seal.Hash(chain[s.i-1])
			}
			msg, err = w.sealer.Seal(other, uint64(s.i), p)
		case "replay":
			msg, err = w.sealer.Seal(recs[s.i], uint64(s.i+1000), seal.Hash(chain[s.i]))
		case "status":
			msg, err = wire.Marshal(&rbdesv1.Status{KioskId: w.id, Kind: rbdesv1.StatusKind_STATUS_KIND_HEARTBEAT, State: rbdesv1.KioskState_KIOSK_STATE_ONLINE, ConnectEpoch: uint64(s.i)})
		case "garbage":
			msg = []byte("not a sealed record")
		}
		if err != nil {
			t.Fatal(err)
		}
		w.msgs = append(w.msgs, msg)
	}
}

// testBatchesMatchOneByOne: storing a script of messages in batches of
// random size gives, message by message, the same acks, and in the end
// the same records, counters and gaps, as storing them one per
// transaction. It covers what a batch shares between its records (the
// chain position queries answered from the transaction's newest record,
// the kiosk counters summed per transaction, the savepoints taken only
// when an op fails after writing).
func testBatchesMatchOneByOne(t *testing.T, store *Store) {
	for round := range 4 {
		t.Run("round "+strconv.Itoa(round), func(t *testing.T) { batchesMatchOneByOne(t, store, round) })
	}
}

func batchesMatchOneByOne(t *testing.T, store *Store, round int) {
	ctx := context.Background()
	kx, _ := seal.KEM(seal.KEMX25519)
	nk, err := kx.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	one, batched := &twin{id: fmt.Sprintf("kiosk-b%d1", round)}, &twin{id: fmt.Sprintf("kiosk-b%d2", round)}
	var ks []nodeverify.Kiosk
	for _, w := range []*twin{one, batched} {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		ks = append(ks, nodeverify.Kiosk{ID: w.id, Status: nodeverify.StatusActive, DeviceKeys: []nodeverify.DeviceKey{{ID: "device-1", Public: pub}}})
		if w.sealer, err = seal.New(w.id, "device-1", priv, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: nk.PublicKey()}), &seal.Options{BootEpoch: 1}); err != nil {
			t.Fatal(err)
		}
	}
	reg, err := nodeverify.NewRegistry(ks)
	if err != nil {
		t.Fatal(err)
	}
	v, err := nodeverify.New(reg, map[string]hpke.PrivateKey{"node-1": nk}, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, cmdKey, _ := ed25519.GenerateKey(rand.Reader)
	n, err := New(v, store, &Options{NodeID: "node-idn-1", Country: "IDN", Brokers: []string{"tcp://127.0.0.1:1"}, AckKeyID: "cmd-1", AckKey: cmdKey})
	if err != nil {
		t.Fatal(err)
	}
	r := mrand.New(mrand.NewPCG(1, uint64(round)))
	const records = 60
	steps := script(r, records)
	one.seal(t, steps, records)
	batched.seal(t, steps, records)

	run := func(w *twin, size func() int) []result {
		var out []result
		for i := 0; i < len(w.msgs); {
			var batch []*job
			for range min(size(), len(w.msgs)-i) {
				topic := w.topic
				if steps[i].kind == "status" {
					topic = "rbdes/v1/idn/kiosk/" + w.id + "/status"
				}
				j := &job{topic: topic, payload: w.msgs[i], done: make(chan struct{})}
				n.verify(j)
				batch = append(batch, j)
				i++
			}
			n.commit(ctx, batch, n.clk.Now())
			for _, j := range batch {
				out = append(out, result{j.verdict.Status, j.verdict.Reason})
			}
		}
		return out
	}
	want := run(one, func() int { return 1 })
	got := run(batched, func() int { return 1 + r.IntN(9) })
	for i := range steps {
		if got[i] != want[i] {
			t.Errorf("message %d (%s %d): batched %v/%v, one by one %v/%v", i, steps[i].kind, steps[i].i, got[i].status, got[i].reason, want[i].status, want[i].reason)
		}
	}
	for _, w := range []result{{rbdesv1.AckStatus_ACK_STATUS_DUPLICATE, 0},
		{rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_CHAIN_FORK},
		{rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_REPLAY},
		{rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_MALFORMED}} {
		if !slices.Contains(want, w) {
			t.Fatalf("the script does not exercise %v/%v: %v", w.status, w.reason, want)
		}
	}

	views, err := store.Kiosks(ctx)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]KioskView{}
	for _, kv := range views {
		byID[kv.ID] = kv
	}
	a, b := byID[one.id], byID[batched.id]
	if a.Records != b.Records || a.LastSeq != b.LastSeq || fmtGaps(a.Gaps) != fmtGaps(b.Gaps) || a.Online != b.Online || a.ConnectEpoch != b.ConnectEpoch {
		t.Errorf("kiosk views differ: batched records %d last seq %d gaps %s online %v epoch %d; one by one records %d last seq %d gaps %s online %v epoch %d",
			b.Records, b.LastSeq, fmtGaps(b.Gaps), b.Online, b.ConnectEpoch, a.Records, a.LastSeq, fmtGaps(a.Gaps), a.Online, a.ConnectEpoch)
	}
	seqs := func(id string) []uint64 {
		recs, err := store.Records(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		var out []uint64
		for _, r := range recs {
			out = append(out, r.Seq)
		}
		slices.Sort(out)
		return out
	}
	sa, sb := seqs(one.id), seqs(batched.id)
	if !slices.Equal(sa, sb) {
		t.Errorf("stored seqs: batched %v, one by one %v", sb, sa)
	}
	if len(sa) == 0 || a.Records != int64(len(sa)) || a.LastSeq != sa[len(sa)-1] || len(a.Gaps) == 0 {
		t.Errorf("one by one: the view says %d records up to seq %d with gaps %s, the store holds seqs %v", a.Records, a.LastSeq, fmtGaps(a.Gaps), sa)
	}
}

// result is a message's verdict in testBatchesMatchOneByOne.
type result struct {
	status rbdesv1.AckStatus
	reason rbdesv1.RejectReason
}
