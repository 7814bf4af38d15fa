package face

import (
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// HaarCascade is an OpenCV boosted cascade of Haar-feature decision trees,
// read from the XML files of OpenCV's CascadeClassifier ("new" format, as
// written by opencv_traincascade: <cascade> with <stages> and <features>).
// The kiosk uses OpenCV's haarcascade_eye.xml to confirm and locate each eye
// inside a detected face. Tilted (45-degree) features are not supported; the
// eye cascade has none.
//
// A HaarCascade is immutable once parsed and safe for concurrent use.
type HaarCascade struct {
	w, h     int
	stages   []haarStage
	weak     []haarWeak
	nodes    []haarNode
	leaves   []float32
	features []haarFeature
}

type haarStage struct {
	first, count int // range in weak
	threshold    float32
}

type haarWeak struct {
	node, leaf int // first node and first leaf in nodes and leaves
}

// haarNode is one split: left and right are the next node (> 0, relative to
// the weak classifier's first node) or a leaf (<= 0, leaf index -v).
type haarNode struct {
	feature     int32
	threshold   float32
	left, right int32
}

type haarRect struct {
	x, y, w, h int
	weight     float32
}

type haarFeature struct {
	rects [3]haarRect
	n     int
}

// Limits that keep a hostile file from making the evaluator slow or huge.
const (
	haarMaxWindow   = 64
	haarMaxStages   = 256
	haarMaxWeak     = 100000
	haarMaxNodes    = 64
	haarMaxFeatures = 100000
)

type haarXML struct {
	Cascade struct {
		StageType   string `xml:"stageType"`
		FeatureType string `xml:"featureType"`
		Height      int    `xml:"height"`
		Width       int    `xml:"width"`
		Stages      []struct {
			StageThreshold string `xml:"stageThreshold"`
			Weak           []struct {
				InternalNodes string `xml:"internalNodes"`
				LeafValues    string `xml:"leafValues"`
			} `xml:"weakClassifiers>_"`
		} `xml:"stages>_"`
		Features []struct {
			Rects  []string `xml:"rects>_"`
			Tilted string   `xml:"tilted"`
		} `xml:"features>_"`
	} `xml:"cascade"`
}

// ParseHaarCascade reads an OpenCV Haar cascade XML file (the format of
// haarcascade_eye.xml). Errors wrap ErrBadCascade and say what is wrong.
func ParseHaarCascade(b []byte) (*HaarCascade, error) {
	var doc haarXML
	if err := xml.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("face: Haar cascade is not readable XML (want an OpenCV cascade file): %w: %w", ErrBadCascade, err)
	}
	x := &doc.Cascade
	bad := func(format string, args ...any) error {
		return fmt.Errorf("face: Haar cascade: "+format+": %w", append(args, ErrBadCascade)...)
	}
	if x.StageType != "BOOST" || x.FeatureType != "HAAR" {
		return nil, bad("stage type %q and feature type %q, want BOOST and HAAR (old-format or LBP cascades are not supported)", x.StageType, x.FeatureType)
	}
	if x.Width < 3 || x.Height < 3 || x.Width > haarMaxWindow || x.Height > haarMaxWindow {
		return nil, bad("window %dx%d is outside 3..%d", x.Width, x.Height, haarMaxWindow)
	}
	if len(x.Stages) == 0 || len(x.Stages) > haarMaxStages {
		return nil, bad("%d stages, want 1..%d", len(x.Stages), haarMaxStages)
	}
	if len(x.Features) == 0 || len(x.Features) > haarMaxFeatures {
		return nil, bad("%d features, want 1..%d", len(x.Features), haarMaxFeatures)
	}
	c := &HaarCascade{w: x.Width, h: x.Height}
	for i, f := range x.Features {
		if t := strings.TrimSpace(f.Tilted); t != "" && t != "0" {
			return nil, bad("feature %d is tilted, which this evaluator does not support", i)
		}
		if len(f.Rects) < 1 || len(f.Rects) > 3 {
			return nil, bad("feature %d has %d rectangles, want 1..3", i, len(f.Rects))
		}
		var hf haarFeature
		for j, r := range f.Rects {
			v, err := parseNumbers(r, 5)
			if err != nil {
				return nil, bad("feature %d rectangle %d: %v", i, j, err)
			}
			rx, ry, rw, rh := int(v[0]), int(v[1]), int(v[2]), int(v[3])
			if float64(rx) != v[0] || float64(ry) != v[1] || float64(rw) != v[2] || float64(rh) != v[3] ||
				rx < 0 || ry < 0 || rw < 1 || rh < 1 || rx+rw > x.Width || ry+rh > x.Height {
				return nil, bad("feature %d rectangle %d (%v) is not inside the %dx%d window", i, j, v[:4], x.Width, x.Height)
			}
			hf.rects[j] = haarRect{x: rx, y: ry, w: rw, h: rh, weight: float32(v[4])}
		}
		hf.n = len(f.Rects)
		c.features = append(c.features, hf)
	}
	for si, s := range x.Stages {
		thr, err := parseNumbers(s.StageThreshold, 1)
		if err != nil {
			return nil, bad("stage %d threshold: %v", si, err)
		}
		if len(s.Weak) == 0 || len(c.weak)+len(s.Weak) > haarMaxWeak {
			return nil, bad("stage %d has %d weak classifiers (want at least 1, at most %d in all)", si, len(s.Weak), haarMaxWeak)
		}
		st := haarStage{first: len(c.weak), count: len(s.Weak), threshold: float32(thr[0])}
		for wi, w := range s.Weak {
			nums, err := parseNumbers(w.InternalNodes, -1)
			if err != nil {
				return nil, bad("stage %d weak classifier %d nodes: %v", si, wi, err)
			}
			leaves, err := parseNumbers(w.LeafValues, -1)
			if err != nil {
				return nil, bad("stage %d weak classifier %d leaves: %v", si, wi, err)
			}
			nn := len(nums) / 4
			if len(nums)%4 != 0 || nn < 1 || nn > haarMaxNodes || len(leaves) != nn+1 {
				return nil, bad("stage %d weak classifier %d has %d node numbers and %d leaves, want 4 per node and one leaf more than nodes", si, wi, len(nums), len(leaves))
			}
			hw := haarWeak{node: len(c.nodes), leaf: len(c.leaves)}
			for k := 0; k < nn; k++ {
				l, r, fi, t := nums[4*k], nums[4*k+1], nums[4*k+2], nums[4*k+3]
				if fi != math.Trunc(fi) || fi < 0 || int(fi) >= len(c.features) {
					return nil, bad("stage %d weak classifier %d node %d uses feature %v of %d", si, wi, k, fi, len(c.features))
				}
				for _, child := range []float64{l, r} {
					// A child node must come later, so trees cannot loop.
					if child != math.Trunc(child) || (child > 0 && (int(child) <= k || int(child) >= nn)) || (child <= 0 && int(-child) > nn) {
						return nil, bad("stage %d weak classifier %d node %d has child %v, not a later node or a leaf", si, wi, k, child)
					}
				}
				c.nodes = append(c.nodes, haarNode{feature: int32(fi), threshold: float32(t), left: int32(l), right: int32(r)})
			}
			for _, v := range leaves {
				c.leaves = append(c.leaves, float32(v))
			}
			c.weak = append(c.weak, hw)
		}
		c.stages = append(c.stages, st)
	}
	return c, nil
}

