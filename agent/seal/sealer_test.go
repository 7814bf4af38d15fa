package seal

import (
	"bytes"
	"crypto"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

const testKiosk = "kiosk-001"

// testRecord returns a CaptureRecord of about size bytes: a portrait and
// four finger templates of random bytes.
func testRecord(t testing.TB, size int) *rbdesv1.CaptureRecord {
	t.Helper()
	fill := func(n int) []byte {
		b := make([]byte, n)
		rand.Read(b)
		return b
	}
	face := max(size-4*800-400, 16)
	rec := &rbdesv1.CaptureRecord{
		RecordId:       uuid.Must(uuid.NewV7()).String(),
		KioskId:        testKiosk,
		Site:           "Ngurah Rai arrivals hall, lane 3",
		CapturedUnixMs: 1767225600000,
		SessionId:      "s-42",
		OfficerId:      "officer-7",
		Devices:        []*rbdesv1.DeviceInfo{{Kind: rbdesv1.DeviceKind_DEVICE_KIND_FINGERPRINT_SENSOR, Name: "fingerprint", Driver: "sim-r30x"}},
		Face:           &rbdesv1.FaceSample{IsoRecord: fill(face), Quality: 80, Accepted: true},
		Policy:         "default",
		AgentVersion:   "test",
		Timings:        &rbdesv1.CaptureTimings{TotalMs: 9000},
		Fingers:        nil,
	}
	for pos := 2; pos <= 5; pos++ {
		rec.Fingers = append(rec.Fingers, &rbdesv1.FingerSample{
			Position: rbdesv1.FingerPosition(pos), IsoTemplate: fill(800), Quality: 60, Attempts: 1, Minutiae: 40,
		})
	}
	return rec
}

type fixture struct {
	devPub  ed25519.PublicKey
	devPriv ed25519.PrivateKey
	node    hpke.PrivateKey
	sealer  *Sealer
	clk     *clock.Fake
}

func newFixture(t testing.TB, suite Suite) *fixture {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	kem, err := KEM(suite.KEM)
	if err != nil {
		t.Fatal(err)
	}
	node, err := kem.GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	s, err := New(testKiosk, "device-1", priv, Fixed(Recipient{KeyID: "node-1", Key: node.PublicKey()}), &Options{Clock: clk, BootEpoch: 7})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{devPub: pub, devPriv: priv, node: node, sealer: s, clk: clk}
}

func TestSealRoundTrip(t *testing.T) {
	for _, suite := range []Suite{SuiteMLKEM768X25519, SuiteX25519} {
		t.Run(suite.Name(), func(t *testing.T) {
			f := newFixture(t, suite)
			rec := testRecord(t, 50<<10)
			want := proto.Clone(rec).(*rbdesv1.CaptureRecord)
			prev := [HashSize]byte{1, 2, 3}
			out, err := f.sealer.Seal(rec, 42, prev)
			if err != nil {
				t.Fatalf("Seal: %v", err)
			}
			if !proto.Equal(rec, want) {
				t.Errorf("Seal modified its input record")
			}
			sr, err := Parse(out)
			if err != nil {
				t.Fatalf("Parse(Seal output): %v", err)
			}
			checks := []struct {
				field     string
				got, want any
			}{
				{"version", sr.GetVersion(), uint32(1)},
				{"kiosk_id", sr.GetKioskId(), testKiosk},
				{"record_id", sr.GetRecordId(), rec.GetRecordId()},
				{"seq", sr.GetSeq(), uint64(42)},
				{"boot_epoch", sr.GetBootEpoch(), uint64(7)},
				{"created_unix_ms", sr.GetCreatedUnixMs(), int64(1767225600000)},
				{"kem_id", sr.GetKemId(), uint32(suite.KEM)},
				{"kdf_id", sr.GetKdfId(), uint32(0x0001)},
				{"aead_id", sr.GetAeadId(), uint32(0x0002)},
				{"node_key_id", sr.GetNodeKeyId(), "node-1"},
				{"device_key_id", sr.GetDeviceKeyId(), "device-1"},
				{"prev_hash", string(sr.GetPrevHash()), string(prev[:])},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("sealed %s = %v, want %v", c.field, c.got, c.want)
				}
			}
			if s, err := RecordSuite(sr); err != nil || s != suite {
				t.Errorf("RecordSuite = %v, %v; want %v", s, err, suite)
			}
			if err := VerifySignature(sr, f.devPub); err != nil {
				t.Errorf("VerifySignature: %v", err)
			}
			plain, err := Open(sr, f.node)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			got := &rbdesv1.CaptureRecord{}
			if err := proto.Unmarshal(plain, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, want) {
				t.Errorf("opened record differs from the sealed one")
			}
			if bytes.Contains(out, want.GetFace().GetIsoRecord()[:64]) {
				t.Errorf("sealed bytes contain the plaintext portrait")
			}
		})
	}
}

