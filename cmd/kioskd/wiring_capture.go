package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/draw"
	"image/jpeg"
	"net/http"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/capture"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/fac"
	"github.com/bali-rbdes/kiosk/agent/face"
	"github.com/bali-rbdes/kiosk/agent/fmr"
	"github.com/bali-rbdes/kiosk/agent/minutiae"
	"github.com/bali-rbdes/kiosk/agent/officer"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/records"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	"github.com/bali-rbdes/kiosk/cmd/internal/devices"
	"github.com/bali-rbdes/kiosk/drivers/gt521"
	"github.com/bali-rbdes/kiosk/drivers/illumination"
	"github.com/bali-rbdes/kiosk/drivers/presence"
	"github.com/bali-rbdes/kiosk/drivers/r30x"
	"github.com/bali-rbdes/kiosk/drivers/statusled"
	"github.com/bali-rbdes/kiosk/drivers/tamper"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// captureWiring is the capture side of kioskd: the configured devices, the
// capture workflow over them, and the officer API.
type captureWiring struct {
	wf      *capture.Workflow
	events  *capture.Stream
	devices []*deviceState
}

// deviceState is an opened device and its health as the officer API and
// the uplink's status messages report it.
type deviceState struct {
	dev *devices.Device

	mu     sync.Mutex
	ok     bool
	detail string
}

func (s *deviceState) set(ok bool, detail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ok, s.detail = ok, detail
}

func (s *deviceState) health() (bool, string) {
	s.mu.Lock()
	ok, detail := s.ok, s.detail
	s.mu.Unlock()
	if sw, isTamper := s.dev.Dev.(*tamper.Switch); isTamper {
		switch {
		case sw.Open():
			return false, "enclosure open"
		case sw.Tampered():
			return false, "enclosure was opened since start"
		}
	}
	return ok, detail
}

// roleKinds maps device roles to the record's DeviceKind.
var roleKinds = map[config.DeviceRole]rbdesv1.DeviceKind{
	config.RoleFingerprint:  rbdesv1.DeviceKind_DEVICE_KIND_FINGERPRINT_SENSOR,
	config.RoleCamera:       rbdesv1.DeviceKind_DEVICE_KIND_FACE_CAMERA,
	config.RolePresence:     rbdesv1.DeviceKind_DEVICE_KIND_PRESENCE_SENSOR,
	config.RoleStatusLED:    rbdesv1.DeviceKind_DEVICE_KIND_STATUS_LED,
	config.RoleIllumination: rbdesv1.DeviceKind_DEVICE_KIND_ILLUMINATION,
	config.RoleTamper:       rbdesv1.DeviceKind_DEVICE_KIND_TAMPER_SWITCH,
}

