// Package fac encodes and decodes ISO/IEC 19794-5:2005 face image records
// (format identifier "FAC\0", version "010\0"), the face record of eMRTD
// data group 2 and of the kiosk's capture record.
//
// Layout (big-endian), after the standard as documented by independent DG2
// readers (JMRTD FaceInfo/FaceImageInfo, read only):
//
//	general header        14 bytes: "FAC\0", "010\0", record length (4),
//	                      number of facial images (2)
//	per image:
//	  facial information  20 bytes: block length (4), number of feature
//	                      points (2), gender, eye colour, hair colour (1
//	                      each), feature mask (3), expression (2), pose
//	                      yaw/pitch/roll (1 each), their uncertainties (1 each)
//	  feature points      8 bytes each: type (1), code major<<4|minor (1),
//	                      x (2), y (2), reserved (2, zero)
//	  image information   12 bytes: face image type, image data type (1
//	                      each), width, height (2 each), colour space, source
//	                      type (1 each), device type (2), quality (2)
//	  image data          JPEG or JPEG 2000 bytes
//
// The block length of an image counts all four parts. The eye centres are
// the MPEG-4 feature points 12.1 (left eye) and 12.2 (right eye) added by
// Amendment 1; left and right are the subject's, as in MPEG-4, so 12.1 is
// on the right of the image.
//
// The decoder is strict about structure (lengths must add up exactly) and
// lenient about code values, which it keeps as they are so that a record
// re-encodes to the same bytes; Validate checks the codes.
package fac

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Sentinel errors; the errors returned wrap them with the details.
var (
	// ErrFormat means the bytes are not a well-formed ISO/IEC 19794-5:2005
	// record: wrong identifier, lengths that do not add up, truncation.
	ErrFormat = errors.New("fac: malformed ISO/IEC 19794-5 record")
	// ErrVersion means the record is a face record of another version of
	// the standard (such as "030", the 2011 edition).
	ErrVersion = errors.New("fac: unsupported ISO/IEC 19794-5 version")
	// ErrInvalid means a record to encode, or a decoded record being
	// validated, holds a value the format cannot carry or does not define.
	ErrInvalid = errors.New("fac: invalid record")
)

// Sizes of the fixed parts of the format.
const (
	headerSize     = 14
	facialInfoSize = 20
	featurePtSize  = 8
	imageInfoSize  = 12
)

// Gender codes.
const (
	GenderUnspecified uint8 = 0
	GenderMale        uint8 = 1
	GenderFemale      uint8 = 2
	GenderUnknown     uint8 = 0xFF
)

// Face image types.
const (
	ImageTypeBasic        uint8 = 0
	ImageTypeFullFrontal  uint8 = 1
	ImageTypeTokenFrontal uint8 = 2
)

// Image data types.
const (
	DataJPEG     uint8 = 0
	DataJPEG2000 uint8 = 1
)

// Colour spaces.
const (
	ColourUnspecified uint8 = 0
	ColourRGB24       uint8 = 1
	ColourYUV422      uint8 = 2
	ColourGray8       uint8 = 3
	ColourOther       uint8 = 4
)

// Source types.
const (
	SourceUnspecified   uint8 = 0
	SourceStaticPhoto   uint8 = 1 // static photograph, unknown source
	SourceDigitalStill  uint8 = 2 // digital still camera
	SourceScanner       uint8 = 3
	SourceVideoUnknown  uint8 = 4 // single video frame, unknown source
	SourceAnalogueVideo uint8 = 5
	SourceDigitalVideo  uint8 = 6
	SourceUnknown       uint8 = 7
)

// Feature point codes of the eye centres (major 12, minor 1 and 2).
const (
	PointLeftEyeCentre  = 0xC1 // 12.1, the subject's left eye
	PointRightEyeCentre = 0xC2 // 12.2, the subject's right eye
)

// FeaturePoint is one facial feature point. Type 1 is a 2-D MPEG-4
// feature point; Code is major<<4 | minor (12.1 is 0xC1).
type FeaturePoint struct {
	Type uint8
	Code uint8
	X, Y uint16
}

// Major returns the MPEG-4 feature point group (12 for eye centres).
func (p FeaturePoint) Major() int { return int(p.Code >> 4) }

// Minor returns the point's number within its group.
func (p FeaturePoint) Minor() int { return int(p.Code & 0x0F) }

