package synth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// TruthFile is the ground truth of one impression as `kioskctl synth`
// writes it beside the image (DIR/101_1.json beside DIR/101_1.png).
// Positions are in image pixels, origin at the top-left corner, y
// downwards; directions follow ISO/IEC 19794-2 (see Minutia).
type TruthFile struct {
	// Finger is the FVC finger number (101 upwards) and Impression the
	// impression number (1 upwards) in the file name.
	Finger     int `json:"finger"`
	Impression int `json:"impression"`
	// TravellerSeed and Position identify the finger:
	// Traveller(TravellerSeed).Finger(Position) regenerates it.
	TravellerSeed uint64 `json:"traveller_seed,string"`
	Position      int    `json:"position"`
	// MasterSeed is the seed of the finger's master.
	MasterSeed uint64 `json:"master_seed,string"`
	// Index is the impression index passed to Finger.Impression.
	Index uint64 `json:"index,string"`
	// Class is the pattern class ("left_loop", ...).
	Class string `json:"class"`
	// Sensor, Width, Height and PPI describe the image.
	Sensor string `json:"sensor"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	PPI    int    `json:"ppi"`
	// Params are the conditions the impression was taken under.
	Params ImpressionParams `json:"params"`
	// Minutiae are the ground-truth minutiae.
	Minutiae []TruthMinutia `json:"minutiae"`
	// Cores and Deltas are the singular points inside the image, with
	// their directions.
	Cores  []Core  `json:"cores"`
	Deltas []Delta `json:"deltas"`
}

// TruthMinutia is one ground-truth minutia of a TruthFile.
type TruthMinutia struct {
	X float64 `json:"x"`
	Y float64 `json:"y"`
	// Direction in radians, [0, 2π), as Minutia.Direction.
	Direction float64 `json:"direction"`
	// Angle is Direction in ISO units of 360/256 degrees, as the .ist
	// record holds it.
	Angle uint8 `json:"iso_angle"`
	// Kind is "ending" or "bifurcation".
	Kind string `json:"kind"`
	// Edge is the distance in pixels to the edge of the contact area or of
	// the image, whichever is nearer.
	Edge float64 `json:"edge"`
}

// Minutia returns the TruthMinutia as a Minutia.
func (t TruthMinutia) Minutia() Minutia {
	k := fmr.Ending
	if t.Kind == "bifurcation" {
		k = fmr.Bifurcation
	}
	return Minutia{X: t.X, Y: t.Y, Direction: t.Direction, Kind: k}
}

// TruthFile returns the impression's ground truth for a file; the caller
// sets Finger, Impression and TravellerSeed.
func (im *Impression) TruthFile() *TruthFile {
	tf := &TruthFile{
		Position: im.Position, MasterSeed: im.MasterSeed, Index: im.Index,
		Class: im.Class.String(), Sensor: im.Sensor.String(),
		Width: im.Width, Height: im.Height, PPI: im.PPI, Params: im.Params,
		Minutiae: make([]TruthMinutia, 0, len(im.Truth)),
		Cores:    append([]Core{}, im.Cores...),
		Deltas:   append([]Delta{}, im.Deltas...),
	}
	for i, m := range im.Truth {
		kind := "ending"
		if m.Kind == fmr.Bifurcation {
			kind = "bifurcation"
		}
		tf.Minutiae = append(tf.Minutiae, TruthMinutia{
			X: m.X, Y: m.Y, Direction: m.Direction, Angle: fmr.AngleFromRadians(m.Direction),
			Kind: kind, Edge: im.Edge[i],
		})
	}
	return tf
}

// ErrBadTruth is wrapped by every error of ParseTruthFile.
var ErrBadTruth = errors.New("not a valid synthetic ground-truth file")

// ParseTruthFile decodes and checks a ground-truth file written by
// `kioskctl synth`. Unknown fields, minutiae, cores or deltas outside the
// image, directions outside [0, 2π) and unknown kinds are errors wrapping
// ErrBadTruth.
func ParseTruthFile(data []byte) (*TruthFile, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var tf TruthFile
	if err := dec.Decode(&tf); err != nil {
		return nil, fmt.Errorf("synth: ground truth does not decode (regenerate it with kioskctl synth): %w: %w", ErrBadTruth, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("synth: ground truth has data after its JSON object: %w", ErrBadTruth)
	}
	if tf.Width <= 0 || tf.Height <= 0 || tf.Width > fmr.MaxCoord || tf.Height > fmr.MaxCoord {
		return nil, fmt.Errorf("synth: ground truth image size %dx%d out of range: %w", tf.Width, tf.Height, ErrBadTruth)
	}
	for i, m := range tf.Minutiae {
		switch {
		case !(m.X >= 0 && m.X <= float64(tf.Width-1) && m.Y >= 0 && m.Y <= float64(tf.Height-1)):
			return nil, fmt.Errorf("synth: ground truth minutia %d at (%g,%g) is outside the %dx%d image: %w", i, m.X, m.Y, tf.Width, tf.Height, ErrBadTruth)
		case !(m.Direction >= 0 && m.Direction < 2*math.Pi):
			return nil, fmt.Errorf("synth: ground truth minutia %d has direction %g, want [0, 2π): %w", i, m.Direction, ErrBadTruth)
		case m.Kind != "ending" && m.Kind != "bifurcation":
			return nil, fmt.Errorf("synth: ground truth minutia %d has kind %q, want ending or bifurcation: %w", i, m.Kind, ErrBadTruth)
		}
	}
	inside := func(x, y float64) bool {
		return x >= 0 && x <= float64(tf.Width-1) && y >= 0 && y <= float64(tf.Height-1)
	}
	direction := func(a float64) bool { return a >= 0 && a < 2*math.Pi }
	for i, c := range tf.Cores {
		if !inside(c.X, c.Y) || !direction(c.Direction) {
			return nil, fmt.Errorf("synth: ground truth core %d at (%g,%g) direction %g is outside the %dx%d image or [0, 2π): %w", i, c.X, c.Y, c.Direction, tf.Width, tf.Height, ErrBadTruth)
		}
	}
	for i, d := range tf.Deltas {
		if !inside(d.X, d.Y) || !direction(d.Directions[0]) || !direction(d.Directions[1]) || !direction(d.Directions[2]) {
			return nil, fmt.Errorf("synth: ground truth delta %d at (%g,%g) directions %v is outside the %dx%d image or [0, 2π): %w", i, d.X, d.Y, d.Directions, tf.Width, tf.Height, ErrBadTruth)
		}
	}
	return &tf, nil
}
