package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/cmd/internal/devices"
	"go.yaml.in/yaml/v3"
)

// defaultKioskConfig is where kioskd's config lives on a kiosk.
const defaultKioskConfig = "/etc/kiosk/kioskd.yaml"

func runProbe(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "probe", "", `Open every device in the kioskd config, real or simulated, and print what
it reports: model, firmware, serial number, link (port and speed) and
parameters. A device that fails is reported with the reason and what to
check (wrong port, permission and which group, no answer, wrong chip id);
the others are still probed. Exit status 1 if any device failed.`)
	cfgPath := fs.String("config", defaultKioskConfig, "kioskd config file")
	only := fs.String("device", "", "probe only the device with this name")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return usageError("probe takes no arguments")
	}
	devs, err := loadDevices(st.err, *cfgPath)
	if err != nil {
		return err
	}
	failed, probed := 0, 0
	for _, d := range devs {
		if *only != "" && d.Name != *only {
			continue
		}
		probed++
		if err := probeOne(ctx, st.out, d); err != nil {
			failed++
		}
	}
	if *only != "" && probed == 0 {
		return usageError("no device named %q in %s", *only, *cfgPath)
	}
	if probed == 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%s configures no devices", *cfgPath)}
	}
	if failed > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d devices failed", failed, probed)}
	}
	return nil
}

func probeOne(ctx context.Context, w io.Writer, d config.Device) error {
	dev, err := devices.Open(ctx, d, nil)
	if err != nil {
		fmt.Fprintf(w, "%s: %s: FAILED\n  %v\n\n", d.Name, d.Driver, err)
		return err
	}
	defer dev.Close()
	in := dev.Info
	fmt.Fprintf(w, "%s: %s: ok\n", d.Name, d.Driver)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(w, "  %-16s %s\n", k, v)
		}
	}
	row("role", string(dev.Role))
	row("model", in.Model)
	row("firmware", in.Firmware)
	row("serial", in.Serial)
	row("link", in.Link)
	for _, p := range in.Params {
		row(p.Name, p.Value)
	}
	fmt.Fprintln(w)
	return nil
}

// loadDevices reads the device list of a kioskd config. The devices must
// be valid; problems elsewhere in the file (keys not provisioned yet, say)
// are reported as a note and do not stop a technician from probing.
func loadDevices(warn io.Writer, path string) ([]config.Device, error) {
	c, err := config.LoadKiosk(path)
	if err == nil {
		return c.Devices, nil
	}
	var ce *config.Error
	if !errors.As(err, &ce) {
		return nil, err
	}
	var devProbs, other []string
	for _, p := range ce.Problems {
		if strings.HasPrefix(p.Field, "devices") || p.Field == "(file)" {
			devProbs = append(devProbs, "  "+p.String())
		} else {
			other = append(other, p.Field)
		}
	}
	if len(devProbs) > 0 {
		return nil, &exitError{code: 1, msg: fmt.Sprintf("%s: the devices section has problems:\n%s", path, strings.Join(devProbs, "\n"))}
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	lenient := config.DefaultKiosk()
	if err := yaml.Unmarshal(data, lenient); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	fmt.Fprintf(warn, "note: %s has %d problems outside the devices section (%s); run kioskctl config check. Using the devices section anyway.\n",
		path, len(other), strings.Join(other, ", "))
	return lenient.Devices, nil
}
