// Package minutiae extracts ridge endings and bifurcations from fingerprint
// images, with a per-minutia quality, a 0-100 image quality score, and the
// cores and deltas of the ridge flow. It is the on-device half of the
// fingerprint pipeline: grey image in, []fmr.Minutia (and fmr.Core,
// fmr.Delta) out, ready for agent/fmr to encode as an ISO/IEC 19794-2 or
// ANSI INCITS 378 record, singular points in the view's extended data.
//
// The pipeline works at 500 ppi (images at other resolutions are resampled;
// coordinates are written back in the image's own pixels) in these stages,
// each measured by its own benchmark (BenchmarkStage):
//
//  1. prepare: copy (or resample, bilinear in fixed point) into a padded
//     working buffer;
//  2. blocks: per 8×8 block, grey statistics and the gradient structure
//     tensor (central differences);
//  3. segment: foreground blocks from gradient energy relative to the
//     image's own strongest blocks, majority-filtered, largest component,
//     holes filled, distance to the background;
//  4. orient: ridge orientation and its certainty per block from the tensor
//     summed over 3×3 blocks, then smoothed over 5×5 blocks weighted by
//     certainty;
//  5. singular: cores and deltas by the Poincaré index of the doubled
//     orientation angle, smoothed over 3×3 more blocks, around each vertex
//     of the block grid well inside the foreground; nearby charges merged,
//     each candidate confirmed by a loop of blocks around it in the
//     foreground, core-delta pairs too close to be a loop dropped;
//     directions from the orientations on a ring around each point;
//  6. binarize: contextual enhancement by oriented smoothing, 15 pixels
//     along the ridge, compared with its 9-pixel average across the ridge
//     (one ridge period): a pixel darker than its surroundings across the
//     ridge is ridge. Both filters run 8 pixels at a time in 16-bit lanes of
//     a uint64 (SWAR); the ridge map is a bit image;
//  7. smooth: two 3×3 majority votes over the bit image, 64 pixels at a
//     time;
//  8. thin: directional parallel thinning by deletion of simple points,
//     64 pixels at a time, down to an 8-connected one-pixel skeleton;
//  9. detect: endings and bifurcations by the crossing number, each traced
//     along its ridges; false minutiae removed (border, spurs, short
//     ridges, bridges, lakes, breaks, clusters); direction from the
//     orientation field where it agrees with the trace; quality from local
//     orientation certainty, contrast and distance to the border;
//  10. quality: the image quality score (see QualityMeasures and score).
//
// All arithmetic that affects the output is integer or fixed point, so the
// same image gives bit-identical templates on amd64, arm64 and armv7.
//
// An Extractor holds every buffer and is reused from image to image, so
// that steady-state extraction allocates only the returned Result (with
// room for its cores and deltas) and its minutiae. It is not safe for
// concurrent use: use one Extractor per goroutine (one per core for
// batches).
package minutiae

