package uplink

import (
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/command"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// CapturePolicy is the hook through which the set_capture_policy command
// changes capture policy values; the capture workflow implements it.
type CapturePolicy interface {
	// SetCapturePolicy applies values (names as in the kiosk config's
	// capture section, values as strings) at once and durably, or changes
	// nothing. An error wrapping ErrInvalidPolicy is answered REJECTED
	// INVALID_ARGUMENT; any other error FAILED.
	SetCapturePolicy(values map[string]string) error
}

// ErrInvalidPolicy marks a capture policy change the kiosk refuses (an
// unknown name, a value out of range).
var ErrInvalidPolicy = errors.New("invalid capture policy value")

// Command kinds of the default allow-list (agent/command Kind).
var DefaultCommands = []string{"ping", "report_status", "add_node_key", "retire_node_key", "set_capture_policy"}

// Alarm is a condition an operator must know about; alarms are listed in
// every Status while raised.
type Alarm struct {
	// Kind is one of "dead_letter" (a record moved to dead letters),
	// "poison" (a record broke the connection MaxDrops times), "no_ack"
	// (the node acknowledged nothing within the ack timeout), "subscribe"
	// (the broker refused the ack or cmd subscription).
	Kind string
	// Raised is false when the condition has cleared.
	Raised bool
	// Seq is the record concerned, when there is one.
	Seq uint64
	// Message says what happened and what to do, in an operator's words.
	Message string
}

// Options configure an Uplink. KioskID, Country and Brokers are required.
type Options struct {
	// KioskID is the MQTT client id and part of every topic.
	KioskID string
	// Country is the ISO 3166-1 alpha-3 code of the national node.
	Country string
	// Site is copied into status messages.
	Site string
	// Brokers are tried in order: tls://, ssl://, mqtts://, or tcp:// when
	// TLS is nil.
	Brokers []string
	// TLS is the mutual TLS configuration (TLSConfig builds it); nil only
	// for tcp:// brokers in development.
	TLS *tls.Config

	// KeepAlive is the MQTT keepalive; default 30s.
	KeepAlive time.Duration
	// ConnectTimeout bounds one connection attempt (dial, TLS, CONNACK,
	// subscriptions); default 10s.
	ConnectTimeout time.Duration
	// ReconnectMin and ReconnectMax bound the reconnect backoff; default
	// 1s and 2m.
	ReconnectMin, ReconnectMax time.Duration
	// InFlight is how many records may await an Ack at once (1..16); 1 is
	// strict order. The outbox's Window must be at least as large. Default
	// 4.
	InFlight int
	// AckTimeout is how long to wait for the node's Ack; default 30s.
	AckTimeout time.Duration
	// MaxDrops is how many consecutive connection drops a record may be
	// alone in flight across before it goes to dead letters; default 5.
	MaxDrops int
	// ResumeRate limits records per second during ResumeWindow after each
	// connection; default 20/s for 30s. A zero ResumeWindow with a
	// non-nil Options means no limit; use DefaultOptions for the defaults.
	ResumeRate   int
	ResumeWindow time.Duration
	// Heartbeat is the status heartbeat interval; default 60s.
	Heartbeat time.Duration

	// AckKeys are the node's command public keys (keys.command_keys) that
	// sign Acks. Required: an Ack that does not verify is ignored.
	AckKeys map[string]ed25519.PublicKey
	// Commands verifies commands; nil means the kiosk does not subscribe
	// to its cmd topic.
	Commands *command.Verifier
	// Allow lists the command kinds the kiosk runs; nil means
	// DefaultCommands.
	Allow []string
	// NodeKeys is the node key set add_node_key and retire_node_key
	// change; nil refuses them.
	NodeKeys *keys.NodeKeySet
	// Policy is the capture policy hook; nil refuses set_capture_policy.
	Policy CapturePolicy

	// BootEpoch is the kiosk's boot counter, reported in every status.
	BootEpoch uint64
	// ConnectEpochs counts connections across restarts; nil keeps the
	// count in memory (starting at 0), which is enough for tests only.
	ConnectEpochs *Counter
	// Version and Commit are reported in status messages.
	Version, Commit string
	// Devices reports device health for status messages; nil means none.
	Devices func() []*rbdesv1.DeviceHealth
	// OnAlarm is called from the uplink's goroutine when an alarm is
	// raised or cleared; it must not block.
	OnAlarm func(Alarm)

	// Clock drives timeouts, backoff, rate limits and heartbeats; default
	// clock.Real().
	Clock clock.Clock
	// Rand draws backoff jitter; default a generator seeded at random.
	Rand *rand.Rand
	// Logger; default zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the kiosk_uplink_* metrics; nil means none.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the defaults; they match the kioskd config's.
func DefaultOptions() *Options {
	return &Options{
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
		Clock:          clock.Real(),
		Logger:         zap.NewNop(),
	}
}

func (o *Options) withDefaults() (Options, error) {
	if o == nil {
		return Options{}, errors.New("uplink: Options are required (kiosk id, country, brokers, ack keys)")
	}
	d := DefaultOptions()
	r := *o
	if r.KeepAlive == 0 {
		r.KeepAlive = d.KeepAlive
	}
	if r.ConnectTimeout == 0 {
		r.ConnectTimeout = d.ConnectTimeout
	}
	if r.ReconnectMin == 0 {
		r.ReconnectMin = d.ReconnectMin
	}
	if r.ReconnectMax == 0 {
		r.ReconnectMax = max(d.ReconnectMax, r.ReconnectMin)
	}
	if r.InFlight == 0 {
		r.InFlight = d.InFlight
	}
	if r.AckTimeout == 0 {
		r.AckTimeout = d.AckTimeout
	}
	if r.MaxDrops == 0 {
		r.MaxDrops = d.MaxDrops
	}
	if r.ResumeRate == 0 {
		r.ResumeRate = d.ResumeRate
	}
	if r.Heartbeat == 0 {
		r.Heartbeat = d.Heartbeat
	}
	if r.Allow == nil {
		r.Allow = DefaultCommands
	}
	r.Clock = clock.OrReal(r.Clock)
	if r.Logger == nil {
		r.Logger = zap.NewNop()
	}
	if r.Rand == nil {
		r.Rand = rand.New(rand.NewPCG(rand.Uint64(), rand.Uint64()))
	}
	if r.ConnectEpochs == nil {
		r.ConnectEpochs = &Counter{}
	}
	switch {
	case !seal.ValidKioskID(r.KioskID):
		return r, fmt.Errorf("uplink: kiosk id %q is not a kiosk id", r.KioskID)
	case len(r.Country) != 3:
		return r, fmt.Errorf("uplink: country %q is not an ISO 3166-1 alpha-3 code", r.Country)
	case len(r.Brokers) == 0:
		return r, errors.New("uplink: no broker configured (uplink.brokers)")
	case len(r.AckKeys) == 0:
		return r, errors.New("uplink: no node command key to verify acks with (keys.command_keys); without one no record could ever be acknowledged")
	case r.InFlight < 1 || r.InFlight > 16:
		return r, fmt.Errorf("uplink: in-flight window %d is outside 1..16", r.InFlight)
	case r.ReconnectMax < r.ReconnectMin:
		return r, fmt.Errorf("uplink: reconnect_max %v is below reconnect_min %v", r.ReconnectMax, r.ReconnectMin)
	case r.MaxDrops < 1 || r.ResumeRate < 0 || r.ResumeWindow < 0 || r.Heartbeat < 0 || r.AckTimeout < 0:
		return r, errors.New("uplink: max drops, resume rate, resume window, heartbeat and ack timeout must be positive")
	}
	for _, b := range r.Brokers {
		u, err := url.Parse(b)
		if err != nil || u.Host == "" {
			return r, fmt.Errorf("uplink: broker %q is not a URL such as tls://broker.example:8883", b)
		}
		switch u.Scheme {
		case "tls", "ssl", "mqtts":
			if r.TLS == nil {
				return r, fmt.Errorf("uplink: broker %s needs TLS settings (ca, cert and key files)", b)
			}
		case "tcp", "mqtt":
		default:
			return r, fmt.Errorf("uplink: broker %q: want scheme tls://, ssl://, mqtts:// or tcp://", b)
		}
	}
	return r, nil
}
