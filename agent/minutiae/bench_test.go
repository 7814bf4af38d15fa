package minutiae

import (
	"image"
	"path/filepath"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/fingerimage"
)

// benchImage is FVC2002 DB1 101_1 (388×374, 500 ppi) when the shared data
// is there, else a synthetic print of the same size.
func benchImage(b *testing.B) (*image.Gray, string) {
	if dir := dataDir(); dir != "" {
		img, err := fingerimage.DecodeFile(filepath.Join(dir, "fvc2002/DB1_B/101_1.tif"))
		if err != nil {
			b.Fatal(err)
		}
		return img.Gray, "fvc2002-db1-101_1"
	}
	return pattern(388, 374, 1), "pattern-388x374"
}

// BenchmarkExtract is the whole pipeline on one image, steady state (a
// reused Extractor): the budget is 2 allocations per image.
func BenchmarkExtract(b *testing.B) {
	img, name := benchImage(b)
	e, _ := New(nil)
	if _, err := e.Extract(img, 500); err != nil {
		b.Fatal(err)
	}
	b.Run(name, func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := e.Extract(img, 500); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkExtractFVC runs the pipeline over every image of FVC2002 DB1.
func BenchmarkExtractFVC(b *testing.B) {
	dir := dataDir()
	if dir == "" {
		b.Skip("FVC2002 data not found")
	}
	var imgs []*image.Gray
	matches, _ := filepath.Glob(filepath.Join(dir, "fvc2002/DB1_B/*.tif"))
	for _, p := range matches {
		img, err := fingerimage.DecodeFile(p)
		if err != nil {
			b.Fatal(err)
		}
		imgs = append(imgs, img.Gray)
	}
	e, _ := New(nil)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := e.Extract(imgs[i%len(imgs)], 500); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

// BenchmarkStage times each stage alone on the state the earlier stages
// leave.
func BenchmarkStage(b *testing.B) {
	img, _ := benchImage(b)
	e, _ := New(nil)
	if _, err := e.Extract(img, 500); err != nil {
		b.Fatal(err)
	}
	run := func(name string, setup func(), stage func()) {
		b.Run(name, func(b *testing.B) {
			// Bring the state to just before the stage.
			_ = e.prepare(img, 500)
			e.blocks()
			e.segment()
			e.orient()
			e.binarize()
			setup()
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				stage()
			}
		})
	}
	none := func() {}
	run("1-prepare", none, func() { _ = e.prepare(img, 500) })
	run("2-blocks", none, e.blocks)
	run("3-segment", none, e.segment)
	run("4-orient", none, e.orient)
	run("5-singular", none, e.singular)
	run("6-binarize", none, e.binarize)
	run("7-smooth", none, e.smoothRidges)
	saved := make([]uint64, len(e.bits))
	run("8-thin", func() {
		for range smoothPasses {
			e.smoothRidges()
		}
		copy(saved, e.bits)
	}, func() {
		b.StopTimer()
		copy(e.bits, saved)
		clear(e.bin)
		b.StartTimer()
		e.thin()
	})
	run("9-detect", func() {
		for range smoothPasses {
			e.smoothRidges()
		}
		e.thin()
	}, e.detect)
	r := &Result{}
	run("10-quality", func() {
		for range smoothPasses {
			e.smoothRidges()
		}
		e.thin()
		e.detect()
	}, func() { e.imageQuality(r) })
	b.Run("resample-569ppi", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			_ = e.prepare(img, 569)
		}
	})
}
