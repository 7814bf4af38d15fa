package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

func kioskctl(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(context.Background(), &stdio{out: &out, err: &errb}, args)
	return code, out.String(), errb.String()
}

// registrySnippet turns the "Node registry entry" kioskctl provision prints
// into a registry file's content.
func registrySnippet(t *testing.T, stdout string) []byte {
	t.Helper()
	_, after, ok := strings.Cut(stdout, "Node registry entry:\n")
	if !ok {
		t.Fatalf("no registry entry in output:\n%s", stdout)
	}
	entry, _, _ := strings.Cut(after, "\n\n")
	return []byte("kiosks:\n" + entry + "\n")
}

// TestProvisionToSealedRecord runs the commands a technician runs to set
// up a kiosk and a node, then loads what they wrote the way kioskd and the
// node do, seals a record and opens it; then it rotates the device key.
func TestProvisionToSealedRecord(t *testing.T) {
	dir := t.TempDir()
	kdir, cadir, ndir := filepath.Join(dir, "kiosk"), filepath.Join(dir, "ca"), filepath.Join(dir, "node")

	code, stdout, stderr := kioskctl(t, "provision", "-id", "kiosk-001", "-out", kdir)
	if code != 0 {
		t.Fatalf("provision: exit %d: %s", code, stderr)
	}
	reg1 := registrySnippet(t, stdout)
	steps := [][]string{
		{"ca", "init", "-dir", cadir},
		{"ca", "sign", "-dir", cadir, "-kind", "kiosk", "-csr", filepath.Join(kdir, "tls-1.csr"), "-out", filepath.Join(kdir, "tls-1.crt")},
		{"ca", "issue", "-dir", cadir, "-kind", "broker", "-cn", "broker", "-dns", "localhost", "-ip", "127.0.0.1", "-out", filepath.Join(dir, "broker")},
		{"ca", "issue", "-dir", cadir, "-kind", "node", "-cn", "node-a", "-out", filepath.Join(dir, "broker")},
		{"keys", "node", "-out", ndir},
	}
	for _, args := range steps {
		if code, _, stderr := kioskctl(t, args...); code != 0 {
			t.Fatalf("%s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	for path, want := range map[string]os.FileMode{
		"kiosk/device-1.key": 0o600, "kiosk/tls-1.key": 0o600, "ca/ca.key": 0o600, "broker/broker.key": 0o600,
		"node/node-1.hpke.key": 0o600, "node/cmd-1.cmd.key": 0o600, "kiosk/tls-1.crt": 0o644, "node/node-1.hpke.pub": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(dir, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
		} else if fi.Mode().Perm() != want {
			t.Errorf("%s: mode %04o, want %04o", path, fi.Mode().Perm(), want)
		}
	}

	kcfg := config.Keys{
		DeviceKey: filepath.Join(kdir, "device-1.key"), DeviceKeyID: "device-1", Suite: "mlkem768-x25519",
		NodeKeys:    []config.NodeKey{{ID: "node-1", File: filepath.Join(ndir, "node-1.hpke.pub")}},
		CommandKeys: []config.PublicKeyFile{{ID: "cmd-1", File: filepath.Join(ndir, "cmd-1.cmd.pub")}},
	}
	kk, err := keys.LoadKiosk(kcfg, filepath.Join(kdir, "tls-1.key"))
	if err != nil {
		t.Fatalf("LoadKiosk on provisioned files: %v", err)
	}
	nk, err := keys.LoadNode(config.NodeKeys{
		NodeKeys:   []config.NodeKey{{ID: "node-1", File: filepath.Join(ndir, "node-1.hpke.key")}},
		CommandKey: config.PublicKeyFile{ID: "cmd-1", File: filepath.Join(ndir, "cmd-1.cmd.key")},
	})
	if err != nil {
		t.Fatalf("LoadNode on generated files: %v", err)
	}
	reg, err := nodeverify.ParseRegistry(reg1, dir)
	if err != nil {
		t.Fatalf("the printed registry entry does not parse: %v\n%s", err, reg1)
	}
	v, err := nodeverify.New(reg, nk.OpenKeys, nil)
	if err != nil {
		t.Fatal(err)
	}
	sealWith := func(k *keys.Kiosk) []byte {
		s, err := seal.New("kiosk-001", k.DeviceKeyID, k.DeviceKey, seal.Fixed(k.NodeKeys[0]), nil)
		if err != nil {
			t.Fatal(err)
		}
		out, err := s.Seal(&rbdesv1.CaptureRecord{RecordId: "0190f5c2-7b3a-7cde-8f01-23456789abcd", KioskId: "kiosk-001"}, 1, [32]byte{})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if _, err := v.Open("kiosk-001", sealWith(kk)); err != nil {
		t.Fatalf("node refuses a record of the provisioned kiosk: %v", err)
	}

	// Device key rotation.
	code, stdout, stderr = kioskctl(t, "provision", "-id", "kiosk-001", "-out", kdir, "-rotate", "-overlap", "240h")
	if code != 0 {
		t.Fatalf("provision -rotate: exit %d: %s", code, stderr)
	}
	reg2, err := nodeverify.ParseRegistry(registrySnippet(t, stdout), dir)
	if err != nil {
		t.Fatalf("the printed rotation entry does not parse: %v\n%s", err, stdout)
	}
	k, _ := reg2.Kiosk("kiosk-001")
	d1, ok1 := k.DeviceKey("device-1")
	_, ok2 := k.DeviceKey("device-2")
	if !ok1 || !ok2 || d1.RetiredAt.IsZero() || d1.AcceptUntil.Sub(d1.RetiredAt).Hours() != 240 {
		t.Errorf("rotation entry: device-1 %+v (found %v), device-2 found %v", d1, ok1, ok2)
	}
	kcfg.DeviceKey, kcfg.DeviceKeyID = filepath.Join(kdir, "device-2.key"), "device-2"
	kk2, err := keys.LoadKiosk(kcfg, "")
	if err != nil {
		t.Fatal(err)
	}
	v2, _ := nodeverify.New(reg2, nk.OpenKeys, nil)
	if _, err := v2.Open("kiosk-001", sealWith(kk2)); err != nil {
		t.Errorf("node refuses a record signed with the rotated key: %v", err)
	}
}

func TestProvisionUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string
	}{
		{"help", []string{"provision", "-h"}, 0, "usage: kioskctl provision"},
		{"no flags", []string{"provision"}, 2, "want -id KIOSK and -out DIR"},
		{"tls without rotate", []string{"provision", "-id", "kiosk-001", "-out", dir, "-tls"}, 2, "-tls goes with -rotate"},
		{"bad kiosk id", []string{"provision", "-id", "Kiosk_1", "-out", dir}, 1, "not valid"},
		{"rotate with nothing to rotate", []string{"provision", "-id", "kiosk-001", "-out", dir, "-rotate"}, 1, "run provision without -rotate first"},
		{"ca help", []string{"ca", "sign", "-h"}, 0, "usage: kioskctl ca sign"},
		{"ca sign bad kind", []string{"ca", "sign", "-dir", dir, "-kind", "server", "-csr", "x", "-out", "y"}, 2, "want kiosk, node or broker"},
		{"ca sign without CA", []string{"ca", "sign", "-dir", dir, "-kind", "kiosk", "-csr", "x", "-out", "y"}, 1, "does not exist"},
		{"ca issue bad ip", []string{"ca", "issue", "-dir", dir, "-kind", "broker", "-cn", "b", "-ip", "300.1.1.1", "-out", dir}, 2, "not an IP address"},
		{"ca issue path in cn", []string{"ca", "issue", "-dir", dir, "-kind", "broker", "-cn", "../b", "-out", dir}, 2, "cannot name a file"},
		{"ca init no dir", []string{"ca", "init"}, 2, "want -dir"},
		{"keys node bad suite", []string{"keys", "node", "-out", dir, "-suite", "rsa"}, 2, "-suite"},
		{"keys node bad id", []string{"keys", "node", "-out", dir, "-id", "a b"}, 2, "-id and -command-id"},
		{"keys node help", []string{"keys", "node", "-h"}, 0, "usage: kioskctl keys node"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := kioskctl(t, tc.args...)
			if code != tc.wantCode || !strings.Contains(stderr, tc.wantErr) {
				t.Errorf("kioskctl %s = exit %d, stderr %q; want exit %d mentioning %q", strings.Join(tc.args, " "), code, stderr, tc.wantCode, tc.wantErr)
			}
		})
	}
	// Nothing is ever overwritten.
	if code, _, _ := kioskctl(t, "provision", "-id", "kiosk-001", "-out", dir); code != 0 {
		t.Fatal("first provision failed")
	}
	if code, _, stderr := kioskctl(t, "provision", "-id", "kiosk-001", "-out", dir); code != 1 || !strings.Contains(stderr, "-rotate") {
		t.Errorf("second provision = exit %d, %q; want exit 1 suggesting -rotate", code, stderr)
	}
	nd := t.TempDir()
	if code, _, _ := kioskctl(t, "keys", "node", "-out", nd, "-suite", "x25519", "-command-id", ""); code != 0 {
		t.Fatal("keys node failed")
	}
	if _, err := os.Stat(filepath.Join(nd, "cmd-1.cmd.key")); err == nil {
		t.Errorf("keys node -command-id \"\" made a command key")
	}
	if code, _, stderr := kioskctl(t, "keys", "node", "-out", nd); code != 1 || !strings.Contains(stderr, "already exists") {
		t.Errorf("keys node over existing keys = exit %d, %q; want exit 1", code, stderr)
	}
}