// TestSealUsesCurrentRecipient checks that a change of the node key set
// takes effect at the next record.
func TestSealUsesCurrentRecipient(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	k1, _ := hpke.MLKEM768X25519().GenerateKey()
	k2, _ := hpke.MLKEM768X25519().GenerateKey()
	to := &switchable{r: Recipient{KeyID: "node-1", Key: k1.PublicKey()}}
	s, err := New(testKiosk, "device-1", priv, to, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id  string
		key hpke.PrivateKey
	}{{"node-1", k1}, {"node-2", k2}} {
		to.r = Recipient{KeyID: tc.id, Key: tc.key.PublicKey()}
		out, err := s.Seal(testRecord(t, 1000), 1, [HashSize]byte{})
		if err != nil {
			t.Fatal(err)
		}
		sr, err := Parse(out)
		if err != nil {
			t.Fatal(err)
		}
		if sr.GetNodeKeyId() != tc.id {
			t.Errorf("node_key_id = %q, want %q", sr.GetNodeKeyId(), tc.id)
		}
		if _, err := Open(sr, tc.key); err != nil {
			t.Errorf("Open with %s: %v", tc.id, err)
		}
		if err := VerifySignature(sr, pub); err != nil {
			t.Error(err)
		}
	}
}

type switchable struct{ r Recipient }

func (s *switchable) Current() Recipient { return s.r }

func TestSealRefuses(t *testing.T) {
	f := newFixture(t, SuiteX25519)
	tests := []struct {
		name string
		rec  func() *rbdesv1.CaptureRecord
		want string
	}{
		{"nil record", func() *rbdesv1.CaptureRecord { return nil }, "nil CaptureRecord"},
		{"other kiosk", func() *rbdesv1.CaptureRecord {
			r := testRecord(t, 100)
			r.KioskId = "kiosk-002"
			return r
		}, `carries kiosk id "kiosk-002"`},
		{"uppercase record id", func() *rbdesv1.CaptureRecord {
			r := testRecord(t, 100)
			r.RecordId = strings.ToUpper(r.RecordId)
			return r
		}, "not a canonical lowercase UUID"},
		{"empty record id", func() *rbdesv1.CaptureRecord {
			r := testRecord(t, 100)
			r.RecordId = ""
			return r
		}, "not a canonical lowercase UUID"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			out, err := f.sealer.Seal(tc.rec(), 1, [HashSize]byte{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Seal = %d bytes, %v; want error containing %q", len(out), err, tc.want)
			}
		})
	}
}

type failingSigner struct{ pub ed25519.PublicKey }

func (f failingSigner) Public() crypto.PublicKey { return f.pub }
func (f failingSigner) Sign(io.Reader, []byte, crypto.SignerOpts) ([]byte, error) {
	return nil, errors.New("secure element unplugged")
}

type lyingSigner struct{ ed25519.PrivateKey }

func (l lyingSigner) Sign(r io.Reader, m []byte, o crypto.SignerOpts) ([]byte, error) {
	sig, err := l.PrivateKey.Sign(r, m, o)
	sig[0] ^= 1
	return sig, err
}

func TestNewRefuses(t *testing.T) {
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	node, _ := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	to := Fixed(Recipient{KeyID: "node-1", Key: node.PublicKey()})
	tests := []struct {
		name   string
		kiosk  string
		devID  string
		signer crypto.Signer
		to     Recipients
		want   string
	}{
		{"bad kiosk id", "Kiosk_1", "device-1", priv, to, "kiosk id"},
		{"bad device key id", testKiosk, "", priv, to, "device key id"},
		{"no signer", testKiosk, "device-1", nil, to, "needs a signer"},
		{"ECDSA signer", testKiosk, "device-1", ec, to, "want an Ed25519 key"},
		{"failing signer", testKiosk, "device-1", failingSigner{pub}, to, "secure element unplugged"},
		{"corrupt signer", testKiosk, "device-1", lyingSigner{priv}, to, "corrupt key"},
		{"no node key", testKiosk, "device-1", priv, Fixed(Recipient{}), "no usable node key"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.kiosk, tc.devID, tc.signer, tc.to, nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("New = %v, want error containing %q", err, tc.want)
			}
		})
	}
}

