package wire

import (
	"bytes"
	"crypto/ed25519"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// unhex decodes hex written for reading: spaces and line breaks are
// ignored, and "#" starts a comment that runs to the end of the line.
func unhex(t testing.TB, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

// katKey is the fixed Ed25519 key of the known-answer test: seed 01..20.
func katKey() ed25519.PrivateKey {
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i + 1)
	}
	return ed25519.NewKeyFromSeed(seed)
}

func katAck() *rbdesv1.Ack {
	sum := make([]byte, 32)
	for i := range sum {
		sum[i] = byte(i)
	}
	return &rbdesv1.Ack{
		RecordId:     "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		Sha256:       sum,
		Status:       rbdesv1.AckStatus_ACK_STATUS_STORED,
		NodeId:       "node-idn-1",
		StoredUnixMs: 1767225600000, // 2026-01-01T00:00:00Z
		Seq:          42,
		KioskId:      "kiosk-001",
		KeyId:        "cmd-1",
	}
}

// TestAckSignatureKnownAnswer pins the layout of the package comment,
// written out by hand, and the signature over it, computed with an
// independent Ed25519 implementation (Python's cryptography package).
func TestAckSignatureKnownAnswer(t *testing.T) {
	want := unhex(t, `
		52424445532d76312d41636b00                 # "RBDES-v1-Ack" 0x00
		00000024                                   # record_id: 36 bytes
		30313930613162322d63336434             # "0190a1b2-c3d4"
		2d376535662d38613962                   # "-7e5f-8a9b"
		2d306331643265336634613562             # "-0c1d2e3f4a5b"
		00000020                                   # sha256: 32 bytes
		000102030405060708090a0b0c0d0e0f
		101112131415161718191a1b1c1d1e1f
		00000001                                   # status STORED
		00000000                                   # reason UNSPECIFIED
		00000000                                   # detail ""
		0000000a 6e6f64652d69646e2d31              # node_id "node-idn-1"
		0000019b76daa800                           # stored_unix_ms 1767225600000
		000000000000002a                           # seq 42
		00000009 6b696f736b2d303031                # kiosk_id "kiosk-001"
		00000005 636d642d31                        # key_id "cmd-1"
	`)
	got := AckSignatureInput(katAck())
	if !bytes.Equal(got, want) {
		t.Fatalf("AckSignatureInput =\n%x\nwant\n%x", got, want)
	}
	wantSig := unhex(t, `b84e0d71ad99c5d51c524c0b23eae7b20a9950cbc5ffe38143b1f82c725c9c7e
		5667736c25395b1f2c5de6ef85069dd0dc824ef79d562c756cc45b6b9d95d100`)
	a := katAck()
	if err := SignAck(a, "cmd-1", katKey()); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.GetSignature(), wantSig) {
		t.Errorf("signature =\n%x\nwant\n%x", a.GetSignature(), wantSig)
	}
}

func signedAck(t testing.TB, key ed25519.PrivateKey, mod func(a *rbdesv1.Ack)) *rbdesv1.Ack {
	t.Helper()
	a := katAck()
	if mod != nil {
		mod(a)
	}
	if err := SignAck(a, "cmd-1", key); err != nil {
		t.Fatal(err)
	}
	return a
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestAckRoundTripAndTamper(t *testing.T) {
	key := katKey()
	keys := map[string]ed25519.PublicKey{"cmd-1": key.Public().(ed25519.PublicKey)}
	a := signedAck(t, key, func(a *rbdesv1.Ack) {
		a.Status = rbdesv1.AckStatus_ACK_STATUS_REJECTED
		a.Reason = rbdesv1.RejectReason_REJECT_REASON_CHAIN_FORK
		a.Detail = "seq 42 already holds another record"
		a.StoredUnixMs = 0
	})
	got, err := ParseAck(marshal(t, a))
	if err != nil {
		t.Fatalf("ParseAck(signed ack) = %v, want nil", err)
	}
	if err := VerifyAck(got, keys); err != nil {
		t.Fatalf("VerifyAck(signed ack) = %v, want nil", err)
	}
	tampers := []struct {
		name string
		mod  func(a *rbdesv1.Ack)
	}{
		{"record id", func(a *rbdesv1.Ack) { a.RecordId = "0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5c" }},
		{"hash", func(a *rbdesv1.Ack) { a.Sha256[0] ^= 1 }},
		{"status", func(a *rbdesv1.Ack) { a.Status = rbdesv1.AckStatus_ACK_STATUS_STORED }},
		{"reason", func(a *rbdesv1.Ack) { a.Reason = rbdesv1.RejectReason_REJECT_REASON_REPLAY }},
		{"detail", func(a *rbdesv1.Ack) { a.Detail += "." }},
		{"node id", func(a *rbdesv1.Ack) { a.NodeId = "node-idn-2" }},
		{"stored time", func(a *rbdesv1.Ack) { a.StoredUnixMs = 1 }},
		{"seq", func(a *rbdesv1.Ack) { a.Seq = 43 }},
		{"kiosk id", func(a *rbdesv1.Ack) { a.KioskId = "kiosk-002" }},
		{"signature", func(a *rbdesv1.Ack) { a.Signature[10] ^= 0x40 }},
	}
	for _, tc := range tampers {
		t.Run(tc.name, func(t *testing.T) {
			c := proto.Clone(a).(*rbdesv1.Ack)
			tc.mod(c)
			if err := VerifyAck(c, keys); !errors.Is(err, ErrBadSignature) {
				t.Errorf("VerifyAck(ack with changed %s) = %v, want ErrBadSignature", tc.name, err)
			}
		})
	}
	other := proto.Clone(a).(*rbdesv1.Ack)
	other.KeyId = "cmd-2"
	if err := VerifyAck(other, keys); !errors.Is(err, ErrUnknownKey) {
		t.Errorf("VerifyAck(ack naming cmd-2) = %v, want ErrUnknownKey", err)
	}
	_, wrong, _ := ed25519.GenerateKey(nil)
	forged := signedAck(t, wrong, nil)
	if err := VerifyAck(forged, keys); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifyAck(ack signed by another key under id cmd-1) = %v, want ErrBadSignature", err)
	}
}

