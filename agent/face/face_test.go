package face

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/fac"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

func TestNewOptions(t *testing.T) {
	tests := []struct {
		name    string
		opts    *Options
		wantErr string
	}{
		{"nil means defaults", nil, ""},
		{"thresholds by name", &Options{Accept: map[string]int{"sharpness": 70, "roll": 0}}, ""},
		{"unknown measure", &Options{Accept: map[string]int{"sharpnes": 70}}, "unknown quality measure sharpnes"},
		{"threshold over 100", &Options{Accept: map[string]int{"yaw": 101}}, "outside 0..100"},
		{"tiny faces", &Options{MinFaceSize: 10}, "MinFaceSize"},
		{"max below min", &Options{MinFaceSize: 100, MaxFaceSize: 50}, "MaxFaceSize"},
		{"scale factor", &Options{ScaleFactor: 0.9}, "ScaleFactor"},
		{"stride", &Options{StrideFactor: 0.9}, "StrideFactor"},
		{"token too narrow", &Options{TokenWidth: 240}, "TokenWidth"},
		{"token not multiple of 4", &Options{TokenWidth: 482}, "TokenWidth"},
		{"jpeg quality", &Options{JPEGQuality: 101}, "JPEGQuality"},
		{"bad cascade", &Options{Cascade: []byte("not a cascade")}, "PICO cascade"},
		{"bad eye cascade", &Options{EyeCascade: []byte("<x/>")}, "Haar cascade"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := New(tc.opts)
			if tc.wantErr == "" {
				if err != nil {
					t.Fatalf("New = %v, want success", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("New = %v, %v; want an error containing %q", p, err, tc.wantErr)
			}
		})
	}
	p := newPipeline(t, &Options{Accept: map[string]int{"sharpness": 70}})
	if got := p.Threshold(Sharpness); got != 70 {
		t.Errorf("Threshold(Sharpness) = %d, want 70", got)
	}
	if got := p.Threshold(Roll); got != Roll.DefaultThreshold() {
		t.Errorf("Threshold(Roll) = %d, want the default %d", got, Roll.DefaultThreshold())
	}
}

func TestMeasureNames(t *testing.T) {
	for _, m := range Measures() {
		got, ok := ParseMeasure(m.String())
		if !ok || got != m {
			t.Errorf("ParseMeasure(%q) = %v, %v; want %v", m.String(), got, ok, m)
		}
	}
	if _, ok := ParseMeasure("unknown"); ok {
		t.Errorf("ParseMeasure(unknown) ok = true")
	}
}

// TestPortrait: the portrait has exactly one face, and the eye centres are
// within 5 % of the inter-eye distance of the hand-marked ones.
func TestPortrait(t *testing.T) {
	p := newPipeline(t, testOptions())
	a := p.Assess(portrait(t))
	if len(a.Faces) != 1 {
		t.Fatalf("Assess(portrait) found %d faces, want 1: %+v", len(a.Faces), a.Faces)
	}
	f := a.Faces[0]
	ied := math.Hypot(portraitLeftEye[0]-portraitRightEye[0], portraitLeftEye[1]-portraitRightEye[1])
	tol := 0.05 * ied
	for _, e := range []struct {
		name string
		got  Eye
		want [2]float64
	}{
		{"right eye", f.RightEye, portraitRightEye},
		{"left eye", f.LeftEye, portraitLeftEye},
	} {
		if d := math.Hypot(e.got.X-e.want[0], e.got.Y-e.want[1]); d > tol {
			t.Errorf("%s at (%.1f, %.1f), %.2f px from the marked (%.1f, %.1f), want within %.2f (5%% of %.1f)",
				e.name, e.got.X, e.got.Y, d, e.want[0], e.want[1], tol, ied)
		}
		if e.got.Confidence < 0.8 {
			t.Errorf("%s confidence %.2f, want >= 0.8 on a clear portrait", e.name, e.got.Confidence)
		}
	}
	if !a.Accept {
		t.Errorf("portrait not accepted with the test thresholds: reasons %v, measures %v", a.Reasons, a.Measures)
	}
}

func TestKioskFrame(t *testing.T) {
	p := newPipeline(t, nil)
	a := p.Assess(kioskFrame(t))
	if len(a.Faces) != 1 || !a.Accept {
		t.Fatalf("kiosk frame with default options: %d faces, accept %v, reasons %v, measures %v", len(a.Faces), a.Accept, a.Reasons, a.Measures)
	}
}

func TestNegatives(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(sharedData(t), "face", "negatives", "*.jpg"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no negative images found (%v)", err)
	}
	for _, minSize := range []int{40, 100} {
		p := newPipeline(t, &Options{MinFaceSize: minSize})
		for _, f := range files {
			a := p.Assess(loadImage(t, f))
			if len(a.Faces) != 0 {
				t.Errorf("Assess(%s) with MinFaceSize %d found %d faces (%+v), want none", filepath.Base(f), minSize, len(a.Faces), a.Faces[0].Detection)
			}
			if a.Accept || len(a.Reasons) != 1 || a.Reasons[0] != ReasonNoFace {
				t.Errorf("Assess(%s): accept %v, reasons %v; want rejected with %q", filepath.Base(f), a.Accept, a.Reasons, ReasonNoFace)
			}
		}
	}
}

func TestNoFace(t *testing.T) {
	p := newPipeline(t, nil)
	for _, img := range []image.Image{
		image.NewGray(image.Rect(0, 0, 640, 480)),
		image.NewRGBA(image.Rect(0, 0, 3, 3)),
		image.NewRGBA(image.Rect(0, 0, 0, 0)),
	} {
		a := p.Assess(img)
		if len(a.Faces) != 0 || a.Accept || !a.HasReason(ReasonNoFace) || len(a.Measures) != 0 {
			t.Errorf("Assess(%v blank) = %d faces, accept %v, reasons %v", img.Bounds(), len(a.Faces), a.Accept, a.Reasons)
		}
	}
}

// clutter paints black and white stripes beside and above the portrait's
// head, where a kiosk has its plain backdrop.
func clutter(img image.Image) *image.RGBA {
	out := toRGBA(img)
	for y := 0; y < 200; y++ {
		for x := 0; x < 512; x++ {
			if x > 145 && x < 305 {
				continue
			}
			c := color.RGBA{20, 20, 20, 255}
			if (x/4)%2 == 0 {
				c = color.RGBA{235, 235, 235, 255}
			}
			out.SetRGBA(x, y, c)
		}
	}
	return out
}

// coverEyes paints skin-coloured patches over the portrait's eyes, as
// closed eyes or an occlusion would hide them.
func coverEyes(img image.Image) *image.RGBA {
	out := toRGBA(img)
	skin := color.RGBA{222, 180, 160, 255}
	for _, e := range [][2]float64{portraitRightEye, portraitLeftEye} {
		for y := int(e[1]) - 7; y <= int(e[1])+7; y++ {
			for x := int(e[0]) - 11; x <= int(e[0])+11; x++ {
				out.SetRGBA(x, y, skin)
			}
		}
	}
	return out
}

// TestDegradations: degraded copies of the portrait lower the measure the
// degradation is about below its threshold and give the matching reason.
func TestDegradations(t *testing.T) {
	p := newPipeline(t, testOptions())
	orig := p.Assess(portrait(t))
	if !orig.Accept {
		t.Fatalf("original portrait rejected: %v %v", orig.Reasons, orig.Measures)
	}
	img := portrait(t)
	tests := []struct {
		name    string
		img     func() image.Image
		measure Measure
		reason  Reason
	}{
		{"blur", func() image.Image { return gaussianBlur(img, 2.5) }, Sharpness, ReasonHoldStill},
		{"darkening", func() image.Image { return scaleLight(img, func(int, int) float64 { return 0.25 }) }, Brightness, ReasonTooDark},
		{"overexposure", func() image.Image { return scaleLight(img, func(int, int) float64 { return 1.4 }) }, Exposure, ReasonTooBright},
		{"rotation 15 degrees", func() image.Image { return rotate(img, 15, 225, 101) }, Roll, ReasonHeadLevel},
		{"rotation -15 degrees", func() image.Image { return rotate(img, -15, 225, 101) }, Roll, ReasonHeadLevel},
		{"shift to the image left", func() image.Image { return shift(img, -170, 0) }, Centring, ReasonMoveLeft},
		{"shift to the image right", func() image.Image { return shift(img, 225, 0) }, Centring, ReasonMoveRight},
		{"shift down", func() image.Image { return shift(img, 0, 330) }, Centring, ReasonMoveUp},
		{"downscale", func() image.Image { return scale(img, 0.6) }, InterEyeDistance, ReasonMoveCloser},
		{"light from one side", func() image.Image {
			return scaleLight(img, func(x, _ int) float64 { return 1 - 0.6*math.Min(1, math.Max(0, float64(x-175)/100)) })
		}, IlluminationUniformity, ReasonUnevenLight},
		{"cluttered background", func() image.Image { return clutter(img) }, BackgroundUniformity, ReasonBackground},
		{"eyes covered", func() image.Image { return coverEyes(img) }, EyesDetected, ReasonEyes},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := p.Assess(tc.img())
			if len(a.Faces) != 1 {
				t.Fatalf("found %d faces, want 1", len(a.Faces))
			}
			before, _ := orig.Value(tc.measure)
			after, _ := a.Value(tc.measure)
			if after >= before || after >= p.Threshold(tc.measure) {
				t.Errorf("%s = %d (original %d), want lower and below the threshold %d", tc.measure, after, before, p.Threshold(tc.measure))
			}
			if a.Accept {
				t.Errorf("degraded frame accepted")
			}
			if !a.HasReason(tc.reason) {
				t.Errorf("reasons %v, want %q among them", a.Reasons, tc.reason)
			}
			t.Logf("%s: %s %d -> %d, reasons %q", tc.name, tc.measure, before, after, a.Reasons)
		})
	}
}

