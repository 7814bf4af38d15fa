package nodeverify

import (
	"context"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// FuzzOpen feeds arbitrary bytes to the node's verify-and-open and to the
// whole receive path: it must never panic, every refusal must carry a
// reason, and nothing but the genuine records may be accepted.
func FuzzOpen(f *testing.F) {
	w := newWorld(f)
	var genuine [][]byte
	for _, nk := range []string{"node-1", "node-x"} {
		b, err := w.sealer(f, "kiosk-001", nk).Seal(record(f, "kiosk-001", 300), 1, [32]byte{})
		if err != nil {
			f.Fatal(err)
		}
		genuine = append(genuine, b)
		f.Add(b)
		f.Add(b[:len(b)/2])
		f.Add(append(append([]byte(nil), b...), 0x78, 0x01))
	}
	f.Add([]byte{})
	f.Add([]byte{0x08, 0x02})
	f.Add([]byte("\x12\x09kiosk-001"))
	isGenuine := func(b []byte) bool {
		for _, g := range genuine {
			if string(g) == string(b) {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		o, err := w.v.Open("kiosk-001", b)
		if err != nil {
			if ReasonOf(err) == rbdesv1.RejectReason_REJECT_REASON_UNSPECIFIED {
				t.Fatalf("refusal without a reason: %v", err)
			}
			if o != nil {
				t.Fatal("Open returned both a record and an error")
			}
		} else if !isGenuine(b) {
			t.Fatalf("accepted %d bytes that are not a genuine record", len(b))
		}
		vd := w.v.Receive(context.Background(), NewMemChain(), "kiosk-001", b, nil)
		if vd.Hash != seal.Hash(b) {
			t.Fatal("verdict hash is not the SHA-256 of the payload")
		}
		if (vd.Status == rbdesv1.AckStatus_ACK_STATUS_STORED) != (err == nil) {
			t.Fatalf("Receive status %v disagrees with Open error %v", vd.Status, err)
		}
	})
}

// FuzzParseRegistry feeds arbitrary YAML to the registry parser.
func FuzzParseRegistry(f *testing.F) {
	f.Add([]byte("kiosks:\n  - id: kiosk-001\n    status: active\n    device_keys:\n      - id: device-1\n        public_key: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n        retired_at: 2026-03-01T00:00:00Z\n"))
	f.Add([]byte("kiosks: []"))
	f.Add([]byte("{"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseRegistry(b, dir)
		if err == nil && r == nil {
			t.Fatal("ParseRegistry returned neither a registry nor an error")
		}
	})
}
