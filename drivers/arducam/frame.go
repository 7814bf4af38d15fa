package arducam

import (
	"errors"
	"fmt"

	"periph.io/x/conn/v3"

	"github.com/bali-rbdes/kiosk/drivers/internal/jpegseg"
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

// FrameJPEG finds the JPEG image in a FIFO dump: from the first FF D8 to
// the FF D9 that ends it, walking the marker segments so that an FF D9 in a
// segment's payload is not taken for the end. Bytes before FF D8 (the
// OV2640 sometimes leads with a 0x00) and after FF D9 (the FIFO length is
// rounded up) are dropped. The result is a subslice of buf.
func FrameJPEG(buf []byte) ([]byte, error) {
	info, err := jpegseg.Find(buf)
	switch {
	case errors.Is(err, jpegseg.ErrNoStart):
		return nil, fmt.Errorf("arducam: no JPEG start (FF D8) in %d FIFO bytes (sensor not in JPEG mode, or the SPI read is shifted): %w", len(buf), ErrNoJPEG)
	case errors.Is(err, jpegseg.ErrTruncated):
		return nil, fmt.Errorf("arducam: JPEG ends without FF D9 (%v; frame cut short: FIFO overflow or a capture deadline too short): %w", err, ErrTruncatedJPEG)
	case err != nil:
		return nil, fmt.Errorf("arducam: %v: %w", err, ErrBadJPEG)
	}
	return buf[info.Start:info.End], nil
}
