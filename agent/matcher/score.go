package matcher

import (
	"math"
	"math/bits"
)

// pair is a candidate correspondence of cylinder a of one template and b of
// the other with the local similarity of their cylinders, packed in a word
// (one store in the hot loop): sim's float32 bits, then q, a and b, a byte
// each. q is sim quantised to buckets, for the counting sort.
type pair uint64

func newPair(a, b int, q uint8, sim float32) pair {
	return pair(uint64(math.Float32bits(sim))<<32 | uint64(q)<<16 | uint64(uint8(a))<<8 | uint64(uint8(b)))
}

func (p pair) a() uint8     { return uint8(p >> 8) }
func (p pair) b() uint8     { return uint8(p) }
func (p pair) q() uint8     { return uint8(p >> 16) }
func (p pair) sim() float32 { return math.Float32frombits(uint32(p >> 32)) }

// buckets quantise similarities for the counting sort.
const buckets = 256

// scratch holds Score's working memory, reused through a pool.
type scratch struct {
	pairs, sorted      []pair
	count              [buckets]int32
	usedA, usedB       [4]uint64
	selA, selB, selDir []uint8
	selSim             []float32
	lambda, next, eff  []float32
	rho                []float32
	order              []int
	// The global stage's buffers.
	fitA, fitB     []uint8
	matchA, matchB []uint8
	bestA, bestB   []uint8
	cands          []candidate
}

// Score returns the similarity of two templates prepared by this matcher,
// in [0, 1]: 0 when nothing corresponds, about 0.9 for the same impression,
// typically 0.1-0.5 for two impressions of one finger. On the FVC2002 B
// sets with the kiosk extractor the thresholds for a false match rate of
// 0.1% lay between 0.06 and 0.08 depending on the database (kioskctl eval
// -details prints them); a fixed 0.075 kept it at or below 0.1% on all four.
// It panics if the templates come from a matcher with other options.
func (m *Matcher) Score(a, b *Template) float64 {
	relax, global := m.scoreParts(a, b)
	if relax <= 0 || global <= 0 {
		return 0
	}
	w := m.opts.GlobalWeight
	return math.Exp((1-w)*math.Log(relax) + w*math.Log(global))
}

// scoreParts returns the relaxation's and the global stage's scores. The
// templates are taken in the order of their keys, so that swapping them
// gives exactly the same score.
func (m *Matcher) scoreParts(a, b *Template) (relax, global float64) {
	if a.key > b.key {
		a, b = b, a
	}
	if (a.m != m && a.m.opts != m.opts) || (b.m != m && b.m.opts != m.opts) {
		panic("matcher: Score given templates prepared with other options")
	}
	if len(a.cyl) == 0 || len(b.cyl) == 0 {
		return 0, 0
	}
	s := m.pool.Get().(*scratch)
	defer m.pool.Put(s)
	o := &m.opts

	// 1. Local similarities of every compatible pair of cylinders.
	if need := len(a.cyl) * len(b.cyl); cap(s.pairs) < need {
		s.pairs = make([]pair, need)
		s.sorted = make([]pair, need)
	}
	clear(s.count[:])
	np := m.localPairs(s.pairs[:len(a.cyl)*len(b.cyl)], &s.count, a, b)
	if np == 0 {
		return 0, 0
	}

	// 2. The best pairs, one-to-one, by descending similarity.
	nR := min(a.n, b.n, o.RelaxPairs)
	nSel := s.selectPairs(np, nR, a, b)

	// 3. Relaxation.
	lambda, next, rho := s.lambda[:nSel], s.next[:nSel], s.rho[:nSel*nSel]
	copy(lambda, s.selSim[:nSel])
	m.compatibility(rho, nSel, s, a, b)
	if nSel > 1 {
		wR := float32(o.RelaxWeight)
		spread := (1 - wR) / float32(nSel-1)
		for range o.RelaxIterations {
			for t := range nSel {
				next[t] = float32(wR*lambda[t]) + float32(spread*dot(rho[t*nSel:t*nSel+nSel], lambda))
			}
			lambda, next = next, lambda
		}
	}

	// 4. Score: mean relaxed similarity of the nP most efficient pairs.
	nP := o.MinPairs + int(math.Round(sigmoid(float64(min(a.n, b.n)), o.PairsMu, o.PairsTau)*float64(o.MaxPairs-o.MinPairs)))
	eff, order := s.eff[:nSel], s.order[:nSel]
	for i := range nSel {
		eff[i] = lambda[i] / s.selSim[i]
		order[i] = i
	}
	top := min(nP, nSel)
	for i := range top { // partial selection sort: nP is small
		best := i
		for j := i + 1; j < nSel; j++ {
			if eff[order[j]] > eff[order[best]] {
				best = j
			}
		}
		order[i], order[best] = order[best], order[i]
	}
	var sum float64
	for _, i := range order[:top] {
		sum += float64(lambda[i])
	}
	relax = sum / float64(nP)

	// 5. Global consolidation.
	global = m.globalScore(s, nSel, lambda, a, b)
	return relax, global
}

