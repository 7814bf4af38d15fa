package matcher

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/bits"
	"slices"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// cylWords is the number of 64-bit words of a cylinder: Options must give
// at most 64·cylWords cells. The comparison in localPairs is unrolled for
// exactly this many words.
const cylWords = 4

// rowStride is the row length of Template.dist and Template.radial.
const rowStride = 256

// cylinder is one minutia's Minutia Cylinder-Code: which cells hold
// neighbours (val) and which cells are valid (mask, the same for every
// direction bin of a spatial cell).
type cylinder struct {
	val, mask [cylWords]uint64
}

// Template is a minutiae template prepared for matching: coordinates scaled
// to 500 ppi, a Minutia Cylinder-Code descriptor per minutia, and the
// pairwise geometry the relaxation needs. It is immutable and safe for
// concurrent use; prepare it once and score it many times.
type Template struct {
	m *Matcher
	// key orders templates so that Score(a, b) and Score(b, a) compute the
	// same thing: a hash of the minutiae kept and the resolution.
	key uint64
	// n is the number of minutiae kept.
	n int
	// x, y in pixels at 500 ppi, y pointing up; ang in ISO units
	// (360/256°), counter-clockwise.
	x, y []float32
	ang  []uint8
	// w weighs each minutia in the global stage by its quality.
	w []float32
	// The valid cylinders, by ascending direction of their minutia: the
	// cylinder, its minutia's index and direction, the popcount of its bits,
	// the popcount of its mask, and whether all its cells are valid.
	// angStart[v] is the first
	// cylinder whose direction is at least v (len(cyl) if none).
	cyl      []cylinder
	cylIdx   []uint8
	cylAng   []uint8
	cylPop   []uint16
	cylMask  []uint16
	cylFull  []bool
	angStart [257]uint8
	// dist[i*256+j] is the distance between minutiae i and j in
	// 1/distSteps pixels (saturating); radial[i*256+j] the angle, in ISO
	// units, from minutia i's direction to the segment from j to i. Rows
	// are 256 wide so that a uint8 index needs no bounds check.
	dist   []uint16
	radial []uint8
	// foot is the footprint of the minutiae (their convex hull widened by
	// OverlapMargin); byX orders them by x.
	foot footprint
	byX  byX
}

// Len returns the number of minutiae the template kept.
func (t *Template) Len() int { return t.n }

// Usable returns the number of minutiae with a valid cylinder: those that
// can take part in a match. A template with none matches nothing.
func (t *Template) Usable() int { return len(t.cyl) }

// PrepareView prepares the minutiae of a record's view; ppi is the
// record's resolution (fmr.Record.PPI), 0 meaning 500.
func (m *Matcher) PrepareView(v *fmr.View, ppi int) *Template {
	return m.Prepare(v.Minutiae, ppi)
}

// PrepareRecord prepares view i of a decoded record at the record's
// resolution.
func (m *Matcher) PrepareRecord(r *fmr.Record, view int) (*Template, error) {
	if view < 0 || view >= len(r.Views) {
		return nil, fmt.Errorf("matcher: record has %d finger views, no view %d", len(r.Views), view)
	}
	return m.Prepare(r.Views[view].Minutiae, r.PPI()), nil
}

