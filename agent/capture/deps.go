package capture

import (
	"context"
	"image"
	"time"

	"github.com/bali-rbdes/kiosk/agent/records"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// FingerSensor is a single-finger fingerprint sensor.
type FingerSensor interface {
	// CaptureImage waits until a finger is on the sensor, takes its image
	// and returns it, or returns when ctx ends. An error wrapping
	// ErrPoorImage means the sensor took no usable image this time (finger
	// moved, wet, dry): the attempt counts and the traveller tries again.
	// Any other error is a sensor failure and ends the session.
	CaptureImage(ctx context.Context) (image.Image, error)
}

// Camera is the face camera.
type Camera interface {
	// Frame returns the next frame, or an error when ctx ends or the
	// camera fails.
	Frame(ctx context.Context) (image.Image, error)
}

// FingerPipeline turns a finger image into a template and a quality.
type FingerPipeline interface {
	// Extract returns the ISO/IEC 19794-2:2005 template of the image of
	// the finger at position pos and the image's quality. An error means
	// the image is unusable (it counts as a failed attempt).
	Extract(img image.Image, pos Finger) (*FingerTemplate, error)
}

// FingerTemplate is what the finger pipeline makes of one image.
type FingerTemplate struct {
	// ISO is the ISO/IEC 19794-2:2005 finger minutiae record.
	ISO []byte
	// Quality is the image quality, 0-100.
	Quality int
	// Minutiae is the number of minutiae in the template.
	Minutiae int
	// PPI is the resolution of the image the template refers to.
	PPI int
	// Hint, when the quality is low, says what the traveller should do
	// ("press a little harder"); it is shown as the attempt's reason.
	Hint string
}

// FacePipeline finds the best portrait the camera gives within a time
// budget.
type FacePipeline interface {
	// Best assesses frames from cam until one is good enough or budget
	// has passed, calling onFrame with each assessment, and returns the
	// best portrait as an ISO/IEC 19794-5 record. It fails with an error
	// wrapping ErrNoFace when no frame showed a usable face, with ctx's
	// error when ctx ends, and with any other error when the camera
	// failed.
	Best(ctx context.Context, cam Camera, budget time.Duration, onFrame func(FaceInfo)) (*Portrait, error)
}

// Portrait is the face pipeline's choice.
type Portrait struct {
	// ISO is the ISO/IEC 19794-5 face image record.
	ISO      []byte
	Quality  int
	Measures map[string]int
	// Accept is set when the portrait passed every threshold; a portrait
	// that did not is still kept as the best available.
	Accept  bool
	Reasons []string
	// Frames is the number of frames assessed.
	Frames int
}

// Saver seals a record and appends it durably to the outbox;
// *records.Saver implements it. Save must return only when the record is
// durable, and wipe nothing on failure. An error wrapping
// records.ErrOutboxFull means the outbox has no room.
type Saver interface {
	Save(ctx context.Context, rec *rbdesv1.CaptureRecord) (records.Saved, error)
}

// Presence reports travellers arriving at and leaving the kiosk.
type Presence interface {
	// Next blocks until presence changes and returns the new state (true:
	// someone arrived), or returns ctx's error when ctx ends.
	Next(ctx context.Context) (present bool, err error)
}

// Deps are the parts a Workflow drives. Finger, FingerPipeline, Camera,
// Face and Saver are required.
type Deps struct {
	Finger         FingerSensor
	FingerPipeline FingerPipeline
	Camera         Camera
	Face           FacePipeline
	Saver          Saver
	// Presence starts sessions on arrivals; nil means only the officer
	// starts them.
	Presence Presence
	// Room, when set, is asked before every session whether the outbox
	// has room for another record; an error (wrapping
	// records.ErrOutboxFull) refuses the session with its message. Without
	// it, once a save has failed for lack of room, arrivals are refused
	// until an officer's start succeeds in saving again.
	Room func() error
}
