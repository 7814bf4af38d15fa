package face

// Measure identifies one quality measure. Every measure is 0-100, higher is
// better, and passes when at or above its threshold (DefaultThreshold, or
// Options.Accept). The mapping of each from its raw quantity is documented
// on its constant; d is the inter-eye distance in frame pixels and the
// "face region" is the face from brows to mouth, resampled upright (roll
// removed) at 48 pixels between the eyes.
type Measure int

const (
	// InterEyeDistance is the resolution of the face: 100 * d / 120,
	// capped at 100 (120 pixels is what a 480-wide ISO token needs without
	// upscaling; ICAO asks at least 90). Default threshold 50 (60 pixels,
	// the ISO minimum of a 240-wide token). Fails with "move closer".
	InterEyeDistance Measure = iota
	// FaceSize is the face window's side as a fraction f of the frame
	// height: 100 from 0.2 to 0.42, falling linearly to 0 at 0.05 and at
	// 0.6 (above about 0.45 the ISO token no longer fits in the frame).
	// Default threshold 50. Fails with "move closer" or "move back".
	FaceSize
	// Centring is how much of the ISO token frame (the 3:4 rectangle
	// around the eyes the token is cut from) lies inside the camera frame:
	// 100 when all of it, 0 at 80 % or less, linear between. Default 50.
	// Fails with the direction to move ("move to your left", ...), from the
	// traveller's side: the camera image is not mirrored.
	Centring
	// Roll is the tilt of the eye line: 100 * (1 - |roll| / 16 degrees),
	// so ICAO's limit of 8 degrees scores 50. Default 50. Fails with "keep
	// your head straight".
	Roll
	// Yaw estimates the head's turn from the mirror symmetry of the nose
	// and mouth about the eyes' midpoint: the vertical axis of best
	// symmetry (of horizontal gradients) is searched within +-0.3 d; an
	// axis offset a maps to yaw asin(a / 0.4 d) (0.4 d being the effective
	// depth of that band in front of the eyes), scored 100 * (1 - |yaw| /
	// 15 degrees). It is a proxy, not a pose estimator: expect a few
	// degrees of error. Default 50. Fails with "look straight at the
	// camera".
	Yaw
	// EyesDetected is the lower of the two eyes' confidences times 100.
	// An eye's confidence is half the Haar eye cascade's (accepted windows
	// around the eye / 3, capped at 1) and half the pupil locator's (how
	// far the peak of its objective stands above the mean, (ratio-1.1)/0.6
	// capped to 0..1); it is cut to 30 % when the two eyes are not where
	// eyes of this face can be. Default 50. Fails with "keep your eyes open
	// and look at the camera".
	EyesDetected
	// Sharpness is the ratio r of the mean absolute Laplacian to the mean
	// gradient magnitude in the face region, which blur lowers whatever the
	// light: 100 * (r - 0.25) / 0.35, clamped. Default 50. Fails with "hold
	// still".
	Sharpness
	// Brightness is OFIQ's luminance-mean mapping of the face region's
	// mean luma m (0-1): 100 * s((m-0.2)/0.05) * (1 - s((m-0.8)/0.05)),
	// s the logistic function. Default 50. Fails with "too dark" or "too
	// bright".
	Brightness
	// Exposure penalises clipped face pixels: with u the share at luma 15
	// or less and o the share at 245 or more, 100 * (1 - max(u/0.25,
	// o/0.05)), clamped. Default 50. Fails with "too dark" or "too
	// bright".
	Exposure
	// DynamicRange is OFIQ's mapping of the Shannon entropy H (bits) of
	// the face region's luma histogram: 12.5 * H, clamped. Default 50.
	// Fails with "too dark" or "too bright", whichever side the face is on.
	DynamicRange
	// IlluminationUniformity compares the luma of the left and right
	// halves of the face (OFIQ's quantity): x is the intersection of their
	// normalised 32-bin histograms, from the eyes to the mouth, scored
	// 200 * x capped at 100 (OFIQ's 100 * x^0.3 hardly separates even from
	// uneven light). Default 50, x >= 0.25. Fails with "light falls
	// unevenly on your face".
	IlluminationUniformity
	// BackgroundUniformity is the mean luma gradient g (grey levels per
	// pixel, at 24 pixels between the eyes) beside the head, from 1.7 d to
	// 3 d either side and above the shoulders: 100 * (1 - (g - 2) / 10),
	// clamped. When less than a fifth of that area is in the frame it is
	// not measurable and scores 100. Default 50. Fails with "stand in front
	// of the plain background".
	BackgroundUniformity

	numMeasures
)

var measureNames = [numMeasures]string{
	InterEyeDistance:       "inter_eye_distance",
	FaceSize:               "face_size",
	Centring:               "centring",
	Roll:                   "roll",
	Yaw:                    "yaw",
	EyesDetected:           "eyes_detected",
	Sharpness:              "sharpness",
	Brightness:             "brightness",
	Exposure:               "exposure",
	DynamicRange:           "dynamic_range",
	IlluminationUniformity: "illumination_uniformity",
	BackgroundUniformity:   "background_uniformity",
}

// String returns the measure's name, as used in configs and JSON
// ("inter_eye_distance", "sharpness", ...).
func (m Measure) String() string {
	if m < 0 || m >= numMeasures {
		return "unknown"
	}
	return measureNames[m]
}

// DefaultThreshold returns the measure's default accept threshold.
func (m Measure) DefaultThreshold() int {
	if m < 0 || m >= numMeasures {
		return 0
	}
	return 50
}

// Measures returns every measure in the order of importance used to rank
// reasons.
func Measures() []Measure {
	out := make([]Measure, numMeasures)
	for i := range out {
		out[i] = Measure(i)
	}
	return out
}

// MeasureNames returns the names of every measure, in Measures order.
func MeasureNames() []string {
	return measureNames[:]
}

// ParseMeasure returns the measure with the given name.
func ParseMeasure(name string) (Measure, bool) {
	for i, n := range measureNames {
		if n == name {
			return Measure(i), true
		}
	}
	return 0, false
}

// Reason is feedback a traveller can act on, in plain English. The values
// are stable: a kiosk screen may translate them by value.
type Reason string

// The reasons an assessment gives, most important first.
const (
	ReasonNoFace      Reason = "stand in front of the camera"
	ReasonSeveral     Reason = "only one person in front of the camera"
	ReasonMoveCloser  Reason = "move closer"
	ReasonMoveBack    Reason = "move back"
	ReasonMoveLeft    Reason = "move to your left"
	ReasonMoveRight   Reason = "move to your right"
	ReasonMoveUp      Reason = "move up a little"
	ReasonMoveDown    Reason = "move down a little"
	ReasonLookAtCam   Reason = "look straight at the camera"
	ReasonHeadLevel   Reason = "keep your head straight"
	ReasonEyes        Reason = "keep your eyes open and look at the camera"
	ReasonHoldStill   Reason = "hold still"
	ReasonTooDark     Reason = "too dark"
	ReasonTooBright   Reason = "too bright"
	ReasonUnevenLight Reason = "light falls unevenly on your face"
	ReasonBackground  Reason = "stand in front of the plain background"
)
