// Package fmr encodes and decodes finger minutiae records: ISO/IEC
// 19794-2:2005 and ANSI INCITS 378-2004. Both start with "FMR\0" and " 20\0"
// but differ in header layout and angle units; Record holds either, with
// angles always in ISO units.
package fmr

// Format selects the standard a Record is encoded in.
type Format uint8

// Formats.
const (
	// ISO is ISO/IEC 19794-2:2005.
	ISO Format = iota + 1
	// ANSI is ANSI INCITS 378-2004.
	ANSI
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
	// Extended holds the view's extended data block verbatim (may be empty).
	Extended []byte
}

// Record is a finger minutiae record.
type Record struct {
	Format Format
	// Equipment is the capture equipment field: bits 15..12 compliance,
	// bits 11..0 the capture device type id.
	Equipment uint16
	// ProductID is the ANSI CBEFF product identifier (owner<<16 | type);
	// ISO records have none.
	ProductID uint32
	// Width and Height of the image in pixels.
	Width, Height uint16
	// ResX and ResY are the resolution in pixels per centimetre (500 ppi is
	// 197).
	ResX, ResY uint16
	Views      []View
}

// PPIToPPCM converts pixels per inch to the pixels per centimetre the
// records store, rounding to nearest (500 ppi → 197).
func PPIToPPCM(ppi int) uint16 { return uint16((ppi*100 + 127) / 254) }

// PPCMToPPI converts pixels per centimetre back to pixels per inch,
// rounding to nearest (197 → 500).
func PPCMToPPI(ppcm uint16) int { return (int(ppcm)*254 + 50) / 100 }
