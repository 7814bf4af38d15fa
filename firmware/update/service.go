package update

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
)

// ServiceManager is what the updater needs of systemd. Systemd is the real
// one; tests use a fake that plays kioskd's behaviour.
type ServiceManager interface {
	// Reload makes the service manager and udev read the units, users,
	// tmpfiles and rules again after "current" changed.
	Reload(ctx context.Context) error
	// Restart restarts unit without waiting for it, clearing a failed
	// state first.
	Restart(ctx context.Context, unit string) error
	// State reports the unit's state.
	State(ctx context.Context, unit string) (UnitState, error)
}

// UnitState is a unit's state as systemctl show reports it.
type UnitState struct {
	// Active is ActiveState: active, activating, deactivating, inactive,
	// failed or reloading. A Type=notify service is active only after it
	// sent READY=1.
	Active string
	// Sub is SubState (running, auto-restart, start, ...).
	Sub string
	// InvocationID changes at every start of the unit.
	InvocationID string
	// Restarts is NRestarts: automatic restarts (Restart=) counted by
	// systemd.
	Restarts int
}

// Systemd drives the real service manager through systemctl, and udev
// through udevadm.
type Systemd struct {
	// Run runs a command and returns its standard output; nil runs it
	// with os/exec.
	Run func(ctx context.Context, name string, args ...string) ([]byte, error)
}

func (s *Systemd) run(ctx context.Context, name string, args ...string) ([]byte, error) {
	if s.Run != nil {
		return s.Run(ctx, name, args...)
	}
	cmd := exec.CommandContext(ctx, name, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Reload creates users and groups (systemd-sysusers) and directories
// (systemd-tmpfiles) a new bundle declares, reloads systemd's units and
// udev's rules, and re-applies the rules to the devices kioskd uses.
func (s *Systemd) Reload(ctx context.Context) error {
	steps := [][]string{
		{"systemd-sysusers"},
		{"systemd-tmpfiles", "--create"},
		{"systemctl", "daemon-reload"},
		{"udevadm", "control", "--reload"},
		{"udevadm", "trigger", "--action=change", "--subsystem-match=tty", "--subsystem-match=video4linux",
			"--subsystem-match=spidev", "--subsystem-match=i2c-dev", "--subsystem-match=gpio"},
	}
	for _, st := range steps {
		if _, err := s.run(ctx, st[0], st[1:]...); err != nil {
			return fmt.Errorf("update: reloading the system after switching slots: %w", err)
		}
	}
	return nil
}

// Restart resets a failed unit and restarts it without waiting.
func (s *Systemd) Restart(ctx context.Context, unit string) error {
	_, _ = s.run(ctx, "systemctl", "reset-failed", unit)
	if _, err := s.run(ctx, "systemctl", "restart", "--no-block", unit); err != nil {
		return fmt.Errorf("update: cannot restart %s: %w", unit, err)
	}
	return nil
}

// State runs systemctl show.
func (s *Systemd) State(ctx context.Context, unit string) (UnitState, error) {
	out, err := s.run(ctx, "systemctl", "show", "-p", "ActiveState,SubState,InvocationID,NRestarts", unit)
	if err != nil {
		return UnitState{}, fmt.Errorf("update: cannot read the state of %s: %w", unit, err)
	}
	return parseShow(out)
}

func parseShow(out []byte) (UnitState, error) {
	var st UnitState
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if !ok {
			continue
		}
		switch k {
		case "ActiveState":
			st.Active = v
		case "SubState":
			st.Sub = v
		case "InvocationID":
			st.InvocationID = v
		case "NRestarts":
			n, err := strconv.Atoi(v)
			if err != nil {
				return st, fmt.Errorf("update: systemctl show: NRestarts=%q is not a number", v)
			}
			st.Restarts = n
		}
	}
	if st.Active == "" {
		return st, fmt.Errorf("update: systemctl show printed no ActiveState (is systemd running?)")
	}
	return st, nil
}
