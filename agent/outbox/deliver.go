package outbox

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"time"

	"go.uber.org/zap"
)

// Delivery is a record handed out by Next.
type Delivery struct {
	// Seq is the record's sequence number; pass it to Ack, Fail or DeadLetter.
	Seq uint64
	// Payload is the record as appended. It belongs to the caller.
	Payload []byte
	// AppendedAt is when the record was appended (by the outbox's clock).
	AppendedAt time.Time
	// Attempt is 1 for the first delivery and grows with each Fail.
	Attempt int
}

// DeadLetter describes a record moved to dead letters. Dead letters stay on
// disk, count against MaxBytes and are never deleted by the outbox.
type DeadLetter struct {
	Seq        uint64
	Reason     string
	Bytes      int
	AppendedAt time.Time
	DeadAt     time.Time
}

// Next returns the next record to deliver: records handed out again (after
// Fail or Rewind) first, then new records, each in sequence order from the
// oldest unacknowledged one. It blocks while no durable record is waiting
// or while Options.Window records are in flight (handed out and not yet
// acknowledged, failed or dead-lettered), until ctx is done or the outbox
// is closed (ErrClosed). After a restart, delivery starts again from the
// oldest unacknowledged record. A record found damaged on disk is skipped,
// reported and counted in Stats().Lost; Next never returns damaged bytes.
func (o *Outbox) Next(ctx context.Context) (Delivery, error) {
	for {
		o.mu.Lock()
		if o.closed {
			o.mu.Unlock()
			return Delivery{}, ErrClosed
		}
		seg, l, load, ok := o.pickLocked()
		if load != nil {
			o.mu.Unlock()
			if err := o.loadIndex(load); err != nil {
				return Delivery{}, err
			}
			continue
		}
		if ok {
			o.inflight[l.seq] = struct{}{}
			attempt := o.fails[l.seq] + 1
			seg.fmu.RLock()
			o.mu.Unlock()
			payload, err := o.readRecord(seg, l)
			seg.fmu.RUnlock()
			if err != nil {
				o.mu.Lock()
				delete(o.inflight, l.seq)
				o.mu.Unlock()
				if err := o.damagedRead(seg, l, err); err != nil {
					return Delivery{}, err
				}
				continue
			}
			return Delivery{Seq: l.seq, Payload: payload, AppendedAt: unixTime(l.ns), Attempt: attempt}, nil
		}
		ch := o.changed
		o.mu.Unlock()
		select {
		case <-ctx.Done():
			return Delivery{}, ctx.Err()
		case <-ch:
		}
	}
}

// pickLocked chooses the record Next hands out: its segment and location,
// or a sealed segment whose index must be loaded first (without mu).
func (o *Outbox) pickLocked() (seg *segment, l loc, load *segment, ok bool) {
	if len(o.inflight) >= o.opts.Window {
		return nil, loc{}, nil, false
	}
	for len(o.retry) > 0 {
		seq := o.retry[0]
		if o.isDoneLocked(seq) {
			o.retry = o.retry[1:]
			continue
		}
		s, l, found, load := o.locateLocked(seq)
		if load != nil {
			return nil, loc{}, load, false
		}
		if found && s.f == nil {
			return nil, loc{}, s, false
		}
		o.retry = o.retry[1:]
		if found {
			return s, l, nil, true
		}
	}
	from := max(o.cursor, o.doneThrough+1)
	for _, s := range o.segs {
		if s.count == 0 || s.last < from {
			continue
		}
		if s.index == nil || s.f == nil {
			return nil, loc{}, s, false
		}
		i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq >= from })
		for ; i < len(s.index); i++ {
			l := s.index[i]
			if l.seq > o.durable {
				return nil, loc{}, nil, false
			}
			o.cursor = l.seq + 1
			if _, busy := o.inflight[l.seq]; busy || o.isDoneLocked(l.seq) {
				continue
			}
			return s, l, nil, true
		}
	}
	return nil, loc{}, nil, false
}

// locateLocked finds seq. load is a segment whose index must be loaded
// first (without mu).
func (o *Outbox) locateLocked(seq uint64) (s *segment, l loc, found bool, load *segment) {
	s = o.segmentOfLocked(seq)
	if s == nil {
		return nil, loc{}, false, nil
	}
	if s.index == nil {
		return nil, loc{}, false, s
	}
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq >= seq })
	if i < len(s.index) && s.index[i].seq == seq {
		return s, s.index[i], true, nil
	}
	return nil, loc{}, false, nil
}

