package gt521_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/gt521/gt521sim"
	"github.com/bali-rbdes/kiosk/drivers/serialport"
)

// Example opens a (simulated) GT-521F52 the way kioskd opens a real one:
// the port at the module's power-on 9600 baud, the driver raising the link
// to 115200, then a finger awaited and captured.
func Example() {
	sim, err := gt521sim.New(&gt521sim.Options{Firmware: 0x01020304})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sim.Run(ctx) }()
	defer func() { cancel(); <-done; sim.Close() }()

	port, err := serialport.Open(sim.Path(), &serialport.Options{Baud: 9600}) // e.g. /dev/ttyUSB0
	if err != nil {
		log.Fatal(err)
	}
	defer port.Close()
	dev, err := gt521.New(port, &gt521.Options{Baud: 9600, LinkBaud: 115200})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("firmware %s at %d baud\n", dev.Info().FirmwareString(), dev.Baud())
	if err := dev.WaitFinger(ctx); err != nil { // turns the backlight on
		log.Fatal(err)
	}
	switch err := dev.Capture(true); {
	case errors.Is(err, gt521.ErrFingerNotPressed):
		fmt.Println("finger lifted too early")
	case errors.Is(err, gt521.ErrBadFinger):
		fmt.Println("finger too wet or dry")
	case err != nil:
		log.Fatal(err)
	default:
		fmt.Println("captured; GetImage downloads it (258 x 202, about 4.5 s at 115200 baud)")
	}
	if err := dev.CmosLed(false); err != nil {
		log.Fatal(err)
	}
	// Output:
	// firmware 01020304 at 115200 baud
	// captured; GetImage downloads it (258 x 202, about 4.5 s at 115200 baud)
}
