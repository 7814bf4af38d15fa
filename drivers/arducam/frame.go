package arducam

import (
	"fmt"

	"periph.io/x/conn/v3"
)

// FIFOLength decodes the FIFO_SIZE1..3 registers (0x42, 0x43, 0x44): 23
// bits, the top bit of 0x44 ignored.
func FIFOLength(r42, r43, r44 byte) int {
	return (int(r44&0x7F)<<16 | int(r43)<<8 | int(r42)) & 0x07FFFFF
}

// CheckFIFOLength rejects a length no frame can have: 0 (nothing captured)
// or max or more (the FIFO overflowed or the registers read garbage).
func CheckFIFOLength(n, max int) error {
	switch {
	case n == 0:
		return fmt.Errorf("arducam: FIFO is empty after capture-done (sensor not streaming: check the camera's power and SCCB setup): %w", ErrFIFOLength)
	case n >= max:
		return fmt.Errorf("arducam: FIFO length %d is at or above the %d-byte FIFO (overflow, or a garbled register read; lower the size or the JPEG quality): %w", n, max, ErrFIFOLength)
	}
	return nil
}

// readFIFO burst-reads len(dst) bytes in transfers of at most chunk bytes.
// Every transfer starts with the burst command 0x3C, whose reply byte is
// dropped; the FIFO read pointer carries on across chip-select cycles, as
// the ArduCAM examples rely on.
func readFIFO(c conn.Conn, dst []byte, chunk int) error {
	if chunk < 2 {
		return fmt.Errorf("chunk of %d bytes cannot hold the burst command and a byte", chunk)
	}
	w := make([]byte, min(chunk, len(dst)+1))
	r := make([]byte, len(w))
	w[0] = cmdBurstRead
	for off := 0; off < len(dst); {
		n := min(chunk-1, len(dst)-off)
		if err := c.Tx(w[:n+1], r[:n+1]); err != nil {
			return fmt.Errorf("burst read at FIFO offset %d (%d bytes): %w", off, n+1, err)
		}
		off += copy(dst[off:off+n], r[1:n+1])
	}
	return nil
}

// JPEG markers.
const (
	markerSOI  = 0xD8
	markerEOI  = 0xD9
	markerSOS  = 0xDA
	markerTEM  = 0x01
	markerRST0 = 0xD0
	markerRST7 = 0xD7
)

// FrameJPEG finds the JPEG image in a FIFO dump: from the first FF D8 to
// the FF D9 that ends it, walking the marker segments so that an FF D9 in a
// segment's payload is not taken for the end. Bytes before FF D8 (the
// OV2640 sometimes leads with a 0x00) and after FF D9 (the FIFO length is
// rounded up) are dropped. The result is a subslice of buf.
func FrameJPEG(buf []byte) ([]byte, error) {
	start := -1
	for i := 0; i+1 < len(buf); i++ {
		if buf[i] == 0xFF && buf[i+1] == markerSOI {
			start = i
			break
		}
	}
	if start < 0 {
		return nil, fmt.Errorf("arducam: no JPEG start (FF D8) in %d FIFO bytes (sensor not in JPEG mode, or the SPI read is shifted): %w", len(buf), ErrNoJPEG)
	}
	i := start + 2
	for {
		// Expect a marker: FF, optional fill FFs, then the code.
		if i >= len(buf) {
			return nil, truncated(buf[start:], "before the end marker")
		}
		if buf[i] != 0xFF {
			return nil, fmt.Errorf("arducam: JPEG byte %d is 0x%02X where a marker should start: %w", i-start, buf[i], ErrBadJPEG)
		}
		for i < len(buf) && buf[i] == 0xFF {
			i++
		}
		if i >= len(buf) {
			return nil, truncated(buf[start:], "in a marker")
		}
		code := buf[i]
		i++
		switch {
		case code == markerEOI:
			return buf[start:i], nil
		case code == markerSOI, code == 0x00:
			return nil, fmt.Errorf("arducam: JPEG marker FF %02X at byte %d is out of place: %w", code, i-2-start, ErrBadJPEG)
		case code == markerTEM, code >= markerRST0 && code <= markerRST7:
			continue // no payload
		}
		if i+2 > len(buf) {
			return nil, truncated(buf[start:], "in a segment length")
		}
		n := int(buf[i])<<8 | int(buf[i+1])
		if n < 2 {
			return nil, fmt.Errorf("arducam: JPEG segment FF %02X at byte %d has length %d: %w", code, i-2-start, n, ErrBadJPEG)
		}
		if i+n > len(buf) {
			return nil, truncated(buf[start:], fmt.Sprintf("in segment FF %02X", code))
		}
		i += n
		if code != markerSOS {
			continue
		}
		// Entropy-coded data: FF 00 is a stuffed FF, FF D0..D7 are restart
		// markers, FF FF is fill; any other FF xx ends the scan.
		for {
			if i+1 >= len(buf) {
				return nil, truncated(buf[start:], "in the scan data")
			}
			if buf[i] != 0xFF {
				i++
				continue
			}
			next := buf[i+1]
			if next == 0x00 || (next >= markerRST0 && next <= markerRST7) {
				i += 2
				continue
			}
			if next == 0xFF {
				i++
				continue
			}
			break // a marker: back to the segment loop
		}
	}
}

func truncated(jpeg []byte, where string) error {
	return fmt.Errorf("arducam: JPEG of %d bytes ends %s, without FF D9 (frame cut short: FIFO overflow or a capture deadline too short): %w", len(jpeg), where, ErrTruncatedJPEG)
}