// segmentOfLocked returns the segment whose records span seq, or nil.
func (o *Outbox) segmentOfLocked(seq uint64) *segment {
	i := sort.Search(len(o.segs), func(i int) bool { return o.segs[i].base > seq }) - 1
	if i < 0 {
		return nil
	}
	s := o.segs[i]
	if s.count == 0 || seq < s.first || seq > s.last {
		return nil
	}
	return s
}

// existsLocked reports whether seq is a record in a segment.
func (o *Outbox) existsLocked(seq uint64) bool {
	s := o.segmentOfLocked(seq)
	switch {
	case s == nil:
		return false
	case s.contiguous:
		return true
	case s.index == nil:
		// Not loaded and not contiguous cannot happen: open loads the index
		// of every segment with holes. Say present so nothing is skipped.
		return true
	}
	i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq >= seq })
	return i < len(s.index) && s.index[i].seq == seq
}

func (o *Outbox) isDoneLocked(seq uint64) bool {
	if seq <= o.doneThrough {
		return true
	}
	if _, ok := o.acked[seq]; ok {
		return true
	}
	_, ok := o.dead[seq]
	return ok
}

// advanceDoneLocked moves doneThrough over acknowledged, dead and absent
// sequence numbers.
func (o *Outbox) advanceDoneLocked() {
	for o.doneThrough < o.durable {
		s := o.doneThrough + 1
		if _, ok := o.acked[s]; ok {
			delete(o.acked, s)
			o.doneThrough = s
			continue
		}
		if _, ok := o.dead[s]; ok {
			o.doneThrough = s
			continue
		}
		if o.existsLocked(s) {
			break
		}
		// A gap: jump to just before the next record that exists.
		next := o.durable + 1
		for _, seg := range o.segs {
			if seg.count > 0 && seg.last >= s {
				next = max(seg.first, s)
				if !seg.contiguous && seg.index != nil {
					i := sort.Search(len(seg.index), func(i int) bool { return seg.index[i].seq >= s })
					if i < len(seg.index) {
						next = seg.index[i].seq
					}
				}
				break
			}
		}
		if next-1 <= o.doneThrough {
			break // the next record's index is not loaded; existsLocked loads it
		}
		o.doneThrough = min(next-1, o.durable)
	}
	o.cursor = max(o.cursor, o.doneThrough+1)
}

// recountLocked recomputes the number of records not yet done.
func (o *Outbox) recountLocked() {
	var n int64
	for _, s := range o.segs {
		if s.count == 0 || s.last <= o.doneThrough {
			continue
		}
		switch {
		case s.index != nil:
			i := sort.Search(len(s.index), func(i int) bool { return s.index[i].seq > o.doneThrough })
			for _, l := range s.index[i:] {
				if l.seq <= o.durable {
					n++
				}
			}
		case s.contiguous:
			n += int64(min(s.last, o.durable) - max(s.first, o.doneThrough+1) + 1)
		default:
			n += int64(s.count) // not loaded: an estimate until it is
		}
	}
	for seq := range o.acked {
		if seq <= o.durable && o.existsLocked(seq) {
			n--
		}
	}
	for seq := range o.dead {
		if seq > o.doneThrough && seq <= o.durable && o.existsLocked(seq) {
			if _, acked := o.acked[seq]; !acked {
				n--
			}
		}
	}
	o.pending = max(n, 0)
}

// Ack records that the node stored the record seq (or already had it): it
// will not be delivered again, also after a restart, and its segment is
// deleted once every record in it is done. The acknowledgement reaches the
// ack log before Ack returns (a killed process keeps it) and is fsynced in
// the background within one fsync (a power cut may lose the last few: those
// records are then delivered again, which the node deduplicates). Acking a
// record already acknowledged or dead-lettered does nothing.
func (o *Outbox) Ack(seq uint64) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if err := o.deliverableLocked(seq, "Ack"); err != nil {
		return err
	}
	if o.isDoneLocked(seq) || !o.existsLocked(seq) {
		return nil
	}
	o.acked[seq] = struct{}{}
	o.doneLocked(seq)
	o.logAckLocked(ackKindAck, seq)
	o.m.acks.Inc()
	return nil
}