// wireCapture opens the configured devices and wires the capture workflow
// and the officer API (on mux). Without a fingerprint sensor or a camera
// in the config the kiosk only forwards what its outbox holds.
func (d *daemon) wireCapture(mux *http.ServeMux, metrics prometheus.Registerer, version string) error {
	cfg := d.cfg
	cw := &captureWiring{events: capture.NewStream(1024, d.clk)}
	d.capture = cw
	env := &devices.Env{Logger: d.log.Named("devices")}
	byRole := map[config.DeviceRole]*deviceState{}
	var infos []*rbdesv1.DeviceInfo
	for _, dc := range cfg.Devices {
		start := d.clk.Now()
		dev, err := devices.Open(context.Background(), dc, env)
		if err != nil {
			return fmt.Errorf("cannot open a device (see devices in the config; kioskctl probe tests one): %w", err)
		}
		d.closers = append(d.closers, dev.Close)
		st := &deviceState{dev: dev, ok: true}
		cw.devices = append(cw.devices, st)
		if byRole[dev.Role] == nil {
			byRole[dev.Role] = st
		}
		infos = append(infos, &rbdesv1.DeviceInfo{Kind: roleKinds[dev.Role], Name: dev.Name, Driver: dev.Driver,
			Model: dev.Info.Model, Serial: dev.Info.Serial, Firmware: dev.Info.Firmware})
		d.log.Info("device opened", zap.String("device", dev.Name), zap.String("driver", dev.Driver), zap.String("model", dev.Info.Model),
			zap.String("link", dev.Info.Link), zap.Duration("took", d.clk.Since(start)))
	}
	finger, camera := byRole[config.RoleFingerprint], byRole[config.RoleCamera]
	if finger == nil || camera == nil {
		d.log.Warn("no fingerprint sensor or no camera configured: capture is off; the kiosk forwards what its outbox holds")
		return nil
	}
	fp, err := newFingerPipeline(finger.dev.Driver)
	if err != nil {
		return err
	}
	fpl, err := face.New(&face.Options{MinFaceSize: cfg.Capture.MinFaceSize, Accept: cfg.Capture.FaceAccept, Clock: d.clk})
	if err != nil {
		return fmt.Errorf("%w: capture.face_accept or capture.min_face_size: %w", errConfig, err)
	}
	saver := &sizedSaver{s: d.saver}
	deps := capture.Deps{
		Finger:         &fingerSensor{st: finger},
		FingerPipeline: fp,
		Camera:         &cameraDevice{st: camera},
		Face:           facePipeline{fpl},
		Saver:          saver,
		Room:           func() error { return d.room(saver) },
	}
	if p := byRole[config.RolePresence]; p != nil {
		if s, ok := p.dev.Dev.(*presence.Sensor); ok {
			deps.Presence = presenceEvents{s}
			d.add("presence", s.Run)
		}
	}
	wf, err := capture.New(deps, cfg.Capture, &capture.Options{
		KioskID: cfg.Kiosk.ID, Site: cfg.Kiosk.Site, AgentVersion: version, Devices: infos,
		FingerDevice: finger.dev.Name, FaceDevice: camera.dev.Name,
		PolicyFile: filepath.Join(cfg.State.Dir, "capture-policy.json"),
		Events:     cw.events, Clock: d.clk, Logger: d.log.Named("capture"), Registerer: metrics,
	})
	if err != nil {
		return fmt.Errorf("%w: %w", errConfig, err)
	}
	cw.wf = wf
	ready := d.reg.Component("capture")
	d.add("capture", func(ctx context.Context) error {
		ready.Set(nil)
		return wf.Run(ctx)
	})
	d.add("capture-log", func(ctx context.Context) error { return capture.LogEvents(ctx, cw.events, d.log.Named("capture")) })
	if l := byRole[config.RoleStatusLED]; l != nil {
		if led, ok := l.dev.Dev.(*statusled.LED); ok {
			d.add("status-led", led.Run)
			d.add("status-led-events", func(ctx context.Context) error {
				return capture.RunLight(ctx, cw.events, ledLight{led, l}, d.clk, d.log.Named("status-led"))
			})
		}
	}
	if il := byRole[config.RoleIllumination]; il != nil {
		if light, ok := il.dev.Dev.(*illumination.Light); ok {
			d.add("illumination", func(ctx context.Context) error { return runIllumination(ctx, cw.events, light, il) })
		}
	}
	if t := byRole[config.RoleTamper]; t != nil {
		if sw, ok := t.dev.Dev.(*tamper.Switch); ok {
			d.add("tamper", sw.Run)
			d.add("tamper-events", func(ctx context.Context) error { return drainTamper(ctx, sw) })
		}
	}

	api, err := officer.New(wf, &officer.Options{Devices: cw.officerDevices, Outbox: d.officerOutbox, Uplink: d.officerUplink,
		Clock: d.clk, Logger: d.log.Named("officer")})
	if err != nil {
		return err
	}
	api.Register(mux)
	d.add("officer-api", api.Run)
	return nil
}

