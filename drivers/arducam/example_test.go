package arducam_test

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"log"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/arducam"
	"github.com/bali-rbdes/kiosk/drivers/arducam/arducamsim"
)

// grey is a stand-in scene.
type grey struct{}

func (grey) Scene() (image.Image, error) {
	return image.NewUniform(color.Gray{160}), nil
}

// Example takes one JPEG. On a board the port and bus come from periph:
// host.Init(), then spireg.Open("SPI0.0") and i2creg.Open("I2C1"). Here the
// simulator stands in for the camera.
func Example() {
	sim, err := arducamsim.New(grey{}, &arducamsim.Options{CaptureTime: 5 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	cam, err := arducam.New(sim.Port(), sim.Bus(), &arducam.Options{Size: arducam.Size{W: 320, H: 240}})
	if err != nil {
		log.Fatal(err)
	}
	pid, ver := cam.SensorID()
	fmt.Printf("sensor 0x%02X%02X at %v\n", pid, ver, cam.Size())

	jpg, err := cam.Capture(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	img, err := jpeg.Decode(bytes.NewReader(jpg))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("JPEG starts % X, ends % X, decodes to %v\n", jpg[:2], jpg[len(jpg)-2:], img.Bounds().Size())
	// Output:
	// sensor 0x2642 at 320x240
	// JPEG starts FF D8, ends FF D9, decodes to (320,240)
}
