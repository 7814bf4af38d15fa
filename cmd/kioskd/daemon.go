package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"

	"github.com/bali-rbdes/kiosk/agent/buildinfo"
	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/command"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/health"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/records"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/uplink"
)

// errConfig marks start-up failures caused by the config (exit status 2).
var errConfig = errors.New("config")

// daemonOptions are the test seams of the daemon.
type daemonOptions struct {
	Clock clock.Clock
	// ShutdownTimeout bounds how long components get to stop; default 8s,
	// inside systemd's default TimeoutStopSec.
	ShutdownTimeout time.Duration
	// DiskSpace measures the outbox's filesystem; default statfs.
	DiskSpace diskSpace
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
	// closers run after every component has stopped, last added first.
	closers []func() error

	bootEpoch uint64
	keys      *keys.Kiosk
	nodeKeys  *keys.NodeKeySet
	outbox    *outbox.Outbox
	// saver is what the capture workflow calls to keep a record.
	saver  *records.Saver
	uplink *uplink.Uplink // nil when no broker is configured
	// disk measures the filesystem the outbox is on.
	disk diskSpace
	// capture is the devices, the capture workflow and the officer API
	// (wiring_capture.go).
	capture *captureWiring
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
		disk:      opts.DiskSpace,
	}
	if d.disk == nil {
		d.disk = statDisk
	}
	if d.stopAfter <= 0 {
		d.stopAfter = 8 * time.Second
	}
	version, commit := buildinfo.Get()
	metrics := health.NewMetrics("kiosk", version, commit, d.reg)
	mux := health.Mux(d.reg, metrics)

	if err := d.wireRecords(metrics, version, commit); err != nil {
		d.close()
		return nil, err
	}
	if err := d.wireCapture(mux, metrics, version); err != nil {
		d.close()
		return nil, err
	}
	srv, err := health.NewServer(cfg.HTTP.Listen, mux, &health.ServerOptions{Logger: log})
	if err != nil {
		d.close()
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
		zap.Uint64("boot_epoch", d.bootEpoch), zap.String("device_key", d.keys.DeviceKeyID),
		zap.String("node_key", d.nodeKeys.Current().KeyID),
		zap.Int("devices", len(cfg.Devices)), zap.Bool("uplink", cfg.Uplink.Enabled()))
	return d, nil
}

