package illumination_test

import (
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio"

	"github.com/bali-rbdes/kiosk/drivers/gpiosim"
	"github.com/bali-rbdes/kiosk/drivers/illumination"
)

// Example lights the face for a capture, dimmed to 60%. On a board the pin
// comes from periph: host.Init(), then gpioreg.ByName("GPIO18"). Here a
// simulated pin stands in.
func Example() {
	pin := gpiosim.NewPin("GPIO18", gpio.Low, nil)
	light, err := illumination.New(pin, &illumination.Options{PWMFrequency: illumination.DefaultPWMFrequency})
	if err != nil {
		log.Fatal(err)
	}
	if err := light.Set(0.6); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("level %.1f duty %s\n", light.Level(), pin.Duty())
	if err := light.Off(); err != nil {
		log.Fatal(err)
	}
	fmt.Println("on:", pin.Read())
	// Output:
	// level 0.6 duty 60%
	// on: Low
}
