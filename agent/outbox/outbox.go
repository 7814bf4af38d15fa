package outbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// Outbox is a durable, bounded, crash-safe queue of sealed records. It is
// safe for concurrent use: any number of appenders, and one deliverer (the
// uplink) calling Next, Ack, Fail, DeadLetter and Rewind.
type Outbox struct {
	dir  string
	opts Options
	fs   vfs.FS
	clk  clock.Clock
	log  *zap.Logger
	m    *metrics
	lock io.Closer

	// appendMu serializes appenders: sequence numbers, build calls and the
	// hash chain. Lock order: appendMu, then mu, then syncMu.
	appendMu sync.Mutex
	frame    []byte // frame buffer, under appendMu
	// syncMu serializes the syncs of segment files (committer and roll).
	syncMu sync.Mutex
	// deadMu serializes writes to the dead-letter file.
	deadMu sync.Mutex

	mu         sync.Mutex
	closed     bool
	broken     error // set when a failed write could not be undone
	segs       []*segment
	nextSeq    uint64
	head       head   // chain head of everything written
	written    uint64 // last seq written (not necessarily durable)
	durable    uint64 // last seq known durable
	durHead    head   // chain head of durable records
	heads      []head // heads of written, not yet durable records
	ep         *epoch
	durCond    *sync.Cond // appenders wait here for durability
	commitCond *sync.Cond // the committer waits here for work
	usedBytes  int64      // segment files plus dead letters
	segBytes   int64

	// Delivery state, under mu.
	doneThrough uint64              // every seq up to here is acked, dead or absent
	acked       map[uint64]struct{} // acked seqs above doneThrough
	dead        map[uint64]struct{} // dead-lettered seqs
	deadList    []deadEntry
	fails       map[uint64]int // failed deliveries of records not yet done
	inflight    map[uint64]struct{}
	retry       []uint64 // sorted seqs to hand out again before new ones
	cursor      uint64   // next new seq to hand out
	pending     int64    // durable records not yet done
	lost        int64    // records found damaged since open
	changed     chan struct{}

	// Ack log and dead-letter file, under mu (dead-letter writes also under
	// deadMu).
	ackF      vfs.File
	ackOff    int64
	ackGen    uint64
	ackEntry  uint64
	ackDirty  bool
	deadF     vfs.File
	deadOff   int64
	deadEntry uint64

	quarantined int
	alarm       int     // current fill level: 0, 50, 80 or 95
	alarmQueue  []Alarm // level changes not yet reported
	hkCh        chan struct{}
	stop        chan struct{}
	wg          sync.WaitGroup
}

// epoch groups the writes made since the last failed sync; when a sync
// fails, every record from `from` on is lost and its appender gets err.
type epoch struct {
	err  error
	from uint64
}

// segment is one segment file in memory.
type segment struct {
	base  uint64
	path  string
	prev  head // chain head when it was created (from its header)
	fmu   sync.RWMutex
	f     vfs.File // nil until needed for a sealed segment; guarded by fmu and mu
	size  int64
	count int
	first uint64
	last  uint64
	// lastHash is the SHA-256 of the last record's payload, when count > 0.
	lastHash   [32]byte
	contiguous bool  // seqs are first..last without holes
	index      []loc // nil until loaded for a sealed segment
	idxMu      sync.Mutex
	sealed     bool
	damaged    bool
}

func (s *segment) headOf() head {
	if s.count > 0 {
		return head{s.last, s.lastHash}
	}
	return s.prev
}

