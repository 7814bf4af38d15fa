package node

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// group is the state of one Group transaction shared by its ops.
type group struct {
	s     *Store
	tx    *sql.Tx
	ctx   context.Context
	stmts map[string]*sql.Stmt // the store's statements bound to tx
	// newest holds, per kiosk, the newest record of its chain as far as
	// this transaction knows: a record it stored after finding nothing
	// after it. The kiosk is locked for the whole transaction, so nothing
	// newer can appear but through it; Place's position queries for the
	// next record in order are answered from here.
	newest map[string]nodeverify.Link
	// stored sums, per kiosk, what the ops that succeeded stored; one
	// update of the kiosk's row at the end replaces one per record.
	stored map[string]*storedSum
	// bytes is about how much the transaction writes (for checkpoints).
	bytes int64
}

// storedSum is what the records one transaction stored for a kiosk change
// in its row.
type storedSum struct {
	n               int64
	firstMs, lastMs int64 // earliest and latest storage time
	maxSeq          int64
	maxSeqCreatedMs int64
	maxSeqStoredMs  int64
}

func (a *storedSum) add(b storedSum) {
	if a.n == 0 {
		*a = b
		return
	}
	a.n += b.n
	a.firstMs, a.lastMs = min(a.firstMs, b.firstMs), max(a.lastMs, b.lastMs)
	if b.maxSeq > a.maxSeq {
		a.maxSeq, a.maxSeqCreatedMs, a.maxSeqStoredMs = b.maxSeq, b.maxSeqCreatedMs, b.maxSeqStoredMs
	}
}

func newGroup(s *Store, tx *sql.Tx, ctx context.Context) *group {
	return &group{s: s, tx: tx, ctx: ctx, stmts: map[string]*sql.Stmt{}, newest: map[string]nodeverify.Link{}, stored: map[string]*storedSum{}}
}

// stmt returns query's statement bound to the transaction, or nil when
// query is not one the store prepares.
func (g *group) stmt(query string) *sql.Stmt {
	if st, ok := g.stmts[query]; ok {
		return st
	}
	base, ok := g.s.stmt(query)
	if !ok {
		return nil
	}
	st := g.tx.StmtContext(g.ctx, base)
	g.stmts[query] = st
	return st
}

func (g *group) exec(query string, args ...any) (sql.Result, error) {
	if st := g.stmt(query); st != nil {
		return st.ExecContext(g.ctx, args...)
	}
	return g.tx.ExecContext(g.ctx, g.s.d.q(query), args...)
}

func (g *group) queryRow(query string, args ...any) *sql.Row {
	if st := g.stmt(query); st != nil {
		return st.QueryRowContext(g.ctx, args...)
	}
	return g.tx.QueryRowContext(g.ctx, g.s.d.q(query), args...)
}

// lockKiosk makes sure the kiosk has a row and, on PostgreSQL, locks it
// for the rest of the transaction.
func (g *group) lockKiosk(id string) error {
	if _, err := g.exec(qRegisterKiosk, id); err != nil {
		return fmt.Errorf("node: registering kiosk %s: %w", id, err)
	}
	if g.s.d.lockRows {
		var got string
		if err := g.queryRow(`SELECT kiosk_id FROM kiosks WHERE kiosk_id = ? FOR UPDATE`, id).Scan(&got); err != nil {
			return fmt.Errorf("node: locking kiosk %s: %w", id, err)
		}
	}
	return nil
}

// settle keeps what an op that succeeded learnt and stored.
func (g *group) settle(t *Tx) {
	if t.becameNewest {
		g.newest[t.kiosk] = t.putLink
	}
	if t.sum.n > 0 {
		if a := g.stored[t.kiosk]; a != nil {
			a.add(t.sum)
		} else {
			sum := t.sum
			g.stored[t.kiosk] = &sum
		}
	}
}

// saveCounters updates the row of each kiosk that had records stored.
func (g *group) saveCounters() error {
	ids := make([]string, 0, len(g.stored))
	for id := range g.stored {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		a := g.stored[id]
		if _, err := g.exec(qKioskRecordsStored,
			a.n, a.firstMs, a.lastMs, a.lastMs, a.maxSeq, a.maxSeqCreatedMs, a.maxSeq, a.maxSeqStoredMs, a.maxSeq, a.maxSeq, id); err != nil {
			return fmt.Errorf("node: updating kiosk %s: %w", id, err)
		}
	}
	return nil
}

// Tx is one kiosk's view of a Group transaction: the chain (it implements
// nodeverify.ChainTx) and the record and status writes.
type Tx struct {
	g     *group
	kiosk string
	// dirty: a statement of this op wrote or failed, so undoing the op
	// needs a savepoint.
	dirty bool

	puts    int              // calls of Put
	pending *nodeverify.Link // Put and not inserted yet: SaveRecord inserts it whole
	put     int64            // primary key of the inserted row, 0 before
	putLink nodeverify.Link  // what Put stored
	// afterNone: After(afterSeq) found no record after afterSeq.
	afterNone    bool
	afterSeq     uint64
	becameNewest bool      // the record Put is the kiosk's newest
	sum          storedSum // what SaveRecord stored
}

var _ nodeverify.ChainTx = (*Tx)(nil)

const linkCols = `record_id, seq, boot_epoch, hash, prev_hash`

func (t *Tx) exec(query string, args ...any) (sql.Result, error) {
	t.dirty = true
	return t.g.exec(query, args...)
}

