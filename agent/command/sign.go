package command

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// NonceSize is the size of the nonces Signer draws.
const NonceSize = 16

// SignerOptions tune a Signer.
type SignerOptions struct {
	// Clock stamps issued_unix_ms; nil means clock.Real().
	Clock clock.Clock
	// Lifetime is how long a command stays valid when its expiry is not
	// set; 0 means DefaultLifetime.
	Lifetime time.Duration
}

// DefaultLifetime is the validity of a command whose expiry is not set.
const DefaultLifetime = 10 * time.Minute

// Signer signs commands with a node command key. It is safe for
// concurrent use.
type Signer struct {
	keyID    string
	key      ed25519.PrivateKey
	clk      clock.Clock
	lifetime time.Duration
}

// NewSigner returns a Signer for the command key key named keyID (agent/keys
// LoadNode reads it from the node config's keys.command_key).
func NewSigner(keyID string, key ed25519.PrivateKey, opts *SignerOptions) (*Signer, error) {
	if opts == nil {
		opts = &SignerOptions{}
	}
	if !seal.ValidKeyID(keyID) {
		return nil, fmt.Errorf("command: command key id %q is not a key id (1-64 characters of letters, digits, '.', '_' and '-')", keyID)
	}
	if len(key) != ed25519.PrivateKeySize {
		return nil, errors.New("command: NewSigner needs an Ed25519 private key (kioskctl keys node makes one)")
	}
	s := &Signer{keyID: keyID, key: key, clk: opts.Clock, lifetime: opts.Lifetime}
	if s.clk == nil {
		s.clk = clock.Real()
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultLifetime
	}
	return s, nil
}

// Sign completes and signs cmd in place: it sets key_id, and where unset a
// UUIDv7 command_id, a random 16-byte nonce, issued_unix_ms (now) and
// expires_unix_ms (issued plus the lifetime), then the signature. cmd must
// name its kiosk and carry a body.
func (s *Signer) Sign(cmd *rbdesv1.Command) error {
	if !seal.ValidKioskID(cmd.GetKioskId()) {
		return fmt.Errorf("command: target kiosk id %q is not a kiosk id", cmd.GetKioskId())
	}
	if cmd.GetCommandId() == "" {
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("command: cannot make a command id: %w", err)
		}
		cmd.CommandId = id.String()
	}
	if len(cmd.GetNonce()) == 0 {
		cmd.Nonce = make([]byte, NonceSize)
		if _, err := rand.Read(cmd.Nonce); err != nil {
			return fmt.Errorf("command: cannot draw a nonce: %w", err)
		}
	}
	if cmd.GetIssuedUnixMs() == 0 {
		cmd.IssuedUnixMs = s.clk.Now().UnixMilli()
	}
	if cmd.GetExpiresUnixMs() == 0 {
		cmd.ExpiresUnixMs = cmd.IssuedUnixMs + s.lifetime.Milliseconds()
	}
	cmd.KeyId = s.keyID
	cmd.Signature = nil
	msg, err := SignatureInput(cmd)
	if err != nil {
		return err
	}
	cmd.Signature = ed25519.Sign(s.key, msg)
	return nil
}