import (
	"errors"
	"fmt"
	"image"
	"unsafe"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// Sentinel errors; test them with errors.Is.
var (
	// ErrImageSize means the image is smaller or larger than the extractor
	// accepts (MinSide..MaxSide pixels per side at 500 ppi equivalent).
	ErrImageSize = errors.New("image size outside the accepted range")
	// ErrResolution means the resolution is outside MinPPI..MaxPPI.
	ErrResolution = errors.New("resolution outside the accepted range")
)

// Limits of what Extract accepts.
const (
	// MinSide and MaxSide bound the width and height of the image, and of
	// the image once resampled to 500 ppi.
	MinSide = 64
	MaxSide = 2048
	// MinPPI and MaxPPI bound the image resolution.
	MinPPI = 250
	MaxPPI = 1200
	// WorkPPI is the resolution the pipeline works at.
	WorkPPI = 500
)

// Options tunes an Extractor. The zero value of a field means its default.
type Options struct {
	// MaxMinutiae caps the minutiae returned, best quality first
	// (default 120; at most 255, the limit of an ISO record view).
	MaxMinutiae int
	// MinMinutiaQuality drops minutiae of lower quality (0-100, default 0:
	// keep them all; matchers such as bozorth3 choose by quality
	// themselves).
	MinMinutiaQuality int
}

// DefaultOptions returns the options New uses for nil.
func DefaultOptions() *Options {
	return &Options{MaxMinutiae: 120}
}

// Result is what Extract finds in one image.
type Result struct {
	// Width, Height and PPI describe the image the minutiae refer to.
	Width, Height, PPI int
	// Minutiae in the image's own pixels, best quality first.
	Minutiae []fmr.Minutia
	// Quality is the image quality score 0-100 (see Quality).
	Quality int
	// Measures are the components of Quality.
	Measures QualityMeasures
	// Foreground is the bounding box of the finger area, in image pixels.
	Foreground image.Rectangle
	// ForegroundArea is the finger area in image pixels.
	ForegroundArea int
	// Cores and Deltas are the singular points of the ridge flow, in the
	// image's own pixels like the minutiae: at most two of each, and none
	// where the orientation field is not clear enough to be sure (a false
	// core misleads a matcher that aligns on it; a missing one does not).
	// A core's Angle (HasAngle is always set) points from the core along
	// the axis of its innermost loop towards the loop's open end; a
	// delta's three Angles (HasAngles is always set) are the directions of
	// the ridges that leave it, in increasing order, a third of a turn
	// apart. Angles are in ISO units of 360/256°, as the minutiae's.
	Cores  []fmr.Core
	Deltas []fmr.Delta
}

// resultAlloc is a Result with room for its singular points, so that
// result allocates once for both.
type resultAlloc struct {
	r      Result
	cores  [maxCores]fmr.Core
	deltas [maxDeltas]fmr.Delta
}

// Extractor runs the minutiae pipeline. Reuse it for many images; it is not
// safe for concurrent use.
type Extractor struct {
	opts Options

	// Image geometry of the current image.
	imgW, imgH, ppi int
	// Working image geometry: w×h pixels at WorkPPI, padded by pad pixels
	// on every side; stride is the padded row length.
	w, h, stride int
	bw, bh       int // blocks per row and column

	gray  []uint8 // padded working image
	along []byte  // oriented smoothing along the ridges, little-endian uint16
	// bits is the ridge map as a bit image, wpr 64-bit words per row, one
	// zero word and one zero row on each side; bits2 is the second buffer
	// of the thinning.
	bits, bits2 []uint64
	wpr         int
	bin         []uint8 // skeleton, one byte per pixel; 0 in the padding

	// Per block.
	bmean, bstd   []uint8
	sxx, syy, sxy []int32
	energy        []int32
	ori           []int16 // ridge orientation [0, halfTurn)
	coh           []uint8 // orientation certainty 0-255
	mask          []uint8 // 1 foreground
	dil           []uint8 // foreground dilated by one block
	dist          []uint8 // chessboard distance in blocks to background
	tmp           []int32

	// Sum and count of block ridge periods (×16 pixels), from frequency.
	periodSum, periodN int

	// Ridge-valley clarity accumulated by binarize.
	clarSum int64
	clarN   int

	// Thinning and detection.
	dirty []int32 // thinning: last pass that changed each row
	cands []candidate

	// Singular points: the vertex charges, a stack for clustering them,
	// and the points found.
	chg   []charge
	stack []int16
	sp    [maxSingular]spoint
	nsp   int

	tables *tables
}

// tables are the lookup tables that depend on nothing but the constants.
type tables struct {
	count  [256]uint8 // neighbours set
	yokoi  [256]uint8 // 8-connectivity number of the neighbourhood
	cn     [256]uint8 // crossing number: runs of ridge neighbours
	alongX [nDirs][2*alongR + 1]int8
	alongY [nDirs][2*alongR + 1]int8
	acrX   [nDirs][2*acrossR + 1]int8
	acrY   [nDirs][2*acrossR + 1]int8
}

// New returns an Extractor with the given options (nil means
// DefaultOptions).
func New(opts *Options) (*Extractor, error) {
	o := *DefaultOptions()
	if opts != nil {
		if opts.MaxMinutiae != 0 {
			o.MaxMinutiae = opts.MaxMinutiae
		}
		if opts.MinMinutiaQuality != 0 {
			o.MinMinutiaQuality = opts.MinMinutiaQuality
		}
	}
	if o.MaxMinutiae < 1 || o.MaxMinutiae > 255 {
		return nil, fmt.Errorf("minutiae: MaxMinutiae %d outside 1..255 (an ISO record view holds at most 255)", o.MaxMinutiae)
	}
	if o.MinMinutiaQuality < 0 || o.MinMinutiaQuality > 100 {
		return nil, fmt.Errorf("minutiae: MinMinutiaQuality %d outside 0..100", o.MinMinutiaQuality)
	}
	return &Extractor{
		opts:   o,
		tables: newTables(),
		chg:    make([]charge, 0, spMaxCharges),
		stack:  make([]int16, 0, spMaxCharges),
	}, nil
}

// Extract finds the minutiae of one image at ppi pixels per inch (0 means
// 500). The Result is freshly allocated and stays valid after later calls.
// An image with no usable finger area gives a Result with no minutiae and
// quality 0, not an error.
func Extract(img *image.Gray, ppi int) (*Result, error) {
	e, err := New(nil)
	if err != nil {
		return nil, err
	}
	return e.Extract(img, ppi)
}

// Extract finds the minutiae of one image at ppi pixels per inch (0 means
// 500). See the package-level Extract.
func (e *Extractor) Extract(img *image.Gray, ppi int) (*Result, error) {
	if err := e.prepare(img, ppi); err != nil {
		return nil, err
	}
	e.blocks()
	e.segment()
	e.orient()
	e.singular()
	e.binarize()
	for range smoothPasses {
		e.smoothRidges()
	}
	e.thin()
	e.detect()
	return e.result(), nil
}

// result builds the returned Result: the only allocations of a
// steady-state extraction.
func (e *Extractor) result() *Result {
	a := &resultAlloc{r: Result{Width: e.imgW, Height: e.imgH, PPI: e.ppi}}
	r := &a.r
	e.singularResult(a)
	n := 0
	for i := range e.cands {
		if e.cands[i].keep {
			n++
		}
	}
	if n > 0 {
		r.Minutiae = make([]fmr.Minutia, 0, n)
		for i := range e.cands {
			c := &e.cands[i]
			if !c.keep {
				continue
			}
			x, y := e.toImage(int(c.x), int(c.y))
			kind := fmr.Ending
			if c.bif {
				kind = fmr.Bifurcation
			}
			r.Minutiae = append(r.Minutiae, fmr.Minutia{
				Kind: kind, X: uint16(x), Y: uint16(y),
				Angle:   isoAngle(c.dir),
				Quality: uint8(c.quality),
			})
		}
	}
	e.imageQuality(r)
	return r
}

// singularResult fills the Result's cores and deltas from e.sp.
func (e *Extractor) singularResult(a *resultAlloc) {
	nc, nd := 0, 0
	for _, p := range e.sp[:e.nsp] {
		x, y := e.toImage(int(p.x), int(p.y))
		if !p.delta {
			a.cores[nc] = fmr.Core{X: uint16(x), Y: uint16(y), HasAngle: true, Angle: isoAngle(p.dir)}
			nc++
			continue
		}
		d := fmr.Delta{X: uint16(x), Y: uint16(y), HasAngles: true}
		for k := range d.Angles {
			d.Angles[k] = isoAngle((p.dir + k*turn) / 3)
		}
		if d.Angles[2] < d.Angles[1] { // the last rounded up to a full turn
			d.Angles = [3]uint8{d.Angles[2], d.Angles[0], d.Angles[1]}
		}
		a.deltas[nd] = d
		nd++
	}
	if nc > 0 {
		a.r.Cores = a.cores[:nc:nc]
	}
	if nd > 0 {
		a.r.Deltas = a.deltas[:nd:nd]
	}
}

// isoAngle converts a direction in 1/1024 turn to ISO units (1/256 turn),
// rounding to nearest.
func isoAngle(dir int) uint8 { return uint8(((dir + 2) >> 2) & 255) }

// toImage maps working coordinates to image pixels.
func (e *Extractor) toImage(x, y int) (int, int) {
	if e.w == e.imgW && e.h == e.imgH {
		return x, y
	}
	ix := (2*x + 1) * e.imgW / (2 * e.w)
	iy := (2*y + 1) * e.imgH / (2 * e.h)
	return min(ix, e.imgW-1), min(iy, e.imgH-1)
}

// Record returns the result as a finger minutiae record of the given format
// (fmr.ISO or fmr.ANSI) with one view: finger position unknown, live-scan
// plain impression, finger quality the image quality. When the result has
// cores or deltas, the view's extended data holds them in one core/delta
// area (fmr.AreaCoreDelta); otherwise it has no extended data. Encode the
// record with fmr.Marshal.
func (r *Result) Record(format fmr.Format) *fmr.Record {
	return &fmr.Record{
		Format: format,
		Width:  uint16(r.Width), Height: uint16(r.Height),
		ResX: fmr.PPIToPPCM(r.PPI), ResY: fmr.PPIToPPCM(r.PPI),
		Views: []fmr.View{{Quality: uint8(r.Quality), Minutiae: r.Minutiae, Extended: r.extended(format)}},
	}
}

// extended returns the view's extended data block: one core/delta area
// when there are singular points, nil otherwise. Points the format cannot
// hold (more than 15 of a kind, coordinates beyond 14 bits, or for ANSI
// cores that disagree on HasAngle) leave the area out; Extract never
// returns such points.
func (r *Result) extended(format fmr.Format) []byte {
	if len(r.Cores) == 0 && len(r.Deltas) == 0 {
		return nil
	}
	data, err := fmr.AppendCoreDelta(format, nil, fmr.CoreDelta{Cores: r.Cores, Deltas: r.Deltas})
	if err != nil {
		return nil
	}
	ext, err := fmr.AppendExtended(format, nil, fmr.ExtendedArea{Type: fmr.AreaCoreDelta, Data: data})
	if err != nil {
		return nil
	}
	return ext
}

// WorkingMemory returns the bytes the Extractor's buffers take, which grow
// to fit the largest image seen: about 5.5 bytes per working pixel plus
// per-block tables (under 1 MiB for a 388×374 FVC2002 DB1 image).
func (e *Extractor) WorkingMemory() int {
	n := cap(e.gray) + cap(e.along) + cap(e.bin) + 8*(cap(e.bits)+cap(e.bits2))
	n += cap(e.bmean) + cap(e.bstd) + cap(e.coh) + cap(e.mask) + cap(e.dil) + cap(e.dist)
	n += 4*(cap(e.sxx)+cap(e.syy)+cap(e.sxy)+cap(e.energy)+cap(e.tmp)) + 2*cap(e.ori)
	n += 4*cap(e.dirty) + cap(e.cands)*int(unsafe.Sizeof(candidate{}))
	n += cap(e.chg)*int(unsafe.Sizeof(charge{})) + 2*cap(e.stack)
	return n + int(unsafe.Sizeof(*e)) + int(unsafe.Sizeof(tables{}))
}
