package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/node"
)

// openStore reads the config and opens its store for a subcommand.
func openStore(ctx context.Context, name string, args []string, stderr io.Writer, extra func(fs *flag.FlagSet)) (*node.Store, *flag.FlagSet, int) {
	fs := flag.NewFlagSet("rbdes-node "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfig, "path of the YAML config file")
	if extra != nil {
		extra(fs)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, nil, 0
		}
		return nil, nil, 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rbdes-node %s: unexpected arguments %q\n", name, fs.Args())
		return nil, nil, 2
	}
	cfg, err := config.LoadNode(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "rbdes-node %s: %v\n", name, err)
		return nil, nil, 2
	}
	s, err := node.Open(ctx, cfg.Store.Driver, cfg.Store.Path, cfg.Store.DSN)
	if err != nil {
		fmt.Fprintf(stderr, "rbdes-node %s: %v\n", name, err)
		return nil, nil, 1
	}
	return s, fs, -1
}

// runKiosks prints the per-kiosk view.
func runKiosks(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var asJSON *bool
	s, _, code := openStore(ctx, "kiosks", args, stderr, func(fs *flag.FlagSet) {
		asJSON = fs.Bool("json", false, "print JSON instead of a table")
	})
	if s == nil {
		return code
	}
	defer s.Close()
	views, err := s.Kiosks(ctx)
	if err != nil {
		fmt.Fprintf(stderr, "rbdes-node kiosks: %v\n", err)
		return 1
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(views); err != nil {
			fmt.Fprintf(stderr, "rbdes-node kiosks: %v\n", err)
			return 1
		}
		return 0
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "KIOSK\tSTATE\tLAST SEEN\tRECORDS\tLAST SEQ\tLAG\tQUEUE\tOLDEST\tDEAD\tGAPS\tEPOCH\tALARMS")
	for _, v := range views {
		state := "offline"
		if v.Online {
			state = "online"
		}
		var gaps []string
		for _, g := range v.Gaps {
			gaps = append(gaps, g.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%s\t%d\t%s\t%d\t%s\t%d/%d\t%s\n", v.ID, state, ago(now, v.LastSeen), v.Records, v.LastSeq,
			v.Lag.Round(time.Millisecond), v.QueueDepth, v.OldestUnacked.Round(time.Second), v.DeadLetters, orDash(strings.Join(gaps, ",")),
			v.BootEpoch, v.ConnectEpoch, orDash(strings.Join(v.Alarms, "; ")))
	}
	if err := tw.Flush(); err != nil {
		return 1
	}
	return 0
}

func ago(now, t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return now.Sub(t).Round(time.Second).String() + " ago"
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// runExport writes the stored templates and faces as files.
func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var out *string
	s, _, code := openStore(ctx, "export", args, stderr, func(fs *flag.FlagSet) {
		out = fs.String("o", "", "directory to write KIOSK/RECORD-ID/ folders into (required)")
	})
	if s == nil {
		return code
	}
	defer s.Close()
	if *out == "" {
		fmt.Fprintln(stderr, "rbdes-node export: -o DIR is required")
		return 2
	}
	st, err := s.Export(ctx, *out)
	if err != nil {
		fmt.Fprintf(stderr, "rbdes-node export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d records: %d templates, %d face records, %d images written to %s\n", st.Records, st.Templates, st.Faces, st.Images, *out)
	return 0
}
