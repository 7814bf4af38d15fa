package face

import (
	"bytes"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/math/f64"

	"github.com/bali-rbdes/kiosk/agent/fac"
)

// TokenImage is an ISO/IEC 19794-5 token frontal image: the face rotated
// so the eyes are level, scaled so they are W/4 apart, and placed with the
// subject's right eye at (0.375 W - 1, 0.6 W) and left eye at
// (0.625 W - 1, 0.6 W) of a W x 4W/3 image. Parts outside the camera frame
// are filled with Options.Padding. (Geometry of ISO/IEC 19794-5:2005
// clause 9 as documented from secondary sources; verify against the
// standard text.)
type TokenImage struct {
	// JPEG is the encoded image.
	JPEG []byte
	// Width and Height are the token's size in pixels.
	Width, Height int
	// RightEye and LeftEye are the subject's eye centres in the token.
	RightEye, LeftEye image.Point
	// Assessment is the assessment of the frame the token was cut from.
	Assessment *Assessment
}

// TokenGeometry returns the size of a token of width w and where the
// subject's right and left eyes go in it.
func TokenGeometry(w int) (width, height int, right, left image.Point) {
	y := w * 6 / 10
	return w, w * 4 / 3, image.Point{X: w*3/8 - 1, Y: y}, image.Point{X: w*5/8 - 1, Y: y}
}

// Token cuts the token frontal image from img, the frame a was made from,
// using the eyes of a's main face. It fails with ErrNoFace when a has no
// face, and when img is not the frame of a.
func (p *Pipeline) Token(img image.Image, a *Assessment) (*TokenImage, error) {
	if a == nil || len(a.Faces) == 0 || !a.Faces[0].EyesLocated {
		return nil, fmt.Errorf("face: cannot cut a token image (assess a frame with a face first): %w", ErrNoFace)
	}
	b := img.Bounds()
	if b.Dx() != a.Width || b.Dy() != a.Height {
		return nil, fmt.Errorf("face: frame is %dx%d but the assessment is of a %dx%d frame (pass the assessed frame)", b.Dx(), b.Dy(), a.Width, a.Height)
	}
	f := a.Faces[0]
	w, h, tr, tl := TokenGeometry(p.opts.TokenWidth)
	// Source eye centres, in x/image/draw's coordinates where a pixel's
	// centre is at +0.5 and the image's origin is b.Min.
	sx0, sy0 := f.RightEye.X+0.5+float64(b.Min.X), f.RightEye.Y+0.5+float64(b.Min.Y)
	sx1, sy1 := f.LeftEye.X+0.5+float64(b.Min.X), f.LeftEye.Y+0.5+float64(b.Min.Y)
	dx0, dy0 := float64(tr.X)+0.5, float64(tr.Y)+0.5
	dx1, dy1 := float64(tl.X)+0.5, float64(tl.Y)+0.5
	// The similarity transform taking the source eyes to the token eyes:
	// z' = A z + t with A = [a -c; c a] in complex form.
	svx, svy := sx1-sx0, sy1-sy0
	dvx, dvy := dx1-dx0, dy1-dy0
	n := svx*svx + svy*svy
	if n < 1 {
		return nil, fmt.Errorf("face: the eyes are less than a pixel apart, cannot align a token image: %w", ErrNoFace)
	}
	ca := (dvx*svx + dvy*svy) / n
	cc := (dvy*svx - dvx*svy) / n
	m := f64.Aff3{
		ca, -cc, dx0 - (ca*sx0 - cc*sy0),
		cc, ca, dy0 - (cc*sx0 + ca*sy0),
	}
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(dst, dst.Bounds(), image.NewUniform(p.opts.Padding), image.Point{}, draw.Src)
	xdraw.CatmullRom.Transform(dst, m, img, b, xdraw.Src, nil)
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, dst, &jpeg.Options{Quality: p.opts.JPEGQuality}); err != nil {
		return nil, fmt.Errorf("face: encoding the token image as JPEG: %w", err)
	}
	return &TokenImage{JPEG: buf.Bytes(), Width: w, Height: h, RightEye: tr, LeftEye: tl, Assessment: a}, nil
}

// Record returns the ISO/IEC 19794-5:2005 record of the token: one token
// frontal JPEG image, RGB, from a digital video camera, with the eye
// centres as feature points 12.1 (left) and 12.2 (right). The roll is 0
// (the token is levelled); yaw and pitch are left unspecified since the
// pipeline's yaw is only an estimate.
func (t *TokenImage) Record() *fac.Record {
	return &fac.Record{Images: []fac.Image{{
		Roll: fac.PoseDegrees(0),
		FeaturePoints: []fac.FeaturePoint{
			{Type: 1, Code: fac.PointLeftEyeCentre, X: uint16(t.LeftEye.X), Y: uint16(t.LeftEye.Y)},
			{Type: 1, Code: fac.PointRightEyeCentre, X: uint16(t.RightEye.X), Y: uint16(t.RightEye.Y)},
		},
		FaceImageType: fac.ImageTypeTokenFrontal,
		DataType:      fac.DataJPEG,
		Width:         uint16(t.Width),
		Height:        uint16(t.Height),
		ColourSpace:   fac.ColourRGB24,
		SourceType:    fac.SourceDigitalVideo,
		Data:          t.JPEG,
	}}}
}
