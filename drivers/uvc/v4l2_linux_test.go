//go:build linux

package uvc_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/drivers/uvc"
)

// TestV4L2Device runs against a real camera only when KIOSK_UVC_DEVICE
// names one (for example /dev/video0 with a UVC camera or the vivid test
// driver loaded); go test ./... never opens /dev otherwise.
func TestV4L2Device(t *testing.T) {
	path := os.Getenv("KIOSK_UVC_DEVICE")
	if path == "" {
		t.Skip("set KIOSK_UVC_DEVICE=/dev/videoN to test a real camera")
	}
	dev, err := uvc.Open(path)
	if err != nil {
		t.Fatalf("Open(%s) = %v", path, err)
	}
	defer func() {
		if err := dev.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}()
	t.Logf("camera: %s", dev.Name())
	formats, err := dev.Formats()
	if err != nil {
		t.Fatalf("Formats = %v", err)
	}
	for f, sizes := range formats {
		t.Logf("  %s: %v", f, sizes)
	}
	cam, err := uvc.New(dev, &uvc.Options{Width: 640, Height: 480})
	if err != nil {
		t.Fatalf("New = %v", err)
	}
	img, err := cam.Capture(context.Background())
	if err != nil {
		t.Fatalf("Capture = %v", err)
	}
	t.Logf("captured %v", img.Bounds())
	if err := cam.Close(); err != nil {
		t.Errorf("camera Close = %v", err)
	}
}

// Open names the problem without touching any real device.
func TestOpenMissingDevice(t *testing.T) {
	_, err := uvc.Open(t.TempDir() + "/video9")
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "is the camera plugged in") {
		t.Errorf("Open(missing) = %v, want a not-exist error with a hint", err)
	}
}
