package face

import (
	"image"
	"math"
)

// Face is one detected face: the PICO window and, for the main face, the
// eyes. RightEye is the subject's right eye, on the left of the image
// (smaller X); LeftEye the subject's left eye.
type Face struct {
	Detection
	RightEye, LeftEye Eye
	// EyesLocated is set when the eyes were searched for (the main face).
	EyesLocated bool
}

// Score is the value of one measure of a frame and its accept threshold.
type Score struct {
	Measure   Measure
	Value     int
	Threshold int
}

// Pass reports whether the value meets the threshold.
func (s Score) Pass() bool { return s.Value >= s.Threshold }

// Assessment is the verdict on one frame.
type Assessment struct {
	// Image is the frame that was assessed.
	Image image.Image
	// Width and Height are the frame's size.
	Width, Height int
	// Faces holds every face found, the main one (the largest) first.
	Faces []Face
	// Measures holds every measure of the main face, in Measures order;
	// empty when there is no face.
	Measures []Score
	// Accept is true when there is exactly one face and every measure
	// passes.
	Accept bool
	// Reasons tells the traveller what to change, most important first;
	// empty when accepted.
	Reasons []Reason
	// Quality is the mean of the measures (0 without a face), used to rank
	// frames and as the sample's overall quality.
	Quality int
	// RollDegrees is the eye line's angle, positive when the subject's
	// left eye (right in the image) is lower. YawDegrees is the yaw
	// estimate, positive when the face turns towards the image's right.
	RollDegrees, YawDegrees float64
	// shortfall is the sum over failing measures of threshold - value.
	shortfall int
}

// Value returns the value of measure m and whether the assessment has it.
func (a *Assessment) Value(m Measure) (int, bool) {
	for _, s := range a.Measures {
		if s.Measure == m {
			return s.Value, true
		}
	}
	return 0, false
}

// HasReason reports whether r is among the assessment's reasons.
func (a *Assessment) HasReason(r Reason) bool {
	for _, x := range a.Reasons {
		if x == r {
			return true
		}
	}
	return false
}

// Better reports whether a is a better frame than b: accepted beats not
// accepted; between accepted frames the higher Quality wins; between
// rejected frames the smaller total shortfall below the thresholds wins,
// then the higher Quality. A frame with a face beats one without.
func (a *Assessment) Better(b *Assessment) bool {
	if a.Accept != b.Accept {
		return a.Accept
	}
	if (len(a.Faces) > 0) != (len(b.Faces) > 0) {
		return len(a.Faces) > 0
	}
	if !a.Accept && a.shortfall != b.shortfall {
		return a.shortfall < b.shortfall
	}
	return a.Quality > b.Quality
}

// Assess detects the faces in img, locates the eyes of the main (largest)
// face and computes every measure, the verdict and the reasons.
func (p *Pipeline) Assess(img image.Image) Assessment {
	sc := p.scratch.Get().(*scratch)
	defer p.scratch.Put(sc)
	b := img.Bounds()
	a := Assessment{Image: img, Width: b.Dx(), Height: b.Dy()}
	if a.Width < 8 || a.Height < 8 {
		a.Reasons = []Reason{ReasonNoFace}
		return a
	}
	var g *gray
	g, sc.gray = toGray(img, sc.gray)
	dets := p.cascade.detect(g, p.scanParams(), &sc.detect)
	if len(dets) == 0 {
		a.Reasons = []Reason{ReasonNoFace}
		return a
	}
	a.Faces = make([]Face, len(dets))
	for i, d := range dets {
		a.Faces[i] = Face{Detection: d}
	}
	main := &a.Faces[0]
	main.RightEye, main.LeftEye = findEyes(g, p.eyes, main.Detection, &sc.eye)
	main.EyesLocated = true

	m := p.measure(g, main, sc)
	a.RollDegrees, a.YawDegrees = m.roll, m.yaw
	var reasons [numMeasures][]Reason
	a.Measures = make([]Score, numMeasures)
	sum := 0
	a.Accept = len(a.Faces) == 1
	for i := Measure(0); i < numMeasures; i++ {
		v := min(max(int(math.Round(m.values[i])), 0), 100)
		s := Score{Measure: i, Value: v, Threshold: p.thresholds[i]}
		a.Measures[i] = s
		sum += v
		if !s.Pass() {
			a.Accept = false
			a.shortfall += s.Threshold - s.Value
			reasons[i] = m.reasons[i]
		}
	}
	a.Quality = int(math.Round(float64(sum) / float64(numMeasures)))
	if len(a.Faces) > 1 {
		a.Reasons = append(a.Reasons, ReasonSeveral)
	}
	seen := map[Reason]bool{}
	for _, rs := range reasons {
		for _, r := range rs {
			if !seen[r] {
				seen[r] = true
				a.Reasons = append(a.Reasons, r)
			}
		}
	}
	return a
}
