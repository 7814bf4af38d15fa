package outbox

import "errors"

// Sentinel errors callers act on; test for them with errors.Is.
var (
	// ErrFull is returned by Append when the record would take the outbox
	// past Options.MaxBytes, or when the disk itself is full (ENOSPC).
	// Nothing was appended. Capture must stop and tell the officer; appends
	// succeed again once acknowledgements free whole segments.
	ErrFull = errors.New("outbox: full")
	// ErrClosed is returned by every method after Close.
	ErrClosed = errors.New("outbox: closed")
	// ErrTooLarge is returned by Append for a payload larger than
	// Options.MaxRecordBytes (or an empty one).
	ErrTooLarge = errors.New("outbox: record size out of range")
	// ErrNotFound is returned by Ack, Fail and DeadLetter for a sequence
	// number that was never durably appended, and by DeadLetterPayload for
	// one that is not a dead letter.
	ErrNotFound = errors.New("outbox: no such record")
)