// Pose is a head pose angle as the 2005 format codes it: 0 unspecified,
// else 1..181 in 2-degree steps with 91 meaning 0 degrees. (The 2005
// coding is documented here from secondary sources; verify against the
// standard text.)
type Pose uint8

// PoseDegrees returns the code of an angle in degrees, rounded to the
// format's 2-degree steps and clamped to -180..180.
func PoseDegrees(deg float64) Pose {
	deg = max(-180, min(180, deg))
	steps := deg / 2
	if steps >= 0 {
		steps += 0.5
	} else {
		steps -= 0.5
	}
	return Pose(91 + int(steps))
}

// Degrees returns the angle the code stands for and whether it is
// specified and in range.
func (p Pose) Degrees() (float64, bool) {
	if p == 0 || p > 181 {
		return 0, false
	}
	return float64(int(p)-91) * 2, true
}

// Image is one facial image of a record with its descriptive fields.
type Image struct {
	Gender, EyeColour, HairColour uint8
	// FeatureMask is the 24-bit feature mask (0x000001: features are
	// specified; 0x000002 glasses, ...).
	FeatureMask uint32
	Expression  uint16
	// Yaw, Pitch and Roll are the pose angles; the uncertainties are coded
	// as the format's bytes.
	Yaw, Pitch, Roll                                  Pose
	YawUncertainty, PitchUncertainty, RollUncertainty uint8
	FeaturePoints                                     []FeaturePoint

	FaceImageType uint8
	DataType      uint8
	Width, Height uint16
	ColourSpace   uint8
	SourceType    uint8
	DeviceType    uint16
	Quality       uint16
	// Data holds the JPEG or JPEG 2000 bytes.
	Data []byte
}

// Eye returns the feature point with the given code (PointLeftEyeCentre,
// PointRightEyeCentre) and whether the image has it.
func (im *Image) Eye(code uint8) (FeaturePoint, bool) {
	for _, p := range im.FeaturePoints {
		if p.Type == 1 && p.Code == code {
			return p, true
		}
	}
	return FeaturePoint{}, false
}

// Record is an ISO/IEC 19794-5:2005 face image record.
type Record struct {
	Images []Image
}

// maxRecord bounds what Marshal produces; the length field is 32 bits.
const maxRecord = 1<<32 - 1

// Marshal encodes r. It fails with ErrInvalid when r cannot be encoded: no
// image, too many images or feature points, a feature mask over 24 bits, or
// a record longer than 4 GiB.
func Marshal(r *Record) ([]byte, error) {
	if r == nil || len(r.Images) == 0 {
		return nil, fmt.Errorf("fac: a record needs at least one facial image: %w", ErrInvalid)
	}
	if len(r.Images) > 0xFFFF {
		return nil, fmt.Errorf("fac: %d facial images, at most 65535: %w", len(r.Images), ErrInvalid)
	}
	total := uint64(headerSize)
	for i := range r.Images {
		im := &r.Images[i]
		if len(im.FeaturePoints) > 0xFFFF {
			return nil, fmt.Errorf("fac: image %d has %d feature points, at most 65535: %w", i, len(im.FeaturePoints), ErrInvalid)
		}
		if im.FeatureMask > 0xFFFFFF {
			return nil, fmt.Errorf("fac: image %d feature mask %#x does not fit in 24 bits: %w", i, im.FeatureMask, ErrInvalid)
		}
		total += uint64(blockLen(im))
	}
	if total > maxRecord {
		return nil, fmt.Errorf("fac: record of %d bytes exceeds the 4 GiB the length field allows: %w", total, ErrInvalid)
	}
	b := make([]byte, 0, total)
	b = append(b, 'F', 'A', 'C', 0, '0', '1', '0', 0)
	b = binary.BigEndian.AppendUint32(b, uint32(total))
	b = binary.BigEndian.AppendUint16(b, uint16(len(r.Images)))
	for i := range r.Images {
		im := &r.Images[i]
		b = binary.BigEndian.AppendUint32(b, uint32(blockLen(im)))
		b = binary.BigEndian.AppendUint16(b, uint16(len(im.FeaturePoints)))
		b = append(b, im.Gender, im.EyeColour, im.HairColour,
			byte(im.FeatureMask>>16), byte(im.FeatureMask>>8), byte(im.FeatureMask))
		b = binary.BigEndian.AppendUint16(b, im.Expression)
		b = append(b, byte(im.Yaw), byte(im.Pitch), byte(im.Roll),
			im.YawUncertainty, im.PitchUncertainty, im.RollUncertainty)
		for _, p := range im.FeaturePoints {
			b = append(b, p.Type, p.Code)
			b = binary.BigEndian.AppendUint16(b, p.X)
			b = binary.BigEndian.AppendUint16(b, p.Y)
			b = append(b, 0, 0)
		}
		b = append(b, im.FaceImageType, im.DataType)
		b = binary.BigEndian.AppendUint16(b, im.Width)
		b = binary.BigEndian.AppendUint16(b, im.Height)
		b = append(b, im.ColourSpace, im.SourceType)
		b = binary.BigEndian.AppendUint16(b, im.DeviceType)
		b = binary.BigEndian.AppendUint16(b, im.Quality)
		b = append(b, im.Data...)
	}
	return b, nil
}

