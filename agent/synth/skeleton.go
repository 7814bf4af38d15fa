package synth

import "github.com/bali-rbdes/kiosk/agent/fmr"

// cleanIslands removes ridge dots and valley lakes smaller than minArea
// pixels (4-connected) by flipping their sign, as real skin has no such
// specks at this scale and they would only make spurious minutiae.
func cleanIslands(v []float32, w, h, minArea int) {
	seen := make([]bool, len(v))
	var stack, comp []int
	for start := range v {
		if seen[start] {
			continue
		}
		ridge := v[start] > 0
		comp = comp[:0]
		stack = append(stack[:0], start)
		seen[start] = true
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, p)
			x, y := p%w, p/w
			for _, q := range [4]int{p - 1, p + 1, p - w, p + w} {
				switch {
				case q == p-1 && x == 0, q == p+1 && x == w-1, q < 0, q >= len(v), q == p-w && y == 0:
					continue
				}
				if !seen[q] && (v[q] > 0) == ridge {
					seen[q] = true
					stack = append(stack, q)
				}
			}
		}
		if len(comp) < minArea {
			for _, p := range comp {
				v[p] = -v[p]
				if v[p] == 0 {
					v[p] = 0.5
				}
			}
		}
	}
}

// Neighbour offsets in circular order starting east, going clockwise on
// screen (east, south-east, south, ...).
var nbrDX = [8]int{1, 1, 0, -1, -1, -1, 0, 1}
var nbrDY = [8]int{0, 1, 1, 1, 0, -1, -1, -1}

// skeletonize thins the ridges (v > 0) to one-pixel-wide 8-connected lines
// with the Zhang-Suen algorithm followed by removal of staircase corners.
func skeletonize(v []float32, w, h int) []uint8 {
	s := make([]uint8, w*h)
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			if v[y*w+x] > 0 {
				s[y*w+x] = 1
			}
		}
	}
	var del []int
	for {
		removed := 0
		for sub := 0; sub < 2; sub++ {
			del = del[:0]
			for y := 1; y < h-1; y++ {
				for x := 1; x < w-1; x++ {
					p := y*w + x
					if s[p] == 0 {
						continue
					}
					// P2..P9 in Zhang-Suen order: N, NE, E, SE, S, SW, W, NW.
					n := [8]uint8{s[p-w], s[p-w+1], s[p+1], s[p+w+1], s[p+w], s[p+w-1], s[p-1], s[p-w-1]}
					b := 0
					a := 0
					for i := range 8 {
						b += int(n[i])
						if n[i] == 0 && n[(i+1)%8] == 1 {
							a++
						}
					}
					if b < 2 || b > 6 || a != 1 {
						continue
					}
					if sub == 0 {
						if n[0]*n[2]*n[4] != 0 || n[2]*n[4]*n[6] != 0 {
							continue
						}
					} else if n[0]*n[2]*n[6] != 0 || n[0]*n[4]*n[6] != 0 {
						continue
					}
					del = append(del, p)
				}
			}
			for _, p := range del {
				s[p] = 0
			}
			removed += len(del)
		}
		if removed == 0 {
			break
		}
	}
	// Staircase corners: a pixel whose only two neighbours are 4-adjacent
	// to each other (an elbow) is redundant for 8-connectivity.
	for y := 1; y < h-1; y++ {
		for x := 1; x < w-1; x++ {
			p := y*w + x
			if s[p] == 0 {
				continue
			}
			nN, nE, nS, nW := s[p-w], s[p+1], s[p+w], s[p-1]
			diag := s[p-w+1] + s[p+w+1] + s[p+w-1] + s[p-w-1]
			if diag == 0 && nN+nE+nS+nW == 2 && nN != nS && nE != nW {
				s[p] = 0
			}
		}
	}
	return s
}

// crossing returns the crossing number of skeleton pixel (x, y): the
// number of 0 to 1 transitions around its 8 neighbours (1 at an ending, 2
// along a ridge, 3 or more at a bifurcation or crossing).
func crossing(s []uint8, w, x, y int) int {
	c := 0
	for i := range 8 {
		a := s[(y+nbrDY[i])*w+x+nbrDX[i]]
		b := s[(y+nbrDY[(i+1)%8])*w+x+nbrDX[(i+1)%8]]
		if a == 0 && b == 1 {
			c++
		}
	}
	return c
}

// Tracing lengths in pixels.
const (
	traceLen = 10 // how far along a branch its direction is measured
	spurLen  = 8  // a branch from an ending to a bifurcation shorter than this is a spur
	gapLen   = 6  // two endings closer than this are a break, not two minutiae
)

