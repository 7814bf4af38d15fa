package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/broker"
	"github.com/bali-rbdes/kiosk/agent/broker/brokertest"
	"github.com/bali-rbdes/kiosk/agent/fac"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/records"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// nodeFiles is a node config with real keys, a registry of kiosk-001 and
// the TLS files of a development PKI.
type nodeFiles struct {
	dir, config string
	pki         *brokertest.PKI
	nodePub     []byte // HPKE public key PEM
	cmdPub      ed25519.PublicKey
	devKey      ed25519.PrivateKey
}

func writeNodeFiles(t *testing.T, brokerURL string) *nodeFiles {
	t.Helper()
	f := &nodeFiles{dir: t.TempDir(), pki: brokertest.NewPKI(t)}
	write := func(name string, data []byte, mode os.FileMode) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, data, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	nk, err := keys.GenerateHPKE(seal.KEMX25519)
	if err != nil {
		t.Fatal(err)
	}
	nkPEM, err := keys.MarshalHPKEPrivate("node-1", nk)
	if err != nil {
		t.Fatal(err)
	}
	write("node-1.key", nkPEM, 0o600)
	f.nodePub = keys.MarshalHPKEPublic("node-1", nk.PublicKey())
	var cmdKey ed25519.PrivateKey
	f.cmdPub, cmdKey, _ = ed25519.GenerateKey(rand.Reader)
	ckPEM, _ := keys.MarshalEd25519Private(cmdKey)
	write("cmd-1.key", ckPEM, 0o600)
	devPub, devKey, _ := ed25519.GenerateKey(rand.Reader)
	f.devKey = devKey
	devPEM, _ := keys.MarshalEd25519Public(devPub)
	write("device-1.pub", devPEM, 0o644)
	write("kiosks.yaml", []byte("kiosks:\n  - id: kiosk-001\n    status: active\n    device_keys:\n      - id: device-1\n        public_key_file: device-1.pub\n"), 0o644)
	cert, key := f.pki.Issue(t, "node-idn-1", keys.CertNode)
	cfg := strings.NewReplacer("DIR", f.dir, "BROKER", brokerURL, "CA", f.pki.CAFile, "CERT", cert, "KEY", key).Replace(`
node:
  id: node-idn-1
  country: IDN
  registry: DIR/kiosks.yaml
broker:
  urls: [BROKER]
  ca_file: CA
  cert_file: CERT
  key_file: KEY
store:
  driver: sqlite
  path: DIR/node.db
keys:
  node_keys:
    - id: node-1
      file: DIR/node-1.key
  command_key:
    id: cmd-1
    file: DIR/cmd-1.key
http:
  listen: 127.0.0.1:0
log:
  level: warn
`)
	f.config = write("rbdes-node.yaml", []byte(cfg), 0o644)
	return f
}

func TestRunExitCodes(t *testing.T) {
	f := writeNodeFiles(t, "tls://127.0.0.1:1")
	broken := filepath.Join(t.TempDir(), "broken.yaml")
	os.WriteFile(broken, []byte("node:\n  id: X\n"), 0o644)
	tests := []struct {
		name string
		args []string
		code int
		err  string
	}{
		{"help", []string{"-h"}, 0, ""},
		{"kiosks help", []string{"kiosks", "-h"}, 0, ""},
		{"export help", []string{"export", "-h"}, 0, ""},
		{"unknown command", []string{"frobnicate"}, 2, "unknown command"},
		{"broken config", []string{"-config", broken}, 2, "node.id"},
		{"check", []string{"-config", f.config, "-check"}, 0, ""},
		{"export without -o", []string{"export", "-config", f.config}, 2, "-o DIR is required"},
		{"kiosks of an empty store", []string{"kiosks", "-config", f.config}, 0, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			if code := run(context.Background(), tc.args, &out, &errb); code != tc.code {
				t.Errorf("rbdes-node %v = %d, want %d; stderr %s", tc.args, code, tc.code, errb.String())
			}
			if !strings.Contains(errb.String(), tc.err) {
				t.Errorf("rbdes-node %v stderr = %q, want %q", tc.args, errb.String(), tc.err)
			}
		})
	}
}

func TestMissingCommandKeyExits2(t *testing.T) {
	f := writeNodeFiles(t, "tls://127.0.0.1:1")
	os.Remove(filepath.Join(f.dir, "cmd-1.key"))
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-config", f.config}, &out, &errb); code != 2 {
		t.Errorf("rbdes-node without its command key = %d, want 2; stderr %s", code, errb.String())
	}
}

