// Command rbdes-node is the reference national-node consumer of the RBDES
// kiosk protocol: it subscribes to the kiosks' capture topics through a
// shared subscription, verifies and opens each sealed record, stores it
// exactly once and acknowledges it with a signed Ack (agent/node).
//
// Usage:
//
//	rbdes-node [-config FILE]                  run the node
//	rbdes-node kiosks [-config FILE] [-json]   per-kiosk view
//	rbdes-node export [-config FILE] -o DIR    stored templates and faces as files
//
// Exit status: 0 after a clean stop, 1 on a runtime failure, 2 on bad flags
// or an invalid config or keys.
package main

import (
	"context"
	"crypto/tls"
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
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/node"
	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/uplink"
)

const defaultConfig = "/etc/rbdes-node/rbdes-node.yaml"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		switch args[0] {
		case "kiosks":
			return runKiosks(ctx, args[1:], stdout, stderr)
		case "export":
			return runExport(ctx, args[1:], stdout, stderr)
		}
	}
	fs := flag.NewFlagSet("rbdes-node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", defaultConfig, "path of the YAML config file (example: firmware/rbdes-node.yaml)")
	check := fs.Bool("check", false, "validate the config and exit (0 valid, 2 invalid)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: rbdes-node [-config FILE] [-check] [-version]
       rbdes-node kiosks [-config FILE] [-json]
       rbdes-node export [-config FILE] -o DIR

The reference national node: consumes the kiosks' sealed records, stores them
exactly once and acknowledges them. Exit status: 0 clean stop, 1 runtime
failure, 2 bad flags, config or keys.

flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "rbdes-node: unknown command %q (want kiosks or export, or flags only)\n", fs.Arg(0))
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
	code, err := serve(ctx, cfg, log, v, commit)
	if err != nil {
		log.Error("stopped on failure", zap.Error(err))
		fmt.Fprintf(stderr, "rbdes-node: %v\n", err)
		return code
	}
	log.Info("stopped")
	return 0
}

// serve runs the node until ctx is done. The code is 2 for key and
// registry problems, 1 otherwise.
func serve(ctx context.Context, cfg *config.Node, log *zap.Logger, version, commit string) (int, error) {
	k, err := keys.LoadNode(cfg.Keys)
	if err != nil {
		return 2, fmt.Errorf("cannot start: %w", err)
	}
	if k.CommandKey == nil {
		return 2, errors.New("cannot start: keys.command_key is required: it signs every ack")
	}
	reg, err := nodeverify.LoadRegistry(cfg.Node.Registry)
	if err != nil {
		return 2, fmt.Errorf("cannot start: %w", err)
	}
	tc, err := brokerTLS(cfg.Broker)
	if err != nil {
		return 2, fmt.Errorf("cannot start: %w", err)
	}
	hreg := health.NewRegistry()
	metrics := health.NewMetrics("rbdes_node", version, commit, hreg)
	verifier, err := nodeverify.New(reg, k.OpenKeys, &nodeverify.Options{Registerer: metrics})
	if err != nil {
		return 2, fmt.Errorf("cannot start: %w", err)
	}
	store, err := node.Open(ctx, cfg.Store.Driver, cfg.Store.Path, cfg.Store.DSN)
	if err != nil {
		return 1, fmt.Errorf("cannot start: %w", err)
	}
	defer store.Close()
	n, err := node.New(verifier, store, &node.Options{
		NodeID: cfg.Node.ID, Country: cfg.Node.Country, ShareGroup: cfg.Broker.ShareGroup,
		Brokers: cfg.Broker.URLs, TLS: tc, ClientID: cfg.Broker.ClientID, KeepAlive: cfg.Broker.KeepAlive,
		AckKeyID: k.CommandKeyID, AckKey: k.CommandKey, Logger: log, Registerer: metrics,
	})
	if err != nil {
		return 2, fmt.Errorf("cannot start: %w", err)
	}
	srv, err := health.NewServer(cfg.HTTP.Listen, health.Mux(hreg, metrics), &health.ServerOptions{Logger: log})
	if err != nil {
		return 1, fmt.Errorf("cannot start: %w", err)
	}
	hreg.Add("mqtt", n.Ready)
	g, gctx := errgroup.WithContext(ctx)
	httpState := hreg.Component("http")
	g.Go(func() error { httpState.Set(nil); return srv.Run(gctx) })
	g.Go(func() error { return health.NewNotifier(hreg, &health.NotifierOptions{Logger: log}).Run(gctx) })
	g.Go(func() error { return n.Run(gctx) })
	log.Info("starting", zap.String("version", version), zap.String("node", cfg.Node.ID), zap.String("country", cfg.Node.Country),
		zap.String("store", store.Driver()), zap.Strings("brokers", cfg.Broker.URLs), zap.Stringer("http", srv.Addr()))
	if err := g.Wait(); err != nil {
		return 1, err
	}
	return 0, nil
}

// brokerTLS builds the node's mutual TLS configuration from the broker
// section; nil for an insecure development broker without a CA file.
func brokerTLS(b config.NodeBroker) (*tls.Config, error) {
	if b.Insecure && b.CAFile == "" {
		return nil, nil
	}
	return uplink.TLSConfig(b.CAFile, b.CertFile, b.KeyFile)
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
