package nodeverify

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

const (
	rMalformed   = rbdesv1.RejectReason_REJECT_REASON_MALFORMED
	rVersion     = rbdesv1.RejectReason_REJECT_REASON_UNSUPPORTED_VERSION
	rSuite       = rbdesv1.RejectReason_REJECT_REASON_UNSUPPORTED_SUITE
	rUnknown     = rbdesv1.RejectReason_REJECT_REASON_UNKNOWN_KIOSK
	rRevoked     = rbdesv1.RejectReason_REJECT_REASON_REVOKED_KIOSK
	rMismatch    = rbdesv1.RejectReason_REJECT_REASON_KIOSK_MISMATCH
	rDeviceKey   = rbdesv1.RejectReason_REJECT_REASON_UNKNOWN_DEVICE_KEY
	rSignature   = rbdesv1.RejectReason_REJECT_REASON_BAD_SIGNATURE
	rNodeKey     = rbdesv1.RejectReason_REJECT_REASON_UNKNOWN_NODE_KEY
	rDecrypt     = rbdesv1.RejectReason_REJECT_REASON_DECRYPT_FAILED
	rInvalid     = rbdesv1.RejectReason_REJECT_REASON_INVALID_RECORD
	rReplay      = rbdesv1.RejectReason_REJECT_REASON_REPLAY
	rFork        = rbdesv1.RejectReason_REJECT_REASON_CHAIN_FORK
	rUnavailable = rbdesv1.RejectReason_REJECT_REASON_STORAGE_UNAVAILABLE
)

func TestOpenAccepts(t *testing.T) {
	w := newWorld(t)
	for _, nodeKey := range []string{"node-1", "node-x"} {
		t.Run(nodeKey, func(t *testing.T) {
			rec := record(t, "kiosk-001", 5000)
			want := proto.Clone(rec)
			prev := [32]byte{9}
			out, err := w.sealer(t, "kiosk-001", nodeKey).Seal(rec, 5, prev)
			if err != nil {
				t.Fatal(err)
			}
			o, err := w.v.Open("kiosk-001", out)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !proto.Equal(o.Record, want) {
				t.Errorf("opened record differs from the sealed one")
			}
			if o.Hash != seal.Hash(out) {
				t.Errorf("Opened.Hash is not the SHA-256 of the payload")
			}
			l := o.Link()
			if l.KioskID != "kiosk-001" || l.RecordID != rec.RecordId || l.Seq != 5 || l.BootEpoch != 1 || l.Prev != prev || l.Hash != o.Hash {
				t.Errorf("Link = %+v", l)
			}
			if _, err := w.v.Open("", out); err != nil {
				t.Errorf("Open without a publisher: %v", err)
			}
		})
	}
}