// localPairs writes into out the pairs of cylinders whose minutia
// directions differ by at most MaxAngle, that share enough valid cells, and
// whose similarity is positive; it counts them per bucket and returns how
// many it wrote. Cylinders are sorted by direction, so the compatible ones
// of b form one circular run.
func (m *Matcher) localPairs(out []pair, count *[buckets]int32, a, b *Template) int {
	np := 0
	for i := range a.cyl {
		lo := int(a.cylAng[i]) - m.maxAngle
		hi := int(a.cylAng[i]) + m.maxAngle + 1 // exclusive
		switch {
		case hi-lo >= 256:
			np = m.pairRun(out, np, count, a, b, i, 0, len(b.cyl))
		case lo < 0:
			np = m.pairRun(out, np, count, a, b, i, int(b.angStart[lo+256]), len(b.cyl))
			np = m.pairRun(out, np, count, a, b, i, 0, int(b.angStart[hi]))
		case hi > 256:
			np = m.pairRun(out, np, count, a, b, i, int(b.angStart[lo]), len(b.cyl))
			np = m.pairRun(out, np, count, a, b, i, 0, int(b.angStart[hi-256]))
		default:
			np = m.pairRun(out, np, count, a, b, i, int(b.angStart[lo]), int(b.angStart[hi]))
		}
	}
	return np
}

// pairRun compares cylinder i of a with cylinders j0..j1-1 of b.
func (m *Matcher) pairRun(out []pair, np int, count *[buckets]int32, a, b *Template, i, j0, j1 int) int {
	if j0 >= j1 {
		return np
	}
	minMatch := m.minMatchable
	sq := &m.sqrtTable
	ca := &a.cyl[i]
	fullA := a.cylFull[i]
	popA, maskA := int(a.cylPop[i]), int(a.cylMask[i])
	bCyl := b.cyl[j0:j1]
	bPop, bMask, bFull := b.cylPop[j0:j1], b.cylMask[j0:j1], b.cylFull[j0:j1]
	bPop, bMask, bFull = bPop[:len(bCyl)], bMask[:len(bCyl)], bFull[:len(bCyl)]
	for j := range bCyl {
		cb := &bCyl[j]
		// Only cells valid in both count. A cylinder's bits lie within its
		// own mask, so masking with the other's mask is enough, and a full
		// mask drops out.
		var na, nb, nx int
		switch fullB := bFull[j]; {
		case fullA && fullB:
			na, nb = popA, int(bPop[j])
			nx = bits.OnesCount64(ca.val[0]^cb.val[0]) + bits.OnesCount64(ca.val[1]^cb.val[1]) +
				bits.OnesCount64(ca.val[2]^cb.val[2]) + bits.OnesCount64(ca.val[3]^cb.val[3])
		case fullA:
			if int(bMask[j]) < minMatch {
				continue
			}
			a0, a1, a2, a3 := ca.val[0]&cb.mask[0], ca.val[1]&cb.mask[1], ca.val[2]&cb.mask[2], ca.val[3]&cb.mask[3]
			na = bits.OnesCount64(a0) + bits.OnesCount64(a1) + bits.OnesCount64(a2) + bits.OnesCount64(a3)
			nb = int(bPop[j])
			nx = bits.OnesCount64(a0^cb.val[0]) + bits.OnesCount64(a1^cb.val[1]) + bits.OnesCount64(a2^cb.val[2]) + bits.OnesCount64(a3^cb.val[3])
		case fullB:
			if maskA < minMatch {
				continue
			}
			b0, b1, b2, b3 := cb.val[0]&ca.mask[0], cb.val[1]&ca.mask[1], cb.val[2]&ca.mask[2], cb.val[3]&ca.mask[3]
			na = popA
			nb = bits.OnesCount64(b0) + bits.OnesCount64(b1) + bits.OnesCount64(b2) + bits.OnesCount64(b3)
			nx = bits.OnesCount64(b0^ca.val[0]) + bits.OnesCount64(b1^ca.val[1]) + bits.OnesCount64(b2^ca.val[2]) + bits.OnesCount64(b3^ca.val[3])
		default:
			m0, m1, m2, m3 := ca.mask[0]&cb.mask[0], ca.mask[1]&cb.mask[1], ca.mask[2]&cb.mask[2], ca.mask[3]&cb.mask[3]
			nm := bits.OnesCount64(m0) + bits.OnesCount64(m1) + bits.OnesCount64(m2) + bits.OnesCount64(m3)
			if nm < minMatch {
				continue
			}
			a0, a1, a2, a3 := ca.val[0]&m0, ca.val[1]&m1, ca.val[2]&m2, ca.val[3]&m3
			b0, b1, b2, b3 := cb.val[0]&m0, cb.val[1]&m1, cb.val[2]&m2, cb.val[3]&m3
			na = bits.OnesCount64(a0) + bits.OnesCount64(a1) + bits.OnesCount64(a2) + bits.OnesCount64(a3)
			nb = bits.OnesCount64(b0) + bits.OnesCount64(b1) + bits.OnesCount64(b2) + bits.OnesCount64(b3)
			nx = bits.OnesCount64(a0^b0) + bits.OnesCount64(a1^b1) + bits.OnesCount64(a2^b2) + bits.OnesCount64(a3^b3)
		}
		den := sq[na&sqrtMask] + sq[nb&sqrtMask]
		if den == 0 {
			continue
		}
		sim := 1 - sq[nx&sqrtMask]/den
		if sim <= 0 || np >= len(out) {
			continue
		}
		q := uint8(sim * (buckets - 1))
		out[np] = newPair(i, j0+j, q, sim)
		count[q]++
		np++
	}
	return np
}

