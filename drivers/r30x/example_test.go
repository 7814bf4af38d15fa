package r30x_test

import (
	"context"
	"errors"
	"fmt"
	"image/png"
	"log"
	"os"

	"github.com/bali-rbdes/kiosk/drivers/r30x"
	"github.com/bali-rbdes/kiosk/drivers/r30x/r30xsim"
	"github.com/bali-rbdes/kiosk/drivers/serialport"
)

// Example opens a (simulated) R503 the way kioskd opens a real one: the
// serial port at the module's power-on speed, the driver raising the link
// to 115200 baud, then a finger taken and checked.
func Example() {
	sim, err := r30xsim.New(&r30xsim.Options{Model: "R503"})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	defer func() { cancel(); <-done; sim.Close() }()

	port, err := serialport.Open(sim.Path(), &serialport.Options{Baud: 57600}) // e.g. /dev/ttyUSB0
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()
	dev, err := r30x.New(port, &r30x.Options{Baud: 57600, LinkBaud: 115200, Model: "R503"})
	if err != nil {
		log.Fatal(err)
	}
	p := dev.Params()
	fmt.Printf("%s at %d baud: capacity %d, packet size %d, security level %d\n", dev.Model(), dev.Baud(), p.Capacity, p.PacketSize, p.SecurityLevel)

	if err := dev.Aura(r30x.AuraBreathing, r30x.AuraBlue, 100, 0); err != nil { // "place your finger"
		log.Fatal(err)
	}
	if err := dev.WaitFinger(ctx); err != nil {
		log.Fatal(err)
	}
	switch err := dev.ImageToTemplate(1); {
	case errors.Is(err, r30x.ErrImageMessy):
		fmt.Println("finger too wet: dry it and try again")
	case errors.Is(err, r30x.ErrFewFeatures):
		fmt.Println("finger too dry or off-centre: press a little harder")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("finger image is good")
	}
	// Output:
	// R503 at 115200 baud: capacity 200, packet size 128, security level 3
	// finger image is good
}

// ExampleDev_UploadImage saves the finger image taken by the last Capture
// or WaitFinger (256 x 288, 16 grey levels; about 3.5 s at 115200 baud).
func ExampleDev_UploadImage() {
	var dev *r30x.Dev // from r30x.New
	img, err := dev.UploadImage()
	if err != nil {
		log.Fatal(err)
	}
	f, err := os.Create("finger.png")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, img); err != nil {
		log.Fatal(err)
	}
}
