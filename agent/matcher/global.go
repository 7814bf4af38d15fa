package matcher

import (
	"cmp"
	"math"
	"slices"
)

// The global stage: the relaxation leaves pairs whose local structures and
// mutual geometry agree; from the best of them it fits the rigid motion
// that takes one print onto the other, pairs every minutia that lands near
// a minutia of the other print with a similar direction, and scores how
// many of the minutiae both prints could show (those inside the other's
// footprint) found a partner.

// byX is a template's minutiae ordered by x, for the global stage's range
// queries: xs[k] is the x of minutia idx[k], and start[c] the first k
// whose x is at least minX + c·byXCell.
type byX struct {
	xs    []float32
	idx   []uint8
	minX  float32
	start []uint8
}

// byXCell is the bucket width, in pixels, of byX.start.
const byXCell = 8

func newByX(xs []float32) byX {
	b := byX{idx: make([]uint8, len(xs)), xs: make([]float32, len(xs))}
	for i := range b.idx {
		b.idx[i] = uint8(i)
	}
	slices.SortStableFunc(b.idx, func(i, j uint8) int { return cmp.Compare(xs[i], xs[j]) })
	for k, i := range b.idx {
		b.xs[k] = xs[i]
	}
	if len(xs) == 0 {
		return b
	}
	b.minX = b.xs[0]
	// Buckets grow for absurdly spread templates, to bound the table.
	cells := min(int((b.xs[len(xs)-1]-b.minX)/byXCell)+1, 4096)
	b.start = make([]uint8, cells)
	k := 0
	for c := range b.start {
		for k < len(b.xs) && b.xs[k] < b.minX+float32(c)*byXCell {
			k++
		}
		b.start[c] = uint8(k)
	}
	return b
}

// from returns the first k whose x is at least lo.
func (b *byX) from(lo float32) int {
	c := int((lo - b.minX) / byXCell)
	if lo < b.minX || c < 0 {
		return 0
	}
	if c >= len(b.start) {
		c = len(b.start) - 1
	}
	k := int(b.start[c])
	for k < len(b.xs) && b.xs[k] < lo {
		k++
	}
	return k
}

// footprintCell is the cell size, in pixels at 500 ppi, of a template's
// footprint raster.
const footprintCell = 4

// footprint rasterises the convex hull of a template's minutiae, widened by
// OverlapMargin, so that the global stage tests a point in constant time.
type footprint struct {
	minX, minY float32
	cell       float64
	nx, ny     int
	bits       []uint64
}

func newFootprint(h hull, margin float64) footprint {
	var f footprint
	if len(h) == 0 {
		return f
	}
	minX, minY, maxX, maxY := h[0].x, h[0].y, h[0].x, h[0].y
	for _, p := range h {
		minX, minY = min(minX, p.x), min(minY, p.y)
		maxX, maxY = max(maxX, p.x), max(maxY, p.y)
	}
	// Cells grow for absurdly spread templates, to bound the raster.
	f.cell = max(footprintCell, (maxX-minX+2*margin)/1023, (maxY-minY+2*margin)/1023)
	minX, minY, maxX, maxY = minX-margin, minY-margin, maxX+margin, maxY+margin
	f.minX, f.minY = float32(minX), float32(minY)
	f.nx = int((maxX-minX)/f.cell) + 1
	f.ny = int((maxY-minY)/f.cell) + 1
	f.bits = make([]uint64, (f.nx*f.ny+63)/64)
	// The hull's extent along each row centre, then widened by the margin:
	// row y's interval is the union over |dy| <= margin of the extent of
	// row y+dy widened by sqrt(margin² − dy²). A convex shape has one
	// interval per row.
	lo, hi := make([]float64, f.ny), make([]float64, f.ny)
	for cy := range f.ny {
		lo[cy], hi[cy] = h.rowExtent(minY + (float64(cy)+0.5)*f.cell)
	}
	reach := int(margin / f.cell)
	for cy := range f.ny {
		l, r := math.Inf(1), math.Inf(-1)
		for d := -reach; d <= reach; d++ {
			y := cy + d
			if y < 0 || y >= f.ny || lo[y] > hi[y] {
				continue
			}
			dy := float64(d) * f.cell
			w := math.Sqrt(max(margin*margin-dy*dy, 0))
			l, r = min(l, lo[y]-w), max(r, hi[y]+w)
		}
		if l > r {
			continue
		}
		c0 := max(int(math.Ceil((l-minX)/f.cell-0.5)), 0)
		c1 := min(int(math.Floor((r-minX)/f.cell-0.5)), f.nx-1)
		for cx := c0; cx <= c1; cx++ {
			k := cy*f.nx + cx
			f.bits[k>>6] |= 1 << (k & 63)
		}
	}
	return f
}