// selectPairs picks up to n of the first np pairs, each cylinder used at
// most once, by descending similarity (earlier pairs first on ties), into
// s.selA, s.selB (minutia indexes), s.selDir and s.selSim, sizes the
// relaxation buffers, and returns how many it picked. Only the pairs in the
// top buckets are sorted unless the assignment runs short.
func (s *scratch) selectPairs(np, n int, a, b *Template) int {
	if cap(s.selA) < n {
		s.selA, s.selB, s.selDir = make([]uint8, n), make([]uint8, n), make([]uint8, n)
		s.selSim = make([]float32, n)
		s.lambda, s.next, s.eff = make([]float32, n), make([]float32, n), make([]float32, n)
		s.order = make([]int, n)
	}
	if cap(s.rho) < n*n {
		s.rho = make([]float32, n*n)
	}
	// Lowest bucket worth sorting: enough pairs for the assignment to find n
	// in most cases.
	want := int32(8 * n)
	floor := 0
	var acc int32
	for q := buckets - 1; q >= 0; q-- {
		acc += s.count[q]
		if acc >= want {
			floor = q
			break
		}
	}
	for {
		// Counting sort, descending, of the pairs in buckets >= floor.
		var start [buckets]int32
		var pos int32
		for q := buckets - 1; q >= floor; q-- {
			start[q] = pos
			pos += s.count[q]
		}
		sorted := s.sorted[:pos]
		for _, p := range s.pairs[:np] {
			if q := p.q(); int(q) >= floor {
				sorted[start[q]] = p
				start[q]++
			}
		}
		clear(s.usedA[:])
		clear(s.usedB[:])
		k := 0
		for _, p := range sorted {
			pa, pb := p.a(), p.b()
			if s.usedA[pa>>6]&(1<<(pa&63)) != 0 || s.usedB[pb>>6]&(1<<(pb&63)) != 0 {
				continue
			}
			s.usedA[pa>>6] |= 1 << (pa & 63)
			s.usedB[pb>>6] |= 1 << (pb & 63)
			ia, ib := a.cylIdx[pa], b.cylIdx[pb]
			s.selA[k], s.selB[k] = ia, ib
			s.selDir[k] = a.ang[ia] - b.ang[ib]
			s.selSim[k] = p.sim()
			k++
			if k == n {
				return k
			}
		}
		if floor == 0 {
			return k
		}
		floor = 0
	}
}

// compatibility fills rho[t*n+k] with how well pair k agrees with pair t:
// the product of sigmoids of the differences in distance, relative
// direction and radial angle between the two pairs' minutiae.
func (m *Matcher) compatibility(rho []float32, n int, s *scratch, a, b *Template) {
	selA, selB, selDir := s.selA[:n], s.selB[:n], s.selDir[:n]
	cd, c2, c3 := &m.compatDist, &m.compatAngle2, &m.compatAngle3
	for t := range n {
		at, bt := int(selA[t]), int(selB[t])
		rowA := (*[rowStride]uint16)(a.dist[at*rowStride:])
		rowB := (*[rowStride]uint16)(b.dist[bt*rowStride:])
		radA := (*[rowStride]uint8)(a.radial[at*rowStride:])
		radB := (*[rowStride]uint8)(b.radial[bt*rowStride:])
		dirT := selDir[t]
		out := rho[t*n : t*n+n]
		selB, selDir := selB[:len(out)], selDir[:len(out)]
		for k, ak := range selA[:len(out)] {
			bk := selB[k]
			dd := int(rowA[ak]) - int(rowB[bk])
			if dd < 0 {
				dd = -dd
			}
			out[k] = cd[uint8(min(dd, 255))] * c2[dirT-selDir[k]] * c3[radA[ak]-radB[bk]]
		}
		out[t] = 0
	}
}

// dot returns Σ x[i]·y[i] over x, four lanes at a time (y is at least as
// long as x).
func dot(x, y []float32) float32 {
	y = y[:len(x)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(x); i += 4 {
		xs, ys := x[i:i+4:i+4], y[i:i+4:i+4]
		s0 += float32(xs[0] * ys[0])
		s1 += float32(xs[1] * ys[1])
		s2 += float32(xs[2] * ys[2])
		s3 += float32(xs[3] * ys[3])
	}
	for ; i < len(x); i++ {
		s0 += float32(x[i] * y[i])
	}
	return (s0 + s1) + (s2 + s3)
}
