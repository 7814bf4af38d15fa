package minutiae

import (
	"encoding/binary"
	"math/bits"
)

var le = binary.LittleEndian

// Oriented filter geometry.
const (
	// nDirs is the number of quantised ridge orientations of the filters
	// (5.625° apart).
	nDirs = 32
	// alongR is the half-length of the smoothing along the ridge, which
	// takes every other pixel: 8 taps over 15 pixels.
	alongR    = 7
	alongTaps = 2*alongR + 1
	// acrossR is the half-length of the average across the ridge: 9 pixels,
	// about one ridge period at 500 ppi.
	acrossR = 4
)

// newTables builds the lookup tables.
func newTables() *tables {
	t := &tables{}
	for c := 0; c < 256; c++ {
		var x [8]int
		n := 0
		for i := range 8 {
			x[i] = c >> i & 1
			n += x[i]
		}
		t.count[c] = uint8(n)
		// Yokoi's 8-connectivity number over the 4-neighbours E, N, W, S
		// (even indices) with complemented values.
		k8 := 0
		for k := 0; k < 8; k += 2 {
			a, b, d := 1-x[k], 1-x[(k+1)&7], 1-x[(k+2)&7]
			k8 += a - a*b*d
		}
		t.yokoi[c] = uint8(k8)
		// Rutovitz crossing number: clear-to-set transitions around.
		cn := 0
		for k := range 8 {
			if x[k] == 0 && x[(k+1)&7] == 1 {
				cn++
			}
		}
		t.cn[c] = uint8(cn)
	}
	for d := range nDirs {
		a := d * halfTurn / nDirs
		for k := -alongR; k <= alongR; k++ {
			t.alongX[d][k+alongR] = int8(roundDiv(k*cosQ14(a), 1<<14))
			t.alongY[d][k+alongR] = int8(-roundDiv(k*sinQ14(a), 1<<14))
		}
		for k := -acrossR; k <= acrossR; k++ {
			t.acrX[d][k+acrossR] = int8(roundDiv(k*cosQ14(a+turn/4), 1<<14))
			t.acrY[d][k+acrossR] = int8(-roundDiv(k*sinQ14(a+turn/4), 1<<14))
		}
	}
	return t
}

// filterDir returns the quantised filter direction of block b.
func (e *Extractor) filterDir(b int) int {
	return (int(e.ori[b]) + halfTurn/nDirs/2) * nDirs / halfTurn & (nDirs - 1)
}

// Byte-lane masks for the SWAR (SIMD within a register) filters.
const (
	lanes8to16 = 0x00FF00FF00FF00FF
	lane16     = 0xFFFF
)

// binarize smooths the image along the ridges (15 pixels) in the dilated
// foreground, then marks as ridge each foreground pixel darker than the
// 9-pixel average of the smoothed image across the ridge. The result goes
// to the bit image e.bits (see thin).
//
// Both filters work on a block row of 8 pixels at once: the grey bytes of 8
// pixels are loaded as one uint64 and split into even and odd pixels in
// 16-bit lanes (15×255 fits); the smoothed values are stored as
// little-endian uint16 and summed 4 at a time (9×3825 fits).
func (e *Extractor) binarize() {
	s := e.stride
	t := e.tables
	var offA [alongTaps]int
	var offC [2*acrossR + 1]int
	g, al := e.gray, e.along
	for by := 0; by < e.bh; by++ {
		y0, y1 := by*bs, min(by*bs+bs, e.h)
		for bx := 0; bx < e.bw; bx++ {
			b := by*e.bw + bx
			if e.dil[b] == 0 {
				continue
			}
			d := e.filterDir(b)
			for k := range offA {
				offA[k] = int(t.alongY[d][k])*s + int(t.alongX[d][k])
			}
			for y := y0; y < y1; y++ {
				p := (y+pad)*s + pad + bx*bs
				var ev, od uint64
				for _, o := range offA {
					v := le.Uint64(g[p+o : p+o+8])
					ev += v & lanes8to16
					od += v >> 8 & lanes8to16
				}
				// Interleave even and odd lanes back into pixel order.
				lo := ev&lane16 | (od&lane16)<<16 | (ev>>16&lane16)<<32 | (od>>16&lane16)<<48
				hi := ev>>32&lane16 | (od>>32&lane16)<<16 | (ev>>48)<<32 | (od>>48)<<48
				le.PutUint64(al[2*p:], lo)
				le.PutUint64(al[2*p+8:], hi)
			}
		}
	}
	ridge := e.bits
	clear(ridge)
	wpr := e.wpr
	e.clarSum, e.clarN = 0, 0
	for by := 0; by < e.bh; by++ {
		y0, y1 := by*bs, min(by*bs+bs, e.h)
		for bx := 0; bx < e.bw; bx++ {
			b := by*e.bw + bx
			if e.mask[b] == 0 {
				continue
			}
			d := e.filterDir(b)
			for k := range offC {
				offC[k] = 2 * (int(t.acrY[d][k])*s + int(t.acrX[d][k]))
			}
			x0, x1 := bx*bs, min(bx*bs+bs, e.w)
			valid := uint64(1)<<(x1-x0) - 1
			var sumR, nR, sumAll int32
			for y := y0; y < y1; y++ {
				p := (y+pad)*s + pad + x0
				var r uint64
				var lo, hi uint64
				for _, o := range offC {
					lo += le.Uint64(al[2*p+o : 2*p+o+8])
					hi += le.Uint64(al[2*p+8+o : 2*p+16+o])
				}
				c0, c1 := le.Uint64(al[2*p:]), le.Uint64(al[2*p+8:])
				for k := 0; k < 4; k++ {
					sh := 16 * k
					r |= b2u64((c0>>sh&lane16)*(2*acrossR+1) < lo>>sh&lane16) << k
					r |= b2u64((c1>>sh&lane16)*(2*acrossR+1) < hi>>sh&lane16) << (k + 4)
				}
				r &= valid
				ridge[(y+1)*wpr+1+bx/8] |= r << (8 * (bx & 7))
				// Clarity: grey sums of ridge pixels and of all.
				v := le.Uint64(g[p:]) & byteMask[valid]
				sumAll += hsum8(v)
				sumR += hsum8(v & byteMask[r])
				nR += int32(bits.OnesCount8(uint8(r)))
			}
			n := int32((y1 - y0) * (x1 - x0))
			if e.dist[b] >= 2 && nR > 0 && nR < n {
				// Ridge-valley separation relative to the block's spread.
				diff := (sumAll-sumR)*nR - sumR*(n-nR) // (meanV-meanR)·nR·nV
				std := max(int32(e.bstd[b]), 1)
				c := int64(diff) * 50 / (int64(nR) * int64(n-nR) * int64(std))
				e.clarSum += max(0, min(c, 100))
				e.clarN++
			}
		}
	}
}

// byteMask[m] has byte k all ones where bit k of m is set.
var byteMask = func() (t [256]uint64) {
	for m := range t {
		for k := range 8 {
			if m>>k&1 != 0 {
				t[m] |= 0xFF << (8 * k)
			}
		}
	}
	return t
}()

// hsum8 returns the sum of the 8 bytes of v.
func hsum8(v uint64) int32 {
	v = v&lanes8to16 + v>>8&lanes8to16         // 4 sums of 2, in 16-bit lanes
	return int32(v * 0x0001000100010001 >> 48) // sum of the 4 lanes
}

func b2u64(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}
