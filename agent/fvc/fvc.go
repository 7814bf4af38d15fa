// Package fvc evaluates a fingerprint extractor and matcher the way the
// Fingerprint Verification Competitions did (FVC2000-2006, University of
// Bologna): on a database of F fingers with I impressions each, every pair
// of impressions of the same finger is a genuine comparison (F·I(I−1)/2,
// 280 for an FVC2002 B set) and every pair of impressions of different
// fingers an impostor comparison (2,880 for an FVC2002 B set). It reports
// the equal error rate, the false non-match rate at false match rates of 1%
// and 0.1%, failures to extract, the time per image and per comparison, and
// the score distributions.
//
// A database is a folder in FVC layout: files NNN_K.ext, NNN the finger and
// K the impression, ext one of tif, tiff, png, pgm (images, run through an
// Extractor) or ist (ISO/IEC 19794-2 or ANSI INCITS 378 templates, read as
// they are, so the matcher can be evaluated apart from the extractor).
package fvc

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Sample is one impression in a database.
type Sample struct {
	// Finger and Impression come from the file name NNN_K.
	Finger, Impression int
	// Path is the file the sample is read from.
	Path string
	// Template says Path is a minutiae record (.ist) rather than an image.
	Template bool
}

// Name returns the sample's file name without extension, e.g. "101_3".
func (s Sample) Name() string {
	return strings.TrimSuffix(filepath.Base(s.Path), filepath.Ext(s.Path))
}

// Database is an FVC-layout folder.
type Database struct {
	// Name is the folder's last two path elements, e.g. "fvc2002/DB1_B".
	Name string
	// PPI is the resolution the images are taken to have when they state
	// none; see Open.
	PPI int
	// Samples, ordered by finger then impression.
	Samples []Sample
}

// ErrNoSamples means a folder holds no file in FVC layout.
var ErrNoSamples = errors.New("no NNN_K.tif/png/pgm/ist files")

var imageExts = map[string]bool{".tif": true, ".tiff": true, ".png": true, ".pgm": true}

// knownPPI lists the FVC databases whose scanners are not 500 ppi, keyed by
// lower-case "competition/database" without the _A/_B suffix.
var knownPPI = map[string]int{
	"fvc2002/db2": 569, // Identix TouchView II
	"fvc2004/db3": 512, // Atmel FingerChip
}

// KnownPPI returns the resolution of a known FVC database from its folder
// path (e.g. ".../fvc2002/DB2_B" gives 569), or 0 when the folder is not
// one of those with a resolution other than 500 ppi.
func KnownPPI(dir string) int {
	clean := filepath.Clean(dir)
	db := strings.ToLower(filepath.Base(clean))
	comp := strings.ToLower(filepath.Base(filepath.Dir(clean)))
	if i := strings.IndexByte(db, '_'); i > 0 {
		db = db[:i]
	}
	return knownPPI[comp+"/"+db]
}

// Open scans dir for samples. When a sample has both an image and a .ist
// template, the image is used unless templates is true; with templates
// true, only .ist files count. ppi is the resolution of images that state
// none; 0 means KnownPPI(dir), else 500.
func Open(dir string, ppi int, templates bool) (*Database, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("fvc: reading database folder: %w", err)
	}
	bySample := map[[2]int]Sample{}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		ext := strings.ToLower(filepath.Ext(name))
		isTemplate := ext == ".ist"
		if !isTemplate && !imageExts[ext] {
			continue
		}
		if templates && !isTemplate {
			continue
		}
		finger, impression, ok := parseName(strings.TrimSuffix(name, filepath.Ext(name)))
		if !ok {
			continue
		}
		s := Sample{Finger: finger, Impression: impression, Path: filepath.Join(dir, name), Template: isTemplate}
		key := [2]int{finger, impression}
		if prev, dup := bySample[key]; dup {
			switch {
			case prev.Template && !s.Template:
				// An image wins over a template of the same sample.
			case prev.Template == s.Template:
				return nil, fmt.Errorf("fvc: %s and %s are both sample %d_%d (keep one)", prev.Path, s.Path, finger, impression)
			default:
				continue
			}
		}
		bySample[key] = s
	}
	if len(bySample) == 0 {
		return nil, fmt.Errorf("fvc: %s: %w", dir, ErrNoSamples)
	}
	db := &Database{Name: shortName(dir), PPI: ppi}
	if db.PPI <= 0 {
		db.PPI = KnownPPI(dir)
	}
	if db.PPI <= 0 {
		db.PPI = 500
	}
	for _, s := range bySample {
		db.Samples = append(db.Samples, s)
	}
	slices.SortFunc(db.Samples, func(a, b Sample) int {
		if a.Finger != b.Finger {
			return a.Finger - b.Finger
		}
		return a.Impression - b.Impression
	})
	return db, nil
}

// parseName reads "NNN_K" (digits, an underscore, digits).
func parseName(base string) (finger, impression int, ok bool) {
	f, i, found := strings.Cut(base, "_")
	if !found || f == "" || i == "" {
		return 0, 0, false
	}
	a, err1 := strconv.Atoi(f)
	b, err2 := strconv.Atoi(i)
	if err1 != nil || err2 != nil || a < 0 || b < 0 || strings.ContainsAny(f+i, "+-") {
		return 0, 0, false
	}
	return a, b, true
}

func shortName(dir string) string {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	abs = filepath.Clean(abs)
	parent := filepath.Base(filepath.Dir(abs))
	if parent == "/" || parent == "." {
		return filepath.Base(abs)
	}
	return parent + "/" + filepath.Base(abs)
}

// Pair is a comparison of samples A and B (indexes into Samples, A < B).
type Pair struct{ A, B int }

// Pairs returns the FVC protocol's comparisons: every pair of impressions
// of the same finger (genuine) and every pair of impressions of different
// fingers (impostor), each pair once.
func (db *Database) Pairs() (genuine, impostor []Pair) {
	for i := range db.Samples {
		for j := i + 1; j < len(db.Samples); j++ {
			if db.Samples[i].Finger == db.Samples[j].Finger {
				genuine = append(genuine, Pair{i, j})
			} else {
				impostor = append(impostor, Pair{i, j})
			}
		}
	}
	return genuine, impostor
}