// contains says whether (x, y) lies in the footprint.
func (f *footprint) contains(x, y float32) bool {
	if len(f.bits) == 0 || x < f.minX || y < f.minY {
		return false
	}
	cx := int(float64(x-f.minX) / f.cell)
	cy := int(float64(y-f.minY) / f.cell)
	if cx >= f.nx || cy >= f.ny {
		return false
	}
	k := cy*f.nx + cx
	return f.bits[k>>6]&(1<<(k&63)) != 0
}

// alignment maps a point of template b into template a's frame:
// (cos·x − sin·y + tx, sin·x + cos·y + ty), turning directions by rot ISO
// units.
type alignment struct {
	cos, sin, tx, ty float64
	rot              uint8
	// cx, cy is the centre of the pairs the alignment was fitted on, in a's
	// frame; pairing tolerance grows with the distance from it.
	cx, cy float64
}

// fitAlignment fits the rigid motion taking the b minutiae of the given
// pairs onto their a minutiae (least squares). With one pair it uses the
// pair's minutia directions.
func fitAlignment(a, b *Template, pa, pb []uint8) alignment {
	var al alignment
	n := float64(len(pa))
	var ax, ay, bx, by float64
	for k := range pa {
		ax += float64(a.x[pa[k]])
		ay += float64(a.y[pa[k]])
		bx += float64(b.x[pb[k]])
		by += float64(b.y[pb[k]])
	}
	ax, ay, bx, by = ax/n, ay/n, bx/n, by/n
	var dot, cross float64
	for k := range pa {
		ux, uy := float64(b.x[pb[k]])-bx, float64(b.y[pb[k]])-by
		vx, vy := float64(a.x[pa[k]])-ax, float64(a.y[pa[k]])-ay
		dot += ux*vx + uy*vy
		cross += ux*vy - uy*vx
	}
	var theta float64
	if len(pa) == 1 || dot*dot+cross*cross < 1 {
		theta = float64(int8(a.ang[pa[0]]-b.ang[pb[0]])) * (2 * math.Pi / 256)
	} else {
		theta = math.Atan2(cross, dot)
	}
	al.cos, al.sin = math.Cos(theta), math.Sin(theta)
	al.tx = ax - (al.cos*bx - al.sin*by)
	al.ty = ay - (al.sin*bx + al.cos*by)
	al.rot = uint8(int(math.Round(theta*256/(2*math.Pi))) & 255)
	al.cx, al.cy = ax, ay
	return al
}

// candidate is a possible global pair, packed so that plain integer order
// is by distance then a then b: the squared distance once aligned in 1/16
// square pixels (saturated) in the high 16 bits, minutia a of one template,
// minutia b of the other.
type candidate uint32

func newCandidate(d2 float32, a, b uint8) candidate {
	q := min(d2*16, math.MaxUint16)
	return candidate(uint32(q)<<16 | uint32(a)<<8 | uint32(b))
}