// room refuses new sessions when the outbox could not take another record
// of the largest size saved so far (at least 256 KiB): past
// outbox.max_bytes, or past the free space of its disk, which fills first
// when the data partition is smaller than max_bytes. A traveller is turned
// away before the capture, not after it. A disk that cannot be measured
// leaves the decision to max_bytes (and a full disk to the outbox's own
// ENOSPC handling).
func (d *daemon) room(s *sizedSaver) error {
	st := d.outbox.Stats()
	need := max(256<<10, 2*s.largest.Load())
	if st.MaxBytes-st.UsedBytes < need {
		return fmt.Errorf("%w (%d of %d bytes used, %d records await the node's acknowledgement)", records.ErrOutboxFull, st.UsedBytes, st.MaxBytes, st.Records)
	}
	if free, _, err := d.disk(d.cfg.Outbox.Dir); err == nil && free < need {
		return fmt.Errorf("%w (the disk holding %s has %d bytes free, %d records await the node's acknowledgement)", records.ErrOutboxFull, d.cfg.Outbox.Dir, free, st.Records)
	}
	return nil
}

// sizedSaver remembers the largest record saved, to judge the room left.
type sizedSaver struct {
	s       *records.Saver
	largest atomic.Int64
}

func (s *sizedSaver) Save(ctx context.Context, rec *rbdesv1.CaptureRecord) (records.Saved, error) {
	saved, err := s.s.Save(ctx, rec)
	if err == nil && int64(saved.Bytes) > s.largest.Load() {
		s.largest.Store(int64(saved.Bytes))
	}
	return saved, err
}

// capturePolicy is the uplink's set_capture_policy hook, bound to the
// workflow once it is wired.
type capturePolicy struct{ d *daemon }

func (p capturePolicy) SetCapturePolicy(values map[string]string) error {
	cw := p.d.capture
	if cw == nil || cw.wf == nil {
		return errors.New("capture is off on this kiosk (no fingerprint sensor or camera configured)")
	}
	err := cw.wf.SetCapturePolicy(values)
	if errors.Is(err, capture.ErrInvalidPolicy) {
		return fmt.Errorf("%w: %w", uplink.ErrInvalidPolicy, err)
	}
	return err
}

// ackQueue is the outbox as the uplink sees it; it also tells the capture
// event stream when the node has acknowledged a record.
type ackQueue struct {
	*outbox.Outbox
	d *daemon
}

func (q ackQueue) Ack(seq uint64) error {
	err := q.Outbox.Ack(seq)
	if err == nil && q.d.capture != nil {
		q.d.capture.events.Publish(capture.Event{Kind: capture.KindDelivered, Message: fmt.Sprintf("Record %d stored at the national node", seq),
			Delivered: &capture.DeliveredInfo{Seq: seq}, State: q.d.captureState()})
	}
	return err
}

func (d *daemon) captureState() capture.State {
	if d.capture == nil || d.capture.wf == nil {
		return capture.StateIdle
	}
	return d.capture.wf.Status().State
}

// deviceHealth reports the devices for the uplink's status messages.
func (d *daemon) deviceHealth() []*rbdesv1.DeviceHealth {
	if d.capture == nil {
		return nil
	}
	var out []*rbdesv1.DeviceHealth
	for _, s := range d.capture.devices {
		ok, detail := s.health()
		out = append(out, &rbdesv1.DeviceHealth{Name: s.dev.Name, Driver: s.dev.Driver, Ok: ok, Detail: detail})
	}
	return out
}

func (cw *captureWiring) officerDevices() []officer.Device {
	out := []officer.Device{}
	for _, s := range cw.devices {
		ok, detail := s.health()
		out = append(out, officer.Device{Name: s.dev.Name, Driver: s.dev.Driver, Role: string(s.dev.Role), Model: s.dev.Info.Model,
			Simulated: s.dev.Simulated, OK: ok, Detail: detail})
	}
	return out
}

func (d *daemon) officerOutbox() officer.Outbox {
	st := d.outbox.Stats()
	return officer.Outbox{Depth: st.Records, InFlight: st.InFlight, UsedBytes: st.UsedBytes, MaxBytes: st.MaxBytes,
		OldestAgeMS: st.OldestUnackedAge.Milliseconds(), DeadLetters: st.DeadLetters, Alarm: st.Alarm, LastSeq: st.LastSeq}
}

