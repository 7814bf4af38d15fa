package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Tx is one kiosk's view of a Group transaction: the chain (it implements
// nodeverify.ChainTx) and the record and status writes.
type Tx struct {
	s     *Store
	tx    *sql.Tx
	ctx   context.Context
	kiosk string
	put   int64 // primary key of the row Put inserted, 0 before
}

var _ nodeverify.ChainTx = (*Tx)(nil)

const linkCols = `record_id, seq, boot_epoch, hash, prev_hash`

func (t *Tx) link(query string, args ...any) (nodeverify.Link, bool, error) {
	var l nodeverify.Link
	var seq, boot int64
	var hash, prev []byte
	err := t.queryRow(query, args...).Scan(&l.RecordID, &seq, &boot, &hash, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		return l, false, fmt.Errorf("node: reading kiosk %s's chain: %w", t.kiosk, err)
	}
	if len(hash) != seal.HashSize || len(prev) != seal.HashSize {
		return l, false, fmt.Errorf("node: kiosk %s record %s has a damaged chain link in the store", t.kiosk, l.RecordID)
	}
	l.KioskID, l.Seq, l.BootEpoch = t.kiosk, uint64(seq), uint64(boot)
	copy(l.Hash[:], hash)
	copy(l.Prev[:], prev)
	return l, true, nil
}

// ByRecordID implements nodeverify.ChainTx.
func (t *Tx) ByRecordID(id string) (nodeverify.Link, bool, error) {
	return t.link(qLinkByID, t.kiosk, id)
}

// At implements nodeverify.ChainTx.
func (t *Tx) At(seq uint64) (nodeverify.Link, bool, error) {
	return t.link(qLinkAt, t.kiosk, int64(seq))
}

// Before implements nodeverify.ChainTx.
func (t *Tx) Before(seq uint64) (nodeverify.Link, bool, error) {
	return t.link(qLinkBefore, t.kiosk, int64(seq))
}

// After implements nodeverify.ChainTx.
func (t *Tx) After(seq uint64) (nodeverify.Link, bool, error) {
	return t.link(qLinkAfter, t.kiosk, int64(seq))
}

// Put implements nodeverify.ChainTx: it inserts the record's row with its
// chain position; SaveRecord completes it.
func (t *Tx) Put(l nodeverify.Link) error {
	if l.KioskID != t.kiosk {
		return fmt.Errorf("node: link of kiosk %s put in a transaction of kiosk %s", l.KioskID, t.kiosk)
	}
	err := t.queryRow(qInsertRecord,
		t.kiosk, l.RecordID, int64(l.Seq), int64(l.BootEpoch), l.Hash[:], l.Prev[:]).Scan(&t.put)
	if err != nil {
		return fmt.Errorf("node: storing kiosk %s record %s: %w", t.kiosk, l.RecordID, err)
	}
	return nil
}

// SaveRecord stores what the node keeps of an accepted record in the row
// Put inserted: metadata, finger templates (and images when the kiosk's
// policy sent them), the face record; then it updates the kiosk's counters
// and chain gaps. It never stores the ciphertext or logs biometric data.
func (t *Tx) SaveRecord(o *nodeverify.Opened, p nodeverify.Placement, nodeID string, now time.Time) error {
	if t.put == 0 {
		return fmt.Errorf("node: SaveRecord for %s without Put", o.Sealed.GetRecordId())
	}
	sr, rec := o.Sealed, o.Record
	devices, _ := json.Marshal(rec.GetDevices())
	timings, _ := json.Marshal(rec.GetTimings())
	nowMs := now.UnixMilli()
	if _, err := t.exec(qRecordMetadata,
		sr.GetCreatedUnixMs(), rec.GetCapturedUnixMs(), nowMs, nodeID, o.Suite.Name(), sr.GetNodeKeyId(), sr.GetDeviceKeyId(),
		rec.GetSite(), rec.GetSessionId(), rec.GetOfficerId(), rec.GetPolicy(), rec.GetAgentVersion(), string(devices), string(timings), t.put); err != nil {
		return fmt.Errorf("node: storing record %s metadata: %w", sr.GetRecordId(), err)
	}
	for i, f := range rec.GetFingers() {
		img := f.GetImage()
		if _, err := t.exec(qInsertTemplate,
			t.put, i, int(f.GetPosition()), nonNil(f.GetIsoTemplate()), f.GetQuality(), f.GetAttempts(), int(f.GetMissingReason()), f.GetMinutiae(), f.GetDevice(), f.GetDurationMs(),
			int(img.GetFormat()), img.GetWidth(), img.GetHeight(), img.GetPpi(), nonNil(img.GetData())); err != nil {
			return fmt.Errorf("node: storing record %s finger %d: %w", sr.GetRecordId(), i, err)
		}
	}
	if face := rec.GetFace(); face != nil {
		measures, _ := json.Marshal(face.GetMeasures())
		if _, err := t.exec(qInsertFace,
			t.put, nonNil(face.GetIsoRecord()), face.GetQuality(), boolInt(face.GetAccepted()), face.GetFrames(), string(measures), strings.Join(face.GetReasons(), "\n"), face.GetDevice(), face.GetDurationMs()); err != nil {
			return fmt.Errorf("node: storing record %s face: %w", sr.GetRecordId(), err)
		}
	}
	seq := int64(sr.GetSeq())
	if _, err := t.exec(qKioskRecordStored,
		nowMs, nowMs, nowMs, seq, sr.GetCreatedUnixMs(), seq, nowMs, seq, seq, t.kiosk); err != nil {
		return fmt.Errorf("node: updating kiosk %s: %w", t.kiosk, err)
	}
	return t.updateGaps(sr, p, nowMs)
}

