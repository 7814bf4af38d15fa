package face

import (
	"bytes"
	"encoding/binary"
	"errors"
	"image"
	"math"
	"testing"
)

// picoFile builds a PICO cascade file of ntrees trees of the given depth
// with codes, leaves and thresholds from the seed bytes.
func picoFile(depth, ntrees int, seed byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	binary.Write(&b, le, int32(3))
	b.Write([]byte{0x81, 0x7F, 0x81, 0x7F}) // bounding box -127, 127, -127, 127
	binary.Write(&b, le, int32(depth))
	binary.Write(&b, le, int32(ntrees))
	x := seed
	for t := 0; t < ntrees; t++ {
		for i := 0; i < 4*((1<<depth)-1); i++ {
			x = x*73 + 41
			b.WriteByte(x)
		}
		for i := 0; i < 1<<depth; i++ {
			binary.Write(&b, le, float32(int(i%3)-1))
		}
		binary.Write(&b, le, float32(-1))
	}
	return b.Bytes()
}

func TestParseCascade(t *testing.T) {
	c, err := ParseCascade(facefinder)
	if err != nil {
		t.Fatalf("ParseCascade(facefinder) = %v", err)
	}
	if c.Depth() != 6 || c.Trees() != 468 {
		t.Errorf("facefinder depth %d, %d trees; want 6 and 468", c.Depth(), c.Trees())
	}
	nan := picoFile(2, 1, 1)
	binary.LittleEndian.PutUint32(nan[16+12:], math.Float32bits(float32(math.NaN())))
	tests := []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"header only", facefinder[:16]},
		{"truncated", facefinder[:len(facefinder)-1]},
		{"padded", append(append([]byte(nil), facefinder...), 0)},
		{"depth 0", func() []byte { b := picoFile(1, 1, 0); b[8] = 0; return b }()},
		{"depth 13", func() []byte { b := picoFile(1, 1, 0); b[8] = 13; return b }()},
		{"negative tree count", func() []byte { b := picoFile(1, 1, 0); b[15] = 0x80; return b }()},
		{"NaN leaf", nan},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := ParseCascade(tc.in); !errors.Is(err, ErrBadCascade) {
				t.Fatalf("ParseCascade = %v, %v; want ErrBadCascade", c, err)
			}
		})
	}
	if _, err := ParseCascade(picoFile(3, 5, 9)); err != nil {
		t.Errorf("ParseCascade(small valid file) = %v", err)
	}
}

const smallHaar = `<?xml version="1.0"?>
<opencv_storage>
<cascade type_id="opencv-cascade-classifier"><stageType>BOOST</stageType>
  <featureType>HAAR</featureType>
  <height>6</height>
  <width>6</width>
  <stages>
    <_>
      <maxWeakCount>2</maxWeakCount>
      <stageThreshold>-1.</stageThreshold>
      <weakClassifiers>
        <_><internalNodes>0 -1 0 0.01</internalNodes><leafValues>-0.5 0.5</leafValues></_>
        <_><internalNodes>1 2 1 0.0 0 -1 0 -0.02 0 -2 1 0.03</internalNodes><leafValues>0.1 0.2 0.3 -0.4</leafValues></_>
      </weakClassifiers></_>
  </stages>
  <features>
    <_><rects><_>0 0 6 6 -1.</_><_>0 0 3 6 2.</_></rects></_>
    <_><rects><_>1 1 4 4 -1.</_><_>2 2 2 2 4.</_></rects><tilted>0</tilted></_>
  </features></cascade>
</opencv_storage>`

func TestParseHaarCascade(t *testing.T) {
	c, err := ParseHaarCascade(haarEyeXML)
	if err != nil {
		t.Fatalf("ParseHaarCascade(haarcascade_eye.xml) = %v", err)
	}
	if w, h := c.Window(); w != 20 || h != 20 || len(c.stages) != 24 {
		t.Errorf("eye cascade %dx%d with %d stages, want 20x20 and 24", w, h, len(c.stages))
	}
	if _, err := ParseHaarCascade([]byte(smallHaar)); err != nil {
		t.Fatalf("ParseHaarCascade(small) = %v", err)
	}
	tests := []struct {
		name, old, new string
	}{
		{"not XML", smallHaar, "{json}"},
		{"LBP", "<featureType>HAAR", "<featureType>LBP"},
		{"window too small", "<width>6</width>", "<width>2</width>"},
		{"rectangle outside", "0 0 6 6 -1.", "0 0 7 6 -1."},
		{"feature index out of range", "0 -1 0 0.01", "0 -1 5 0.01"},
		{"child loops back", "1 2 1 0.0 0 -1 0 -0.02", "1 2 1 0.0 1 -1 0 -0.02"},
		{"leaf count", "<leafValues>-0.5 0.5</leafValues>", "<leafValues>-0.5</leafValues>"},
		{"tilted", "<tilted>0</tilted>", "<tilted>1</tilted>"},
		{"NaN threshold", "<stageThreshold>-1.</stageThreshold>", "<stageThreshold>NaN</stageThreshold>"},
		{"no stages", "<stages>", "<stagesX>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := smallHaar
			if tc.old == smallHaar {
				in = tc.new
			} else {
				in = replaceOnce(t, smallHaar, tc.old, tc.new)
			}
			if c, err := ParseHaarCascade([]byte(in)); !errors.Is(err, ErrBadCascade) {
				t.Fatalf("ParseHaarCascade = %v, %v; want ErrBadCascade", c, err)
			}
		})
	}
}

