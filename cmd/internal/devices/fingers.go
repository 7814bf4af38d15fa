package devices

import (
	"fmt"
	"image"
	_ "image/jpeg" // finger image files
	_ "image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/synth"
	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
)

// imageSource is what the fingerprint simulators take fingers from
// (r30xsim.ImageSource and gt521sim.ImageSource have this method set).
type imageSource interface {
	NextFinger() (image.Image, error)
}

// fingerSource returns the simulator's finger images by the fingers
// option: "synth" (default) for synthetic impressions of one finger (the
// right index) of the traveller with the seed option's seed, "pattern" for
// the simulator's built-in pattern (nil), or a directory of PNG, JPEG, TIFF
// or BMP images used in name order.
func fingerSource(o *options, sensor synth.Sensor) (imageSource, func() error, error) {
	noop := func() error { return nil }
	switch v := o.str("fingers", "synth"); v {
	case "pattern":
		return nil, noop, nil
	case "synth":
		s, err := newSynthSource(sensor, o.uint64("seed", 1))
		if err != nil {
			return nil, noop, err
		}
		return s, s.Close, nil
	default:
		s, err := newDirSource(v)
		return s, noop, err
	}
}

// synthSource hands out synthetic impressions of one finger, each a new
// placement (shifted, rotated, pressed differently). The finger's master is
// built once at open (a second or more); a goroutine renders the next
// impression ahead, and when none is ready yet the last one is handed out
// again, so the simulated sensor never stalls.
type synthSource struct {
	next chan image.Image
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	last image.Image
}

func newSynthSource(sensor synth.Sensor, seed uint64) (*synthSource, error) {
	g, err := synth.New(&synth.Options{Sensor: sensor})
	if err != nil {
		return nil, fmt.Errorf("synthetic fingers: %w", err)
	}
	f, err := g.Traveller(seed).Finger(rightIndex)
	if err != nil {
		return nil, err
	}
	s := &synthSource{next: make(chan image.Image, 1), stop: make(chan struct{}), done: make(chan struct{}),
		last: f.Impression(1).Image}
	go s.run(f)
	return s, nil
}

// rightIndex is the ISO/IEC 19794-2 finger position of the right index.
const rightIndex = 2

func (s *synthSource) run(f *synth.Finger) {
	defer close(s.done)
	for n := uint64(2); ; n++ {
		img := f.Impression(n).Image
		select {
		case s.next <- img:
		case <-s.stop:
			return
		}
	}
}

// NextFinger returns the next impression, or the last one again.
func (s *synthSource) NextFinger() (image.Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	select {
	case img := <-s.next:
		s.last = img
	default:
	}
	return s.last, nil
}

// Close stops the renderer and waits for it.
func (s *synthSource) Close() error {
	close(s.stop)
	<-s.done
	return nil
}

// dirSource hands out the images of a directory in name order, cycling.
type dirSource struct {
	mu    sync.Mutex
	files []string
	n     int
}

func newDirSource(dir string) (*dirSource, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("options.fingers %q: want synth, pattern or a directory of finger images: %w", dir, err)
	}
	var files []string
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp":
			files = append(files, filepath.Join(dir, e.Name()))
		}
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("options.fingers: %s holds no PNG, JPEG, TIFF or BMP images", dir)
	}
	slices.Sort(files)
	return &dirSource{files: files}, nil
}

func (d *dirSource) NextFinger() (image.Image, error) {
	d.mu.Lock()
	name := d.files[d.n%len(d.files)]
	d.n++
	d.mu.Unlock()
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, _, err := image.Decode(f)
	if err != nil {
		return nil, fmt.Errorf("finger image %s: %w", name, err)
	}
	return img, nil
}
