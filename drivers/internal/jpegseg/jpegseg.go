// Package jpegseg walks the marker segments of a JPEG stream (ITU-T T.81
// Annex B) without decoding it: it finds where an image starts and ends in
// a camera's buffer, and what tables it carries. The ArduCAM driver cuts
// frames out of its FIFO with it; the UVC driver uses it to see whether an
// MJPEG frame lacks its Huffman tables.
package jpegseg

import (
	"errors"
	"fmt"
)

// Errors, wrapped with details.
var (
	// ErrNoStart: no FF D8 in the buffer.
	ErrNoStart = errors.New("no JPEG start marker (FF D8)")
	// ErrTruncated: the image has no FF D9 before the buffer ends.
	ErrTruncated = errors.New("JPEG has no end marker (FF D9)")
	// ErrMalformed: the marker structure is broken.
	ErrMalformed = errors.New("malformed JPEG marker structure")
)

// Markers.
const (
	SOI  = 0xD8
	EOI  = 0xD9
	SOS  = 0xDA
	DHT  = 0xC4
	DQT  = 0xDB
	TEM  = 0x01
	RST0 = 0xD0
	RST7 = 0xD7
)

// Info is what Find learns about the image.
type Info struct {
	// Start and End delimit the image in the buffer: buf[Start:End] runs
	// from FF D8 to FF D9 inclusive.
	Start, End int
	// HasDHT reports a Huffman table segment before the first scan.
	HasDHT bool
	// HasDQT reports a quantisation table segment before the first scan.
	HasDQT bool
	// FirstSOS is the offset in buf of the first scan's FF DA, or -1.
	FirstSOS int
}

// Find locates the first JPEG image in buf: from the first FF D8 to the
// FF D9 that ends it, walking the segments so that an FF D9 inside a
// segment's payload is not taken for the end, and skipping stuffed bytes
// (FF 00), restart markers and fill bytes in entropy-coded data.
func Find(buf []byte) (Info, error) {
	info := Info{Start: -1, FirstSOS: -1}
	for i := 0; i+1 < len(buf); i++ {
		if buf[i] == 0xFF && buf[i+1] == SOI {
			info.Start = i
			break
		}
	}
	if info.Start < 0 {
		return info, fmt.Errorf("%w in %d bytes", ErrNoStart, len(buf))
	}
	start := info.Start
	i := start + 2
	for {
		if i >= len(buf) {
			return info, truncated(i-start, "before the end marker")
		}
		if buf[i] != 0xFF {
			return info, fmt.Errorf("%w: byte %d is 0x%02X where a marker should start", ErrMalformed, i-start, buf[i])
		}
		at := i
		for i < len(buf) && buf[i] == 0xFF {
			i++
		}
		if i >= len(buf) {
			return info, truncated(i-start, "in a marker")
		}
		code := buf[i]
		ff := i - 1 // the FF just before the code, after any fill bytes
		i++
		switch {
		case code == EOI:
			info.End = i
			return info, nil
		case code == SOI, code == 0x00:
			return info, fmt.Errorf("%w: marker FF %02X at byte %d is out of place", ErrMalformed, code, at-start)
		case code == TEM, code >= RST0 && code <= RST7:
			continue
		}
		if i+2 > len(buf) {
			return info, truncated(i-start, "in a segment length")
		}
		n := int(buf[i])<<8 | int(buf[i+1])
		if n < 2 {
			return info, fmt.Errorf("%w: segment FF %02X at byte %d has length %d", ErrMalformed, code, at-start, n)
		}
		if i+n > len(buf) {
			return info, truncated(len(buf)-start, fmt.Sprintf("in segment FF %02X", code))
		}
		i += n
		switch code {
		case DHT:
			if info.FirstSOS < 0 {
				info.HasDHT = true
			}
		case DQT:
			if info.FirstSOS < 0 {
				info.HasDQT = true
			}
		case SOS:
			if info.FirstSOS < 0 {
				info.FirstSOS = ff
			}
			i = scanEntropy(buf, i)
			if i < 0 {
				return info, truncated(len(buf)-start, "in the scan data")
			}
		}
	}
}

// scanEntropy returns the offset of the marker that ends the entropy-coded
// data starting at i, or -1 when buf ends first.
func scanEntropy(buf []byte, i int) int {
	for i+1 < len(buf) {
		if buf[i] != 0xFF {
			i++
			continue
		}
		switch next := buf[i+1]; {
		case next == 0x00, next >= RST0 && next <= RST7:
			i += 2
		case next == 0xFF:
			i++
		default:
			return i
		}
	}
	return -1
}

func truncated(n int, where string) error {
	return fmt.Errorf("%w: %d bytes end %s", ErrTruncated, n, where)
}