// New opens the outbox in dir, creating it when needed. Opening repairs what
// a crash or a power cut left behind without asking anyone: a torn tail is
// cut back to the last whole record, a segment with a damaged record is
// copied to DIR/quarantine (its whole records are still delivered) and
// reported, a segment whose header is unreadable is moved there, and a
// missing or inconsistent acknowledgement state is rebuilt from what is on
// disk. It fails only when the directory cannot be used at all (permissions,
// I/O errors, another process holding it).
func New(dir string, opts *Options) (*Outbox, error) {
	op, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	o := &Outbox{
		dir:      dir,
		opts:     op,
		fs:       op.fs,
		clk:      op.Clock,
		log:      op.Logger.With(zap.String("outbox", dir)),
		acked:    map[uint64]struct{}{},
		dead:     map[uint64]struct{}{},
		fails:    map[uint64]int{},
		inflight: map[uint64]struct{}{},
		changed:  make(chan struct{}),
		ep:       &epoch{},
		hkCh:     make(chan struct{}, 1),
		stop:     make(chan struct{}),
	}
	o.durCond = sync.NewCond(&o.mu)
	o.commitCond = sync.NewCond(&o.mu)
	o.m = newMetrics(o)
	if err := o.fs.MkdirAll(filepath.Join(dir, quarantineDir), 0o700); err != nil {
		return nil, fmt.Errorf("outbox: cannot create %s (check the path and its permissions): %w", dir, err)
	}
	if err := o.fs.SyncDir(dir); err != nil {
		return nil, fmt.Errorf("outbox: cannot sync directory %s: %w", dir, err)
	}
	if err := o.fs.SyncDir(filepath.Dir(dir)); err != nil {
		return nil, fmt.Errorf("outbox: cannot sync directory %s: %w", filepath.Dir(dir), err)
	}
	if o.lock, err = o.fs.Lock(filepath.Join(dir, lockName)); err != nil {
		return nil, fmt.Errorf("outbox: %s is in use by another process (stop it, or use another directory): %w", dir, err)
	}
	if err := o.recover(); err != nil {
		o.closeFiles()
		o.lock.Close()
		return nil, err
	}
	if err := o.m.register(op.Registerer); err != nil {
		o.closeFiles()
		o.lock.Close()
		return nil, fmt.Errorf("outbox: registering metrics: %w", err)
	}
	o.wg.Add(2)
	go o.commitLoop()
	go o.housekeepLoop()
	return o, nil
}

// Close waits for pending appends to become durable, writes the
// acknowledgement state, stops the outbox's goroutines and closes its files.
// Blocked calls to Next return ErrClosed. Close is idempotent.
func (o *Outbox) Close() error {
	o.appendMu.Lock()
	o.mu.Lock()
	if o.closed {
		o.mu.Unlock()
		o.appendMu.Unlock()
		return nil
	}
	o.closed = true
	o.commitCond.Broadcast()
	o.notifyLocked()
	o.mu.Unlock()
	o.appendMu.Unlock()

	close(o.stop)
	o.wg.Wait()

	o.deadMu.Lock()
	o.mu.Lock()
	var errs []error
	if err := o.compactLocked(); err != nil {
		errs = append(errs, err)
	}
	o.mu.Unlock()
	o.deadMu.Unlock()
	errs = append(errs, o.closeFiles(), o.lock.Close())
	o.m.unregister()
	return errors.Join(errs...)
}

func (o *Outbox) closeFiles() error {
	var errs []error
	for _, s := range o.segs {
		s.fmu.Lock()
		if s.f != nil {
			errs = append(errs, s.f.Close())
			s.f = nil
		}
		s.fmu.Unlock()
	}
	if o.ackF != nil {
		errs = append(errs, o.ackF.Close())
		o.ackF = nil
	}
	if o.deadF != nil {
		errs = append(errs, o.deadF.Close())
		o.deadF = nil
	}
	return errors.Join(errs...)
}

func (o *Outbox) active() *segment { return o.segs[len(o.segs)-1] }

// notifyLocked wakes every Next waiting for a record or for window room.
func (o *Outbox) notifyLocked() {
	close(o.changed)
	o.changed = make(chan struct{})
}

// kick asks the housekeeper to run.
func (o *Outbox) kick() {
	select {
	case o.hkCh <- struct{}{}:
	default:
	}
}

func unixTime(ns int64) time.Time {
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns).UTC()
}