// parseNumbers parses whitespace-separated finite numbers; want < 0 accepts
// any count up to 4*haarMaxNodes.
func parseNumbers(s string, want int) ([]float64, error) {
	fields := strings.Fields(s)
	if want >= 0 && len(fields) != want {
		return nil, fmt.Errorf("%d numbers, want %d", len(fields), want)
	}
	if len(fields) > 4*haarMaxNodes+1 {
		return nil, fmt.Errorf("%d numbers, too many", len(fields))
	}
	out := make([]float64, len(fields))
	for i, f := range fields {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%q is not a finite number", f)
		}
		out[i] = v
	}
	return out, nil
}

// Window returns the cascade's window size in pixels.
func (c *HaarCascade) Window() (w, h int) { return c.w, c.h }

// haarScan evaluates a cascade over one image: it holds the image's
// summed-area tables (sum[y*(w+1)+x] is the sum of the pixels above and left
// of (x, y)) and every feature's rectangle corners as offsets into them, as
// OpenCV's HaarEvaluator does, so a rectangle sum is four loads.
type haarScan struct {
	w, h  int
	sum   []int32
	sqsum []int64
	feats []haarOpt
	norm  [4]int32 // corners of the normalisation rectangle
}

type haarOpt struct {
	off    [3][4]int32
	weight [3]float32
	n      int
}

