package minutiae_test

import (
	"fmt"
	"log"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

// Extract one image and encode its minutiae, cores and deltas as an
// ISO/IEC 19794-2 record.
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
	rec := res.Record(fmr.ISO)
	data, err := fmr.Marshal(rec)
	if err != nil {
		log.Fatal(err)
	}
	// The view's extended data holds the cores and deltas, when any.
	ext := rec.Views[0].Extended
	fmt.Printf("%q record, 24 + 4 + 6 per minutia + 2 + extended bytes: %v\n", data[:3], len(data) == 24+4+6*len(res.Minutiae)+2+len(ext))
	fmt.Println("enough minutiae:", len(res.Minutiae) >= 20)
	fmt.Println("quality 0-100:", res.Quality >= 0 && res.Quality <= 100)
	fmt.Printf("%d core, %d deltas\n", len(res.Cores), len(res.Deltas))
	// Output:
	// "FMR" record, 24 + 4 + 6 per minutia + 2 + extended bytes: true
	// enough minutiae: true
	// quality 0-100: true
	// 1 core, 0 deltas
}
