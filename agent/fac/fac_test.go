package fac

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"testing"
)

// jpegStub is the start of a JPEG file: enough for Validate, which only
// checks the SOI marker.
var jpegStub = []byte{0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, 'J', 'F', 'I', 'F', 0, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0xFF, 0xD9}

func tokenRecord() *Record {
	return &Record{Images: []Image{{
		Gender: GenderUnspecified, EyeColour: 0, HairColour: 0,
		FeatureMask: 0, Expression: 1,
		Yaw: 0, Pitch: 0, Roll: PoseDegrees(0),
		FeaturePoints: []FeaturePoint{
			{Type: 1, Code: PointLeftEyeCentre, X: 299, Y: 288},
			{Type: 1, Code: PointRightEyeCentre, X: 179, Y: 288},
		},
		FaceImageType: ImageTypeTokenFrontal, DataType: DataJPEG,
		Width: 480, Height: 640, ColourSpace: ColourRGB24, SourceType: SourceDigitalVideo,
		Data: jpegStub,
	}}}
}

func TestMarshalLayout(t *testing.T) {
	b, err := Marshal(tokenRecord())
	if err != nil {
		t.Fatalf("Marshal: %v", err)
	}
	want := headerSize + facialInfoSize + 2*featurePtSize + imageInfoSize + len(jpegStub)
	if len(b) != want {
		t.Fatalf("len = %d, want %d", len(b), want)
	}
	checks := []struct {
		name string
		got  any
		want any
	}{
		{"format identifier", string(b[0:4]), "FAC\x00"},
		{"version", string(b[4:8]), "010\x00"},
		{"record length", binary.BigEndian.Uint32(b[8:]), uint32(want)},
		{"image count", binary.BigEndian.Uint16(b[12:]), uint16(1)},
		{"block length", binary.BigEndian.Uint32(b[14:]), uint32(want - headerSize)},
		{"feature points", binary.BigEndian.Uint16(b[18:]), uint16(2)},
		{"expression", binary.BigEndian.Uint16(b[26:]), uint16(1)},
		{"roll", b[30], byte(91)},
		{"first point type", b[34], byte(1)},
		{"first point code 12.1", b[35], byte(0xC1)},
		{"first point x", binary.BigEndian.Uint16(b[36:]), uint16(299)},
		{"first point y", binary.BigEndian.Uint16(b[38:]), uint16(288)},
		{"first point reserved", binary.BigEndian.Uint16(b[40:]), uint16(0)},
		{"second point code 12.2", b[43], byte(0xC2)},
		{"face image type", b[50], ImageTypeTokenFrontal},
		{"image data type", b[51], DataJPEG},
		{"width", binary.BigEndian.Uint16(b[52:]), uint16(480)},
		{"height", binary.BigEndian.Uint16(b[54:]), uint16(640)},
		{"colour space", b[56], ColourRGB24},
		{"source type", b[57], SourceDigitalVideo},
		{"image data", b[62:], jpegStub},
	}
	for _, c := range checks {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	two := tokenRecord()
	second := two.Images[0]
	second.FeaturePoints = nil
	second.FaceImageType = ImageTypeFullFrontal
	second.Gender, second.EyeColour, second.HairColour = GenderFemale, 3, 4
	second.FeatureMask = 0x000003
	second.Yaw, second.Pitch, second.Roll = PoseDegrees(-10), PoseDegrees(4), PoseDegrees(180)
	second.YawUncertainty = 5
	second.DeviceType, second.Quality = 0x1234, 77
	two.Images = append(two.Images, second)
	tests := []struct {
		name string
		rec  *Record
	}{
		{"token with eyes", tokenRecord()},
		{"two images", two},
		{"empty image data", &Record{Images: []Image{{Width: 1, Height: 1}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Marshal(tc.rec)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got, err := Unmarshal(b)
			if err != nil {
				t.Fatalf("Unmarshal: %v", err)
			}
			for i := range got.Images {
				// nil and empty slices are the same record.
				if len(got.Images[i].Data) == 0 && len(tc.rec.Images[i].Data) == 0 {
					got.Images[i].Data = tc.rec.Images[i].Data
				}
			}
			if !reflect.DeepEqual(got, tc.rec) {
				t.Errorf("Unmarshal(Marshal(r)) = %+v, want %+v", got, tc.rec)
			}
			again, err := Marshal(got)
			if err != nil || !bytes.Equal(again, b) {
				t.Errorf("Marshal(Unmarshal(b)) differs from b (err %v)", err)
			}
		})
	}
}

func TestUnmarshalErrors(t *testing.T) {
	good, err := Marshal(tokenRecord())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	setLen := func(b []byte) []byte {
		binary.BigEndian.PutUint32(b[8:], uint32(len(b)))
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"short header", good[:10], ErrFormat},
		{"not FAC", edit(func(b []byte) []byte { b[0] = 'X'; return b }), ErrFormat},
		{"2011 edition", edit(func(b []byte) []byte { copy(b[4:], "030\x00"); return b }), ErrVersion},
		{"truncated", good[:len(good)-1], ErrFormat},
		{"padded", setLen(append(append([]byte(nil), good...), 0)), ErrFormat},
		{"no images", edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[12:], 0); return b }), ErrFormat},
		{"too many images", edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[12:], 2); return b }), ErrFormat},
		{"block too long", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[14:], uint32(len(b))); return b }), ErrFormat},
		{"block shorter than its points", edit(func(b []byte) []byte { binary.BigEndian.PutUint32(b[14:], 40); return b }), ErrFormat},
		{"block short leaves trailing bytes", edit(func(b []byte) []byte {
			binary.BigEndian.PutUint32(b[14:], binary.BigEndian.Uint32(b[14:])-1)
			return b
		}), ErrFormat},
		{"too many feature points", edit(func(b []byte) []byte { binary.BigEndian.PutUint16(b[18:], 0xFFFF); return b }), ErrFormat},
		{"reserved bytes set", edit(func(b []byte) []byte { b[41] = 1; return b }), ErrFormat},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Unmarshal(tc.in)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Unmarshal = %v, %v; want error %v", r, err, tc.want)
			}
		})
	}
}

