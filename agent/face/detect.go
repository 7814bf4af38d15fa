package face

import (
	"math"
	"sort"
)

// Detection is one face found by the PICO cascade: a square window centred
// at (X, Y) (column, row, in pixels of the frame) with side Size, and the
// summed confidence Score of the raw detections clustered into it.
type Detection struct {
	X, Y, Size float64
	Score      float64
}

// scanParams are the multi-scale scan settings, taken from Options.
type scanParams struct {
	minSize, maxSize float64
	scaleFactor      float64
	strideFactor     float64
	minScore         float64
	overlap          float64 // clustering threshold on pico's overlap
}

// detectScratch keeps a scan's buffers between frames: the raw detections
// and, per scale, the cascade's pixel-offset table, which stays valid while
// the frame size and options do not change (a camera stream).
type detectScratch struct {
	raw    []Detection
	tables []*offsets
}

// detect scans g at every scale from minSize to maxSize, clusters the raw
// detections, and returns the clusters scoring at least minScore, largest
// first. This is pico's find_objects plus cluster_detections.
func (c *Cascade) detect(g *gray, p scanParams, ds *detectScratch) []Detection {
	ds.raw = ds.raw[:0]
	maxSize := p.maxSize
	if short := float64(min(g.w, g.h)); maxSize <= 0 || maxSize > short {
		maxSize = short
	}
	i := 0
	for s := p.minSize; s <= maxSize; s, i = s*p.scaleFactor, i+1 {
		step := max(p.strideFactor*s, 1)
		is := int(s)
		if i == len(ds.tables) {
			ds.tables = append(ds.tables, &offsets{})
		}
		o := ds.tables[i]
		if o.size != is || o.stride != g.stride || o.cascade != c {
			o.reset(c, is, g.stride)
		}
		for r := s/2 + 1; r <= float64(g.h)-s/2-1; r += step {
			for col := s/2 + 1; col <= float64(g.w)-s/2-1; col += step {
				if q, ok := c.classify(g, o, int(r), int(col)); ok {
					ds.raw = append(ds.raw, Detection{X: float64(int(col)), Y: float64(int(r)), Size: float64(is), Score: float64(q)})
				}
			}
		}
	}
	clusters := cluster(ds.raw, p.overlap)
	faces := clusters[:0]
	for _, d := range clusters {
		if d.Score >= p.minScore {
			faces = append(faces, d)
		}
	}
	sort.SliceStable(faces, func(i, j int) bool {
		if faces[i].Size != faces[j].Size {
			return faces[i].Size > faces[j].Size
		}
		return faces[i].Score > faces[j].Score
	})
	return faces
}

// overlap is pico's overlap of two square windows: intersection over
// (area1 + area2 - intersection).
func overlap(a, b Detection) float64 {
	or := math.Max(0, math.Min(a.Y+a.Size/2, b.Y+b.Size/2)-math.Max(a.Y-a.Size/2, b.Y-b.Size/2))
	oc := math.Max(0, math.Min(a.X+a.Size/2, b.X+b.Size/2)-math.Max(a.X-a.Size/2, b.X-b.Size/2))
	inter := or * oc
	return inter / (a.Size*a.Size + b.Size*b.Size - inter)
}

// cluster groups detections into connected components of overlap above thr
// (pico's cluster_detections): each cluster's position and size are the mean
// of its members and its score is their sum.
func cluster(raw []Detection, thr float64) []Detection {
	n := len(raw)
	label := make([]int, n)
	stack := make([]int, 0, 16)
	var out []Detection
	ncc := 0
	for i := 0; i < n; i++ {
		if label[i] != 0 {
			continue
		}
		ncc++
		label[i] = ncc
		stack = append(stack[:0], i)
		var sum Detection
		members := 0
		for len(stack) > 0 {
			k := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			d := raw[k]
			sum.X += d.X
			sum.Y += d.Y
			sum.Size += d.Size
			sum.Score += d.Score
			members++
			for j := 0; j < n; j++ {
				if label[j] == 0 && overlap(d, raw[j]) > thr {
					label[j] = ncc
					stack = append(stack, j)
				}
			}
		}
		m := float64(members)
		out = append(out, Detection{X: sum.X / m, Y: sum.Y / m, Size: sum.Size / m, Score: sum.Score})
	}
	return out
}
