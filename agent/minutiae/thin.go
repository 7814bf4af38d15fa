package minutiae

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
const maxThinRounds = 40

// thin reduces the ridge map to an 8-connected skeleton one pixel wide:
// rounds of four directional passes (N, E, S, W) delete border pixels that
// are simple (their removal keeps the ridge connected) and not end points,
// until nothing changes. Only pixels next to a deletion are looked at
// again. In bin, bit 0 is ridge and bit 1 means "queued".
func (e *Extractor) thin() {
	s := e.stride
	bin := e.bin
	o := e.neighbourOffsets()
	t := e.tables
	q := e.queue[:0]
	// Initial queue: ridge pixels with a background 4-neighbour.
	for y := 0; y < e.h; y++ {
		row := (y+pad)*s + pad
		for p := row; p < row+e.w; p++ {
			if bin[p] != 0 && (bin[p+1] == 0 || bin[p-1] == 0 || bin[p+s] == 0 || bin[p-s] == 0) {
				bin[p] = 3
				q = append(q, int32(p))
			}
		}
	}
	dirs := [4]int{-s, 1, s, -1} // N, E, S, W
	next := e.next[:0]
	for round := 0; round < maxThinRounds && len(q) > 0; round++ {
		for _, p := range q {
			bin[p] &= 1 // a queued pixel may have been deleted since
		}
		next = next[:0]
		for _, d := range dirs {
			for _, p32 := range q {
				p := int(p32)
				if bin[p]&1 == 0 || bin[p+d]&1 != 0 {
					continue
				}
				c := code(bin, p, &o)
				if t.count[c] < 2 || t.yokoi[c] != 1 {
					continue
				}
				bin[p] = 0
				for _, ok := range o {
					if n := p + ok; bin[n] == 1 {
						bin[n] = 3
						next = append(next, int32(n))
					}
				}
			}
		}
		q, next = next, q
	}
	for _, p := range q {
		bin[p] &= 1
	}
	e.queue, e.next = q[:0], next[:0]
}
