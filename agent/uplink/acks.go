package uplink

import (
	"bytes"
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// handleAck settles the record an Ack names, if the Ack is genuine and
// matches what was sent (see the package comment).
func (u *Uplink) handleAck(payload []byte) {
	a, err := wire.ParseAck(payload)
	if err != nil {
		u.badAck("malformed", err)
		return
	}
	if err := wire.VerifyAck(a, u.o.AckKeys); err != nil {
		reason := "bad_signature"
		if errors.Is(err, wire.ErrUnknownKey) {
			reason = "unknown_key"
		}
		u.badAck(reason, err)
		return
	}
	if a.GetKioskId() != u.o.KioskID {
		u.badAck("wrong_kiosk", fmt.Errorf("ack for record %s names kiosk %q", a.GetRecordId(), a.GetKioskId()))
		return
	}
	seq := a.GetSeq()
	now := u.clk.Now()
	u.mu.Lock()
	f, inFlight := u.inflight[seq]
	var s sent
	switch {
	case inFlight:
		s = sent{id: f.id, hash: f.hash}
	default:
		var ok bool
		if s, ok = u.known[seq]; !ok {
			u.mu.Unlock()
			u.m.acks.WithLabelValues("stale").Inc()
			return
		}
	}
	if s.id != a.GetRecordId() || !bytes.Equal(s.hash[:], a.GetSha256()) {
		u.mu.Unlock()
		u.badAck("mismatch", fmt.Errorf("ack for seq %d names record %s, but record %s was sent there (or the hash differs)", seq, a.GetRecordId(), s.id))
		return
	}
	stored := a.GetStatus() != rbdesv1.AckStatus_ACK_STATUS_REJECTED
	if stored {
		u.lastAck = now
		u.acks++
	}
	u.mu.Unlock()
	u.forget(seq)
	u.m.inflight.Set(float64(u.inflightLen()))

	switch a.GetStatus() {
	case rbdesv1.AckStatus_ACK_STATUS_STORED, rbdesv1.AckStatus_ACK_STATUS_DUPLICATE:
		label := "stored"
		if a.GetStatus() == rbdesv1.AckStatus_ACK_STATUS_DUPLICATE {
			label = "duplicate"
		}
		u.m.acks.WithLabelValues(label).Inc()
		if inFlight {
			u.m.rtt.Observe(now.Sub(f.sentAt).Seconds())
		}
		if err := u.q.Ack(seq); err != nil {
			u.log.Error("acknowledging a record in the outbox failed", zap.Uint64("seq", seq), zap.Error(err))
		}
		u.clear("no_ack")
	case rbdesv1.AckStatus_ACK_STATUS_REJECTED:
		u.m.acks.WithLabelValues("rejected").Inc()
		reason := rbdesv1.RejectReason_name[int32(a.GetReason())]
		if reason == "" {
			reason = fmt.Sprintf("REJECT_REASON_%d", a.GetReason())
		}
		if a.GetReason() == rbdesv1.RejectReason_REJECT_REASON_STORAGE_UNAVAILABLE {
			if err := u.q.Fail(seq, "node storage unavailable: "+a.GetDetail()); err != nil {
				u.log.Error("recording a failed delivery failed", zap.Uint64("seq", seq), zap.Error(err))
			}
			return
		}
		why := fmt.Sprintf("node %s rejected it: %s: %s", a.GetNodeId(), reason, a.GetDetail())
		if err := u.q.DeadLetter(seq, why); err != nil {
			u.log.Error("moving a rejected record to dead letters failed", zap.Uint64("seq", seq), zap.Error(err))
			return
		}
		u.m.deadLetters.WithLabelValues("rejected").Inc()
		u.raise(Alarm{Kind: "dead_letter", Seq: seq, Message: fmt.Sprintf("record %d (%s) moved to dead letters: %s", seq, a.GetRecordId(), why)})
		u.noteDeadLetters()
	}
}

func (u *Uplink) inflightLen() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.inflight)
}

// badAck counts and logs an ack that is ignored.
func (u *Uplink) badAck(reason string, err error) {
	u.m.badAcks.WithLabelValues(reason).Inc()
	u.log.Warn("ack ignored", zap.String("reason", reason), zap.Error(err))
}
