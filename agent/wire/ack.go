package wire

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// AckSignaturePrefix is the domain-separation prefix of the Ack signature
// input (see the package comment).
const AckSignaturePrefix = "RBDES-v1-Ack\x00"

// Limits of a well-formed Ack.
const (
	// MaxAckBytes bounds an Ack on the wire.
	MaxAckBytes = 8 << 10
	// MaxAckDetail bounds Ack.detail.
	MaxAckDetail = 2 << 10
	// MaxNodeID bounds Ack.node_id.
	MaxNodeID = 64
)

// Errors of ParseAck and VerifyAck, for errors.Is.
var (
	// ErrMalformed: the bytes are not a well-formed message of protocol
	// version 1.
	ErrMalformed = errors.New("malformed message")
	// ErrUnknownKey: the Ack names a key the kiosk does not trust.
	ErrUnknownKey = errors.New("ack signed by an unknown key")
	// ErrBadSignature: the Ack's signature does not verify.
	ErrBadSignature = errors.New("ack signature does not verify")
)

type enc []byte

func (b enc) u32(v uint32) enc { return binary.BigEndian.AppendUint32(b, v) }
func (b enc) u64(v uint64) enc { return binary.BigEndian.AppendUint64(b, v) }
func (b enc) i64(v int64) enc  { return binary.BigEndian.AppendUint64(b, uint64(v)) }
func (b enc) bin(p []byte) enc { return append(b.u32(uint32(len(p))), p...) }
func (b enc) str(s string) enc { return append(b.u32(uint32(len(s))), s...) }

// AckSignatureInput returns the bytes a node command key signs for a: every
// field but the signature, in the layout of the package comment.
func AckSignatureInput(a *rbdesv1.Ack) []byte {
	b := make(enc, 0, 128+len(a.GetDetail()))
	b = append(b, AckSignaturePrefix...)
	b = b.str(a.GetRecordId()).bin(a.GetSha256())
	b = b.u32(uint32(a.GetStatus())).u32(uint32(a.GetReason()))
	b = b.str(a.GetDetail()).str(a.GetNodeId())
	b = b.i64(a.GetStoredUnixMs()).u64(a.GetSeq()).str(a.GetKioskId())
	return b.str(a.GetKeyId())
}

// SignAck sets a's key_id to keyID and signs it with key, the node's
// Ed25519 command key.
func SignAck(a *rbdesv1.Ack, keyID string, key ed25519.PrivateKey) error {
	if !seal.ValidKeyID(keyID) {
		return fmt.Errorf("wire: ack key id %q is not a key id", keyID)
	}
	if len(key) != ed25519.PrivateKeySize {
		return errors.New("wire: SignAck needs an Ed25519 private key (the node's keys.command_key)")
	}
	a.KeyId = keyID
	a.Signature = nil
	a.Signature = ed25519.Sign(key, AckSignatureInput(a))
	return nil
}

// ParseAck decodes an Ack received on a kiosk's ack topic and checks its
// form: at most MaxAckBytes, no fields unknown to protocol version 1, a
// canonical record id, a 32-byte SHA-256, a known status, a key id and a
// 64-byte signature. It does not check the signature (VerifyAck). Errors
// wrap ErrMalformed.
func ParseAck(b []byte) (*rbdesv1.Ack, error) {
	if len(b) > MaxAckBytes {
		return nil, fmt.Errorf("wire: ack of %d bytes exceeds the %d-byte limit: %w", len(b), MaxAckBytes, ErrMalformed)
	}
	a := &rbdesv1.Ack{}
	if err := proto.Unmarshal(b, a); err != nil {
		return nil, fmt.Errorf("wire: payload is not an Ack protobuf (%v): %w", err, ErrMalformed)
	}
	id := a.GetRecordId()
	switch {
	case len(a.ProtoReflect().GetUnknown()) > 0:
		return nil, fmt.Errorf("wire: ack for %q carries fields unknown to protocol version 1: %w", id, ErrMalformed)
	case !seal.ValidRecordID(id):
		return nil, fmt.Errorf("wire: ack record id %q is not a canonical lowercase UUID: %w", id, ErrMalformed)
	case len(a.GetSha256()) != sha256.Size:
		return nil, fmt.Errorf("wire: ack for %s carries a %d-byte hash, want %d: %w", id, len(a.GetSha256()), sha256.Size, ErrMalformed)
	case a.GetStatus() < rbdesv1.AckStatus_ACK_STATUS_STORED || a.GetStatus() > rbdesv1.AckStatus_ACK_STATUS_REJECTED:
		return nil, fmt.Errorf("wire: ack for %s has status %d, want STORED, DUPLICATE or REJECTED: %w", id, a.GetStatus(), ErrMalformed)
	case len(a.GetDetail()) > MaxAckDetail:
		return nil, fmt.Errorf("wire: ack for %s has a %d-byte detail, more than %d: %w", id, len(a.GetDetail()), MaxAckDetail, ErrMalformed)
	case len(a.GetNodeId()) > MaxNodeID:
		return nil, fmt.Errorf("wire: ack for %s has a %d-byte node id, more than %d: %w", id, len(a.GetNodeId()), MaxNodeID, ErrMalformed)
	case a.GetKioskId() != "" && !seal.ValidKioskID(a.GetKioskId()):
		return nil, fmt.Errorf("wire: ack for %s names kiosk %q, not a kiosk id: %w", id, a.GetKioskId(), ErrMalformed)
	case !seal.ValidKeyID(a.GetKeyId()):
		return nil, fmt.Errorf("wire: ack for %s is not signed (key id %q): %w", id, a.GetKeyId(), ErrMalformed)
	case len(a.GetSignature()) != ed25519.SignatureSize:
		return nil, fmt.Errorf("wire: ack for %s has a %d-byte signature, want %d: %w", id, len(a.GetSignature()), ed25519.SignatureSize, ErrMalformed)
	}
	return a, nil
}

// VerifyAck checks a's signature under the command key it names, looked up
// in keys (key id to Ed25519 public key: the kiosk's keys.command_keys).
// It fails with ErrUnknownKey or ErrBadSignature.
func VerifyAck(a *rbdesv1.Ack, keys map[string]ed25519.PublicKey) error {
	pub, ok := keys[a.GetKeyId()]
	if !ok || len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("wire: ack for %s is signed by key %q, which is not one of the kiosk's command keys: %w", a.GetRecordId(), a.GetKeyId(), ErrUnknownKey)
	}
	if !ed25519.Verify(pub, AckSignatureInput(a), a.GetSignature()) {
		return fmt.Errorf("wire: ack for %s: signature does not verify under command key %s: %w", a.GetRecordId(), a.GetKeyId(), ErrBadSignature)
	}
	return nil
}

// Marshal serializes a message deterministically.
func Marshal(m proto.Message) ([]byte, error) {
	return proto.MarshalOptions{Deterministic: true}.Marshal(m)
}
