package seal

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/clock"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

var updateKAT = flag.Bool("update-kat", false, "rewrite testdata/kat.json with freshly sealed records")

// katVector is one complete sealed record with everything needed to check
// it: an interoperability vector for other implementations of the node or
// the kiosk. All byte strings are hex.
type katVector struct {
	Suite string `json:"suite"`
	// NodeKeyIKM derives the node key pair with RFC 9180 DeriveKeyPair of
	// the suite's KEM; NodePrivateKey is its SerializePrivateKey.
	NodeKeyID      string `json:"node_key_id"`
	NodeKeyIKM     string `json:"node_key_ikm"`
	NodePrivateKey string `json:"node_private_key"`
	NodePublicKey  string `json:"node_public_key"`
	// DeviceSeed is the 32-byte Ed25519 seed (RFC 8032 private key).
	DeviceKeyID     string `json:"device_key_id"`
	DeviceSeed      string `json:"device_seed"`
	DevicePublicKey string `json:"device_public_key"`
	// CaptureRecord is the plaintext, SealedRecord the serialized record,
	// SealedSHA256 its chain link, SignatureInput the signed bytes and Info
	// the HPKE info.
	CaptureRecord  string `json:"capture_record"`
	SealedRecord   string `json:"sealed_record"`
	SealedSHA256   string `json:"sealed_sha256"`
	SignatureInput string `json:"signature_input"`
	Info           string `json:"info"`
}

const katPath = "testdata/kat.json"

func katRecord() *rbdesv1.CaptureRecord {
	return &rbdesv1.CaptureRecord{
		RecordId:       "0190f5c2-7b3a-7cde-8f01-23456789abcd",
		KioskId:        "kiosk-001",
		Site:           "test vector",
		CapturedUnixMs: 1767225600000,
		Face:           &rbdesv1.FaceSample{IsoRecord: []byte("FAC\x00010\x00 not a real portrait"), Quality: 80, Accepted: true},
		Fingers: []*rbdesv1.FingerSample{{
			Position: rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: []byte("FMR\x00 20\x00 not a real template"), Quality: 61, Attempts: 2, Minutiae: 1,
		}},
		Policy:       "default",
		AgentVersion: "kat",
	}
}

func makeKAT(t *testing.T, suite Suite) katVector {
	kem, err := KEM(suite.KEM)
	if err != nil {
		t.Fatal(err)
	}
	ikm := bytes.Repeat([]byte{byte(suite.KEM)}, 32)
	node, err := kem.DeriveKeyPair(ikm)
	if err != nil {
		t.Fatal(err)
	}
	nodePriv, err := node.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	seed := make([]byte, 32)
	for i := range seed {
		seed[i] = byte(i)
	}
	dev := ed25519.NewKeyFromSeed(seed)
	clk := clock.NewFake(time.UnixMilli(1767225601234))
	s, err := New("kiosk-001", "device-1", dev, Fixed(Recipient{KeyID: "node-1", Key: node.PublicKey()}), &Options{Clock: clk, BootEpoch: 3})
	if err != nil {
		t.Fatal(err)
	}
	rec := katRecord()
	prev := sha256.Sum256([]byte("previous record"))
	out, err := s.Seal(rec, 17, prev)
	if err != nil {
		t.Fatal(err)
	}
	sr, err := Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	in, _ := SignatureInput(sr)
	plain, _ := proto.MarshalOptions{Deterministic: true}.Marshal(rec)
	sum := sha256.Sum256(out)
	return katVector{
		Suite: suite.Name(), NodeKeyID: "node-1",
		NodeKeyIKM: hex.EncodeToString(ikm), NodePrivateKey: hex.EncodeToString(nodePriv), NodePublicKey: hex.EncodeToString(node.PublicKey().Bytes()),
		DeviceKeyID: "device-1", DeviceSeed: hex.EncodeToString(seed), DevicePublicKey: hex.EncodeToString(dev.Public().(ed25519.PublicKey)),
		CaptureRecord: hex.EncodeToString(plain), SealedRecord: hex.EncodeToString(out), SealedSHA256: hex.EncodeToString(sum[:]),
		SignatureInput: hex.EncodeToString(in), Info: hex.EncodeToString(Info(1, "kiosk-001", rec.RecordId)),
	}
}

