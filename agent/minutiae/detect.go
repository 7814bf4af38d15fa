package minutiae

import (
	"math/bits"
	"slices"
)

// Detection and filtering constants, in working pixels (500 ppi; the ridge
// period is about 9 pixels). They were tuned on FVC2002 with bozorth3 and
// agent/matcher, and on synthetic prints against their ground truth.
const (
	// maxTrace is how far a minutia's ridges are followed.
	maxTrace = 32
	// dirDist is the distance along the ridge used for the direction.
	dirDist = 10
	// spurLen: an ending joined to a bifurcation by a ridge this short is a
	// spur; both go.
	spurLen = 6
	// islandLen: two endings joined by a ridge this short form a short
	// ridge or dot; both go.
	islandLen = 22
	// bridgeLen: two bifurcations joined by a ridge this short form a
	// bridge between ridges; both go.
	bridgeLen = 14
	// lakeLen: two bifurcations joined by two ridges this short enclose a
	// lake; both go.
	lakeLen = 30
	// breakDist: two endings this close, facing each other, are a broken
	// ridge; both go.
	breakDist = 16
	// breakAngle: how far from opposite their directions may be (1/1024
	// turn: 45°).
	breakAngle = 128
	// borderReach: an ending whose ridge, continued this far beyond its
	// end, leaves the foreground is where the ridge runs out of the
	// finger area.
	borderReach = 14
	// clusterRadius and clusterMax: a minutia with more than clusterMax
	// others within clusterRadius is in a noisy cluster.
	clusterRadius = 18
	clusterMax    = 5
	// borderDist: minutiae in blocks this close to the background (in
	// blocks) are dropped.
	borderDist = 1
	// smoothPasses is the number of 3×3 majority passes over the ridge map.
	smoothPasses = 2
)

// Arm ends.
const (
	armOpen    = iota // followed maxTrace pixels without meeting a minutia
	armMinutia        // met another minutia; arm.other says which
	armLost           // ended ambiguously (a junction not detected, a cycle)
)

// arm is one ridge leaving a minutia.
type arm struct {
	length int16
	end    uint8
	other  int32 // candidate index when end == armMinutia
	dx, dy int16 // vector to the pixel dirDist along (or the last one)
}

// candidate is a detected minutia with its traced ridges.
type candidate struct {
	p       int32 // pixel index in the padded buffers
	x, y    int16 // working coordinates
	bif     bool
	keep    bool
	narms   int8
	arms    [3]arm
	dir     int   // direction in 1/1024 turn (see direction)
	quality int   // 0-100
	crowd   int   // kept minutiae within clusterRadius
	why     uint8 // why it was dropped (tests and tuning)
}

// Reasons a candidate is dropped.
const (
	whyKept = iota
	whyArms
	whySpur
	whyIsland
	whyBridge
	whyLake
	whyLoop
	whyBreak
	whyBorder
	whyRunout
	whyQuality
	whyCluster
	whyCount
)

// arms returns the starting neighbours of the ridges leaving a skeleton
// pixel with neighbourhood code cd: one per run of consecutive ridge
// neighbours around the pixel (as the crossing number counts them), its
// first 4-neighbour when it has one. At most 4 are returned; n counts all
// runs.
func arms(cd int) (starts [4]int, n int) {
	if cd == 0 || cd == 255 {
		return starts, 0
	}
	// Start the scan just after a clear neighbour so no run wraps.
	k0 := 0
	for cd>>k0&1 != 0 {
		k0++
	}
	for i := 1; i <= 8; i++ {
		k := (k0 + i) & 7
		if cd>>k&1 == 0 || cd>>((k+7)&7)&1 != 0 {
			continue // clear, or not the first of its run
		}
		pick := k
		for j := k; cd>>(j&7)&1 != 0; j++ {
			if j&1 == 0 {
				pick = j & 7
				break
			}
		}
		if n < len(starts) {
			starts[n] = pick
		}
		n++
	}
	return starts, n
}

