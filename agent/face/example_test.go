package face_test

import (
	"fmt"
	"image/png"
	"os"

	"github.com/bali-rbdes/kiosk/agent/fac"
	"github.com/bali-rbdes/kiosk/agent/face"
)

// Assess a frame, tell the traveller what to change, and cut the ISO token
// image and record from it.
func ExamplePipeline_Assess() {
	f, err := os.Open("testdata/astronaut.png")
	if err != nil {
		panic(err)
	}
	defer f.Close()
	frame, err := png.Decode(f)
	if err != nil {
		panic(err)
	}
	p, err := face.New(nil) // default options: faces of 100 pixels and more
	if err != nil {
		panic(err)
	}
	a := p.Assess(frame)
	fmt.Println("faces:", len(a.Faces), "accepted:", a.Accept)
	for _, r := range a.Reasons {
		fmt.Println("tell the traveller:", r)
	}
	ied, _ := a.Value(face.InterEyeDistance)
	fmt.Println("inter_eye_distance below its threshold:", ied < p.Threshold(face.InterEyeDistance))

	tok, err := p.Token(frame, &a)
	if err != nil {
		panic(err)
	}
	rec, err := fac.Marshal(tok.Record())
	if err != nil {
		panic(err)
	}
	fmt.Printf("token %dx%d, eyes at %v and %v, record starts %q\n", tok.Width, tok.Height, tok.RightEye, tok.LeftEye, rec[:3])
	// Output:
	// faces: 1 accepted: false
	// tell the traveller: move closer
	// inter_eye_distance below its threshold: true
	// token 480x640, eyes at (179,288) and (299,288), record starts "FAC"
}
