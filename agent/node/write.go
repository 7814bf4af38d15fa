package node

import (
	"context"
	"crypto/sha256"
	"errors"
	"strings"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// ackBatch is a committed batch on its way to the acker.
type ackBatch struct {
	jobs []*job
	now  time.Time
}

// write takes jobs in arrival order, waits until they are verified,
// commits them in batches and hands each committed batch to the acker, so
// that signing and publishing its acks overlaps the next commit.
func (n *Node) write(ctx context.Context, p *pipeline, acks chan<- ackBatch) {
	for {
		batch, done := p.takeWrite(n.o.MaxBatch)
		if len(batch) == 0 {
			if done {
				return
			}
			<-p.write
			continue
		}
		for _, j := range batch {
			<-j.done
		}
		now := n.clk.Now()
		n.commit(ctx, batch, now)
		acks <- ackBatch{jobs: batch, now: now}
	}
}

// ackLoop publishes the signed acks of committed batches, in order, and
// then PUBACKs their messages to the broker.
func (n *Node) ackLoop(c paho.Client, acks <-chan ackBatch) {
	for b := range acks {
		for _, j := range b.jobs {
			if a := n.ackFor(j, b.now); a != nil {
				n.publishAck(c, j.kiosk, a)
			}
			if j.msg != nil {
				j.msg.Ack()
			}
		}
	}
}

// commit stores a batch in one transaction and sets each capture job's
// verdict. A failed transaction leaves every record of the batch
// unstored, with the transient STORAGE_UNAVAILABLE verdict.
func (n *Node) commit(ctx context.Context, batch []*job, now time.Time) {
	ops := make([]*Op, len(batch))
	stale := make([]bool, len(batch)) // status ops: an older connection's status, not applied
	for i, j := range batch {
		j := j
		switch {
		case j.kind == wire.KindCapture && j.err == nil:
			o := j.opened
			ops[i] = &Op{KioskID: j.kiosk, Fn: func(tx *Tx) error {
				j.verdict.Placement = nodeverify.Placement{}
				p, err := nodeverify.Place(tx, o.Link())
				if err != nil {
					return err
				}
				j.verdict.Placement = p
				if p.Duplicate {
					return tx.Seen(now)
				}
				return tx.SaveRecord(o, p, n.o.NodeID, now)
			}}
		case j.kind == wire.KindStatus && j.err == nil:
			st := j.status
			ops[i] = &Op{KioskID: j.kiosk, Fn: func(tx *Tx) error {
				applied, err := tx.ApplyStatus(st, now)
				stale[i] = err == nil && !applied
				return err
			}}
		case j.kiosk != "":
			ops[i] = &Op{KioskID: j.kiosk, Fn: func(tx *Tx) error { return tx.Seen(now) }}
		default:
			ops[i] = &Op{Fn: func(*Tx) error { return nil }}
		}
	}
	start := n.clk.Now()
	err := n.store.Group(ctx, ops)
	n.m.commitSeconds.Observe(n.clk.Since(start).Seconds())
	n.m.batchSize.Observe(float64(len(batch)))
	if err != nil {
		n.m.storeErrors.Inc()
		n.log.Error("store transaction failed; the records are not acknowledged and will be sent again", zap.Int("records", len(batch)), zap.Error(err))
	}
	for i, j := range batch {
		n.m.messages.WithLabelValues(kindLabel(j.kind)).Inc()
		if j.kind != wire.KindCapture {
			switch {
			case j.err != nil:
				n.log.Warn("message ignored", zap.String("topic", j.topic), zap.Error(j.err))
			case ops[i].Err != nil:
				n.log.Error("storing a status failed", zap.String("kiosk", j.kiosk), zap.Error(ops[i].Err))
			case stale[i] && err == nil:
				n.log.Info("stale status ignored (an older connection's will or birth)", zap.String("kiosk", j.kiosk),
					zap.Uint64("connect_epoch", j.status.GetConnectEpoch()), zap.String("kind", j.status.GetKind().String()))
			}
			continue
		}
		n.verdict(j, err, ops[i].Err)
	}
}

func kindLabel(k string) string {
	if k == "" {
		return "unknown"
	}
	return strings.ReplaceAll(k, "/", "_")
}

// verdict fills j.verdict from the verification error, the transaction
// error and the record's own op error.
func (n *Node) verdict(j *job, txErr, opErr error) {
	vd := &j.verdict
	vd.KioskID = j.kiosk
	if j.opened != nil {
		vd.Hash = j.opened.Hash
		vd.RecordID, vd.Seq = j.opened.Sealed.GetRecordId(), j.opened.Sealed.GetSeq()
	} else {
		vd.Hash = sha256.Sum256(j.payload)
		if j.sr != nil {
			vd.RecordID, vd.Seq = j.sr.GetRecordId(), j.sr.GetSeq()
		}
	}
	err := j.err
	if err == nil {
		err = opErr
	}
	if err == nil && txErr != nil {
		err = txErr
	}
	var rej *nodeverify.Rejection
	switch {
	case err == nil:
		vd.Status = rbdesv1.AckStatus_ACK_STATUS_STORED
		if vd.Placement.Duplicate {
			vd.Status = rbdesv1.AckStatus_ACK_STATUS_DUPLICATE
		}
		if g := vd.Placement.Gap; g != nil && !vd.Placement.Late {
			n.log.Warn("chain gap", zap.String("kiosk", j.kiosk), zap.String("missing", g.String()), zap.Uint64("seq", vd.Seq))
		}
	case errors.As(err, &rej):
		vd.Status, vd.Reason, vd.Detail, vd.Err = rbdesv1.AckStatus_ACK_STATUS_REJECTED, rej.Reason, rej.Detail, err
		n.log.Warn("record rejected", zap.String("kiosk", j.kiosk), zap.String("record_id", vd.RecordID), zap.Uint64("seq", vd.Seq), zap.String("reason", rej.Reason.String()), zap.String("detail", rej.Detail))
	default:
		vd.Status, vd.Reason, vd.Err = rbdesv1.AckStatus_ACK_STATUS_REJECTED, rbdesv1.RejectReason_REJECT_REASON_STORAGE_UNAVAILABLE, err
		vd.Detail = "the node could not store the record now; it will be accepted when sent again"
		if txErr == nil {
			n.log.Error("storing a record failed", zap.String("kiosk", j.kiosk), zap.String("record_id", vd.RecordID), zap.Error(err))
		}
	}
	if j.opened != nil {
		seal.Wipe(j.opened.Record)
		j.opened = nil
	}
	result := "stored"
	switch {
	case vd.Transient():
		result = "transient"
	case vd.Status == rbdesv1.AckStatus_ACK_STATUS_DUPLICATE:
		result = "duplicate"
	case vd.Status == rbdesv1.AckStatus_ACK_STATUS_REJECTED:
		result = "rejected"
	}
	n.m.records.WithLabelValues(result).Inc()
}

// ackFor returns the signed Ack of a capture job, or nil when there is
// none to send (not a capture, or a transient failure the kiosk recovers
// from by sending the record again).
func (n *Node) ackFor(j *job, now time.Time) *rbdesv1.Ack {
	if j.kind != wire.KindCapture || j.verdict.Status == rbdesv1.AckStatus_ACK_STATUS_UNSPECIFIED || j.verdict.Transient() {
		return nil
	}
	a := j.verdict.Ack(n.o.NodeID, now)
	if len(a.Detail) > wire.MaxAckDetail {
		a.Detail = strings.ToValidUTF8(a.Detail[:wire.MaxAckDetail], "")
	}
	if !seal.ValidKioskID(a.KioskId) {
		a.KioskId = j.kiosk
	}
	if err := wire.SignAck(a, n.o.AckKeyID, n.o.AckKey); err != nil {
		n.log.Error("signing an ack failed", zap.Error(err))
		return nil
	}
	return a
}

func (n *Node) publishAck(c paho.Client, kiosk string, a *rbdesv1.Ack) {
	b, err := wire.Marshal(a)
	if err != nil {
		n.log.Error("encoding an ack failed", zap.Error(err))
		return
	}
	c.Publish(wire.KioskTopics(n.o.Country, kiosk).Ack, 1, false, b)
	n.m.acks.WithLabelValues(strings.ToLower(strings.TrimPrefix(a.GetStatus().String(), "ACK_STATUS_"))).Inc()
}

// Handle runs one message through the whole pipeline synchronously
// (verify, store, commit) and returns the signed Ack the node would
// publish, or nil when it publishes none. It is for tests and tools; Run
// does the same concurrently.
func (n *Node) Handle(ctx context.Context, topic string, payload []byte) *rbdesv1.Ack {
	j := &job{topic: topic, payload: payload, done: make(chan struct{})}
	n.verify(j)
	now := n.clk.Now()
	n.commit(ctx, []*job{j}, now)
	return n.ackFor(j, now)
}