// detect finds minutia candidates on the skeleton, traces them, removes
// false ones, sets directions and qualities, and keeps the best.
func (e *Extractor) detect() {
	s := e.stride
	bin := e.bin
	o := e.neighbourOffsets()
	t := e.tables
	e.cands = e.cands[:0]
	wpr := e.wpr
	for y := 0; y < e.h; y++ {
		row := (y+pad)*s + pad
		words := e.bits[(y+1)*wpr+1 : (y+2)*wpr-1]
		for j, v := range words {
			for ; v != 0; v &= v - 1 {
				x := 64*j + bits.TrailingZeros64(v)
				p := row + x
				c := code(bin, p, &o)
				if cn := t.cn[c]; cn == 1 || cn >= 3 {
					e.cands = append(e.cands, candidate{p: int32(p), x: int16(x), y: int16(y), bif: cn != 1, keep: true})
				}
			}
		}
	}
	for i := range e.cands {
		e.trace(i, &o)
	}
	e.filter()
	for i := range e.cands {
		c := &e.cands[i]
		if c.keep {
			e.direction(c)
			e.minutiaQuality(c)
			if c.quality < e.opts.MinMinutiaQuality {
				c.keep, c.why = false, whyQuality
			}
		}
	}
	e.removeClusters()
	e.keepBest()
}

// trace follows each ridge leaving candidate i.
func (e *Extractor) trace(i int, o *[8]int) {
	c := &e.cands[i]
	bin := e.bin
	start := int(c.p)
	cd := code(bin, start, o)
	starts, ns := arms(cd)
	if ns > 3 || (c.bif && ns != 3) || (!c.bif && ns != 1) {
		c.keep, c.why = false, whyArms
		c.narms = 0
		return
	}
	c.narms = int8(ns)
	for a := 0; a < ns; a++ {
		c.arms[a] = e.follow(start, start+o[starts[a]], o)
	}
}

// follow walks the skeleton from first (a neighbour of start) and reports
// where the ridge goes.
func (e *Extractor) follow(start, first int, o *[8]int) arm {
	bin := e.bin
	t := e.tables
	s := e.stride
	sx, sy := start%s, start/s
	prev, cur := start, first
	var r arm
	for step := 1; ; step++ {
		if step == dirDist || step == maxTrace {
			r.dx, r.dy = int16(cur%s-sx), int16(cur/s-sy)
		}
		r.length = int16(step)
		cd := code(bin, cur, o)
		if cn := t.cn[cd]; cn == 1 || cn >= 3 {
			if k, ok := e.findCandidate(cur); ok {
				r.end, r.other = armMinutia, int32(k)
			} else {
				r.end = armLost
			}
			break
		}
		if step >= maxTrace {
			r.end = armOpen
			break
		}
		// Next: a ridge neighbour that is neither prev nor next to prev.
		nxt := -1
		for k := 0; k < 8; k++ {
			if cd>>k&1 == 0 {
				continue
			}
			q := cur + o[k]
			if d := q - prev; d >= -s-1 && d <= s+1 && (d <= 1-s || d >= s-1 || (d >= -1 && d <= 1)) {
				continue // prev itself or next to it
			}
			if nxt >= 0 {
				nxt = -2
				break
			}
			nxt = q
		}
		if nxt < 0 {
			r.end = armLost
			break
		}
		prev, cur = cur, nxt
	}
	if r.length < dirDist {
		r.dx, r.dy = int16(cur%s-sx), int16(cur/s-sy)
	}
	return r
}

// findCandidate finds the candidate at pixel p (candidates are sorted by
// pixel index).
func (e *Extractor) findCandidate(p int) (int, bool) {
	return slices.BinarySearchFunc(e.cands, int32(p), func(c candidate, p int32) int {
		return int(c.p) - int(p)
	})
}

