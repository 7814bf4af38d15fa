package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/bali-rbdes/kiosk/agent/buildinfo"
	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/health"
)

// errConfig marks start-up failures caused by the config (exit status 2).
var errConfig = errors.New("config")

// daemonOptions are the test seams of the daemon.
type daemonOptions struct {
	Clock clock.Clock
	// ShutdownTimeout bounds how long components get to stop; default 8s,
	// inside systemd's default TimeoutStopSec.
	ShutdownTimeout time.Duration
}

// component is one long-lived part of the daemon.
type component struct {
	name string
	run  func(ctx context.Context) error
}

// daemon is kioskd's wiring: it owns every component and runs them under
// one errgroup.
type daemon struct {
	cfg        *config.Kiosk
	log        *zap.Logger
	clk        clock.Clock
	reg        *health.Registry
	http       *health.Server
	components []component
	stopAfter  time.Duration
}

func newDaemon(cfg *config.Kiosk, log *zap.Logger, opts *daemonOptions) (*daemon, error) {
	if opts == nil {
		opts = &daemonOptions{}
	}
	d := &daemon{
		cfg:       cfg,
		log:       log,
		clk:       clock.OrReal(opts.Clock),
		reg:       health.NewRegistry(),
		stopAfter: opts.ShutdownTimeout,
	}
	if d.stopAfter <= 0 {
		d.stopAfter = 8 * time.Second
	}
	version, commit := buildinfo.Get()
	metrics := health.NewMetrics("kiosk", version, commit, d.reg)
	mux := health.Mux(d.reg, metrics)

	srv, err := health.NewServer(cfg.HTTP.Listen, mux, &health.ServerOptions{Logger: log})
	if err != nil {
		return nil, err
	}
	d.http = srv
	httpState := d.reg.Component("http")
	d.add("http", func(ctx context.Context) error {
		httpState.Set(nil)
		return srv.Run(ctx)
	})
	notifier := health.NewNotifier(d.reg, &health.NotifierOptions{Logger: log, Clock: d.clk})
	d.add("systemd", notifier.Run)

	log.Info("starting",
		zap.String("version", version), zap.String("commit", commit),
		zap.String("kiosk", cfg.Kiosk.ID), zap.String("country", cfg.Kiosk.Country),
		zap.Int("devices", len(cfg.Devices)), zap.Bool("uplink", cfg.Uplink.Enabled()))
	return d, nil
}

func (d *daemon) add(name string, run func(ctx context.Context) error) {
	d.components = append(d.components, component{name: name, run: run})
}

// Run runs every component until ctx is done or one fails, then stops them
// all. It returns nil on a clean stop. If the components do not stop within
// the shutdown timeout, Run gives up on them and returns an error.
func (d *daemon) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, c := range d.components {
		g.Go(func() error {
			err := c.run(gctx)
			if err != nil && !errors.Is(err, context.Canceled) {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			return nil
		})
	}
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		return err
	case <-gctx.Done():
	}
	if ctx.Err() != nil {
		d.log.Info("stopping", zap.Duration("timeout", d.stopAfter))
	}
	t := d.clk.NewTimer(d.stopAfter)
	defer t.Stop()
	select {
	case err := <-done:
		return err
	case <-t.C():
		return fmt.Errorf("components did not stop within %v; abandoning them", d.stopAfter)
	}
}
