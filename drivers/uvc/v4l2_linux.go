//go:build linux

package uvc

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/blackjack/webcam"
)

// Device is a V4L2 camera opened with github.com/blackjack/webcam. It
// implements FrameSource. Close it when done.
type Device struct {
	mu        sync.Mutex
	path      string
	cam       *webcam.Webcam
	streaming bool
}

// buffers is how many frame buffers the kernel maps: enough to stream
// without drops, instead of the library's default of 256.
const buffers = 4

// Open opens the V4L2 device at path (/dev/video0), checking that it
// captures video and streams.
func Open(path string) (*Device, error) {
	cam, err := openCam(path)
	if err != nil {
		return nil, err
	}
	return &Device{path: path, cam: cam}, nil
}

func openCam(path string) (*webcam.Webcam, error) {
	cam, err := webcam.Open(path)
	if err == nil {
		return cam, nil
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("uvc: %s does not exist (is the camera plugged in? ls /dev/video* lists the video devices): %w", path, err)
	case errors.Is(err, os.ErrPermission):
		return nil, fmt.Errorf("uvc: no permission to open %s (add the kiosk user to the video group, or check the udev rule): %w", path, err)
	case errors.Is(err, syscall.EBUSY):
		return nil, fmt.Errorf("uvc: %s is busy (another program is streaming from it): %w", path, err)
	}
	return nil, fmt.Errorf("uvc: opening %s: %v (UVC cameras expose a second /dev/video node for metadata that cannot capture; use the first): %w", path, err, ErrNoFormat)
}

// Name returns the device's name and bus, as the kernel reports them.
func (d *Device) Name() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cam == nil {
		return d.path
	}
	name, _ := d.cam.GetName()
	bus, _ := d.cam.GetBusInfo()
	return fmt.Sprintf("%s (%s, %s)", name, bus, d.path)
}

// Formats implements FrameSource.
func (d *Device) Formats() (map[PixelFormat][]FrameSize, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cam == nil {
		return nil, fmt.Errorf("uvc: %s is closed: %w", d.path, ErrGone)
	}
	out := map[PixelFormat][]FrameSize{}
	for f := range d.cam.GetSupportedFormats() {
		for _, s := range d.cam.GetSupportedFrameSizes(f) {
			out[PixelFormat(f)] = append(out[PixelFormat(f)], FrameSize{
				MinW: int(s.MinWidth), MaxW: int(s.MaxWidth), StepW: int(s.StepWidth),
				MinH: int(s.MinHeight), MaxH: int(s.MaxHeight), StepH: int(s.StepHeight),
			})
		}
	}
	return out, nil
}

// Start implements FrameSource. After the device went away it reopens the
// path first.
func (d *Device) Start(f PixelFormat, w, h int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cam == nil {
		cam, err := openCam(d.path)
		if err != nil {
			return fmt.Errorf("%w: %w", err, ErrGone)
		}
		d.cam = cam
	}
	// SetImageFormat returns the size asked for, not the one the driver
	// set (blackjack/webcam v0.6.1); sizes come from the device's own list,
	// and DecodeYUYV checks each frame's length.
	got, _, _, err := d.cam.SetImageFormat(webcam.PixelFormat(f), uint32(w), uint32(h))
	if err != nil {
		return d.failed(fmt.Errorf("uvc: setting %s %dx%d on %s: %w", f, w, h, d.path, err))
	}
	if PixelFormat(got) != f {
		return fmt.Errorf("uvc: %s switched to %s when asked for %s: %w", d.path, PixelFormat(got), f, ErrNoFormat)
	}
	if err := d.cam.SetBufferCount(buffers); err != nil {
		return fmt.Errorf("uvc: %s: %w", d.path, err)
	}
	if err := d.cam.StartStreaming(); err != nil {
		return d.failed(fmt.Errorf("uvc: starting the stream on %s: %w", d.path, err))
	}
	d.streaming = true
	return nil
}

// Frame implements FrameSource. webcam's WaitForFrame counts whole
// seconds, so the wait is rounded up to a second; ReadFrame hands back a
// buffer the kernel reuses at once, so the frame is copied out between
// GetFrame and ReleaseFrame instead.
func (d *Device) Frame(timeout time.Duration) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cam == nil || !d.streaming {
		return nil, fmt.Errorf("uvc: %s is not streaming: %w", d.path, ErrGone)
	}
	secs := uint32(max(1, (timeout+time.Second-1)/time.Second))
	deadline := time.Now().Add(timeout)
	for {
		err := d.cam.WaitForFrame(secs)
		var te *webcam.Timeout
		if errors.As(err, &te) {
			return nil, fmt.Errorf("uvc: %s sent no frame in %s: %w", d.path, timeout, ErrTimeout)
		}
		if err != nil {
			return nil, d.failed(fmt.Errorf("uvc: waiting for a frame on %s: %w", d.path, err))
		}
		buf, index, err := d.cam.GetFrame()
		if errors.Is(err, syscall.EAGAIN) {
			if time.Now().After(deadline) {
				return nil, fmt.Errorf("uvc: %s sent no frame in %s: %w", d.path, timeout, ErrTimeout)
			}
			continue // woken without a frame
		}
		if err != nil {
			return nil, d.failed(fmt.Errorf("uvc: dequeuing a frame on %s: %w", d.path, err))
		}
		frame := append([]byte(nil), buf...)
		if err := d.cam.ReleaseFrame(index); err != nil {
			return nil, d.failed(fmt.Errorf("uvc: re-queuing a buffer on %s: %w", d.path, err))
		}
		return frame, nil
	}
}

// failed closes the device when err says it went away, so the next Start
// reopens it, and marks err with ErrGone.
func (d *Device) failed(err error) error {
	if errors.Is(err, syscall.ENODEV) || errors.Is(err, syscall.EIO) || errors.Is(err, syscall.ENXIO) {
		_ = d.cam.Close()
		d.cam, d.streaming = nil, false
		return fmt.Errorf("%w: %w", err, ErrGone)
	}
	return err
}

// Stop implements FrameSource.
func (d *Device) Stop() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cam == nil || !d.streaming {
		return nil
	}
	d.streaming = false
	if err := d.cam.StopStreaming(); err != nil {
		return fmt.Errorf("uvc: stopping the stream on %s: %w", d.path, err)
	}
	return nil
}

// Close stops streaming and closes the device.
func (d *Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.cam == nil {
		return nil
	}
	if d.streaming {
		_ = d.cam.StopStreaming()
		d.streaming = false
	}
	err := d.cam.Close()
	d.cam = nil
	if err != nil {
		return fmt.Errorf("uvc: closing %s: %w", d.path, err)
	}
	return nil
}

var _ FrameSource = (*Device)(nil)
