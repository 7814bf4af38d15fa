package outbox

import (
	"fmt"
	"path/filepath"

	"go.uber.org/zap"
)

// ackLogCompactBytes is the ack log size past which it is folded into the
// state snapshot and started afresh.
const ackLogCompactBytes = 1 << 20

// housekeepLoop is the outbox's second goroutine: it fsyncs the ack log,
// deletes segments whose records are all done, compacts the ack log and
// reports alarm level changes. It returns when Close stops it.
func (o *Outbox) housekeepLoop() {
	defer o.wg.Done()
	for {
		select {
		case <-o.stop:
			return
		case <-o.hkCh:
		}
		o.housekeep()
	}
}

func (o *Outbox) housekeep() {
	o.mu.Lock()
	dirty, f := o.ackDirty, o.ackF
	o.ackDirty = false
	o.mu.Unlock()
	if dirty && f != nil {
		if err := f.Sync(); err != nil {
			o.m.ackLogErrors.Inc()
			o.log.Warn("syncing the ack log failed; acknowledgements are saved with the next snapshot", zap.Error(err))
		}
	}

	if err := o.deleteDone(); err != nil {
		o.log.Warn("deleting delivered segments failed; will retry", zap.Error(err))
	}

	o.mu.Lock()
	if (o.ackF == nil || o.ackOff > ackLogCompactBytes) && !o.closed {
		if err := o.compactLocked(); err != nil {
			o.log.Warn("compacting the ack log failed; will retry", zap.Error(err))
		}
	}
	alarms := o.alarmQueue
	o.alarmQueue = nil
	o.mu.Unlock()

	for _, a := range alarms {
		if a.Level > 0 {
			o.log.Warn("outbox filling up", zap.Int("percent_level", a.Level), zap.Int64("used_bytes", a.UsedBytes), zap.Int64("max_bytes", a.MaxBytes))
		} else {
			o.log.Info("outbox below 50%", zap.Int64("used_bytes", a.UsedBytes))
		}
		if o.opts.OnAlarm != nil {
			o.opts.OnAlarm(a)
		}
	}
}

// deleteDone deletes every segment but the active one whose records are all
// acknowledged or dead-lettered. Dead letters are already durable in their
// own file, and a deleted segment is its own evidence that its records are
// done, so no ack needs to be synced first.
func (o *Outbox) deleteDone() error {
	o.mu.Lock()
	var gone []*segment
	keep := o.segs[:0:0]
	for i, s := range o.segs {
		if i < len(o.segs)-1 && s.sealed && (s.count == 0 || s.last <= o.doneThrough) {
			gone = append(gone, s)
			o.segBytes -= s.size
			o.usedBytes -= s.size
			continue
		}
		keep = append(keep, s)
	}
	o.segs = keep
	if len(gone) > 0 {
		o.checkAlarmLocked()
	}
	o.mu.Unlock()
	if len(gone) == 0 {
		return nil
	}
	var firstErr error
	for _, s := range gone {
		s.fmu.Lock()
		if s.f != nil {
			s.f.Close()
			s.f = nil
		}
		s.fmu.Unlock()
		if err := o.fs.Remove(s.path); err != nil && firstErr == nil {
			firstErr = fmt.Errorf("removing %s: %w", s.path, err)
		}
		o.log.Debug("segment delivered and deleted", zap.String("segment", filepath.Base(s.path)))
	}
	if err := o.fs.SyncDir(o.dir); err != nil && firstErr == nil {
		firstErr = err
	}
	o.m.segmentsDeleted.Add(float64(len(gone)))
	return firstErr
}

// compactLocked writes the acknowledgement state snapshot and starts an
// empty ack log. The snapshot names the ack log generation it absorbed, so
// a crash between the two steps replays nothing twice.
func (o *Outbox) compactLocked() error {
	st := stateData{doneThrough: o.doneThrough, head: o.durHead, ackGen: o.ackGen, fails: map[uint64]int{}}
	for seq := range o.acked {
		st.acked = append(st.acked, seq)
	}
	sortSeqs(st.acked)
	for seq, n := range o.fails {
		if !o.isDoneLocked(seq) {
			st.fails[seq] = n
		}
	}
	h := fileHeader{kind: kindState}
	contents := appendFrame(h.encode(), 1, o.clk.Now().UnixNano(), st.encode())
	if err := writeFileAtomic(o.fs, o.dir, stateName, contents); err != nil {
		return fmt.Errorf("outbox: writing the state snapshot: %w", err)
	}
	f, err := createLogFile(o.fs, o.dir, ackLogName, fileHeader{kind: kindAckLog, base: o.ackGen + 1})
	if o.ackF != nil {
		o.ackF.Close()
		o.ackF = nil
	}
	o.ackGen++ // the snapshot absorbed the old log, whatever happens next
	if err != nil {
		return fmt.Errorf("outbox: starting a new ack log: %w", err)
	}
	o.ackF, o.ackOff, o.ackEntry, o.ackDirty = f, fileHeaderSize, 0, false
	return nil
}
