package demo

import (
	"fmt"
	"image"
	"image/png"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	xdraw "golang.org/x/image/draw"
)

// PortraitFrame is where a kiosk camera would frame the traveller of the
// committed portrait (agent/face/testdata/astronaut.png, 512x512): a 4:3
// window of 384x288 pixels around the face. The press photo is framed
// wider than a kiosk camera frames a traveller standing at it; cut to
// this window, it passes every check of the face pipeline at its default
// threshold at 640x480.
var PortraitFrame = image.Rect(64, 16, 448, 304)

// FramePortrait writes the part of the portrait at src that PortraitFrame
// selects to dst as PNG, for the simulated camera to look at.
func FramePortrait(src, dst string) error {
	f, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("demo: the portrait (run from the repository root, or pass -portrait): %w", err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return fmt.Errorf("demo: %s: %w", src, err)
	}
	r := PortraitFrame
	if !r.In(img.Bounds()) {
		r = img.Bounds()
	}
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	xdraw.Copy(out, image.Point{}, img, r, xdraw.Src, nil)
	w, err := os.Create(dst)
	if err != nil {
		return err
	}
	if err := png.Encode(w, out); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// KioskSettings are the choices of the kioskd config the world writes.
type KioskSettings struct {
	// Listen is the kiosk's HTTP address (health, metrics, officer API);
	// default a free loopback port.
	Listen string
	// Portrait is the image the simulated camera sees (see FramePortrait).
	Portrait string
	// Fingers are the finger positions the policy asks for; default right
	// index and right middle.
	Fingers []string
	// PresenceEvery is the simulated presence sensor's interval between
	// travellers; default 1s.
	PresenceEvery time.Duration
	// FaceBudget is the time the face pipeline has; default 2s.
	FaceBudget time.Duration
	// LogLevel is kioskd's log level; default info.
	LogLevel string
	// SelfServe puts the fingerprint sensor's simulator inside kioskd: a
	// simulated FPC1020 on which synthetic fingers (one finger of one
	// traveller, a fresh impression each time) are placed by themselves,
	// so kioskd runs travellers through with nobody answering its prompts
	// (the footprint soak). The Crowd and the R307 simulator are not used.
	SelfServe bool
}

// FreePort returns a loopback address that was free a moment ago.
func FreePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("demo: no free loopback port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// WriteKioskConfig writes the kioskd config of the simulated kiosk into the
// world's folder and returns its path and the HTTP address. The kiosk runs
// the real r30x driver on the simulator's pseudo-terminal (raising the link
// to 115200 baud, as firmware/kioskd.yaml does), the simulated UVC camera
// looking at the portrait, the simulated presence sensor, status LED, face
// light and tamper switch, and delivers to the world's broker.
func (w *World) WriteKioskConfig(s KioskSettings) (path, listen string, err error) {
	if s.Listen == "" {
		if s.Listen, err = FreePort(); err != nil {
			return "", "", err
		}
	}
	if len(s.Fingers) == 0 {
		s.Fingers = []string{"right_index", "right_middle"}
	}
	if s.PresenceEvery == 0 {
		s.PresenceEvery = time.Second
	}
	if s.FaceBudget == 0 {
		s.FaceBudget = 2 * time.Second
	}
	if s.LogLevel == "" {
		s.LogLevel = "info"
	}
	if s.Portrait == "" {
		return "", "", fmt.Errorf("demo: no portrait for the simulated camera")
	}
	abs, err := filepath.Abs(s.Portrait)
	if err != nil {
		return "", "", err
	}
	// The config wants a device under /dev: the simulator's link resolves
	// to its pseudo-terminal.
	tty, err := filepath.EvalSymlinks(w.Sim.Path())
	if err != nil {
		return "", "", fmt.Errorf("demo: the simulator's tty: %w", err)
	}
	dir := w.o.Dir
	f := w.files
	sensor := fmt.Sprintf(`  - name: fingerprint
    driver: r30x
    port: %q
    baud: 57600
    options:
      link_baud: "115200"
      model: R307
      # Generous reply deadlines (an image data packet may be up to 5 s
      # late): a demo machine may be busy with other work.
      timeout: 10s
`, tty)
	if s.SelfServe {
		sensor = `  - name: fingerprint
    driver: sim-fpc1020
    options:
      fingers: synth
      seed: "7"
`
	}
	cfg := fmt.Sprintf(`# kioskd config written by the demo (cmd/internal/demo).
kiosk:
  id: %[1]s
  country: %[2]s
  site: "make demo: simulated kiosk on loopback"
devices:
%[3]s  - name: face
    driver: sim-uvc
    options:
      image: %[4]q
      width: "640"
      height: "480"
  - name: presence
    driver: sim-presence
    options:
      interval: %[5]s
      debounce: 20ms
  - name: status
    driver: sim-led
  - name: face-light
    driver: sim-illumination
  - name: tamper
    driver: sim-tamper
capture:
  policy: demo
  fingers: [%[6]s]
  max_attempts: 3
  min_finger_quality: 20
  # The synthetic 4-bit R307 images score lower on the kiosk's quality
  # scale than live scans do: 40 is good enough for the demo (firmware
  # default: 60).
  good_finger_quality: 40
  face_budget: %[7]s
  step_timeout: 20s
  session_timeout: 2m
  min_face_size: 100
outbox:
  dir: %[8]q
  max_bytes: 64MiB
  segment_bytes: 1MiB
  max_deliveries: 10
uplink:
  brokers: [%[9]q]
  ca_file: %[10]q
  cert_file: %[11]q
  key_file: %[12]q
  keepalive: 5s
  connect_timeout: 3s
  reconnect_min: 200ms
  reconnect_max: 2s
  inflight: 4
  ack_timeout: 5s
  max_drops: 5
  resume_rate: 50
  resume_window: 10s
  heartbeat: 10s
keys:
  device_key: %[13]q
  device_key_id: device-1
  suite: %[14]s
  node_keys:
    - id: node-1
      file: %[15]q
  command_keys:
    - id: cmd-1
      file: %[16]q
http:
  listen: %[17]s
log:
  level: %[18]s
  format: json
state:
  dir: %[19]q
`, w.o.KioskID, Country, sensor, abs, s.PresenceEvery, strings.Join(s.Fingers, ", "), s.FaceBudget,
		filepath.Join(dir, "outbox"), w.BrokerURL(), f.CAFile, f.CertFile, f.KeyFile,
		f.DeviceKey, w.o.Suite, f.NodeKey, f.CommandKey, s.Listen, s.LogLevel, filepath.Join(dir, "state"))
	path = filepath.Join(dir, "kioskd.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return "", "", fmt.Errorf("demo: writing %s: %w", path, err)
	}
	return path, s.Listen, nil
}
