package command

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Rejection is why the kiosk refuses a command; Reason goes into the
// CommandReply.
type Rejection struct {
	Reason rbdesv1.CommandRejectReason
	Detail string
	Err    error
}

func (r *Rejection) Error() string {
	return fmt.Sprintf("command: rejected (%s): %s", reasonName(r.Reason), r.Detail)
}

// Unwrap returns the underlying error.
func (r *Rejection) Unwrap() error { return r.Err }

// ReasonOf returns the rejection reason of err, or UNSPECIFIED when err is
// not a *Rejection (for example a nonce store failure: reply FAILED).
func ReasonOf(err error) rbdesv1.CommandRejectReason {
	var r *Rejection
	if errors.As(err, &r) {
		return r.Reason
	}
	return rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED
}

func reject(reason rbdesv1.CommandRejectReason, err error, format string, args ...any) *Rejection {
	return &Rejection{Reason: reason, Detail: fmt.Sprintf(format, args...), Err: err}
}

func reasonName(r rbdesv1.CommandRejectReason) string {
	if n, ok := rbdesv1.CommandRejectReason_name[int32(r)]; ok {
		return n
	}
	return fmt.Sprintf("COMMAND_REJECT_REASON_%d", r)
}

// Limits of a well-formed command.
const (
	MinNonceSize    = 16
	MaxNonceSize    = 64
	MaxCommandID    = 64
	MaxCommandBytes = 64 << 10
)

// Options tune a Verifier.
type Options struct {
	// Clock decides expiry; nil means clock.Real().
	Clock clock.Clock
	// MaxLifetime refuses commands valid for longer (expires - issued);
	// 0 means 24 hours. It bounds how long nonces must be remembered.
	MaxLifetime time.Duration
	// MaxSkew is how far in the future issued_unix_ms may be, for clocks
	// that disagree; 0 means 5 minutes.
	MaxSkew time.Duration
	// Registerer receives kiosk_command_* metrics; nil means none.
	Registerer prometheus.Registerer
}

// DefaultOptions returns the options nil stands for.
func DefaultOptions() *Options {
	return &Options{Clock: clock.Real(), MaxLifetime: 24 * time.Hour, MaxSkew: 5 * time.Minute}
}

// Verifier checks commands addressed to one kiosk. It is safe for
// concurrent use.
type Verifier struct {
	kioskID  string
	keys     map[string]ed25519.PublicKey
	nonces   NonceStore
	clk      clock.Clock
	lifetime time.Duration
	skew     time.Duration
	results  *prometheus.CounterVec
}

// NewVerifier returns a Verifier for kiosk kioskID trusting the command keys
// keys (id to Ed25519 public key; agent/keys LoadKiosk reads them) and
// remembering nonces in nonces (a FileNonces in kioskd's state directory).
func NewVerifier(kioskID string, keys map[string]ed25519.PublicKey, nonces NonceStore, opts *Options) (*Verifier, error) {
	if opts == nil {
		opts = DefaultOptions()
	}
	if !seal.ValidKioskID(kioskID) {
		return nil, fmt.Errorf("command: kiosk id %q is not a kiosk id", kioskID)
	}
	if nonces == nil {
		return nil, errors.New("command: NewVerifier needs a nonce store")
	}
	ks := make(map[string]ed25519.PublicKey, len(keys))
	for id, k := range keys {
		if !seal.ValidKeyID(id) || len(k) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("command: command key %q is not usable (bad id or not an Ed25519 public key)", id)
		}
		ks[id] = k
	}
	v := &Verifier{kioskID: kioskID, keys: ks, nonces: nonces, clk: opts.Clock, lifetime: opts.MaxLifetime, skew: opts.MaxSkew}
	if v.clk == nil {
		v.clk = clock.Real()
	}
	if v.lifetime <= 0 {
		v.lifetime = 24 * time.Hour
	}
	if v.skew <= 0 {
		v.skew = 5 * time.Minute
	}
	if opts.Registerer != nil {
		v.results = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "kiosk_command_verify_total",
			Help: "Commands checked, by result: ok, the rejection reason, or error.",
		}, []string{"result"})
		if err := opts.Registerer.Register(v.results); err != nil {
			return nil, fmt.Errorf("command: cannot register metrics: %w", err)
		}
	}
	return v, nil
}

// Verify decodes a command published on the kiosk's cmd topic and checks it
// (see the package comment). On success the nonce has been recorded
// durably and the command must be run (or answered FAILED): it will not be
// accepted again. A refusal is a *Rejection; any other error (the nonce
// store could not be written) means the command was not accepted and may
// be resent.
func (v *Verifier) Verify(payload []byte) (*rbdesv1.Command, error) {
	cmd, err := v.verify(payload)
	if v.results != nil {
		result := "ok"
		if err != nil {
			result = "error"
			if r := ReasonOf(err); r != rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED {
				result = reasonName(r)
			}
		}
		v.results.WithLabelValues(result).Inc()
	}
	return cmd, err
}

