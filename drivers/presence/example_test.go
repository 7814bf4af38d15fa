package presence_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/gpiosim"
	"github.com/bali-rbdes/kiosk/drivers/presence"
)

// Example watches a presence sensor. On a board the pin comes from periph:
// host.Init(), then gpioreg.ByName("GPIO5"). Here a simulated pin stands
// in for the sensor's output.
func Example() {
	pin := gpiosim.NewPin("GPIO5", gpio.Low, nil)
	s, err := presence.New(pin, &presence.Options{Debounce: 5 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()

	pin.Drive(gpio.High) // a traveller steps in
	fmt.Println("present:", (<-s.Events()).Present)
	pin.Drive(gpio.Low) // and leaves
	fmt.Println("present:", (<-s.Events()).Present)

	cancel()
	if err := <-done; err != nil {
		log.Fatal(err)
	}
	// Output:
	// present: true
	// present: false
}
