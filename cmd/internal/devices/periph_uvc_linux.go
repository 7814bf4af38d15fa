//go:build linux

package devices

import (
	"context"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/drivers/uvc"
)

func openUVC(_ context.Context, cfg config.Device, env *Env, dev *Device) error {
	o := &options{cfg: cfg}
	uo := uvcOptions(o)
	checkFormat(o, uo)
	if err := o.err(); err != nil {
		return err
	}
	d, err := uvc.Open(cfg.Port)
	if err != nil {
		return err
	}
	dev.OnClose(d.Close)
	uo.Logger = env.Logger.Named(cfg.Name)
	if err := attachUVC(dev, d, d.Name(), uo); err != nil {
		return err
	}
	dev.Info.Firmware = "not reported (V4L2 gives the name and bus only)"
	return nil
}
