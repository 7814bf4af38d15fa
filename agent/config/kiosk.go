// Package config reads and validates the YAML configuration of kioskd and of
// the reference national node. Unknown fields are errors, every field has a
// documented default where one makes sense, and validation reports every
// problem at once, each naming the field, the bad value and what is allowed.
// The commented example files are firmware/kioskd.yaml and
// firmware/rbdes-node.yaml.
package config

import (
	"fmt"
	"os"
	"time"
)

// Kiosk is the whole configuration of kioskd.
type Kiosk struct {
	Kiosk   Identity  `yaml:"kiosk"`
	Devices []Device  `yaml:"devices"`
	Capture Capture   `yaml:"capture"`
	Outbox  Outbox    `yaml:"outbox"`
	Uplink  Uplink    `yaml:"uplink"`
	Keys    Keys      `yaml:"keys"`
	HTTP    HTTP      `yaml:"http"`
	Log     Log       `yaml:"log"`
	State   StateDirs `yaml:"state"`
}

// Identity names the kiosk.
type Identity struct {
	// ID is the kiosk id: 3-64 of a-z, 0-9 and '-', starting and ending with
	// a letter or digit. It is the MQTT client id, the CN of the kiosk's
	// client certificate and part of every topic.
	ID string `yaml:"id"`
	// Country is the ISO 3166-1 alpha-3 code of the national node (e.g. IDN).
	Country string `yaml:"country"`
	// Site is a free-text description of where the kiosk stands.
	Site string `yaml:"site"`
}

// Device configures one piece of hardware (or its simulator).
type Device struct {
	// Name is how the rest of the config and the logs refer to the device,
	// e.g. "fingerprint"; unique, a-z, 0-9, '-' and '_'.
	Name string `yaml:"name"`
	// Driver selects the driver; see the driver table in the README.
	Driver string `yaml:"driver"`
	// Port is the UART device (/dev/ttyUSB0, /dev/fingerprint), the SPI port
	// (SPI0.0 or /dev/spidev0.0) or the video device (/dev/video0),
	// depending on the driver.
	Port string `yaml:"port"`
	// Bus is the I2C bus (I2C1 or /dev/i2c-1) for drivers that need one.
	Bus string `yaml:"bus"`
	// Baud is the UART speed the device answers at after power-on.
	Baud int `yaml:"baud"`
	// SPIHz is the SPI clock in Hz; 0 means the driver's default.
	SPIHz int `yaml:"spi_hz"`
	// Pins maps the driver's pin roles (reset, irq, touch, in, red, ...) to
	// periph pin names (GPIO17, P1_11, ...).
	Pins map[string]string `yaml:"pins"`
	// Options are driver-specific settings, all given as strings.
	Options map[string]string `yaml:"options"`
}

// Capture is the capture policy.
type Capture struct {
	// Policy is the policy's name, recorded in every CaptureRecord.
	Policy string `yaml:"policy"`
	// Fingers is the ordered list of finger positions to capture:
	// right_thumb, right_index, right_middle, right_ring, right_little and
	// the same for left.
	Fingers []string `yaml:"fingers"`
	// MaxAttempts per finger (1-10).
	MaxAttempts int `yaml:"max_attempts"`
	// MinFingerQuality (0-100): below this after MaxAttempts the finger is
	// recorded as missing with reason low quality.
	MinFingerQuality int `yaml:"min_finger_quality"`
	// GoodFingerQuality (0-100): stop early at an attempt this good.
	GoodFingerQuality int `yaml:"good_finger_quality"`
	// KeepFingerImages stores the finger images in the sealed record too.
	KeepFingerImages bool `yaml:"keep_finger_images"`
	// FaceBudget is the time allowed to find a good portrait.
	FaceBudget time.Duration `yaml:"face_budget"`
	// StepTimeout bounds each step waiting for the traveller (e.g. a finger
	// to be placed).
	StepTimeout time.Duration `yaml:"step_timeout"`
	// SessionTimeout bounds a whole traveller session.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// MinFaceSize is the smallest face, in pixels, the detector looks for.
	MinFaceSize int `yaml:"min_face_size"`
	// FaceAccept maps face quality measure names to their accept thresholds
	// (0-100); measures not listed use the pipeline's defaults.
	FaceAccept map[string]int `yaml:"face_accept"`
}

// Outbox configures the durable queue of sealed records.
type Outbox struct {
	// Dir holds the segment files; on its own partition in production.
	Dir string `yaml:"dir"`
	// MaxBytes bounds the outbox; when full, new captures are refused.
	MaxBytes ByteSize `yaml:"max_bytes"`
	// SegmentBytes is the size at which a new segment file is started.
	SegmentBytes ByteSize `yaml:"segment_bytes"`
	// MaxDeliveries moves a record to dead letters after this many failed
	// deliveries.
	MaxDeliveries int `yaml:"max_deliveries"`
}

