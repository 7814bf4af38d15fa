package outbox

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// dirScan is what reading an outbox directory found, without changing
// anything. New repairs from it; Inspect reports it.
type dirScan struct {
	segs       []*segScan
	quarantine []string
	temps      []string
	others     []string
	state      *stateData
	stateErr   error // nil with a nil state: no state file
	acks       *logScan
	dead       *logScan
}

// segScan is one segment file: its header and either its footer (a sealed
// segment read cheaply) or a full scan of its frames.
type segScan struct {
	name, path string
	base       uint64
	size       int64
	hdr        fileHeader
	hdrErr     error
	foot       *footer     // valid footer, when the frames were not read
	res        *scanResult // full scan
	lastHash   [32]byte    // of the last record found by the full scan
}

// logScan is the ack log or the dead-letter file.
type logScan struct {
	exists bool
	hdr    fileHeader
	hdrErr error
	res    scanResult
	acks   []uint64 // ack log: acknowledged seqs, in order
	fails  []uint64 // ack log: one entry per failed delivery
	dead   []deadEntry
}

// scanDir reads dir. With full, every segment's frames are read and checked;
// otherwise sealed segments are read only up to their footer.
func scanDir(fsys vfs.FS, dir string, full bool, maxBody int) (*dirScan, error) {
	names, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	ds := &dirScan{}
	var segNames []string
	for _, name := range names {
		switch {
		case strings.HasSuffix(name, tmpSuffix):
			ds.temps = append(ds.temps, name)
		case name == ackLogName || name == deadName || name == stateName || name == lockName || name == quarantineDir:
		default:
			if _, ok := parseSegName(name); ok {
				segNames = append(segNames, name)
			} else {
				ds.others = append(ds.others, name)
			}
		}
	}
	for i, name := range segNames {
		s, err := scanSegment(fsys, dir, name, full || i == len(segNames)-1, maxBody)
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir by the agent running beside Inspect
		}
		if err != nil {
			return nil, err
		}
		ds.segs = append(ds.segs, s)
	}
	if q, err := fsys.ReadDir(filepath.Join(dir, quarantineDir)); err == nil {
		ds.quarantine = q
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := readAll(fsys, filepath.Join(dir, stateName)); err == nil {
		ds.state, ds.stateErr = parseStateFile(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if ds.acks, err = scanLog(fsys, filepath.Join(dir, ackLogName), kindAckLog); err != nil {
		return nil, err
	}
	if ds.dead, err = scanLog(fsys, filepath.Join(dir, deadName), kindDeadLetter); err != nil {
		return nil, err
	}
	return ds, nil
}

func parseStateFile(b []byte) (*stateData, error) {
	if _, err := decodeFileHeader(b, kindState); err != nil {
		return nil, err
	}
	res, err := scanFrames(readerAt(b), fileHeaderSize, int64(len(b)), 0, false, maxBodyLen, nil)
	if err != nil {
		return nil, err
	}
	if len(res.locs) != 1 || res.tail != 0 || len(res.damage) != 0 {
		return nil, fmt.Errorf("%w: want one whole frame", errBadState)
	}
	l := res.locs[0]
	return decodeState(b[l.off+frameHeaderSize : l.off+frameHeaderSize+int64(l.n)])
}

type readerAt []byte

func (r readerAt) ReadAt(p []byte, off int64) (int, error) {
	if off >= int64(len(r)) {
		return 0, io.EOF
	}
	n := copy(p, r[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func scanSegment(fsys vfs.FS, dir, name string, full bool, maxBody int) (*segScan, error) {
	base, _ := parseSegName(name)
	s := &segScan{name: name, path: filepath.Join(dir, name), base: base}
	f, err := fsys.OpenFile(s.path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if s.size, err = f.Size(); err != nil {
		return nil, err
	}
	hb := make([]byte, fileHeaderSize)
	if n, err := f.ReadAt(hb, 0); n < len(hb) && err != io.EOF && err != nil {
		return nil, err
	}
	s.hdr, s.hdrErr = decodeFileHeader(hb[:min(int64(len(hb)), s.size)], kindSegment)
	if s.hdrErr == nil && s.hdr.base != base {
		s.hdrErr = fmt.Errorf("%w: header says base %d, file name %d", errBadHeader, s.hdr.base, base)
	}
	if s.hdrErr == nil && s.hdr.prevSeq >= base {
		s.hdrErr = fmt.Errorf("%w: chain head %d is not below base %d", errBadHeader, s.hdr.prevSeq, base)
	}
	if s.hdrErr != nil {
		return s, nil
	}
	if !full {
		if ft, err := readFooter(f, s.size, base); err != nil {
			return nil, err
		} else if ft != nil {
			s.foot = ft
			return s, nil
		}
	}
	res, err := scanFrames(f, fileHeaderSize, s.size, base-1, true, maxBody, nil)
	if err != nil {
		return nil, err
	}
	s.res = &res
	if n := len(res.locs); n > 0 {
		body, err := readBody(f, res.locs[n-1])
		if err != nil {
			return nil, err
		}
		s.lastHash = sum(body)
	}
	return s, nil
}

// readFooter returns the footer at the end of a sealed segment, or nil when
// there is none or it does not agree with the file.
func readFooter(f io.ReaderAt, size int64, base uint64) (*footer, error) {
	const n = frameHeaderSize + footerBodySize
	if size < fileHeaderSize+n {
		return nil, nil
	}
	b := make([]byte, n)
	if m, err := f.ReadAt(b, size-n); m < n {
		return nil, err
	}
	h := decodeFrameHeader(b)
	if h.seq != 0 || h.length != footerBodySize || frameCRC(b, b[frameHeaderSize:]) != h.crc {
		return nil, nil
	}
	ft := decodeFooter(b[frameHeaderSize:])
	ok := ft.dataBytes == uint64(size-fileHeaderSize-n)
	if ft.count == 0 {
		ok = ok && ft.first == 0 && ft.last == 0
	} else {
		ok = ok && ft.first >= base && ft.last >= ft.first && ft.count <= ft.last-ft.first+1 &&
			ft.count*frameHeaderSize <= ft.dataBytes
	}
	if !ok {
		return nil, nil
	}
	return &ft, nil
}

// scanLog reads the ack log or the dead-letter file and decodes its
// entries, skipping malformed ones; a missing file is not an error.
func scanLog(fsys vfs.FS, path string, kind uint32) (*logScan, error) {
	ls := &logScan{}
	f, err := fsys.OpenFile(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return ls, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, err
	}
	ls.exists = true
	hb := make([]byte, min(size, fileHeaderSize))
	if n, err := f.ReadAt(hb, 0); n < len(hb) {
		return nil, err
	}
	if ls.hdr, ls.hdrErr = decodeFileHeader(hb, kind); ls.hdrErr != nil {
		return ls, nil
	}
	ls.res, err = scanFrames(f, fileHeaderSize, size, 0, false, maxBodyLen, func(l loc, body []byte) {
		switch kind {
		case kindAckLog:
			if len(body) != ackBodySize {
				return
			}
			seq := binary.LittleEndian.Uint64(body[1:])
			switch body[0] {
			case ackKindAck:
				ls.acks = append(ls.acks, seq)
			case ackKindFail:
				ls.fails = append(ls.fails, seq)
			}
		case kindDeadLetter:
			seq, ns, reason, payload, ok := decodeDeadBody(body)
			if !ok {
				return
			}
			ls.dead = append(ls.dead, deadEntry{
				DeadLetter: DeadLetter{Seq: seq, Reason: reason, Bytes: len(payload), DeadAt: unixTime(l.ns), AppendedAt: unixTime(ns)},
				off:        l.off, n: l.n,
			})
		}
	})
	return ls, err
}
