package r30x

import (
	"fmt"
	"image"
	"time"
)

// Image geometry of UpImage: 256 x 288 pixels, 4 bits each, two pixels a
// byte with the left one in the high nibble.
const (
	ImageWidth  = 256
	ImageHeight = 288
	// ImageBytes is the size of the packed image on the wire.
	ImageBytes = ImageWidth * ImageHeight / 2
)

// imageWireBytes is how many bytes an upload puts on the wire after its
// acknowledgement, for a data packet size.
func imageWireBytes(packetSize int) int {
	if packetSize <= 0 {
		packetSize = 32 // the worst case: most packets
	}
	return ImageBytes / packetSize * (headerLen + packetSize)
}

// UploadImage transfers the image buffer to the host (UpImage) and returns
// it as 8-bit grey, each 4-bit sample v stored as v*17. Every data packet is
// checked: its checksum, its address, its length (the configured packet
// size), its type (data packets, then exactly one end packet as the last)
// and that it arrives within the packet deadline. Take an image first with
// Capture or WaitFinger.
func (d *Dev) UploadImage() (*image.Gray, error) {
	img := image.NewGray(image.Rect(0, 0, ImageWidth, ImageHeight))
	if err := d.UploadImageInto(img.Pix); err != nil {
		return nil, err
	}
	return img, nil
}

// UploadImageInto is UploadImage into a caller's buffer of
// ImageWidth*ImageHeight bytes, so a capture loop can reuse it.
func (d *Dev) UploadImageInto(pix []byte) error {
	if len(pix) != ImageWidth*ImageHeight {
		return fmt.Errorf("r30x: image buffer is %d bytes, want %d", len(pix), ImageWidth*ImageHeight)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, err := d.transact("UpImage", cmdUpImage, nil, 0); err != nil {
		return err
	}
	size := d.params.PacketSize
	want := ImageBytes / size
	timeout := d.packetTimeout()
	off := 0
	for i := range want {
		p, err := d.readPacket(time.Now().Add(timeout))
		if err != nil {
			d.dirty, d.aborted = true, true
			return d.explain(fmt.Sprintf("UpImage data packet %d of %d", i+1, want), timeout, err)
		}
		last := i == want-1
		var bad string
		switch {
		case p.PID == PIDData && !last, p.PID == PIDEnd && last:
		case p.PID == PIDEnd:
			bad = fmt.Sprintf("image ended at packet %d, want %d packets of %d bytes", i+1, want, size)
		case p.PID == PIDData:
			bad = fmt.Sprintf("packet %d is not marked last, want the image to end after %d packets of %d bytes", i+1, want, size)
		default:
			bad = fmt.Sprintf("packet %d has type 0x%02X, want a data packet", i+1, p.PID)
		}
		if bad == "" && len(p.Payload) != size {
			bad = fmt.Sprintf("packet %d carries %d bytes, want the packet size %d", i+1, len(p.Payload), size)
		}
		if bad != "" {
			d.dirty, d.aborted = true, !last
			return linkErrorf(ErrFrame, "r30x: UpImage: %s", bad)
		}
		for _, b := range p.Payload {
			pix[off] = (b >> 4) * 17
			pix[off+1] = (b & 0x0F) * 17
			off += 2
		}
	}
	return nil
}

// packetTimeout bounds the arrival of one image data packet.
func (d *Dev) packetTimeout() time.Duration {
	if d.opts.PacketTimeout > 0 {
		return d.opts.PacketTimeout
	}
	return 4*d.wireTime(headerLen+d.params.PacketSize) + d.opts.Timeout/2
}

// PackImage packs an 8-bit grey image of ImageWidth x ImageHeight into the
// 4-bit wire form (v>>4 per pixel, left pixel in the high nibble). It is the
// inverse of what UploadImage does, for simulators and tests.
func PackImage(g *image.Gray) ([]byte, error) {
	if g.Rect.Dx() != ImageWidth || g.Rect.Dy() != ImageHeight {
		return nil, fmt.Errorf("r30x: image is %dx%d, want %dx%d", g.Rect.Dx(), g.Rect.Dy(), ImageWidth, ImageHeight)
	}
	out := make([]byte, 0, ImageBytes)
	for y := range ImageHeight {
		row := g.Pix[y*g.Stride : y*g.Stride+ImageWidth]
		for x := 0; x < ImageWidth; x += 2 {
			out = append(out, row[x]&0xF0|row[x+1]>>4)
		}
	}
	return out, nil
}