// Prepare builds a template from minutiae whose coordinates are pixels of
// an image of ppi pixels per inch (0 or less means 500). When there are
// more than Options.MaxMinutiae it keeps the best by quality, the earlier
// on ties. It never fails: degenerate input gives a template that matches
// nothing.
func (m *Matcher) Prepare(minutiae []fmr.Minutia, ppi int) *Template {
	scale := 1.0
	if ppi > 0 {
		scale = 500 / float64(ppi)
	}
	kept := m.keep(minutiae)
	n := len(kept)
	t := &Template{
		m:      m,
		n:      n,
		x:      make([]float32, n),
		y:      make([]float32, n),
		ang:    make([]uint8, n),
		dist:   make([]uint16, n*rowStride),
		radial: make([]uint8, n*rowStride),
	}
	t.w = make([]float32, n)
	anyQuality := false
	for _, mi := range kept {
		anyQuality = anyQuality || mi.Quality != 0
	}
	h := fnv.New64a()
	var buf [8]byte
	binary.LittleEndian.PutUint64(buf[:], math.Float64bits(scale))
	h.Write(buf[:])
	for _, mi := range kept {
		h.Write([]byte{byte(mi.X), byte(mi.X >> 8), byte(mi.Y), byte(mi.Y >> 8), mi.Angle, mi.Quality, byte(mi.Kind)})
	}
	t.key = h.Sum64()
	for i, mi := range kept {
		t.w[i] = 1
		if anyQuality && m.opts.QualityWeight > 0 {
			// Quality 0 means "not reported" only when no minutia reports one.
			t.w[i] = float32(math.Pow((float64(min(mi.Quality, 100))+1)/101, m.opts.QualityWeight))
		}
		t.x[i] = float32(float64(mi.X) * scale)
		t.y[i] = float32(-float64(mi.Y) * scale)
		t.ang[i] = mi.Angle
	}
	// Weights average 1, so that counts stay comparable to MinOverlap.
	var wsum float32
	for _, w := range t.w {
		wsum += w
	}
	for i := range t.w {
		t.w[i] *= float32(n) / wsum
	}
	for i := range n {
		for j := range n {
			dx := float64(t.x[i]) - float64(t.x[j])
			dy := float64(t.y[i]) - float64(t.y[j])
			t.dist[i*rowStride+j] = uint16(min(math.Round(math.Sqrt(dx*dx+dy*dy)*distSteps), math.MaxUint16))
			if i != j {
				t.radial[i*rowStride+j] = t.ang[i] - fmr.AngleFromRadians(math.Atan2(dy, dx))
			}
		}
	}
	hull := convexHull(t.x, t.y)
	t.foot = newFootprint(hull, m.opts.OverlapMargin)
	valid := newFootprint(hull, m.opts.HullMargin)
	t.byX = newByX(t.x)
	full := uint16(m.bits)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(i, j int) int { return cmp.Compare(t.ang[i], t.ang[j]) })
	for _, i := range order {
		var c cylinder
		if !m.buildCylinder(t, &valid, i, &c) {
			continue
		}
		var pv, pm int
		for k := range cylWords {
			pv += bits.OnesCount64(c.val[k])
			pm += bits.OnesCount64(c.mask[k])
		}
		t.cyl = append(t.cyl, c)
		t.cylIdx = append(t.cylIdx, uint8(i))
		t.cylAng = append(t.cylAng, t.ang[i])
		t.cylPop = append(t.cylPop, uint16(pv))
		t.cylMask = append(t.cylMask, uint16(pm))
		t.cylFull = append(t.cylFull, uint16(pm) == full)
	}
	k := 0
	for v := range 257 {
		for k < len(t.cylAng) && int(t.cylAng[k]) < v {
			k++
		}
		t.angStart[v] = uint8(k)
	}
	return t
}

// keep returns the minutiae to use: all of them, or the best MaxMinutiae by
// quality (the earlier on ties), in their original order.
func (m *Matcher) keep(minutiae []fmr.Minutia) []fmr.Minutia {
	if len(minutiae) <= m.maxMinutiae {
		return minutiae
	}
	idx := make([]int, len(minutiae))
	for i := range idx {
		idx[i] = i
	}
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(minutiae[b].Quality, minutiae[a].Quality) })
	idx = idx[:m.maxMinutiae]
	slices.Sort(idx)
	kept := make([]fmr.Minutia, len(idx))
	for i, j := range idx {
		kept[i] = minutiae[j]
	}
	return kept
}