// load builds the tables of the w x h image pix (row-major, values rounded
// to integers) and the feature offsets for c.
func (hs *haarScan) load(c *HaarCascade, pix []float64, w, h int) {
	n := (w + 1) * (h + 1)
	if cap(hs.sum) < n {
		hs.sum = make([]int32, n)
		hs.sqsum = make([]int64, n)
	}
	hs.sum, hs.sqsum = hs.sum[:n], hs.sqsum[:n]
	clear(hs.sum[:w+1])
	clear(hs.sqsum[:w+1])
	s := w + 1
	for y := 0; y < h; y++ {
		hs.sum[(y+1)*s] = 0
		hs.sqsum[(y+1)*s] = 0
		var row int32
		var rowsq int64
		for x := 0; x < w; x++ {
			v := int32(pix[y*w+x] + 0.5)
			row += v
			rowsq += int64(v) * int64(v)
			hs.sum[(y+1)*s+x+1] = hs.sum[y*s+x+1] + row
			hs.sqsum[(y+1)*s+x+1] = hs.sqsum[y*s+x+1] + rowsq
		}
	}
	if hs.w+1 != s || len(hs.feats) != len(c.features) {
		if cap(hs.feats) < len(c.features) {
			hs.feats = make([]haarOpt, len(c.features))
		}
		hs.feats = hs.feats[:len(c.features)]
		corners := func(x, y, rw, rh int) [4]int32 {
			return [4]int32{int32(y*s + x), int32(y*s + x + rw), int32((y+rh)*s + x), int32((y+rh)*s + x + rw)}
		}
		for i, f := range c.features {
			o := haarOpt{n: f.n}
			for j, r := range f.rects[:f.n] {
				o.off[j] = corners(r.x, r.y, r.w, r.h)
				o.weight[j] = r.weight
			}
			hs.feats[i] = o
		}
		hs.norm = corners(1, 1, c.w-2, c.h-2)
	}
	hs.w, hs.h = w, h
}

// eval runs the cascade on the window with its top-left corner at (x, y).
// It returns the number of stages passed (len(c.stages) means accepted).
func (c *HaarCascade) eval(hs *haarScan, x, y int) int {
	base := int32(y*(hs.w+1) + x)
	sum, sqsum := hs.sum, hs.sqsum
	// OpenCV normalises by the standard deviation over the window shrunk by
	// one pixel on every side.
	area := float64((c.w - 2) * (c.h - 2))
	nc := hs.norm
	s := float64(sum[base+nc[3]] - sum[base+nc[1]] - sum[base+nc[2]] + sum[base+nc[0]])
	sq := float64(sqsum[base+nc[3]] - sqsum[base+nc[1]] - sqsum[base+nc[2]] + sqsum[base+nc[0]])
	nf := area*sq - s*s
	if nf <= 0 {
		return 0
	}
	inv := 1 / math.Sqrt(nf)
	// As OpenCV's HaarEvaluator::setWindow: a window whose standard
	// deviation is 10 grey levels or less is rejected outright.
	if area*inv >= 0.1 {
		return 0
	}
	finv := float32(inv)
	for si, st := range c.stages {
		var acc float32
		for _, w := range c.weak[st.first : st.first+st.count] {
			k := 0
			for {
				n := c.nodes[w.node+k]
				f := &hs.feats[n.feature]
				var v float32
				for j := 0; j < f.n; j++ {
					o := f.off[j]
					v += f.weight[j] * float32(sum[base+o[3]]-sum[base+o[1]]-sum[base+o[2]]+sum[base+o[0]])
				}
				next := n.right
				if v*finv < n.threshold {
					next = n.left
				}
				if next <= 0 {
					acc += c.leaves[w.leaf+int(-next)]
					break
				}
				k = int(next)
			}
		}
		if acc < st.threshold {
			return si
		}
	}
	return len(c.stages)
}
