package statusled_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/gpiosim"
	"github.com/bali-rbdes/kiosk/drivers/statusled"
)

// Example shows the kiosk's state. On a board the pins come from periph:
// host.Init(), then gpioreg.ByName for each of GPIO17, GPIO27 and GPIO22.
// Here simulated pins stand in for the LED.
func Example() {
	r := gpiosim.NewPin("GPIO17", gpio.Low, nil)
	g := gpiosim.NewPin("GPIO27", gpio.Low, nil)
	led, err := statusled.New(r, g, nil, nil)
	if err != nil {
		log.Fatal(err)
	}
	if err := led.Set(statusled.Yellow); err != nil {
		log.Fatal(err)
	}
	fmt.Println(led.Color(), r.Read(), g.Read())
	fmt.Println(led.Set(statusled.Blue))
	// Output:
	// yellow High High
	// statusled: blue needs the blue pin, which is not wired (set pins.blue in the device config)
}
