package synth

import (
	"fmt"
	"strings"
)

// Sensor selects how impressions are rendered: image size, resolution,
// grey depth and the look of the capture technology.
type Sensor uint8

// Sensors.
const (
	// Optical is a 500-ppi optical plate like FVC2002 DB1: 388 x 374
	// pixels, 8-bit grey, dark ridges on a light field, soft contact edges.
	Optical Sensor = iota + 1
	// R30x is the optical module of the R30x / ZFM-20 / AS608 family as
	// UpImage returns it: 256 x 288 pixels at 508 ppi in 4-bit grey (each
	// value a multiple of 17).
	R30x
	// FPC1020 is the Fingerprint Cards capacitive array: 192 x 192 pixels
	// at 508 ppi, 8-bit, a partial view of the finger.
	FPC1020
)

// sensorModel is what rendering needs to know of a sensor.
type sensorModel struct {
	id            Sensor
	name          string
	width, height int
	ppi           int
	levels        int     // grey levels: 16 or 256
	background    float64 // grey level of the empty plate
	ridge         float64 // grey level of a ridge in full contact
	noise         float64 // pixel noise standard deviation, grey levels
	blur          bool    // a 3x3 blur for the optics
	contactScale  float64 // size of the contact area relative to the fingertip
	displacement  float64 // standard deviation of the finger's offset, pixels
	stain         float64 // strength of background stains (latent residue)
}

// model returns the sensor's rendering model, or nil for an unknown sensor.
func (s Sensor) model() *sensorModel {
	switch s {
	case Optical:
		return &sensorModel{id: Optical, name: "optical", width: 388, height: 374, ppi: 500, levels: 256,
			background: 232, ridge: 40, noise: 5, blur: true, contactScale: 0.95, displacement: 45, stain: 10}
	case R30x:
		return &sensorModel{id: R30x, name: "r30x", width: 256, height: 288, ppi: 508, levels: 16,
			background: 215, ridge: 30, noise: 8, blur: true, contactScale: 0.9, displacement: 20, stain: 14}
	case FPC1020:
		return &sensorModel{id: FPC1020, name: "fpc1020", width: 192, height: 192, ppi: 508, levels: 256,
			background: 200, ridge: 55, noise: 9, blur: false, contactScale: 1.0, displacement: 25, stain: 6}
	}
	return nil
}

// String returns the sensor's name as the command line spells it.
func (s Sensor) String() string {
	if m := s.model(); m != nil {
		return m.name
	}
	return fmt.Sprintf("sensor(%d)", uint8(s))
}

// ParseSensor returns the sensor named optical, r30x or fpc1020 (case is
// ignored).
func ParseSensor(name string) (Sensor, error) {
	for _, s := range []Sensor{Optical, R30x, FPC1020} {
		if strings.EqualFold(name, s.model().name) {
			return s, nil
		}
	}
	return 0, fmt.Errorf("synth: unknown sensor %q (want optical, r30x or fpc1020)", name)
}

// Width returns the width of the sensor's images in pixels (0 for an
// unknown sensor).
func (s Sensor) Width() int {
	if m := s.model(); m != nil {
		return m.width
	}
	return 0
}

// Height returns the height of the sensor's images in pixels (0 for an
// unknown sensor).
func (s Sensor) Height() int {
	if m := s.model(); m != nil {
		return m.height
	}
	return 0
}

// PPI returns the sensor's resolution in pixels per inch (0 for an unknown
// sensor).
func (s Sensor) PPI() int {
	if m := s.model(); m != nil {
		return m.ppi
	}
	return 0
}