// TestKnownAnswerRecords opens the committed sealed records of
// testdata/kat.json with the committed keys. A change in the layouts, the
// suite identifiers, the HPKE info or crypto/hpke's KEMs breaks it. Run
// with -update-kat to make new vectors (only when the protocol version
// changes).
func TestKnownAnswerRecords(t *testing.T) {
	if *updateKAT {
		vs := []katVector{makeKAT(t, SuiteMLKEM768X25519), makeKAT(t, SuiteX25519)}
		data, err := json.MarshalIndent(vs, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(katPath), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(katPath, append(data, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	data, err := os.ReadFile(katPath)
	if err != nil {
		t.Fatalf("%v (run go test -run TestKnownAnswerRecords -update-kat once)", err)
	}
	var vs []katVector
	if err := json.Unmarshal(data, &vs); err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 {
		t.Fatalf("%s holds %d vectors, want 2", katPath, len(vs))
	}
	for _, v := range vs {
		t.Run(v.Suite, func(t *testing.T) {
			h := func(s string) []byte {
				b, err := hex.DecodeString(s)
				if err != nil {
					t.Fatalf("bad hex in %s: %v", katPath, err)
				}
				return b
			}
			suite, err := ParseSuite(v.Suite)
			if err != nil {
				t.Fatal(err)
			}
			kem, _ := KEM(suite.KEM)
			node, err := kem.DeriveKeyPair(h(v.NodeKeyIKM))
			if err != nil {
				t.Fatal(err)
			}
			if priv, _ := node.Bytes(); !bytes.Equal(priv, h(v.NodePrivateKey)) {
				t.Errorf("DeriveKeyPair(ikm) private key = %x, want %s", priv, v.NodePrivateKey)
			}
			if got := node.PublicKey().Bytes(); !bytes.Equal(got, h(v.NodePublicKey)) {
				t.Errorf("DeriveKeyPair(ikm) public key = %x…, want %s…", got[:16], v.NodePublicKey[:32])
			}
			dev := ed25519.NewKeyFromSeed(h(v.DeviceSeed))
			if got := dev.Public().(ed25519.PublicKey); !bytes.Equal(got, h(v.DevicePublicKey)) {
				t.Errorf("device public key = %x, want %s", got, v.DevicePublicKey)
			}
			sealed := h(v.SealedRecord)
			if sum := sha256.Sum256(sealed); hex.EncodeToString(sum[:]) != v.SealedSHA256 {
				t.Errorf("SHA-256 of the sealed record = %x, want %s", sum, v.SealedSHA256)
			}
			sr, err := Parse(sealed)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if s, err := RecordSuite(sr); err != nil || s != suite {
				t.Errorf("RecordSuite = %v, %v; want %v", s, err, suite)
			}
			in, _ := SignatureInput(sr)
			if !bytes.Equal(in, h(v.SignatureInput)) {
				t.Errorf("SignatureInput differs from the vector's")
			}
			if got := Info(sr.GetVersion(), sr.GetKioskId(), sr.GetRecordId()); !bytes.Equal(got, h(v.Info)) {
				t.Errorf("Info = %x, want %s", got, v.Info)
			}
			if err := VerifySignature(sr, h(v.DevicePublicKey)); err != nil {
				t.Errorf("VerifySignature: %v", err)
			}
			plain, err := Open(sr, node)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(plain, h(v.CaptureRecord)) {
				t.Errorf("opened plaintext differs from the vector's capture_record")
			}
			rec := &rbdesv1.CaptureRecord{}
			if err := proto.Unmarshal(plain, rec); err != nil || !proto.Equal(rec, katRecord()) {
				t.Errorf("opened CaptureRecord differs from katRecord(): %v", err)
			}
		})
	}
}
