package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/bali-rbdes/kiosk/agent/outbox"
)

func runOutboxStat(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "outbox stat", "DIR", "Show what the outbox in DIR holds: records waiting for delivery, bytes, the age of\nthe oldest unacknowledged record, dead letters and quarantined files. It reads\nonly (safe beside a running kioskd) and never prints record contents.")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want exactly one DIR")
	}
	rep, err := outbox.Inspect(fs.Arg(0), false)
	if err != nil {
		return err
	}
	if *asJSON {
		return writeJSON(st.out, rep)
	}
	printReport(st.out, rep, time.Now())
	return nil
}

func runOutboxVerify(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "outbox verify", "DIR", "Read every record of the outbox in DIR and check its CRC, and check the\nsegments, acknowledgement state and dead letters. Exit status 1 when anything\nis damaged (including files in quarantine), 0 otherwise. A torn tail (a record\nbeing written, or cut short by a crash) is reported but is not damage: the\nnext open cuts it. It reads only and never prints record contents.")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want exactly one DIR")
	}
	rep, err := outbox.Inspect(fs.Arg(0), true)
	if err != nil {
		return err
	}
	if *asJSON {
		if err := writeJSON(st.out, rep); err != nil {
			return err
		}
	} else {
		printReport(st.out, rep, time.Now())
	}
	if rep.Damaged() {
		return &exitError{code: 1, msg: fmt.Sprintf("%s is damaged (see the DAMAGE lines)", rep.Dir)}
	}
	if !*asJSON {
		fmt.Fprintln(st.out, "verify: every record's CRC checked, no damage")
	}
	return nil
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printReport(w io.Writer, r *outbox.Report, now time.Time) {
	fmt.Fprintf(w, "outbox %s\n", r.Dir)
	oldest := "none"
	if !r.OldestUnacked.IsZero() {
		oldest = fmt.Sprintf("appended %s, %s ago", r.OldestUnacked.Format(time.RFC3339), now.Sub(r.OldestUnacked).Round(time.Second))
	}
	var records int
	for _, s := range r.Segments {
		records += s.Records
	}
	fmt.Fprintf(w, "  records waiting  %d\n", r.Records)
	fmt.Fprintf(w, "  oldest unacked   %s\n", oldest)
	fmt.Fprintf(w, "  segments         %d files, %s, %d records on disk, last seq %d\n", len(r.Segments), byteSize(r.SegmentBytes), records, r.LastSeq)
	fmt.Fprintf(w, "  dead letters     %d (%s)\n", len(r.DeadLetters), byteSize(r.DeadLetterBytes))
	for _, d := range r.DeadLetters {
		fmt.Fprintf(w, "    seq %d, %d bytes, dead since %s: %s\n", d.Seq, d.Bytes, d.DeadAt.Format(time.RFC3339), d.Reason)
	}
	fmt.Fprintf(w, "  quarantined      %d files\n", len(r.Quarantined))
	for _, q := range r.Quarantined {
		fmt.Fprintf(w, "    %s\n", q)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
