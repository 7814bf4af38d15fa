package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/fingerimage"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
)

func runExtract(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "extract", "-o OUTDIR IMAGE...", `Extract the minutiae of fingerprint images (PGM P5/P2, PNG or TIFF) and
write each as a finger minutiae record OUTDIR/<name>.ist, <name> being the
image's file name without its extension: ISO/IEC 19794-2:2005 by default,
ANSI INCITS 378-2004 with -format ansi. Coordinates are in the image's own
pixels; the record carries the image quality 0-100 as the finger quality.

Resolution: -ppi when given; otherwise the resolution the image states (TIFF
XResolution/ResolutionUnit, PNG pHYs; values under 250 ppi, such as the 72 ppi
many programs write by default, are ignored); otherwise 500 ppi. FVC2002 DB2
images state none and are 569 ppi: pass -ppi 569.

An image that fails is reported on stderr with its reason and the others
still run; the exit status is 1 if any failed.`)
	ppi := fs.Int("ppi", 0, "resolution of the images in pixels per inch (default: the image's own, else 500)")
	format := fs.String("format", "iso", "record format: iso (ISO/IEC 19794-2:2005) or ansi (ANSI INCITS 378-2004)")
	outDir := fs.String("o", "", "output directory, created if missing (required)")
	verbose := fs.Bool("v", false, "print one line per image: record, minutiae, quality, milliseconds to decode and extract")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	var f fmr.Format
	switch strings.ToLower(*format) {
	case "iso":
		f = fmr.ISO
	case "ansi":
		f = fmr.ANSI
	default:
		return usageError("-format %q, want iso or ansi", *format)
	}
	if *outDir == "" {
		fs.Usage()
		return usageError("-o OUTDIR is required")
	}
	if *ppi != 0 && (*ppi < minutiae.MinPPI || *ppi > minutiae.MaxPPI) {
		return usageError("-ppi %d outside %d..%d", *ppi, minutiae.MinPPI, minutiae.MaxPPI)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("want at least one image")
	}
	if err := os.MkdirAll(*outDir, 0o755); err != nil {
		return fmt.Errorf("creating output directory: %w", err)
	}
	ex, err := minutiae.New(nil)
	if err != nil {
		return err
	}
	failed := 0
	for _, path := range fs.Args() {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("interrupted before %s: %w", path, err)
		}
		out, res, tm, err := extractOne(ex, path, *outDir, *ppi, f)
		if err != nil {
			failed++
			fmt.Fprintf(st.err, "kioskctl extract: %s: %v\n", path, err)
			continue
		}
		if *verbose {
			fmt.Fprintf(st.out, "%s: %d minutiae, quality %d, decode %.2f ms, extract %.2f ms\n",
				out, len(res.Minutiae), res.Quality, ms(tm.decode), ms(tm.extract))
		}
	}
	if err := syncDir(*outDir); err != nil {
		return err
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d images failed", failed, fs.NArg())}
	}
	return nil
}

// timings are the wall-clock times of one image's stages.
type timings struct{ decode, extract time.Duration }

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// extractOne extracts one image and writes its record (write, fsync,
// rename; runExtract fsyncs the directory); it returns the record's path.
func extractOne(ex *minutiae.Extractor, path, outDir string, ppi int, f fmr.Format) (string, *minutiae.Result, timings, error) {
	var tm timings
	t0 := time.Now()
	img, err := fingerimage.DecodeFile(path)
	if err != nil {
		return "", nil, tm, err
	}
	if ppi == 0 {
		ppi = img.PPI // 0 when the image states none: the extractor takes 500
	}
	t1 := time.Now()
	res, err := ex.Extract(img.Gray, ppi)
	t2 := time.Now()
	tm.decode, tm.extract = t1.Sub(t0), t2.Sub(t1)
	if err != nil {
		return "", nil, tm, err
	}
	data, err := fmr.Marshal(res.Record(f))
	if err != nil {
		return "", nil, tm, err
	}
	base := filepath.Base(path)
	name := strings.TrimSuffix(base, filepath.Ext(base))
	out := filepath.Join(outDir, name+".ist")
	if err := writeFileDurable(out, data); err != nil {
		return "", nil, tm, err
	}
	return out, res, tm, nil
}
