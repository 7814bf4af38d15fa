package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"path/filepath"
	"time"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/cmd/internal/devices"
)

func runCaptureFinger(ctx context.Context, st *stdio, args []string) error {
	return runCapture(ctx, st, args, config.RoleFingerprint)
}

func runCaptureFace(ctx context.Context, st *stdio, args []string) error {
	return runCapture(ctx, st, args, config.RoleCamera)
}

func runCapture(ctx context.Context, st *stdio, args []string, role config.DeviceRole) error {
	name, what, ext := "capture finger", "a finger image (PNG, as the sensor delivers it)", "finger.png"
	if role == config.RoleCamera {
		name, what, ext = "capture face", "a face image (JPEG)", "face.jpg"
	}
	fs := newFlags(st, name, "", fmt.Sprintf(`Take %s from the configured device, real or
simulated, and write it to -o. For a finger, place it on the sensor when
asked. Errors say what to check: wrong port, permission (which group), no
answer (wiring and baud rate), wrong chip id.`, what))
	cfgPath := fs.String("config", defaultKioskConfig, "kioskd config file")
	out := fs.String("o", "", "output file, e.g. "+ext+" (required)")
	devName := fs.String("device", "", "device name (default: the config's "+string(role)+" device)")
	timeout := fs.Duration("timeout", 30*time.Second, "how long to wait for the capture")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -o FILE and no arguments")
	}
	devs, err := loadDevices(st.err, *cfgPath)
	if err != nil {
		return err
	}
	var cfg *config.Device
	for i, d := range devs {
		spec := config.Drivers[d.Driver]
		if (*devName != "" && d.Name == *devName) || (*devName == "" && spec.Role == role) {
			cfg = &devs[i]
			break
		}
	}
	if cfg == nil {
		if *devName != "" {
			return usageError("no device named %q in %s", *devName, *cfgPath)
		}
		return &exitError{code: 1, msg: fmt.Sprintf("%s configures no %s device", *cfgPath, role)}
	}
	dev, err := devices.Open(ctx, *cfg, nil)
	if err != nil {
		return err
	}
	defer dev.Close()
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	var data []byte
	var bounds image.Rectangle
	switch role {
	case config.RoleFingerprint:
		if dev.Finger == nil {
			return fmt.Errorf("device %s (%s) is not a fingerprint sensor", cfg.Name, cfg.Driver)
		}
		fmt.Fprintf(st.err, "place a finger on %s ...\n", cfg.Name)
		img, err := dev.Finger.CaptureImage(ctx)
		if err != nil {
			return fmt.Errorf("capturing from %s: %w", cfg.Name, err)
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		data, bounds = buf.Bytes(), img.Bounds()
	default:
		if dev.Camera == nil {
			return fmt.Errorf("device %s (%s) is not a camera", cfg.Name, cfg.Driver)
		}
		img, jpegData, err := dev.Camera.CaptureFrame(ctx)
		if err != nil {
			return fmt.Errorf("capturing from %s: %w", cfg.Name, err)
		}
		data, bounds, err = faceJPEG(img, jpegData)
		if err != nil {
			return fmt.Errorf("capturing from %s: %w", cfg.Name, err)
		}
	}
	if err := writeFileDurable(*out, data); err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(*out)); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "wrote %s: %dx%d from %s (%s, %s) in %v\n", *out, bounds.Dx(), bounds.Dy(), cfg.Name, dev.Info.Model, dev.Info.Link, time.Since(start).Round(time.Millisecond))
	return nil
}

// faceJPEG returns the camera's own JPEG when it has one (checking that it
// decodes), or the frame encoded as JPEG.
func faceJPEG(img image.Image, jpegData []byte) ([]byte, image.Rectangle, error) {
	if jpegData != nil {
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(jpegData))
		if err != nil {
			return nil, image.Rectangle{}, fmt.Errorf("the camera's JPEG does not decode: %w", err)
		}
		return jpegData, image.Rect(0, 0, cfg.Width, cfg.Height), nil
	}
	if img == nil {
		return nil, image.Rectangle{}, fmt.Errorf("the camera returned no frame")
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, img, &jpeg.Options{Quality: 92}); err != nil {
		return nil, image.Rectangle{}, err
	}
	return buf.Bytes(), img.Bounds(), nil
}
