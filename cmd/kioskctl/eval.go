package main

import (
	"context"
	"fmt"
	"image"
	"runtime"
	"strconv"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/fvc"
	"github.com/bali-rbdes/kiosk/agent/matcher"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
)

func runEval(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "eval", "DIR[:PPI]...", `Run the FVC protocol on fingerprint databases in FVC layout (files NNN_K.tif,
.png, .pgm or .ist: finger NNN, impression K) with the minutiae extractor and
the matcher: every pair of impressions of the same finger is a genuine
comparison, every pair of impressions of different fingers an impostor one.
Prints per database the equal error rate, the false non-match rate at false
match rates of 1% and 0.1%, failures to extract, mean minutiae per template,
and milliseconds per image (mean and median), per template preparation and per
comparison (on one worker), then the means over the databases. Times are the
CPU time of the worker threads (Linux), so a busy machine does not inflate
them; -wall uses the wall clock instead.

A folder of .ist templates (ISO/IEC 19794-2 or ANSI INCITS 378, e.g. from
kioskctl extract) evaluates the matcher alone. Images that state no resolution
are taken at the PPI given after the folder (DIR:569), else at the resolution
of a known FVC database (FVC2002 DB2 569, FVC2004 DB3 512), else -ppi.`)
	ppi := fs.Int("ppi", 500, "resolution of images that state none and are not a known FVC database")
	templates := fs.Bool("templates", false, "use only the .ist templates in the folders, ignoring images")
	workers := fs.Int("workers", runtime.GOMAXPROCS(0), "parallel workers")
	details := fs.Bool("details", false, "also print, per database, thresholds, failures, score histograms and the worst comparisons")
	bins := fs.Int("hist", 20, "score histogram bins with -details")
	wall := fs.Bool("wall", false, "time by the wall clock rather than by each worker thread's CPU time")
	worst := fs.Int("worst", 8, "worst genuine and impostor comparisons listed with -details")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("want at least one database folder")
	}
	if *ppi < minutiae.MinPPI || *ppi > minutiae.MaxPPI {
		return usageError("-ppi %d outside %d..%d", *ppi, minutiae.MinPPI, minutiae.MaxPPI)
	}
	if *workers < 1 {
		return usageError("-workers %d, want at least 1", *workers)
	}
	opts := &fvc.Options{
		NewExtractor: newEvalExtractor,
		Matcher:      matcher.Default(),
		Workers:      *workers,
		Clock:        clock.Real(),
	}
	if !*wall && haveThreadCPUTime() {
		opts.ThreadCPUTime = threadCPUTime
	}
	var results []*fvc.Result
	for _, arg := range fs.Args() {
		dir, dbPPI := arg, 0
		if i := strings.LastIndexByte(arg, ':'); i > 0 {
			if v, err := strconv.Atoi(arg[i+1:]); err == nil {
				dir, dbPPI = arg[:i], v
				if v < minutiae.MinPPI || v > minutiae.MaxPPI {
					return usageError("%s: resolution %d outside %d..%d", arg, v, minutiae.MinPPI, minutiae.MaxPPI)
				}
			}
		}
		if dbPPI == 0 && fvc.KnownPPI(dir) == 0 {
			dbPPI = *ppi
		}
		db, err := fvc.Open(dir, dbPPI, *templates)
		if err != nil {
			return err
		}
		res, err := fvc.Evaluate(ctx, db, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", db.Name, err)
		}
		results = append(results, res)
	}
	if *details {
		for _, r := range results {
			if err := fvc.WriteDetails(st.out, r, *bins, *worst); err != nil {
				return err
			}
		}
		fmt.Fprintln(st.out)
	}
	return fvc.WriteTable(st.out, results)
}

// evalExtractor adapts the minutiae pipeline to fvc.Extractor.
type evalExtractor struct{ e *minutiae.Extractor }

func newEvalExtractor() (fvc.Extractor, error) {
	e, err := minutiae.New(nil)
	if err != nil {
		return nil, err
	}
	return evalExtractor{e}, nil
}

// Extract runs the pipeline and returns its minutiae as an ISO record.
func (x evalExtractor) Extract(img *image.Gray, ppi int) (*fmr.Record, error) {
	res, err := x.e.Extract(img, ppi)
	if err != nil {
		return nil, err
	}
	return res.Record(fmr.ISO), nil
}