func blockLen(im *Image) uint64 {
	return facialInfoSize + featurePtSize*uint64(len(im.FeaturePoints)) + imageInfoSize + uint64(len(im.Data))
}

// Unmarshal decodes an ISO/IEC 19794-5:2005 record. The record length must
// equal len(b) and the image blocks must fill it exactly; errors wrap
// ErrFormat or ErrVersion. The images' Data share b's memory.
func Unmarshal(b []byte) (*Record, error) {
	if len(b) < headerSize {
		return nil, fmt.Errorf("fac: %d bytes, shorter than the %d-byte header: %w", len(b), headerSize, ErrFormat)
	}
	if string(b[0:4]) != "FAC\x00" {
		return nil, fmt.Errorf("fac: format identifier %q, want \"FAC\\x00\" (not a face record): %w", b[0:4], ErrFormat)
	}
	if string(b[4:8]) != "010\x00" {
		return nil, fmt.Errorf("fac: version %q, only \"010\" (ISO/IEC 19794-5:2005) is supported: %w", b[4:8], ErrVersion)
	}
	if n := binary.BigEndian.Uint32(b[8:]); uint64(n) != uint64(len(b)) {
		return nil, fmt.Errorf("fac: header says %d bytes but the record has %d (truncated or padded): %w", n, len(b), ErrFormat)
	}
	count := int(binary.BigEndian.Uint16(b[12:]))
	if count == 0 {
		return nil, fmt.Errorf("fac: record holds no facial image: %w", ErrFormat)
	}
	// Each image takes at least 32 bytes, so a hostile count cannot make
	// us allocate more than the input justifies.
	if count > (len(b)-headerSize)/(facialInfoSize+imageInfoSize) {
		return nil, fmt.Errorf("fac: header announces %d facial images, more than %d bytes can hold: %w", count, len(b), ErrFormat)
	}
	r := &Record{Images: make([]Image, count)}
	p := headerSize
	for i := 0; i < count; i++ {
		rest := b[p:]
		if len(rest) < facialInfoSize+imageInfoSize {
			return nil, fmt.Errorf("fac: image %d starts at byte %d with only %d bytes left: %w", i, p, len(rest), ErrFormat)
		}
		blen := binary.BigEndian.Uint32(rest)
		nfp := int(binary.BigEndian.Uint16(rest[4:]))
		fixed := uint64(facialInfoSize + featurePtSize*nfp + imageInfoSize)
		if uint64(blen) < fixed || uint64(blen) > uint64(len(rest)) {
			return nil, fmt.Errorf("fac: image %d block length %d is outside %d..%d for %d feature points: %w", i, blen, fixed, len(rest), nfp, ErrFormat)
		}
		blk := rest[:blen]
		im := &r.Images[i]
		im.Gender, im.EyeColour, im.HairColour = blk[6], blk[7], blk[8]
		im.FeatureMask = uint32(blk[9])<<16 | uint32(blk[10])<<8 | uint32(blk[11])
		im.Expression = binary.BigEndian.Uint16(blk[12:])
		im.Yaw, im.Pitch, im.Roll = Pose(blk[14]), Pose(blk[15]), Pose(blk[16])
		im.YawUncertainty, im.PitchUncertainty, im.RollUncertainty = blk[17], blk[18], blk[19]
		q := facialInfoSize
		if nfp > 0 {
			im.FeaturePoints = make([]FeaturePoint, nfp)
		}
		for k := 0; k < nfp; k++ {
			fp := blk[q : q+featurePtSize]
			if fp[6] != 0 || fp[7] != 0 {
				return nil, fmt.Errorf("fac: image %d feature point %d has non-zero reserved bytes: %w", i, k, ErrFormat)
			}
			im.FeaturePoints[k] = FeaturePoint{Type: fp[0], Code: fp[1], X: binary.BigEndian.Uint16(fp[2:]), Y: binary.BigEndian.Uint16(fp[4:])}
			q += featurePtSize
		}
		ii := blk[q : q+imageInfoSize]
		im.FaceImageType, im.DataType = ii[0], ii[1]
		im.Width, im.Height = binary.BigEndian.Uint16(ii[2:]), binary.BigEndian.Uint16(ii[4:])
		im.ColourSpace, im.SourceType = ii[6], ii[7]
		im.DeviceType, im.Quality = binary.BigEndian.Uint16(ii[8:]), binary.BigEndian.Uint16(ii[10:])
		im.Data = blk[q+imageInfoSize:]
		p += int(blen)
	}
	if p != len(b) {
		return nil, fmt.Errorf("fac: %d bytes left after the last facial image: %w", len(b)-p, ErrFormat)
	}
	return r, nil
}

