package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image"
	_ "image/jpeg" // face images are PNG or JPEG
	_ "image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/fac"
	"github.com/bali-rbdes/kiosk/agent/face"
)

// faceFlags are the pipeline settings both face commands take.
type faceFlags struct {
	minFace *int
	accept  *string
	cfg     *string
}

func addFaceFlags(fs *flag.FlagSet) *faceFlags {
	return &faceFlags{
		minFace: fs.Int("min-face", 0, "smallest face window in pixels (default: the config's capture.min_face_size, else 100)"),
		accept:  fs.String("accept", "", "accept thresholds as `name=value,...` (e.g. sharpness=60,roll=40), over the config's"),
		cfg:     fs.String("config", "", "take capture.min_face_size and capture.face_accept from this kioskd `config`"),
	}
}

// options builds the pipeline options from the config file, then the flags.
func (f *faceFlags) options() (*face.Options, error) {
	o := &face.Options{Accept: map[string]int{}}
	if *f.cfg != "" {
		k, err := config.LoadKiosk(*f.cfg)
		if err != nil {
			return nil, err
		}
		o.MinFaceSize = k.Capture.MinFaceSize
		for name, v := range k.Capture.FaceAccept {
			o.Accept[name] = v
		}
	}
	if *f.minFace != 0 {
		o.MinFaceSize = *f.minFace
	}
	if *f.accept != "" {
		for _, kv := range strings.Split(*f.accept, ",") {
			name, val, ok := strings.Cut(strings.TrimSpace(kv), "=")
			v, err := strconv.Atoi(val)
			if !ok || err != nil {
				return nil, usageError("-accept: %q is not name=value (measures: %s)", kv, strings.Join(face.MeasureNames(), ", "))
			}
			o.Accept[name] = v
		}
	}
	return o, nil
}

// parseInterspersed parses flags that may come after positional arguments
// ("face token IMAGE -o out.fac") and returns the positional arguments.
func parseInterspersed(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(fs, args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

func readImage(path string) (image.Image, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("%s is not a readable PNG or JPEG image: %w", path, err)
	}
	return img, nil
}

func runFaceDetect(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "face detect", "IMAGE...", `Find faces and eyes in PNG or JPEG images and judge each as a kiosk portrait.
Prints one JSON object per image and line:
  {"file":..., "faces":[{"x":..,"y":..,"size":..,"score":..,"left_eye":[x,y],"right_eye":[x,y]}],
   "quality":{<measure>:0-100,...,"accept":bool,"reasons":[...]}}
x, y are the centre of the face window (column, row, pixels) and size its side;
left_eye and right_eye are the subject's (right_eye is on the left of the image)
and are given for the main (largest) face only. Measures: `+strings.Join(face.MeasureNames(), ", ")+`.
An image that cannot be read is reported on stderr and the others still run;
the exit status is then 1.`)
	ff := addFaceFlags(fs)
	files, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(files) == 0 {
		fs.Usage()
		return usageError("want at least one IMAGE")
	}
	opts, err := ff.options()
	if err != nil {
		return err
	}
	p, err := face.New(opts)
	if err != nil {
		return usageError("%v", err)
	}
	failed := 0
	for _, path := range files {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		img, err := readImage(path)
		if err != nil {
			fmt.Fprintf(st.err, "kioskctl face detect: %v\n", err)
			failed++
			continue
		}
		a := p.Assess(img)
		line, err := detectJSON(path, &a)
		if err != nil {
			return err
		}
		fmt.Fprintf(st.out, "%s\n", line)
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d images could not be read", failed, len(files))}
	}
	return nil
}

type faceJSON struct {
	X        float64     `json:"x"`
	Y        float64     `json:"y"`
	Size     float64     `json:"size"`
	Score    float64     `json:"score"`
	LeftEye  *[2]float64 `json:"left_eye,omitempty"`
	RightEye *[2]float64 `json:"right_eye,omitempty"`
}

// detectJSON renders an assessment as the face detect line. The quality
// object lists the measures in the pipeline's order, then accept and
// reasons.
func detectJSON(file string, a *face.Assessment) ([]byte, error) {
	r1 := func(v float64) float64 { return math.Round(v*10) / 10 }
	faces := make([]faceJSON, 0, len(a.Faces))
	for _, f := range a.Faces {
		fj := faceJSON{X: r1(f.X), Y: r1(f.Y), Size: r1(f.Size), Score: math.Round(f.Score*100) / 100}
		if f.EyesLocated {
			fj.LeftEye = &[2]float64{r1(f.LeftEye.X), r1(f.LeftEye.Y)}
			fj.RightEye = &[2]float64{r1(f.RightEye.X), r1(f.RightEye.Y)}
		}
		faces = append(faces, fj)
	}
	var q bytes.Buffer
	q.WriteByte('{')
	for _, s := range a.Measures {
		fmt.Fprintf(&q, "%q:%d,", s.Measure.String(), s.Value)
	}
	reasons := a.Reasons
	if reasons == nil {
		reasons = []face.Reason{}
	}
	rj, err := json.Marshal(reasons)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(&q, `"accept":%t,"reasons":%s}`, a.Accept, rj)
	return json.Marshal(struct {
		File    string          `json:"file"`
		Faces   []faceJSON      `json:"faces"`
		Quality json.RawMessage `json:"quality"`
	}{file, faces, q.Bytes()})
}

func runFaceToken(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "face token", "IMAGE -o OUT.fac", `Cut the ISO/IEC 19794-5 token frontal image (eyes level, 0.25 W apart, at
the standard positions; JPEG) from the main face of a PNG or JPEG image and
write it as an ISO/IEC 19794-5:2005 record with the eye centres as feature
points 12.1 and 12.2. A portrait that fails the quality checks is written
with a warning listing the reasons, unless -strict is given.`)
	ff := addFaceFlags(fs)
	out := fs.String("o", "", "write the record to `file` (required)")
	width := fs.Int("width", 480, "token width in pixels (at least 480, a multiple of 4)")
	quality := fs.Int("quality", 90, "JPEG quality 1-100")
	strict := fs.Bool("strict", false, "fail, writing nothing, when the portrait is not accepted")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *out == "" {
		fs.Usage()
		return usageError("want exactly one IMAGE and -o OUT.fac")
	}
	opts, err := ff.options()
	if err != nil {
		return err
	}
	opts.TokenWidth, opts.JPEGQuality = *width, *quality
	p, err := face.New(opts)
	if err != nil {
		return usageError("%v", err)
	}
	img, err := readImage(pos[0])
	if err != nil {
		return err
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	a := p.Assess(img)
	if len(a.Faces) == 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: no face found (try -min-face with a smaller size)", pos[0])}
	}
	if !a.Accept {
		reasons := make([]string, len(a.Reasons))
		for i, r := range a.Reasons {
			reasons[i] = string(r)
		}
		if *strict {
			return &exitError{code: 1, msg: fmt.Sprintf("%s: portrait not accepted: %s", pos[0], strings.Join(reasons, "; "))}
		}
		fmt.Fprintf(st.err, "kioskctl face token: warning: %s: portrait not accepted: %s\n", pos[0], strings.Join(reasons, "; "))
	}
	tok, err := p.Token(img, &a)
	if err != nil {
		return err
	}
	rec, err := fac.Marshal(tok.Record())
	if err != nil {
		return err
	}
	if err := writeFileDurable(*out, rec); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(*out)); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "%s: token %dx%d, eyes %v %v, %d bytes, accepted %t\n", *out, tok.Width, tok.Height, tok.RightEye, tok.LeftEye, len(rec), a.Accept)
	return nil
}
