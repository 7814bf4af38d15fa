package fmr

import (
	"encoding/binary"
	"fmt"
)

var (
	magic      = [4]byte{'F', 'M', 'R', 0}
	version20  = [4]byte{' ', '2', '0', 0}
	version030 = [4]byte{'0', '3', '0', 0}
)

const (
	isoHeaderLen       = 24
	ansiHeaderLen      = 26
	ansiLongHeaderLen  = 30
	viewHeaderLen      = 4
	minutiaLen         = 6
	extendedLenLen     = 2
	maxANSIShortLength = 1<<16 - 1
	maxANSIAngle       = 179
	maxNibble          = 15
)

// Marshal encodes r in the standard r.Format names. It returns an error
// wrapping ErrInvalid when a field does not fit its standard: more than 255
// views or minutiae, coordinates beyond 14 bits, qualities above 100, view
// numbers or impression types beyond 4 bits, a finger position above 10, an
// extended block over 65,535 bytes or a zero resolution.
func Marshal(r *Record) ([]byte, error) {
	if r == nil {
		return nil, fmt.Errorf("fmr: Marshal given a nil record: %w", ErrInvalid)
	}
	if err := validate(r); err != nil {
		return nil, err
	}
	body := 0
	for i := range r.Views {
		body += viewHeaderLen + minutiaLen*len(r.Views[i].Minutiae) + extendedLenLen + len(r.Views[i].Extended)
	}
	var out []byte
	switch r.Format {
	case ISO:
		total := isoHeaderLen + body
		out = make([]byte, 0, total)
		out = append(out, magic[:]...)
		out = append(out, version20[:]...)
		out = binary.BigEndian.AppendUint32(out, uint32(total))
	case ANSI:
		total := ansiHeaderLen + body
		if total > maxANSIShortLength {
			total = ansiLongHeaderLen + body
		}
		out = make([]byte, 0, total)
		out = append(out, magic[:]...)
		out = append(out, version20[:]...)
		if total > maxANSIShortLength {
			out = binary.BigEndian.AppendUint16(out, 0)
			out = binary.BigEndian.AppendUint32(out, uint32(total))
		} else {
			out = binary.BigEndian.AppendUint16(out, uint16(total))
		}
		out = binary.BigEndian.AppendUint32(out, r.ProductID)
	default:
		return nil, fmt.Errorf("fmr: Marshal given format %d, want fmr.ISO or fmr.ANSI: %w", r.Format, ErrInvalid)
	}
	out = binary.BigEndian.AppendUint16(out, r.Equipment)
	out = binary.BigEndian.AppendUint16(out, r.Width)
	out = binary.BigEndian.AppendUint16(out, r.Height)
	out = binary.BigEndian.AppendUint16(out, r.ResX)
	out = binary.BigEndian.AppendUint16(out, r.ResY)
	out = append(out, uint8(len(r.Views)), 0)
	for i := range r.Views {
		v := &r.Views[i]
		out = append(out, v.Position, v.ViewNumber<<4|v.Impression, v.Quality, uint8(len(v.Minutiae)))
		for _, m := range v.Minutiae {
			out = binary.BigEndian.AppendUint16(out, uint16(m.Kind)<<14|m.X)
			out = binary.BigEndian.AppendUint16(out, m.Y)
			angle := m.Angle
			if r.Format == ANSI {
				angle = isoToANSIAngle(angle)
			}
			out = append(out, angle, m.Quality)
		}
		out = binary.BigEndian.AppendUint16(out, uint16(len(v.Extended)))
		out = append(out, v.Extended...)
	}
	return out, nil
}

func validate(r *Record) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("fmr: cannot encode record: "+format+": %w", append(args, ErrInvalid)...)
	}
	if r.ResX == 0 || r.ResY == 0 {
		return bad("resolution %dx%d pixels/cm has a zero (set ResX and ResY, e.g. fmr.PPIToPPCM(500))", r.ResX, r.ResY)
	}
	if len(r.Views) > MaxViews {
		return bad("%d views, at most %d fit", len(r.Views), MaxViews)
	}
	for i := range r.Views {
		v := &r.Views[i]
		switch {
		case v.Position > MaxPosition:
			return bad("view %d: finger position %d, want 0-%d", i, v.Position, MaxPosition)
		case v.ViewNumber > maxNibble:
			return bad("view %d: view number %d, want 0-%d", i, v.ViewNumber, maxNibble)
		case v.Impression > maxNibble:
			return bad("view %d: impression type %d, want 0-%d", i, v.Impression, maxNibble)
		case v.Quality > MaxQuality:
			return bad("view %d: finger quality %d, want 0-%d", i, v.Quality, MaxQuality)
		case len(v.Minutiae) > MaxMinutiae:
			return bad("view %d: %d minutiae, at most %d fit (keep the best by quality)", i, len(v.Minutiae), MaxMinutiae)
		case len(v.Extended) > MaxExtended:
			return bad("view %d: extended data of %d bytes, at most %d fit", i, len(v.Extended), MaxExtended)
		}
		for j, m := range v.Minutiae {
			switch {
			case m.Kind > Bifurcation:
				return bad("view %d minutia %d: kind %d, want 0-2", i, j, m.Kind)
			case m.X > MaxCoord || m.Y > MaxCoord:
				return bad("view %d minutia %d: position (%d,%d) beyond 14 bits", i, j, m.X, m.Y)
			case m.Quality > MaxQuality:
				return bad("view %d minutia %d: quality %d, want 0-%d", i, j, m.Quality, MaxQuality)
			}
		}
	}
	return nil
}

