package nodeverify

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// chainOf seals n records of kiosk-001 linked as the outbox links them:
// seq 1..n, each prev_hash the SHA-256 of the previous record's bytes.
func chainOf(t *testing.T, w *world, n int) [][]byte {
	t.Helper()
	s := w.sealer(t, "kiosk-001", "node-1")
	var prev [seal.HashSize]byte
	out := make([][]byte, n)
	for i := range n {
		b, err := s.Seal(record(t, "kiosk-001", 400), uint64(i+1), prev)
		if err != nil {
			t.Fatal(err)
		}
		out[i], prev = b, seal.Hash(b)
	}
	return out
}

func TestReceiveInOrderAndDuplicates(t *testing.T) {
	w := newWorld(t)
	store := NewMemChain()
	recs := chainOf(t, w, 5)
	var saved []string
	save := func(_ context.Context, _ ChainTx, o *Opened) error {
		saved = append(saved, o.Record.GetRecordId())
		return nil
	}
	for i, b := range recs {
		vd := w.v.Receive(context.Background(), store, "kiosk-001", b, save)
		if vd.Status != rbdesv1.AckStatus_ACK_STATUS_STORED || vd.Placement.Gap != nil || vd.Placement.Late {
			t.Fatalf("record %d: %v %v %s (placement %+v)", i+1, vd.Status, vd.Reason, vd.Detail, vd.Placement)
		}
		ack := vd.Ack("node-a", t0)
		sum := seal.Hash(b)
		if ack.RecordId != decode(t, b).RecordId || !bytes.Equal(ack.Sha256, sum[:]) || ack.Seq != uint64(i+1) || ack.KioskId != "kiosk-001" || ack.NodeId != "node-a" || ack.StoredUnixMs != t0.UnixMilli() {
			t.Errorf("record %d: Ack = %v", i+1, ack)
		}
	}
	if len(saved) != 5 {
		t.Errorf("save called %d times, want 5", len(saved))
	}
	// At-least-once delivery: the same bytes again are a DUPLICATE, not
	// stored twice.
	vd := w.v.Receive(context.Background(), store, "kiosk-001", recs[2], save)
	if vd.Status != rbdesv1.AckStatus_ACK_STATUS_DUPLICATE || len(saved) != 5 {
		t.Errorf("resent record: %v (saved %d times), want DUPLICATE and no save", vd.Status, len(saved))
	}
	if got := len(store.Links("kiosk-001")); got != 5 {
		t.Errorf("%d links stored, want 5", got)
	}
	if gaps := store.Gaps("kiosk-001"); len(gaps) != 0 {
		t.Errorf("gaps %v in a complete chain", gaps)
	}
}

func TestReceiveOutOfOrderReportsGaps(t *testing.T) {
	w := newWorld(t)
	store := NewMemChain()
	recs := chainOf(t, w, 6)
	steps := []struct {
		seq     int
		wantGap string
		late    bool
	}{
		{1, "", false},
		{4, "2..3", false},
		{6, "5..5", false},
		{3, "2..2", true},
		{2, "", true},
		{5, "", true},
	}
	for _, st := range steps {
		vd := w.v.Receive(context.Background(), store, "kiosk-001", recs[st.seq-1], nil)
		if vd.Status != rbdesv1.AckStatus_ACK_STATUS_STORED {
			t.Fatalf("seq %d: %v %v %s", st.seq, vd.Status, vd.Reason, vd.Detail)
		}
		gap := ""
		if vd.Placement.Gap != nil {
			gap = vd.Placement.Gap.String()
		}
		if gap != st.wantGap || vd.Placement.Late != st.late {
			t.Errorf("seq %d: gap %q late %v, want gap %q late %v", st.seq, gap, vd.Placement.Late, st.wantGap, st.late)
		}
	}
	if gaps := store.Gaps("kiosk-001"); len(gaps) != 0 {
		t.Errorf("gaps %v after every record arrived", gaps)
	}

	// A first record that is not a chain start, with nothing before it.
	fresh := NewMemChain()
	vd := w.v.Receive(context.Background(), fresh, "kiosk-001", recs[3], nil)
	if vd.Placement.Gap == nil || !vd.Placement.Gap.Open || vd.Placement.Gap.String() != "..3" {
		t.Errorf("seq 4 first: gap %+v, want open gap ..3", vd.Placement.Gap)
	}
}

