package face

import (
	_ "embed" // the cascades ship inside the binary
	"fmt"
	"image/color"
	"sort"
	"strings"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

// The cascades the kiosk needs at run time (see cascade/README.md for their
// origin and licences).
var (
	//go:embed cascade/facefinder
	facefinder []byte
	//go:embed cascade/haarcascade_eye.xml
	haarEyeXML []byte
)

// Options configure a Pipeline. The zero value of a field means its default
// (see DefaultOptions), except where said otherwise.
type Options struct {
	// MinFaceSize is the side, in frame pixels, of the smallest face window
	// the detector looks for. Kiosk geometry makes faces large; a larger
	// minimum is faster and rejects people in the queue behind. Default 100.
	MinFaceSize int
	// MaxFaceSize is the largest face window; 0 means the frame's shorter
	// side.
	MaxFaceSize int
	// ScaleFactor is the ratio between successive window sizes (> 1).
	// Default 1.1, as pico.
	ScaleFactor float64
	// StrideFactor is the window step as a fraction of the window size.
	// Default 0.1, as pico.
	StrideFactor float64
	// MinDetectionScore is the clustered PICO score a face needs. Default
	// 10; pico's sample uses 5, which lets a few blurred textures through.
	MinDetectionScore float64
	// Accept maps measure names (Measure values, e.g. "sharpness") to the
	// lowest passing value, 0-100. Measures not listed keep their default
	// threshold (DefaultThreshold). An unknown name is an error.
	Accept map[string]int
	// GoodScore is the overall Score at or above which an accepted frame
	// ends Best early. Default 80.
	GoodScore int
	// Cascade is a PICO cascade file to use instead of the embedded
	// facefinder.
	Cascade []byte
	// EyeCascade is an OpenCV Haar cascade XML to use instead of the
	// embedded haarcascade_eye.xml.
	EyeCascade []byte
	// TokenWidth is the width of the token image in pixels; the height is
	// 4/3 of it. At least 480, and a multiple of 4 so the ISO eye positions
	// (0.375 W - 1, 0.625 W - 1, 0.6 W) are whole pixels. Default 480.
	TokenWidth int
	// JPEGQuality is the token's JPEG quality, 1-100. Default 90.
	JPEGQuality int
	// Padding fills the parts of the token that fall outside the frame.
	// Default a light neutral grey (RGB 192, 192, 192).
	Padding color.Color
	// Clock times Best's budget. Default the wall clock.
	Clock clock.Clock
}

// DefaultOptions returns the options a nil *Options means.
func DefaultOptions() *Options {
	return &Options{
		MinFaceSize:       100,
		ScaleFactor:       1.1,
		StrideFactor:      0.1,
		MinDetectionScore: 10,
		GoodScore:         80,
		TokenWidth:        480,
		JPEGQuality:       90,
		Padding:           color.RGBA{192, 192, 192, 255},
	}
}

// Pipeline assesses frames, picks the best of a stream and cuts token
// images. It is safe for concurrent use.
type Pipeline struct {
	opts       Options
	cascade    *Cascade
	eyes       *HaarCascade
	thresholds [numMeasures]int
	clk        clock.Clock
	scratch    sync.Pool // *scratch
}

// scratch holds the buffers of one assessment.
type scratch struct {
	gray   []uint8
	detect detectScratch
	eye    eyeScratch
	patch  []float64
	smooth []float64
	bg     []float64
}

// New returns a pipeline with the given options (nil for defaults). It
// parses the cascades, so a bad cascade or option is reported here.
func New(opts *Options) (*Pipeline, error) {
	o := *DefaultOptions()
	if opts != nil {
		if opts.MinFaceSize != 0 {
			o.MinFaceSize = opts.MinFaceSize
		}
		if opts.MaxFaceSize != 0 {
			o.MaxFaceSize = opts.MaxFaceSize
		}
		if opts.ScaleFactor != 0 {
			o.ScaleFactor = opts.ScaleFactor
		}
		if opts.StrideFactor != 0 {
			o.StrideFactor = opts.StrideFactor
		}
		if opts.MinDetectionScore != 0 {
			o.MinDetectionScore = opts.MinDetectionScore
		}
		if opts.GoodScore != 0 {
			o.GoodScore = opts.GoodScore
		}
		if opts.TokenWidth != 0 {
			o.TokenWidth = opts.TokenWidth
		}
		if opts.JPEGQuality != 0 {
			o.JPEGQuality = opts.JPEGQuality
		}
		if opts.Padding != nil {
			o.Padding = opts.Padding
		}
		o.Accept = opts.Accept
		o.Cascade = opts.Cascade
		o.EyeCascade = opts.EyeCascade
		o.Clock = opts.Clock
	}
	switch {
	case o.MinFaceSize < 20:
		return nil, fmt.Errorf("face: MinFaceSize %d is below 20 pixels, too small for the face cascade", o.MinFaceSize)
	case o.MaxFaceSize != 0 && o.MaxFaceSize < o.MinFaceSize:
		return nil, fmt.Errorf("face: MaxFaceSize %d is below MinFaceSize %d", o.MaxFaceSize, o.MinFaceSize)
	case o.ScaleFactor <= 1 || o.ScaleFactor > 2:
		return nil, fmt.Errorf("face: ScaleFactor %v is outside (1, 2]", o.ScaleFactor)
	case o.StrideFactor <= 0 || o.StrideFactor > 0.5:
		return nil, fmt.Errorf("face: StrideFactor %v is outside (0, 0.5]", o.StrideFactor)
	case o.MinDetectionScore < 0:
		return nil, fmt.Errorf("face: MinDetectionScore %v is negative", o.MinDetectionScore)
	case o.GoodScore < 0 || o.GoodScore > 100:
		return nil, fmt.Errorf("face: GoodScore %d is outside 0..100", o.GoodScore)
	case o.TokenWidth < 480 || o.TokenWidth%4 != 0 || o.TokenWidth > 4096:
		return nil, fmt.Errorf("face: TokenWidth %d must be a multiple of 4 from 480 to 4096", o.TokenWidth)
	case o.JPEGQuality < 1 || o.JPEGQuality > 100:
		return nil, fmt.Errorf("face: JPEGQuality %d is outside 1..100", o.JPEGQuality)
	}
	p := &Pipeline{opts: o, clk: clock.OrReal(o.Clock)}
	for m := Measure(0); m < numMeasures; m++ {
		p.thresholds[m] = m.DefaultThreshold()
	}
	var unknown []string
	for name, v := range o.Accept {
		m, ok := ParseMeasure(name)
		if !ok {
			unknown = append(unknown, name)
			continue
		}
		if v < 0 || v > 100 {
			return nil, fmt.Errorf("face: accept threshold %d for %s is outside 0..100", v, name)
		}
		p.thresholds[m] = v
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, fmt.Errorf("face: unknown quality measure %s in the accept thresholds (known: %s)", strings.Join(unknown, ", "), strings.Join(MeasureNames(), ", "))
	}
	cb := o.Cascade
	if cb == nil {
		cb = facefinder
	}
	var err error
	if p.cascade, err = ParseCascade(cb); err != nil {
		return nil, err
	}
	eb := o.EyeCascade
	if eb == nil {
		eb = haarEyeXML
	}
	if p.eyes, err = ParseHaarCascade(eb); err != nil {
		return nil, err
	}
	p.scratch.New = func() any { return new(scratch) }
	return p, nil
}

// Threshold returns the accept threshold the pipeline uses for m.
func (p *Pipeline) Threshold(m Measure) int {
	if m < 0 || m >= numMeasures {
		return 0
	}
	return p.thresholds[m]
}

func (p *Pipeline) scanParams() scanParams {
	return scanParams{
		minSize:      float64(p.opts.MinFaceSize),
		maxSize:      float64(p.opts.MaxFaceSize),
		scaleFactor:  p.opts.ScaleFactor,
		strideFactor: p.opts.StrideFactor,
		minScore:     p.opts.MinDetectionScore,
		overlap:      0.3,
	}
}
