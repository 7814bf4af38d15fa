package minutiae

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fingerimage"
	"github.com/bali-rbdes/kiosk/agent/fmr"
)

// TestMINEX compares our minutiae with the MINEX reference templates (made
// by another, MINEX-compliant extractor from the same images): the share
// of reference minutiae with one of ours within 8 pixels, and the share of
// those whose directions agree within 30°. Directions agreeing shows our
// angle convention is the standard's.
func TestMINEX(t *testing.T) {
	dir := testdata(t)
	refs, err := filepath.Glob(filepath.Join(dir, "minex", "templates-iso", "*.ist"))
	if err != nil || len(refs) == 0 {
		t.Fatalf("no MINEX templates in %s: %v", dir, err)
	}
	e, _ := New(nil)
	var total, near, agree int
	for _, ref := range refs {
		name := strings.TrimSuffix(filepath.Base(ref), ".ist")
		data, err := os.ReadFile(ref)
		if err != nil {
			t.Fatal(err)
		}
		rec, err := fmr.Unmarshal(data)
		if err != nil {
			t.Fatalf("%s: %v", ref, err)
		}
		img, err := fingerimage.DecodeFile(filepath.Join(dir, "minex", "images-pgm", name+".pgm"))
		if err != nil {
			t.Fatal(err)
		}
		r, err := e.Extract(img.Gray, rec.PPI())
		if err != nil {
			t.Fatal(err)
		}
		n, a := 0, 0
		for _, m := range rec.Views[0].Minutiae {
			best, bestD := -1, 8*8+1
			for i, o := range r.Minutiae {
				dx, dy := int(o.X)-int(m.X), int(o.Y)-int(m.Y)
				if d := dx*dx + dy*dy; d < bestD {
					best, bestD = i, d
				}
			}
			if best >= 0 {
				n++
				if angleDiff(4*int(r.Minutiae[best].Angle), 4*int(m.Angle)) <= turn/12 {
					a++
				}
			}
		}
		t.Logf("%s: %d of %d reference minutiae within 8 px (%d directions within 30°); we found %d", name, n, len(rec.Views[0].Minutiae), a, len(r.Minutiae))
		total += len(rec.Views[0].Minutiae)
		near += n
		agree += a
	}
	t.Logf("MINEX: %d of %d reference minutiae (%.1f%%) have one of ours within 8 px; %.1f%% of those agree in direction within 30°",
		near, total, 100*float64(near)/float64(total), 100*float64(agree)/float64(max(near, 1)))
	if near*100 < total*minexNearPct {
		t.Errorf("only %d of %d reference minutiae have one of ours within 8 px, want at least %d%%", near, total, minexNearPct)
	}
	if agree*100 < near*minexAgreePct {
		t.Errorf("only %d of %d near minutiae agree in direction, want at least %d%%", agree, near, minexAgreePct)
	}
}

// Thresholds of TestMINEX, set a little below what the extractor measures.
const (
	minexNearPct  = 58
	minexAgreePct = 82
)