func TestWipe(t *testing.T) {
	rec := testRecord(t, 5000)
	rec.Fingers[0].Image = &rbdesv1.FingerImage{Data: []byte{1, 2, 3}}
	face, tmpl, img := rec.Face.IsoRecord, rec.Fingers[1].IsoTemplate, rec.Fingers[0].Image.Data
	Wipe(rec)
	for name, b := range map[string][]byte{"face": face, "template": tmpl, "image": img} {
		if !bytes.Equal(b, make([]byte, len(b))) {
			t.Errorf("Wipe left %s bytes non-zero", name)
		}
	}
	Wipe(nil)
	Wipe(&rbdesv1.CaptureRecord{})
}

func TestParseRefuses(t *testing.T) {
	f := newFixture(t, SuiteX25519)
	good, err := f.sealer.Seal(testRecord(t, 500), 1, [HashSize]byte{})
	if err != nil {
		t.Fatal(err)
	}
	mutate := func(fn func(sr *rbdesv1.SealedRecord)) []byte {
		sr := &rbdesv1.SealedRecord{}
		if err := proto.Unmarshal(good, sr); err != nil {
			t.Fatal(err)
		}
		fn(sr)
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sr)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	tests := []struct {
		name string
		in   []byte
		want string
	}{
		{"empty", nil, "empty payload"},
		{"not protobuf", []byte{0xFF, 0xFF, 0xFF}, "not a SealedRecord"},
		{"unknown field", protowire.AppendBytes(protowire.AppendTag(append([]byte{}, good...), 99, protowire.BytesType), []byte("x")), "unknown to protocol version 1"},
		{"repeated field", protowire.AppendVarint(protowire.AppendTag(append([]byte{}, good...), 1, protowire.VarintType), 1), "canonical"},
		{"zero value written", append(protowire.AppendVarint(protowire.AppendTag(nil, 5, protowire.VarintType), 0), good...), "canonical"},
		{"bad kiosk id", mutate(func(sr *rbdesv1.SealedRecord) { sr.KioskId = "K" }), "kiosk_id"},
		{"bad record id", mutate(func(sr *rbdesv1.SealedRecord) { sr.RecordId = "1" }), "record_id"},
		{"bad device key id", mutate(func(sr *rbdesv1.SealedRecord) { sr.DeviceKeyId = "" }), "device_key_id"},
		{"bad node key id", mutate(func(sr *rbdesv1.SealedRecord) { sr.NodeKeyId = "-x" }), "node_key_id"},
		{"short prev hash", mutate(func(sr *rbdesv1.SealedRecord) { sr.PrevHash = sr.PrevHash[:31] }), "prev_hash is 31 bytes"},
		{"short signature", mutate(func(sr *rbdesv1.SealedRecord) { sr.Signature = sr.Signature[:63] }), "signature is 63 bytes"},
		{"no enc", mutate(func(sr *rbdesv1.SealedRecord) { sr.Enc = nil }), "no encapsulated key"},
		{"no ciphertext", mutate(func(sr *rbdesv1.SealedRecord) { sr.Ciphertext = nil }), "no ciphertext"},
		{"too large", make([]byte, MaxSealedBytes+1), "exceeds"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.in)
			if !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want ErrMalformed containing %q", err, tc.want)
			}
		})
	}
}

func TestRecordSuiteRefuses(t *testing.T) {
	tests := []struct {
		name           string
		v, kem, kdf, a uint32
	}{
		{"version 2", 2, 0x647A, 1, 2},
		{"version 0", 0, 0x647A, 1, 2},
		{"P-256 KEM", 1, 0x0010, 1, 2},
		{"HKDF-SHA384", 1, 0x647A, 2, 2},
		{"AES-128-GCM", 1, 0x647A, 1, 1},
		{"ChaCha20Poly1305", 1, 0x0020, 1, 3},
		{"beyond 16 bits", 1, 0x1647A, 1, 2},
	}
	for _, tc := range tests {
		sr := &rbdesv1.SealedRecord{Version: tc.v, KemId: tc.kem, KdfId: tc.kdf, AeadId: tc.a}
		if _, err := RecordSuite(sr); !errors.Is(err, ErrUnsupported) {
			t.Errorf("RecordSuite(%s) = %v, want ErrUnsupported", tc.name, err)
		}
	}
}