func TestReceiveForksAndReplays(t *testing.T) {
	w := newWorld(t)
	recs := chainOf(t, w, 4)
	dev := w.devKeys["kiosk-001"]
	// A cloned kiosk (same keys) continues the chain on its own: same
	// sequence numbers, different records.
	clone := w.sealer(t, "kiosk-001", "node-1")
	clone2, err := clone.Seal(record(t, "kiosk-001", 400), 2, seal.Hash(recs[0]))
	if err != nil {
		t.Fatal(err)
	}
	// A record that names a predecessor other than the stored one.
	wrongPrev, err := clone.Seal(record(t, "kiosk-001", 400), 3, seal.Hash([]byte("not record 2")))
	if err != nil {
		t.Fatal(err)
	}
	// A stored record's id re-sealed with other content.
	sameID := record(t, "kiosk-001", 400)
	sameID.RecordId = decode(t, recs[0]).RecordId
	replayed, err := clone.Seal(sameID, 9, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	// A record from an older boot (epoch 0) placed after records of boot 1.
	oldSealer, err := seal.New("kiosk-001", "device-1", dev, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: w.nodeKeys["node-1"].PublicKey()}), &seal.Options{Clock: w.clk, BootEpoch: 0})
	if err != nil {
		t.Fatal(err)
	}
	oldBoot, err := oldSealer.Seal(record(t, "kiosk-001", 400), 7, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		stored  []int // indexes of recs stored first
		payload []byte
		want    rbdesv1.RejectReason
	}{
		{"second record at a stored position", []int{0, 1}, clone2, rFork},
		{"predecessor link does not match", []int{0, 1}, wrongPrev, rFork},
		{"successor names another predecessor", []int{0, 2}, clone2, rFork},
		{"chain start while seq-1 is stored", []int{0}, resign(t, recs[1], dev, func(sr *rbdesv1.SealedRecord) { sr.PrevHash = make([]byte, 32) }), rFork},
		{"same record id, other content", []int{0}, replayed, rReplay},
		{"boot epoch goes backwards", []int{0, 1}, oldBoot, rFork},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := NewMemChain()
			for _, i := range tc.stored {
				if vd := w.v.Receive(context.Background(), store, "kiosk-001", recs[i], nil); vd.Status != rbdesv1.AckStatus_ACK_STATUS_STORED {
					t.Fatalf("storing record %d: %v %s", i+1, vd.Reason, vd.Detail)
				}
			}
			before := len(store.Links("kiosk-001"))
			vd := w.v.Receive(context.Background(), store, "kiosk-001", tc.payload, nil)
			if vd.Status != rbdesv1.AckStatus_ACK_STATUS_REJECTED || vd.Reason != tc.want {
				t.Errorf("Receive = %v %v (%s), want REJECTED %v", vd.Status, vd.Reason, vd.Detail, tc.want)
			}
			if vd.Opened != nil || vd.Transient() {
				t.Errorf("rejected verdict carries a record or is transient")
			}
			if got := len(store.Links("kiosk-001")); got != before {
				t.Errorf("rejected record changed the chain: %d links, want %d", got, before)
			}
		})
	}
}

