package matcher

import (
	"encoding/binary"
	"math"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// minutiaeFrom reads 6-byte minutiae (x, y, angle, quality) as a record
// would hold them, after a 2-byte resolution.
func minutiaeFrom(data []byte) ([]fmr.Minutia, int) {
	if len(data) < 2 {
		return nil, 0
	}
	ppi := int(binary.BigEndian.Uint16(data)) - 1000 // also zero and negative
	data = data[2:]
	var ms []fmr.Minutia
	for len(data) >= 6 && len(ms) < 255 {
		ms = append(ms, fmr.Minutia{
			Kind:    fmr.Kind(data[0] >> 6),
			X:       binary.BigEndian.Uint16(data[0:]) & fmr.MaxCoord,
			Y:       binary.BigEndian.Uint16(data[2:]) & fmr.MaxCoord,
			Angle:   data[4],
			Quality: data[5] % 101,
		})
		data = data[6:]
	}
	return ms, ppi
}

// FuzzPrepareScore: any minutiae a decoded record can hold, at any stated
// resolution, prepare and score without panicking, within [0, 1],
// symmetrically.
func FuzzPrepareScore(f *testing.F) {
	line := []byte{0x05, 0xdc} // 500 ppi
	for i := range 30 {
		line = append(line, 0, byte(10*i), 0, 50, byte(i), 60)
	}
	f.Add(line, line[:20])
	f.Add([]byte{0x05, 0xdc, 0x3f, 0xff, 0x3f, 0xff, 1, 2, 0, 0, 0, 0, 3, 4}, []byte{0, 0})
	f.Add([]byte{0xff, 0xff}, []byte{0x03, 0xe8, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0})
	m := Default()
	f.Fuzz(func(t *testing.T, a, b []byte) {
		ma, pa := minutiaeFrom(a)
		mb, pb := minutiaeFrom(b)
		ta, tb := m.Prepare(ma, pa), m.Prepare(mb, pb)
		s := m.Score(ta, tb)
		if s < 0 || s > 1 || math.IsNaN(s) {
			t.Fatalf("Score = %v, want in [0, 1]", s)
		}
		if r := m.Score(tb, ta); r != s {
			t.Fatalf("Score(a, b) = %v, Score(b, a) = %v", s, r)
		}
	})
}