func TestMarshalErrors(t *testing.T) {
	tests := []struct {
		name string
		rec  *Record
	}{
		{"nil", nil},
		{"no images", &Record{}},
		{"mask over 24 bits", &Record{Images: []Image{{FeatureMask: 1 << 24}}}},
		{"too many points", &Record{Images: []Image{{FeaturePoints: make([]FeaturePoint, 0x10000)}}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Marshal(tc.rec); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Marshal = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	if err := tokenRecord().Validate(); err != nil {
		t.Fatalf("Validate(token) = %v, want nil", err)
	}
	tests := []struct {
		name string
		edit func(im *Image)
	}{
		{"gender", func(im *Image) { im.Gender = 3 }},
		{"expression", func(im *Image) { im.Expression = 8 }},
		{"pose", func(im *Image) { im.Yaw = 182 }},
		{"image type", func(im *Image) { im.FaceImageType = 3 }},
		{"data type", func(im *Image) { im.DataType = 2 }},
		{"zero size", func(im *Image) { im.Width = 0 }},
		{"point outside", func(im *Image) { im.FeaturePoints[0].X = 480 }},
		{"point type", func(im *Image) { im.FeaturePoints[0].Type = 2 }},
		{"not a JPEG", func(im *Image) { im.Data = []byte("GIF89a") }},
		{"not a JPEG 2000", func(im *Image) { im.DataType = DataJPEG2000 }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := tokenRecord()
			tc.edit(&r.Images[0])
			if err := r.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate = %v, want ErrInvalid", err)
			}
		})
	}
}

func TestPose(t *testing.T) {
	tests := []struct {
		deg  float64
		code Pose
		back float64
	}{
		{0, 91, 0},
		{5, 94, 6},
		{-5, 88, -6},
		{4, 93, 4},
		{-180, 1, -180},
		{180, 181, 180},
		{400, 181, 180},
	}
	for _, tc := range tests {
		if got := PoseDegrees(tc.deg); got != tc.code {
			t.Errorf("PoseDegrees(%v) = %d, want %d", tc.deg, got, tc.code)
		}
		if got, ok := tc.code.Degrees(); !ok || got != tc.back {
			t.Errorf("Pose(%d).Degrees() = %v, %v; want %v, true", tc.code, got, ok, tc.back)
		}
	}
	if _, ok := Pose(0).Degrees(); ok {
		t.Errorf("Pose(0).Degrees() ok = true, want false (unspecified)")
	}
}

func TestEye(t *testing.T) {
	im := tokenRecord().Images[0]
	l, okL := im.Eye(PointLeftEyeCentre)
	r, okR := im.Eye(PointRightEyeCentre)
	if !okL || !okR || l.X != 299 || r.X != 179 || l.Major() != 12 || l.Minor() != 1 || r.Minor() != 2 {
		t.Errorf("Eye() = %+v %v, %+v %v; want 12.1 at x 299 and 12.2 at x 179", l, okL, r, okR)
	}
}

func FuzzUnmarshal(f *testing.F) {
	good, _ := Marshal(tokenRecord())
	f.Add(good)
	two := tokenRecord()
	two.Images = append(two.Images, two.Images[0])
	b2, _ := Marshal(two)
	f.Add(b2)
	f.Add([]byte("FAC\x00010\x00\x00\x00\x00\x0e\x00\x00"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := Unmarshal(b)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrVersion) {
				t.Fatalf("Unmarshal error %v wraps neither ErrFormat nor ErrVersion", err)
			}
			return
		}
		_ = r.Validate()
		// A record that decodes re-encodes to the same bytes.
		again, err := Marshal(r)
		if err != nil {
			t.Fatalf("Marshal(Unmarshal(b)) = %v", err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("Marshal(Unmarshal(b)) differs from b")
		}
	})
}

func ExampleMarshal() {
	rec := &Record{Images: []Image{{
		FeaturePoints: []FeaturePoint{
			{Type: 1, Code: PointLeftEyeCentre, X: 299, Y: 288},
			{Type: 1, Code: PointRightEyeCentre, X: 179, Y: 288},
		},
		FaceImageType: ImageTypeTokenFrontal, DataType: DataJPEG,
		Width: 480, Height: 640, ColourSpace: ColourRGB24,
		Data: jpegStub,
	}}}
	b, err := Marshal(rec)
	if err != nil {
		panic(err)
	}
	back, err := Unmarshal(b)
	if err != nil {
		panic(err)
	}
	eye, _ := back.Images[0].Eye(PointLeftEyeCentre)
	fmt.Printf("%d bytes, %q, left eye at (%d, %d)\n", len(b), b[:3], eye.X, eye.Y)
	// Output: 84 bytes, "FAC", left eye at (299, 288)
}