// Validate checks that every code of r is one the 2005 format defines and
// that each image carries data of its declared type. It wraps ErrInvalid.
func (r *Record) Validate() error {
	if len(r.Images) == 0 {
		return fmt.Errorf("fac: a record needs at least one facial image: %w", ErrInvalid)
	}
	for i := range r.Images {
		im := &r.Images[i]
		bad := func(field string, v any) error {
			return fmt.Errorf("fac: image %d %s %v is not defined by ISO/IEC 19794-5:2005: %w", i, field, v, ErrInvalid)
		}
		switch {
		case im.Gender > 2 && im.Gender != 0xFF:
			return bad("gender", im.Gender)
		case im.EyeColour > 7 && im.EyeColour != 0xFF:
			return bad("eye colour", im.EyeColour)
		case im.HairColour > 9 && im.HairColour != 0xFF:
			return bad("hair colour", im.HairColour)
		case im.FeatureMask > 0x7FF:
			return bad("feature mask", fmt.Sprintf("%#x", im.FeatureMask))
		case im.Expression > 7:
			return bad("expression", im.Expression)
		case im.Yaw > 181 || im.Pitch > 181 || im.Roll > 181:
			return bad("pose angle", [3]Pose{im.Yaw, im.Pitch, im.Roll})
		case im.FaceImageType > 2:
			return bad("face image type", im.FaceImageType)
		case im.DataType > 1:
			return bad("image data type", im.DataType)
		case im.ColourSpace > 4:
			return bad("colour space", im.ColourSpace)
		case im.SourceType > 7:
			return bad("source type", im.SourceType)
		case im.Width == 0 || im.Height == 0:
			return bad("image size", fmt.Sprintf("%dx%d", im.Width, im.Height))
		}
		for k, p := range im.FeaturePoints {
			if p.Type != 1 {
				return bad(fmt.Sprintf("feature point %d type", k), p.Type)
			}
			if p.X >= im.Width || p.Y >= im.Height {
				return fmt.Errorf("fac: image %d feature point %d.%d at (%d, %d) is outside the %dx%d image: %w", i, p.Major(), p.Minor(), p.X, p.Y, im.Width, im.Height, ErrInvalid)
			}
		}
		switch im.DataType {
		case DataJPEG:
			if len(im.Data) < 4 || im.Data[0] != 0xFF || im.Data[1] != 0xD8 {
				return fmt.Errorf("fac: image %d says JPEG but its data does not start with the JPEG SOI marker: %w", i, ErrInvalid)
			}
		case DataJPEG2000:
			jp2 := len(im.Data) >= 12 && string(im.Data[4:8]) == "jP  "
			j2k := len(im.Data) >= 4 && im.Data[0] == 0xFF && im.Data[1] == 0x4F
			if !jp2 && !j2k {
				return fmt.Errorf("fac: image %d says JPEG 2000 but its data is neither a JP2 file nor a codestream: %w", i, ErrInvalid)
			}
		}
	}
	return nil
}
