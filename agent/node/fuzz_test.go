package node

import (
	"context"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// FuzzHandle feeds arbitrary payloads on the capture and status topics
// through the node's whole path (verify, store, ack): it never panics,
// never stores anything but the genuine records, and every ack it makes
// verifies.
func FuzzHandle(f *testing.F) {
	e := newEnv(f, sqliteStore(f))
	genuine := e.seal(f, 1)
	f.Add(uint8(0), genuine)
	f.Add(uint8(0), genuine[:len(genuine)/2])
	st, _ := wire.Marshal(&rbdesv1.Status{KioskId: "kiosk-001", Kind: rbdesv1.StatusKind_STATUS_KIND_BIRTH, State: rbdesv1.KioskState_KIOSK_STATE_ONLINE, ConnectEpoch: 1})
	f.Add(uint8(1), st)
	f.Add(uint8(2), []byte{})
	topics := []string{capture, "rbdes/v1/idn/kiosk/kiosk-001/status", "rbdes/v1/idn/kiosk/kiosk-001/cmd/reply"}
	f.Fuzz(func(t *testing.T, which uint8, payload []byte) {
		e.handle(t, topics[int(which)%len(topics)], payload)
		recs, err := e.store.Records(context.Background(), "")
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) > 1 || (len(recs) == 1 && recs[0].Seq != 1) {
			t.Fatalf("the store holds records that were never sealed: %+v", recs)
		}
	})
}
