package seal

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// refuse with ErrMalformed, and whatever it accepts must be the canonical
// encoding of a record whose layouts can be computed.
func FuzzParse(f *testing.F) {
	fx := newFixture(f, SuiteX25519)
	good, err := fx.sealer.Seal(testRecord(f, 300), 1, [HashSize]byte{})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:len(good)/2])
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x01})
	f.Fuzz(func(t *testing.T, b []byte) {
		sr, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error %v does not wrap ErrMalformed", err)
			}
			return
		}
		again, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("Parse accepted non-canonical bytes")
		}
		if _, err := SignatureInput(sr); err != nil {
			t.Fatalf("SignatureInput of a parsed record: %v", err)
		}
		RecordSuite(sr)
	})
}