// wireRecords loads the keys and opens what records go through: the state
// directory (boot epoch, node key set, command nonces, connect epoch), the
// sealer, the outbox, the saver and, when brokers are configured, the
// uplink. A problem with the config or the keys wraps errConfig (exit 2).
func (d *daemon) wireRecords(metrics prometheus.Registerer, version, commit string) error {
	cfg := d.cfg
	tlsKey := ""
	if cfg.Uplink.Enabled() && cfg.Uplink.KeyFile != "" {
		tlsKey = cfg.Uplink.KeyFile
	}
	k, err := keys.LoadKiosk(cfg.Keys, tlsKey)
	if err != nil {
		return fmt.Errorf("%w: the kiosk's keys (kioskctl provision makes them; check keys.* in the config): %w", errConfig, err)
	}
	d.keys = k
	state := cfg.State.Dir
	if err := os.MkdirAll(state, 0o700); err != nil {
		return fmt.Errorf("%w: cannot create the state directory %s (state.dir): %w", errConfig, state, err)
	}
	boots, err := uplink.OpenCounter(filepath.Join(state, "boot-epoch"))
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if d.bootEpoch, err = boots.Next(); err != nil {
		return fmt.Errorf("cannot count this boot: %w", err)
	}
	d.nodeKeys, err = keys.OpenNodeKeySet(filepath.Join(state, "node-keys.json"), k)
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	sealer, err := seal.New(cfg.Kiosk.ID, k.DeviceKeyID, k.DeviceKey, d.nodeKeys, &seal.Options{Clock: d.clk, BootEpoch: d.bootEpoch, Registerer: metrics})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	d.outbox, err = outbox.New(cfg.Outbox.Dir, &outbox.Options{
		MaxBytes:      int64(cfg.Outbox.MaxBytes),
		SegmentBytes:  int64(cfg.Outbox.SegmentBytes),
		MaxDeliveries: cfg.Outbox.MaxDeliveries,
		Window:        cfg.Uplink.InFlight,
		Clock:         d.clk,
		Logger:        d.log.Named("outbox"),
		Registerer:    metrics,
		OnAlarm: func(a outbox.Alarm) {
			d.log.Warn("outbox fill level", zap.Int("percent", a.Level), zap.Int64("used_bytes", a.UsedBytes), zap.Int64("max_bytes", a.MaxBytes))
		},
	})
	if err != nil {
		return fmt.Errorf("cannot open the outbox: %w", err)
	}
	d.closers = append(d.closers, d.outbox.Close)
	if _, size, err := d.disk(cfg.Outbox.Dir); err == nil && size < int64(cfg.Outbox.MaxBytes) {
		d.log.Warn("outbox.max_bytes is more than the filesystem holding the outbox: the disk fills first, and new sessions are refused when it does",
			zap.String("dir", cfg.Outbox.Dir), zap.Int64("max_bytes", int64(cfg.Outbox.MaxBytes)), zap.Int64("filesystem_bytes", size))
	}
	d.reg.Add("outbox", func() error { return nil })
	if d.saver, err = records.New(sealer, d.outbox); err != nil {
		return err
	}
	if !cfg.Uplink.Enabled() {
		d.log.Warn("no broker configured (uplink.brokers): records stay in the outbox")
		return nil
	}
	u := cfg.Uplink
	o := &uplink.Options{
		KioskID: cfg.Kiosk.ID, Country: cfg.Kiosk.Country, Site: cfg.Kiosk.Site, Brokers: u.Brokers,
		KeepAlive: u.KeepAlive, ConnectTimeout: u.ConnectTimeout, ReconnectMin: u.ReconnectMin, ReconnectMax: u.ReconnectMax,
		InFlight: u.InFlight, AckTimeout: u.AckTimeout, MaxDrops: u.MaxDrops, ResumeRate: u.ResumeRate, ResumeWindow: u.ResumeWindow,
		Heartbeat: u.Heartbeat, AckKeys: k.CommandKeys, NodeKeys: d.nodeKeys, BootEpoch: d.bootEpoch, Version: version, Commit: commit,
		Clock: d.clk, Logger: d.log.Named("uplink"), Registerer: metrics,
		OnAlarm: func(a uplink.Alarm) {
			d.log.Warn("uplink alarm", zap.String("alarm", a.Kind), zap.Bool("raised", a.Raised), zap.Uint64("seq", a.Seq), zap.String("message", a.Message))
		},
	}
	if !u.Insecure || u.CAFile != "" {
		if o.TLS, err = uplink.TLSConfig(u.CAFile, u.CertFile, u.KeyFile); err != nil {
			return fmt.Errorf("%w: %w", errConfig, err)
		}
	}
	if o.ConnectEpochs, err = uplink.OpenCounter(filepath.Join(state, "connect-epoch")); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	if len(k.CommandKeys) > 0 {
		nonces, err := command.OpenFileNonces(filepath.Join(state, "command-nonces.json"), 0)
		if err != nil {
			return fmt.Errorf("%w: %w", errConfig, err)
		}
		if o.Commands, err = command.NewVerifier(cfg.Kiosk.ID, k.CommandKeys, nonces, &command.Options{Clock: d.clk, Registerer: metrics}); err != nil {
			return fmt.Errorf("%w: %w", errConfig, err)
		}
	}
	// The capture workflow (wired after this) takes set_capture_policy,
	// reports device health, and hears of every ack.
	o.Policy, o.Devices = capturePolicy{d}, d.deviceHealth
	if d.uplink, err = uplink.New(ackQueue{d.outbox, d}, o); err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	d.reg.Add("uplink", d.uplink.Ready)
	d.add("uplink", d.uplink.Run)
	return nil
}

// close runs the closers, last added first.
func (d *daemon) close() error {
	var errs []error
	for i := len(d.closers) - 1; i >= 0; i-- {
		errs = append(errs, d.closers[i]())
	}
	d.closers = nil
	return errors.Join(errs...)
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
	go func() {
		err := g.Wait()
		if cerr := d.close(); cerr != nil {
			d.log.Error("closing", zap.Error(cerr))
			err = errors.Join(err, cerr)
		}
		done <- err
	}()
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
