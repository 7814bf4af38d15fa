package face

import "errors"

// Sentinel errors of the face pipeline. Callers test them with errors.Is;
// the errors returned wrap them with the details.
var (
	// ErrBadCascade means a cascade file (PICO or OpenCV Haar) is not in the
	// expected format: truncated, wrong sizes, or values out of range.
	ErrBadCascade = errors.New("face: malformed cascade")
	// ErrNoFrame means Best ended without a single frame to judge.
	ErrNoFrame = errors.New("face: no frame received")
	// ErrNoFace means a token image was asked for an assessment without a
	// face.
	ErrNoFace = errors.New("face: no face in the assessment")
)