// recover builds the in-memory state from the directory, repairing it.
func (o *Outbox) recover() error {
	ds, err := scanDir(o.fs, o.dir, false, o.opts.MaxRecordBytes)
	if err != nil {
		return fmt.Errorf("outbox: reading %s (check the disk): %w", o.dir, err)
	}
	for _, t := range ds.temps {
		if err := o.fs.Remove(filepath.Join(o.dir, t)); err != nil {
			return fmt.Errorf("outbox: removing leftover %s: %w", t, err)
		}
	}
	for _, name := range ds.others {
		o.log.Warn("unknown file in the outbox directory left alone", zap.String("file", name))
	}
	var maxSeen uint64
	dirChanged := len(ds.temps) > 0
	for i, s := range ds.segs {
		isLast := i == len(ds.segs)-1
		maxSeen = max(maxSeen, s.base-1)
		if s.hdrErr == nil && len(o.segs) > 0 {
			if prev := o.segs[len(o.segs)-1]; prev.count > 0 && prev.last >= s.base {
				s.hdrErr = fmt.Errorf("%w: base %d overlaps records up to %d in the previous segment", errBadHeader, s.base, prev.last)
			}
		}
		if s.hdrErr != nil {
			if err := o.quarantineMove(s.name, s.hdrErr); err != nil {
				return err
			}
			dirChanged = true
			continue
		}
		seg, err := o.recoverSegment(s, isLast)
		if err != nil {
			return err
		}
		if seg.count > 0 {
			maxSeen = max(maxSeen, seg.last)
		}
		o.segs = append(o.segs, seg)
	}
	if dirChanged {
		if err := o.fs.SyncDir(o.dir); err != nil {
			return fmt.Errorf("outbox: syncing %s: %w", o.dir, err)
		}
	}

	// The chain head and the next sequence number.
	var st *stateData
	switch {
	case ds.stateErr != nil:
		o.recovered("state_rebuilt", "acknowledgement state unreadable; rebuilding it from the segments", zap.Error(ds.stateErr))
	case ds.state != nil:
		st = ds.state
	case len(o.segs) > 0:
		o.recovered("state_rebuilt", "acknowledgement state missing; rebuilding it from the segments")
	}
	if st != nil {
		o.head = st.head
	}
	for _, s := range o.segs {
		if h := s.headOf(); h.seq >= o.head.seq {
			o.head = h
		}
	}
	o.nextSeq = max(o.head.seq, maxSeen) + 1
	o.written, o.durable, o.durHead = o.nextSeq-1, o.nextSeq-1, o.head

	// The active segment: the last one unless it is sealed.
	if len(o.segs) == 0 || o.active().sealed {
		if err := o.newSegmentLocked(); err != nil {
			return err
		}
	} else {
		act := o.active()
		f, err := o.fs.OpenFile(act.path, os.O_RDWR, 0)
		if err != nil {
			return fmt.Errorf("outbox: opening %s: %w", act.path, err)
		}
		act.f = f
		// What a killed process wrote may still be only in the page cache.
		if err := f.Sync(); err != nil {
			return fmt.Errorf("outbox: syncing %s: %w", act.path, err)
		}
	}
	o.segBytes = 0
	for _, s := range o.segs {
		o.segBytes += s.size
	}

	// Segments with holes (damaged earlier) need their index to tell which
	// records exist.
	for _, s := range o.segs {
		if !s.contiguous && s.index == nil {
			if err := o.loadIndex(s); err != nil {
				return err
			}
		}
	}

	// Acknowledgements, failures and dead letters.
	floor := o.nextSeq - 1
	for _, s := range o.segs {
		if s.count > 0 {
			floor = s.first - 1
			break
		}
	}
	o.ackGen = 0
	if st != nil {
		o.doneThrough = st.doneThrough
		o.ackGen = st.ackGen
		for _, seq := range st.acked {
			o.acked[seq] = struct{}{}
		}
		for seq, n := range st.fails {
			o.fails[seq] = n
		}
	}
	if o.doneThrough > o.nextSeq-1 {
		o.recovered("state_rebuilt", "acknowledgement state is ahead of the segments; rebuilding it",
			zap.Uint64("done_through", o.doneThrough), zap.Uint64("last_seq", o.nextSeq-1))
		o.doneThrough = floor
		clear(o.acked)
	}
	o.doneThrough = max(o.doneThrough, floor)
	if a := ds.acks; a.exists {
		switch {
		case a.hdrErr != nil:
			o.recovered("ack_log_damaged", "acknowledgement log unreadable; its records will be sent again", zap.Error(a.hdrErr))
		case st == nil || a.hdr.base > st.ackGen:
			for _, seq := range a.acks {
				o.acked[seq] = struct{}{}
			}
			for _, seq := range a.fails {
				o.fails[seq]++
			}
			if len(a.res.damage) > 0 {
				o.recovered("ack_log_damaged", "acknowledgement log has damaged entries; those records will be sent again",
					zap.Int("stretches", len(a.res.damage)))
			}
		}
		o.ackGen = max(o.ackGen, a.hdr.base)
	}
	if err := o.recoverDeadLetters(ds.dead); err != nil {
		return err
	}
	for seq := range o.acked {
		if seq <= o.doneThrough || seq >= o.nextSeq {
			delete(o.acked, seq)
		}
	}
	o.advanceDoneLocked()
	o.cursor = o.doneThrough + 1
	o.recountLocked()
	o.quarantined = len(ds.quarantine)
	if q, err := o.fs.ReadDir(filepath.Join(o.dir, quarantineDir)); err == nil {
		o.quarantined = len(q)
	}
	o.checkAlarmLocked() // an outbox opened above 50% reports its level at once
	// A clean state with an empty ack log (the outbox was closed) needs no
	// new snapshot: keep appending to the ack log as it is.
	if a := ds.acks; st != nil && a.exists && a.hdrErr == nil && a.hdr.base > st.ackGen &&
		len(a.res.locs) == 0 && a.res.tail == 0 && len(a.res.damage) == 0 {
		f, err := o.fs.OpenFile(filepath.Join(o.dir, ackLogName), os.O_RDWR, 0)
		if err == nil {
			o.ackF, o.ackOff, o.ackEntry, o.ackGen = f, a.res.validEnd, 0, a.hdr.base
			return o.logOpened()
		}
	}
	if err := o.compactLocked(); err != nil {
		// Acknowledgements stay in memory and the housekeeper retries; at
		// worst records are delivered again after a crash.
		o.m.ackLogErrors.Inc()
		o.log.Warn("could not write the acknowledgement state at open (disk full?); retrying in the background", zap.Error(err))
	}
	return o.logOpened()
}

