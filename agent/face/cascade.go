package face

import (
	"encoding/binary"
	"fmt"
	"math"
)

// Cascade is a PICO face classifier: a boosted cascade of binary decision
// trees whose nodes compare the intensities of two pixels (N. Markuš et al.,
// "Object detection with pixel intensity comparisons organized in decision
// trees", arXiv:1305.4537). It is read from the binary file format of
// nenadmarkus/pico ("facefinder"); the embedded default is that file.
//
// A Cascade is immutable once parsed and safe for concurrent use.
type Cascade struct {
	depth int // tree depth (tdepth)
	trees int
	// codes holds, per tree, 2^depth groups of four int8 (r1, c1, r2, c2):
	// group 0 is unused so that node idx (1-based, heap order) is at group
	// idx, as in pico's "tcodes = ptree - 4".
	codes []int8
	// leaves holds, per tree, 2^depth leaf outputs.
	leaves []float32
	// thresholds holds, per tree, the early-rejection threshold.
	thresholds []float32
}

// PICO file layout (little endian): int32 version, int8[4] bounding box,
// int32 tree depth, int32 tree count, then per tree (2^depth - 1) node codes
// of 4 int8, 2^depth float32 leaf outputs and one float32 threshold.
const (
	picoHeaderSize = 16
	picoMaxDepth   = 12    // facefinder uses 6; deeper trees are not sensible
	picoMaxTrees   = 16384 // facefinder has 468
)

// ParseCascade reads a PICO cascade file. It checks the sizes exactly and
// rejects non-finite outputs, so a damaged file is refused with an error
// wrapping ErrBadCascade instead of misdetecting.
func ParseCascade(b []byte) (*Cascade, error) {
	if len(b) < picoHeaderSize {
		return nil, fmt.Errorf("face: PICO cascade is %d bytes, shorter than its %d-byte header (is it a pico cascade file?): %w", len(b), picoHeaderSize, ErrBadCascade)
	}
	depth := int32(binary.LittleEndian.Uint32(b[8:]))
	ntrees := int32(binary.LittleEndian.Uint32(b[12:]))
	if depth < 1 || depth > picoMaxDepth {
		return nil, fmt.Errorf("face: PICO cascade tree depth %d is outside 1..%d (is it a pico cascade file?): %w", depth, picoMaxDepth, ErrBadCascade)
	}
	if ntrees < 1 || ntrees > picoMaxTrees {
		return nil, fmt.Errorf("face: PICO cascade tree count %d is outside 1..%d (is it a pico cascade file?): %w", ntrees, picoMaxTrees, ErrBadCascade)
	}
	nleaves := 1 << depth
	treeSize := 4*(nleaves-1) + 4*nleaves + 4
	if want := picoHeaderSize + int(ntrees)*treeSize; len(b) != want {
		return nil, fmt.Errorf("face: PICO cascade is %d bytes, want %d for %d trees of depth %d (file truncated or padded): %w", len(b), want, ntrees, depth, ErrBadCascade)
	}
	c := &Cascade{
		depth:      int(depth),
		trees:      int(ntrees),
		codes:      make([]int8, int(ntrees)*4*nleaves),
		leaves:     make([]float32, int(ntrees)*nleaves),
		thresholds: make([]float32, ntrees),
	}
	p := picoHeaderSize
	for t := 0; t < int(ntrees); t++ {
		codes := c.codes[t*4*nleaves:]
		for i := 4; i < 4*nleaves; i++ {
			codes[i] = int8(b[p])
			p++
		}
		for i := 0; i < nleaves; i++ {
			v := math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
			if !finite32(v) {
				return nil, fmt.Errorf("face: PICO cascade tree %d leaf %d is not a finite number: %w", t, i, ErrBadCascade)
			}
			c.leaves[t*nleaves+i] = v
			p += 4
		}
		v := math.Float32frombits(binary.LittleEndian.Uint32(b[p:]))
		if !finite32(v) {
			return nil, fmt.Errorf("face: PICO cascade tree %d threshold is not a finite number: %w", t, ErrBadCascade)
		}
		c.thresholds[t] = v
		p += 4
	}
	return c, nil
}

func finite32(v float32) bool {
	f := float64(v)
	return !math.IsNaN(f) && !math.IsInf(f, 0)
}

// Depth returns the depth of the cascade's trees.
func (c *Cascade) Depth() int { return c.depth }

// Trees returns the number of trees in the cascade.
func (c *Cascade) Trees() int { return c.trees }

// offsets is the pixel-offset table of one window size: for every tree and
// node, the offsets of the two compared pixels from the window centre in a
// frame of a given stride. pico computes (r*256 + code*s)/256 per pixel; as
// r*256 is a multiple of 256 that is r + floor(code*s/256), so the offsets
// depend only on the size and the stride and are computed once per scale,
// lazily, as windows reach deeper trees.
type offsets struct {
	cascade      *Cascade
	size, stride int
	built        int     // trees whose offsets are filled in
	off          []int32 // per tree, 2^depth pairs (pair 0 unused)
}

// reset makes o the (empty) table of windows of size in frames of stride.
func (o *offsets) reset(c *Cascade, size, stride int) {
	n := c.trees * 2 << c.depth
	if cap(o.off) < n {
		o.off = make([]int32, n)
	}
	*o = offsets{cascade: c, size: size, stride: stride, off: o.off[:n]}
}

// build fills in the offsets of trees up to and including t.
func (o *offsets) build(c *Cascade, t int) {
	nl := 1 << c.depth
	for ; o.built <= t && o.built < c.trees; o.built++ {
		codes := c.codes[o.built*4*nl : (o.built+1)*4*nl]
		off := o.off[o.built*2*nl : (o.built+1)*2*nl]
		for i := 1; i < nl; i++ {
			n := codes[4*i : 4*i+4]
			off[2*i] = int32(((int(n[0])*o.size)>>8)*o.stride + (int(n[1])*o.size)>>8)
			off[2*i+1] = int32(((int(n[2])*o.size)>>8)*o.stride + (int(n[3])*o.size)>>8)
		}
	}
}

// classify runs the cascade on the square window of size o.size centred at
// row r, column col of g (whose stride must be o.stride). It reports
// whether the window passed every tree and, if so, its confidence (sum of
// leaf outputs minus the last threshold). Windows that do not fit inside
// the image are rejected, as in pico's run_cascade.
func (c *Cascade) classify(g *gray, o *offsets, r, col int) (float32, bool) {
	s := o.size
	if (r*256+128*s)/256 >= g.h || r*256-128*s < 0 || (col*256+128*s)/256 >= g.w || col*256-128*s < 0 {
		return 0, false
	}
	pix := g.pix
	base := r*g.stride + col
	nl := 1 << c.depth
	var sum float32
	for t := 0; t < c.trees; t++ {
		if t >= o.built {
			o.build(c, t+7)
		}
		off := o.off[t*2*nl : (t+1)*2*nl]
		idx := 1
		for j := 0; j < c.depth; j++ {
			p1 := pix[base+int(off[2*idx])]
			p2 := pix[base+int(off[2*idx+1])]
			idx = 2 * idx
			if p1 <= p2 {
				idx++
			}
		}
		sum += c.leaves[t*nl+idx-nl]
		if sum <= c.thresholds[t] {
			return 0, false
		}
	}
	return sum - c.thresholds[c.trees-1], true
}