func TestParseAckRefusesMalformed(t *testing.T) {
	key := katKey()
	good := signedAck(t, key, nil)
	unknown := marshal(t, good)
	unknown = append(unknown, 0xa8, 0x06, 0x01) // field 101, varint 1
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"not protobuf", []byte{0xff, 0xff, 0xff}},
		{"too large", make([]byte, MaxAckBytes+1)},
		{"unknown field", unknown},
		{"bad record id", marshal(t, signedAck(t, key, func(a *rbdesv1.Ack) { a.RecordId = "x" }))},
		{"short hash", marshal(t, signedAck(t, key, func(a *rbdesv1.Ack) { a.Sha256 = a.Sha256[:31] }))},
		{"no status", marshal(t, signedAck(t, key, func(a *rbdesv1.Ack) { a.Status = 0 }))},
		{"status 9", marshal(t, signedAck(t, key, func(a *rbdesv1.Ack) { a.Status = 9 }))},
		{"long detail", marshal(t, signedAck(t, key, func(a *rbdesv1.Ack) { a.Detail = strings.Repeat("d", MaxAckDetail+1) }))},
		{"bad kiosk id", marshal(t, signedAck(t, key, func(a *rbdesv1.Ack) { a.KioskId = "Kiosk 1" }))},
		{"unsigned", marshal(t, katAck())},
		{"short signature", func() []byte { a := signedAck(t, key, nil); a.Signature = a.Signature[:63]; return marshal(t, a) }()},
		{"no key id", func() []byte { a := signedAck(t, key, nil); a.KeyId = ""; return marshal(t, a) }()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParseAck(tc.in); !errors.Is(err, ErrMalformed) {
				t.Errorf("ParseAck(%s) = %v, want ErrMalformed", tc.name, err)
			}
		})
	}
}

func TestSignAckRefusesBadKeys(t *testing.T) {
	if err := SignAck(katAck(), "bad id!", katKey()); err == nil {
		t.Error("SignAck with key id \"bad id!\" = nil, want an error")
	}
	if err := SignAck(katAck(), "cmd-1", nil); err == nil {
		t.Error("SignAck with no key = nil, want an error")
	}
}

// FuzzParseAck feeds arbitrary bytes to the kiosk's ack path: ParseAck
// then VerifyAck must never panic, every refusal wraps one of the package's
// errors, and an ack that passes both is field for field one the node
// signed.
func FuzzParseAck(f *testing.F) {
	key := katKey()
	keys := map[string]ed25519.PublicKey{"cmd-1": key.Public().(ed25519.PublicKey)}
	var genuine []*rbdesv1.Ack
	for _, mod := range []func(a *rbdesv1.Ack){
		nil,
		func(a *rbdesv1.Ack) { a.Status = rbdesv1.AckStatus_ACK_STATUS_DUPLICATE },
		func(a *rbdesv1.Ack) {
			a.Status, a.Reason, a.Detail, a.StoredUnixMs = rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_BAD_SIGNATURE, "bad signature", 0
		},
	} {
		a := signedAck(f, key, mod)
		genuine = append(genuine, a)
		b := marshal(f, a)
		f.Add(b)
		f.Add(b[:len(b)/2])
	}
	f.Add([]byte{})
	f.Add(marshal(f, katAck()))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAck(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("ParseAck error %v does not wrap ErrMalformed", err)
			}
			return
		}
		if err := VerifyAck(a, keys); err != nil {
			if !errors.Is(err, ErrBadSignature) && !errors.Is(err, ErrUnknownKey) {
				t.Fatalf("VerifyAck error %v wraps neither ErrBadSignature nor ErrUnknownKey", err)
			}
			return
		}
		for _, g := range genuine {
			if proto.Equal(a, g) {
				return
			}
		}
		t.Fatalf("accepted an ack the node never signed: %v", a)
	})
}