// updateGaps records a new gap before the record, or shrinks the gap a
// late record fills.
func (t *Tx) updateGaps(sr *rbdesv1.SealedRecord, p nodeverify.Placement, nowMs int64) error {
	seq := int64(sr.GetSeq())
	if !p.Late {
		if p.Gap == nil {
			return nil
		}
		_, err := t.exec(qInsertGap,
			t.kiosk, int64(p.Gap.From), int64(p.Gap.To), boolInt(p.Gap.Open), nowMs)
		if err != nil {
			return fmt.Errorf("node: recording gap %s of kiosk %s: %w", p.Gap, t.kiosk, err)
		}
		return nil
	}
	var from, to int64
	var open int
	err := t.queryRow(qGapContaining, t.kiosk, seq, seq).Scan(&from, &to, &open)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: reading the gaps of kiosk %s: %w", t.kiosk, err)
	}
	if _, err := t.exec(qDeleteGap, t.kiosk, from); err != nil {
		return fmt.Errorf("node: updating the gaps of kiosk %s: %w", t.kiosk, err)
	}
	chainStart := open == 1 && [seal.HashSize]byte(sr.GetPrevHash()) == [seal.HashSize]byte{}
	if from <= seq-1 && !chainStart {
		if _, err := t.exec(qInsertGap, t.kiosk, from, seq-1, open, nowMs); err != nil {
			return fmt.Errorf("node: updating the gaps of kiosk %s: %w", t.kiosk, err)
		}
	}
	if seq+1 <= to {
		if _, err := t.exec(qInsertGapAfter, t.kiosk, seq+1, to, nowMs); err != nil {
			return fmt.Errorf("node: updating the gaps of kiosk %s: %w", t.kiosk, err)
		}
	}
	return nil
}

// ApplyStatus records a kiosk's status message: last seen always; online
// state, epochs and queue figures only when its connect epoch is not older
// than the latest one recorded, so that a late will of an earlier
// connection does not mark a reconnected kiosk offline. It reports whether
// the state was applied.
func (t *Tx) ApplyStatus(s *rbdesv1.Status, now time.Time) (bool, error) {
	nowMs := now.UnixMilli()
	online := s.GetState() == rbdesv1.KioskState_KIOSK_STATE_ONLINE
	res, err := t.exec(qKioskStatus,
		boolInt(online), int(s.GetKind()), int64(s.GetBootEpoch()), int64(s.GetConnectEpoch()), nowMs,
		int64(s.GetQueueDepth()), s.GetOldestUnackedAgeMs(), int64(s.GetDeadLetters()), s.GetAgentVersion(), strings.Join(s.GetAlarms(), "\n"),
		nowMs, nowMs, nowMs, t.kiosk, int64(s.GetConnectEpoch()))
	if err != nil {
		return false, fmt.Errorf("node: recording the status of kiosk %s: %w", t.kiosk, err)
	}
	n, _ := res.RowsAffected()
	if n > 0 {
		return true, nil
	}
	if _, err := t.exec(qKioskSeenOnly, nowMs, nowMs, t.kiosk); err != nil {
		return false, fmt.Errorf("node: recording kiosk %s as seen: %w", t.kiosk, err)
	}
	return false, nil
}

// Seen records that the kiosk was heard from.
func (t *Tx) Seen(now time.Time) error {
	nowMs := now.UnixMilli()
	_, err := t.exec(qKioskSeen, nowMs, nowMs, nowMs, t.kiosk)
	if err != nil {
		return fmt.Errorf("node: recording kiosk %s as seen: %w", t.kiosk, err)
	}
	return nil
}

// exec runs a statement of the store's cache inside the transaction.
func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	if st, ok := t.s.stmt(query); ok {
		return t.tx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return t.tx.ExecContext(t.ctx, t.s.d.q(query), args...)
}

// queryRow runs a query of the store's cache inside the transaction.
func (t *Tx) queryRow(query string, args ...any) *sql.Row {
	if st, ok := t.s.stmt(query); ok {
		return t.tx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.tx.QueryRowContext(t.ctx, t.s.d.q(query), args...)
}

func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
