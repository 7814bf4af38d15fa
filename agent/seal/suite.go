package seal

import (
	"crypto/ecdh"
	"crypto/hpke"
	"fmt"
)

// HPKE algorithm identifiers used by this protocol (RFC 9180 registry;
// 0x647A from draft-ietf-hpke-pq).
const (
	KEMMLKEM768X25519 uint16 = 0x647A
	KEMX25519         uint16 = 0x0020
	KDFHKDFSHA256     uint16 = 0x0001
	AEADAES256GCM     uint16 = 0x0002
)

// Suite is an HPKE cipher suite: KEM, KDF and AEAD identifiers.
type Suite struct {
	KEM, KDF, AEAD uint16
}

// The two suites of protocol version 1. Both use HKDF-SHA256 and
// AES-256-GCM; they differ in the KEM.
var (
	// SuiteMLKEM768X25519 is the default: the post-quantum hybrid KEM
	// MLKEM768-X25519, so that recorded traffic stays closed even to a
	// future quantum computer.
	SuiteMLKEM768X25519 = Suite{KEM: KEMMLKEM768X25519, KDF: KDFHKDFSHA256, AEAD: AEADAES256GCM}
	// SuiteX25519 is the classic DHKEM(X25519, HKDF-SHA256).
	SuiteX25519 = Suite{KEM: KEMX25519, KDF: KDFHKDFSHA256, AEAD: AEADAES256GCM}
)

// Suite names as written in the kiosk config (keys.suite).
const (
	SuiteNameMLKEM768X25519 = "mlkem768-x25519"
	SuiteNameX25519         = "x25519"
)

// ParseSuite returns the suite a config name selects.
func ParseSuite(name string) (Suite, error) {
	switch name {
	case SuiteNameMLKEM768X25519:
		return SuiteMLKEM768X25519, nil
	case SuiteNameX25519:
		return SuiteX25519, nil
	}
	return Suite{}, fmt.Errorf("seal: unknown suite %q (want %s or %s)", name, SuiteNameMLKEM768X25519, SuiteNameX25519)
}

// SuiteForKEM returns the version 1 suite with the given KEM.
func SuiteForKEM(kem uint16) (Suite, error) {
	switch kem {
	case KEMMLKEM768X25519:
		return SuiteMLKEM768X25519, nil
	case KEMX25519:
		return SuiteX25519, nil
	}
	return Suite{}, fmt.Errorf("seal: KEM 0x%04X is not one of protocol version 1 (MLKEM768-X25519 0x%04X, DHKEM(X25519) 0x%04X)", kem, KEMMLKEM768X25519, KEMX25519)
}

// Supported reports whether s is one of the suites of protocol version 1.
func (s Suite) Supported() bool {
	return s == SuiteMLKEM768X25519 || s == SuiteX25519
}

// PostQuantum reports whether the suite's KEM resists a quantum adversary.
func (s Suite) PostQuantum() bool { return s.KEM == KEMMLKEM768X25519 }

// Name returns the config name of a supported suite, or the three
// identifiers in hex.
func (s Suite) Name() string {
	switch s {
	case SuiteMLKEM768X25519:
		return SuiteNameMLKEM768X25519
	case SuiteX25519:
		return SuiteNameX25519
	}
	return fmt.Sprintf("kem=0x%04X,kdf=0x%04X,aead=0x%04X", s.KEM, s.KDF, s.AEAD)
}

// String returns Name.
func (s Suite) String() string { return s.Name() }

// KEMName names a KEM identifier for messages.
func KEMName(id uint16) string {
	switch id {
	case KEMMLKEM768X25519:
		return "MLKEM768-X25519"
	case KEMX25519:
		return "DHKEM(X25519)"
	}
	return fmt.Sprintf("KEM 0x%04X", id)
}

// KEM returns the crypto/hpke KEM of a version 1 KEM identifier.
func KEM(id uint16) (hpke.KEM, error) {
	switch id {
	case KEMMLKEM768X25519:
		return hpke.MLKEM768X25519(), nil
	case KEMX25519:
		return hpke.DHKEM(ecdh.X25519()), nil
	}
	_, err := SuiteForKEM(id)
	return nil, err
}

// primitives returns the crypto/hpke KDF and AEAD of a supported suite.
func (s Suite) primitives() (hpke.KDF, hpke.AEAD, error) {
	if !s.Supported() {
		return nil, nil, fmt.Errorf("seal: suite %s is not one of protocol version 1", s.Name())
	}
	return hpke.HKDFSHA256(), hpke.AES256GCM(), nil
}
