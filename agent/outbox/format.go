package outbox

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// On-disk format. Every file of the outbox (segments, the ack log, the dead
// letters) starts with a fileHeader and continues with frames:
//
//	frame:  u32 length of body | u32 CRC32C | u64 seq | i64 unix ns | body
//
// The CRC32C covers the body, then the length, seq and time, so a frame of
// zeros, a torn frame or a frame with a flipped bit never passes. All integers are
// little-endian. A segment ends with a footer frame (seq 0) once it is
// sealed, so opening does not have to read sealed segments.
const (
	fileMagic       = "KIOSKOBX"
	formatVersion   = 1
	fileHeaderSize  = 72
	frameHeaderSize = 24
	footerBodySize  = 64
	// maxBodyLen bounds the length field a scan accepts, whatever the options.
	maxBodyLen = 1 << 30
	// maxSeq bounds sequence numbers, so a crafted file cannot make them wrap.
	maxSeq = 1 << 62
)

// File kinds in the file header.
const (
	kindSegment    = 1
	kindAckLog     = 2
	kindDeadLetter = 3
	kindState      = 4
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// fileHeader starts every outbox file. For a segment, base is the first
// sequence number it may hold and (prevSeq, prevHash) is the chain head
// when it was created, so the head survives even when every record before
// the segment has been deleted.
type fileHeader struct {
	kind     uint32
	base     uint64
	prevSeq  uint64
	prevHash [32]byte
}

func (h *fileHeader) encode() []byte {
	b := make([]byte, fileHeaderSize)
	copy(b, fileMagic)
	binary.LittleEndian.PutUint32(b[8:], formatVersion)
	binary.LittleEndian.PutUint32(b[12:], h.kind)
	binary.LittleEndian.PutUint64(b[16:], h.base)
	binary.LittleEndian.PutUint64(b[24:], h.prevSeq)
	copy(b[32:64], h.prevHash[:])
	binary.LittleEndian.PutUint32(b[64:], crc32.Checksum(b[:64], crcTable))
	return b
}

var errBadHeader = errors.New("bad file header")

func decodeFileHeader(b []byte, kind uint32) (fileHeader, error) {
	var h fileHeader
	if len(b) < fileHeaderSize {
		return h, fmt.Errorf("%w: %d bytes, want %d", errBadHeader, len(b), fileHeaderSize)
	}
	if string(b[:8]) != fileMagic {
		return h, fmt.Errorf("%w: magic %q, want %q", errBadHeader, b[:8], fileMagic)
	}
	if got, want := binary.LittleEndian.Uint32(b[64:]), crc32.Checksum(b[:64], crcTable); got != want {
		return h, fmt.Errorf("%w: CRC %08x, want %08x", errBadHeader, got, want)
	}
	if v := binary.LittleEndian.Uint32(b[8:]); v != formatVersion {
		return h, fmt.Errorf("%w: format version %d, this build reads %d", errBadHeader, v, formatVersion)
	}
	h.kind = binary.LittleEndian.Uint32(b[12:])
	if h.kind != kind {
		return h, fmt.Errorf("%w: file kind %d, want %d", errBadHeader, h.kind, kind)
	}
	h.base = binary.LittleEndian.Uint64(b[16:])
	h.prevSeq = binary.LittleEndian.Uint64(b[24:])
	copy(h.prevHash[:], b[32:64])
	return h, nil
}

// frameHeader is the fixed part of a frame.
type frameHeader struct {
	length uint32
	crc    uint32
	seq    uint64
	unixNs int64
}

// appendFrame appends a whole frame to dst.
func appendFrame(dst []byte, seq uint64, unixNs int64, body []byte) []byte {
	return appendFrameCRC(dst, seq, unixNs, body, crc32.Checksum(body, crcTable))
}

// appendFrameCRC is appendFrame with the body's CRC32C computed already
// (the CRC covers the body first, so it can be computed before the seq is
// known, outside the append lock).
func appendFrameCRC(dst []byte, seq uint64, unixNs int64, body []byte, bodyCRC uint32) []byte {
	n := len(dst)
	dst = append(dst, make([]byte, frameHeaderSize)...)
	dst = append(dst, body...)
	b := dst[n:]
	binary.LittleEndian.PutUint32(b[0:], uint32(len(body)))
	binary.LittleEndian.PutUint64(b[8:], seq)
	binary.LittleEndian.PutUint64(b[16:], uint64(unixNs))
	binary.LittleEndian.PutUint32(b[4:], headerCRC(b, bodyCRC))
	return dst
}

// frameCRC is the CRC32C of a frame: body, then length, seq and time.
func frameCRC(hdr, body []byte) uint32 {
	return headerCRC(hdr, crc32.Checksum(body, crcTable))
}

func headerCRC(hdr []byte, bodyCRC uint32) uint32 {
	c := crc32.Update(bodyCRC, crcTable, hdr[0:4])
	return crc32.Update(c, crcTable, hdr[8:frameHeaderSize])
}

func decodeFrameHeader(b []byte) frameHeader {
	return frameHeader{
		length: binary.LittleEndian.Uint32(b[0:]),
		crc:    binary.LittleEndian.Uint32(b[4:]),
		seq:    binary.LittleEndian.Uint64(b[8:]),
		unixNs: int64(binary.LittleEndian.Uint64(b[16:])),
	}
}

// footer seals a segment: its records, their seq range and the chain head at
// its end.
type footer struct {
	count     uint64
	first     uint64
	last      uint64
	lastHash  [32]byte
	dataBytes uint64 // bytes from the file header's end to the footer frame
}

func (f *footer) body() []byte {
	b := make([]byte, footerBodySize)
	binary.LittleEndian.PutUint64(b[0:], f.count)
	binary.LittleEndian.PutUint64(b[8:], f.first)
	binary.LittleEndian.PutUint64(b[16:], f.last)
	copy(b[24:56], f.lastHash[:])
	binary.LittleEndian.PutUint64(b[56:], f.dataBytes)
	return b
}

func decodeFooter(b []byte) footer {
	var f footer
	f.count = binary.LittleEndian.Uint64(b[0:])
	f.first = binary.LittleEndian.Uint64(b[8:])
	f.last = binary.LittleEndian.Uint64(b[16:])
	copy(f.lastHash[:], b[24:56])
	f.dataBytes = binary.LittleEndian.Uint64(b[56:])
	return f
}

// loc is where one record lives in a segment.
type loc struct {
	seq uint64
	off int64 // of the frame header
	n   uint32
	ns  int64 // append time
}

// damage is a stretch of a file that holds no valid frame.
type damage struct {
	off, end int64
}

// scanResult is what reading a whole file of frames found.
type scanResult struct {
	locs     []loc
	footer   *footer
	validEnd int64 // end of the last valid frame (or footer), or of the header
	size     int64
	damage   []damage // bad stretches followed by valid frames
	tail     int64    // bytes after validEnd holding no valid frame (torn tail)
}

// scanFrames reads the frames of r from off to size, checking each CRC.
// Frames must carry increasing seq values above after; a seq of 0 is a
// segment footer and ends the scan when footers is set. A bad frame is
// followed by a search for the next valid frame; what lies between is
// damage, and what follows the last valid frame is the tail. visit, when not
// nil, sees every valid body (the slice is reused).
func scanFrames(r io.ReaderAt, off, size int64, after uint64, footers bool, maxBody int, visit func(l loc, body []byte)) (scanResult, error) {
	res := scanResult{validEnd: off, size: size}
	if size <= off {
		return res, nil
	}
	// Read in chunks so a huge file does not need huge memory.
	const chunk = 4 << 20
	var buf []byte
	var bufOff int64
	load := func(at int64, n int) ([]byte, error) {
		if at < bufOff || at+int64(n) > bufOff+int64(len(buf)) {
			want := max(n, chunk)
			if rest := size - at; int64(want) > rest {
				want = int(rest)
			}
			if want < n {
				return nil, io.ErrUnexpectedEOF
			}
			if cap(buf) < want {
				buf = make([]byte, want)
			}
			buf = buf[:want]
			m, err := r.ReadAt(buf, at)
			if m < want {
				if err == nil || err == io.EOF {
					err = io.ErrUnexpectedEOF
				}
				return nil, err
			}
			bufOff = at
		}
		return buf[at-bufOff : at-bufOff+int64(n)], nil
	}
	// frameAt reports whether a valid frame starts at p, and its header.
	frameAt := func(p int64, prev uint64) (frameHeader, []byte, bool, error) {
		if size-p < frameHeaderSize {
			return frameHeader{}, nil, false, nil
		}
		hb, err := load(p, frameHeaderSize)
		if err != nil {
			return frameHeader{}, nil, false, err
		}
		h := decodeFrameHeader(hb)
		if int64(h.length) > size-p-frameHeaderSize || int(h.length) > maxBody {
			return h, nil, false, nil
		}
		if h.seq == 0 {
			if !footers || h.length != footerBodySize {
				return h, nil, false, nil
			}
		} else if h.seq <= prev || h.seq >= maxSeq {
			return h, nil, false, nil
		}
		fb, err := load(p, frameHeaderSize+int(h.length))
		if err != nil {
			return h, nil, false, err
		}
		if frameCRC(fb, fb[frameHeaderSize:]) != h.crc {
			return h, nil, false, nil
		}
		return h, fb[frameHeaderSize:], true, nil
	}
	prev := after
	p := off
	for p < size {
		h, body, ok, err := frameAt(p, prev)
		if err != nil {
			return res, err
		}
		if ok {
			if h.seq == 0 {
				f := decodeFooter(body)
				res.footer = &f
				res.validEnd = p + frameHeaderSize + int64(h.length)
				res.tail = size - res.validEnd
				return res, nil
			}
			l := loc{seq: h.seq, off: p, n: h.length, ns: h.unixNs}
			res.locs = append(res.locs, l)
			if visit != nil {
				visit(l, body)
			}
			prev = h.seq
			p += frameHeaderSize + int64(h.length)
			res.validEnd = p
			continue
		}
		// Bad frame: look for the next valid one further on.
		next, err := resync(p+1, size, prev, frameAt, load)
		if err != nil {
			return res, err
		}
		if next < 0 {
			res.tail = size - p
			return res, nil
		}
		res.damage = append(res.damage, damage{off: p, end: next})
		p = next
	}
	return res, nil
}

// resync finds the first offset from p on where a valid frame with a seq
// above prev starts, or -1. The seq of a real record can only be a little
// above prev (one per frame that fits), which rejects most offsets without
// computing a CRC.
func resync(p, size int64, prev uint64, frameAt func(int64, uint64) (frameHeader, []byte, bool, error), load func(int64, int) ([]byte, error)) (int64, error) {
	limit := prev + uint64((size-p)/frameHeaderSize) + 1
	for ; size-p >= frameHeaderSize; p++ {
		// Skip runs of zeros fast: a frame never starts with 24 zero bytes.
		hb, err := load(p, frameHeaderSize)
		if err != nil {
			return -1, err
		}
		if hb[0] == 0 && bytes.Equal(hb, zeroHeader[:]) {
			continue
		}
		seq := decodeFrameHeader(hb).seq
		if seq != 0 && (seq <= prev || seq > limit) {
			continue
		}
		_, _, ok, err := frameAt(p, prev)
		if err != nil {
			return -1, err
		}
		if ok {
			return p, nil
		}
	}
	return -1, nil
}

var zeroHeader [frameHeaderSize]byte