func replaceOnce(t *testing.T, s, old, new string) string {
	t.Helper()
	i := bytes.Index([]byte(s), []byte(old))
	if i < 0 {
		t.Fatalf("%q not in the test cascade", old)
	}
	return s[:i] + new + s[i+len(old):]
}

// noiseGray returns a w x h grey image of pseudo-random pixels.
func noiseGray(w, h int, seed byte) *gray {
	g := &gray{pix: make([]uint8, w*h), w: w, h: h, stride: w}
	x := uint32(seed) + 1
	for i := range g.pix {
		x = x*1664525 + 1013904223
		g.pix[i] = uint8(x >> 24)
	}
	return g
}

func FuzzParseCascade(f *testing.F) {
	f.Add(picoFile(1, 1, 0))
	f.Add(picoFile(3, 4, 7))
	f.Add(picoFile(6, 2, 200))
	f.Add(facefinder[:16])
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCascade(b)
		if err != nil {
			if !errors.Is(err, ErrBadCascade) {
				t.Fatalf("ParseCascade error %v does not wrap ErrBadCascade", err)
			}
			return
		}
		// Any cascade that parses can scan a frame without trouble.
		g := noiseGray(50, 40, byte(len(b)))
		var ds detectScratch
		faces := c.detect(g, scanParams{minSize: 20, scaleFactor: 1.2, strideFactor: 0.2, overlap: 0.3}, &ds)
		if len(faces) > len(ds.raw) {
			t.Fatalf("%d clusters from %d detections", len(faces), len(ds.raw))
		}
	})
}

func FuzzParseHaarCascade(f *testing.F) {
	f.Add([]byte(smallHaar))
	f.Add([]byte("<opencv_storage><cascade><stageType>BOOST</stageType><featureType>HAAR</featureType></cascade></opencv_storage>"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseHaarCascade(b)
		if err != nil {
			if !errors.Is(err, ErrBadCascade) {
				t.Fatalf("ParseHaarCascade error %v does not wrap ErrBadCascade", err)
			}
			return
		}
		// Any cascade that parses can be evaluated everywhere in an image.
		w, h := c.w+3, c.h+2
		pix := make([]float64, w*h)
		for i := range pix {
			pix[i] = float64((i * 37) % 256)
		}
		var hs haarScan
		hs.load(c, pix, w, h)
		for y := 0; y+c.h <= h; y++ {
			for x := 0; x+c.w <= w; x++ {
				if n := c.eval(&hs, x, y); n < 0 || n > len(c.stages) {
					t.Fatalf("eval passed %d of %d stages", n, len(c.stages))
				}
			}
		}
	})
}

// FuzzAssess feeds arbitrary frames (size and pixels from the input) to the
// whole assessment: it must never panic and its verdict must be coherent.
func FuzzAssess(f *testing.F) {
	f.Add([]byte{40, 30, 1, 2, 3})
	f.Add([]byte{255, 255, 0})
	f.Add(bytes.Repeat([]byte{0, 255}, 200))
	p, err := New(&Options{MinFaceSize: 20})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 3 {
			return
		}
		w, h := 1+int(b[0])%160, 1+int(b[1])%120
		img := image.NewGray(image.Rect(0, 0, w, h))
		for i := range img.Pix {
			img.Pix[i] = b[2+i%(len(b)-2)]
		}
		a := p.Assess(img)
		if a.Accept && (len(a.Faces) != 1 || len(a.Reasons) != 0) {
			t.Fatalf("accepted with %d faces and reasons %v", len(a.Faces), a.Reasons)
		}
		if !a.Accept && len(a.Reasons) == 0 {
			t.Fatalf("rejected without a reason")
		}
		for _, s := range a.Measures {
			if s.Value < 0 || s.Value > 100 {
				t.Fatalf("%s = %d, outside 0..100", s.Measure, s.Value)
			}
		}
	})
}
