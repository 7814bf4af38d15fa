package command

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

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

// The expected bytes are written by hand from the layout in the package
// comment; the signature was computed independently with Python's
// cryptography package.
func TestSignatureInputLayout(t *testing.T) {
	cmd := &rbdesv1.Command{
		CommandId:     "0190f5c2-7b3a-7cde-8f01-23456789abcd",
		KioskId:       "kiosk-001",
		IssuedUnixMs:  1767225600000,
		ExpiresUnixMs: 1767226200000,
		Nonce:         []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15},
		KeyId:         "cmd-1",
		Signature:     bytes.Repeat([]byte{0xEE}, 64), // not part of the input
		Body: &rbdesv1.Command_AddNodeKey{AddNodeKey: &rbdesv1.AddNodeKey{
			KeyId: "node-2", KemId: 0x647A, PublicKey: []byte{0x11, 0x22, 0x33}, MakeCurrent: true,
		}},
	}
	want := unhex(t, `
		52424445532d76312d436f6d6d616e6400      # "RBDES-v1-Command\0"
		00000024 30313930663563322d376233612d376364652d38663031 2d323334353637383961626364   # command_id
		00000009 6b696f736b2d303031              # kiosk_id
		0000019b76daa800                        # issued_unix_ms 1767225600000
		0000019b76e3cfc0                        # expires_unix_ms 1767226200000
		00000010 000102030405060708090a0b0c0d0e0f  # nonce
		00000005 636d642d31                      # key_id "cmd-1"
		0000000c                                # body: add_node_key (12)
		00000006 6e6f64652d32                    # key_id "node-2"
		0000647a                                # kem_id
		00000003 112233                          # public_key
		01                                      # make_current
	`)
	got, err := SignatureInput(cmd)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("SignatureInput = %x\nwant             %x", got, want)
	}
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	sig := ed25519.Sign(ed25519.NewKeyFromSeed(seed), got)
	if h := hex.EncodeToString(sig); h != "72b9411f823a4af503124b61473c9cfe4e306a2534aeacc6f942a62672b2924f5cc3bb3b43d1115313947b75c8d6c6f1a831554073921d1c90df758b3bccfb09" {
		t.Errorf("signature = %s", h)
	}

	policy := &rbdesv1.Command{
		CommandId: "c-2", KioskId: "kiosk-001", IssuedUnixMs: 1, ExpiresUnixMs: 2, Nonce: make([]byte, 16), KeyId: "cmd-1",
		Body: &rbdesv1.Command_SetCapturePolicy{SetCapturePolicy: &rbdesv1.SetCapturePolicy{Values: map[string]string{
			"min_finger_quality": "25", "max_attempts": "3",
		}}},
	}
	want = unhex(t, `
		52424445532d76312d436f6d6d616e6400      # prefix
		00000003 632d32                          # command_id "c-2"
		00000009 6b696f736b2d303031              # kiosk_id
		0000000000000001 0000000000000002        # issued, expires
		00000010 00000000000000000000000000000000  # nonce
		00000005 636d642d31                      # key_id
		0000000e                                # body: set_capture_policy (14)
		00000002                                # two pairs, sorted by key
		0000000c 6d61785f617474656d707473 00000001 33                            # max_attempts = 3
		00000012 6d696e5f66696e6765725f7175616c697479 00000002 3235            # min_finger_quality = 25
	`)
	for range 10 { // map order varies between runs; the layout must not
		if got, _ := SignatureInput(policy); !bytes.Equal(got, want) {
			t.Fatalf("SignatureInput(set_capture_policy) = %x\nwant %x", got, want)
		}
	}
	for body, num := range map[string]byte{"ping": 10, "report_status": 11, "retire_node_key": 13} {
		c := &rbdesv1.Command{CommandId: "c", KioskId: "kiosk-001"}
		switch body {
		case "ping":
			c.Body = &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}
		case "report_status":
			c.Body = &rbdesv1.Command_ReportStatus{ReportStatus: &rbdesv1.ReportStatus{}}
		case "retire_node_key":
			c.Body = &rbdesv1.Command_RetireNodeKey{RetireNodeKey: &rbdesv1.RetireNodeKey{KeyId: "node-1"}}
		}
		got, _ := SignatureInput(c)
		head := len(SignaturePrefix) + 4 + 1 + 4 + 9 + 8 + 8 + 4 + 4
		if got[head+3] != num || Kind(c) != body {
			t.Errorf("%s: body number byte %d, kind %q", body, got[head+3], Kind(c))
		}
	}
	if _, err := SignatureInput(&rbdesv1.Command{}); !errors.Is(err, errNoBody) {
		t.Errorf("SignatureInput without body = %v", err)
	}
}