// Unmarshal decodes an ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004 finger
// minutiae record, telling them apart by the record-length field, which must
// equal len(data). The returned Record's Format says which it was; its
// minutia angles are in ISO units either way. Errors wrap ErrMalformed or
// ErrUnsupported and say which field is wrong. The Record does not alias
// data.
func Unmarshal(data []byte) (*Record, error) {
	if len(data) < 8 {
		return nil, malformed("record is %d bytes, shorter than the 8-byte format identifier", len(data))
	}
	if [4]byte(data[0:4]) != magic {
		return nil, malformed("record starts with % x, not \"FMR\\0\" (is this a finger minutiae record?)", data[0:4])
	}
	switch [4]byte(data[4:8]) {
	case version20:
	case version030:
		return nil, fmt.Errorf("fmr: record is ISO/IEC 19794-2:2011 (version \"030\"); only the 2005 edition and ANSI INCITS 378-2004 (\" 20\") are read: %w", ErrUnsupported)
	default:
		return nil, fmt.Errorf("fmr: record version % x, want \" 20\\0\" (ISO/IEC 19794-2:2005 or ANSI INCITS 378-2004): %w", data[4:8], ErrUnsupported)
	}
	f, err := detect(data)
	if err != nil {
		return nil, err
	}
	if f == ISO {
		return decodeISO(data)
	}
	return decodeANSI(data)
}

// detect tells ISO from ANSI by which reading of the length field equals
// len(data). The readings cannot both match: an ISO length below 65,536 has
// zero high bytes, where ANSI's short form must be non-zero, and ANSI's long
// form is used only for lengths of 65,536 and more.
func detect(data []byte) (Format, error) {
	n := len(data)
	if n < 12 {
		return 0, malformed("record is %d bytes, too short for its length field", n)
	}
	isoLen := binary.BigEndian.Uint32(data[8:12])
	ansiShort := binary.BigEndian.Uint16(data[8:10])
	switch {
	case int64(isoLen) == int64(n):
		return ISO, nil
	case ansiShort != 0 && int(ansiShort) == n:
		return ANSI, nil
	case ansiShort == 0 && n >= 14 && int64(binary.BigEndian.Uint32(data[10:14])) == int64(n):
		return ANSI, nil
	}
	return 0, malformed("record length field reads %d (ISO, 4 bytes) or %d (ANSI, 2 bytes) but the record has %d bytes (truncated or padded?)", isoLen, ansiShort, n)
}

func malformed(format string, args ...any) error {
	return fmt.Errorf("fmr: "+format+": %w", append(args, ErrMalformed)...)
}

// reader walks a record, remembering the first error so that decoding code
// can read a run of fields and check once.
type reader struct {
	data []byte
	off  int
	err  error
}

func (r *reader) need(n int, what string) bool {
	if r.err != nil {
		return false
	}
	if n > len(r.data)-r.off {
		r.err = malformed("record truncated at byte %d: %s needs %d bytes, %d left", r.off, what, n, len(r.data)-r.off)
		return false
	}
	return true
}

func (r *reader) u8(what string) uint8 {
	if !r.need(1, what) {
		return 0
	}
	v := r.data[r.off]
	r.off++
	return v
}

func (r *reader) u16(what string) uint16 {
	if !r.need(2, what) {
		return 0
	}
	v := binary.BigEndian.Uint16(r.data[r.off:])
	r.off += 2
	return v
}

func (r *reader) u32(what string) uint32 {
	if !r.need(4, what) {
		return 0
	}
	v := binary.BigEndian.Uint32(r.data[r.off:])
	r.off += 4
	return v
}

func (r *reader) bytes(n int, what string) []byte {
	if !r.need(n, what) {
		return nil
	}
	v := r.data[r.off : r.off+n : r.off+n]
	r.off += n
	return v
}

func decodeISO(data []byte) (*Record, error) {
	rd := &reader{data: data, off: 8}
	length := rd.u32("record length")
	rec := &Record{Format: ISO}
	decodeCommonHeader(rd, rec)
	if rd.err != nil {
		return nil, rd.err
	}
	if int64(length) != int64(len(data)) {
		return nil, malformed("ISO record length field says %d bytes, record has %d", length, len(data))
	}
	return decodeBody(rd, rec)
}

