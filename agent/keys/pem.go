package keys

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// PEM block types of the HPKE key files.
const (
	PEMHPKEPrivate = "RBDES HPKE PRIVATE KEY"
	PEMHPKEPublic  = "RBDES HPKE PUBLIC KEY"
)

// MarshalEd25519Private returns k as a PKCS#8 PEM block.
func MarshalEd25519Private(k ed25519.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot encode Ed25519 private key: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	clear(der)
	return out, nil
}

// MarshalEd25519Public returns k as a PKIX PEM block.
func MarshalEd25519Public(k ed25519.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot encode Ed25519 public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// ParseEd25519Private parses a PKCS#8 PEM Ed25519 private key.
func ParseEd25519Private(data []byte) (ed25519.PrivateKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("keys: want a PEM \"PRIVATE KEY\" block (PKCS#8 Ed25519): %w", ErrFormat)
	}
	defer clear(b.Bytes)
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: not a PKCS#8 private key (%v): %w", err, ErrFormat)
	}
	ek, ok := k.(ed25519.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("keys: private key is a %T, want Ed25519: %w", k, ErrFormat)
	}
	return ek, nil
}

// ParseEd25519Public parses a PKIX PEM Ed25519 public key.
func ParseEd25519Public(data []byte) (ed25519.PublicKey, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "PUBLIC KEY" {
		return nil, fmt.Errorf("keys: want a PEM \"PUBLIC KEY\" block (PKIX Ed25519): %w", ErrFormat)
	}
	k, err := x509.ParsePKIXPublicKey(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: not a PKIX public key (%v): %w", err, ErrFormat)
	}
	ek, ok := k.(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("keys: public key is a %T, want Ed25519: %w", k, ErrFormat)
	}
	return ek, nil
}

// LoadEd25519Private reads and parses a private key file, checking its
// mode (see ReadPrivateFile).
func LoadEd25519Private(path, what string) (ed25519.PrivateKey, error) {
	data, err := ReadPrivateFile(path, what)
	if err != nil {
		return nil, err
	}
	defer clear(data)
	k, err := ParseEd25519Private(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %s %s: %w", what, path, err)
	}
	return k, nil
}

// LoadEd25519Public reads and parses a public key file.
func LoadEd25519Public(path, what string) (ed25519.PublicKey, error) {
	data, err := ReadPublicFile(path, what)
	if err != nil {
		return nil, err
	}
	k, err := ParseEd25519Public(data)
	if err != nil {
		return nil, fmt.Errorf("keys: %s %s: %w", what, path, err)
	}
	return k, nil
}

// GenerateHPKE makes a new node sealing key pair for a version 1 KEM.
func GenerateHPKE(kem uint16) (hpke.PrivateKey, error) {
	k, err := seal.KEM(kem)
	if err != nil {
		return nil, fmt.Errorf("keys: %w", err)
	}
	priv, err := k.GenerateKey()
	if err != nil {
		return nil, fmt.Errorf("keys: cannot generate a %s key: %w", seal.KEMName(kem), err)
	}
	return priv, nil
}

// MarshalHPKEPrivate returns priv as an "RBDES HPKE PRIVATE KEY" PEM block
// labelled with keyID.
func MarshalHPKEPrivate(keyID string, priv hpke.PrivateKey) ([]byte, error) {
	raw, err := priv.Bytes()
	if err != nil {
		return nil, fmt.Errorf("keys: cannot serialize HPKE private key %s: %w", keyID, err)
	}
	// raw is not cleared: for the hybrid KEM, crypto/hpke (Go 1.26) returns
	// the key's own seed slice, and clearing it would destroy the key.
	return pem.EncodeToMemory(&pem.Block{Type: PEMHPKEPrivate, Headers: hpkeHeaders(keyID, priv.KEM().ID()), Bytes: raw}), nil
}

