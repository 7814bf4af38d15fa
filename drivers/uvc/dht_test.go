package uvc

import (
	"bytes"
	"image"
	"image/jpeg"
	"testing"
)

// Go's encoder writes the Annex K tables; the segment inserted into
// MJPEG frames must be byte for byte what it writes for a colour image.
func TestDefaultDHTMatchesGoEncoder(t *testing.T) {
	var b bytes.Buffer
	if err := jpeg.Encode(&b, image.NewRGBA(image.Rect(0, 0, 16, 16)), nil); err != nil {
		t.Fatal(err)
	}
	jpg := b.Bytes()
	i := bytes.Index(jpg, []byte{0xFF, 0xC4})
	if i < 0 {
		t.Fatal("Go's JPEG has no DHT")
	}
	n := int(jpg[i+2])<<8 | int(jpg[i+3])
	got := jpg[i : i+2+n]
	if !bytes.Equal(got, defaultDHT) {
		t.Errorf("defaultDHT (%d bytes) differs from the DHT Go writes (%d bytes)", len(defaultDHT), len(got))
	}
}
