package capture_test

import (
	"context"
	"errors"
	"fmt"
	"image"
	"time"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/records"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// A sensor whose images carry their quality in the first pixel, a
// pipeline that reads it, a camera and face pipeline that always find a
// good portrait, and a saver that only counts.
type sensor struct{ qualities []uint8 }

func (s *sensor) CaptureImage(ctx context.Context) (image.Image, error) {
	if len(s.qualities) == 0 {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	img := image.NewGray(image.Rect(0, 0, 1, 1))
	img.Pix[0], s.qualities = s.qualities[0], s.qualities[1:]
	return img, nil
}

type pipeline struct{}

func (pipeline) Extract(img image.Image, pos capture.Finger) (*capture.FingerTemplate, error) {
	q := int(img.(*image.Gray).Pix[0])
	return &capture.FingerTemplate{ISO: []byte("FMR\x00"), Quality: q, Minutiae: q / 2, PPI: 500}, nil
}

type camera struct{}

func (camera) Frame(context.Context) (image.Image, error) {
	return image.NewGray(image.Rect(0, 0, 1, 1)), nil
}

type portraits struct{}

func (portraits) Best(ctx context.Context, cam capture.Camera, _ time.Duration, onFrame func(capture.FaceInfo)) (*capture.Portrait, error) {
	if _, err := cam.Frame(ctx); err != nil {
		return nil, err
	}
	onFrame(capture.FaceInfo{Quality: 85, Accept: true})
	return &capture.Portrait{ISO: []byte("FAC\x00"), Quality: 85, Accept: true, Frames: 1}, nil
}

type saver struct{ n uint64 }

func (s *saver) Save(_ context.Context, rec *rbdesv1.CaptureRecord) (records.Saved, error) {
	if rec.GetFace() == nil {
		return records.Saved{}, errors.New("no face")
	}
	s.n++
	return records.Saved{Seq: s.n, RecordID: "0190a000-0000-7000-8000-000000000001"}, nil
}

// One traveller: the officer starts the session, the portrait is taken,
// the right index finger needs a second attempt, the right middle finger
// is good at once, and the record is saved.
func ExampleWorkflow() {
	policy := config.DefaultKiosk().Capture
	policy.Fingers = []string{"right_index", "right_middle"}
	wf, err := capture.New(capture.Deps{
		Finger: &sensor{qualities: []uint8{35, 72, 90}}, FingerPipeline: pipeline{},
		Camera: camera{}, Face: portraits{}, Saver: &saver{},
	}, policy, &capture.Options{KioskID: "kiosk-example-1"})
	if err != nil {
		panic(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- wf.Run(ctx) }()
	if _, err := wf.Start("officer-1"); err != nil {
		panic(err)
	}
	// Follow the events as the LEDs, the logs and the officer API do.
	_ = wf.Events().Follow(ctx, 0, func(e capture.Event, _ uint64) error {
		switch e.Kind {
		case capture.KindPrompt:
			fmt.Println("prompt:", e.Message)
		case capture.KindFingerAttempt:
			fmt.Printf("%s attempt %d: quality %d\n", e.Finger.Position, e.Finger.Attempt, e.Finger.Quality)
		case capture.KindSaved:
			fmt.Println("saved as seq", e.Saved.Seq)
		case capture.KindEnded:
			fmt.Println("session:", e.Ended.Outcome)
			stop()
		}
		return nil
	})
	<-done
	// Output:
	// prompt: Please look at the camera
	// prompt: Place your right index finger on the sensor
	// right_index attempt 1: quality 35
	// prompt: Lift your finger, then place your right index finger on the sensor again
	// right_index attempt 2: quality 72
	// prompt: Place your right middle finger on the sensor
	// right_middle attempt 1: quality 90
	// saved as seq 1
	// session: saved
}