// Uplink configures the MQTT connection to the national node's broker.
type Uplink struct {
	// Brokers are tried in order: tls://host:port or ssl://host:port; tcp://
	// only with Insecure. Empty means the kiosk runs offline and keeps every
	// record in the outbox.
	Brokers []string `yaml:"brokers"`
	// Insecure allows tcp:// brokers without TLS, for development only.
	Insecure bool `yaml:"insecure"`
	// CAFile, CertFile and KeyFile are the PEM files for mutual TLS.
	CAFile   string `yaml:"ca_file"`
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// KeepAlive is the MQTT keepalive interval.
	KeepAlive time.Duration `yaml:"keepalive"`
	// ConnectTimeout bounds one connection attempt.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// ReconnectMin and ReconnectMax bound the exponential reconnect backoff.
	ReconnectMin time.Duration `yaml:"reconnect_min"`
	ReconnectMax time.Duration `yaml:"reconnect_max"`
	// InFlight is how many records may await an ack at once (1-16; 1 is
	// strict order).
	InFlight int `yaml:"inflight"`
	// AckTimeout is how long to wait for the node's ack before resending.
	AckTimeout time.Duration `yaml:"ack_timeout"`
	// MaxDrops moves a record to dead letters when it was in flight across
	// this many consecutive connection drops.
	MaxDrops int `yaml:"max_drops"`
	// ResumeRate limits records per second for ResumeWindow after a
	// reconnect, so a slow link is not flooded.
	ResumeRate   int           `yaml:"resume_rate"`
	ResumeWindow time.Duration `yaml:"resume_window"`
	// Heartbeat is the interval of status heartbeats.
	Heartbeat time.Duration `yaml:"heartbeat"`
}

// Enabled reports whether any broker is configured.
func (u Uplink) Enabled() bool { return len(u.Brokers) > 0 }

// Keys names the key files of the kiosk.
type Keys struct {
	// DeviceKey is the kiosk's Ed25519 signing key (PKCS#8 PEM, mode 0600).
	DeviceKey string `yaml:"device_key"`
	// DeviceKeyID identifies the device key to the node.
	DeviceKeyID string `yaml:"device_key_id"`
	// Suite is the HPKE suite records are sealed with: mlkem768-x25519
	// (default, post-quantum hybrid) or x25519.
	Suite string `yaml:"suite"`
	// NodeKeys are the node's HPKE public keys records may be sealed to; at
	// most two, so a new key can be rolled in before the old one retires.
	// The first is current unless Current says otherwise.
	NodeKeys []NodeKey `yaml:"node_keys"`
	// Current is the id of the node key new records are sealed to.
	Current string `yaml:"current"`
	// CommandKeys are the node's Ed25519 public keys that sign commands.
	CommandKeys []PublicKeyFile `yaml:"command_keys"`
}

// NodeKey is one of the node's public sealing keys.
type NodeKey struct {
	ID   string `yaml:"id"`
	File string `yaml:"file"`
}

// PublicKeyFile is an identified public key in a PEM file.
type PublicKeyFile struct {
	ID   string `yaml:"id"`
	File string `yaml:"file"`
}

// HTTP configures the local health, metrics and officer API listener.
type HTTP struct {
	// Listen is host:port; loopback unless AllowRemote.
	Listen string `yaml:"listen"`
	// AllowRemote permits a non-loopback Listen address.
	AllowRemote bool `yaml:"allow_remote"`
}

// Log configures logging.
type Log struct {
	// Level is debug, info, warn or error.
	Level string `yaml:"level"`
	// Format is json (production) or console (development).
	Format string `yaml:"format"`
}

// StateDirs configures where kioskd keeps small state files (boot epoch,
// hash-chain head, command nonces).
type StateDirs struct {
	Dir string `yaml:"dir"`
}

// DefaultKiosk returns the configuration every field falls back to.
func DefaultKiosk() *Kiosk {
	return &Kiosk{
		Capture: Capture{
			Policy:            "default",
			Fingers:           []string{"right_index", "right_middle", "right_ring", "right_little"},
			MaxAttempts:       3,
			MinFingerQuality:  20,
			GoodFingerQuality: 60,
			FaceBudget:        8 * time.Second,
			StepTimeout:       30 * time.Second,
			SessionTimeout:    3 * time.Minute,
			MinFaceSize:       120,
		},
		Outbox: Outbox{
			Dir:           "/var/lib/kiosk/outbox",
			MaxBytes:      2 << 30,
			SegmentBytes:  64 << 20,
			MaxDeliveries: 10,
		},
		Uplink: Uplink{
			KeepAlive:      30 * time.Second,
			ConnectTimeout: 10 * time.Second,
			ReconnectMin:   time.Second,
			ReconnectMax:   2 * time.Minute,
			InFlight:       4,
			AckTimeout:     30 * time.Second,
			MaxDrops:       5,
			ResumeRate:     20,
			ResumeWindow:   30 * time.Second,
			Heartbeat:      60 * time.Second,
		},
		Keys:  Keys{Suite: "mlkem768-x25519", DeviceKeyID: "device-1"},
		HTTP:  HTTP{Listen: "127.0.0.1:8480"},
		Log:   Log{Level: "info", Format: "json"},
		State: StateDirs{Dir: "/var/lib/kiosk/state"},
	}
}

// LoadKiosk reads and validates a kioskd config file.
func LoadKiosk(path string) (*Kiosk, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: cannot read %s (check the -config path and its permissions): %w", path, err)
	}
	c, err := ParseKiosk(data)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.File = path
		}
		return nil, err
	}
	return c, nil
}

// ParseKiosk decodes and validates kioskd config data. A returned error is
// an *Error listing every problem.
func ParseKiosk(data []byte) (*Kiosk, error) {
	c := DefaultKiosk()
	lines, probs := decodeStrict(data, c)
	ps := &problems{list: probs, lines: lines}
	if len(probs) == 0 || !hasSyntaxProblem(probs) {
		c.validate(ps)
	}
	if len(ps.list) > 0 {
		return nil, &Error{Problems: ps.list}
	}
	return c, nil
}

// Validate checks an in-memory config as ParseKiosk does.
func (c *Kiosk) Validate() error {
	ps := &problems{}
	c.validate(ps)
	if len(ps.list) > 0 {
		return &Error{Problems: ps.list}
	}
	return nil
}

func hasSyntaxProblem(ps []Problem) bool {
	for _, p := range ps {
		if p.Field == "(file)" {
			return true
		}
	}
	return false
}
