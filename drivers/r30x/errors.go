package r30x

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every confirmation code the module can return maps to one
// of the first group (test with errors.Is); a *CodeError carries the code and
// the instruction. The second group are link errors: the bytes on the wire
// were wrong or missing; every one of them also matches ErrLink, and the next
// command resynchronises the link before it runs.
var (
	ErrReceive             = errors.New("module reports a receive error (0x01)")
	ErrNoFinger            = errors.New("no finger on the sensor (0x02)")
	ErrImageFail           = errors.New("failed to take the finger image (0x03)")
	ErrImageMessy          = errors.New("finger image too messy: wet or smeared finger (0x06)")
	ErrFewFeatures         = errors.New("too few features in the finger image: dry or partial finger (0x07)")
	ErrNoMatch             = errors.New("fingers do not match (0x08)")
	ErrNotFound            = errors.New("no matching template found (0x09)")
	ErrEnrollMismatch      = errors.New("enrolment images do not combine (0x0A)")
	ErrBadLocation         = errors.New("template location out of range (0x0B)")
	ErrDBRead              = errors.New("template library read failed (0x0C)")
	ErrUploadFeature       = errors.New("template upload failed (0x0D)")
	ErrPacketResponse      = errors.New("module cannot receive the data packets (0x0E)")
	ErrUploadImage         = errors.New("image upload failed (0x0F)")
	ErrDelete              = errors.New("template delete failed (0x10)")
	ErrDBClear             = errors.New("template library clear failed (0x11)")
	ErrWrongPassword       = errors.New("wrong module password (0x13)")
	ErrInvalidImage        = errors.New("no valid image in the image buffer (0x15)")
	ErrFlash               = errors.New("module flash write failed (0x18)")
	ErrInvalidRegister     = errors.New("invalid system parameter register (0x1A)")
	ErrAddressCode         = errors.New("wrong module address (0x20)")
	ErrMustVerifyPassword  = errors.New("password must be verified first (0x21)")
	ErrUnknownConfirmation = errors.New("unknown confirmation code")
	ErrLink                = errors.New("serial link error")
	ErrTimeout             = errors.New("no answer before the deadline")
	ErrChecksum            = errors.New("packet checksum mismatch")
	ErrFrame               = errors.New("malformed or unexpected packet")
	ErrBaudNotApplied      = errors.New("module did not switch to the new baud rate")
	errShort               = errors.New("r30x: incomplete packet")
	codeErrors             = map[byte]error{
		0x01: ErrReceive, 0x02: ErrNoFinger, 0x03: ErrImageFail, 0x06: ErrImageMessy,
		0x07: ErrFewFeatures, 0x08: ErrNoMatch, 0x09: ErrNotFound, 0x0A: ErrEnrollMismatch,
		0x0B: ErrBadLocation, 0x0C: ErrDBRead, 0x0D: ErrUploadFeature, 0x0E: ErrPacketResponse,
		0x0F: ErrUploadImage, 0x10: ErrDelete, 0x11: ErrDBClear, 0x13: ErrWrongPassword,
		0x15: ErrInvalidImage, 0x18: ErrFlash, 0x1A: ErrInvalidRegister, 0x20: ErrAddressCode,
		0x21: ErrMustVerifyPassword,
	}
)

// CodeError is a non-zero confirmation code returned by the module.
type CodeError struct {
	Op   string // the instruction, e.g. "GenImg"
	Code byte   // the confirmation code
}

func (e *CodeError) Error() string {
	return fmt.Sprintf("r30x: %s: %v", e.Op, e.sentinel())
}

// Unwrap returns the sentinel of the code (ErrUnknownConfirmation for codes
// the protocol documents do not list).
func (e *CodeError) Unwrap() error { return e.sentinel() }

func (e *CodeError) sentinel() error {
	if s, ok := codeErrors[e.Code]; ok {
		return s
	}
	return fmt.Errorf("%w 0x%02X", ErrUnknownConfirmation, e.Code)
}

// CodeOf returns the sentinel error of a confirmation code, nil for 0x00.
func CodeOf(code byte) error {
	if code == 0 {
		return nil
	}
	return (&CodeError{Code: code}).sentinel()
}

// linkError is a link-level failure: it matches ErrLink and its kind.
type linkError struct {
	kind error
	msg  string
	err  error // optional cause
}

func (e *linkError) Error() string {
	if e.err != nil {
		return e.msg + ": " + e.err.Error()
	}
	return e.msg + ": " + e.kind.Error()
}

func (e *linkError) Is(target error) bool { return target == ErrLink || target == e.kind }

func (e *linkError) Unwrap() error { return e.err }

func linkErrorf(kind error, format string, args ...any) error {
	return &linkError{kind: kind, msg: fmt.Sprintf(format, args...)}
}