func decodeANSI(data []byte) (*Record, error) {
	rd := &reader{data: data, off: 8}
	length := uint32(rd.u16("record length"))
	if length == 0 {
		length = rd.u32("long record length")
	}
	rec := &Record{Format: ANSI}
	rec.ProductID = rd.u32("CBEFF product id")
	decodeCommonHeader(rd, rec)
	if rd.err != nil {
		return nil, rd.err
	}
	if int64(length) != int64(len(data)) {
		return nil, malformed("ANSI record length field says %d bytes, record has %d", length, len(data))
	}
	return decodeBody(rd, rec)
}

// decodeCommonHeader reads the header fields from capture equipment on,
// which both standards share.
func decodeCommonHeader(rd *reader, rec *Record) {
	rec.Equipment = rd.u16("capture equipment")
	rec.Width = rd.u16("image width")
	rec.Height = rd.u16("image height")
	rec.ResX = rd.u16("x resolution")
	rec.ResY = rd.u16("y resolution")
}

func decodeBody(rd *reader, rec *Record) (*Record, error) {
	nviews := int(rd.u8("number of finger views"))
	reserved := rd.u8("reserved header byte")
	if rd.err != nil {
		return nil, rd.err
	}
	if reserved != 0 {
		return nil, malformed("%v header reserved byte is 0x%02x, want 0", rec.Format, reserved)
	}
	if rec.ResX == 0 || rec.ResY == 0 {
		return nil, malformed("%v header resolution %dx%d pixels/cm has a zero", rec.Format, rec.ResX, rec.ResY)
	}
	// Each view takes at least 6 bytes; bound the allocation by the data.
	if nviews*(viewHeaderLen+extendedLenLen) > len(rd.data)-rd.off {
		return nil, malformed("%v header announces %d finger views but only %d bytes follow", rec.Format, nviews, len(rd.data)-rd.off)
	}
	if nviews > 0 {
		rec.Views = make([]View, nviews)
	}
	for i := range rec.Views {
		if err := decodeView(rd, rec, i); err != nil {
			return nil, err
		}
	}
	if rd.off != len(rd.data) {
		return nil, malformed("%d bytes left after the last of %d finger views (record length and content disagree)", len(rd.data)-rd.off, nviews)
	}
	return rec, nil
}

func decodeView(rd *reader, rec *Record, i int) error {
	v := &rec.Views[i]
	v.Position = rd.u8("finger position")
	vi := rd.u8("view number and impression type")
	v.ViewNumber, v.Impression = vi>>4, vi&0x0f
	v.Quality = rd.u8("finger quality")
	n := int(rd.u8("number of minutiae"))
	raw := rd.bytes(n*minutiaLen, "minutiae")
	if rd.err != nil {
		return fmt.Errorf("view %d: %w", i, rd.err)
	}
	if v.Position > MaxPosition {
		return malformed("view %d: finger position %d, want 0-%d", i, v.Position, MaxPosition)
	}
	if v.Quality > MaxQuality {
		return malformed("view %d: finger quality %d, want 0-%d", i, v.Quality, MaxQuality)
	}
	if n > 0 {
		v.Minutiae = make([]Minutia, n)
	}
	for j := range v.Minutiae {
		b := raw[j*minutiaLen:]
		xf := binary.BigEndian.Uint16(b[0:2])
		yf := binary.BigEndian.Uint16(b[2:4])
		m := Minutia{
			Kind:    Kind(xf >> 14),
			X:       xf & MaxCoord,
			Y:       yf & MaxCoord,
			Angle:   b[4],
			Quality: b[5],
		}
		switch {
		case m.Kind > Bifurcation:
			return malformed("view %d minutia %d: type bits 11 are reserved", i, j)
		case yf>>14 != 0:
			return malformed("view %d minutia %d: reserved bits of the y field are set (0x%04x)", i, j, yf)
		case m.Quality > MaxQuality:
			return malformed("view %d minutia %d: quality %d, want 0-%d", i, j, m.Quality, MaxQuality)
		}
		if rec.Format == ANSI {
			if m.Angle > maxANSIAngle {
				return malformed("view %d minutia %d: ANSI angle %d (2° units), want 0-%d", i, j, m.Angle, maxANSIAngle)
			}
			m.Angle = ansiToISOAngle(m.Angle)
		}
		v.Minutiae[j] = m
	}
	extLen := int(rd.u16("extended data block length"))
	ext := rd.bytes(extLen, "extended data block")
	if rd.err != nil {
		return fmt.Errorf("view %d: %w", i, rd.err)
	}
	if extLen > 0 {
		v.Extended = append([]byte(nil), ext...)
	}
	return nil
}

// isoToANSIAngle converts 360/256° units to ANSI's 2° units, rounding to
// nearest; 359.x° wraps to 0.
func isoToANSIAngle(a uint8) uint8 {
	return uint8(((int(a)*180 + 128) / 256) % 180)
}

// ansiToISOAngle converts ANSI's 2° units (0-179) to 360/256° units,
// rounding to nearest. ANSI → ISO → ANSI gives back the same value.
func ansiToISOAngle(a uint8) uint8 {
	return uint8(((int(a)*256 + 90) / 180) % 256)
}
