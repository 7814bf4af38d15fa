package outbox

import (
	"context"
	"fmt"
	"hash/crc32"
	"slices"
	"time"

	"go.uber.org/zap"
)

// Append appends payload and returns its sequence number once it is
// durable: written and fsynced (with the directory, when the record started
// a new segment). Concurrent appends share fsyncs. It fails with ErrFull
// when the record does not fit, ErrTooLarge for an empty or oversized
// payload, ErrClosed after Close, and a wrapped I/O error when the disk
// fails; in every failure case the record was not saved.
//
// ctx is checked before the record is written; once written, Append waits
// for the fsync whatever ctx says, so that a caller never gives up on a
// record that then turns out to be saved.
func (o *Outbox) Append(ctx context.Context, payload []byte) (uint64, error) {
	// The payload is known: hash it before taking the append lock, so
	// concurrent appenders hash in parallel.
	pre := &prepared{sum: sum(payload), crc: crc32.Checksum(payload, crcTable)}
	return o.appendWith(ctx, func(uint64, [32]byte) ([]byte, error) { return payload, nil }, pre)
}

// prepared is the SHA-256 and CRC32C of a payload computed before the
// append lock.
type prepared struct {
	sum [32]byte
	crc uint32
}

// AppendWith is Append for payloads that must contain their own sequence
// number and hash-chain link. build is called with the sequence number the
// record will get and the SHA-256 of the previous record's payload (all
// zeros before the first record of this outbox), one appender at a time in
// log order; it must be quick and must not call the Outbox. When build fails
// nothing is appended and the sequence number is not used. The chain head
// and the sequence counter survive restarts, also when every record has
// been acknowledged and deleted.
//
// When Append fails after build ran (disk full, disk error), the sequence
// number may be handed to the next build again: a record that was never
// saved never leaves the kiosk.
func (o *Outbox) AppendWith(ctx context.Context, build func(seq uint64, prev [32]byte) ([]byte, error)) (uint64, error) {
	return o.appendWith(ctx, build, nil)
}

func (o *Outbox) appendWith(ctx context.Context, build func(seq uint64, prev [32]byte) ([]byte, error), pre *prepared) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("outbox: append not started: %w", err)
	}
	start := o.clk.Now()
	o.appendMu.Lock()
	o.mu.Lock()
	if err := o.writableLocked(); err != nil {
		o.mu.Unlock()
		o.appendMu.Unlock()
		o.m.appendResult(err)
		return 0, err
	}
	seq, prev := o.nextSeq, o.head.hash
	o.mu.Unlock()

	payload, err := build(seq, prev)
	if err == nil && (len(payload) == 0 || len(payload) > o.opts.MaxRecordBytes) {
		err = fmt.Errorf("%w: %d bytes, want 1 to %d (raise MaxRecordBytes or shrink the record)", ErrTooLarge, len(payload), o.opts.MaxRecordBytes)
	}
	if err != nil {
		o.appendMu.Unlock()
		o.m.appendResult(err)
		return 0, fmt.Errorf("outbox: building record %d: %w", seq, err)
	}
	if pre == nil {
		pre = &prepared{sum: sum(payload), crc: crc32.Checksum(payload, crcTable)}
	}
	h := head{seq, pre.sum}
	o.frame = appendFrameCRC(o.frame[:0], seq, o.clk.Now().UnixNano(), payload, pre.crc)

	o.mu.Lock()
	err = o.writableLocked()
	if err == nil {
		err = o.writeLocked(h, o.frame)
	}
	o.appendMu.Unlock()
	if err != nil {
		o.mu.Unlock()
		o.m.appendResult(err)
		return 0, err
	}
	ep := o.ep
	o.commitCond.Signal()
	for ep.err == nil && o.durable < seq {
		o.durCond.Wait()
	}
	if ep.err != nil && seq >= ep.from {
		err = ep.err
	}
	o.mu.Unlock()
	o.m.appendResult(err)
	if err != nil {
		return 0, err
	}
	o.m.appendLatency.Observe(o.clk.Since(start).Seconds())
	return seq, nil
}

