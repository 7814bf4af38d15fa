package synth

import (
	"fmt"
	"math"
	"sync"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// ringRunsTest counts the runs of skeleton pixels on the square ring at
// Chebyshev distance r around (x, y), written apart from the generator's
// own ringRuns so that each checks the other.
func ringRunsTest(s []uint8, w, x, y, r int) int {
	var ring []uint8
	for i := -r; i < r; i++ {
		ring = append(ring, s[(y-r)*w+x+i])
	}
	for j := -r; j < r; j++ {
		ring = append(ring, s[(y+j)*w+x+r])
	}
	for i := r; i > -r; i-- {
		ring = append(ring, s[(y+r)*w+x+i])
	}
	for j := r; j > -r; j-- {
		ring = append(ring, s[(y+j)*w+x-r])
	}
	runs := 0
	for i := range ring {
		if ring[i] == 1 && ring[(i+len(ring)-1)%len(ring)] == 0 {
			runs++
		}
	}
	return runs
}

// branchAngles returns the ISO directions of the skeleton runs crossing
// the square ring at Chebyshev distance r around (x, y).
func branchAngles(s []uint8, w, x, y, r int) []float64 {
	type px struct{ dx, dy int }
	var ring []px
	for i := -r; i < r; i++ {
		ring = append(ring, px{i, -r})
	}
	for j := -r; j < r; j++ {
		ring = append(ring, px{r, j})
	}
	for i := r; i > -r; i-- {
		ring = append(ring, px{i, r})
	}
	for j := r; j > -r; j-- {
		ring = append(ring, px{-r, j})
	}
	on := func(k int) bool { p := ring[(k+len(ring))%len(ring)]; return s[(y+p.dy)*w+x+p.dx] == 1 }
	var out []float64
	for k := range ring {
		if !on(k) || on(k-1) {
			continue
		}
		var sx, sy, n float64
		for j := k; on(j) && n < float64(len(ring)); j++ {
			p := ring[j%len(ring)]
			sx, sy, n = sx+float64(p.dx), sy+float64(p.dy), n+1
		}
		out = append(out, math.Mod(math.Atan2(-sy, sx)+2*math.Pi, 2*math.Pi))
	}
	return out
}

// masterCache keeps the masters tests build, since building one takes
// seconds under qemu.
var masterCache struct {
	sync.Mutex
	g *Generator
	m map[uint64]*Master
}

// testMaster returns the master for seed, built once per test binary.
func testMaster(t testing.TB, seed uint64) *Master {
	t.Helper()
	masterCache.Lock()
	defer masterCache.Unlock()
	if masterCache.g == nil {
		g, err := New(nil)
		if err != nil {
			t.Fatal(err)
		}
		masterCache.g, masterCache.m = g, map[uint64]*Master{}
	}
	m, ok := masterCache.m[seed]
	if !ok {
		m = masterCache.g.Master(seed)
		masterCache.m[seed] = m
	}
	return m
}

// testMasters returns masters for a few seeds covering every class.
func testMasters(t testing.TB) []*Master {
	t.Helper()
	// The first seed of each class (with -short, of the first two), then
	// (in long mode) a dozen more.
	var seeds []uint64
	seen := map[Class]bool{}
	classes := len(classWeights)
	if testing.Short() {
		classes = 2
	}
	for s := uint64(1); len(seen) < classes; s++ {
		if c := Class(newRNG(s, "master", 0).pick(classWeights) + 1); !seen[c] {
			seen[c] = true
			seeds = append(seeds, s)
		}
	}
	if !testing.Short() {
		for s := uint64(100); s < 112; s++ {
			seeds = append(seeds, s)
		}
	}
	var ms []*Master
	for _, s := range seeds {
		ms = append(ms, testMaster(t, s))
	}
	return ms
}

// TestMasterMinutiaeAreOnTheMaster checks that every ground-truth minutia
// of a master lies on the fingertip, on a ridge, and on a ridge ending or
// bifurcation of the ridge skeleton, with a direction along a branch.
func TestMasterMinutiaeAreOnTheMaster(t *testing.T) {
	for _, m := range testMasters(t) {
		t.Run(fmt.Sprintf("seed%d_%s", m.Seed, m.Class), func(t *testing.T) {
			if n := len(m.Minutiae); n < 20 || n > 150 {
				t.Errorf("master has %d minutiae, want 20..150 (a plain fingertip has some 40-100)", n)
			}
			for i, mi := range m.Minutiae {
				x, y := int(mi.X), int(mi.Y)
				if float64(x) != mi.X || float64(y) != mi.Y {
					t.Errorf("minutia %d at (%g,%g): master minutiae sit on pixels", i, mi.X, mi.Y)
					continue
				}
				if d := m.tip.dist(mi.X, mi.Y); d < minutiaEdgeMargin {
					t.Errorf("minutia %d at (%d,%d) is %.1f px from the fingertip edge, want >= %d", i, x, y, d, minutiaEdgeMargin)
				}
				if m.ridge[y*m.Width+x] <= 0 {
					t.Errorf("minutia %d at (%d,%d) is not on a ridge", i, x, y)
				}
				if m.skel[y*m.Width+x] != 1 {
					t.Errorf("minutia %d at (%d,%d) is not on the ridge skeleton", i, x, y)
					continue
				}
				want := 1
				if mi.Kind == fmr.Bifurcation {
					want = 3
				}
				if got := ringRunsTest(m.skel, m.Width, x, y, 2); got != want {
					t.Errorf("minutia %d (%v) at (%d,%d): %d skeleton branches leave it, want %d", i, mi.Kind, x, y, got, want)
				}
				if !(mi.Direction >= 0 && mi.Direction < 2*math.Pi) {
					t.Errorf("minutia %d direction %g, want [0, 2π)", i, mi.Direction)
				}
				if got := crossing(m.skel, m.Width, x, y); got != want {
					t.Errorf("minutia %d (%v) at (%d,%d): crossing number %d, want %d", i, mi.Kind, x, y, got, want)
				}
				// Directions: an ending points along its one branch; a
				// bifurcation points between its branches, along none.
				branches := branchAngles(m.skel, m.Width, x, y, 4)
				for _, b := range branches {
					d := math.Abs(math.Remainder(mi.Direction-b, 2*math.Pi))
					// The ring is 4 px out, the direction is measured 10 px
					// out, and ridges curve: allow 45°.
					if mi.Kind == fmr.Ending && len(branches) == 1 && d > math.Pi/4 {
						t.Errorf("ending %d at (%d,%d) points at %.0f°, its ridge leaves at %.0f°", i, x, y, mi.Direction*180/math.Pi, b*180/math.Pi)
					}
					if mi.Kind == fmr.Bifurcation && d < 0.25 {
						t.Errorf("bifurcation %d at (%d,%d) points at %.0f°, along a branch leaving at %.0f°", i, x, y, mi.Direction*180/math.Pi, b*180/math.Pi)
					}
				}
			}
		})
	}
}

// TestImpressionTruthFollowsTheWarp checks that impression ground truth is
// the master's minutiae carried through the impression's warp: each true
// minutia maps back onto a master minutia of the same kind, lies in the
// image and on the foreground, and minutiae outside the contact area are
// gone.
func TestImpressionTruthFollowsTheWarp(t *testing.T) {
	for _, s := range []Sensor{Optical, R30x, FPC1020} {
		g, err := New(&Options{Sensor: s})
		if err != nil {
			t.Fatal(err)
		}
		seeds, imps := []uint64{1, 4}, uint64(4)
		if testing.Short() {
			seeds, imps = seeds[:1], 2
		}
		for _, seed := range seeds {
			m := testMaster(t, seed)
			f := g.FingerOf(m, 3)
			for k := uint64(1); k <= imps; k++ {
				t.Run(fmt.Sprintf("%s/seed%d/imp%d", s, seed, k), func(t *testing.T) {
					im := f.Impression(k)
					if im.Width != s.Width() || im.Height != s.Height() || im.Image.Bounds().Dx() != s.Width() || im.Image.Bounds().Dy() != s.Height() {
						t.Fatalf("image %v, want %dx%d", im.Image.Bounds(), s.Width(), s.Height())
					}
					if len(im.Truth) < 5 {
						t.Errorf("%d true minutiae, want at least 5 on a %dx%d image", len(im.Truth), im.Width, im.Height)
					}
					w := newWarp(m, g.sensor, im.Params, newRNG(im.Params.Seed, "render", 0))
					kept := 0
					for _, mm := range m.Minutiae {
						if w.contact(mm.X, mm.Y) > 0 {
							px, py := w.invert(mm.X, mm.Y)
							if px >= 0 && py >= 0 && px <= float64(im.Width-1) && py <= float64(im.Height-1) {
								kept++
							}
						}
					}
					if kept != len(im.Truth) {
						t.Errorf("%d true minutiae, want the %d master minutiae inside the contact area and the image", len(im.Truth), kept)
					}
					for i, tm := range im.Truth {
						qx, qy, _ := w.at(tm.X, tm.Y)
						best, bi := math.Inf(1), -1
						for j, mm := range m.Minutiae {
							if d := math.Hypot(mm.X-qx, mm.Y-qy); d < best {
								best, bi = d, j
							}
						}
						if best > 0.05 {
							t.Errorf("minutia %d at (%.1f,%.1f) maps to master (%.2f,%.2f), %.3f px from the nearest master minutia", i, tm.X, tm.Y, qx, qy, best)
							continue
						}
						if m.Minutiae[bi].Kind != tm.Kind {
							t.Errorf("minutia %d is a %v, its master minutia a %v", i, tm.Kind, m.Minutiae[bi].Kind)
						}
						// The direction is the master direction carried through
						// the warp: a point 2 px ahead in the master lands 2 px
						// ahead (give or take the stretch) in the image; the two finite
						// differences agree to a few degrees where the skin stretches most.
						mm := m.Minutiae[bi]
						ax, ay := w.invert(mm.X+2*math.Cos(mm.Direction), mm.Y-2*math.Sin(mm.Direction))
						want := math.Atan2(-(ay - tm.Y), ax-tm.X)
						if d := math.Abs(math.Remainder(tm.Direction-want, 2*math.Pi)); d > 6*math.Pi/180 {
							t.Errorf("minutia %d direction %.1f°, the warp carries the master's %.1f° to %.1f°", i,
								tm.Direction*180/math.Pi, mm.Direction*180/math.Pi, want*180/math.Pi)
						}
						x, y := int(math.Round(tm.X)), int(math.Round(tm.Y))
						if im.Edge[i] > 1 && im.Foreground.GrayAt(x, y).Y != 255 {
							t.Errorf("minutia %d at (%d,%d), %.1f px inside the print, is not on the foreground", i, x, y, im.Edge[i])
						}
						if im.Edge[i] <= 0 {
							t.Errorf("minutia %d has edge distance %.2f, want > 0", i, im.Edge[i])
						}
					}
				})
			}
		}
	}
}

// TestSingularPointDirections checks the directions of cores and deltas:
// each is in [0, 2π) and the ridges there run along it; a delta's three
// directions are well apart.
func TestSingularPointDirections(t *testing.T) {
	radialAt := func(m *Master, x, y, dir float64) float64 {
		// The angle between dir and the ridge 10 px out along it, modulo π.
		px, py := x+10*math.Cos(dir), y-10*math.Sin(dir)
		ridge := -m.orient.at(px, py) // y up, as directions are measured
		return math.Abs(math.Remainder(ridge-dir, math.Pi))
	}
	for _, m := range testMasters(t) {
		t.Run(fmt.Sprintf("seed %d %v", m.Seed, m.Class), func(t *testing.T) {
			for i, c := range m.Cores {
				if c.Direction < 0 || c.Direction >= 2*math.Pi {
					t.Errorf("core %d direction %v, want [0, 2π)", i, c.Direction)
				}
				if off := radialAt(m, c.X, c.Y, c.Direction); off > math.Pi/8 {
					t.Errorf("core %d at (%.0f,%.0f) direction %.2f: ridges there run %.2f rad off it, want along it", i, c.X, c.Y, c.Direction, off)
				}
			}
			for i, d := range m.Deltas {
				for k, a := range d.Directions {
					if a < 0 || a >= 2*math.Pi {
						t.Errorf("delta %d direction %d is %v, want [0, 2π)", i, k, a)
					}
					if off := radialAt(m, d.X, d.Y, a); off > math.Pi/8 {
						t.Errorf("delta %d at (%.0f,%.0f) direction %.2f: ridges there run %.2f rad off it, want along it", i, d.X, d.Y, a, off)
					}
					next := d.Directions[(k+1)%3]
					if gap := math.Mod(next-a+4*math.Pi, 2*math.Pi); gap < math.Pi/6 {
						t.Errorf("delta %d directions %v: %.2f and %.2f only %.2f rad apart", i, d.Directions, a, next, gap)
					}
				}
			}
		})
	}
}

// TestLoopsOpenDownwards checks the flow of loops over many seeds: a loop
// opens towards the base of the finger, so its core's direction (down the
// axis of the loop, towards its open end) lies within 90° of straight down
// in all but a few. Too much random correction or bending of the flow
// turns loops about their cores: with corrections of 0.7 radian and the
// bending free at the core, one loop in nine opened upwards.
func TestLoopsOpenDownwards(t *testing.T) {
	var loops, up int
	for s := uint64(1); s <= 1500; s++ {
		c, _, o := newFlow(s)
		if c != LeftLoop && c != RightLoop && c != TentedArch {
			continue
		}
		loops++
		dir := o.radial(o.cores[0].p, 1)
		if len(dir) != 1 {
			t.Errorf("seed %d %v: core has %d radial directions, want 1", s, c, len(dir))
			continue
		}
		if down := math.Abs(math.Remainder(dir[0]-3*math.Pi/2, 2*math.Pi)); down > math.Pi/2 {
			up++
		}
	}
	frac := float64(up) / float64(max(1, loops))
	t.Logf("%d of %d loops and tented arches open above the horizontal (%.1f%%)", up, loops, 100*frac)
	if frac > 0.03 {
		t.Errorf("%d of %d loops (%.1f%%) open above the horizontal, want at most 3%%", up, loops, 100*frac)
	}
}
