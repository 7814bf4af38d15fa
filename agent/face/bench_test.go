package face

import (
	"image"
	"syscall"
	"testing"
	"time"
)

// The machine running benchmarks is often shared, so besides ns/op (wall
// time) every benchmark reports cpu-ms/op: the process's user+system CPU
// time per operation, which other processes' load disturbs much less. Run
// with -cpu 1 so the process has one thread doing the work.

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchCPU(b *testing.B, f func()) {
	b.ReportAllocs()
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		f()
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-c0)/float64(time.Millisecond)/float64(b.N), "cpu-ms/op")
}

// BenchmarkDetect is the face detection alone on a 640x480 kiosk frame
// with the default options (faces of 100 pixels and more).
func BenchmarkDetect(b *testing.B) {
	p := newPipeline(b, nil)
	g, _ := toGray(kioskFrame(b), nil)
	var ds detectScratch
	benchCPU(b, func() {
		if faces := p.cascade.detect(g, p.scanParams(), &ds); len(faces) != 1 {
			b.Fatalf("%d faces", len(faces))
		}
	})
}

// BenchmarkDetectMin60 scans down to 60-pixel faces, as the tests of the
// smaller portrait do.
func BenchmarkDetectMin60(b *testing.B) {
	p := newPipeline(b, &Options{MinFaceSize: 60})
	g, _ := toGray(kioskFrame(b), nil)
	var ds detectScratch
	benchCPU(b, func() {
		p.cascade.detect(g, p.scanParams(), &ds)
	})
}

// BenchmarkAssess is the whole assessment of a 640x480 RGBA kiosk frame:
// grey conversion, detection, eyes and every measure.
func BenchmarkAssess(b *testing.B) {
	p := newPipeline(b, nil)
	img := kioskFrame(b)
	benchCPU(b, func() {
		if a := p.Assess(img); len(a.Faces) != 1 {
			b.Fatalf("%d faces", len(a.Faces))
		}
	})
}

// BenchmarkAssessEmpty is a frame without a face, the kiosk's idle case.
func BenchmarkAssessEmpty(b *testing.B) {
	p := newPipeline(b, nil)
	img := image.NewRGBA(image.Rect(0, 0, 640, 480))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7919 >> 3)
	}
	benchCPU(b, func() {
		if a := p.Assess(img); len(a.Faces) != 0 {
			b.Fatalf("%d faces", len(a.Faces))
		}
	})
}

// BenchmarkEyes is the eye search of one face.
func BenchmarkEyes(b *testing.B) {
	p := newPipeline(b, nil)
	g, _ := toGray(kioskFrame(b), nil)
	faces := p.cascade.detect(g, p.scanParams(), &detectScratch{})
	var sc eyeScratch
	benchCPU(b, func() {
		findEyes(g, p.eyes, faces[0], &sc)
	})
}

// BenchmarkToken cuts and JPEG-encodes a 480x640 token image.
func BenchmarkToken(b *testing.B) {
	p := newPipeline(b, nil)
	img := kioskFrame(b)
	a := p.Assess(img)
	benchCPU(b, func() {
		if _, err := p.Token(img, &a); err != nil {
			b.Fatal(err)
		}
	})
}
