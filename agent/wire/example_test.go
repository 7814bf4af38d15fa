package wire_test

import (
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// The node signs an Ack with its command key; the kiosk parses it and
// verifies it against its configured command public keys before it deletes
// anything.
func ExampleSignAck() {
	seed := make([]byte, ed25519.SeedSize) // the node's keys.command_key in real life
	key := ed25519.NewKeyFromSeed(seed)
	sealed := []byte("the sealed record as published")
	sum := sha256.Sum256(sealed)
	a := &rbdesv1.Ack{RecordId: "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b", Sha256: sum[:], Status: rbdesv1.AckStatus_ACK_STATUS_STORED, NodeId: "node-idn-1", Seq: 42, KioskId: "kiosk-001"}
	if err := wire.SignAck(a, "cmd-1", key); err != nil {
		fmt.Println(err)
		return
	}
	payload, _ := wire.Marshal(a)

	// On the kiosk:
	got, err := wire.ParseAck(payload)
	if err != nil {
		fmt.Println(err)
		return
	}
	trusted := map[string]ed25519.PublicKey{"cmd-1": key.Public().(ed25519.PublicKey)}
	fmt.Println(wire.VerifyAck(got, trusted), got.GetStatus(), got.GetSeq())
	fmt.Println(wire.KioskTopics("IDN", "kiosk-001").Ack)
	// Output:
	// <nil> ACK_STATUS_STORED 42
	// rbdes/v1/idn/kiosk/kiosk-001/ack
}
