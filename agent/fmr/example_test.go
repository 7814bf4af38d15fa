package fmr_test

import (
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// A record built in memory, written as ISO and as ANSI, and read back.
func Example() {
	rec := &fmr.Record{
		Format: fmr.ISO,
		Width:  388, Height: 374,
		ResX: fmr.PPIToPPCM(500), ResY: fmr.PPIToPPCM(500),
		Views: []fmr.View{{
			Position: 2, // right index
			Quality:  80,
			Minutiae: []fmr.Minutia{
				{Kind: fmr.Ending, X: 120, Y: 200, Angle: 64, Quality: 90},
				{Kind: fmr.Bifurcation, X: 180, Y: 150, Angle: 200, Quality: 70},
			},
		}},
	}
	iso, err := fmr.Marshal(rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	rec.Format = fmr.ANSI
	ansi, err := fmr.Marshal(rec)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, b := range [][]byte{iso, ansi} {
		got, err := fmr.Unmarshal(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		m := got.Views[0].Minutiae[1]
		fmt.Printf("%v, %d bytes, %d ppi, minutia at (%d,%d) angle %.1f°\n", got.Format, len(b), got.PPI(), m.X, m.Y, float64(m.Angle)*360/256)
	}
	// ANSI stores angles in 2° units, so 281.25° comes back as the ISO unit
	// nearest to 282°.

	// Output:
	// ISO/IEC 19794-2:2005, 42 bytes, 500 ppi, minutia at (180,150) angle 281.2°
	// ANSI INCITS 378-2004, 44 bytes, 500 ppi, minutia at (180,150) angle 282.7°
}