func (o *Outbox) logOpened() error {
	o.log.Info("outbox opened", zap.Int("segments", len(o.segs)), zap.Int64("records", o.pending),
		zap.Uint64("next_seq", o.nextSeq), zap.Int64("bytes", o.usedBytes), zap.Int("dead_letters", len(o.deadList)),
		zap.Int("quarantined", o.quarantined))
	return nil
}

// recovered counts and logs one repair made while opening.
func (o *Outbox) recovered(kind, msg string, fields ...zap.Field) {
	o.m.recoveries.WithLabelValues(kind).Inc()
	o.log.Warn(msg, append(fields, zap.String("recovery", kind))...)
}

// recoverSegment turns a scanned segment into a segment, repairing it.
func (o *Outbox) recoverSegment(s *segScan, isLast bool) (*segment, error) {
	seg := &segment{base: s.base, path: s.path, prev: head{s.hdr.prevSeq, s.hdr.prevHash}, size: s.size}
	if ft := s.foot; ft != nil {
		seg.count, seg.first, seg.last, seg.lastHash = int(ft.count), ft.first, ft.last, ft.lastHash
		seg.contiguous = ft.count == 0 || ft.count == ft.last-ft.first+1
		seg.sealed = true
		return seg, nil
	}
	res := s.res
	seg.index = res.locs
	seg.count = len(res.locs)
	if seg.count > 0 {
		seg.first, seg.last, seg.lastHash = res.locs[0].seq, res.locs[seg.count-1].seq, s.lastHash
	}
	seg.contiguous = seg.count == 0 || uint64(seg.count) == seg.last-seg.first+1
	seg.sealed = res.footer != nil
	if len(res.damage) > 0 {
		seg.damaged = true
		bad := int64(0)
		for _, d := range res.damage {
			bad += d.end - d.off
		}
		if err := o.quarantineCopy(s.name); err != nil {
			return nil, err
		}
		o.recovered("damaged_segment", "segment has damaged records; copied to quarantine, its whole records are kept",
			zap.String("segment", s.name), zap.Int("stretches", len(res.damage)), zap.Int64("damaged_bytes", bad),
			zap.Int("records_kept", seg.count))
	}
	var f vfs.File
	if res.tail > 0 || (!seg.sealed && (!isLast || seg.damaged)) {
		var err error
		if f, err = o.fs.OpenFile(s.path, os.O_RDWR, 0); err != nil {
			return nil, fmt.Errorf("outbox: opening %s: %w", s.path, err)
		}
		defer f.Close()
	}
	if res.tail > 0 {
		if err := f.Truncate(res.validEnd); err != nil {
			return nil, fmt.Errorf("outbox: cutting the torn tail of %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("outbox: syncing %s: %w", s.path, err)
		}
		seg.size = res.validEnd
		o.recovered("torn_tail", "cut a torn tail back to the last whole record",
			zap.String("segment", s.name), zap.Int64("bytes_cut", res.tail), zap.Uint64("last_seq", seg.last))
	}
	if !seg.sealed && (!isLast || seg.damaged) {
		// A segment that is not the newest, or that is damaged, takes no more
		// records: seal it.
		n, err := writeFooter(f, seg, o.clk.Now().UnixNano())
		if err != nil {
			return nil, fmt.Errorf("outbox: sealing %s: %w", s.path, err)
		}
		if err := f.Sync(); err != nil {
			return nil, fmt.Errorf("outbox: syncing %s: %w", s.path, err)
		}
		seg.size += n
		seg.sealed = true
	}
	return seg, nil
}

// writeFooter appends the footer of seg at its end and returns its size.
func writeFooter(f vfs.File, seg *segment, ns int64) (int64, error) {
	ft := footer{count: uint64(seg.count), first: seg.first, last: seg.last, lastHash: seg.lastHash,
		dataBytes: uint64(seg.size - fileHeaderSize)}
	fr := appendFrame(nil, 0, ns, ft.body())
	if _, err := f.WriteAt(fr, seg.size); err != nil {
		_ = f.Truncate(seg.size)
		return 0, err
	}
	return int64(len(fr)), nil
}

func (o *Outbox) recoverDeadLetters(ls *logScan) error {
	path := filepath.Join(o.dir, deadName)
	if ls.exists && ls.hdrErr != nil {
		if err := o.quarantineMove(deadName, ls.hdrErr); err != nil {
			return err
		}
		if err := o.fs.SyncDir(o.dir); err != nil {
			return err
		}
		ls = &logScan{}
	}
	if !ls.exists {
		f, err := createLogFile(o.fs, o.dir, deadName, fileHeader{kind: kindDeadLetter})
		if err != nil {
			return fmt.Errorf("outbox: creating %s: %w", path, err)
		}
		o.deadF, o.deadOff = f, fileHeaderSize
		o.usedBytes = o.segBytes + o.deadOff
		return nil
	}
	f, err := o.fs.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("outbox: opening %s: %w", path, err)
	}
	o.deadF, o.deadOff = f, ls.res.validEnd
	if len(ls.res.damage) > 0 {
		if err := o.quarantineCopy(deadName); err != nil {
			return err
		}
		o.recovered("damaged_dead_letters", "dead-letter file has damaged entries; copied to quarantine", zap.Int("stretches", len(ls.res.damage)))
	}
	if ls.res.tail > 0 {
		if err := f.Truncate(ls.res.validEnd); err != nil {
			return fmt.Errorf("outbox: cutting the torn tail of %s: %w", path, err)
		}
		if err := f.Sync(); err != nil {
			return fmt.Errorf("outbox: syncing %s: %w", path, err)
		}
		o.recovered("torn_tail", "cut a torn tail of the dead-letter file", zap.Int64("bytes_cut", ls.res.tail))
	}
	if n := len(ls.res.locs); n > 0 {
		o.deadEntry = ls.res.locs[n-1].seq
	}
	for _, e := range ls.dead {
		if _, dup := o.dead[e.Seq]; dup {
			continue
		}
		o.dead[e.Seq] = struct{}{}
		delete(o.fails, e.Seq)
		o.deadList = append(o.deadList, e)
	}
	o.usedBytes = o.segBytes + o.deadOff
	return nil
}