func (d *daemon) officerUplink() officer.Uplink {
	if d.uplink == nil {
		return officer.Uplink{}
	}
	u := officer.Uplink{Enabled: true, Connected: d.uplink.Connected()}
	if err := d.uplink.LastError(); err != nil {
		u.LastError = err.Error()
	}
	for _, a := range d.uplink.Alarms() {
		if a.Raised {
			u.Alarms = append(u.Alarms, officer.Alarm{Kind: a.Kind, Message: a.Message})
		}
	}
	return u
}

// fingerSensor adapts a fingerprint device to capture.FingerSensor: the
// drivers' "bad image" answers become capture.ErrPoorImage, and the
// device's health follows its last answer.
type fingerSensor struct{ st *deviceState }

// poorImage lists the driver errors that mean "try again", not "broken".
var poorImage = []error{r30x.ErrImageFail, r30x.ErrImageMessy, r30x.ErrFewFeatures, r30x.ErrInvalidImage,
	gt521.ErrBadFinger, gt521.ErrFingerNotPressed}

func (f *fingerSensor) CaptureImage(ctx context.Context) (image.Image, error) {
	img, err := f.st.dev.Finger.CaptureImage(ctx)
	switch {
	case err == nil:
		f.st.set(true, "")
		return img, nil
	case ctx.Err() != nil:
		return nil, err
	}
	for _, p := range poorImage {
		if errors.Is(err, p) {
			f.st.set(true, "")
			return nil, fmt.Errorf("%w: %w", capture.ErrPoorImage, err)
		}
	}
	f.st.set(false, err.Error())
	return nil, err
}

// cameraDevice adapts a camera device to capture.Camera, decoding JPEG frames.
type cameraDevice struct{ st *deviceState }

func (c *cameraDevice) Frame(ctx context.Context) (image.Image, error) {
	img, jpg, err := c.st.dev.Camera.CaptureFrame(ctx)
	if err != nil {
		if ctx.Err() == nil {
			c.st.set(false, err.Error())
		}
		return nil, err
	}
	if img == nil {
		if img, err = jpeg.Decode(bytes.NewReader(jpg)); err != nil {
			c.st.set(false, "undecodable frame: "+err.Error())
			return nil, fmt.Errorf("camera %s sent a frame that is not JPEG: %w", c.st.dev.Name, err)
		}
	}
	c.st.set(true, "")
	return img, nil
}

// facePipeline adapts agent/face to capture.FacePipeline.
type facePipeline struct{ p *face.Pipeline }

type frames struct{ cam capture.Camera }

func (f frames) Next(ctx context.Context) (image.Image, error) { return f.cam.Frame(ctx) }

func (fp facePipeline) Best(ctx context.Context, cam capture.Camera, budget time.Duration, onFrame func(capture.FaceInfo)) (*capture.Portrait, error) {
	a, n, err := fp.p.Best(ctx, frames{cam}, budget, func(a *face.Assessment) {
		onFrame(capture.FaceInfo{Quality: a.Quality, Accept: a.Accept, Reasons: reasons(a)})
	})
	if err != nil {
		return nil, err
	}
	if len(a.Faces) == 0 {
		return nil, fmt.Errorf("face: no face in %d frames: %w", n, capture.ErrNoFace)
	}
	tok, err := fp.p.Token(a.Image, &a)
	if errors.Is(err, face.ErrNoFace) {
		return nil, fmt.Errorf("%w: %w", capture.ErrNoFace, err)
	}
	if err != nil {
		return nil, err
	}
	rec, err := fac.Marshal(tok.Record())
	if err != nil {
		return nil, fmt.Errorf("encoding the ISO/IEC 19794-5 face record: %w", err)
	}
	p := &capture.Portrait{ISO: rec, Quality: a.Quality, Accept: a.Accept, Reasons: reasons(&a), Frames: n, Measures: map[string]int{}}
	for _, s := range a.Measures {
		p.Measures[s.Measure.String()] = s.Value
	}
	return p, nil
}