func (o *Outbox) deliverableLocked(seq uint64, op string) error {
	if o.closed {
		return ErrClosed
	}
	if seq == 0 || seq > o.durable {
		return fmt.Errorf("%w: %s(%d): the last saved record is %d", ErrNotFound, op, seq, o.durable)
	}
	return nil
}

// doneLocked takes seq, just acknowledged or dead-lettered, out of delivery.
func (o *Outbox) doneLocked(seq uint64) {
	delete(o.inflight, seq)
	delete(o.fails, seq)
	if i, ok := slices.BinarySearch(o.retry, seq); ok {
		o.retry = slices.Delete(o.retry, i, i+1)
	}
	o.pending--
	o.advanceDoneLocked()
	o.notifyLocked()
	o.kick()
}

// logAckLocked appends an entry to the ack log. A failure is logged, not
// returned: the effect is in memory and reaches disk with the next state
// snapshot; at worst a record is delivered again.
func (o *Outbox) logAckLocked(kind byte, seq uint64) {
	if o.ackF == nil { // no ack log since a failed snapshot: the next one saves this
		o.kick()
		return
	}
	o.ackEntry++
	fr := appendFrame(nil, o.ackEntry, o.clk.Now().UnixNano(), ackBody(kind, seq))
	if _, err := o.ackF.WriteAt(fr, o.ackOff); err != nil {
		o.ackEntry--
		_ = o.ackF.Truncate(o.ackOff)
		o.m.ackLogErrors.Inc()
		o.log.Warn("writing the ack log failed; the acknowledgement is kept in memory and saved with the next snapshot",
			zap.Uint64("seq", seq), zap.Error(err))
		return
	}
	o.ackOff += int64(len(fr))
	o.ackDirty = true
	o.kick()
}

// Fail records a failed delivery of seq (say, no acknowledgement from the
// node in time) and hands the record out again before newer ones. After
// Options.MaxDeliveries failures, counted across restarts, the record moves
// to dead letters with reason. A lost connection is not a failed delivery:
// use Rewind for that.
func (o *Outbox) Fail(seq uint64, reason string) error {
	o.mu.Lock()
	if err := o.deliverableLocked(seq, "Fail"); err != nil {
		o.mu.Unlock()
		return err
	}
	if o.isDoneLocked(seq) || !o.existsLocked(seq) {
		o.mu.Unlock()
		return nil
	}
	o.fails[seq]++
	n := o.fails[seq]
	o.logAckLocked(ackKindFail, seq)
	o.m.failures.Inc()
	delete(o.inflight, seq)
	if n < o.opts.MaxDeliveries {
		if i, ok := slices.BinarySearch(o.retry, seq); !ok {
			o.retry = slices.Insert(o.retry, i, seq)
		}
		o.notifyLocked()
		o.mu.Unlock()
		return nil
	}
	o.mu.Unlock()
	return o.DeadLetter(seq, fmt.Sprintf("%d failed deliveries; last: %s", n, reason))
}

// Rewind hands every in-flight record out again, in sequence order, before
// any new one; the uplink calls it after a reconnect, when it cannot know
// which of them the node got. It does not count as a failed delivery.
func (o *Outbox) Rewind() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for seq := range o.inflight {
		if i, ok := slices.BinarySearch(o.retry, seq); !ok {
			o.retry = slices.Insert(o.retry, i, seq)
		}
	}
	clear(o.inflight)
	o.notifyLocked()
}

