// Package fingerimage decodes fingerprint images from the file formats
// scanners and test sets use into 8-bit grey: PGM (binary P5 and ASCII P2,
// 8 or 16 bits), PNG and TIFF (golang.org/x/image/tiff). Anything else is
// refused with ErrFormat. Colour and 16-bit images are converted to 8-bit
// luminance.
//
// It also reports the resolution the file states, when it states one: TIFF
// XResolution with ResolutionUnit inch or centimetre, PNG pHYs in pixels per
// metre. PGM has no resolution field. Stated values outside MinPPI..MaxPPI
// (such as the 72 ppi many programs write by default) count as not stated.
package fingerimage

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"os"

	"golang.org/x/image/tiff"
)

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrFormat means the data is not a PGM, PNG or TIFF image.
	ErrFormat = errors.New("not a PGM, PNG or TIFF image")
	// ErrTooLarge means the image is wider, taller or has more pixels than
	// the limits below.
	ErrTooLarge = errors.New("image too large")
)

// Limits on what Decode accepts, so that a hostile header cannot make it
// allocate gigabytes.
const (
	// MaxSide is the largest width or height accepted.
	MaxSide = 8192
	// MaxPixels is the largest width×height accepted.
	MaxPixels = 16 << 20
)

// Image is a decoded fingerprint image.
type Image struct {
	// Gray holds the pixels, 0 black to 255 white.
	Gray *image.Gray
	// PPI is the resolution the file states in pixels per inch, 0 when it
	// states none (PGM, TIFF without resolution tags, PNG without pHYs) or an
	// implausible one (outside MinPPI..MaxPPI).
	PPI int
	// Format is "pgm", "png" or "tiff".
	Format string
}

// Decode reads a whole PGM, PNG or TIFF image from r.
func Decode(r io.Reader) (*Image, error) {
	data, err := io.ReadAll(io.LimitReader(r, 4*MaxPixels+1<<20))
	if err != nil {
		return nil, fmt.Errorf("fingerimage: reading image: %w", err)
	}
	return DecodeBytes(data)
}

// DecodeFile reads and decodes the image file at path.
func DecodeFile(path string) (*Image, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("fingerimage: %w", err)
	}
	img, err := DecodeBytes(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return img, nil
}

// DecodeBytes decodes a PGM, PNG or TIFF image held in data.
func DecodeBytes(data []byte) (*Image, error) {
	switch {
	case len(data) >= 2 && data[0] == 'P' && (data[1] == '5' || data[1] == '2'):
		g, err := decodePGM(data)
		if err != nil {
			return nil, err
		}
		return &Image{Gray: g, Format: "pgm"}, nil
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return decodeStd(data, "png", png.DecodeConfig, png.Decode, pngPPI)
	case bytes.HasPrefix(data, []byte("II*\x00")) || bytes.HasPrefix(data, []byte("MM\x00*")):
		return decodeStd(data, "tiff", tiff.DecodeConfig, tiff.Decode, tiffPPI)
	}
	n := min(len(data), 4)
	return nil, fmt.Errorf("fingerimage: unknown signature % x (convert the image to PGM, PNG or TIFF): %w", data[:n], ErrFormat)
}

func checkSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("fingerimage: image is %dx%d pixels, nothing to decode: %w", w, h, ErrFormat)
	}
	if w > MaxSide || h > MaxSide || w*h > MaxPixels {
		return fmt.Errorf("fingerimage: image is %dx%d pixels, more than the %d per side or %d in all accepted (crop or downsample it): %w", w, h, MaxSide, MaxPixels, ErrTooLarge)
	}
	return nil
}

func decodeStd(data []byte, format string,
	config func(io.Reader) (image.Config, error),
	decode func(io.Reader) (image.Image, error),
	ppi func([]byte) int,
) (*Image, error) {
	cfg, err := config(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("fingerimage: malformed %s header: %w", format, err)
	}
	if err := checkSize(cfg.Width, cfg.Height); err != nil {
		return nil, err
	}
	m, err := decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("fingerimage: malformed %s image: %w", format, err)
	}
	return &Image{Gray: toGray(m), PPI: ppi(data), Format: format}, nil
}