// TestReceiveStorageFailure checks that a failed save stores nothing and
// that the same record is accepted when sent again.
func TestReceiveStorageFailure(t *testing.T) {
	w := newWorld(t)
	store := NewMemChain()
	recs := chainOf(t, w, 1)
	down := errors.New("disk full")
	vd := w.v.Receive(context.Background(), store, "kiosk-001", recs[0], func(context.Context, ChainTx, *Opened) error { return down })
	if vd.Reason != rUnavailable || !vd.Transient() || !errors.Is(vd.Err, down) {
		t.Errorf("save failure: %v %v transient=%v err=%v", vd.Status, vd.Reason, vd.Transient(), vd.Err)
	}
	if ack := vd.Ack("node-a", t0); ack.StoredUnixMs != 0 || ack.Status != rbdesv1.AckStatus_ACK_STATUS_REJECTED {
		t.Errorf("Ack of a failure = %v", ack)
	}
	if n := len(store.Links("kiosk-001")); n != 0 {
		t.Errorf("failed save left %d links", n)
	}
	if vd := w.v.Receive(context.Background(), store, "kiosk-001", recs[0], nil); vd.Status != rbdesv1.AckStatus_ACK_STATUS_STORED {
		t.Errorf("resend after the failure: %v %s", vd.Reason, vd.Detail)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if vd := w.v.Receive(ctx, NewMemChain(), "kiosk-001", recs[0], nil); vd.Reason != rUnavailable {
		t.Errorf("cancelled context: %v, want STORAGE_UNAVAILABLE", vd.Reason)
	}
}

func TestReceiveRejectedCarriesIDs(t *testing.T) {
	w := newWorld(t)
	recs := chainOf(t, w, 1)
	sr := decode(t, recs[0])
	vd := w.v.Receive(context.Background(), NewMemChain(), "kiosk-002", recs[0], nil)
	if vd.Reason != rMismatch || vd.RecordID != sr.RecordId || vd.Seq != 1 || vd.Hash != seal.Hash(recs[0]) {
		t.Errorf("mismatch verdict = %+v", vd)
	}
	vd = w.v.Receive(context.Background(), NewMemChain(), "kiosk-002", []byte("junk"), nil)
	if vd.Reason != rMalformed || vd.KioskID != "kiosk-002" || vd.RecordID != "" {
		t.Errorf("malformed verdict = %+v", vd)
	}
}

// TestPlaceEdges covers chain positions at the ends of the sequence space.
func TestPlaceEdges(t *testing.T) {
	store := NewMemChain()
	h := func(s string) [32]byte { return seal.Hash([]byte(s)) }
	place := func(l Link) (Placement, error) {
		var p Placement
		err := store.Update(context.Background(), l.KioskID, func(tx ChainTx) error {
			var err error
			p, err = Place(tx, l)
			return err
		})
		return p, err
	}
	if p, err := place(Link{KioskID: "kiosk-001", RecordID: "a", Seq: 0, Hash: h("a"), Prev: h("x")}); err != nil || p.Gap != nil {
		t.Errorf("seq 0 with a predecessor hash: %+v %v", p, err)
	}
	if _, err := place(Link{KioskID: "kiosk-001", RecordID: "b", Seq: 1, Hash: h("b"), Prev: h("a")}); err != nil {
		t.Errorf("seq 1 after seq 0: %v", err)
	}
	if p, err := place(Link{KioskID: "kiosk-001", RecordID: "z", Seq: ^uint64(0), Hash: h("z"), Prev: h("y")}); err != nil || p.Gap == nil || p.Gap.From != 2 {
		t.Errorf("max seq: %+v %v", p, err)
	}
	if _, err := place(Link{KioskID: "kiosk-001", RecordID: "c", Seq: 5, Hash: h("c"), Prev: h("?")}); err != nil {
		t.Errorf("seq 5 between: %v", err)
	}
	if err := store.Update(context.Background(), "kiosk-002", func(tx ChainTx) error {
		return tx.Put(Link{KioskID: "kiosk-001", RecordID: "d", Seq: 9})
	}); err == nil {
		t.Errorf("Put of another kiosk's link: want an error")
	}
	if got := store.Gaps("kiosk-001"); len(got) != 2 || got[0] != (Gap{From: 2, To: 4}) {
		t.Errorf("Gaps = %v", got)
	}
}