// filter removes false minutiae by the structure of the skeleton around
// them: spurs, short ridges, bridges, lakes, breaks and the border.
func (e *Extractor) filter() {
	cs := e.cands
	drop := func(i int, why uint8) {
		if cs[i].keep {
			cs[i].keep, cs[i].why = false, why
		}
	}
	for i := range cs {
		c := &cs[i]
		for a := 0; a < int(c.narms); a++ {
			r := &c.arms[a]
			if r.end != armMinutia {
				continue
			}
			j := int(r.other)
			if j == i {
				continue
			}
			other := &cs[j]
			switch {
			case !c.bif && other.bif && r.length <= spurLen:
				drop(i, whySpur)
				drop(j, whySpur)
			case !c.bif && !other.bif && r.length <= islandLen:
				drop(i, whyIsland)
				drop(j, whyIsland)
			case c.bif && other.bif && r.length <= bridgeLen:
				drop(i, whyBridge)
				drop(j, whyBridge)
			case c.bif && other.bif && r.length <= lakeLen:
				// A lake: another arm also reaches j within lakeLen.
				for b := 0; b < int(c.narms); b++ {
					if b != a && c.arms[b].end == armMinutia && int(c.arms[b].other) == j && c.arms[b].length <= lakeLen {
						drop(i, whyLake)
						drop(j, whyLake)
					}
				}
			}
		}
		if c.bif && c.narms == 3 {
			// A loop back onto itself (a small lake closed at one junction).
			for a := 0; a < 3; a++ {
				if c.arms[a].end == armMinutia && int(c.arms[a].other) == i {
					drop(i, whyLoop)
				}
			}
		}
	}
	// Breaks: endings facing each other across a short gap.
	for i := range cs {
		a := &cs[i]
		if a.bif || a.narms != 1 {
			continue
		}
		da := e.rawDir(a)
		for j := i + 1; j < len(cs); j++ {
			b := &cs[j]
			if int(b.y)-int(a.y) > breakDist {
				break
			}
			if b.bif || b.narms != 1 {
				continue
			}
			dx, dy := int(b.x)-int(a.x), int(b.y)-int(a.y)
			if dx*dx+dy*dy > breakDist*breakDist {
				continue
			}
			db := e.rawDir(b)
			// Outward directions opposite, and b lies ahead of a.
			if angleDiff(da, db+halfTurn) > breakAngle {
				continue
			}
			ab := atan2(int64(-dy), int64(dx))
			if angleDiff(ab, da) > breakAngle {
				continue
			}
			drop(i, whyBreak)
			drop(j, whyBreak)
		}
	}
	// Border: minutiae at the edge of the foreground, and endings whose
	// ridge runs out of it.
	for i := range cs {
		c := &cs[i]
		if !c.keep {
			continue
		}
		b := (int(c.y)/bs)*e.bw + int(c.x)/bs
		if e.dist[b] <= borderDist {
			drop(i, whyBorder)
			continue
		}
		if !c.bif {
			d := e.rawDir(c)
			x := int(c.x) + roundDiv(borderReach*cosQ14(d), 1<<14)
			y := int(c.y) - roundDiv(borderReach*sinQ14(d), 1<<14)
			if x < 0 || y < 0 || x >= e.w || y >= e.h || e.mask[(y/bs)*e.bw+x/bs] == 0 {
				drop(i, whyRunout)
			}
		}
	}
}

// rawDir is the outward direction of an ending from its traced ridge: from
// the ridge towards the end and beyond.
func (e *Extractor) rawDir(c *candidate) int {
	r := &c.arms[0]
	return atan2(int64(r.dy), int64(-r.dx)) // reversed vector, y up
}

