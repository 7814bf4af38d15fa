package gt521

import (
	"errors"
	"fmt"
)

// Sentinel errors. Every NACK code maps to one of the first group (test with
// errors.Is); a *NackError carries the code and the command. The second
// group are link errors: each also matches ErrLink.
var (
	ErrSensorTimeout    = errors.New("module timed out (NACK 0x1001)")
	ErrInvalidBaud      = errors.New("invalid baud rate (NACK 0x1002)")
	ErrInvalidPosition  = errors.New("template position out of range (NACK 0x1003)")
	ErrIDNotUsed        = errors.New("template ID not used (NACK 0x1004)")
	ErrIDUsed           = errors.New("template ID already used (NACK 0x1005)")
	ErrCommunication    = errors.New("module reports a communication error (NACK 0x1006)")
	ErrVerifyFailed     = errors.New("1:1 verification failed (NACK 0x1007)")
	ErrIdentifyFailed   = errors.New("1:N identification failed (NACK 0x1008)")
	ErrDatabaseFull     = errors.New("template database full (NACK 0x1009)")
	ErrDatabaseEmpty    = errors.New("template database empty (NACK 0x100A)")
	ErrEnrollOrder      = errors.New("enrolment steps out of order (NACK 0x100B)")
	ErrBadFinger        = errors.New("bad finger image: wet, dry or partial finger (NACK 0x100C)")
	ErrEnrollFailed     = errors.New("enrolment failed (NACK 0x100D)")
	ErrNotSupported     = errors.New("command not supported (NACK 0x100E)")
	ErrDevice           = errors.New("module device error (NACK 0x100F)")
	ErrCaptureCancelled = errors.New("capture cancelled (NACK 0x1010)")
	ErrInvalidParam     = errors.New("invalid parameter (NACK 0x1011)")
	ErrFingerNotPressed = errors.New("no finger on the sensor (NACK 0x1012)")
	ErrDuplicateID      = errors.New("finger already enrolled (NACK with a template ID)")
	ErrUnknownNack      = errors.New("unknown NACK code")
	ErrLink             = errors.New("serial link error")
	ErrTimeout          = errors.New("no answer before the deadline")
	ErrChecksum         = errors.New("packet checksum mismatch")
	ErrFrame            = errors.New("malformed or unexpected packet")
	ErrBaudNotApplied   = errors.New("module did not switch to the new baud rate")
	nackErrors          = map[uint32]error{
		0x1001: ErrSensorTimeout, 0x1002: ErrInvalidBaud, 0x1003: ErrInvalidPosition, 0x1004: ErrIDNotUsed,
		0x1005: ErrIDUsed, 0x1006: ErrCommunication, 0x1007: ErrVerifyFailed, 0x1008: ErrIdentifyFailed,
		0x1009: ErrDatabaseFull, 0x100A: ErrDatabaseEmpty, 0x100B: ErrEnrollOrder, 0x100C: ErrBadFinger,
		0x100D: ErrEnrollFailed, 0x100E: ErrNotSupported, 0x100F: ErrDevice, 0x1010: ErrCaptureCancelled,
		0x1011: ErrInvalidParam, 0x1012: ErrFingerNotPressed,
	}
)

// NackError is a NACK response.
type NackError struct {
	Op   string // the command, e.g. "CaptureFinger"
	Code uint32 // the NACK parameter
}

func (e *NackError) Error() string {
	if e.Code < 200 {
		return fmt.Sprintf("gt521: %s: %v: template ID %d", e.Op, ErrDuplicateID, e.Code)
	}
	return fmt.Sprintf("gt521: %s: %v", e.Op, e.Unwrap())
}

// Unwrap returns the sentinel of the code.
func (e *NackError) Unwrap() error {
	if e.Code < 200 {
		return ErrDuplicateID
	}
	if s, ok := nackErrors[e.Code]; ok {
		return s
	}
	return fmt.Errorf("%w 0x%04X", ErrUnknownNack, e.Code)
}

// linkError is a link-level failure: it matches ErrLink and its kind.
type linkError struct {
	kind error
	msg  string
	err  error
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
