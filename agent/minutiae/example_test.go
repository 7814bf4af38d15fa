package minutiae_test

import (
	"fmt"
	"log"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

// Extract one image and encode its minutiae as an ISO/IEC 19794-2 record.
// A kiosk keeps one Extractor per worker and reuses it for every capture.
func ExampleExtractor_Extract() {
	// A capture: here a synthetic 500 ppi print; from a file, use
	// fingerimage.DecodeFile.
	gen, err := synth.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	img := gen.Finger(42).Impression(1).Image

	ex, err := minutiae.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	res, err := ex.Extract(img, 500)
	if err != nil {
		log.Fatal(err)
	}
	rec, err := fmr.Marshal(res.Record(fmr.ISO))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%q record, 24 + 4 + 6 per minutia + 2 bytes: %v\n", rec[:3], len(rec) == 24+4+6*len(res.Minutiae)+2)
	fmt.Println("enough minutiae:", len(res.Minutiae) >= 20)
	fmt.Println("quality 0-100:", res.Quality >= 0 && res.Quality <= 100)
	// Output:
	// "FMR" record, 24 + 4 + 6 per minutia + 2 bytes: true
	// enough minutiae: true
	// quality 0-100: true
}