// TestServeKiosksExport runs the node against an embedded broker, delivers
// three records from a kiosk, then checks the kiosks view and the export.
func TestServeKiosksExport(t *testing.T) {
	f := writeNodeFiles(t, "tls://PLACEHOLDER:1")
	b, err := broker.New(&broker.Options{TLS: f.pki.ServerTLS(t), Nodes: []string{"node-idn-1"}})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg, _ := os.ReadFile(f.config)
	os.WriteFile(f.config, bytes.Replace(cfg, []byte("tls://PLACEHOLDER:1"), []byte(b.URL()), 1), 0o644)

	ctx, cancel := context.WithCancel(context.Background())
	var errb bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"-config", f.config}, &bytes.Buffer{}, &errb) }()

	ob, err := outbox.New(filepath.Join(t.TempDir(), "outbox"), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ob.Close()
	nodePub, _, err := keys.ParseHPKEPublic(f.nodePub)
	if err != nil {
		t.Fatal(err)
	}
	sealer, err := seal.New("kiosk-001", "device-1", f.devKey, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: nodePub}), nil)
	if err != nil {
		t.Fatal(err)
	}
	saver, _ := records.New(sealer, ob)
	face, err := fac.Marshal(&fac.Record{Images: []fac.Image{{Width: 2, Height: 2, Data: []byte{0xff, 0xd8, 0xff, 0xd9}}}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		rec := &rbdesv1.CaptureRecord{RecordId: uuid.Must(uuid.NewV7()).String(), Face: &rbdesv1.FaceSample{IsoRecord: append([]byte(nil), face...)},
			Fingers: []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: []byte("FMR\x00 20\x00template")}}}
		if _, err := saver.Save(ctx, rec); err != nil {
			t.Fatal(err)
		}
	}
	cert, key := f.pki.Issue(t, "kiosk-001", keys.CertKiosk)
	tlsc, err := uplink.TLSConfig(f.pki.CAFile, cert, key)
	if err != nil {
		t.Fatal(err)
	}
	up, err := uplink.New(ob, &uplink.Options{KioskID: "kiosk-001", Country: "IDN", Brokers: []string{b.URL()}, TLS: tlsc,
		ReconnectMin: 50 * time.Millisecond, ReconnectMax: time.Second, AckTimeout: time.Second, AckKeys: map[string]ed25519.PublicKey{"cmd-1": f.cmdPub}})
	if err != nil {
		t.Fatal(err)
	}
	upCtx, upCancel := context.WithCancel(ctx)
	upDone := make(chan error, 1)
	go func() { upDone <- up.Run(upCtx) }()
	deadline := time.Now().Add(30 * time.Second)
	for ob.Stats().Records > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("records not acknowledged within 30s; node log:\n%s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	upCancel()
	if err := <-upDone; err != nil {
		t.Errorf("uplink Run = %v", err)
	}
	var out bytes.Buffer
	for deadline := time.Now().Add(10 * time.Second); ; {
		out.Reset()
		if code := run(context.Background(), []string{"kiosks", "-config", f.config}, &out, &errb); code != 0 {
			t.Fatalf("kiosks = %d: %s", code, errb.String())
		}
		if strings.Contains(out.String(), "kiosk-001  offline") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kiosks output lacks kiosk-001 offline after its clean shutdown:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("rbdes-node = %d after cancel, want 0; log:\n%s", code, errb.String())
	}
	exp := t.TempDir()
	out.Reset()
	if code := run(context.Background(), []string{"export", "-config", f.config, "-o", exp}, &out, &errb); code != 0 {
		t.Fatalf("export = %d: %s", code, errb.String())
	}
	if !strings.HasPrefix(out.String(), "3 records: 3 templates, 3 face records, 3 images") {
		t.Errorf("export said %q", out.String())
	}
	ists, _ := filepath.Glob(filepath.Join(exp, "kiosk-001", "*", "finger-00-RIGHT_INDEX.ist"))
	jpgs, _ := filepath.Glob(filepath.Join(exp, "kiosk-001", "*", "face.jpg"))
	if len(ists) != 3 || len(jpgs) != 3 {
		t.Errorf("export wrote %d templates and %d face images, want 3 and 3", len(ists), len(jpgs))
	}
}
