package seal_test

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// A kiosk seals a capture record to the node's key; the outbox supplies the
// sequence number and the hash of the previous record.
func ExampleSealer_Seal() {
	// In kioskd these come from keys.LoadKiosk and keys.OpenNodeKeySet.
	_, deviceKey, _ := ed25519.GenerateKey(rand.Reader)
	nodeKey, _ := hpke.MLKEM768X25519().GenerateKey()
	to := seal.Fixed(seal.Recipient{KeyID: "node-2026a", Key: nodeKey.PublicKey()})

	s, err := seal.New("kiosk-001", "device-1", deviceKey, to, &seal.Options{BootEpoch: 12})
	if err != nil {
		fmt.Println(err)
		return
	}
	rec := &rbdesv1.CaptureRecord{
		RecordId: "0190f5c2-7b3a-7cde-8f01-23456789abcd",
		KioskId:  "kiosk-001",
		Face:     &rbdesv1.FaceSample{IsoRecord: []byte("...portrait...")},
	}
	var prev [seal.HashSize]byte // zero: first record of the chain
	sealed, err := s.Seal(rec, 1, prev)
	if err != nil {
		fmt.Println(err)
		return
	}
	seal.Wipe(rec) // once the outbox holds the sealed record

	sr, _ := seal.Parse(sealed)
	suite, _ := seal.RecordSuite(sr)
	fmt.Println("sealed to", sr.GetNodeKeyId(), "with", suite)
	fmt.Println("chain link of the next record:", len(seal.Hash(sealed)), "bytes")
	// Output:
	// sealed to node-2026a with mlkem768-x25519
	// chain link of the next record: 32 bytes
}
