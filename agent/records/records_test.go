package records

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"path/filepath"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func newSaver(t *testing.T, maxBytes int64) (*Saver, *outbox.Outbox, ed25519.PublicKey) {
	t.Helper()
	kx, _ := seal.KEM(seal.KEMX25519)
	nk, err := kx.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	pub, dev, _ := ed25519.GenerateKey(rand.Reader)
	s, err := seal.New("kiosk-001", "device-1", dev, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: nk.PublicKey()}), nil)
	if err != nil {
		t.Fatal(err)
	}
	ob, err := outbox.New(filepath.Join(t.TempDir(), "outbox"), &outbox.Options{MaxBytes: maxBytes, SegmentBytes: 4 << 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ob.Close() })
	sv, err := New(s, ob)
	if err != nil {
		t.Fatal(err)
	}
	return sv, ob, pub
}

func capture(size int) *rbdesv1.CaptureRecord {
	b := make([]byte, size)
	rand.Read(b)
	return &rbdesv1.CaptureRecord{Fingers: []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: b}}}
}

func TestSaveSealsAppendsAndWipes(t *testing.T) {
	sv, ob, pub := newSaver(t, 1<<20)
	rec := capture(500)
	got, err := sv.Save(context.Background(), rec)
	if err != nil {
		t.Fatalf("Save = %v", err)
	}
	if got.Seq != 1 || !seal.ValidRecordID(got.RecordID) || got.Bytes == 0 {
		t.Errorf("Save = %+v, want seq 1, a record id and a size", got)
	}
	for _, b := range rec.Fingers[0].IsoTemplate {
		if b != 0 {
			t.Fatal("the template was not wiped after saving")
		}
	}
	d, err := ob.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	sr, err := seal.Parse(d.Payload)
	if err != nil {
		t.Fatalf("the outbox holds something that is not a sealed record: %v", err)
	}
	if sr.GetRecordId() != got.RecordID || sr.GetKioskId() != "kiosk-001" || sr.GetSeq() != 1 {
		t.Errorf("sealed record = %s/%s seq %d, want %s/kiosk-001 seq 1", sr.GetRecordId(), sr.GetKioskId(), sr.GetSeq(), got.RecordID)
	}
	if err := seal.VerifySignature(sr, pub); err != nil {
		t.Errorf("sealed record signature: %v", err)
	}
}

func TestSaveRefusesWhenFull(t *testing.T) {
	sv, _, _ := newSaver(t, 16<<10)
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = sv.Save(context.Background(), capture(3000))
	}
	if !errors.Is(err, ErrOutboxFull) || !errors.Is(err, outbox.ErrFull) {
		t.Fatalf("Save into a full outbox = %v, want ErrOutboxFull wrapping outbox.ErrFull", err)
	}
	rec := capture(3000)
	if _, err := sv.Save(context.Background(), rec); err == nil {
		t.Fatal("Save succeeded in a full outbox")
	}
	if rec.Fingers[0].IsoTemplate[0] == 0 && rec.Fingers[0].IsoTemplate[1] == 0 && rec.Fingers[0].IsoTemplate[2] == 0 {
		t.Error("a record that was not saved was wiped")
	}
}
