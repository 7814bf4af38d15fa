package synth

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
)

// EncodePNG writes img as a PNG that states its resolution (a pHYs chunk
// in pixels per metre), so that readers such as agent/fingerimage and
// kioskctl eval take the image at ppi without being told. The bytes depend
// only on img and ppi (and the Go release's image/png).
func EncodePNG(w io.Writer, img image.Image, ppi int) error {
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return fmt.Errorf("synth: encoding PNG: %w", err)
	}
	data := buf.Bytes()
	// The signature (8 bytes) and the IHDR chunk (4 length + 4 type + 13
	// data + 4 CRC) come first; pHYs goes right after them.
	const ihdrEnd = 8 + 4 + 4 + 13 + 4
	if len(data) < ihdrEnd || string(data[12:16]) != "IHDR" {
		return fmt.Errorf("synth: image/png wrote no IHDR chunk where expected")
	}
	ppm := uint32((ppi*10000 + 127) / 254) // pixels per metre, rounded
	chunk := make([]byte, 0, 21)
	chunk = binary.BigEndian.AppendUint32(chunk, 9)
	chunk = append(chunk, "pHYs"...)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = binary.BigEndian.AppendUint32(chunk, ppm)
	chunk = append(chunk, 1) // unit: metre
	chunk = binary.BigEndian.AppendUint32(chunk, crc32.ChecksumIEEE(chunk[4:]))
	for _, part := range [][]byte{data[:ihdrEnd], chunk, data[ihdrEnd:]} {
		if _, err := w.Write(part); err != nil {
			return fmt.Errorf("synth: writing PNG: %w", err)
		}
	}
	return nil
}
