// Command rbdes-node is the reference national-node consumer of the RBDES
// kiosk protocol: it subscribes to the kiosks' capture topics through a
// shared subscription, verifies and opens each sealed record, stores it
// exactly once and acknowledges it.
//
// Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad flags
// or an invalid config.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"golang.org/x/sync/errgroup"

	"github.com/bali-rbdes/kiosk/agent/buildinfo"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/health"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rbdes-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "/etc/rbdes-node/rbdes-node.yaml", "path of the YAML config file (example: firmware/rbdes-node.yaml)")
	check := fs.Bool("check", false, "validate the config and exit (0 valid, 2 invalid)")
	version := fs.Bool("version", false, "print the version and exit")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	v, commit := buildinfo.Get()
	if *version {
		fmt.Fprintf(stdout, "rbdes-node %s (commit %s)\n", v, commit)
		return 0
	}
	cfg, err := config.LoadNode(*cfgPath)
	if err != nil {
		fmt.Fprintf(stderr, "rbdes-node: %v\n", err)
		return 2
	}
	if *check {
		fmt.Fprintf(stdout, "%s: valid\n", *cfgPath)
		return 0
	}
	log, err := newLogger(cfg.Log, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "rbdes-node: %v\n", err)
		return 2
	}
	defer func() { _ = log.Sync() }()

	reg := health.NewRegistry()
	srv, err := health.NewServer(cfg.HTTP.Listen, health.Mux(reg, health.NewMetrics("rbdes_node", v, commit, reg)), &health.ServerOptions{Logger: log})
	if err != nil {
		log.Error("cannot start", zap.Error(err))
		return 1
	}
	g, gctx := errgroup.WithContext(ctx)
	httpState := reg.Component("http")
	g.Go(func() error { httpState.Set(nil); return srv.Run(gctx) })
	g.Go(func() error { return health.NewNotifier(reg, &health.NotifierOptions{Logger: log}).Run(gctx) })
	log.Info("starting", zap.String("version", v), zap.String("node", cfg.Node.ID), zap.String("country", cfg.Node.Country))
	if err := g.Wait(); err != nil {
		log.Error("stopped on failure", zap.Error(err))
		return 1
	}
	log.Info("stopped")
	return 0
}

func newLogger(c config.Log, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(c.Level)
	if err != nil {
		return nil, fmt.Errorf("log.level %q: %w", c.Level, err)
	}
	ec := zap.NewProductionEncoderConfig()
	ec.EncodeTime = zapcore.ISO8601TimeEncoder
	enc := zapcore.NewJSONEncoder(ec)
	if c.Format == "console" {
		dc := zap.NewDevelopmentEncoderConfig()
		dc.EncodeTime = zapcore.TimeEncoderOfLayout(time.TimeOnly)
		enc = zapcore.NewConsoleEncoder(dc)
	}
	return zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(w)), lvl)).Named("rbdes-node"), nil
}