// buildCylinder fills the bits and validity of minutia i's cylinder and
// says whether the cylinder is valid. valid is the raster of the points
// within HullMargin of the minutiae's convex hull. Each neighbour adds to
// the few cells within 3σS of it, found from its position in the minutia's
// frame, rather than every cell testing every neighbour.
func (m *Matcher) buildCylinder(t *Template, valid *footprint, i int, c *cylinder) bool {
	o := &m.opts
	n := t.n
	theta := float64(t.ang[i]) * (2 * math.Pi / 256)
	cos, sin := math.Cos(theta), math.Sin(theta)
	cx, cy := float64(t.x[i]), float64(t.y[i])
	nd, ns := o.DirectionCells, o.SpatialCells
	validCells := 0
	for cell, off := range m.cells {
		px := cx + cos*off.x - sin*off.y
		py := cy + sin*off.x + cos*off.y
		if !valid.contains(float32(px), float32(py)) {
			continue
		}
		validCells++
		for k := range nd {
			bit := k*len(m.cells) + cell
			c.mask[bit>>6] |= 1 << (bit & 63)
		}
	}
	if float64(validCells) < o.MinValidCells*float64(len(m.cells)) {
		return false
	}
	neighbourReach := (o.Radius + 3*o.SigmaS) * distSteps
	reach := 3 * o.SigmaS
	reach2 := reach * reach
	half := float64(ns-1) / 2
	var contrib [64 * cylWords]float64 // [cell*nd + k]
	neighbours := 0
	for j := range n {
		if j == i || float64(t.dist[i*rowStride+j]) > neighbourReach {
			continue
		}
		neighbours++
		dx, dy := float64(t.x[j])-cx, float64(t.y[j])-cy
		u, v := cos*dx+sin*dy, -sin*dx+cos*dy // in the minutia's frame
		dir := m.directional[int(t.ang[i]-t.ang[j])*nd:]
		dir = dir[:nd]
		i0 := max(int(math.Ceil((u-reach)/m.cellSize+half)), 0)
		i1 := min(int(math.Floor((u+reach)/m.cellSize+half)), ns-1)
		j0 := max(int(math.Ceil((v-reach)/m.cellSize+half)), 0)
		j1 := min(int(math.Floor((v+reach)/m.cellSize+half)), ns-1)
		for ci := i0; ci <= i1; ci++ {
			for cj := j0; cj <= j1; cj++ {
				cell := m.cellAt[ci*ns+cj]
				if cell < 0 {
					continue
				}
				ddx, ddy := u-m.cells[cell].x, v-m.cells[cell].y
				d2 := ddx*ddx + ddy*ddy
				if d2 > reach2 {
					continue
				}
				cs := m.spatial[int(d2*spatialSteps)]
				acc := contrib[cell*nd : cell*nd+nd]
				for k := range acc {
					acc[k] += float64(cs * dir[k]) // the conversion stops FMA fusion: same bits on every architecture
				}
			}
		}
	}
	if neighbours < o.MinNeighbours {
		return false
	}
	for cell := range m.cells {
		for k := range nd {
			if contrib[cell*nd+k] >= o.CellThreshold {
				bit := k*len(m.cells) + cell
				c.val[bit>>6] |= 1 << (bit & 63)
			}
		}
	}
	return true
}

// point is a vertex of a convex hull.
type point struct{ x, y float64 }

// hull is a convex polygon, counter-clockwise, without repeated points.
type hull []point

// convexHull returns the convex hull of the points (Andrew's monotone
// chain).
func convexHull(xs, ys []float32) hull {
	pts := make([]point, len(xs))
	for i := range xs {
		pts[i] = point{float64(xs[i]), float64(ys[i])}
	}
	slices.SortFunc(pts, func(a, b point) int {
		if c := cmp.Compare(a.x, b.x); c != 0 {
			return c
		}
		return cmp.Compare(a.y, b.y)
	})
	pts = slices.Compact(pts)
	if len(pts) < 3 {
		return pts
	}
	crossOf := func(o, a, b point) float64 { return (a.x-o.x)*(b.y-o.y) - (a.y-o.y)*(b.x-o.x) }
	h := make([]point, 0, 2*len(pts))
	for _, p := range pts {
		for len(h) >= 2 && crossOf(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	lower := len(h) + 1
	for i := len(pts) - 2; i >= 0; i-- {
		p := pts[i]
		for len(h) >= lower && crossOf(h[len(h)-2], h[len(h)-1], p) <= 0 {
			h = h[:len(h)-1]
		}
		h = append(h, p)
	}
	return h[:len(h)-1]
}

// rowExtent returns the x interval where the horizontal line at y crosses
// the hull (lo > hi when it misses it).
func (h hull) rowExtent(y float64) (lo, hi float64) {
	lo, hi = math.Inf(1), math.Inf(-1)
	switch len(h) {
	case 0:
		return lo, hi
	case 1:
		if y == h[0].y {
			return h[0].x, h[0].x
		}
		return lo, hi
	}
	for i := range h {
		a, b := h[i], h[(i+1)%len(h)]
		if (y < a.y && y < b.y) || (y > a.y && y > b.y) {
			continue
		}
		if a.y == b.y {
			lo, hi = min(lo, a.x, b.x), max(hi, a.x, b.x)
			continue
		}
		x := a.x + (y-a.y)*(b.x-a.x)/(b.y-a.y)
		lo, hi = min(lo, x), max(hi, x)
	}
	return lo, hi
}
