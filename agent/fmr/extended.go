package fmr

import (
	"encoding/binary"
	"fmt"
)

// Extended data area type codes (both standards).
const (
	// AreaRidgeCount holds ridge counts between pairs of minutiae.
	AreaRidgeCount uint16 = 0x0001
	// AreaCoreDelta holds core and delta points.
	AreaCoreDelta uint16 = 0x0002
	// AreaZonalQuality holds ISO zonal quality data (kept as raw bytes).
	AreaZonalQuality uint16 = 0x0003
)

// ExtendedArea is one area of a view's extended data block.
type ExtendedArea struct {
	// Type is the area type code (AreaRidgeCount, AreaCoreDelta, or a
	// vendor code).
	Type uint16
	// Data is the area content after its type and length fields.
	Data []byte
}

// The area length field counts only the data in ISO/IEC 19794-2:2005 and the
// whole area, its 4-byte type and length included, in ANSI INCITS 378-2004.
// (This follows NIST biomdi for ANSI and SourceAFIS FingerprintIO for ISO.)
const areaHeaderLen = 4

// ParseExtended splits a view's extended data block (View.Extended) of a
// record in format f into its areas. The areas' Data alias block.
func ParseExtended(f Format, block []byte) ([]ExtendedArea, error) {
	if f != ISO && f != ANSI {
		return nil, fmt.Errorf("fmr: ParseExtended given format %d, want fmr.ISO or fmr.ANSI: %w", f, ErrInvalid)
	}
	var areas []ExtendedArea
	for off := 0; off < len(block); {
		if len(block)-off < areaHeaderLen {
			return nil, malformed("extended data: %d stray bytes at offset %d, too few for an area header", len(block)-off, off)
		}
		typ := binary.BigEndian.Uint16(block[off:])
		n := int(binary.BigEndian.Uint16(block[off+2:]))
		if f == ANSI {
			if n < areaHeaderLen {
				return nil, malformed("extended data: ANSI area at offset %d has length %d, less than its own 4-byte header", off, n)
			}
			n -= areaHeaderLen
		}
		off += areaHeaderLen
		if n > len(block)-off {
			return nil, malformed("extended data: area type 0x%04x at offset %d wants %d bytes, %d left", typ, off-areaHeaderLen, n, len(block)-off)
		}
		areas = append(areas, ExtendedArea{Type: typ, Data: block[off : off+n : off+n]})
		off += n
	}
	return areas, nil
}

// AppendExtended appends the areas, encoded for format f, to dst; the
// result is what View.Extended holds.
func AppendExtended(f Format, dst []byte, areas ...ExtendedArea) ([]byte, error) {
	if f != ISO && f != ANSI {
		return nil, fmt.Errorf("fmr: AppendExtended given format %d, want fmr.ISO or fmr.ANSI: %w", f, ErrInvalid)
	}
	for _, a := range areas {
		n := len(a.Data)
		if f == ANSI {
			n += areaHeaderLen
		}
		if n > MaxExtended {
			return nil, fmt.Errorf("fmr: extended area type 0x%04x of %d bytes does not fit a 16-bit length: %w", a.Type, len(a.Data), ErrInvalid)
		}
		dst = binary.BigEndian.AppendUint16(dst, a.Type)
		dst = binary.BigEndian.AppendUint16(dst, uint16(n))
		dst = append(dst, a.Data...)
	}
	return dst, nil
}

// RidgeCount is the number of ridges crossed between two minutiae.
type RidgeCount struct {
	// A and B index the view's minutiae as the record lists them.
	A, B uint8
	// Count is the number of ridges between them.
	Count uint8
}

// RidgeCounts is the content of an AreaRidgeCount area.
type RidgeCounts struct {
	// Method is the extraction method: 0 non-specific, 1 four-neighbour,
	// 2 eight-neighbour.
	Method uint8
	Counts []RidgeCount
}

