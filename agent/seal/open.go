package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/proto"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Errors of the node-side primitives, for errors.Is. agent/nodeverify maps
// them onto the protocol's RejectReason.
var (
	// ErrMalformed: the bytes are not a well-formed, canonically encoded
	// SealedRecord with every required field.
	ErrMalformed = errors.New("malformed sealed record")
	// ErrUnsupported: the record's version or HPKE suite is not one of
	// protocol version 1.
	ErrUnsupported = errors.New("unsupported sealed record version or suite")
	// ErrBadSignature: the signature does not verify under the given key.
	ErrBadSignature = errors.New("sealed record signature does not verify")
	// ErrDecrypt: HPKE could not open the ciphertext with the given key.
	ErrDecrypt = errors.New("sealed record does not decrypt")
)

// MaxSealedBytes bounds what Parse accepts. The largest legitimate record
// (ten finger images kept by policy plus a portrait) is far smaller.
const MaxSealedBytes = 64 << 20

// Parse decodes a serialized SealedRecord and checks its form: canonical
// encoding (see the package comment), no unknown fields, well-formed ids,
// a 32-byte prev_hash, a 64-byte signature, a non-empty enc and
// ciphertext. It does not check the version, the suite, the signature or
// the ciphertext. Errors wrap ErrMalformed.
func Parse(b []byte) (*rbdesv1.SealedRecord, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("seal: empty payload: %w", ErrMalformed)
	}
	if len(b) > MaxSealedBytes {
		return nil, fmt.Errorf("seal: payload of %d bytes exceeds the %d-byte limit: %w", len(b), MaxSealedBytes, ErrMalformed)
	}
	sr := &rbdesv1.SealedRecord{}
	if err := proto.Unmarshal(b, sr); err != nil {
		return nil, fmt.Errorf("seal: payload is not a SealedRecord protobuf (%v): %w", err, ErrMalformed)
	}
	id := sr.GetRecordId()
	if len(sr.ProtoReflect().GetUnknown()) > 0 {
		return nil, fmt.Errorf("seal: record %q carries fields unknown to protocol version 1, which the signature would not cover: %w", id, ErrMalformed)
	}
	canon, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
	if err != nil || !bytes.Equal(canon, b) {
		return nil, fmt.Errorf("seal: record %q is not in canonical protobuf encoding (fields out of order, repeated or with default values): %w", id, ErrMalformed)
	}
	switch {
	case !ValidKioskID(sr.GetKioskId()):
		return nil, fmt.Errorf("seal: record %q: kiosk_id %q is not a kiosk id: %w", id, sr.GetKioskId(), ErrMalformed)
	case !ValidRecordID(id):
		return nil, fmt.Errorf("seal: record_id %q is not a canonical lowercase UUID: %w", id, ErrMalformed)
	case !ValidKeyID(sr.GetDeviceKeyId()):
		return nil, fmt.Errorf("seal: record %s: device_key_id %q is not a key id: %w", id, sr.GetDeviceKeyId(), ErrMalformed)
	case !ValidKeyID(sr.GetNodeKeyId()):
		return nil, fmt.Errorf("seal: record %s: node_key_id %q is not a key id: %w", id, sr.GetNodeKeyId(), ErrMalformed)
	case len(sr.GetPrevHash()) != HashSize:
		return nil, fmt.Errorf("seal: record %s: prev_hash is %d bytes, want %d: %w", id, len(sr.GetPrevHash()), HashSize, ErrMalformed)
	case len(sr.GetSignature()) != ed25519.SignatureSize:
		return nil, fmt.Errorf("seal: record %s: signature is %d bytes, want %d: %w", id, len(sr.GetSignature()), ed25519.SignatureSize, ErrMalformed)
	case len(sr.GetEnc()) == 0:
		return nil, fmt.Errorf("seal: record %s has no encapsulated key: %w", id, ErrMalformed)
	case len(sr.GetCiphertext()) == 0:
		return nil, fmt.Errorf("seal: record %s has no ciphertext: %w", id, ErrMalformed)
	}
	return sr, nil
}

// RecordSuite returns the HPKE suite named by a record's kem_id, kdf_id and
// aead_id, or an error wrapping ErrUnsupported when it is not one of
// protocol version 1. It also checks the version.
func RecordSuite(sr *rbdesv1.SealedRecord) (Suite, error) {
	if v := sr.GetVersion(); v != Version {
		return Suite{}, fmt.Errorf("seal: record %s has format version %d; this node reads version %d: %w", sr.GetRecordId(), v, Version, ErrUnsupported)
	}
	ids := []uint32{sr.GetKemId(), sr.GetKdfId(), sr.GetAeadId()}
	for _, id := range ids {
		if id > math.MaxUint16 {
			return Suite{}, fmt.Errorf("seal: record %s names HPKE algorithm %d, beyond the 16-bit registry: %w", sr.GetRecordId(), id, ErrUnsupported)
		}
	}
	s := Suite{KEM: uint16(ids[0]), KDF: uint16(ids[1]), AEAD: uint16(ids[2])}
	if !s.Supported() {
		return s, fmt.Errorf("seal: record %s uses HPKE suite %s, not one of protocol version 1 (%s, %s): %w", sr.GetRecordId(), s.Name(), SuiteMLKEM768X25519.Name(), SuiteX25519.Name(), ErrUnsupported)
	}
	return s, nil
}

// VerifySignature checks sr's signature under the device public key pub.
// The error wraps ErrBadSignature when the signature does not verify.
func VerifySignature(sr *rbdesv1.SealedRecord, pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize {
		return fmt.Errorf("seal: device public key is %d bytes, want %d", len(pub), ed25519.PublicKeySize)
	}
	msg, err := SignatureInput(sr)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, msg, sr.GetSignature()) {
		return fmt.Errorf("seal: record %s from kiosk %s: signature does not verify under device key %s: %w", sr.GetRecordId(), sr.GetKioskId(), sr.GetDeviceKeyId(), ErrBadSignature)
	}
	return nil
}

// Open decrypts sr's ciphertext with the node private key priv and returns
// the serialized CaptureRecord. The caller checks the signature first and
// clears the plaintext when done. priv must be a key of the record's KEM.
// Errors wrap ErrUnsupported or ErrDecrypt.
func Open(sr *rbdesv1.SealedRecord, priv hpke.PrivateKey) ([]byte, error) {
	s, err := RecordSuite(sr)
	if err != nil {
		return nil, err
	}
	if got := priv.KEM().ID(); got != s.KEM {
		return nil, fmt.Errorf("seal: record %s is sealed with %s but node key %s is a %s key: %w", sr.GetRecordId(), KEMName(s.KEM), sr.GetNodeKeyId(), KEMName(got), ErrDecrypt)
	}
	kdf, aead, err := s.primitives()
	if err != nil {
		return nil, err
	}
	info := Info(sr.GetVersion(), sr.GetKioskId(), sr.GetRecordId())
	r, err := hpke.NewRecipient(sr.GetEnc(), priv, kdf, aead, info)
	if err != nil {
		return nil, fmt.Errorf("seal: record %s: encapsulated key rejected by node key %s (%v): %w", sr.GetRecordId(), sr.GetNodeKeyId(), err, ErrDecrypt)
	}
	plain, err := r.Open(nil, sr.GetCiphertext())
	if err != nil {
		return nil, fmt.Errorf("seal: record %s does not decrypt with node key %s (wrong key, or ciphertext bound to another kiosk or record id): %w", sr.GetRecordId(), sr.GetNodeKeyId(), ErrDecrypt)
	}
	return plain, nil
}