// toGray returns m as *image.Gray with its origin at (0, 0), converting
// colour or 16-bit pixels to 8-bit luminance.
func toGray(m image.Image) *image.Gray {
	b := m.Bounds()
	if g, ok := m.(*image.Gray); ok && b.Min == (image.Point{}) {
		return g
	}
	g := image.NewGray(image.Rect(0, 0, b.Dx(), b.Dy()))
	for y := 0; y < b.Dy(); y++ {
		row := g.Pix[y*g.Stride : y*g.Stride+b.Dx()]
		for x := range row {
			row[x] = color.GrayModel.Convert(m.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
		}
	}
	return g
}

// decodePGM decodes netpbm grey maps: "P5" binary and "P2" ASCII, maxval
// 1..65535, scaled to 0..255.
func decodePGM(data []byte) (*image.Gray, error) {
	ascii := data[1] == '2'
	s := &pgmScanner{r: bufio.NewReader(bytes.NewReader(data[2:]))}
	var hdr [3]int
	for i, name := range []string{"width", "height", "maxval"} {
		v, err := s.number()
		if err != nil {
			return nil, fmt.Errorf("fingerimage: malformed PGM header, reading %s: %w", name, err)
		}
		hdr[i] = v
	}
	w, h, maxval := hdr[0], hdr[1], hdr[2]
	if maxval < 1 || maxval > 65535 {
		return nil, fmt.Errorf("fingerimage: PGM maxval %d outside 1..65535: %w", maxval, ErrFormat)
	}
	if err := checkSize(w, h); err != nil {
		return nil, err
	}
	g := image.NewGray(image.Rect(0, 0, w, h))
	scale := func(v int) uint8 { return uint8((v*255 + maxval/2) / maxval) }
	if ascii {
		for i := range g.Pix {
			v, err := s.number()
			if err != nil {
				return nil, fmt.Errorf("fingerimage: P2 PGM truncated or malformed at sample %d of %d: %w", i, w*h, err)
			}
			if v > maxval {
				return nil, fmt.Errorf("fingerimage: P2 PGM sample %d is %d, above maxval %d: %w", i, v, maxval, ErrFormat)
			}
			g.Pix[i] = scale(v)
		}
		return g, nil
	}
	// Exactly one whitespace byte separates maxval from the raster; the
	// scanner has consumed it.
	if !s.sawSpace {
		return nil, fmt.Errorf("fingerimage: P5 PGM has no whitespace after maxval: %w", ErrFormat)
	}
	bps := 1
	if maxval > 255 {
		bps = 2
	}
	raster := make([]byte, w*h*bps)
	if _, err := io.ReadFull(s.r, raster); err != nil {
		return nil, fmt.Errorf("fingerimage: P5 PGM raster truncated (want %d bytes for %dx%d): %w", len(raster), w, h, err)
	}
	for i := range g.Pix {
		v := int(raster[i*bps])
		if bps == 2 {
			v = v<<8 | int(raster[i*bps+1])
		}
		if v > maxval {
			v = maxval
		}
		g.Pix[i] = scale(v)
	}
	return g, nil
}

// pgmScanner reads the whitespace-separated decimal numbers of a netpbm
// header, skipping '#' comments.
type pgmScanner struct {
	r *bufio.Reader
	// sawSpace tells whether number consumed one whitespace byte after the
	// digits (the separator before a P5 raster).
	sawSpace bool
}

var errNotNumber = errors.New("expected a decimal number")

func (s *pgmScanner) number() (int, error) {
	// Skip whitespace and comments.
	for {
		c, err := s.r.ReadByte()
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errNotNumber, err)
		}
		if c == '#' {
			for c != '\n' && c != '\r' {
				if c, err = s.r.ReadByte(); err != nil {
					return 0, fmt.Errorf("%w: %w", errNotNumber, err)
				}
			}
			continue
		}
		if isSpace(c) {
			continue
		}
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w, found %q", errNotNumber, c)
		}
		v := int(c - '0')
		for {
			c, err := s.r.ReadByte()
			if err == io.EOF {
				s.sawSpace = false
				return v, nil
			}
			if err != nil {
				return 0, err
			}
			if c >= '0' && c <= '9' {
				v = v*10 + int(c-'0')
				if v > 1<<24 {
					return 0, fmt.Errorf("%w: value too large", errNotNumber)
				}
				continue
			}
			if !isSpace(c) {
				return 0, fmt.Errorf("%w, found %q after digits", errNotNumber, c)
			}
			s.sawSpace = true
			return v, nil
		}
	}
}

func isSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}