// ParseRidgeCounts decodes the data of an AreaRidgeCount area (the same in
// both standards).
func ParseRidgeCounts(data []byte) (RidgeCounts, error) {
	if len(data) < 1 || (len(data)-1)%3 != 0 {
		return RidgeCounts{}, malformed("ridge count area of %d bytes, want 1 method byte plus 3 bytes per count", len(data))
	}
	rc := RidgeCounts{Method: data[0]}
	for i := 1; i < len(data); i += 3 {
		rc.Counts = append(rc.Counts, RidgeCount{A: data[i], B: data[i+1], Count: data[i+2]})
	}
	return rc, nil
}

// Append appends the area data of rc to dst.
func (rc RidgeCounts) Append(dst []byte) []byte {
	dst = append(dst, rc.Method)
	for _, c := range rc.Counts {
		dst = append(dst, c.A, c.B, c.Count)
	}
	return dst
}

// Core is a core point.
type Core struct {
	X, Y uint16
	// HasAngle says whether Angle is given.
	HasAngle bool
	// Angle in ISO units (360/256°), converted from ANSI's 2° units.
	Angle uint8
}

// Delta is a delta point.
type Delta struct {
	X, Y uint16
	// HasAngles says whether Angles are given.
	HasAngles bool
	// Angles of the three ridges meeting at the delta, in ISO units.
	Angles [3]uint8
}

// CoreDelta is the content of an AreaCoreDelta area.
type CoreDelta struct {
	Cores  []Core
	Deltas []Delta
}

// Core/delta coding. ISO flags "angle present" per point in bits 15..14 of
// the x field (01) and counts points in the low 4 bits of a count byte; ANSI
// flags it once per list in bits 7..6 of the count byte (01), with the count
// in the low bits (4 for cores, 6 for deltas).
const (
	maxCorePoints  = 15
	maxDeltaPoints = 15
	angularInfo    = 0x01
)

// ParseCoreDelta decodes the data of an AreaCoreDelta area of a record in
// format f. Angles come back in ISO units.
func ParseCoreDelta(f Format, data []byte) (CoreDelta, error) {
	var cd CoreDelta
	rd := &reader{data: data}
	switch f {
	case ISO:
		nc := int(rd.u8("core count") & 0x0f)
		for i := 0; i < nc && rd.err == nil; i++ {
			xf := rd.u16("core x")
			c := Core{X: xf & MaxCoord, Y: rd.u16("core y") & MaxCoord, HasAngle: xf>>14 == angularInfo}
			if c.HasAngle {
				c.Angle = rd.u8("core angle")
			}
			cd.Cores = append(cd.Cores, c)
		}
		nd := int(rd.u8("delta count") & 0x0f)
		for i := 0; i < nd && rd.err == nil; i++ {
			xf := rd.u16("delta x")
			d := Delta{X: xf & MaxCoord, Y: rd.u16("delta y") & MaxCoord, HasAngles: xf>>14 == angularInfo}
			if d.HasAngles {
				for k := range d.Angles {
					d.Angles[k] = rd.u8("delta angle")
				}
			}
			cd.Deltas = append(cd.Deltas, d)
		}
	case ANSI:
		ci := rd.u8("core info")
		angular := ci>>6 == angularInfo
		for i := 0; i < int(ci&0x0f) && rd.err == nil; i++ {
			c := Core{X: rd.u16("core x") & MaxCoord, Y: rd.u16("core y") & MaxCoord, HasAngle: angular}
			if angular {
				c.Angle = ansiAngleField(rd, "core angle")
			}
			cd.Cores = append(cd.Cores, c)
		}
		di := rd.u8("delta info")
		angular = di>>6 == angularInfo
		for i := 0; i < int(di&0x3f) && rd.err == nil; i++ {
			d := Delta{X: rd.u16("delta x") & MaxCoord, Y: rd.u16("delta y") & MaxCoord, HasAngles: angular}
			if angular {
				for k := range d.Angles {
					d.Angles[k] = ansiAngleField(rd, "delta angle")
				}
			}
			cd.Deltas = append(cd.Deltas, d)
		}
	default:
		return CoreDelta{}, fmt.Errorf("fmr: ParseCoreDelta given format %d, want fmr.ISO or fmr.ANSI: %w", f, ErrInvalid)
	}
	if rd.err != nil {
		return CoreDelta{}, fmt.Errorf("core/delta area: %w", rd.err)
	}
	if rd.off != len(data) {
		return CoreDelta{}, malformed("core/delta area: %d bytes left after the points", len(data)-rd.off)
	}
	return cd, nil
}

