package main

import (
	"context"
	"fmt"
	"os"

	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/matcher"
)

func runMatch(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "match", "A.ist B.ist", `Compare two finger minutiae records (ISO/IEC 19794-2:2005 or ANSI INCITS
378-2004, any resolution) with the Minutia Cylinder-Code matcher and print their
similarity, a number from 0 (nothing in common) to 1 (same impression), alone
on the last line. With -v, a line per record comes first on stderr.`)
	viewA := fs.Int("view-a", 0, "finger view of A to compare (records may hold several)")
	viewB := fs.Int("view-b", 0, "finger view of B to compare")
	verbose := fs.Bool("v", false, "describe the records on stderr")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return usageError("want exactly two records, A.ist and B.ist")
	}
	m := matcher.Default()
	var ts [2]*matcher.Template
	for i, view := range []int{*viewA, *viewB} {
		path := fs.Arg(i)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rec, err := fmr.Unmarshal(data)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		t, err := m.PrepareRecord(rec, view)
		if err != nil {
			return fmt.Errorf("%s: %w", path, err)
		}
		if *verbose {
			fmt.Fprintf(st.err, "%s: %v, %dx%d at %d ppi, view %d of %d: %d minutiae, %d usable\n",
				path, rec.Format, rec.Width, rec.Height, rec.PPI(), view, len(rec.Views), len(rec.Views[view].Minutiae), t.Usable())
		}
		ts[i] = t
	}
	fmt.Fprintf(st.out, "%.4f\n", m.Score(ts[0], ts[1]))
	return nil
}