func (o *Outbox) writableLocked() error {
	switch {
	case o.closed:
		return ErrClosed
	case o.broken != nil:
		return fmt.Errorf("outbox: writes stopped after a disk error; restart the agent to reopen the outbox: %w", o.broken)
	}
	return nil
}

// writeLocked writes one frame at the end of the active segment, starting a
// new segment first when it is full.
func (o *Outbox) writeLocked(h head, frame []byte) error {
	n := int64(len(frame))
	act := o.active()
	roll := act.count > 0 && act.size+n > o.opts.SegmentBytes
	need := n
	if roll {
		need += fileHeaderSize
		if !act.sealed {
			need += frameHeaderSize + footerBodySize
		}
	}
	if o.usedBytes+need > o.opts.MaxBytes {
		return fmt.Errorf("%w: %d of %d bytes used and record %d needs %d more (the uplink must deliver and the node acknowledge records to free space)",
			ErrFull, o.usedBytes, o.opts.MaxBytes, h.seq, need)
	}
	if roll || act.sealed {
		if err := o.rollLocked(); err != nil {
			return err
		}
		act = o.active()
	}
	if _, err := act.f.WriteAt(frame, act.size); err != nil {
		if terr := act.f.Truncate(act.size); terr != nil {
			o.broken = terr
		}
		return wrapWriteErr(fmt.Sprintf("writing record %d to %s", h.seq, act.path), err)
	}
	act.index = append(act.index, loc{seq: h.seq, off: act.size, n: uint32(n - frameHeaderSize), ns: nsOf(frame)})
	act.size += n
	if act.count == 0 {
		act.first = h.seq
	}
	act.count++
	act.last, act.lastHash = h.seq, h.hash
	act.contiguous = uint64(act.count) == act.last-act.first+1
	o.segBytes += n
	o.usedBytes += n
	o.nextSeq, o.head, o.written = h.seq+1, h, h.seq
	o.heads = append(o.heads, h)
	o.checkAlarmLocked()
	return nil
}

func nsOf(frame []byte) int64 { return decodeFrameHeader(frame).unixNs }

// rollLocked seals the active segment (footer, fsync: everything in it is
// durable from then on) and starts a new one. It holds syncMu so the
// committer is not syncing at the same time.
func (o *Outbox) rollLocked() error {
	o.syncMu.Lock()
	defer o.syncMu.Unlock()
	old := o.active()
	if !old.sealed {
		n, err := writeFooter(old.f, old, o.clk.Now().UnixNano())
		if err != nil {
			return wrapWriteErr("sealing "+old.path, err)
		}
		t0 := o.clk.Now()
		if err := old.f.Sync(); err != nil {
			if terr := old.f.Truncate(old.size); terr != nil {
				o.broken = terr
			}
			o.failWritesLocked(err)
			return wrapWriteErr("syncing "+old.path, err)
		}
		o.m.fsyncLatency.Observe(o.clk.Since(t0).Seconds())
		old.size += n
		old.sealed = true
		o.segBytes += n
		o.usedBytes += n
		if o.written > o.durable {
			o.m.batch.Observe(float64(o.written - o.durable))
			o.advanceDurableLocked(o.written)
		}
	}
	if err := o.newSegmentLocked(); err != nil {
		return err
	}
	o.log.Debug("new segment", zap.Uint64("base", o.nextSeq))
	return nil
}