func ansiAngleField(rd *reader, what string) uint8 {
	a := rd.u8(what)
	if rd.err == nil && a > maxANSIAngle {
		rd.err = malformed("%s %d (2° units), want 0-%d", what, a, maxANSIAngle)
	}
	return ansiToISOAngle(a)
}

// AppendCoreDelta appends the area data of cd, encoded for format f, to
// dst. ANSI codes "angles present" once per list, so there every core (and
// every delta) must agree on HasAngle (HasAngles).
func AppendCoreDelta(f Format, dst []byte, cd CoreDelta) ([]byte, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("fmr: cannot encode core/delta area: "+format+": %w", append(args, ErrInvalid)...)
	}
	if len(cd.Cores) > maxCorePoints || len(cd.Deltas) > maxDeltaPoints {
		return nil, bad("%d cores and %d deltas, at most %d of each", len(cd.Cores), len(cd.Deltas), maxCorePoints)
	}
	for _, c := range cd.Cores {
		if c.X > MaxCoord || c.Y > MaxCoord {
			return nil, bad("core (%d,%d) beyond 14 bits", c.X, c.Y)
		}
	}
	for _, d := range cd.Deltas {
		if d.X > MaxCoord || d.Y > MaxCoord {
			return nil, bad("delta (%d,%d) beyond 14 bits", d.X, d.Y)
		}
	}
	switch f {
	case ISO:
		dst = append(dst, uint8(len(cd.Cores)))
		for _, c := range cd.Cores {
			x := c.X
			if c.HasAngle {
				x |= angularInfo << 14
			}
			dst = binary.BigEndian.AppendUint16(dst, x)
			dst = binary.BigEndian.AppendUint16(dst, c.Y)
			if c.HasAngle {
				dst = append(dst, c.Angle)
			}
		}
		dst = append(dst, uint8(len(cd.Deltas)))
		for _, d := range cd.Deltas {
			x := d.X
			if d.HasAngles {
				x |= angularInfo << 14
			}
			dst = binary.BigEndian.AppendUint16(dst, x)
			dst = binary.BigEndian.AppendUint16(dst, d.Y)
			if d.HasAngles {
				dst = append(dst, d.Angles[:]...)
			}
		}
	case ANSI:
		angular := len(cd.Cores) > 0 && cd.Cores[0].HasAngle
		for _, c := range cd.Cores {
			if c.HasAngle != angular {
				return nil, bad("ANSI needs every core with an angle or none")
			}
		}
		info := uint8(len(cd.Cores))
		if angular {
			info |= angularInfo << 6
		}
		dst = append(dst, info)
		for _, c := range cd.Cores {
			dst = binary.BigEndian.AppendUint16(dst, c.X)
			dst = binary.BigEndian.AppendUint16(dst, c.Y)
			if angular {
				dst = append(dst, isoToANSIAngle(c.Angle))
			}
		}
		angular = len(cd.Deltas) > 0 && cd.Deltas[0].HasAngles
		for _, d := range cd.Deltas {
			if d.HasAngles != angular {
				return nil, bad("ANSI needs every delta with angles or none")
			}
		}
		info = uint8(len(cd.Deltas))
		if angular {
			info |= angularInfo << 6
		}
		dst = append(dst, info)
		for _, d := range cd.Deltas {
			dst = binary.BigEndian.AppendUint16(dst, d.X)
			dst = binary.BigEndian.AppendUint16(dst, d.Y)
			if angular {
				for _, a := range d.Angles {
					dst = append(dst, isoToANSIAngle(a))
				}
			}
		}
	default:
		return nil, fmt.Errorf("fmr: AppendCoreDelta given format %d, want fmr.ISO or fmr.ANSI: %w", f, ErrInvalid)
	}
	return dst, nil
}