// quarantineMove moves a file of the outbox directory into the quarantine
// folder; the caller syncs the outbox directory. The caller must not hold mu.
func (o *Outbox) quarantineMove(name string, why error) error {
	qdir := filepath.Join(o.dir, quarantineDir)
	dst := o.quarantineName(name)
	if err := o.fs.Rename(filepath.Join(o.dir, name), filepath.Join(qdir, dst)); err != nil {
		return fmt.Errorf("outbox: moving damaged %s to quarantine: %w", name, err)
	}
	if err := o.fs.SyncDir(qdir); err != nil {
		return fmt.Errorf("outbox: syncing %s: %w", qdir, err)
	}
	o.mu.Lock()
	o.quarantined++
	o.mu.Unlock()
	o.m.quarantines.Inc()
	o.log.Error("file moved to quarantine: its records will not be delivered until a technician recovers them",
		zap.String("file", name), zap.String("quarantined_as", dst), zap.Error(why))
	o.recovered("quarantined", "unreadable file moved to quarantine", zap.String("file", name))
	return nil
}

// quarantineCopy copies a damaged file into the quarantine folder as
// evidence, unless a copy of the same size is already there. The caller must
// not hold mu.
func (o *Outbox) quarantineCopy(name string) error {
	qdir := filepath.Join(o.dir, quarantineDir)
	src := filepath.Join(o.dir, name)
	size, err := o.fs.Size(src)
	if err != nil {
		return fmt.Errorf("outbox: quarantining %s: %w", name, err)
	}
	if qs, err := o.fs.Size(filepath.Join(qdir, name)); err == nil && qs == size {
		return nil
	}
	dst := o.quarantineName(name)
	in, err := o.fs.OpenFile(src, os.O_RDONLY, 0)
	if err != nil {
		return fmt.Errorf("outbox: quarantining %s: %w", name, err)
	}
	defer in.Close()
	tmp := filepath.Join(qdir, dst+tmpSuffix)
	out, err := o.fs.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("outbox: quarantining %s: %w", name, err)
	}
	buf := make([]byte, 1<<20)
	for off := int64(0); off < size && err == nil; {
		n, rerr := in.ReadAt(buf[:min(int64(len(buf)), size-off)], off)
		if n > 0 {
			_, err = out.WriteAt(buf[:n], off)
			off += int64(n)
		}
		if rerr != nil && n == 0 {
			err = rerr
		}
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = o.fs.Rename(tmp, filepath.Join(qdir, dst))
	}
	if err == nil {
		err = o.fs.SyncDir(qdir)
	}
	if err != nil {
		_ = o.fs.Remove(tmp)
		return fmt.Errorf("outbox: copying damaged %s to quarantine: %w", name, err)
	}
	o.mu.Lock()
	o.quarantined++
	o.mu.Unlock()
	o.m.quarantines.Inc()
	o.log.Error("damaged file copied to quarantine", zap.String("file", name), zap.String("quarantined_as", dst))
	return nil
}

