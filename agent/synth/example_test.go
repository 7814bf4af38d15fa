package synth_test

import (
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/synth"
)

// A traveller's right index finger as an R30x sensor sees it: the image,
// and the ground truth as an extractor would report it.
func Example() {
	g, err := synth.New(&synth.Options{Sensor: synth.R30x})
	if err != nil {
		panic(err)
	}
	finger, err := g.Traveller(2026).Finger(2)
	if err != nil {
		panic(err)
	}
	im := finger.Impression(1)
	fmt.Println(im.Image.Bounds().Dx(), im.Image.Bounds().Dy(), im.PPI, finger.Master.Class)
	fmt.Println(len(im.Minutiae()) == len(im.Truth), len(im.Truth) > 10)
	// Output:
	// 256 288 508 left_loop
	// true true
}
