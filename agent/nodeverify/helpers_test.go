package nodeverify

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"testing"
	"time"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

// world is a node with a registry of kiosks and a sealer per kiosk.
type world struct {
	clk      *clock.Fake
	nodeKeys map[string]hpke.PrivateKey
	devKeys  map[string]ed25519.PrivateKey // kiosk id -> device-1 key
	kiosks   []Kiosk
	reg      *Registry
	v        *Verifier
}

// newWorld registers kiosk-001 and kiosk-002 (active) and kiosk-003
// (revoked), all with device key device-1, and gives the node the keys
// node-1 (MLKEM768-X25519) and node-x (X25519). kiosk-009 has keys but is
// not registered.
func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{clk: clock.NewFake(t0), nodeKeys: map[string]hpke.PrivateKey{}, devKeys: map[string]ed25519.PrivateKey{}}
	var err error
	if w.nodeKeys["node-1"], err = hpke.MLKEM768X25519().GenerateKey(); err != nil {
		t.Fatal(err)
	}
	kx, _ := seal.KEM(seal.KEMX25519)
	if w.nodeKeys["node-x"], err = kx.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"kiosk-001", "kiosk-002", "kiosk-003", "kiosk-009"} {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		w.devKeys[id] = priv
		st := StatusActive
		if id == "kiosk-003" {
			st = StatusRevoked
		}
		if id != "kiosk-009" {
			w.kiosks = append(w.kiosks, Kiosk{ID: id, Status: st, DeviceKeys: []DeviceKey{{ID: "device-1", Public: pub}}})
		}
	}
	w.reg, err = NewRegistry(w.kiosks)
	if err != nil {
		t.Fatal(err)
	}
	w.v, err = New(w.reg, w.nodeKeys, &Options{Clock: w.clk})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// sealer returns a sealer for kiosk id signing with its device-1 key and
// sealing to node key nodeKeyID.
func (w *world) sealer(t testing.TB, id, nodeKeyID string) *seal.Sealer {
	t.Helper()
	nk := w.nodeKeys[nodeKeyID]
	s, err := seal.New(id, "device-1", w.devKeys[id], seal.Fixed(seal.Recipient{KeyID: nodeKeyID, Key: nk.PublicKey()}), &seal.Options{Clock: w.clk, BootEpoch: 1})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func record(t testing.TB, kioskID string, size int) *rbdesv1.CaptureRecord {
	t.Helper()
	b := make([]byte, max(size-300, 1))
	rand.Read(b)
	return &rbdesv1.CaptureRecord{
		RecordId:       uuid.Must(uuid.NewV7()).String(),
		KioskId:        kioskID,
		CapturedUnixMs: t0.UnixMilli(),
		Face:           &rbdesv1.FaceSample{IsoRecord: b[:len(b)/2], Quality: 70},
		Fingers:        []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: b[len(b)/2:], Quality: 55}},
		Policy:         "default",
	}
}

// sealOne seals a fresh record of kiosk id to node-1.
func (w *world) sealOne(t testing.TB, id string, seq uint64, prev [seal.HashSize]byte) ([]byte, *rbdesv1.CaptureRecord) {
	t.Helper()
	rec := record(t, id, 600)
	out, err := w.sealer(t, id, "node-1").Seal(rec, seq, prev)
	if err != nil {
		t.Fatal(err)
	}
	return out, rec
}

func decode(t testing.TB, b []byte) *rbdesv1.SealedRecord {
	t.Helper()
	sr := &rbdesv1.SealedRecord{}
	if err := proto.Unmarshal(b, sr); err != nil {
		t.Fatal(err)
	}
	return sr
}

func encode(t testing.TB, sr *rbdesv1.SealedRecord) []byte {
	t.Helper()
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// resign changes a sealed record with fn and signs it again with key, as a
// holder of that device key (a cloned kiosk) could.
func resign(t testing.TB, payload []byte, key ed25519.PrivateKey, fn func(sr *rbdesv1.SealedRecord)) []byte {
	t.Helper()
	sr := decode(t, payload)
	fn(sr)
	msg, err := seal.SignatureInput(sr)
	if err != nil {
		t.Fatal(err)
	}
	sr.Signature = ed25519.Sign(key, msg)
	return encode(t, sr)
}

// sealRaw builds a sealed record from scratch around arbitrary plaintext,
// following the package documentation of agent/seal rather than calling
// Sealer: HPKE info, signature layout, field values.
func sealRaw(t testing.TB, kioskID, recordID string, plain []byte, nodeKeyID string, node hpke.PublicKey, dev ed25519.PrivateKey) []byte {
	t.Helper()
	suite, err := seal.SuiteForKEM(node.KEM().ID())
	if err != nil {
		t.Fatal(err)
	}
	enc, s, err := hpke.NewSender(node, hpke.HKDFSHA256(), hpke.AES256GCM(), seal.Info(1, kioskID, recordID))
	if err != nil {
		t.Fatal(err)
	}
	ct, err := s.Seal(nil, plain)
	if err != nil {
		t.Fatal(err)
	}
	sr := &rbdesv1.SealedRecord{
		Version: 1, KioskId: kioskID, RecordId: recordID, Seq: 1, BootEpoch: 1, CreatedUnixMs: t0.UnixMilli(),
		KemId: uint32(suite.KEM), KdfId: uint32(suite.KDF), AeadId: uint32(suite.AEAD), NodeKeyId: nodeKeyID,
		Enc: enc, Ciphertext: ct, PrevHash: make([]byte, 32), DeviceKeyId: "device-1",
	}
	msg, _ := seal.SignatureInput(sr)
	sr.Signature = ed25519.Sign(dev, msg)
	return encode(t, sr)
}
