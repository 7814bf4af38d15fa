package seal

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"encoding/hex"
	"strings"
	"testing"

	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// unhex decodes hex written for reading: spaces and line breaks are
// ignored, and "#" starts a comment that runs to the end of the line.
func unhex(t *testing.T, s string) []byte {
	t.Helper()
	var clean strings.Builder
	for _, line := range strings.Split(s, "\n") {
		if i := strings.IndexByte(line, '#'); i >= 0 {
			line = line[:i]
		}
		clean.WriteString(strings.Join(strings.Fields(line), ""))
	}
	b, err := hex.DecodeString(clean.String())
	if err != nil {
		t.Fatalf("bad hex in test: %v", err)
	}
	return b
}

func TestSuiteIdentifiers(t *testing.T) {
	tests := []struct {
		name string
		got  uint16
		want uint16
	}{
		{"crypto/hpke MLKEM768X25519", hpke.MLKEM768X25519().ID(), 0x647A},
		{"crypto/hpke DHKEM(X25519)", hpke.DHKEM(ecdh.X25519()).ID(), 0x0020},
		{"crypto/hpke HKDF-SHA256", hpke.HKDFSHA256().ID(), 0x0001},
		{"crypto/hpke AES-256-GCM", hpke.AES256GCM().ID(), 0x0002},
		{"KEMMLKEM768X25519", KEMMLKEM768X25519, 0x647A},
		{"KEMX25519", KEMX25519, 0x0020},
		{"default suite KEM", SuiteMLKEM768X25519.KEM, 0x647A},
		{"default suite KDF", SuiteMLKEM768X25519.KDF, 0x0001},
		{"default suite AEAD", SuiteMLKEM768X25519.AEAD, 0x0002},
		{"classic suite KEM", SuiteX25519.KEM, 0x0020},
		{"classic suite KDF", SuiteX25519.KDF, 0x0001},
		{"classic suite AEAD", SuiteX25519.AEAD, 0x0002},
	}
	for _, tc := range tests {
		if tc.got != tc.want {
			t.Errorf("%s = 0x%04X, want 0x%04X", tc.name, tc.got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		want Suite
		ok   bool
	}{
		{"mlkem768-x25519", SuiteMLKEM768X25519, true},
		{"x25519", SuiteX25519, true},
		{"rsa2048", Suite{}, false},
		{"", Suite{}, false},
	} {
		got, err := ParseSuite(tc.name)
		if (err == nil) != tc.ok || got != tc.want {
			t.Errorf("ParseSuite(%q) = %v, %v; want %v, ok=%v", tc.name, got, err, tc.want, tc.ok)
		}
		if tc.ok && got.Name() != tc.name {
			t.Errorf("ParseSuite(%q).Name() = %q", tc.name, got.Name())
		}
	}
	if !SuiteMLKEM768X25519.PostQuantum() || SuiteX25519.PostQuantum() {
		t.Errorf("PostQuantum: mlkem=%v x25519=%v, want true false", SuiteMLKEM768X25519.PostQuantum(), SuiteX25519.PostQuantum())
	}
}

// The expected bytes below are written out by hand from the layout in the
// package comment, not produced by the code under test.
func TestInfoLayout(t *testing.T) {
	got := Info(1, "kiosk-001", "0190f5c2-7b3a-7cde-8f01-23456789abcd")
	want := unhex(t, `
		52424445532d76312d43617074757265 5265636f726400      # "RBDES-v1-CaptureRecord\0"
		00000001                                              # version 1
		00000009 6b696f736b2d303031                           # "kiosk-001"
		00000024 30313930663563322d376233612d376364652d38663031 2d323334353637383961626364   # record id (36 bytes)
	`)
	if !bytes.Equal(got, want) {
		t.Errorf("Info = %x\nwant   %x", got, want)
	}
	if len(InfoPrefix) != 23 || len(SignaturePrefix) != 22 {
		t.Errorf("prefix lengths = %d, %d; want 23, 22", len(InfoPrefix), len(SignaturePrefix))
	}
}

func TestSignatureInputLayout(t *testing.T) {
	sr := &rbdesv1.SealedRecord{
		Version:       1,
		KioskId:       "kiosk-001",
		RecordId:      "0190f5c2-7b3a-7cde-8f01-23456789abcd",
		Seq:           258,
		BootEpoch:     7,
		CreatedUnixMs: 1767225600000, // 2026-01-01T00:00:00Z
		KemId:         0x647A,
		KdfId:         1,
		AeadId:        2,
		NodeKeyId:     "node-1",
		Enc:           []byte{0xE0, 0xE1, 0xE2},
		Ciphertext:    []byte{0xC0, 0xC1, 0xC2, 0xC3},
		PrevHash:      bytes.Repeat([]byte{0xAB}, 32),
		DeviceKeyId:   "device-1",
		Signature:     bytes.Repeat([]byte{0xFF}, 64), // not part of the input
	}
	want := unhex(t, `
		52424445532d76312d5365616c6564 5265636f726400          # "RBDES-v1-SealedRecord\0"
		00000001                                              # version
		00000009 6b696f736b2d303031                           # kiosk_id
		00000024 30313930663563322d376233612d376364652d38663031 2d323334353637383961626364   # record_id
		0000000000000102                                      # seq 258
		0000000000000007                                      # boot_epoch 7
		0000019b76daa800                                      # created_unix_ms 1767225600000
		0000647a 00000001 00000002                            # kem, kdf, aead
		00000006 6e6f64652d31                                 # node_key_id "node-1"
		00000003 e0e1e2                                       # enc
		00000004 c0c1c2c3                                     # ciphertext
		00000020 abababababababababababababababab abababababababababababababababab   # prev_hash
		00000008 6465766963652d31                             # device_key_id "device-1"
	`)
	got, err := SignatureInput(sr)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("SignatureInput = %x\nwant             %x", got, want)
	}

	// A fixed Ed25519 key (seed 00..1f) signs that input; Ed25519 is
	// deterministic, so the signature is a known answer too. It was
	// computed once and checked with an independent implementation
	// (Python cryptography's Ed25519PrivateKey).
	seed := unhex(t, "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
	priv := ed25519.NewKeyFromSeed(seed)
	wantPub := unhex(t, "03a107bff3ce10be1d70dd18e74bc09967e4d6309ba50d5f1ddc8664125531b8")
	if got := priv.Public().(ed25519.PublicKey); !bytes.Equal(got, wantPub) {
		t.Fatalf("public key of seed 00..1f = %x, want %x", got, wantPub)
	}
	sig := ed25519.Sign(priv, want)
	sr.Signature = sig
	if err := VerifySignature(sr, priv.Public().(ed25519.PublicKey)); err != nil {
		t.Errorf("VerifySignature of the known-answer record: %v", err)
	}
	if got, wantSig := hex.EncodeToString(sig), katSignature; got != wantSig {
		t.Errorf("signature = %s\nwant        %s", got, wantSig)
	}
}

// katSignature is the Ed25519 signature of the TestSignatureInputLayout
// input under seed 00..1f.
const katSignature = "5db0ef25b0ab2938e84899fcad2bb4559778ef3ab810d8cdd33c02c5777ec92cd55b0c261bdfb44b87bcf159e84c77160d46fb68a61b8fe31ab28de692c99b07"
