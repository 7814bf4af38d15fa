package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sync/errgroup"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/synth"
)

const synthAbout = `Generate synthetic fingerprints with ground truth, in FVC layout: for finger
F (101 upwards) and impression I (1..K), DIR/F_I.png is the image, DIR/F_I.json
the ground truth (minutiae, singular points, conditions; see synth.TruthFile)
and DIR/F_I.ist the same minutiae as an ISO/IEC 19794-2:2005 record.

Finger 101+i is finger position (i mod 10)+1 of traveller synth.SetTraveller(S, i/10),
so every ten fingers are one traveller's ten fingers. The same flags give
byte-identical files on every machine and architecture. The PNGs state their
resolution (pHYs), so kioskctl eval reads them at the right PPI.`

func runSynth(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "synth", "", synthAbout)
	n := fs.Int("n", 10, "number of fingers")
	k := fs.Int("impressions", 8, "impressions per finger")
	seed := fs.Uint64("seed", 1, "seed of the set")
	sensorName := fs.String("sensor", "optical", "sensor to render for: optical (500 ppi, 388x374, like FVC2002 DB1), r30x (508 ppi, 256x288, 4-bit) or fpc1020 (508 ppi, 192x192)")
	out := fs.String("o", "", "output directory (created if missing)")
	jobs := fs.Int("j", runtime.GOMAXPROCS(0), "fingers generated in parallel")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	switch {
	case fs.NArg() != 0:
		return usageError("unexpected argument %q", fs.Arg(0))
	case *out == "":
		return usageError("-o DIR is required")
	case *n < 1 || *n > 899:
		return usageError("-n %d: want 1 to 899 fingers (FVC names run 101..999)", *n)
	case *k < 1 || *k > 99:
		return usageError("-impressions %d: want 1 to 99", *k)
	case *jobs < 1:
		return usageError("-j %d: want at least 1", *jobs)
	}
	sensor, err := synth.ParseSensor(*sensorName)
	if err != nil {
		return usageError("%v", err)
	}
	gen, err := synth.New(&synth.Options{Sensor: sensor})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("cannot create output directory (check the path and permissions): %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(*jobs)
	for i := range *n {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			ts := synth.SetTraveller(*seed, i/10)
			f, err := gen.Traveller(ts).Finger(i%10 + 1)
			if err != nil {
				return err
			}
			for imp := 1; imp <= *k; imp++ {
				if err := gctx.Err(); err != nil {
					return err
				}
				name := fmt.Sprintf("%d_%d", 101+i, imp)
				if err := writeImpression(*out, name, f.Impression(uint64(imp)), 101+i, imp, ts); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := syncDir(*out); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "wrote %d fingers x %d impressions (%s) to %s\n", *n, *k, sensor, *out)
	return nil
}

// writeImpression writes NAME.png, NAME.json and NAME.ist into dir.
func writeImpression(dir, name string, im *synth.Impression, finger, imp int, traveller uint64) error {
	var img bytes.Buffer
	if err := synth.EncodePNG(&img, im.Image, im.PPI); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	tf := im.TruthFile()
	tf.Finger, tf.Impression, tf.TravellerSeed = finger, imp, traveller
	js, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return fmt.Errorf("%s: encoding ground truth: %w", name, err)
	}
	rec, err := im.Record()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	ist, err := fmr.Marshal(rec)
	if err != nil {
		return fmt.Errorf("%s: encoding ISO record: %w", name, err)
	}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".png", img.Bytes()}, {".json", append(js, '\n')}, {".ist", ist}} {
		if err := writeFileDurable(filepath.Join(dir, name+f.ext), f.data); err != nil {
			return err
		}
	}
	return nil
}

// writeFileDurable writes data to path through a temporary file in the same
// directory: write, fsync, rename. The caller fsyncs the directory.
func writeFileDurable(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("cannot write %s (check the directory is writable): %w", path, err)
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("cannot write %s (disk full or not writable?): %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory so that renames into it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("cannot open %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("cannot sync directory %s: %w", dir, err)
	}
	return nil
}
