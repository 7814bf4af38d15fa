package nodeverify

import (
	"context"
	"crypto/sha256"
	"errors"
	"time"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Verdict is the node's answer to one received payload.
type Verdict struct {
	// Status is STORED, DUPLICATE or REJECTED.
	Status rbdesv1.AckStatus
	// Reason and Detail explain a REJECTED verdict.
	Reason rbdesv1.RejectReason
	Detail string
	// KioskID, RecordID and Seq are what the record says when it parsed
	// (not trustworthy unless Status is STORED or DUPLICATE); KioskID falls
	// back to the publisher.
	KioskID  string
	RecordID string
	Seq      uint64
	// Hash is the SHA-256 of the payload as received.
	Hash [seal.HashSize]byte
	// Opened is the verified record for STORED and DUPLICATE, nil else.
	Opened *Opened
	// Placement says where a STORED record landed (gap, late arrival).
	Placement Placement
	// Err is the underlying error, for logs.
	Err error
}

// Transient reports whether the refusal is temporary (the store was
// unavailable) so that the kiosk should send the record again rather than
// move it to dead letters. A node may choose not to acknowledge at all in
// that case and let the kiosk's ack timeout resend it.
func (v Verdict) Transient() bool {
	return v.Status == rbdesv1.AckStatus_ACK_STATUS_REJECTED && v.Reason == rbdesv1.RejectReason_REJECT_REASON_STORAGE_UNAVAILABLE
}

// Ack returns the Ack to publish on the kiosk's ack topic.
func (v Verdict) Ack(nodeID string, now time.Time) *rbdesv1.Ack {
	a := &rbdesv1.Ack{
		RecordId: v.RecordID,
		Sha256:   append([]byte(nil), v.Hash[:]...),
		Status:   v.Status,
		Reason:   v.Reason,
		Detail:   v.Detail,
		NodeId:   nodeID,
		Seq:      v.Seq,
		KioskId:  v.KioskID,
	}
	if v.Status != rbdesv1.AckStatus_ACK_STATUS_REJECTED {
		a.StoredUnixMs = now.UnixMilli()
	}
	return a
}

// SaveFunc stores a newly accepted record inside the chain transaction tx
// (the node's store knows its own transaction type behind tx). Returning an
// error rolls the transaction back and the verdict is STORAGE_UNAVAILABLE.
type SaveFunc func(ctx context.Context, tx ChainTx, o *Opened) error

// Receive runs every check on a payload published by publisher ("" when
// the transport does not say) and, for a new record, places it in its
// chain and calls save in the same transaction of store. It never returns
// an error: everything, a store failure included, is in the Verdict.
func (v *Verifier) Receive(ctx context.Context, store ChainStore, publisher string, payload []byte, save SaveFunc) Verdict {
	hash := sha256.Sum256(payload)
	start := v.clk.Now()
	o, sr, err := v.open(publisher, payload, hash)
	v.metrics.observe(err, v.clk.Since(start))
	vd := Verdict{KioskID: publisher, Hash: hash}
	if sr != nil {
		vd.KioskID, vd.RecordID, vd.Seq = sr.GetKioskId(), sr.GetRecordId(), sr.GetSeq()
	}
	if err != nil {
		return vd.rejected(err)
	}
	vd.Opened = o
	err = store.Update(ctx, vd.KioskID, func(tx ChainTx) error {
		p, err := Place(tx, o.Link())
		if err != nil {
			return err
		}
		vd.Placement = p
		if p.Duplicate || save == nil {
			return nil
		}
		return save(ctx, tx, o)
	})
	if err != nil {
		vd.Opened = nil
		vd.Placement = Placement{}
		seal.Wipe(o.Record)
		return vd.rejected(err)
	}
	vd.Status = rbdesv1.AckStatus_ACK_STATUS_STORED
	if vd.Placement.Duplicate {
		vd.Status = rbdesv1.AckStatus_ACK_STATUS_DUPLICATE
	}
	return vd
}

func (v Verdict) rejected(err error) Verdict {
	v.Status = rbdesv1.AckStatus_ACK_STATUS_REJECTED
	v.Err = err
	var r *Rejection
	if errors.As(err, &r) {
		v.Reason, v.Detail = r.Reason, r.Detail
		return v
	}
	v.Reason = rbdesv1.RejectReason_REJECT_REASON_STORAGE_UNAVAILABLE
	v.Detail = "the node could not store the record now; it will be accepted when sent again"
	return v
}