// commitLoop is the committer: it fsyncs the active segment whenever
// records were written since the last fsync, so every appender waiting at
// that moment shares one fsync. It drains and returns after Close.
func (o *Outbox) commitLoop() {
	defer o.wg.Done()
	o.mu.Lock()
	defer o.mu.Unlock()
	released := uint64(0) // appenders the last fsync released
	var lastSync time.Duration
	for {
		for o.written == o.durable && !o.closed {
			o.commitCond.Wait()
		}
		if o.written == o.durable {
			return
		}
		if released > 1 && o.opts.CommitDelay > 0 && !o.closed {
			// Waiting pays only while it is short next to an fsync.
			o.awaitCohortLocked(o.written-o.durable+released, min(o.opts.CommitDelay, lastSync/2))
		}
		act, target, ep := o.active(), o.written, o.ep
		batch := target - o.durable
		o.mu.Unlock()

		o.syncMu.Lock()
		t0 := o.clk.Now()
		var err error
		act.fmu.RLock()
		if act.f != nil { // nil: rolled (so synced) and deleted since
			err = act.f.Sync()
		}
		act.fmu.RUnlock()
		el := o.clk.Since(t0)
		o.syncMu.Unlock()

		o.mu.Lock()
		if ep != o.ep {
			continue // a failed sync elsewhere already reset the writes
		}
		if err != nil {
			o.mu.Unlock()
			o.appendMu.Lock()
			o.mu.Lock()
			if ep == o.ep {
				o.failWritesLocked(err)
			}
			o.appendMu.Unlock()
			continue
		}
		o.m.fsyncLatency.Observe(el.Seconds())
		lastSync = el
		released = 0
		if target > o.durable {
			o.m.batch.Observe(float64(batch))
			released = target - o.durable
			o.advanceDurableLocked(target)
		}
	}
}

// awaitCohortLocked waits, at most d, until want records wait for an
// fsync. With several appenders, the ones an fsync just released append
// again at once; without this wait the committer would sync only the
// others' records, and two half-size cohorts would take turns. Waiting a
// little for them doubles the records per fsync when the disk is slow.
func (o *Outbox) awaitCohortLocked(want uint64, d time.Duration) {
	if d <= 0 {
		return
	}
	t := o.clk.NewTimer(d)
	expired := false
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		select {
		case <-t.C():
			o.mu.Lock()
			expired = true
			o.commitCond.Broadcast()
			o.mu.Unlock()
		case <-stop:
		}
	}()
	for !expired && !o.closed && o.written-o.durable < want {
		o.commitCond.Wait()
	}
	t.Stop()
	close(stop)
	o.mu.Unlock()
	<-done
	o.mu.Lock()
}

// advanceDurableLocked makes records up to target durable: appenders
// return, the deliverer may read them.
func (o *Outbox) advanceDurableLocked(target uint64) {
	o.pending += int64(target - o.durable)
	o.durable = target
	i := 0
	for i < len(o.heads) && o.heads[i].seq <= target {
		o.durHead = o.heads[i]
		i++
	}
	o.heads = slices.Delete(o.heads, 0, i)
	o.durCond.Broadcast()
	o.notifyLocked()
}

// failWritesLocked handles a failed fsync of the active segment: after
// fsync fails, what the kernel still holds is unknown, so every record not
// yet durable is cut off the file and its appender gets an error. The
// sequence numbers are used again. When even the cut cannot be made
// durable, writes stop until the outbox is reopened. The caller holds
// appendMu and mu.
func (o *Outbox) failWritesLocked(cause error) {
	act := o.active()
	keep := len(act.index)
	for keep > 0 && act.index[keep-1].seq > o.durable {
		keep--
	}
	end := act.size
	if keep < len(act.index) {
		end = act.index[keep].off
	}
	lostFrom := o.durable + 1
	o.log.Error("fsync failed; records not yet saved are dropped and their appenders told",
		zap.String("segment", act.path), zap.Uint64("first_seq", lostFrom), zap.Uint64("last_seq", o.written), zap.Error(cause))
	if err := act.f.Truncate(end); err != nil {
		o.broken = err
	} else if err := act.f.Sync(); err != nil {
		o.broken = err
	}
	cut := act.size - end
	act.index = act.index[:keep]
	act.size = end
	act.count = keep
	if keep == 0 {
		act.first, act.last, act.lastHash = 0, 0, [32]byte{}
	} else {
		act.last, act.lastHash = o.durHead.seq, o.durHead.hash
	}
	act.contiguous = act.count == 0 || uint64(act.count) == act.last-act.first+1
	o.segBytes -= cut
	o.usedBytes -= cut
	o.nextSeq, o.head, o.written = o.durable+1, o.durHead, o.durable
	o.heads = o.heads[:0]
	o.ep.err = wrapWriteErr(fmt.Sprintf("syncing %s (records from %d were not saved)", act.path, lostFrom), cause)
	o.ep.from = lostFrom
	o.ep = &epoch{}
	o.durCond.Broadcast()
	o.checkAlarmLocked()
}
