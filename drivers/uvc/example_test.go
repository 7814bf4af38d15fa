package uvc_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/uvc"
	"github.com/bali-rbdes/kiosk/drivers/uvc/uvcsim"
)

type blue struct{}

func (blue) Scene() (image.Image, error) {
	return image.NewUniform(color.RGBA{40, 60, 200, 255}), nil
}

// Example captures one frame. On a kiosk the source is the V4L2 device:
// dev, err := uvc.Open("/dev/video0"), and defer dev.Close(). Here the
// simulator stands in for the camera.
func Example() {
	sim, err := uvcsim.New(blue{}, &uvcsim.Options{FrameInterval: time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	cam, err := uvc.New(sim, &uvc.Options{Width: 640, Height: 480})
	if err != nil {
		log.Fatal(err)
	}
	defer cam.Close()
	f, size := cam.Format()
	fmt.Println("streaming", f, size)

	img, err := cam.Capture(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	r, g, b, _ := img.At(320, 240).RGBA()
	fmt.Println("image", img.Bounds().Size(), "blue:", b>>8 > 150 && r>>8 < 100 && g>>8 < 100)
	// Output:
	// streaming MJPG (640,480)
	// image (640,480) blue: true
}
