package fpc1020_test

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"log"
	"time"

	"github.com/bali-rbdes/kiosk/drivers/fpc1020"
	"github.com/bali-rbdes/kiosk/drivers/fpc1020/fpc1020sim"
)

// stripes is a stand-in finger: horizontal ridges 9 pixels apart.
type stripes struct{}

func (stripes) Finger() (image.Image, error) {
	g := image.NewGray(image.Rect(0, 0, 256, 256))
	for y := range 256 {
		for x := range 256 {
			g.SetGray(x, y, color.Gray{uint8(40 + 180*((y/4)%2))})
		}
	}
	return g, nil
}

// Example waits for a finger and captures it. On a board the port and pins
// come from periph: host.Init(), then spireg.Open("SPI0.0") and
// gpioreg.ByName("GPIO25") / gpioreg.ByName("GPIO24") for reset and IRQ.
// Here the simulator stands in for the sensor.
func Example() {
	sim, err := fpc1020sim.New(stripes{}, &fpc1020sim.Options{FingerDelay: 10 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	dev, err := fpc1020.New(sim.Port(), sim.ResetPin(), sim.IRQPin(), nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("sensor %s, hardware id 0x%04X\n", dev, dev.HardwareID())

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := dev.WaitFinger(ctx); err != nil {
		log.Fatal(err)
	}
	img, err := dev.Capture(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("image", img.Bounds().Dx(), "x", img.Bounds().Dy(), "first pixels", img.Pix[:4])
	// Output:
	// sensor fpc1020(fpc1020sim), hardware id 0x020A
	// image 192 x 192 first pixels [40 40 40 40]
}