func (v *Verifier) verify(payload []byte) (*rbdesv1.Command, error) {
	const (
		malformed  = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_MALFORMED
		wrongKiosk = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_WRONG_KIOSK
		unknownKey = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNKNOWN_KEY
		badSig     = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_BAD_SIGNATURE
		expired    = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_EXPIRED
		replayed   = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_REPLAYED
	)
	if len(payload) > MaxCommandBytes {
		return nil, reject(malformed, nil, "command of %d bytes exceeds the %d-byte limit", len(payload), MaxCommandBytes)
	}
	cmd := &rbdesv1.Command{}
	if err := proto.Unmarshal(payload, cmd); err != nil {
		return nil, reject(malformed, err, "payload is not a Command protobuf: %v", err)
	}
	id := cmd.GetCommandId()
	switch {
	case hasUnknown(cmd.ProtoReflect()):
		return cmd, reject(malformed, nil, "command %q carries fields unknown to protocol version 1, which the signature would not cover", id)
	case id == "" || len(id) > MaxCommandID:
		return cmd, reject(malformed, nil, "command id %q is empty or longer than %d bytes", id, MaxCommandID)
	case len(cmd.GetNonce()) < MinNonceSize || len(cmd.GetNonce()) > MaxNonceSize:
		return cmd, reject(malformed, nil, "command %s: nonce is %d bytes, want %d to %d", id, len(cmd.GetNonce()), MinNonceSize, MaxNonceSize)
	case !seal.ValidKeyID(cmd.GetKeyId()):
		return cmd, reject(malformed, nil, "command %s: key id %q is not a key id", id, cmd.GetKeyId())
	case len(cmd.GetSignature()) != ed25519.SignatureSize:
		return cmd, reject(malformed, nil, "command %s: signature is %d bytes, want %d", id, len(cmd.GetSignature()), ed25519.SignatureSize)
	case Kind(cmd) == "":
		return cmd, reject(malformed, nil, "command %s has no body", id)
	case cmd.GetExpiresUnixMs() <= cmd.GetIssuedUnixMs():
		return cmd, reject(malformed, nil, "command %s expires (%d) before it is issued (%d)", id, cmd.GetExpiresUnixMs(), cmd.GetIssuedUnixMs())
	}
	if cmd.GetKioskId() != v.kioskID {
		return cmd, reject(wrongKiosk, nil, "command %s is for kiosk %q, this is %s", id, cmd.GetKioskId(), v.kioskID)
	}
	pub, ok := v.keys[cmd.GetKeyId()]
	if !ok {
		return cmd, reject(unknownKey, nil, "command %s is signed by key %s, which is not in keys.command_keys", id, cmd.GetKeyId())
	}
	msg, err := SignatureInput(cmd)
	if err != nil {
		return cmd, reject(malformed, err, "%v", err)
	}
	if !ed25519.Verify(pub, msg, cmd.GetSignature()) {
		return cmd, reject(badSig, nil, "command %s: signature does not verify under command key %s", id, cmd.GetKeyId())
	}
	now := v.clk.Now()
	issued, expires := time.UnixMilli(cmd.GetIssuedUnixMs()), time.UnixMilli(cmd.GetExpiresUnixMs())
	switch {
	case !now.Before(expires):
		return cmd, reject(expired, nil, "command %s expired at %s (kiosk time %s)", id, expires.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	case issued.After(now.Add(v.skew)):
		return cmd, reject(expired, nil, "command %s is issued at %s, in the future beyond the tolerated skew %v (kiosk time %s; check NTP)", id, issued.UTC().Format(time.RFC3339), v.skew, now.UTC().Format(time.RFC3339))
	case expires.Sub(issued) > v.lifetime:
		return cmd, reject(expired, nil, "command %s is valid for %v, longer than the kiosk's maximum %v", id, expires.Sub(issued), v.lifetime)
	}
	fresh, err := v.nonces.Use(cmd.GetNonce(), expires.Add(v.skew), now)
	if err != nil {
		return cmd, fmt.Errorf("command: cannot record the nonce of command %s, so it is not run (check the state directory): %w", id, err)
	}
	if !fresh {
		return cmd, reject(replayed, nil, "command %s: its nonce was accepted before", id)
	}
	return cmd, nil
}

// hasUnknown reports whether m or any message inside it carries unknown
// fields.
func hasUnknown(m protoreflect.Message) bool {
	if len(m.GetUnknown()) > 0 {
		return true
	}
	found := false
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		switch {
		case fd.IsMap():
			if fd.MapValue().Message() != nil {
				v.Map().Range(func(_ protoreflect.MapKey, mv protoreflect.Value) bool {
					found = found || hasUnknown(mv.Message())
					return !found
				})
			}
		case fd.IsList():
			if fd.Message() != nil {
				for i := 0; i < v.List().Len() && !found; i++ {
					found = hasUnknown(v.List().Get(i).Message())
				}
			}
		case fd.Message() != nil:
			found = hasUnknown(v.Message())
		}
		return !found
	})
	return found
}