type env struct {
	clk    *clock.Fake
	signer *Signer
	pub    ed25519.PublicKey
	nonces *FileNonces
	path   string
	v      *Verifier
}

func newEnv(t testing.TB) *env {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	clk := clock.NewFake(time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC))
	s, err := NewSigner("cmd-1", priv, &SignerOptions{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "command-nonces.json")
	n, err := OpenFileNonces(path, 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := NewVerifier("kiosk-001", map[string]ed25519.PublicKey{"cmd-1": pub}, n, &Options{Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	return &env{clk: clk, signer: s, pub: pub, nonces: n, path: path, v: v}
}

func (e *env) ping(t testing.TB, kiosk string) *rbdesv1.Command {
	t.Helper()
	c := &rbdesv1.Command{KioskId: kiosk, Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
	if err := e.signer.Sign(c); err != nil {
		t.Fatal(err)
	}
	return c
}

func marshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSignAndVerify(t *testing.T) {
	e := newEnv(t)
	c := e.ping(t, "kiosk-001")
	if len(c.Nonce) != NonceSize || c.KeyId != "cmd-1" || c.CommandId == "" || c.IssuedUnixMs != e.clk.Now().UnixMilli() || c.ExpiresUnixMs != c.IssuedUnixMs+DefaultLifetime.Milliseconds() {
		t.Errorf("Sign filled %+v", c)
	}
	got, err := e.v.Verify(marshal(t, c))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if got.CommandId != c.CommandId || Kind(got) != "ping" {
		t.Errorf("Verify returned %v", got)
	}
	if e.nonces.Len() != 1 {
		t.Errorf("nonce store holds %d nonces, want 1", e.nonces.Len())
	}
	if err := e.signer.Sign(&rbdesv1.Command{KioskId: "Kiosk 1", Body: &rbdesv1.Command_Ping{}}); err == nil {
		t.Errorf("Sign for a bad kiosk id: want an error")
	}
}

func TestVerifyRejections(t *testing.T) {
	const (
		malformed  = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_MALFORMED
		wrongKiosk = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_WRONG_KIOSK
		unknownKey = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNKNOWN_KEY
		badSig     = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_BAD_SIGNATURE
		expired    = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_EXPIRED
		replayed   = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_REPLAYED
	)
	_, otherKey, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name    string
		payload func(t *testing.T, e *env) []byte
		want    rbdesv1.CommandRejectReason
		detail  string
	}{
		{"garbage", func(t *testing.T, e *env) []byte { return []byte{0xFF, 0xFF} }, malformed, "not a Command"},
		{"too large", func(t *testing.T, e *env) []byte { return make([]byte, MaxCommandBytes+1) }, malformed, "exceeds"},
		{"unknown field", func(t *testing.T, e *env) []byte {
			b := marshal(t, e.ping(t, "kiosk-001"))
			return protowire.AppendVarint(protowire.AppendTag(b, 50, protowire.VarintType), 1)
		}, malformed, "unknown to protocol version 1"},
		{"unknown field inside the body", func(t *testing.T, e *env) []byte {
			c := &rbdesv1.Command{KioskId: "kiosk-001", Body: &rbdesv1.Command_RetireNodeKey{RetireNodeKey: &rbdesv1.RetireNodeKey{KeyId: "node-1"}}}
			e.signer.Sign(c)
			c.GetRetireNodeKey().ProtoReflect().SetUnknown(protowire.AppendVarint(protowire.AppendTag(nil, 9, protowire.VarintType), 1))
			return marshal(t, c)
		}, malformed, "unknown to protocol version 1"},
		{"no body", func(t *testing.T, e *env) []byte {
			c := e.ping(t, "kiosk-001")
			c.Body = nil
			return marshal(t, c)
		}, malformed, "no body"},
		{"short nonce", func(t *testing.T, e *env) []byte {
			c := &rbdesv1.Command{KioskId: "kiosk-001", Nonce: make([]byte, 8), Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
			e.signer.Sign(c)
			return marshal(t, c)
		}, malformed, "nonce is 8 bytes"},
		{"no command id", func(t *testing.T, e *env) []byte {
			c := e.ping(t, "kiosk-001")
			c.CommandId = ""
			return marshal(t, c)
		}, malformed, "command id"},
		{"short signature", func(t *testing.T, e *env) []byte {
			c := e.ping(t, "kiosk-001")
			c.Signature = c.Signature[:10]
			return marshal(t, c)
		}, malformed, "signature is 10 bytes"},
		{"expires before issued", func(t *testing.T, e *env) []byte {
			c := &rbdesv1.Command{KioskId: "kiosk-001", IssuedUnixMs: 5000, ExpiresUnixMs: 4000, Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
			e.signer.Sign(c)
			return marshal(t, c)
		}, malformed, "before it is issued"},
		{"another kiosk's command", func(t *testing.T, e *env) []byte { return marshal(t, e.ping(t, "kiosk-002")) }, wrongKiosk, "kiosk-002"},
		{"unknown key", func(t *testing.T, e *env) []byte {
			s, _ := NewSigner("cmd-9", otherKey, &SignerOptions{Clock: e.clk})
			c := &rbdesv1.Command{KioskId: "kiosk-001", Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
			s.Sign(c)
			return marshal(t, c)
		}, unknownKey, "cmd-9"},
		{"signed by another key under the known id", func(t *testing.T, e *env) []byte {
			s, _ := NewSigner("cmd-1", otherKey, &SignerOptions{Clock: e.clk})
			c := &rbdesv1.Command{KioskId: "kiosk-001", Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
			s.Sign(c)
			return marshal(t, c)
		}, badSig, "does not verify"},
		{"body changed after signing", func(t *testing.T, e *env) []byte {
			c := &rbdesv1.Command{KioskId: "kiosk-001", Body: &rbdesv1.Command_AddNodeKey{AddNodeKey: &rbdesv1.AddNodeKey{KeyId: "node-2", KemId: 0x647A, PublicKey: []byte{1}}}}
			e.signer.Sign(c)
			c.GetAddNodeKey().MakeCurrent = true
			return marshal(t, c)
		}, badSig, ""},
		{"body kind changed after signing", func(t *testing.T, e *env) []byte {
			c := e.ping(t, "kiosk-001")
			c.Body = &rbdesv1.Command_ReportStatus{ReportStatus: &rbdesv1.ReportStatus{}}
			return marshal(t, c)
		}, badSig, ""},
		{"expiry extended after signing", func(t *testing.T, e *env) []byte {
			c := e.ping(t, "kiosk-001")
			c.ExpiresUnixMs += 1000
			return marshal(t, c)
		}, badSig, ""},
		{"expired", func(t *testing.T, e *env) []byte {
			b := marshal(t, e.ping(t, "kiosk-001"))
			e.clk.Advance(DefaultLifetime)
			return b
		}, expired, "expired at"},
		{"issued in the future", func(t *testing.T, e *env) []byte {
			c := &rbdesv1.Command{KioskId: "kiosk-001", IssuedUnixMs: e.clk.Now().Add(time.Hour).UnixMilli(), Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
			e.signer.Sign(c)
			return marshal(t, c)
		}, expired, "in the future"},
		{"valid for too long", func(t *testing.T, e *env) []byte {
			c := &rbdesv1.Command{KioskId: "kiosk-001", ExpiresUnixMs: e.clk.Now().Add(48 * time.Hour).UnixMilli(), Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}
			e.signer.Sign(c)
			return marshal(t, c)
		}, expired, "longer than the kiosk's maximum"},
		{"replayed", func(t *testing.T, e *env) []byte {
			b := marshal(t, e.ping(t, "kiosk-001"))
			if _, err := e.v.Verify(b); err != nil {
				t.Fatal(err)
			}
			return b
		}, replayed, "accepted before"},
		{"nonce reused by a new command", func(t *testing.T, e *env) []byte {
			first := e.ping(t, "kiosk-001")
			if _, err := e.v.Verify(marshal(t, first)); err != nil {
				t.Fatal(err)
			}
			c := &rbdesv1.Command{KioskId: "kiosk-001", Nonce: first.Nonce, Body: &rbdesv1.Command_ReportStatus{ReportStatus: &rbdesv1.ReportStatus{}}}
			e.signer.Sign(c)
			return marshal(t, c)
		}, replayed, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			payload := tc.payload(t, e)
			before := e.nonces.Len()
			_, err := e.v.Verify(payload)
			if got := ReasonOf(err); got != tc.want {
				t.Fatalf("Verify = %v, want reason %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("rejection %q does not mention %q", err, tc.detail)
			}
			if e.nonces.Len() != before {
				t.Errorf("a rejected command changed the nonce store (%d -> %d)", before, e.nonces.Len())
			}
		})
	}
}

// TestReplayAfterRestart checks that an accepted command is refused after
// kioskd restarts (a new Verifier over the same nonce file), and that the
// nonces are forgotten once their commands have expired.
func TestReplayAfterRestart(t *testing.T) {
	e := newEnv(t)
	b := marshal(t, e.ping(t, "kiosk-001"))
	if _, err := e.v.Verify(b); err != nil {
		t.Fatal(err)
	}
	n2, err := OpenFileNonces(e.path, 0)
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := NewVerifier("kiosk-001", map[string]ed25519.PublicKey{"cmd-1": e.pub}, n2, &Options{Clock: e.clk})
	if _, err := v2.Verify(b); ReasonOf(err) != rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_REPLAYED {
		t.Errorf("replay after restart = %v, want REPLAYED", err)
	}
	e.clk.Advance(DefaultLifetime + 10*time.Minute)
	if _, err := v2.Verify(marshal(t, e.ping(t, "kiosk-001"))); err != nil {
		t.Fatal(err)
	}
	if n2.Len() != 1 {
		t.Errorf("nonce store holds %d nonces after the first expired, want 1", n2.Len())
	}
	if _, err := v2.Verify(b); ReasonOf(err) != rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_EXPIRED {
		t.Errorf("old command after its nonce was forgotten = %v, want EXPIRED", err)
	}
}

func TestNonceStoreFailures(t *testing.T) {
	e := newEnv(t)
	// A directory in the file's place: the nonce cannot be saved, so the
	// command is not accepted, and is not a rejection either.
	os.Remove(e.path)
	os.Mkdir(e.path, 0o700)
	c := e.ping(t, "kiosk-001")
	_, err := e.v.Verify(marshal(t, c))
	if err == nil || ReasonOf(err) != rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED {
		t.Errorf("Verify with an unwritable nonce store = %v, want a plain error", err)
	}
	if e.nonces.Len() != 0 {
		t.Errorf("failed save left %d nonces in memory", e.nonces.Len())
	}

	small, err := OpenFileNonces(filepath.Join(t.TempDir(), "n.json"), 2)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	for i := range 2 {
		if ok, err := small.Use([]byte{byte(i)}, now.Add(time.Hour), now); !ok || err != nil {
			t.Fatalf("Use %d = %v, %v", i, ok, err)
		}
	}
	if _, err := small.Use([]byte{9}, now.Add(time.Hour), now); !errors.Is(err, ErrNoncesFull) {
		t.Errorf("Use beyond the maximum = %v, want ErrNoncesFull", err)
	}
	if ok, err := small.Use([]byte{9}, now.Add(3*time.Hour), now.Add(2*time.Hour)); !ok || err != nil {
		t.Errorf("Use after the others expired = %v, %v; want true", ok, err)
	}

	bad := filepath.Join(t.TempDir(), "n.json")
	for _, content := range []string{"{", `{"version":2,"nonces":{}}`, `{"version":1,"nonces":{"zz":1}}`} {
		os.WriteFile(bad, []byte(content), 0o600)
		if _, err := OpenFileNonces(bad, 0); err == nil {
			t.Errorf("OpenFileNonces(%s) = nil error, want refusal", content)
		}
	}
}

func TestConstructorsRefuse(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	n, _ := OpenFileNonces(filepath.Join(t.TempDir(), "n.json"), 0)
	cases := map[string]error{}
	_, cases["signer bad id"] = NewSigner("bad id", priv, nil)
	_, cases["signer no key"] = NewSigner("cmd-1", nil, nil)
	_, cases["verifier bad kiosk"] = NewVerifier("K", nil, n, nil)
	_, cases["verifier no nonces"] = NewVerifier("kiosk-001", nil, nil, nil)
	_, cases["verifier bad key"] = NewVerifier("kiosk-001", map[string]ed25519.PublicKey{"cmd-1": pub[:5]}, n, nil)
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: want an error", name)
		}
	}
}