func reasons(a *face.Assessment) []string {
	out := make([]string, len(a.Reasons))
	for i, r := range a.Reasons {
		out[i] = string(r)
	}
	return out
}

// fingerPipeline adapts agent/minutiae to capture.FingerPipeline. One
// extractor serves the sessions, which run one at a time.
type fingerPipeline struct {
	mu  sync.Mutex
	ex  *minutiae.Extractor
	ppi int
}

// sensorPPI is the resolution of each fingerprint driver's images.
var sensorPPI = map[string]int{"r30x": 500, "sim-r30x": 500, "gt521": 450, "sim-gt521": 450, "fpc1020": 508, "sim-fpc1020": 508}

func newFingerPipeline(driver string) (*fingerPipeline, error) {
	ex, err := minutiae.New(nil)
	if err != nil {
		return nil, err
	}
	ppi := sensorPPI[driver]
	if ppi == 0 {
		ppi = 500
	}
	return &fingerPipeline{ex: ex, ppi: ppi}, nil
}

func (f *fingerPipeline) Extract(img image.Image, pos capture.Finger) (*capture.FingerTemplate, error) {
	g, ok := img.(*image.Gray)
	if !ok {
		b := img.Bounds()
		g = image.NewGray(b)
		draw.Draw(g, b, img, b.Min, draw.Src)
	}
	f.mu.Lock()
	res, err := f.ex.Extract(g, f.ppi)
	f.mu.Unlock()
	if err != nil {
		return nil, err
	}
	rec := res.Record(fmr.ISO)
	rec.Views[0].Position = uint8(pos)
	b, err := fmr.Marshal(rec)
	if err != nil {
		return nil, fmt.Errorf("encoding the ISO/IEC 19794-2 record: %w", err)
	}
	return &capture.FingerTemplate{ISO: b, Quality: res.Quality, Minutiae: len(res.Minutiae), PPI: res.PPI, Hint: fingerHint(res)}, nil
}

// fingerHint says what the traveller can change, from the quality
// measures.
func fingerHint(r *minutiae.Result) string {
	m := r.Measures
	switch {
	case m.Area < 60:
		return "place more of the finger flat on the sensor"
	case m.Clarity < 40:
		return "press a little harder (or moisten a dry finger)"
	case m.Certainty < 40:
		return "hold the finger still"
	case m.Minutiae < 12:
		return "place the centre of the fingertip on the sensor"
	}
	return ""
}

// presenceEvents adapts the presence sensor's event channel.
type presenceEvents struct{ s *presence.Sensor }

func (p presenceEvents) Next(ctx context.Context) (bool, error) {
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case e := <-p.s.Events():
		return e.Present, nil
	}
}

// ledLight adapts the status LED to capture.Light.
type ledLight struct {
	led *statusled.LED
	st  *deviceState
}

func (l ledLight) Show(c capture.Colour, blink time.Duration) error {
	var err error
	if blink > 0 {
		err = l.led.Blink(statusled.Color(c), blink)
	} else {
		err = l.led.Set(statusled.Color(c))
	}
	if err != nil {
		l.st.set(false, err.Error())
	} else {
		l.st.set(true, "")
	}
	return err
}

// runIllumination lights the face while the camera looks for the
// portrait.
func runIllumination(ctx context.Context, events *capture.Stream, light *illumination.Light, st *deviceState) error {
	defer light.Off()
	on := false
	return events.Follow(ctx, events.Last(), func(e capture.Event, _ uint64) error {
		want := e.State == capture.StateFace
		if want == on {
			return nil
		}
		on = want
		var err error
		if on {
			err = light.On()
		} else {
			err = light.Off()
		}
		if err != nil {
			st.set(false, err.Error())
		}
		return nil
	})
}

// drainTamper reads the tamper switch's events (its Run blocks otherwise);
// the switch logs them and its state shows in the device health.
func drainTamper(ctx context.Context, sw *tamper.Switch) error {
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-sw.Events():
		}
	}
}
