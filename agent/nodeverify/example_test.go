package nodeverify_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// The node receives a kiosk's sealed records from the capture topic,
// verifies and opens them, places them in the kiosk's chain, stores them
// and publishes the Ack.
func ExampleVerifier_Receive() {
	// Keys: in a deployment the node loads them with keys.LoadNode and the
	// registry with nodeverify.LoadRegistry(cfg.Node.Registry).
	nodeKey, _ := hpke.MLKEM768X25519().GenerateKey()
	devPub, devKey, _ := ed25519.GenerateKey(rand.Reader)
	reg, _ := nodeverify.NewRegistry([]nodeverify.Kiosk{{
		ID: "kiosk-001", Status: nodeverify.StatusActive,
		DeviceKeys: []nodeverify.DeviceKey{{ID: "device-1", Public: devPub}},
	}})
	v, err := nodeverify.New(reg, map[string]hpke.PrivateKey{"node-2026a": nodeKey}, nil)
	if err != nil {
		fmt.Println(err)
		return
	}

	// What kiosk-001 published: two chained records.
	s, _ := seal.New("kiosk-001", "device-1", devKey, seal.Fixed(seal.Recipient{KeyID: "node-2026a", Key: nodeKey.PublicKey()}), nil)
	first, _ := s.Seal(&rbdesv1.CaptureRecord{RecordId: "0190f5c2-7b3a-7cde-8f01-000000000001", KioskId: "kiosk-001"}, 1, [32]byte{})
	second, _ := s.Seal(&rbdesv1.CaptureRecord{RecordId: "0190f5c2-7b3a-7cde-8f01-000000000002", KioskId: "kiosk-001"}, 2, seal.Hash(first))

	store := nodeverify.NewMemChain() // the node's database implements ChainStore
	save := func(ctx context.Context, tx nodeverify.ChainTx, o *nodeverify.Opened) error {
		// Store o.Record and the sealed bytes in the same transaction as tx.
		return nil
	}
	// The publisher comes from the topic rbdes/v1/{cc}/kiosk/{id}/capture.
	for _, payload := range [][]byte{second, first, first, []byte("junk")} {
		vd := v.Receive(context.Background(), store, "kiosk-001", payload, save)
		ack := vd.Ack("node-a", time.Now()) // publish on .../kiosk/kiosk-001/ack
		fmt.Println(ack.GetSeq(), ack.GetStatus(), ack.GetReason(), vd.Placement.Gap)
	}
	// Output:
	// 2 ACK_STATUS_STORED REJECT_REASON_UNSPECIFIED ..1
	// 1 ACK_STATUS_STORED REJECT_REASON_UNSPECIFIED <nil>
	// 1 ACK_STATUS_DUPLICATE REJECT_REASON_UNSPECIFIED <nil>
	// 0 ACK_STATUS_REJECTED REJECT_REASON_MALFORMED <nil>
}