// DeadLetter moves seq to dead letters with reason (the node rejected it, or
// it failed too often): the payload is copied durably to the dead-letter
// file, reported in logs and metrics, and the record is not delivered
// again. Dead letters are never deleted by the outbox. Dead-lettering a
// record already acknowledged or dead does nothing. The reason is stored
// and shown to technicians; it must not contain biometric data.
func (o *Outbox) DeadLetter(seq uint64, reason string) error {
	o.deadMu.Lock()
	defer o.deadMu.Unlock()
	var seg *segment
	var l loc
	for {
		o.mu.Lock()
		if err := o.deliverableLocked(seq, "DeadLetter"); err != nil {
			o.mu.Unlock()
			return err
		}
		if o.isDoneLocked(seq) {
			o.mu.Unlock()
			return nil
		}
		s, found, ok, load := o.locateLocked(seq)
		if load != nil {
			o.mu.Unlock()
			if err := o.loadIndex(load); err != nil {
				return err
			}
			continue
		}
		if !ok {
			o.mu.Unlock()
			return nil // lost to damage: nothing left to keep
		}
		if s.f == nil {
			o.mu.Unlock()
			if err := o.loadIndex(s); err != nil {
				return err
			}
			continue
		}
		seg, l = s, found
		seg.fmu.RLock()
		o.mu.Unlock()
		break
	}
	payload, err := o.readRecord(seg, l)
	seg.fmu.RUnlock()
	if err != nil {
		return o.damagedRead(seg, l, err)
	}
	fr := appendFrame(nil, o.deadEntry+1, o.clk.Now().UnixNano(), deadBody(seq, l.ns, reason, payload))
	o.mu.Lock()
	f, off := o.deadF, o.deadOff
	o.mu.Unlock()
	if _, err := f.WriteAt(fr, off); err != nil {
		_ = f.Truncate(off)
		return wrapWriteErr(fmt.Sprintf("writing dead letter %d", seq), err)
	}
	if err := f.Sync(); err != nil {
		_ = f.Truncate(off)
		return wrapWriteErr(fmt.Sprintf("syncing dead letter %d", seq), err)
	}
	o.deadEntry++
	o.mu.Lock()
	defer o.mu.Unlock()
	o.deadOff += int64(len(fr))
	o.usedBytes += int64(len(fr))
	e := deadEntry{DeadLetter: DeadLetter{Seq: seq, Reason: reason, Bytes: len(payload), AppendedAt: unixTime(l.ns),
		DeadAt: unixTime(decodeFrameHeader(fr).unixNs)}, off: off, n: uint32(len(fr) - frameHeaderSize)}
	o.deadList = append(o.deadList, e)
	if !o.isDoneLocked(seq) {
		o.dead[seq] = struct{}{}
		o.doneLocked(seq)
	} else {
		o.dead[seq] = struct{}{}
	}
	o.checkAlarmLocked()
	o.m.deadLetters.Inc()
	o.log.Error("record moved to dead letters", zap.Uint64("seq", seq), zap.String("reason", reason), zap.Int("bytes", len(payload)))
	return nil
}

// DeadLetters lists the dead letters, oldest first.
func (o *Outbox) DeadLetters() []DeadLetter {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := make([]DeadLetter, len(o.deadList))
	for i, e := range o.deadList {
		out[i] = e.DeadLetter
	}
	return out
}

// DeadLetterPayload returns the payload of dead letter seq, for a technician
// tool that exports it; ErrNotFound when seq is not a dead letter.
func (o *Outbox) DeadLetterPayload(seq uint64) ([]byte, error) {
	o.deadMu.Lock()
	defer o.deadMu.Unlock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		return nil, ErrClosed
	}
	var e *deadEntry
	for i := range o.deadList {
		if o.deadList[i].Seq == seq {
			e = &o.deadList[i]
			break
		}
	}
	f := o.deadF
	o.mu.Unlock()
	if e == nil {
		return nil, fmt.Errorf("%w: %d is not a dead letter", ErrNotFound, seq)
	}
	b, err := readDeadFrame(f, e.off, e.n)
	if err != nil {
		return nil, fmt.Errorf("outbox: reading dead letter %d: %w", seq, err)
	}
	_, _, _, payload, ok := decodeDeadBody(b)
	if !ok {
		return nil, fmt.Errorf("outbox: dead letter %d is malformed: %w", seq, errCorruptFrame)
	}
	return payload, nil
}

func readDeadFrame(f interface {
	ReadAt([]byte, int64) (int, error)
}, off int64, n uint32) ([]byte, error) {
	b := make([]byte, frameHeaderSize+int(n))
	if m, err := f.ReadAt(b, off); m < len(b) {
		return nil, err
	}
	h := decodeFrameHeader(b)
	if h.length != n || frameCRC(b, b[frameHeaderSize:]) != h.crc {
		return nil, errCorruptFrame
	}
	return b[frameHeaderSize:], nil
}

