// Package records is the one call the capture workflow makes to keep a
// traveller's capture: Saver.Save seals the CaptureRecord (agent/seal:
// signed, encrypted to the node's key, linked into the kiosk's hash chain)
// and appends it durably to the outbox (agent/outbox). When Save returns
// nil the record is on disk and the officer may be told "saved"; the
// uplink delivers it from there.
package records

import (
	"context"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// ErrOutboxFull is returned (wrapping outbox.ErrFull) when the outbox has
// no room for the record: capture must stop and tell the officer, and an
// alarm is already out. Nothing was saved.
var ErrOutboxFull = errors.New("records: the outbox is full; the record was not saved (captures resume once the node has acknowledged stored records)")

// Appender is what Saver needs of the outbox; *outbox.Outbox implements it.
type Appender interface {
	AppendWith(ctx context.Context, build func(seq uint64, prev [32]byte) ([]byte, error)) (uint64, error)
}

// Saved says where a saved record is.
type Saved struct {
	// Seq is its sequence number in the outbox (and in the hash chain).
	Seq uint64
	// RecordID is its UUIDv7.
	RecordID string
	// Bytes is the size of the sealed record.
	Bytes int
}

// Saver seals and saves capture records of one kiosk. It is safe for
// concurrent use.
type Saver struct {
	sealer *seal.Sealer
	out    Appender
}

// New returns a Saver sealing with sealer and appending to out.
func New(sealer *seal.Sealer, out Appender) (*Saver, error) {
	if sealer == nil || out == nil {
		return nil, errors.New("records: New needs a sealer and an outbox")
	}
	return &Saver{sealer: sealer, out: out}, nil
}

// Save seals rec and appends it to the outbox, returning once it is
// durable. It fills in what the capture workflow may leave empty: a UUIDv7
// record id and the kiosk id. On success the biometric byte fields of rec
// (templates, face record, images) are wiped: the sealed copy is the only
// one kept. On failure rec is left as it was so that the caller may try
// again; errors.Is(err, ErrOutboxFull) means the outbox has no room.
func (s *Saver) Save(ctx context.Context, rec *rbdesv1.CaptureRecord) (Saved, error) {
	if rec == nil {
		return Saved{}, errors.New("records: Save of a nil record")
	}
	if rec.RecordId == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return Saved{}, fmt.Errorf("records: cannot make a record id: %w", err)
		}
		rec.RecordId = id.String()
	}
	if rec.KioskId == "" {
		rec.KioskId = s.sealer.KioskID()
	}
	var n int
	seq, err := s.out.AppendWith(ctx, func(seq uint64, prev [32]byte) ([]byte, error) {
		b, err := s.sealer.Seal(rec, seq, prev)
		n = len(b)
		return b, err
	})
	switch {
	case errors.Is(err, outbox.ErrFull):
		return Saved{}, fmt.Errorf("%w: %w", ErrOutboxFull, err)
	case err != nil:
		return Saved{}, fmt.Errorf("records: record %s was not saved: %w", rec.RecordId, err)
	}
	seal.Wipe(rec)
	return Saved{Seq: seq, RecordID: rec.RecordId, Bytes: n}, nil
}
