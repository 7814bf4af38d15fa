// Command kioskd is the kiosk agent daemon. It reads one YAML config file,
// drives the kiosk's devices, runs the capture workflow, keeps sealed records
// in the durable outbox and forwards them to the national node over MQTT.
//
// Exit status: 0 after a clean stop (SIGINT or SIGTERM), 1 on a runtime
// failure, 2 on bad flags or an invalid config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"

	"github.com/bali-rbdes/kiosk/agent/buildinfo"
	"github.com/bali-rbdes/kiosk/agent/config"
)

func main() {
	// kioskd lives in a 40 MB budget on the kiosk's board: the heap may
	// grow to 1.5 times the live data between collections rather than 2
	// times, unless GOGC says otherwise (measured by make soak-capture).
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(50)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is main without the process: it returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("kioskd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/kiosk/kioskd.yaml", "path of the YAML config file (example: firmware/kioskd.yaml)")
	check := fs.Bool("check", false, "validate the config and exit (0 valid, 2 invalid)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: kioskd [-config FILE] [-check] [-version]\n\nThe kiosk agent daemon. Exit status: 0 clean stop, 1 runtime failure, 2 bad flags or config.\n\nflags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "kioskd: unexpected arguments %q; kioskd takes flags only\n", fs.Args())
		return 2
	}
	v, commit := buildinfo.Get()
	if *version {
		fmt.Fprintf(stdout, "kioskd %s (commit %s)\n", v, commit)
		return 0
	}
	cfg, err := config.LoadKiosk(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "kioskd: %v\n", err)
		return 2
	}
	if *check {
		fmt.Fprintf(stdout, "%s: valid\n", *cfgPath)
		return 0
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "kioskd: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()

	d, err := newDaemon(cfg, log, nil)
	if err != nil {
		log.Error("cannot start", errField(err))
		fmt.Fprintf(stderr, "kioskd: cannot start: %v\n", err)
		if errors.Is(err, errConfig) {
			return 2
		}
		return 1
	}
	if err := d.Run(ctx); err != nil {
		log.Error("stopped on failure", errField(err))
		return 1
	}
	log.Info("stopped")
	return 0
}
