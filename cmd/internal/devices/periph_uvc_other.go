//go:build !linux

package devices

import (
	"context"
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/config"
)

func openUVC(context.Context, config.Device, *Env, *Device) error {
	return fmt.Errorf("uvc cameras are read through V4L2, which needs Linux: %w", ErrUnavailable)
}