// quarantineName is a name for name in the quarantine folder not yet taken.
func (o *Outbox) quarantineName(name string) string {
	qdir := filepath.Join(o.dir, quarantineDir)
	taken, _ := o.fs.ReadDir(qdir)
	set := map[string]bool{}
	for _, t := range taken {
		set[t] = true
	}
	dst := name
	for i := 1; set[dst] || set[dst+tmpSuffix]; i++ {
		dst = fmt.Sprintf("%s.%d", name, i)
	}
	return dst
}

// newSegmentLocked creates a segment for the next sequence number, durably
// (file synced, directory synced), and makes it the active one.
func (o *Outbox) newSegmentLocked() error {
	name := segName(o.nextSeq)
	h := fileHeader{kind: kindSegment, base: o.nextSeq, prevSeq: o.head.seq, prevHash: o.head.hash}
	f, err := createLogFile(o.fs, o.dir, name, h)
	if err != nil {
		return wrapWriteErr(fmt.Sprintf("creating segment %s", name), err)
	}
	seg := &segment{base: o.nextSeq, path: filepath.Join(o.dir, name), prev: o.head, f: f,
		size: fileHeaderSize, contiguous: true, index: []loc{}}
	o.segs = append(o.segs, seg)
	o.segBytes += seg.size
	o.usedBytes += seg.size
	return nil
}

// wrapWriteErr wraps a write error, as ErrFull too when the disk is full.
func wrapWriteErr(what string, err error) error {
	if isNoSpace(err) {
		return fmt.Errorf("%w: disk full %s (deliver records or free disk space): %w", ErrFull, what, err)
	}
	return fmt.Errorf("outbox: %s failed (check the disk): %w", what, err)
}

// sortSeqs sorts and returns s.
func sortSeqs(s []uint64) []uint64 {
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s
}
