package fingerimage

import (
	"encoding/binary"
)

// TIFF tags and PNG chunk that carry a resolution.
const (
	tagXResolution    = 282
	tagResolutionUnit = 296
	tiffRational      = 5
	tiffShort         = 3
	unitInch          = 2
	unitCentimetre    = 3
)

// Range of stated resolutions taken as real; others are ignored.
const (
	MinPPI = 250
	MaxPPI = 5000
)

// tiffPPI returns the horizontal resolution of the first image of a TIFF
// file in pixels per inch, or 0 when the file does not state one (no
// XResolution, unit "none", or a value outside MinPPI..MaxPPI).
func tiffPPI(data []byte) int {
	if len(data) < 8 {
		return 0
	}
	var bo binary.ByteOrder = binary.LittleEndian
	if data[0] == 'M' {
		bo = binary.BigEndian
	}
	ifd := int64(bo.Uint32(data[4:8]))
	if ifd < 8 || ifd+2 > int64(len(data)) {
		return 0
	}
	n := int64(bo.Uint16(data[ifd:]))
	unit := uint16(unitInch) // TIFF default
	var num, den uint32
	for i := int64(0); i < n; i++ {
		e := ifd + 2 + 12*i
		if e+12 > int64(len(data)) {
			return 0
		}
		tag, typ, count := bo.Uint16(data[e:]), bo.Uint16(data[e+2:]), bo.Uint32(data[e+4:])
		switch {
		case tag == tagResolutionUnit && typ == tiffShort && count == 1:
			unit = bo.Uint16(data[e+8:])
		case tag == tagXResolution && typ == tiffRational && count == 1:
			off := int64(bo.Uint32(data[e+8:]))
			if off < 0 || off+8 > int64(len(data)) {
				return 0
			}
			num, den = bo.Uint32(data[off:]), bo.Uint32(data[off+4:])
		}
	}
	if den == 0 {
		return 0
	}
	var ppi uint64
	switch unit {
	case unitInch:
		ppi = (uint64(num) + uint64(den)/2) / uint64(den)
	case unitCentimetre:
		ppi = (uint64(num)*254 + uint64(den)*50) / (uint64(den) * 100)
	default:
		return 0
	}
	return plausiblePPI(ppi)
}

// pngPPI returns the horizontal resolution a PNG's pHYs chunk states in
// pixels per inch, or 0 when there is none or its unit is unknown.
func pngPPI(data []byte) int {
	p := 8 // after the signature
	for p+12 <= len(data) {
		length := int(binary.BigEndian.Uint32(data[p:]))
		if length < 0 || length > len(data)-p-12 {
			return 0
		}
		typ := string(data[p+4 : p+8])
		body := data[p+8 : p+8+length]
		switch typ {
		case "pHYs":
			if length != 9 || body[8] != 1 { // unit 1 = metre
				return 0
			}
			ppm := uint64(binary.BigEndian.Uint32(body))
			return plausiblePPI((ppm*254 + 5000) / 10000)
		case "IDAT", "IEND":
			return 0 // pHYs must come before IDAT
		}
		p += 12 + length
	}
	return 0
}

// plausiblePPI keeps resolutions a fingerprint scanner could have. Values
// under 250 ppi are the 72 or 96 ppi defaults image software writes (the
// x/image/tiff encoder writes 72), not a scanner's resolution.
func plausiblePPI(ppi uint64) int {
	if ppi < MinPPI || ppi > MaxPPI {
		return 0
	}
	return int(ppi)
}
