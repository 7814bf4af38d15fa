package capture

import "errors"

// Sentinel errors callers act on; test them with errors.Is.
var (
	// ErrBusy: a session is already running.
	ErrBusy = errors.New("capture: a session is already running (cancel it first)")
	// ErrNoSession: there is no session to cancel or change.
	ErrNoSession = errors.New("capture: no session is running")
	// ErrRefused: new sessions are refused until the outbox has room
	// again; the error wraps the reason (records.ErrOutboxFull).
	ErrRefused = errors.New("capture: new sessions are refused")
	// ErrCancelled: the session was cancelled (by the officer, or because
	// the kiosk is stopping).
	ErrCancelled = errors.New("capture: session cancelled")
	// ErrStepTimeout: the traveller did not do what a step asked in time
	// (capture.step_timeout).
	ErrStepTimeout = errors.New("capture: step timed out")
	// ErrSessionTimeout: the whole session took longer than
	// capture.session_timeout.
	ErrSessionTimeout = errors.New("capture: session timed out")
	// ErrPoorImage is wrapped by FingerSensor implementations when the
	// sensor took no usable image (the attempt counts; the traveller tries
	// again).
	ErrPoorImage = errors.New("capture: the sensor took no usable image")
	// ErrNoFace is wrapped by FacePipeline implementations when no frame
	// showed a usable face.
	ErrNoFace = errors.New("capture: no usable face seen")
	// ErrDevice: a sensor or the camera failed; the session ends and the
	// error says which device and what to check.
	ErrDevice = errors.New("capture: device failure")
	// ErrInvalidPolicy: a capture policy change names a value that is not
	// allowed or is out of range; nothing was changed.
	ErrInvalidPolicy = errors.New("capture: invalid capture policy value")
)
