// Package fmr encodes and decodes finger minutiae records: ISO/IEC
// 19794-2:2005 and ANSI INCITS 378-2004. Both start with "FMR\0" and " 20\0"
// but differ in header layout and angle units; Record holds either, with
// angles always in ISO units.
//
// Marshal writes a Record in the standard its Format names; Unmarshal reads
// either standard and tells them apart by the record-length field, which has
// a different width in each (4 bytes in ISO, 2 or 2+4 bytes in ANSI) and must
// equal the length of the data. Every decoding error wraps ErrMalformed or
// ErrUnsupported.
//
// Layouts (all integers big-endian):
//
//	ISO  header, 24 bytes: "FMR\0" " 20\0" length(4) equipment(2) width(2)
//	     height(2) resX(2) resY(2) views(1) reserved(1)
//	ANSI header, 26 bytes (30 with the long length form): "FMR\0" " 20\0"
//	     length(2, or 0x0000 then length(4)) productID(4) equipment(2)
//	     width(2) height(2) resX(2) resY(2) views(1) reserved(1)
//	view, both: position(1) viewNumber<<4|impression(1) quality(1) count(1),
//	     count minutiae of 6 bytes: kind<<14|x(2) y(2) angle(1) quality(1),
//	     then the extended data block: length(2) and that many bytes.
//
// ISO angles are in units of 360/256 degrees, ANSI angles in 2 degree units
// (0-179); both count counter-clockwise from the x axis.
package fmr

import (
	"errors"
	"math"
)

// Format selects the standard a Record is encoded in.
type Format uint8

// Formats.
const (
	// ISO is ISO/IEC 19794-2:2005.
	ISO Format = iota + 1
	// ANSI is ANSI INCITS 378-2004.
	ANSI
)

// String names the standard.
func (f Format) String() string {
	switch f {
	case ISO:
		return "ISO/IEC 19794-2:2005"
	case ANSI:
		return "ANSI INCITS 378-2004"
	}
	return "unknown format"
}

// Errors callers act on. Every error of Unmarshal and of the extended-data
// parsers wraps one of them.
var (
	// ErrMalformed means the bytes are not a well-formed record of either
	// standard (bad magic, length, truncation, a field out of range).
	ErrMalformed = errors.New("malformed finger minutiae record")
	// ErrUnsupported means a well-identified record of a version this package
	// does not read, such as ISO/IEC 19794-2:2011 ("030").
	ErrUnsupported = errors.New("unsupported finger minutiae record version")
	// ErrInvalid means Marshal was given a Record it cannot encode.
	ErrInvalid = errors.New("finger minutiae record cannot be encoded")
)

// Kind is the type of a minutia.
type Kind uint8

// Minutia kinds, as coded in bits 15..14 of the x field.
const (
	Other       Kind = 0
	Ending      Kind = 1
	Bifurcation Kind = 2
)

// Minutia is one ridge ending or bifurcation.
type Minutia struct {
	Kind Kind
	// X and Y are in pixels of the image the record describes, origin at the
	// top-left corner, y downwards; 14 bits each.
	X, Y uint16
	// Angle is in units of 360/256 degrees (1.40625°), counter-clockwise from
	// the positive x axis, as ISO/IEC 19794-2:2005 codes it. The ANSI encoder
	// and decoder convert to and from ANSI's 2° units.
	Angle uint8
	// Quality is 0-100; 0 means not reported.
	Quality uint8
}

// Radians returns the minutia direction in radians, 0 to 2π,
// counter-clockwise from the positive x axis (with y pointing down in the
// image, counter-clockwise as seen on screen).
func (m Minutia) Radians() float64 { return float64(m.Angle) * (2 * math.Pi / 256) }

// AngleFromRadians converts a direction in radians (any value) to ISO units,
// rounding to nearest.
func AngleFromRadians(rad float64) uint8 {
	u := math.Round(rad * (256 / (2 * math.Pi)))
	u = math.Mod(u, 256)
	if u < 0 {
		u += 256
	}
	return uint8(u)
}

// Maximum field values.
const (
	// MaxCoord is the largest x or y a minutia can have (14 bits).
	MaxCoord = 1<<14 - 1
	// MaxMinutiae is the largest number of minutiae in one view.
	MaxMinutiae = 255
	// MaxViews is the largest number of views in one record.
	MaxViews = 255
	// MaxQuality is the largest finger or minutia quality.
	MaxQuality = 100
	// MaxPosition is the largest finger position code (10, left little).
	MaxPosition = 10
	// MaxExtended is the largest extended data block of a view.
	MaxExtended = 1<<16 - 1
)

// View is one finger view: the minutiae of one impression of one finger.
type View struct {
	// Position is the finger position code (0 unknown, 1-10 right thumb to
	// left little).
	Position uint8
	// ViewNumber distinguishes several views of the same finger (0-15).
	ViewNumber uint8
	// Impression is the impression type (0 live-scan plain, 1 live-scan
	// rolled, 2 non-live plain, 3 non-live rolled, 4 latent, 8 swipe).
	Impression uint8
	// Quality is the finger quality 0-100.
	Quality uint8
	// Minutiae of the view, at most 255.
	Minutiae []Minutia
	// Extended holds the view's extended data block verbatim (may be empty):
	// the areas after the block's 2-byte length, which the encoder writes.
	// ParseExtended splits it into areas.
	Extended []byte
}

// Record is a finger minutiae record.
type Record struct {
	Format Format
	// Equipment is the capture equipment field: bits 15..12 compliance,
	// bits 11..0 the capture device type id.
	Equipment uint16
	// ProductID is the ANSI CBEFF product identifier (owner<<16 | type);
	// ISO records have none and Marshal ignores it for them.
	ProductID uint32
	// Width and Height of the image in pixels.
	Width, Height uint16
	// ResX and ResY are the resolution in pixels per centimetre (500 ppi is
	// 197).
	ResX, ResY uint16
	Views      []View
}

// PPI returns the record's horizontal resolution in pixels per inch, or 0
// when the record gives none.
func (r *Record) PPI() int { return PPCMToPPI(r.ResX) }

// PPIToPPCM converts pixels per inch to the pixels per centimetre the
// records store, rounding to nearest (500 ppi → 197).
func PPIToPPCM(ppi int) uint16 { return uint16((ppi*100 + 127) / 254) }

// PPCMToPPI converts pixels per centimetre back to pixels per inch,
// rounding to nearest (197 → 500).
func PPCMToPPI(ppcm uint16) int { return (int(ppcm)*254 + 50) / 100 }