// TestRejectionReasons produces each rejection reason of verify-then-open
// from a record that is wrong in exactly that way.
func TestRejectionReasons(t *testing.T) {
	w := newWorld(t)
	good, _ := w.sealOne(t, "kiosk-001", 1, [32]byte{})
	dev1 := w.devKeys["kiosk-001"]
	captureOf := func(recordID, kioskID string) []byte {
		b, _ := proto.Marshal(&rbdesv1.CaptureRecord{RecordId: recordID, KioskId: kioskID})
		return b
	}
	rid := uuid.Must(uuid.NewV7()).String()
	otherNode, _ := hpke.MLKEM768X25519().GenerateKey()
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)

	tests := []struct {
		name      string
		publisher string
		payload   []byte
		want      rbdesv1.RejectReason
		detail    string
	}{
		{"garbage", "kiosk-001", []byte("hello, node"), rMalformed, "not a SealedRecord"},
		{"empty", "kiosk-001", nil, rMalformed, "empty"},
		{"truncated", "kiosk-001", good[:len(good)-10], rMalformed, ""},
		{"version 2", "kiosk-001", resign(t, good, dev1, func(sr *rbdesv1.SealedRecord) { sr.Version = 2 }), rVersion, "version 2"},
		{"ChaCha20 AEAD", "kiosk-001", resign(t, good, dev1, func(sr *rbdesv1.SealedRecord) { sr.AeadId = 3 }), rSuite, "not one of protocol version 1"},
		{"P-256 KEM", "kiosk-001", resign(t, good, dev1, func(sr *rbdesv1.SealedRecord) { sr.KemId = 0x10 }), rSuite, ""},
		{"published by another kiosk", "kiosk-002", good, rMismatch, "published by kiosk kiosk-002"},
		{"unregistered kiosk", "kiosk-009", func() []byte { b, _ := w.sealOne(t, "kiosk-009", 1, [32]byte{}); return b }(), rUnknown, "not in the node's registry"},
		{"revoked kiosk", "kiosk-003", func() []byte { b, _ := w.sealOne(t, "kiosk-003", 1, [32]byte{}); return b }(), rRevoked, "revoked"},
		{"unknown device key id", "kiosk-001", resign(t, good, dev1, func(sr *rbdesv1.SealedRecord) { sr.DeviceKeyId = "device-9" }), rDeviceKey, "no device key device-9"},
		{"signed by another kiosk's key", "kiosk-001", resign(t, good, w.devKeys["kiosk-002"], func(*rbdesv1.SealedRecord) {}), rSignature, "does not verify"},
		{"signed by a stranger", "kiosk-001", resign(t, good, strangerKey, func(*rbdesv1.SealedRecord) {}), rSignature, ""},
		{"sealed to a node key the node lacks", "kiosk-001", resign(t, good, dev1, func(sr *rbdesv1.SealedRecord) { sr.NodeKeyId = "node-7" }), rNodeKey, "node-7"},
		{"KEM does not match the node key", "kiosk-001", resign(t, good, dev1, func(sr *rbdesv1.SealedRecord) { sr.NodeKeyId = "node-x" }), rNodeKey, "is a DHKEM(X25519) key"},
		{"sealed to another node's key", "kiosk-001", sealRaw(t, "kiosk-001", rid, captureOf(rid, "kiosk-001"), "node-1", otherNode.PublicKey(), dev1), rDecrypt, "does not decrypt"},
		{"plaintext not a CaptureRecord", "kiosk-001", sealRaw(t, "kiosk-001", rid, []byte{0xFF, 0xFF}, "node-1", w.nodeKeys["node-1"].PublicKey(), dev1), rInvalid, "not a CaptureRecord"},
		{"plaintext of another record", "kiosk-001", sealRaw(t, "kiosk-001", rid, captureOf(uuid.Must(uuid.NewV7()).String(), "kiosk-001"), "node-1", w.nodeKeys["node-1"].PublicKey(), dev1), rInvalid, "holds a CaptureRecord of record"},
		{"plaintext of another kiosk", "kiosk-001", sealRaw(t, "kiosk-001", rid, captureOf(rid, "kiosk-002"), "node-1", w.nodeKeys["node-1"].PublicKey(), dev1), rInvalid, `kiosk "kiosk-002"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			o, err := w.v.Open(tc.publisher, tc.payload)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("Open = %v, %v; want reason %v", o, err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("rejection %q does not mention %q", err, tc.detail)
			}
			if o != nil {
				t.Errorf("Open returned a record with a rejection")
			}
		})
	}
	small, err := New(w.reg, w.nodeKeys, &Options{MaxRecordBytes: 100})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := small.Open("kiosk-001", good); ReasonOf(err) != rMalformed || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("oversized payload = %v, want MALFORMED (exceeds)", err)
	}
}

// fieldRegions maps every byte of a serialized record to the field number
// whose value it holds, or 0 for tag and length bytes.
func fieldRegions(t *testing.T, b []byte) []protowire.Number {
	t.Helper()
	regions := make([]protowire.Number, len(b))
	for i := 0; i < len(b); {
		num, typ, n := protowire.ConsumeTag(b[i:])
		if n < 0 {
			t.Fatal("bad tag")
		}
		i += n
		switch typ {
		case protowire.VarintType:
			_, m := protowire.ConsumeVarint(b[i:])
			for j := i; j < i+m; j++ {
				regions[j] = num
			}
			i += m
		case protowire.BytesType:
			l, m := protowire.ConsumeVarint(b[i:])
			i += m
			for j := i; j < i+int(l); j++ {
				regions[j] = num
			}
			i += int(l)
		default:
			t.Fatalf("unexpected wire type %v", typ)
		}
	}
	return regions
}

// TestTamperEveryByte flips every byte of a sealed record (one bit, the top
// bit, all bits) and checks that each copy is refused with a reason that
// fits the field the byte belongs to. Nothing a relay can do to one byte
// gets a record accepted, and the reason points at what was changed.
func TestTamperEveryByte(t *testing.T) {
	w := newWorld(t)
	for _, nodeKey := range []string{"node-x", "node-1"} {
		t.Run(nodeKey, func(t *testing.T) {
			rec := record(t, "kiosk-001", 300)
			good, err := w.sealer(t, "kiosk-001", nodeKey).Seal(rec, 300, seal.Hash([]byte("previous")))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.v.Open("kiosk-001", good); err != nil {
				t.Fatalf("untouched record refused: %v", err)
			}
			regions := fieldRegions(t, good)
			// The reasons each field's value bytes may produce. A changed
			// varint or string may also stop parsing or stop being
			// canonical (MALFORMED); any other change is caught by the
			// signature, or earlier by the check of that very field.
			allowed := map[protowire.Number][]rbdesv1.RejectReason{
				0:  {rMalformed},             // tags and lengths
				1:  {rMalformed, rVersion},   // version
				2:  {rMalformed, rMismatch},  // kiosk_id
				3:  {rMalformed, rSignature}, // record_id
				4:  {rMalformed, rSignature}, // seq
				5:  {rMalformed, rSignature}, // boot_epoch
				6:  {rMalformed, rSignature}, // created_unix_ms
				7:  {rMalformed, rSuite},     // kem_id
				8:  {rMalformed, rSuite},     // kdf_id
				9:  {rMalformed, rSuite},     // aead_id
				10: {rMalformed, rSignature}, // node_key_id
				11: {rSignature},             // enc
				12: {rSignature},             // ciphertext
				13: {rSignature},             // prev_hash
				14: {rMalformed, rDeviceKey}, // device_key_id
				15: {rSignature},             // signature
			}
			// Every byte with three masks; with -short or -race one mask, and
			// only every 16th byte of enc and ciphertext, whose bytes all
			// take the same path.
			exhaustive := !testing.Short() && !raceEnabled
			masks := []byte{0x01, 0x80, 0xFF}
			if !exhaustive {
				masks = []byte{0x01}
			}
			seen := map[rbdesv1.RejectReason]int{}
			for i := range good {
				if !exhaustive && (regions[i] == 11 || regions[i] == 12) && i%16 != 0 {
					continue
				}
				for _, m := range masks {
					bad := append([]byte(nil), good...)
					bad[i] ^= m
					_, err := w.v.Open("kiosk-001", bad)
					got := ReasonOf(err)
					seen[got]++
					ok := false
					for _, a := range allowed[regions[i]] {
						ok = ok || got == a
					}
					if !ok {
						t.Errorf("byte %d (field %d) ^ %#02x: reason %v (%v), want one of %v", i, regions[i], m, got, err, allowed[regions[i]])
					}
				}
			}
			t.Logf("%d bytes, %d masks, exhaustive %v: %v", len(good), len(masks), exhaustive, seen)
		})
	}
}

func TestTruncations(t *testing.T) {
	w := newWorld(t)
	good, _ := w.sealOne(t, "kiosk-001", 1, [32]byte{})
	for n := 0; n < len(good); n++ {
		if _, err := w.v.Open("kiosk-001", good[:n]); ReasonOf(err) != rMalformed {
			t.Fatalf("first %d of %d bytes: %v, want MALFORMED", n, len(good), err)
		}
	}
	if _, err := w.v.Open("kiosk-001", append(append([]byte(nil), good...), 0)); ReasonOf(err) != rMalformed {
		t.Errorf("one byte appended: %v, want MALFORMED", err)
	}
}

// TestSwapFields swaps each field between two records of the same kiosk,
// as a broker holding both could: every swap breaks the signature.
func TestSwapFields(t *testing.T) {
	w := newWorld(t)
	a, _ := w.sealOne(t, "kiosk-001", 1, [32]byte{})
	w.clk.Advance(time.Second)
	b, _ := w.sealOne(t, "kiosk-001", 2, seal.Hash(a))
	ra, rb := decode(t, a), decode(t, b)
	fields := ra.ProtoReflect().Descriptor().Fields()
	swapped := 0
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		va, vb := ra.ProtoReflect().Get(fd), rb.ProtoReflect().Get(fd)
		if va.Equal(vb) {
			continue // version, kiosk id, suite, key ids, boot epoch: the same in both
		}
		x := proto.Clone(ra).(*rbdesv1.SealedRecord)
		x.ProtoReflect().Set(fd, vb)
		_, err := w.v.Open("kiosk-001", encode(t, x))
		if got := ReasonOf(err); got != rSignature {
			t.Errorf("record A with B's %s: %v, want BAD_SIGNATURE", fd.Name(), err)
		}
		swapped++
	}
	if swapped < 6 {
		t.Errorf("only %d fields differed between the two records", swapped)
	}
}

// TestReplayUnderNewID moves a record's sealed content to a new record id.
// Without the device key the signature breaks; with it (a cloned kiosk),
// the HPKE info no longer matches, so the node cannot decrypt it.
func TestReplayUnderNewID(t *testing.T) {
	w := newWorld(t)
	good, _ := w.sealOne(t, "kiosk-001", 1, [32]byte{})
	newID := uuid.Must(uuid.NewV7()).String()
	sr := decode(t, good)
	sr.RecordId = newID
	if _, err := w.v.Open("kiosk-001", encode(t, sr)); ReasonOf(err) != rSignature {
		t.Errorf("new id without the key: %v, want BAD_SIGNATURE", err)
	}
	cloned := resign(t, good, w.devKeys["kiosk-001"], func(sr *rbdesv1.SealedRecord) { sr.RecordId = newID; sr.Seq = 2 })
	if _, err := w.v.Open("kiosk-001", cloned); ReasonOf(err) != rDecrypt {
		t.Errorf("new id re-signed with the kiosk key: %v, want DECRYPT_FAILED", err)
	}
	// Moving a record to another kiosk, re-signed with that kiosk's own key:
	// the info binds the kiosk id too.
	moved := resign(t, good, w.devKeys["kiosk-002"], func(sr *rbdesv1.SealedRecord) { sr.KioskId = "kiosk-002" })
	if _, err := w.v.Open("kiosk-002", moved); ReasonOf(err) != rDecrypt {
		t.Errorf("record moved to kiosk-002: %v, want DECRYPT_FAILED", err)
	}
}

// TestDeviceKeyRotation runs a rotation: device-1 retired at T, accepted
// until T+30 days for records it signed before T; device-2 from T on.
func TestDeviceKeyRotation(t *testing.T) {
	w := newWorld(t)
	retired := t0.Add(time.Hour)
	until := retired.Add(30 * 24 * time.Hour)
	pub1 := w.devKeys["kiosk-001"].Public().(ed25519.PublicKey)
	pub2, priv2, _ := ed25519.GenerateKey(rand.Reader)
	reg, err := NewRegistry([]Kiosk{{ID: "kiosk-001", Status: StatusActive, DeviceKeys: []DeviceKey{
		{ID: "device-1", Public: pub1, RetiredAt: retired, AcceptUntil: until},
		{ID: "device-2", Public: pub2},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	v, err := New(reg, w.nodeKeys, &Options{Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	oldRec, _ := w.sealOne(t, "kiosk-001", 1, [32]byte{}) // created at t0, before retirement
	w.clk.Set(retired.Add(time.Minute))
	lateOld, _ := w.sealOne(t, "kiosk-001", 2, [32]byte{}) // old key used after retirement
	s2, err := seal.New("kiosk-001", "device-2", priv2, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: w.nodeKeys["node-1"].PublicKey()}), &seal.Options{Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	newRec, err := s2.Seal(record(t, "kiosk-001", 500), 3, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		name    string
		now     time.Time
		payload []byte
		want    rbdesv1.RejectReason
	}{
		{"old key, record from before the rotation, inside the window", retired.Add(24 * time.Hour), oldRec, 0},
		{"old key, record created after the rotation", retired.Add(24 * time.Hour), lateOld, rDeviceKey},
		{"new key", retired.Add(24 * time.Hour), newRec, 0},
		{"old key after the window", until.Add(time.Second), oldRec, rDeviceKey},
		{"new key after the window", until.Add(time.Second), newRec, 0},
	}
	for _, st := range steps {
		w.clk.Set(st.now)
		_, err := v.Open("kiosk-001", st.payload)
		if got := ReasonOf(err); got != st.want {
			t.Errorf("%s: %v, want reason %v", st.name, err, st.want)
		}
	}
}

func TestVerifyMetrics(t *testing.T) {
	w := newWorld(t)
	reg := prometheus.NewPedanticRegistry()
	v, err := New(w.reg, w.nodeKeys, &Options{Clock: w.clk, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	good, _ := w.sealOne(t, "kiosk-001", 1, [32]byte{})
	v.Open("kiosk-001", good)
	v.Open("kiosk-001", []byte("x"))
	v.Open("kiosk-002", good)
	for result, want := range map[string]float64{"ok": 1, "REJECT_REASON_MALFORMED": 1, "REJECT_REASON_KIOSK_MISMATCH": 1} {
		if got := testutil.ToFloat64(v.metrics.results.WithLabelValues(result)); got != want {
			t.Errorf("rbdes_node_verify_total{result=%q} = %v, want %v", result, got, want)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	w := newWorld(t)
	for name, fn := range map[string]func() error{
		"no directory": func() error { _, err := New(nil, w.nodeKeys, nil); return err },
		"no keys":      func() error { _, err := New(w.reg, nil, nil); return err },
		"bad key id": func() error {
			_, err := New(w.reg, map[string]hpke.PrivateKey{"bad id": w.nodeKeys["node-1"]}, nil)
			return err
		},
		"nil key": func() error { _, err := New(w.reg, map[string]hpke.PrivateKey{"node-1": nil}, nil); return err },
	} {
		if err := fn(); err == nil {
			t.Errorf("New with %s: want an error", name)
		}
	}
}

func TestRejectionError(t *testing.T) {
	inner := errors.New("inner")
	r := reject(rSignature, inner, "record %s", "x")
	if !errors.Is(r, inner) || ReasonOf(fmt.Errorf("wrapped: %w", r)) != rSignature {
		t.Errorf("Rejection does not unwrap or is not found through wrapping")
	}
	if !strings.Contains(r.Error(), "REJECT_REASON_BAD_SIGNATURE") {
		t.Errorf("Rejection.Error() = %q, want the reason name", r.Error())
	}
	if ReasonOf(inner) != rbdesv1.RejectReason_REJECT_REASON_UNSPECIFIED {
		t.Errorf("ReasonOf(plain error) is not UNSPECIFIED")
	}
}