func (t *Tx) link(query string, args ...any) (nodeverify.Link, bool, error) {
	var l nodeverify.Link
	if err := t.flush(); err != nil {
		return l, false, err
	}
	var seq, boot int64
	var hash, prev []byte
	err := t.g.queryRow(query, args...).Scan(&l.RecordID, &seq, &boot, &hash, &prev)
	if errors.Is(err, sql.ErrNoRows) {
		return l, false, nil
	}
	if err != nil {
		t.dirty = true // on PostgreSQL a failed statement aborts the transaction
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

// newest returns the kiosk's newest record when this transaction knows it
// and this op has not stored a record yet.
func (t *Tx) newest() (nodeverify.Link, bool) {
	if t.puts > 0 {
		return nodeverify.Link{}, false
	}
	l, ok := t.g.newest[t.kiosk]
	return l, ok
}

// ByRecordID implements nodeverify.ChainTx.
func (t *Tx) ByRecordID(id string) (nodeverify.Link, bool, error) {
	return t.link(qLinkByID, t.kiosk, id)
}

// At implements nodeverify.ChainTx.
func (t *Tx) At(seq uint64) (nodeverify.Link, bool, error) {
	if n, ok := t.newest(); ok && seq > n.Seq {
		return nodeverify.Link{}, false, nil
	}
	return t.link(qLinkAt, t.kiosk, int64(seq))
}

// Before implements nodeverify.ChainTx.
func (t *Tx) Before(seq uint64) (nodeverify.Link, bool, error) {
	if n, ok := t.newest(); ok && seq > n.Seq {
		return n, true, nil
	}
	return t.link(qLinkBefore, t.kiosk, int64(seq))
}

// After implements nodeverify.ChainTx.
func (t *Tx) After(seq uint64) (nodeverify.Link, bool, error) {
	if n, ok := t.newest(); ok && seq >= n.Seq {
		t.afterNone, t.afterSeq = true, seq
		return nodeverify.Link{}, false, nil
	}
	l, ok, err := t.link(qLinkAfter, t.kiosk, int64(seq))
	if err == nil && !ok && t.puts == 0 {
		t.afterNone, t.afterSeq = true, seq
	}
	return l, ok, err
}

// Put implements nodeverify.ChainTx: it stores the record's chain
// position. SaveRecord inserts it together with the record; without
// SaveRecord it is inserted when the op ends.
func (t *Tx) Put(l nodeverify.Link) error {
	if l.KioskID != t.kiosk {
		return fmt.Errorf("node: link of kiosk %s put in a transaction of kiosk %s", l.KioskID, t.kiosk)
	}
	if err := t.flush(); err != nil {
		return err
	}
	t.puts++
	t.put, t.putLink, t.pending = 0, l, &l
	t.becameNewest = t.puts == 1 && t.afterNone && t.afterSeq == l.Seq
	return nil
}

// flush inserts the link Put left pending.
func (t *Tx) flush() error {
	if t.pending == nil {
		return nil
	}
	l := t.pending
	t.pending = nil
	t.dirty = true
	if err := t.g.queryRow(qInsertRecord,
		t.kiosk, l.RecordID, int64(l.Seq), int64(l.BootEpoch), l.Hash[:], l.Prev[:]).Scan(&t.put); err != nil {
		return fmt.Errorf("node: storing kiosk %s record %s: %w", t.kiosk, l.RecordID, err)
	}
	return nil
}

// SaveRecord stores what the node keeps of an accepted record in the row
// Put inserted: metadata, finger templates (and images when the kiosk's
// policy sent them), the face record; then it updates the kiosk's counters
// and chain gaps. It never stores the ciphertext or logs biometric data.
func (t *Tx) SaveRecord(o *nodeverify.Opened, p nodeverify.Placement, nodeID string, now time.Time) error {
	if t.pending == nil && t.put == 0 {
		return fmt.Errorf("node: SaveRecord for %s without Put", o.Sealed.GetRecordId())
	}
	sr, rec := o.Sealed, o.Record
	devices, _ := json.Marshal(rec.GetDevices())
	timings, _ := json.Marshal(rec.GetTimings())
	nowMs := now.UnixMilli()
	meta := []any{sr.GetCreatedUnixMs(), rec.GetCapturedUnixMs(), nowMs, nodeID, o.Suite.Name(), sr.GetNodeKeyId(), sr.GetDeviceKeyId(),
		rec.GetSite(), rec.GetSessionId(), rec.GetOfficerId(), rec.GetPolicy(), rec.GetAgentVersion(), string(devices), string(timings)}
	if l := t.pending; l != nil {
		t.pending = nil
		t.dirty = true
		args := append([]any{t.kiosk, l.RecordID, int64(l.Seq), int64(l.BootEpoch), l.Hash[:], l.Prev[:]}, meta...)
		if err := t.g.queryRow(qInsertRecordWhole, args...).Scan(&t.put); err != nil {
			return fmt.Errorf("node: storing kiosk %s record %s: %w", t.kiosk, l.RecordID, err)
		}
	} else if _, err := t.exec(qRecordMetadata, append(meta, t.put)...); err != nil {
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
	if err := t.updateGaps(sr, p, nowMs); err != nil {
		return err
	}
	t.g.bytes += int64(proto.Size(rec))
	t.sum.add(storedSum{n: 1, firstMs: nowMs, lastMs: nowMs, maxSeq: seq, maxSeqCreatedMs: sr.GetCreatedUnixMs(), maxSeqStoredMs: nowMs})
	return nil
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
	err := t.g.queryRow(qGapContaining, t.kiosk, seq, seq).Scan(&from, &to, &open)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	}
	if err != nil {
		t.dirty = true
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
