package keys

import (
	"crypto/ed25519"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// FuzzParseKeyFiles feeds arbitrary bytes to every key-file parser: none
// may panic, and a refusal of a key format must wrap ErrFormat.
func FuzzParseKeyFiles(f *testing.F) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	privPEM, _ := MarshalEd25519Private(priv)
	pubPEM, _ := MarshalEd25519Public(pub)
	hk, _ := GenerateHPKE(seal.KEMMLKEM768X25519)
	hPriv, _ := MarshalHPKEPrivate("node-1", hk)
	tk, _, _ := NewTLSKey()
	csr, _ := NewCSR(tk, "kiosk-001")
	for _, seed := range [][]byte{privPEM, pubPEM, hPriv, MarshalHPKEPublic("node-1", hk.PublicKey()), csr, []byte("-----BEGIN RBDES HPKE PUBLIC KEY-----\nKEM-ID: zz\n\n-----END RBDES HPKE PUBLIC KEY-----\n"), {}} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ParseEd25519Private(b)
		ParseEd25519Public(b)
		if k, _, err := ParseHPKEPrivate(b); err == nil && k == nil {
			t.Fatal("ParseHPKEPrivate returned no key and no error")
		}
		if k, _, err := ParseHPKEPublic(b); err == nil && k == nil {
			t.Fatal("ParseHPKEPublic returned no key and no error")
		}
		ParseCSR(b)
		ParseCertificate(b)
	})
}
