package matcher_test

import (
	"fmt"
	"math"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/matcher"
)

// Two records of one finger, the second taken at 569 ppi with the finger
// turned by 10° and moved, and a record of another finger.
func Example() {
	var probe, turned, other []fmr.Minutia
	for i := range 40 {
		// A spiral of minutiae stands in for a real template.
		r := 20 + 3*float64(i)
		a := float64(i) * 0.7
		x, y := 200+r*math.Cos(a), 200+r*math.Sin(a)
		dir := a + math.Pi/2
		probe = append(probe, fmr.Minutia{Kind: fmr.Ending, X: uint16(x), Y: uint16(y), Angle: fmr.AngleFromRadians(dir)})
		// Turned by 10° on screen (counter-clockwise, y down), moved, and
		// scaled to 569 ppi.
		t := 10 * math.Pi / 180
		tx := 569.0 / 500 * (30 + 200 + (x-200)*math.Cos(t) + (y-200)*math.Sin(t))
		ty := 569.0 / 500 * (10 + 200 - (x-200)*math.Sin(t) + (y-200)*math.Cos(t))
		turned = append(turned, fmr.Minutia{Kind: fmr.Ending, X: uint16(tx), Y: uint16(ty), Angle: fmr.AngleFromRadians(dir + t)})
		other = append(other, fmr.Minutia{Kind: fmr.Bifurcation, X: uint16(100 + (i*37)%200), Y: uint16(100 + (i*71)%200), Angle: uint8(i * 53)})
	}
	a := matcher.Prepare(probe, 500)
	b := matcher.Prepare(turned, 569)
	c := matcher.Prepare(other, 500)
	fmt.Printf("same finger: %v\n", matcher.Score(a, b) > 0.5)
	fmt.Printf("other finger: %v\n", matcher.Score(a, c) < 0.05)
	// Output:
	// same finger: true
	// other finger: true
}
