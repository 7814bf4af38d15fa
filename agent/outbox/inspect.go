package outbox

import (
	"fmt"
	"os"
	"sort"
	"time"

	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// Report is what Inspect found in an outbox directory. It never holds
// payloads.
type Report struct {
	Dir      string
	Segments []SegmentReport
	// Records is the number of records not yet acknowledged or
	// dead-lettered, by the last saved acknowledgement state.
	Records int64
	// SegmentBytes is the size of the segment files.
	SegmentBytes int64
	// DeadLetters and DeadLetterBytes describe the dead-letter file.
	DeadLetters     []DeadLetter
	DeadLetterBytes int64
	// Quarantined lists the files in the quarantine folder.
	Quarantined []string
	// OldestUnacked is when the oldest record not yet acknowledged was
	// appended, zero when there is none.
	OldestUnacked time.Time
	// LastSeq is the last record's sequence number (the chain head).
	LastSeq uint64
	// Verified is true when every frame's CRC was checked.
	Verified bool
	Problems []Problem
}

// SegmentReport describes one segment file.
type SegmentReport struct {
	Name     string
	Bytes    int64
	Records  int
	FirstSeq uint64
	LastSeq  uint64
	Sealed   bool
}

// Problem is something Inspect found. Damage means records are or were
// lost (damaged frames, unreadable files, files in quarantine); other
// problems are repaired by the next open without losing records.
type Problem struct {
	File   string
	Offset int64
	Damage bool
	Text   string
}

func (p Problem) String() string {
	kind := "note"
	if p.Damage {
		kind = "DAMAGE"
	}
	if p.Offset > 0 {
		return fmt.Sprintf("%s: %s at offset %d: %s", kind, p.File, p.Offset, p.Text)
	}
	return fmt.Sprintf("%s: %s: %s", kind, p.File, p.Text)
}

// Damaged reports whether any problem is damage.
func (r *Report) Damaged() bool {
	for _, p := range r.Problems {
		if p.Damage {
			return true
		}
	}
	return false
}

// Inspect reads an outbox directory without changing it and without taking
// its lock, so it can run beside the agent (a record being written then
// shows as a torn tail). With verify, every frame of every file is read and
// its CRC checked; otherwise sealed segments are read only up to their
// footer.
func Inspect(dir string, verify bool) (*Report, error) {
	return inspect(vfs.OS(), dir, verify)
}

func inspect(fsys vfs.FS, dir string, verify bool) (*Report, error) {
	if _, err := fsys.ReadDir(dir); err != nil {
		return nil, fmt.Errorf("outbox: cannot read %s (check the path): %w", dir, err)
	}
	ds, err := scanDir(fsys, dir, verify, maxBodyLen)
	if err != nil {
		return nil, fmt.Errorf("outbox: reading %s: %w", dir, err)
	}
	r := &Report{Dir: dir, Verified: verify, Quarantined: ds.quarantine}
	add := func(file string, off int64, damage bool, format string, args ...any) {
		r.Problems = append(r.Problems, Problem{File: file, Offset: off, Damage: damage, Text: fmt.Sprintf(format, args...)})
	}
	for _, t := range ds.temps {
		add(t, 0, false, "leftover temporary file; removed at the next open")
	}
	for _, name := range ds.others {
		add(name, 0, false, "unknown file; the outbox ignores it")
	}
	if len(ds.quarantine) > 0 {
		add(quarantineDir, 0, true, "%d file(s) in quarantine: records in them are not delivered (see the agent's log)", len(ds.quarantine))
	}

	var doneThrough uint64
	acked := map[uint64]bool{}
	dead := map[uint64]bool{}
	if ds.state != nil {
		doneThrough = ds.state.doneThrough
		for _, s := range ds.state.acked {
			acked[s] = true
		}
		r.LastSeq = ds.state.head.seq
	} else if ds.stateErr != nil {
		add(stateName, 0, false, "unreadable (%v); rebuilt at the next open, some records may be sent again", ds.stateErr)
	}
	if a := ds.acks; a.exists {
		switch {
		case a.hdrErr != nil:
			add(ackLogName, 0, false, "unreadable (%v); some records may be sent again", a.hdrErr)
		case ds.state == nil || a.hdr.base > ds.state.ackGen:
			for _, s := range a.acks {
				acked[s] = true
			}
		}
		for _, d := range a.res.damage {
			add(ackLogName, d.off, false, "%d damaged bytes; some records may be sent again", d.end-d.off)
		}
	}
	if d := ds.dead; d.exists {
		if d.hdrErr != nil {
			add(deadName, 0, true, "unreadable: %v", d.hdrErr)
		}
		for _, dmg := range d.res.damage {
			add(deadName, dmg.off, true, "%d damaged bytes: dead letters lost", dmg.end-dmg.off)
		}
		if d.res.tail > 0 {
			add(deadName, d.res.validEnd, false, "torn tail of %d bytes; cut at the next open", d.res.tail)
		}
		for _, e := range d.dead {
			dead[e.Seq] = true
			r.DeadLetters = append(r.DeadLetters, e.DeadLetter)
		}
		r.DeadLetterBytes = d.res.validEnd
	}

	var prevLast uint64
	var oldestSeg *segScan
	for i, s := range ds.segs {
		isLast := i == len(ds.segs)-1
		r.SegmentBytes += s.size
		if s.hdrErr != nil {
			add(s.name, 0, true, "unreadable header (%v); moved to quarantine at the next open", s.hdrErr)
			continue
		}
		sr := SegmentReport{Name: s.name, Bytes: s.size}
		var seqs []uint64
		if s.foot != nil {
			sr.Records, sr.FirstSeq, sr.LastSeq, sr.Sealed = int(s.foot.count), s.foot.first, s.foot.last, true
			if sr.Records > 0 {
				r.LastSeq = max(r.LastSeq, s.foot.last)
			}
		} else {
			res := s.res
			sr.Records, sr.Sealed = len(res.locs), res.footer != nil
			for _, l := range res.locs {
				seqs = append(seqs, l.seq)
			}
			if n := len(res.locs); n > 0 {
				sr.FirstSeq, sr.LastSeq = res.locs[0].seq, res.locs[n-1].seq
				r.LastSeq = max(r.LastSeq, sr.LastSeq)
			}
			for _, d := range res.damage {
				add(s.name, d.off, true, "%d damaged bytes between whole records", d.end-d.off)
			}
			switch {
			case res.tail > 0 && isLast && !sr.Sealed:
				add(s.name, res.validEnd, false, "torn tail of %d bytes (a record being written, or cut short by a crash); cut at the next open", res.tail)
			case res.tail > 0:
				add(s.name, res.validEnd, true, "%d bytes of garbage after the last whole record of a sealed segment", res.tail)
			case !sr.Sealed && !isLast:
				add(s.name, 0, false, "not sealed; sealed at the next open")
			}
			if sr.Sealed && res.footer.count != uint64(len(res.locs)) {
				add(s.name, 0, true, "footer counts %d records, %d are whole", res.footer.count, len(res.locs))
			}
		}
		if sr.Records > 0 {
			if sr.FirstSeq <= prevLast {
				add(s.name, 0, true, "records from %d overlap the previous segment (up to %d)", sr.FirstSeq, prevLast)
			}
			prevLast = sr.LastSeq
		} else {
			r.LastSeq = max(r.LastSeq, s.hdr.prevSeq)
		}
		r.Segments = append(r.Segments, sr)

		// Records not yet done.
		if sr.Records == 0 || sr.LastSeq <= doneThrough {
			continue
		}
		if seqs == nil { // sealed, not read: seqs first..last, count of them
			n := int64(sr.LastSeq - max(sr.FirstSeq, doneThrough+1) + 1)
			if uint64(sr.Records) != sr.LastSeq-sr.FirstSeq+1 {
				n = int64(sr.Records) // holes: an estimate
			}
			for s := range acked {
				if s > doneThrough && s >= sr.FirstSeq && s <= sr.LastSeq {
					n--
				}
			}
			for s := range dead {
				if s > doneThrough && s >= sr.FirstSeq && s <= sr.LastSeq && !acked[s] {
					n--
				}
			}
			r.Records += max(n, 0)
			if oldestSeg == nil && n > 0 {
				oldestSeg = s
			}
			continue
		}
		for _, q := range seqs {
			if q > doneThrough && !acked[q] && !dead[q] {
				r.Records++
				if oldestSeg == nil {
					oldestSeg = s
				}
			}
		}
	}
	if oldestSeg != nil {
		r.OldestUnacked = oldestIn(fsys, oldestSeg, doneThrough, acked, dead)
	}
	sort.Slice(r.DeadLetters, func(i, j int) bool { return r.DeadLetters[i].Seq < r.DeadLetters[j].Seq })
	return r, nil
}

// oldestIn returns the append time of the first record of s not yet done.
func oldestIn(fsys vfs.FS, s *segScan, doneThrough uint64, acked, dead map[uint64]bool) time.Time {
	res := s.res
	if res == nil {
		f, err := fsys.OpenFile(s.path, os.O_RDONLY, 0)
		if err != nil {
			return time.Time{}
		}
		defer f.Close()
		full, err := scanFrames(f, fileHeaderSize, s.size, s.base-1, true, maxBodyLen, nil)
		if err != nil {
			return time.Time{}
		}
		res = &full
	}
	for _, l := range res.locs {
		if l.seq > doneThrough && !acked[l.seq] && !dead[l.seq] {
			return unixTime(l.ns)
		}
	}
	return time.Time{}
}
