package health

import (
	"context"
	"fmt"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

// NotifierOptions configures a Notifier.
type NotifierOptions struct {
	Logger *zap.Logger
	Clock  clock.Clock
	// Poll is how often readiness is checked before READY and between
	// watchdog pings when no watchdog is configured; default 200ms.
	Poll time.Duration
}

// Notifier speaks the systemd notify protocol for a Type=notify service:
// READY=1 once every component is ready, WATCHDOG=1 at half of
// WATCHDOG_USEC but only while every component is ready, STATUS= lines when
// readiness changes, and STOPPING=1 when the daemon shuts down. Without
// NOTIFY_SOCKET (not run by systemd) it does nothing.
type Notifier struct {
	reg  *Registry
	log  *zap.Logger
	clk  clock.Clock
	poll time.Duration
	send func(state string) (bool, error)
}

// NewNotifier returns a Notifier for reg.
func NewNotifier(reg *Registry, opts *NotifierOptions) *Notifier {
	if opts == nil {
		opts = &NotifierOptions{}
	}
	n := &Notifier{reg: reg, log: opts.Logger, clk: clock.OrReal(opts.Clock), poll: opts.Poll,
		send: func(state string) (bool, error) { return daemon.SdNotify(false, state) }}
	if n.log == nil {
		n.log = zap.NewNop()
	}
	if n.poll <= 0 {
		n.poll = 200 * time.Millisecond
	}
	return n
}

// Run notifies systemd until ctx is done, then sends STOPPING=1.
func (n *Notifier) Run(ctx context.Context) error {
	wd, err := daemon.SdWatchdogEnabled(false)
	if err != nil {
		n.log.Warn("systemd watchdog settings unreadable; not pinging", zap.Error(err))
		wd = 0
	}
	interval := n.poll
	if wd > 0 {
		interval = wd / 2
	}
	t := n.clk.NewTicker(min(interval, n.poll))
	defer t.Stop()
	readySent := false
	lastReady := true
	var lastPing time.Time
	for {
		rep := n.reg.Check()
		if rep.Ready && !readySent {
			if _, err := n.send(daemon.SdNotifyReady + "\nSTATUS=ready"); err != nil {
				n.log.Warn("systemd notify failed", zap.Error(err))
			}
			readySent, lastReady = true, true
			n.log.Info("ready")
		}
		if rep.Ready != lastReady && readySent {
			status := "STATUS=ready"
			if !rep.Ready {
				status = "STATUS=" + notReadyText(rep)
				n.log.Warn("not ready; systemd watchdog pings paused", zap.String("why", notReadyText(rep)))
			}
			_, _ = n.send(status)
		}
		if readySent {
			lastReady = rep.Ready
		}
		if wd > 0 && rep.Ready && n.clk.Since(lastPing) >= interval {
			if _, err := n.send(daemon.SdNotifyWatchdog); err != nil {
				n.log.Warn("systemd watchdog ping failed", zap.Error(err))
			}
			lastPing = n.clk.Now()
		}
		select {
		case <-ctx.Done():
			_, _ = n.send(daemon.SdNotifyStopping + "\nSTATUS=stopping")
			return nil
		case <-t.C():
		}
	}
}

func notReadyText(rep Report) string {
	for _, c := range rep.Components {
		if !c.Ready {
			return fmt.Sprintf("not ready: %s: %s", c.Name, c.Reason)
		}
	}
	return "not ready"
}