// readRecord reads a record's payload; the caller holds seg.fmu for reading.
func (o *Outbox) readRecord(seg *segment, l loc) ([]byte, error) {
	if seg.f == nil {
		return nil, fmt.Errorf("outbox: segment %s is not open", seg.path)
	}
	return readBody(seg.f, l)
}

// openForRead opens a sealed segment's file if it is not open yet.
func (o *Outbox) openForRead(seg *segment) error {
	seg.fmu.Lock()
	defer seg.fmu.Unlock()
	if seg.f != nil {
		return nil
	}
	f, err := o.fs.OpenFile(seg.path, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("outbox: opening %s (check the disk): %w", seg.path, err)
	}
	seg.f = f
	return nil
}

// loadIndex opens a sealed segment for reading and, unless it is known
// already, records where each of its records is. Damage found on the way is handled as at open: the file is copied to
// quarantine and its whole records are kept.
func (o *Outbox) loadIndex(seg *segment) error {
	seg.idxMu.Lock()
	defer seg.idxMu.Unlock()
	if err := o.openForRead(seg); err != nil {
		return err
	}
	o.mu.Lock()
	loaded := seg.index != nil
	o.mu.Unlock()
	if loaded {
		return nil
	}
	seg.fmu.RLock()
	if seg.f == nil {
		seg.fmu.RUnlock()
		return nil // deleted meanwhile
	}
	res, err := scanFrames(seg.f, fileHeaderSize, seg.size, seg.base-1, true, maxBodyLen, nil)
	seg.fmu.RUnlock()
	if err != nil {
		return fmt.Errorf("outbox: reading %s (check the disk): %w", seg.path, err)
	}
	damaged := len(res.damage) > 0 || res.tail > 0 || res.footer == nil || uint64(len(res.locs)) != uint64(seg.count)
	if damaged {
		if err := o.quarantineCopy(filepath.Base(seg.path)); err != nil {
			o.log.Error("could not copy a damaged segment to quarantine", zap.Error(err))
		}
		o.recovered("damaged_segment", "segment has damaged records; copied to quarantine, its whole records are kept",
			zap.String("segment", seg.path), zap.Int("records_expected", seg.count), zap.Int("records_kept", len(res.locs)))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if damaged {
		lost := int64(seg.count) - int64(len(res.locs))
		o.lost += max(lost, 0)
		o.m.lost.Add(float64(max(lost, 0)))
		seg.damaged = true
		seg.count = len(res.locs)
		if seg.count > 0 {
			seg.first, seg.last = res.locs[0].seq, res.locs[seg.count-1].seq
		}
	}
	seg.index = res.locs
	if seg.index == nil {
		seg.index = []loc{}
	}
	seg.contiguous = seg.count == 0 || uint64(seg.count) == seg.last-seg.first+1
	if damaged {
		o.recountLocked()
		o.advanceDoneLocked()
		o.notifyLocked()
	}
	return nil
}

// damagedRead handles a record that no longer reads back as written: the
// segment is re-read (quarantine copy, record dropped from the index) and
// the record counted as lost. It returns an error only when the disk cannot
// be read at all.
func (o *Outbox) damagedRead(seg *segment, l loc, cause error) error {
	o.log.Error("record damaged on disk; it cannot be delivered", zap.Uint64("seq", l.seq), zap.String("segment", seg.path), zap.Error(cause))
	if !errors.Is(cause, errCorruptFrame) {
		return fmt.Errorf("outbox: reading record %d from %s (check the disk): %w", l.seq, seg.path, cause)
	}
	if err := o.quarantineCopy(filepath.Base(seg.path)); err != nil {
		o.log.Error("could not copy a damaged segment to quarantine", zap.Error(err))
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	i := sort.Search(len(seg.index), func(i int) bool { return seg.index[i].seq >= l.seq })
	if i < len(seg.index) && seg.index[i].seq == l.seq {
		seg.index = slices.Delete(seg.index, i, i+1)
		seg.count--
		seg.damaged = true
		seg.contiguous = false
		o.lost++
		o.m.lost.Inc()
		o.recountLocked()
		o.advanceDoneLocked()
		o.notifyLocked()
	}
	return nil
}