// trace follows the skeleton from (x, y) through first neighbour (fx, fy)
// for at most n steps, without stepping onto the pixels in avoid, and
// returns where it stopped, how many steps it took, and whether it stopped
// at another minutia (a pixel whose crossing number is not 2).
func trace(s []uint8, w, h, x, y, fx, fy, n int, avoid []int) (ex, ey, steps int, hit bool) {
	cx, cy := fx, fy
	visited := append(make([]int, 0, n+8), y*w+x)
	visited = append(visited, avoid...)
	for steps = 1; steps < n; steps++ {
		if cx <= 0 || cy <= 0 || cx >= w-1 || cy >= h-1 {
			return cx, cy, steps, false
		}
		if crossing(s, w, cx, cy) != 2 {
			return cx, cy, steps, true
		}
		visited = append(visited, cy*w+cx)
		nx, ny := -1, -1
		// Prefer 4-neighbours, then diagonals.
		for _, i := range [8]int{0, 2, 4, 6, 1, 3, 5, 7} {
			qx, qy := cx+nbrDX[i], cy+nbrDY[i]
			q := qy*w + qx
			if s[q] == 0 || contains(visited, q) {
				continue
			}
			nx, ny = qx, qy
			break
		}
		if nx < 0 {
			return cx, cy, steps, false
		}
		cx, cy = nx, ny
	}
	return cx, cy, steps, false
}

func contains(a []int, v int) bool {
	for _, x := range a {
		if x == v {
			return true
		}
	}
	return false
}

// findMinutiae reads the ridge endings and bifurcations off a skeleton,
// drops spurs and duplicates, and keeps those where keep is true.
func findMinutiae(s []uint8, w, h int, keep func(x, y float64) bool) (mins []Minutia, gaps [][4]int) {
	type cand struct {
		x, y int
		kind fmr.Kind
		dir  float64
		drop bool
	}
	var cs []cand
	for y := 2; y < h-2; y++ {
		for x := 2; x < w-2; x++ {
			if s[y*w+x] == 0 {
				continue
			}
			switch crossing(s, w, x, y) {
			case 1:
				cs = append(cs, cand{x: x, y: y, kind: fmr.Ending})
			case 3:
				cs = append(cs, cand{x: x, y: y, kind: fmr.Bifurcation})
			}
		}
	}
	at := make(map[int]int, len(cs))
	for i, c := range cs {
		at[c.y*w+c.x] = i
	}
	for i := range cs {
		c := &cs[i]
		// The first pixel of each branch: each 0→1 transition around the
		// pixel starts one.
		var starts [4][2]int
		nb := 0
		for k := range 8 {
			a := s[(c.y+nbrDY[k])*w+c.x+nbrDX[k]]
			b := s[(c.y+nbrDY[(k+1)%8])*w+c.x+nbrDX[(k+1)%8]]
			if a == 0 && b == 1 && nb < 4 {
				k1 := (k + 1) % 8
				// If the run continues onto a 4-neighbour right after a
				// diagonal, start on the 4-neighbour.
				if k1%2 == 1 && s[(c.y+nbrDY[(k1+1)%8])*w+c.x+nbrDX[(k1+1)%8]] == 1 {
					k1 = (k1 + 1) % 8
				}
				starts[nb] = [2]int{c.x + nbrDX[k1], c.y + nbrDY[k1]}
				nb++
			}
		}
		// Pixels next to the minutia that belong to other branches are off
		// limits for each trace.
		var ends [4][2]float64
		for b := 0; b < nb; b++ {
			var avoid []int
			for o := 0; o < nb; o++ {
				if o != b {
					avoid = append(avoid, starts[o][1]*w+starts[o][0])
				}
			}
			ex, ey, steps, hit := trace(s, w, h, c.x, c.y, starts[b][0], starts[b][1], traceLen, avoid)
			if hit {
				if j, ok := at[ey*w+ex]; ok && j != i && steps < spurLen && (c.kind == fmr.Ending) != (cs[j].kind == fmr.Ending) {
					// A short branch between an ending and a bifurcation:
					// a spur, not two minutiae.
					c.drop, cs[j].drop = true, true
				}
			}
			ends[b] = [2]float64{float64(ex - c.x), float64(ey - c.y)}
		}
		switch {
		case c.kind == fmr.Ending && nb == 1:
			c.dir = isoAngle(ends[0][0], ends[0][1])
		case c.kind == fmr.Bifurcation && nb == 3:
			// Bisect the smallest of the three angles between branches.
			best, bi, bj := 10.0, 0, 1
			for a := 0; a < 3; a++ {
				for b := a + 1; b < 3; b++ {
					d := angleBetween(ends[a], ends[b])
					if d < best {
						best, bi, bj = d, a, b
					}
				}
			}
			ua, ub := unit(ends[bi]), unit(ends[bj])
			c.dir = isoAngle(ua[0]+ub[0], ua[1]+ub[1])
		default:
			c.drop = true
		}
	}
	// Neighbours: two endings within gapLen of each other are the two
	// sides of a break that any pressure would close, so neither is sure;
	// other minutiae within 3 px of each other come from one skeleton blob:
	// keep the first of two of a kind, neither of an ending and a
	// bifurcation.
	for i := range cs {
		for j := i + 1; j < len(cs); j++ {
			dx, dy := cs[j].x-cs[i].x, cs[j].y-cs[i].y
			if dy > gapLen {
				break
			}
			d2 := dx*dx + dy*dy
			switch {
			case cs[i].kind == fmr.Ending && cs[j].kind == fmr.Ending && d2 <= gapLen*gapLen:
				cs[i].drop, cs[j].drop = true, true
				// Endings facing each other (each pointing away from the
				// other) are a broken ridge: worth mending.
				if facing(cs[i].dir, float64(dx), float64(dy)) && facing(cs[j].dir, float64(-dx), float64(-dy)) {
					gaps = append(gaps, [4]int{cs[i].x, cs[i].y, cs[j].x, cs[j].y})
				}
			case d2 <= 9 && cs[i].kind == cs[j].kind:
				cs[j].drop = true
			case d2 <= 9:
				cs[i].drop, cs[j].drop = true, true
			}
		}
	}
	for _, c := range cs {
		// A minutia must also look like one a little further out: one
		// branch (ending) or three (bifurcation) crossing the rings two
		// and three pixels away. Tangles that do not are not marked.
		want := 1
		if c.kind == fmr.Bifurcation {
			want = 3
		}
		if c.drop || ringRuns(s, w, c.x, c.y, 2) != want || ringRuns(s, w, c.x, c.y, 3) != want || !keep(float64(c.x), float64(c.y)) {
			continue
		}
		mins = append(mins, Minutia{X: float64(c.x), Y: float64(c.y), Direction: c.dir, Kind: c.kind})
	}
	return mins, gaps
}

