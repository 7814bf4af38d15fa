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
	err := t.tx.QueryRowContext(t.ctx, t.s.d.q(query), args...).Scan(&l.RecordID, &seq, &boot, &hash, &prev)
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
	return t.link(`SELECT `+linkCols+` FROM records WHERE kiosk_id = ? AND record_id = ?`, t.kiosk, id)
}

// At implements nodeverify.ChainTx.
func (t *Tx) At(seq uint64) (nodeverify.Link, bool, error) {
	return t.link(`SELECT `+linkCols+` FROM records WHERE kiosk_id = ? AND seq = ?`, t.kiosk, int64(seq))
}

// Before implements nodeverify.ChainTx.
func (t *Tx) Before(seq uint64) (nodeverify.Link, bool, error) {
	return t.link(`SELECT `+linkCols+` FROM records WHERE kiosk_id = ? AND seq < ? ORDER BY seq DESC LIMIT 1`, t.kiosk, int64(seq))
}

// After implements nodeverify.ChainTx.
func (t *Tx) After(seq uint64) (nodeverify.Link, bool, error) {
	return t.link(`SELECT `+linkCols+` FROM records WHERE kiosk_id = ? AND seq > ? ORDER BY seq ASC LIMIT 1`, t.kiosk, int64(seq))
}

