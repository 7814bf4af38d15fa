package tamper_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/gpiosim"
	"github.com/bali-rbdes/kiosk/drivers/tamper"
)

// Example raises an alarm when the enclosure opens. On a board the pin
// comes from periph: host.Init(), then gpioreg.ByName("GPIO26"). Here a
// simulated switch stands in.
func Example() {
	door := gpiosim.NewPin("GPIO26", gpio.Low, nil) // closed
	sw, err := tamper.New(door, &tamper.Options{Debounce: 5 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- sw.Run(ctx) }()

	door.Drive(gpio.High) // someone opens the cabinet
	ev := <-sw.Events()
	fmt.Println("open:", ev.Open, "tampered:", sw.Tampered())
	door.Drive(gpio.Low)
	<-sw.Events()
	fmt.Println("clear:", sw.Clear(), "tampered:", sw.Tampered())

	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// open: true tampered: true
	// clear: <nil> tampered: false
}