// globalScore returns the best global score over the seeds: the relaxed
// pairs with the highest λ, each with the pairs its geometry agrees with. A
// seed that already joined an earlier seed's fit would give the same
// alignment and is skipped.
func (m *Matcher) globalScore(s *scratch, nSel int, lambda []float32, a, b *Template) float64 {
	o := &m.opts
	if nSel == 0 {
		return 0
	}
	order := s.order[:nSel]
	for i := range order {
		order[i] = i
	}
	seeds := min(o.Seeds, nSel)
	rho := s.rho[:nSel*nSel]
	fitted := s.eff[:nSel] // reused as "took part in a fit" flags
	clear(fitted)
	bestScore := 0.0
	for i := range seeds {
		best := i
		for j := i + 1; j < nSel; j++ {
			if lambda[order[j]] > lambda[order[best]] {
				best = j
			}
		}
		order[i], order[best] = order[best], order[i]
		t := order[i]
		if fitted[t] != 0 {
			continue
		}
		pa, pb := s.fitA[:0], s.fitB[:0]
		pa, pb = append(pa, s.selA[t]), append(pb, s.selB[t])
		fitted[t] = 1
		for k := range nSel {
			if k != t && rho[t*nSel+k] >= float32(o.ConsistentPair) {
				pa, pb = append(pa, s.selA[k]), append(pb, s.selB[k])
				fitted[k] = 1
			}
		}
		s.fitA, s.fitB = pa, pb
		al := fitAlignment(a, b, pa, pb)
		if score := m.pairUp(s, al, a, b); score > bestScore {
			bestScore = score
			s.bestA, s.bestB = append(s.bestA[:0], s.matchA...), append(s.bestB[:0], s.matchB...)
		}
	}
	// Refit the best alignment on the pairs it found, and pair again.
	if bestScore > 0 {
		for range o.Refits {
			if len(s.bestA) < 3 {
				break
			}
			al := fitAlignment(a, b, s.bestA, s.bestB)
			bestScore = max(bestScore, m.pairUp(s, al, a, b))
			s.bestA, s.bestB = append(s.bestA[:0], s.matchA...), append(s.bestB[:0], s.matchB...)
		}
	}
	return bestScore
}

// pairUp aligns b onto a, pairs minutiae one-to-one by increasing distance
// within the tolerances, and returns kA·kB/(nA·nB): kA and kB the paired
// minutiae of each template, nA and nB those inside the other's footprint
// (at least MinOverlap), all weighed by quality (see QualityWeight).
func (m *Matcher) pairUp(s *scratch, al alignment, a, b *Template) float64 {
	o := &m.opts
	maxAng := m.pairAngle
	base, growth := float32(o.PairDistance), float32(o.PairDistanceGrowth)
	ax, aIdx := a.byX.xs, a.byX.idx[:len(a.byX.xs)]
	cands := s.cands[:0]
	var nBIn float32
	for j := range b.n {
		xb, yb := float64(b.x[j]), float64(b.y[j])
		x := float32(al.cos*xb - al.sin*yb + al.tx)
		y := float32(al.sin*xb + al.cos*yb + al.ty)
		if a.foot.contains(x, y) {
			nBIn += b.w[j]
		}
		dx, dy := float64(x)-al.cx, float64(y)-al.cy
		tol := base + growth*float32(math.Sqrt(dx*dx+dy*dy))
		tol2 := tol * tol
		angB := b.ang[j] + al.rot
		for k := a.byX.from(x - tol); k < len(ax) && ax[k] <= x+tol; k++ {
			i := aIdx[k]
			ddx, ddy := ax[k]-x, a.y[i]-y
			d2 := ddx*ddx + ddy*ddy
			if d2 > tol2 {
				continue
			}
			if d := int(int8(a.ang[i] - angB)); d > maxAng || d < -maxAng {
				continue
			}
			cands = append(cands, newCandidate(d2, i, uint8(j)))
		}
	}
	s.cands = cands
	slices.Sort(cands)
	clear(s.usedA[:])
	clear(s.usedB[:])
	var kA, kB float32
	s.matchA, s.matchB = s.matchA[:0], s.matchB[:0]
	for _, c := range cands {
		ca, cb := uint8(c>>8), uint8(c)
		if s.usedA[ca>>6]&(1<<(ca&63)) != 0 || s.usedB[cb>>6]&(1<<(cb&63)) != 0 {
			continue
		}
		s.usedA[ca>>6] |= 1 << (ca & 63)
		s.usedB[cb>>6] |= 1 << (cb & 63)
		kA += a.w[ca]
		kB += b.w[cb]
		s.matchA, s.matchB = append(s.matchA, ca), append(s.matchB, cb)
	}
	// a's minutiae in b's footprint: move them by the inverse motion.
	var nAIn float32
	for i := range a.n {
		x, y := float64(a.x[i])-al.tx, float64(a.y[i])-al.ty
		if b.foot.contains(float32(al.cos*x+al.sin*y), float32(-al.sin*x+al.cos*y)) {
			nAIn += a.w[i]
		}
	}
	minOv := float64(o.MinOverlap)
	ka, kb := float64(kA), float64(kB)
	k := math.Sqrt(ka * kb)
	return ka * kb / (max(float64(nAIn), ka, minOv) * max(float64(nBIn), kb, minOv)) * k / (k + o.PairsConfidence)
}
