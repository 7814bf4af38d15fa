package minutiae

import "math/bits"

// Neighbour k of a pixel, k = 0..7 counter-clockwise from east (y up):
// E, NE, N, NW, W, SW, S, SE.
var nbX = [8]int{1, 1, 0, -1, -1, -1, 0, 1}
var nbY = [8]int{0, -1, -1, -1, 0, 1, 1, 1}

// neighbourOffsets returns the buffer offsets of the 8 neighbours.
func (e *Extractor) neighbourOffsets() [8]int {
	var o [8]int
	for k := range o {
		o[k] = nbY[k]*e.stride + nbX[k]
	}
	return o
}

// code returns the 8-bit neighbourhood code of pixel p (bit k set when
// neighbour k is ridge).
func code(bin []uint8, p int, o *[8]int) int {
	return int(bin[p+o[0]]&1) | int(bin[p+o[1]]&1)<<1 | int(bin[p+o[2]]&1)<<2 |
		int(bin[p+o[3]]&1)<<3 | int(bin[p+o[4]]&1)<<4 | int(bin[p+o[5]]&1)<<5 |
		int(bin[p+o[6]]&1)<<6 | int(bin[p+o[7]]&1)<<7
}

// maxThinRounds bounds the thinning; ridges are a few pixels wide, so it
// converges in far fewer rounds.
const maxThinRounds = 32

// Thinning pass directions.
const (
	north = iota
	east
	south
	west
)

// thin reduces the ridge bit image to an 8-connected skeleton one pixel
// wide, 64 pixels at a time: rounds of four directional passes (N, E, S, W)
// each delete, in parallel, every border pixel of that direction that is
// simple (8-connectivity; Yokoi's connectivity number is 1) and not an end
// point (it has at least two neighbours), until a round deletes nothing.
// Deleting simple non-end border points of one direction in parallel keeps
// the topology (Rosenfeld 1975). The skeleton is then unpacked into e.bin
// for tracing.
func (e *Extractor) thin() {
	src, dst := e.bits, e.bits2
	// dirty[y+1] is the last pass that deleted pixels in row y; a row
	// whose neighbourhood has not changed for four passes would not change
	// in the fifth either, and is copied rather than recomputed.
	e.dirty = grow(e.dirty, e.h+2)
	for i := range e.dirty {
		e.dirty[i] = 4
	}
	pass := int32(4)
	for round := 0; round < maxThinRounds; round++ {
		var changed uint64
		for dir := north; dir <= west; dir++ {
			changed |= e.thinPass(src, dst, dir, pass)
			src, dst = dst, src
			pass++
		}
		if changed == 0 {
			break
		}
	}
	e.bits, e.bits2 = src, dst
	// Unpack.
	s, wpr := e.stride, e.wpr
	for y := 0; y < e.h; y++ {
		row := src[(y+1)*wpr : (y+2)*wpr]
		base := (y+pad)*s + pad
		for j := 1; j < wpr-1; j++ {
			for v := row[j]; v != 0; v &= v - 1 {
				x := (j-1)*64 + bits.TrailingZeros64(v)
				e.bin[base+x] = 1
			}
		}
	}
}

// thinPass runs one directional pass from src into dst and returns a
// non-zero value when it deleted something.
func (e *Extractor) thinPass(src, dst []uint64, dir int, pass int32) uint64 {
	wpr := e.wpr
	dirty := e.dirty
	var changed uint64
	for y := 1; y <= e.h; y++ {
		up := src[(y-1)*wpr : y*wpr]
		cur := src[y*wpr : (y+1)*wpr]
		down := src[(y+1)*wpr : (y+2)*wpr]
		out := dst[y*wpr : (y+1)*wpr]
		if max(dirty[y-1], dirty[y], dirty[y+1]) < pass-4 {
			copy(out, cur)
			continue
		}
		var rowDel uint64
		for j := 1; j < wpr-1; j++ {
			c := cur[j]
			if c == 0 {
				out[j] = 0
				continue
			}
			u, d := up[j], down[j]
			// Neighbour planes: bit x of each is pixel x's neighbour.
			xE := c>>1 | cur[j+1]<<63
			xW := c<<1 | cur[j-1]>>63
			xN := u
			xS := d
			xNE := u>>1 | up[j+1]<<63
			xNW := u<<1 | up[j-1]>>63
			xSE := d>>1 | down[j+1]<<63
			xSW := d<<1 | down[j-1]>>63
			var border uint64
			switch dir {
			case north:
				border = ^xN
			case east:
				border = ^xE
			case south:
				border = ^xS
			default:
				border = ^xW
			}
			// Yokoi terms over E, N, W, S: t = ¬x_k ∧ (x_k+1 ∨ x_k+2).
			t0 := ^xE & (xNE | xN)
			t1 := ^xN & (xNW | xW)
			t2 := ^xW & (xSW | xS)
			t3 := ^xS & (xSE | xE)
			odd := t0 ^ t1 ^ t2 ^ t3
			three := t0&t1&(t2|t3) | t2&t3&(t0|t1)
			simple := odd &^ three
			// At least two neighbours.
			var one, two uint64
			for _, n := range [8]uint64{xE, xNE, xN, xNW, xW, xSW, xS, xSE} {
				two |= one & n
				one |= n
			}
			del := c & border & simple & two
			out[j] = c &^ del
			rowDel |= del
		}
		if rowDel != 0 {
			dirty[y] = pass
			changed |= rowDel
		}
	}
	return changed
}
