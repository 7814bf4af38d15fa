package devices

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/config"
)

// options reads a Device's driver options, collecting every bad value.
type options struct {
	cfg  config.Device
	errs []string
}

func (o *options) bad(key, val, want string) {
	o.errs = append(o.errs, fmt.Sprintf("options.%s %q: want %s", key, val, want))
}

func (o *options) str(key, def string) string {
	if v, ok := o.cfg.Options[key]; ok && v != "" {
		return v
	}
	return def
}

func (o *options) int(key string, def, lo, hi int) int {
	v, ok := o.cfg.Options[key]
	if !ok || v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		o.bad(key, v, fmt.Sprintf("a whole number from %d to %d", lo, hi))
		return def
	}
	return n
}

func (o *options) uint64(key string, def uint64) uint64 {
	v, ok := o.cfg.Options[key]
	if !ok || v == "" {
		return def
	}
	n, err := strconv.ParseUint(v, 0, 64)
	if err != nil {
		o.bad(key, v, "a whole number")
		return def
	}
	return n
}

// hex32 reads a 32-bit value written in hex, with or without 0x
// ("FFFFFFFF", "0x00000000"), as module addresses and passwords are.
func (o *options) hex32(key string, def uint32) uint32 {
	v, ok := o.cfg.Options[key]
	if !ok || v == "" {
		return def
	}
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimPrefix(v, "0x"), "0X"), 16, 32)
	if err != nil {
		o.bad(key, v, "up to 8 hex digits, e.g. FFFFFFFF")
		return def
	}
	return uint32(n)
}

func (o *options) duration(key string, def time.Duration) time.Duration {
	v, ok := o.cfg.Options[key]
	if !ok || v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		o.bad(key, v, "a positive duration such as 500ms or 2s")
		return def
	}
	return d
}

func (o *options) err() error {
	if len(o.errs) == 0 {
		return nil
	}
	return fmt.Errorf("bad options: %s", strings.Join(o.errs, "; "))
}