func TestMirrorYaw(t *testing.T) {
	p := newPipeline(t, testOptions())
	a := p.Assess(portrait(t))
	m := p.Assess(mirror(portrait(t)))
	if len(a.Faces) != 1 || len(m.Faces) != 1 {
		t.Fatalf("faces %d and %d, want 1 and 1", len(a.Faces), len(m.Faces))
	}
	if d := math.Abs(a.YawDegrees + m.YawDegrees); d > 2 {
		t.Errorf("yaw %.1f and mirrored %.1f, want opposite within 2 degrees", a.YawDegrees, m.YawDegrees)
	}
	if d := math.Abs(a.RollDegrees + m.RollDegrees); d > 1 {
		t.Errorf("roll %.1f and mirrored %.1f, want opposite within 1 degree", a.RollDegrees, m.RollDegrees)
	}
}

func TestBetter(t *testing.T) {
	face := []Face{{}}
	tests := []struct {
		name string
		a, b Assessment
		want bool
	}{
		{"accepted beats rejected", Assessment{Accept: true, Faces: face, Quality: 60}, Assessment{Faces: face, Quality: 90}, true},
		{"rejected loses to accepted", Assessment{Faces: face, Quality: 90}, Assessment{Accept: true, Faces: face, Quality: 60}, false},
		{"higher quality among accepted", Assessment{Accept: true, Faces: face, Quality: 90}, Assessment{Accept: true, Faces: face, Quality: 80}, true},
		{"face beats none", Assessment{Faces: face, shortfall: 300}, Assessment{}, true},
		{"smaller shortfall among rejected", Assessment{Faces: face, shortfall: 10, Quality: 50}, Assessment{Faces: face, shortfall: 30, Quality: 90}, true},
		{"equal is not better", Assessment{Faces: face, Quality: 50}, Assessment{Faces: face, Quality: 50}, false},
	}
	for _, tc := range tests {
		if got := tc.a.Better(&tc.b); got != tc.want {
			t.Errorf("%s: Better = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestToken(t *testing.T) {
	p := newPipeline(t, nil)
	img := kioskFrame(t)
	a := p.Assess(img)
	tok, err := p.Token(img, &a)
	if err != nil {
		t.Fatalf("Token: %v", err)
	}
	w, h, r, l := TokenGeometry(480)
	if tok.Width != w || tok.Height != h || tok.RightEye != r || tok.LeftEye != l {
		t.Fatalf("token %dx%d eyes %v %v, want %dx%d eyes %v %v", tok.Width, tok.Height, tok.RightEye, tok.LeftEye, w, h, r, l)
	}
	if r != (image.Point{X: 179, Y: 288}) || l != (image.Point{X: 299, Y: 288}) || h != 640 {
		t.Fatalf("TokenGeometry(480) = %d, %v, %v; want 640, (179,288), (299,288)", h, r, l)
	}
	dec, err := jpeg.Decode(bytes.NewReader(tok.JPEG))
	if err != nil {
		t.Fatalf("token JPEG does not decode: %v", err)
	}
	if b := dec.Bounds(); b.Dx() != 480 || b.Dy() != 640 {
		t.Fatalf("token JPEG is %v, want 480x640", b)
	}
	// The eyes found again in the token are where the geometry puts them.
	pt := newPipeline(t, &Options{MinFaceSize: 150})
	ta := pt.Assess(dec)
	if len(ta.Faces) != 1 {
		t.Fatalf("token has %d faces, want 1", len(ta.Faces))
	}
	for _, e := range []struct {
		name string
		got  Eye
		want image.Point
	}{{"right", ta.Faces[0].RightEye, r}, {"left", ta.Faces[0].LeftEye, l}} {
		if d := math.Hypot(e.got.X-float64(e.want.X), e.got.Y-float64(e.want.Y)); d > 0.05*120 {
			t.Errorf("%s eye found at (%.1f, %.1f) in the token, want within 6 px of %v", e.name, e.got.X, e.got.Y, e.want)
		}
	}
	if math.Abs(ta.RollDegrees) > 2.5 {
		t.Errorf("token roll %.1f degrees, want level", ta.RollDegrees)
	}
	// The record round-trips and validates.
	b, err := fac.Marshal(tok.Record())
	if err != nil {
		t.Fatalf("Marshal(token record): %v", err)
	}
	rec, err := fac.Unmarshal(b)
	if err != nil {
		t.Fatalf("Unmarshal(token record): %v", err)
	}
	if err := rec.Validate(); err != nil {
		t.Fatalf("token record does not validate: %v", err)
	}
	le, _ := rec.Images[0].Eye(fac.PointLeftEyeCentre)
	re, _ := rec.Images[0].Eye(fac.PointRightEyeCentre)
	if int(le.X) != l.X || int(re.X) != r.X || int(le.Y) != l.Y {
		t.Errorf("record eyes 12.1 %+v 12.2 %+v, want %v and %v", le, re, l, r)
	}
}

func TestTokenErrors(t *testing.T) {
	p := newPipeline(t, testOptions())
	img := portrait(t)
	empty := p.Assess(image.NewGray(image.Rect(0, 0, 100, 100)))
	if _, err := p.Token(img, &empty); !errors.Is(err, ErrNoFace) {
		t.Errorf("Token(no face) = %v, want ErrNoFace", err)
	}
	if _, err := p.Token(img, nil); !errors.Is(err, ErrNoFace) {
		t.Errorf("Token(nil) = %v, want ErrNoFace", err)
	}
	a := p.Assess(img)
	if _, err := p.Token(image.NewRGBA(image.Rect(0, 0, 10, 10)), &a); err == nil {
		t.Errorf("Token(other frame) = nil error, want a size mismatch error")
	}
}

func TestTokenWidth(t *testing.T) {
	p := newPipeline(t, &Options{MinFaceSize: 60, TokenWidth: 600, JPEGQuality: 80})
	img := portrait(t)
	a := p.Assess(img)
	tok, err := p.Token(img, &a)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(tok.JPEG))
	if err != nil || cfg.Width != 600 || cfg.Height != 800 {
		t.Fatalf("token %v %v, want 600x800", cfg, err)
	}
	if tok.RightEye != (image.Point{X: 224, Y: 360}) || tok.LeftEye != (image.Point{X: 374, Y: 360}) {
		t.Errorf("eyes %v %v, want (224,360) (374,360)", tok.RightEye, tok.LeftEye)
	}
}

func TestGrayPaths(t *testing.T) {
	// Every fast path agrees with the colour model.
	src := toRGBA(portrait(t))
	var yc bytes.Buffer
	if err := jpeg.Encode(&yc, src, &jpeg.Options{Quality: 95}); err != nil {
		t.Fatal(err)
	}
	ycbcr, _ := jpeg.Decode(&yc)
	nrgba := image.NewNRGBA(src.Bounds())
	copy(nrgba.Pix, src.Pix)
	grayImg := image.NewGray(src.Bounds())
	for i := range grayImg.Pix {
		grayImg.Pix[i] = src.Pix[4*i+1]
	}
	sub := src.SubImage(image.Rect(10, 20, 300, 200))
	paletted := image.NewPaletted(image.Rect(0, 0, 4, 4), color.Palette{color.Black, color.White})
	for _, img := range []image.Image{src, ycbcr, nrgba, grayImg, sub, paletted} {
		g, _ := toGray(img, nil)
		b := img.Bounds()
		if g.w != b.Dx() || g.h != b.Dy() {
			t.Fatalf("%T: gray %dx%d, want %dx%d", img, g.w, g.h, b.Dx(), b.Dy())
		}
		for _, pt := range []image.Point{{0, 0}, {g.w / 2, g.h / 3}, {g.w - 1, g.h - 1}} {
			want := color.GrayModel.Convert(img.At(b.Min.X+pt.X, b.Min.Y+pt.Y)).(color.Gray).Y
			if got := g.at(pt.X, pt.Y); int(got)-int(want) > 1 || int(want)-int(got) > 1 {
				t.Errorf("%T at %v: gray %d, want %d", img, pt, got, want)
			}
		}
	}
}

// TestAssessConcurrent runs assessments of different frames at once: the
// pipeline's pooled buffers must not leak between them.
func TestAssessConcurrent(t *testing.T) {
	p := newPipeline(t, testOptions())
	frames := []image.Image{portrait(t), mirror(portrait(t)), image.NewGray(image.Rect(0, 0, 320, 240))}
	want := make([]Assessment, len(frames))
	for i, f := range frames {
		want[i] = p.Assess(f)
	}
	var wg sync.WaitGroup
	errs := make(chan string, 12)
	for k := 0; k < 12; k++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			got := p.Assess(frames[i])
			if len(got.Faces) != len(want[i].Faces) || got.Quality != want[i].Quality || got.Accept != want[i].Accept {
				errs <- fmt.Sprintf("frame %d: %d faces quality %d, want %d faces quality %d", i, len(got.Faces), got.Quality, len(want[i].Faces), want[i].Quality)
			}
		}(k % len(frames))
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
}