// healGaps joins the two ends of each gap with a ridge two or three pixels
// wide, painted into the ridge field.
func healGaps(v []float32, w, h int, gaps [][4]int) {
	for _, g := range gaps {
		x0, y0, x1, y1 := g[0], g[1], g[2], g[3]
		n := max(abs(x1-x0), abs(y1-y0))
		for k := 0; k <= n; k++ {
			// Integer interpolation: exact on every machine.
			x := x0 + ((x1-x0)*k*2+n)/(2*max(n, 1))
			y := y0 + ((y1-y0)*k*2+n)/(2*max(n, 1))
			for dy := -1; dy <= 1; dy++ {
				for dx := -1; dx <= 1; dx++ {
					px, py := x+dx, y+dy
					if px >= 0 && py >= 0 && px < w && py < h && dx*dx+dy*dy <= 1 {
						v[py*w+px] = 1
					}
				}
			}
		}
	}
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// isoAngle returns the ISO direction in [0, 2π) of an image-space vector
// (dx, dy) with y downwards.
func isoAngle(dx, dy float64) float64 {
	a := atan2(-dy, dx)
	if a < 0 {
		a += twoPi
	}
	return a
}

// unit returns v scaled to unit length (or v if it is zero).
func unit(v [2]float64) [2]float64 {
	n := sqrt(float64(v[0]*v[0]) + float64(v[1]*v[1]))
	if n == 0 {
		return v
	}
	return [2]float64{v[0] / n, v[1] / n}
}

// angleBetween returns the unsigned angle in [0, π] between two vectors.
func angleBetween(a, b [2]float64) float64 {
	d := atan2(float64(a[0]*b[1])-float64(a[1]*b[0]), float64(a[0]*b[0])+float64(a[1]*b[1]))
	if d < 0 {
		d = -d
	}
	return d
}

// facing reports whether an ending with ISO direction dir points away from
// the image-space vector (dx, dy) to the other end of a gap.
func facing(dir, dx, dy float64) bool {
	ux, uy := cos(dir), -sin(dir)
	n := sqrt(float64(dx*dx) + float64(dy*dy))
	return float64(ux*dx)+float64(uy*dy) < float64(-0.7*n)
}

// ringRuns counts the runs of skeleton pixels on the square ring at
// Chebyshev distance r around (x, y): 1 near a ridge ending, 2 along a
// ridge, 3 near a bifurcation. The caller keeps (x, y) at least r pixels
// from the border.
func ringRuns(s []uint8, w, x, y, r int) int {
	n := 8 * r
	at := func(k int) uint8 {
		// Walk the ring clockwise from the top-left corner.
		switch side, off := k/(2*r), k%(2*r); side {
		case 0:
			return s[(y-r)*w+x-r+off]
		case 1:
			return s[(y-r+off)*w+x+r]
		case 2:
			return s[(y+r)*w+x+r-off]
		default:
			return s[(y+r-off)*w+x-r]
		}
	}
	runs := 0
	for k := range n {
		if at(k) == 1 && at((k+n-1)%n) == 0 {
			runs++
		}
	}
	return runs
}