func TestOpenWrongKey(t *testing.T) {
	f := newFixture(t, SuiteMLKEM768X25519)
	out, err := f.sealer.Seal(testRecord(t, 500), 1, [HashSize]byte{})
	if err != nil {
		t.Fatal(err)
	}
	sr, _ := Parse(out)
	other, _ := hpke.MLKEM768X25519().GenerateKey()
	classic, _ := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	for name, k := range map[string]hpke.PrivateKey{"other ML-KEM key": other, "X25519 key": classic} {
		if _, err := Open(sr, k); !errors.Is(err, ErrDecrypt) {
			t.Errorf("Open with %s = %v, want ErrDecrypt", name, err)
		}
	}
	_, devPriv, _ := ed25519.GenerateKey(rand.Reader)
	if err := VerifySignature(sr, devPriv.Public().(ed25519.PublicKey)); !errors.Is(err, ErrBadSignature) {
		t.Errorf("VerifySignature with another device key = %v, want ErrBadSignature", err)
	}
}

func TestSealMetrics(t *testing.T) {
	reg := prometheus.NewPedanticRegistry()
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	node, _ := hpke.MLKEM768X25519().GenerateKey()
	s, err := New(testKiosk, "device-1", priv, Fixed(Recipient{KeyID: "node-1", Key: node.PublicKey()}), &Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, err := s.Seal(testRecord(t, 200), 1, [HashSize]byte{}); err != nil {
			t.Fatal(err)
		}
	}
	s.Seal(nil, 1, [HashSize]byte{})
	if got := testutil.ToFloat64(s.metrics.records.WithLabelValues("mlkem768-x25519")); got != 3 {
		t.Errorf("kiosk_seal_records_total{suite=mlkem768-x25519} = %v, want 3", got)
	}
	if got := testutil.ToFloat64(s.metrics.failures); got != 1 {
		t.Errorf("kiosk_seal_failures_total = %v, want 1", got)
	}
	if _, err := New(testKiosk, "device-1", priv, Fixed(Recipient{KeyID: "node-1", Key: node.PublicKey()}), &Options{Registerer: reg}); err == nil {
		t.Errorf("second Sealer on one registry: want a registration error")
	}
}

func TestValidIDs(t *testing.T) {
	tests := []struct {
		fn   func(string) bool
		name string
		in   string
		want bool
	}{
		{ValidKioskID, "kiosk", "kiosk-001", true},
		{ValidKioskID, "kiosk", "abc", true},
		{ValidKioskID, "kiosk", "ab", false},
		{ValidKioskID, "kiosk", "-abc", false},
		{ValidKioskID, "kiosk", "abc-", false},
		{ValidKioskID, "kiosk", "ABC", false},
		{ValidKioskID, "kiosk", strings.Repeat("a", 64), true},
		{ValidKioskID, "kiosk", strings.Repeat("a", 65), false},
		{ValidKeyID, "key", "node-2026a", true},
		{ValidKeyID, "key", "N.1_x", true},
		{ValidKeyID, "key", "", false},
		{ValidKeyID, "key", ".x", false},
		{ValidKeyID, "key", "a b", false},
		{ValidKeyID, "key", strings.Repeat("a", 65), false},
		{ValidRecordID, "record", "0190f5c2-7b3a-7cde-8f01-23456789abcd", true},
		{ValidRecordID, "record", "0190F5C2-7b3a-7cde-8f01-23456789abcd", false},
		{ValidRecordID, "record", "0190f5c2-7b3a-7cde-8f01-23456789abc", false},
		{ValidRecordID, "record", "0190f5c2x7b3a-7cde-8f01-23456789abcd", false},
		{ValidRecordID, "record", "0190f5c2-7b3a-7cde-8f01-23456789abcg", false},
	}
	for _, tc := range tests {
		if got := tc.fn(tc.in); got != tc.want {
			t.Errorf("Valid %s id %q = %v, want %v", tc.name, tc.in, got, tc.want)
		}
	}
}
