package synth

import (
	"fmt"
	"image"
	"math"
	"math/rand/v2"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// ImpressionParams are the conditions of one impression. Impression draws
// them at random; ImpressionWith takes them as given.
type ImpressionParams struct {
	// DX and DY move the finger on the sensor, in master pixels (500 ppi),
	// from the position that centres its core (or its centre for arches).
	DX float64 `json:"dx"`
	DY float64 `json:"dy"`
	// Rotation of the finger on the sensor in radians, counter-clockwise
	// as seen in the image.
	Rotation float64 `json:"rotation"`
	// Distortion is the amplitude in pixels of the non-linear elastic
	// distortion of the skin away from the centre of contact.
	Distortion float64 `json:"distortion"`
	// Pressure in [-1, 1]: light touches print thin ridges over a small
	// area, heavy ones thick ridges over a large area.
	Pressure float64 `json:"pressure"`
	// Moisture in [-1, 1]: dry skin prints broken, pale ridges; wet skin
	// prints thick, merging ridges.
	Moisture float64 `json:"moisture"`
	// Noise scales the sensor's pixel noise (1 is typical).
	Noise float64 `json:"noise"`
	// Texture in [0, 1] is how broken the printed ridges are: pores, skin
	// grain and residue on the plate break ridges into dashes and dots.
	Texture float64 `json:"texture"`
	// ContactX and ContactY move the centre of the contact area from the
	// centre of the finger, in master pixels; ContactSize scales it.
	ContactX    float64 `json:"contact_x"`
	ContactY    float64 `json:"contact_y"`
	ContactSize float64 `json:"contact_size"`
	// Seed drives the textures (dry spots, stains, pixel noise).
	Seed uint64 `json:"seed,string"`
}

// Impression is one synthetic capture of a finger with its ground truth.
type Impression struct {
	// Image is the capture as the sensor delivers it.
	Image *image.Gray
	// Foreground is 255 where the finger touched the sensor and 0 elsewhere,
	// same size as Image.
	Foreground *image.Gray
	// Truth are the ground-truth minutiae in image pixels: the master's
	// minutiae carried through displacement, rotation and distortion, less
	// those outside the image or the contact area.
	Truth []Minutia
	// Edge holds, for each Truth minutia, its distance in pixels to the
	// edge of the contact area or of the image, whichever is nearer.
	Edge []float64
	// Cores and Deltas are the singular points that fall in the image,
	// with their directions carried through the warp like the minutiae's.
	Cores  []Core
	Deltas []Delta
	// Sensor, Width, Height and PPI describe the image.
	Sensor        Sensor
	Width, Height int
	PPI           int
	// Position is the finger position (0 unknown) and Index the impression
	// number the caller asked for.
	Position int
	Index    uint64
	// MasterSeed and Class are those of the finger's master.
	MasterSeed uint64
	Class      Class
	// Params are the conditions the impression was taken under.
	Params ImpressionParams
}

// TruthWithin returns the ground-truth minutiae at least margin pixels
// inside the contact area and the image. Extractors cannot see minutiae
// right at the edge of a print; measure recall against TruthWithin(m) with
// the margin the extractor uses to drop edge minutiae.
func (im *Impression) TruthWithin(margin float64) []Minutia {
	var out []Minutia
	for i, m := range im.Truth {
		if im.Edge[i] >= margin {
			out = append(out, m)
		}
	}
	return out
}

// Minutiae returns the ground truth in ISO/IEC 19794-2 form: positions
// rounded to whole pixels, angles in units of 360/256 degrees, quality
// from 20 at the edge of the contact area to 100 at 40 pixels or more
// inside it.
func (im *Impression) Minutiae() []fmr.Minutia {
	out := make([]fmr.Minutia, 0, min(len(im.Truth), 255))
	for i, m := range im.Truth {
		if i == 255 {
			break
		}
		out = append(out, ToFMR(m, im.Edge[i]))
	}
	return out
}

// ToFMR converts a minutia to its ISO form; edge is its distance in pixels
// to the edge of the print, which sets the quality.
func ToFMR(m Minutia, edge float64) fmr.Minutia {
	q := 20 + int(math.Floor(float64(80*math.Min(1, math.Max(0, edge)/40))+0.5))
	return fmr.Minutia{
		Kind:    m.Kind,
		X:       pixel(m.X),
		Y:       pixel(m.Y),
		Angle:   fmr.AngleFromRadians(m.Direction),
		Quality: uint8(q),
	}
}

// Record returns the ground truth as an ISO/IEC 19794-2:2005 finger
// minutiae record of one view (a live-scan plain impression), with the
// cores and deltas in the image as a core/delta extended data area; encode
// it with fmr.Marshal.
func (im *Impression) Record() (*fmr.Record, error) {
	var cd fmr.CoreDelta
	for _, c := range im.Cores {
		cd.Cores = append(cd.Cores, fmr.Core{X: pixel(c.X), Y: pixel(c.Y), HasAngle: true, Angle: fmr.AngleFromRadians(c.Direction)})
	}
	for _, d := range im.Deltas {
		fd := fmr.Delta{X: pixel(d.X), Y: pixel(d.Y), HasAngles: true}
		for i, a := range d.Directions {
			fd.Angles[i] = fmr.AngleFromRadians(a)
		}
		cd.Deltas = append(cd.Deltas, fd)
	}
	var ext []byte
	if len(cd.Cores)+len(cd.Deltas) > 0 {
		data, err := fmr.AppendCoreDelta(fmr.ISO, nil, cd)
		if err != nil {
			return nil, fmt.Errorf("synth: core/delta area: %w", err)
		}
		if ext, err = fmr.AppendExtended(fmr.ISO, nil, fmr.ExtendedArea{Type: fmr.AreaCoreDelta, Data: data}); err != nil {
			return nil, fmt.Errorf("synth: extended data: %w", err)
		}
	}
	ppcm := fmr.PPIToPPCM(im.PPI)
	return &fmr.Record{
		Format:    fmr.ISO,
		Equipment: 0, // no certification, no registered device type
		Width:     uint16(im.Width),
		Height:    uint16(im.Height),
		ResX:      ppcm,
		ResY:      ppcm,
		Views: []fmr.View{{
			Position:   uint8(im.Position),
			ViewNumber: uint8(im.Index % 16),
			Impression: 0,
			Quality:    60,
			Minutiae:   im.Minutiae(),
			Extended:   ext,
		}},
	}, nil
}

// pixel rounds a coordinate to a whole pixel.
func pixel(v float64) uint16 { return uint16(max(0, math.Floor(v+0.5))) }

// Impression returns impression number k of the finger, rendered for the
// Generator's sensor. The same finger, sensor and k always give the same
// impression, byte for byte.
func (f *Finger) Impression(k uint64) *Impression {
	r := newRNG(f.Master.Seed, "impression/"+f.g.sensor.name, k)
	im := f.ImpressionWith(drawParams(r, f.g.sensor))
	im.Index = k
	return im
}

// ImpressionRand returns a fresh impression chosen by r (for simulators
// that want a different capture every time); it is Impression(r.Uint64()),
// so the Index of the result reproduces it.
func (f *Finger) ImpressionRand(r *rand.Rand) *Impression {
	return f.Impression(r.Uint64())
}

// drawParams draws impression conditions for a sensor.
func drawParams(r *rng, s *sensorModel) ImpressionParams {
	clamp := func(v, lo, hi float64) float64 { return math.Max(lo, math.Min(hi, v)) }
	// Texture stops at 0.9: above it grain broke ridges so much that 2% of
	// genuine comparisons scored below FVC2002 DB4's lowest 1%.
	return ImpressionParams{
		DX:          float64(r.norm() * s.displacement),
		DY:          float64(r.norm() * s.displacement),
		Rotation:    clamp(float64(r.norm()*0.3), -0.6, 0.6),
		Distortion:  r.uniform(5, 18),
		Pressure:    clamp(float64(r.norm()*0.45), -1, 1),
		Moisture:    clamp(float64(r.norm()*0.45), -1, 1),
		Noise:       r.uniform(0.8, 2),
		ContactX:    float64(r.norm() * 10),
		ContactY:    float64(r.norm() * 12),
		ContactSize: r.uniform(0.9, 1.15),
		Texture:     r.uniform(0.4, 0.9),
		Seed:        r.r.Uint64(),
	}
}