// Put implements nodeverify.ChainTx: it inserts the record's row with its
// chain position; SaveRecord completes it.
func (t *Tx) Put(l nodeverify.Link) error {
	if l.KioskID != t.kiosk {
		return fmt.Errorf("node: link of kiosk %s put in a transaction of kiosk %s", l.KioskID, t.kiosk)
	}
	err := t.tx.QueryRowContext(t.ctx, t.s.d.q(`INSERT INTO records (kiosk_id, record_id, seq, boot_epoch, hash, prev_hash) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`),
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
	if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`UPDATE records SET created_ms = ?, captured_ms = ?, stored_ms = ?, node_id = ?, suite = ?, node_key_id = ?, device_key_id = ?,
		site = ?, session_id = ?, officer_id = ?, policy = ?, agent_version = ?, devices = ?, timings = ? WHERE id = ?`),
		sr.GetCreatedUnixMs(), rec.GetCapturedUnixMs(), nowMs, nodeID, o.Suite.Name(), sr.GetNodeKeyId(), sr.GetDeviceKeyId(),
		rec.GetSite(), rec.GetSessionId(), rec.GetOfficerId(), rec.GetPolicy(), rec.GetAgentVersion(), string(devices), string(timings), t.put); err != nil {
		return fmt.Errorf("node: storing record %s metadata: %w", sr.GetRecordId(), err)
	}
	for i, f := range rec.GetFingers() {
		img := f.GetImage()
		if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`INSERT INTO templates (record_pk, idx, position, iso_template, quality, attempts, missing_reason, minutiae, device, duration_ms,
			image_format, image_width, image_height, image_ppi, image) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			t.put, i, int(f.GetPosition()), nonNil(f.GetIsoTemplate()), f.GetQuality(), f.GetAttempts(), int(f.GetMissingReason()), f.GetMinutiae(), f.GetDevice(), f.GetDurationMs(),
			int(img.GetFormat()), img.GetWidth(), img.GetHeight(), img.GetPpi(), nonNil(img.GetData())); err != nil {
			return fmt.Errorf("node: storing record %s finger %d: %w", sr.GetRecordId(), i, err)
		}
	}
	if face := rec.GetFace(); face != nil {
		measures, _ := json.Marshal(face.GetMeasures())
		if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`INSERT INTO faces (record_pk, iso_record, quality, accepted, frames, measures, reasons, device, duration_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			t.put, nonNil(face.GetIsoRecord()), face.GetQuality(), boolInt(face.GetAccepted()), face.GetFrames(), string(measures), strings.Join(face.GetReasons(), "\n"), face.GetDevice(), face.GetDurationMs()); err != nil {
			return fmt.Errorf("node: storing record %s face: %w", sr.GetRecordId(), err)
		}
	}
	seq := int64(sr.GetSeq())
	if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`UPDATE kiosks SET records = records + 1,
		first_seen_ms = CASE WHEN first_seen_ms = 0 THEN ? ELSE first_seen_ms END,
		last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END,
		last_created_ms = CASE WHEN last_seq < ? THEN ? ELSE last_created_ms END,
		last_stored_ms = CASE WHEN last_seq < ? THEN ? ELSE last_stored_ms END,
		last_seq = CASE WHEN last_seq < ? THEN ? ELSE last_seq END
		WHERE kiosk_id = ?`),
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
		_, err := t.tx.ExecContext(t.ctx, t.s.d.q(`INSERT INTO chain_gaps (kiosk_id, from_seq, to_seq, open_start, found_ms) VALUES (?, ?, ?, ?, ?)`),
			t.kiosk, int64(p.Gap.From), int64(p.Gap.To), boolInt(p.Gap.Open), nowMs)
		if err != nil {
			return fmt.Errorf("node: recording gap %s of kiosk %s: %w", p.Gap, t.kiosk, err)
		}
		return nil
	}
	var from, to int64
	var open int
	err := t.tx.QueryRowContext(t.ctx, t.s.d.q(`SELECT from_seq, to_seq, open_start FROM chain_gaps WHERE kiosk_id = ? AND from_seq <= ? AND to_seq >= ?`), t.kiosk, seq, seq).Scan(&from, &to, &open)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("node: reading the gaps of kiosk %s: %w", t.kiosk, err)
	}
	if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`DELETE FROM chain_gaps WHERE kiosk_id = ? AND from_seq = ?`), t.kiosk, from); err != nil {
		return fmt.Errorf("node: updating the gaps of kiosk %s: %w", t.kiosk, err)
	}
	chainStart := open == 1 && [seal.HashSize]byte(sr.GetPrevHash()) == [seal.HashSize]byte{}
	if from <= seq-1 && !chainStart {
		if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`INSERT INTO chain_gaps (kiosk_id, from_seq, to_seq, open_start, found_ms) VALUES (?, ?, ?, ?, ?)`), t.kiosk, from, seq-1, open, nowMs); err != nil {
			return fmt.Errorf("node: updating the gaps of kiosk %s: %w", t.kiosk, err)
		}
	}
	if seq+1 <= to {
		if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`INSERT INTO chain_gaps (kiosk_id, from_seq, to_seq, open_start, found_ms) VALUES (?, ?, ?, 0, ?)`), t.kiosk, seq+1, to, nowMs); err != nil {
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
	res, err := t.tx.ExecContext(t.ctx, t.s.d.q(`UPDATE kiosks SET online = ?, status_kind = ?, boot_epoch = ?, connect_epoch = ?, status_ms = ?,
		queue_depth = ?, oldest_unacked_age_ms = ?, dead_letters = ?, agent_version = ?, alarms = ?,
		first_seen_ms = CASE WHEN first_seen_ms = 0 THEN ? ELSE first_seen_ms END,
		last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END
		WHERE kiosk_id = ? AND connect_epoch <= ?`),
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
	if _, err := t.tx.ExecContext(t.ctx, t.s.d.q(`UPDATE kiosks SET last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END WHERE kiosk_id = ?`), nowMs, nowMs, t.kiosk); err != nil {
		return false, fmt.Errorf("node: recording kiosk %s as seen: %w", t.kiosk, err)
	}
	return false, nil
}

// Seen records that the kiosk was heard from.
func (t *Tx) Seen(now time.Time) error {
	nowMs := now.UnixMilli()
	_, err := t.tx.ExecContext(t.ctx, t.s.d.q(`UPDATE kiosks SET last_seen_ms = CASE WHEN last_seen_ms < ? THEN ? ELSE last_seen_ms END,
		first_seen_ms = CASE WHEN first_seen_ms = 0 THEN ? ELSE first_seen_ms END WHERE kiosk_id = ?`), nowMs, nowMs, nowMs, t.kiosk)
	if err != nil {
		return fmt.Errorf("node: recording kiosk %s as seen: %w", t.kiosk, err)
	}
	return nil
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