// MarshalHPKEPublic returns pub as an "RBDES HPKE PUBLIC KEY" PEM block
// labelled with keyID.
func MarshalHPKEPublic(keyID string, pub hpke.PublicKey) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: PEMHPKEPublic, Headers: hpkeHeaders(keyID, pub.KEM().ID()), Bytes: pub.Bytes()})
}

func hpkeHeaders(keyID string, kem uint16) map[string]string {
	h := map[string]string{"KEM-ID": fmt.Sprintf("0x%04X", kem)}
	if keyID != "" {
		h["Key-ID"] = keyID
	}
	return h
}

// ParseHPKEPrivate parses an "RBDES HPKE PRIVATE KEY" block. It returns
// the key and the Key-ID header ("" when absent).
func ParseHPKEPrivate(data []byte) (hpke.PrivateKey, string, error) {
	b, kem, id, err := decodeHPKE(data, PEMHPKEPrivate)
	if err != nil {
		return nil, "", err
	}
	defer clear(b.Bytes)
	priv, err := kem.NewPrivateKey(b.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("keys: not a valid %s private key (%v): %w", seal.KEMName(kem.ID()), err, ErrFormat)
	}
	return priv, id, nil
}

// ParseHPKEPublic parses an "RBDES HPKE PUBLIC KEY" block. It returns the
// key and the Key-ID header ("" when absent).
func ParseHPKEPublic(data []byte) (hpke.PublicKey, string, error) {
	b, kem, id, err := decodeHPKE(data, PEMHPKEPublic)
	if err != nil {
		return nil, "", err
	}
	pub, err := kem.NewPublicKey(b.Bytes)
	if err != nil {
		return nil, "", fmt.Errorf("keys: not a valid %s public key (%v): %w", seal.KEMName(kem.ID()), err, ErrFormat)
	}
	return pub, id, nil
}

func decodeHPKE(data []byte, typ string) (*pem.Block, hpke.KEM, string, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != typ {
		return nil, nil, "", fmt.Errorf("keys: want a PEM %q block (kioskctl keys node makes one): %w", typ, ErrFormat)
	}
	v := strings.TrimPrefix(strings.ToLower(b.Headers["KEM-ID"]), "0x")
	n, err := strconv.ParseUint(v, 16, 16)
	if err != nil {
		return nil, nil, "", fmt.Errorf("keys: %s block has no valid KEM-ID header (got %q): %w", typ, b.Headers["KEM-ID"], ErrFormat)
	}
	kem, err := seal.KEM(uint16(n))
	if err != nil {
		return nil, nil, "", fmt.Errorf("keys: %v: %w", err, ErrFormat)
	}
	return b, kem, b.Headers["Key-ID"], nil
}

// LoadHPKEPrivate reads a node private sealing key, checking its mode and,
// when the file names one, that its Key-ID is keyID.
func LoadHPKEPrivate(path, keyID string) (hpke.PrivateKey, error) {
	data, err := ReadPrivateFile(path, "node private sealing key")
	if err != nil {
		return nil, err
	}
	defer clear(data)
	priv, id, err := ParseHPKEPrivate(data)
	if err != nil {
		return nil, fmt.Errorf("keys: node private sealing key %s: %w", path, err)
	}
	if id != "" && id != keyID {
		return nil, fmt.Errorf("keys: %s holds node key %q but the config names it %q (fix the id or the path): %w", path, id, keyID, ErrFormat)
	}
	return priv, nil
}

// LoadHPKEPublic reads a node public sealing key and, when the file names
// one, checks that its Key-ID is keyID.
func LoadHPKEPublic(path, keyID string) (hpke.PublicKey, error) {
	data, err := ReadPublicFile(path, "node public sealing key")
	if err != nil {
		return nil, err
	}
	pub, id, err := ParseHPKEPublic(data)
	if err != nil {
		return nil, fmt.Errorf("keys: node public sealing key %s: %w", path, err)
	}
	if id != "" && id != keyID {
		return nil, fmt.Errorf("keys: %s holds node key %q but the config names it %q (fix the id or the path): %w", path, id, keyID, ErrFormat)
	}
	return pub, nil
}
