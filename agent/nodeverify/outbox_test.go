package nodeverify

import (
	"context"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/outbox"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// TestOutboxChainAcrossRestart checks the hash-chain contract between the
// kiosk's outbox and the node end to end: records sealed inside
// outbox.AppendWith, with a kiosk restart (outbox closed and reopened) in
// the middle, arrive at the node as one unbroken chain, and the node's Ack
// hash is the one the outbox would match.
func TestOutboxChainAcrossRestart(t *testing.T) {
	w := newWorld(t)
	dir := t.TempDir()
	ctx := context.Background()
	s := w.sealer(t, "kiosk-001", "node-1")
	appendN := func(n int) {
		ob, err := outbox.New(dir, &outbox.Options{Clock: w.clk})
		if err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := ob.Close(); err != nil {
				t.Fatal(err)
			}
		}()
		for range n {
			rec := record(t, "kiosk-001", 400)
			if _, err := ob.AppendWith(ctx, func(seq uint64, prev [32]byte) ([]byte, error) { return s.Seal(rec, seq, prev) }); err != nil {
				t.Fatal(err)
			}
		}
	}
	appendN(3)
	appendN(2) // after a restart

	ob, err := outbox.New(dir, &outbox.Options{Clock: w.clk, Window: 16})
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	store := NewMemChain()
	for i := range 5 {
		d, err := ob.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		vd := w.v.Receive(ctx, store, "kiosk-001", d.Payload, nil)
		if vd.Status != rbdesv1.AckStatus_ACK_STATUS_STORED || vd.Placement.Gap != nil || vd.Seq != d.Seq {
			t.Fatalf("record %d (outbox seq %d): %v %v %s, gap %v", i+1, d.Seq, vd.Status, vd.Reason, vd.Detail, vd.Placement.Gap)
		}
		if err := ob.Ack(d.Seq); err != nil {
			t.Fatal(err)
		}
	}
	links := store.Links("kiosk-001")
	if len(links) != 5 || links[0].Prev != [32]byte{} {
		t.Fatalf("%d links, first prev %x; want 5 starting a chain", len(links), links[0].Prev[:4])
	}
	for i := 1; i < len(links); i++ {
		if links[i].Prev != links[i-1].Hash {
			t.Errorf("link %d does not chain to link %d", links[i].Seq, links[i-1].Seq)
		}
	}
}