// direction sets the minutia direction as ISO/IEC 19794-2 and MINEX
// extractors give it: for an ending, from the end along the ridge it ends
// (into the ridge); for a bifurcation, from the fork into the valley
// between the two branches (away from the single ridge), taken as the
// bisector of the two branches that are closest in direction. Where the
// smoothed orientation field agrees with that traced direction within 45°,
// the field gives the direction (with the traced sense): it is far
// steadier than a trace of a few pixels, and bozorth3-style matchers,
// which compare directions within about 11°, depend on that. (TestMINEX
// checks the convention against the MINEX reference templates.)
func (e *Extractor) direction(c *candidate) {
	var traced int // ISO sense
	if !c.bif {
		traced = e.rawDir(c) + halfTurn
	} else {
		var dirs [3]int
		for a := range 3 {
			dirs[a] = atan2(int64(-c.arms[a].dy), int64(c.arms[a].dx))
		}
		// The trunk is the arm farthest from the other two; the others
		// are the branches.
		trunk, sep := 0, -1
		for a := range 3 {
			d := min(angleDiff(dirs[a], dirs[(a+1)%3]), angleDiff(dirs[a], dirs[(a+2)%3]))
			if d > sep {
				trunk, sep = a, d
			}
		}
		b1, b2 := dirs[(trunk+1)%3], dirs[(trunk+2)%3]
		d := (b2 - b1) & (turn - 1)
		if d > halfTurn {
			d -= turn
		}
		traced = b1 + d/2
	}
	traced &= turn - 1
	b := (int(c.y)/bs)*e.bw + int(c.x)/bs
	field := int(e.ori[b])
	if angleDiff(field, traced) > turn/4 {
		field += halfTurn
	}
	if angleDiff(field, traced) > turn/8 {
		c.dir = traced
		return
	}
	c.dir = field & (turn - 1)
}

// minutiaQuality rates a minutia 0-100 from the orientation certainty and
// grey-level contrast of its block and its distance to the background.
func (e *Extractor) minutiaQuality(c *candidate) {
	b := (int(c.y)/bs)*e.bw + int(c.x)/bs
	coh := int(e.coh[b])      // 0-255
	std := int(e.bstd[b])     // grey standard deviation
	dist := int(e.dist[b])    // blocks to background
	q := coh * 100 / 255      // certainty
	q = q * min(std, 24) / 24 // contrast
	q = q * min(dist, 4) / 4  // border
	arms := 0
	for a := 0; a < int(c.narms); a++ {
		if c.arms[a].end == armOpen {
			arms++
		}
	}
	if arms < int(c.narms) { // a ridge meets another minutia soon
		q = q * 3 / 4
	}
	c.quality = max(min(q, 100), 1)
}

// removeClusters drops minutiae with more than clusterMax kept neighbours
// within clusterRadius. Candidates are in raster order, so only those
// within clusterRadius rows are compared.
func (e *Extractor) removeClusters() {
	cs := e.cands
	r2 := clusterRadius * clusterRadius
	for i := range cs {
		cs[i].crowd = 0
	}
	for i := range cs {
		if !cs[i].keep {
			continue
		}
		for j := i + 1; j < len(cs) && int(cs[j].y)-int(cs[i].y) <= clusterRadius; j++ {
			if !cs[j].keep {
				continue
			}
			dx, dy := int(cs[j].x)-int(cs[i].x), int(cs[j].y)-int(cs[i].y)
			if dx*dx+dy*dy <= r2 {
				cs[i].crowd++
				cs[j].crowd++
			}
		}
	}
	for i := range cs {
		if cs[i].crowd > clusterMax {
			cs[i].keep, cs[i].why = false, whyCluster
		}
	}
}

// keepBest keeps at most MaxMinutiae minutiae, best quality first, and
// orders them so: quality descending, then y, then x.
func (e *Extractor) keepBest() {
	cs := e.cands
	k := 0
	for i := range cs {
		if cs[i].keep {
			cs[k] = cs[i]
			k++
		}
	}
	cs = cs[:k]
	slices.SortFunc(cs, func(a, b candidate) int {
		if a.quality != b.quality {
			return b.quality - a.quality
		}
		if a.y != b.y {
			return int(a.y) - int(b.y)
		}
		return int(a.x) - int(b.x)
	})
	if len(cs) > e.opts.MaxMinutiae {
		cs = cs[:e.opts.MaxMinutiae]
	}
	e.cands = cs
}
