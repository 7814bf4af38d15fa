package keys

import (
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/seal"
)

// nodeFiles writes a node key pair as kioskctl keys node does and returns
// the private key and the paths.
func nodeFiles(t *testing.T, dir, id string, kem uint16) (hpke.PrivateKey, string, string) {
	t.Helper()
	k, err := GenerateHPKE(kem)
	if err != nil {
		t.Fatal(err)
	}
	privPEM, _ := MarshalHPKEPrivate(id, k)
	privPath, pubPath := filepath.Join(dir, id+".hpke.key"), filepath.Join(dir, id+".hpke.pub")
	if err := CreateFile(privPath, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CreateFile(pubPath, MarshalHPKEPublic(id, k.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	return k, privPath, pubPath
}

func commandFiles(t *testing.T, dir, id string) (ed25519.PrivateKey, string, string) {
	t.Helper()
	pub, priv, _ := ed25519.GenerateKey(nil)
	privPEM, _ := MarshalEd25519Private(priv)
	pubPEM, _ := MarshalEd25519Public(pub)
	privPath, pubPath := filepath.Join(dir, id+".cmd.key"), filepath.Join(dir, id+".cmd.pub")
	if err := CreateFile(privPath, privPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := CreateFile(pubPath, pubPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return priv, privPath, pubPath
}

type kioskSetup struct {
	cfg     config.Keys
	tlsKey  string
	node1   hpke.PrivateKey
	nodeDir string
}

func newKioskSetup(t *testing.T) *kioskSetup {
	t.Helper()
	dir := t.TempDir()
	p, err := Provision(filepath.Join(dir, "kiosk"), "kiosk-001")
	if err != nil {
		t.Fatal(err)
	}
	nodeDir := filepath.Join(dir, "node")
	os.Mkdir(nodeDir, 0o700)
	n1, _, pub1 := nodeFiles(t, nodeDir, "node-1", seal.KEMMLKEM768X25519)
	_, _, cmdPub := commandFiles(t, nodeDir, "cmd-1")
	return &kioskSetup{
		cfg: config.Keys{
			DeviceKey: p.DeviceKeyFile, DeviceKeyID: p.DeviceKeyID, Suite: "mlkem768-x25519",
			NodeKeys:    []config.NodeKey{{ID: "node-1", File: pub1}},
			CommandKeys: []config.PublicKeyFile{{ID: "cmd-1", File: cmdPub}},
		},
		tlsKey:  p.TLSKeyFile,
		node1:   n1,
		nodeDir: nodeDir,
	}
}

func TestLoadKiosk(t *testing.T) {
	s := newKioskSetup(t)
	k, err := LoadKiosk(s.cfg, s.tlsKey)
	if err != nil {
		t.Fatalf("LoadKiosk: %v", err)
	}
	if k.DeviceKeyID != "device-1" || len(k.DeviceKey) != ed25519.PrivateKeySize {
		t.Errorf("device key = %q (%d bytes)", k.DeviceKeyID, len(k.DeviceKey))
	}
	if k.Suite != seal.SuiteMLKEM768X25519 || k.Current != "node-1" || len(k.NodeKeys) != 1 {
		t.Errorf("suite %v, current %q, %d node keys", k.Suite, k.Current, len(k.NodeKeys))
	}
	if _, ok := k.CommandKeys["cmd-1"]; !ok {
		t.Errorf("command key cmd-1 not loaded")
	}
	// The loaded keys work together: seal to the node key, sign with the
	// device key.
	if _, err := seal.New("kiosk-001", k.DeviceKeyID, k.DeviceKey, seal.Fixed(k.NodeKeys[0]), nil); err != nil {
		t.Errorf("seal.New with the loaded keys: %v", err)
	}
}

func TestLoadKioskRefuses(t *testing.T) {
	tests := []struct {
		name    string
		change  func(t *testing.T, s *kioskSetup)
		wantErr error
		want    []string
	}{
		{"device key readable by others", func(t *testing.T, s *kioskSetup) { os.Chmod(s.cfg.DeviceKey, 0o644) },
			ErrPermissions, []string{"device signing key", "chmod 600 " + "DEVICEKEY"}},
		{"device key readable by group", func(t *testing.T, s *kioskSetup) { os.Chmod(s.cfg.DeviceKey, 0o640) },
			ErrPermissions, []string{"mode 0640"}},
		{"device key missing", func(t *testing.T, s *kioskSetup) { os.Remove(s.cfg.DeviceKey) },
			ErrMissing, []string{"does not exist", "kioskctl provision"}},
		{"TLS key readable by others", func(t *testing.T, s *kioskSetup) { os.Chmod(s.tlsKey, 0o604) },
			ErrPermissions, []string{"TLS client key"}},
		{"TLS key missing", func(t *testing.T, s *kioskSetup) { os.Remove(s.tlsKey) },
			ErrMissing, []string{"TLS client key"}},
		{"TLS key not a key", func(t *testing.T, s *kioskSetup) { os.WriteFile(s.tlsKey, []byte("hello"), 0o600) },
			ErrFormat, []string{"not PEM"}},
		{"device key is a public key", func(t *testing.T, s *kioskSetup) {
			os.Remove(s.cfg.DeviceKey)
			data, _ := os.ReadFile(s.cfg.CommandKeys[0].File)
			os.WriteFile(s.cfg.DeviceKey, data, 0o600)
		}, ErrFormat, []string{"PRIVATE KEY"}},
		{"node key of the classic suite", func(t *testing.T, s *kioskSetup) {
			_, _, pub := nodeFiles(t, s.nodeDir, "node-c", seal.KEMX25519)
			s.cfg.NodeKeys = []config.NodeKey{{ID: "node-c", File: pub}}
		}, nil, []string{"is a DHKEM(X25519) key but keys.suite is mlkem768-x25519"}},
		{"node key file names another id", func(t *testing.T, s *kioskSetup) { s.cfg.NodeKeys[0].ID = "node-9" },
			ErrFormat, []string{`holds node key "node-1"`}},
		{"three node keys", func(t *testing.T, s *kioskSetup) {
			s.cfg.NodeKeys = append(s.cfg.NodeKeys, s.cfg.NodeKeys[0], s.cfg.NodeKeys[0])
		}, nil, []string{"lists 3 keys"}},
		{"current not a node key", func(t *testing.T, s *kioskSetup) { s.cfg.Current = "node-7" },
			nil, []string{`keys.current "node-7"`}},
		{"command key missing", func(t *testing.T, s *kioskSetup) { s.cfg.CommandKeys[0].File += ".gone" },
			ErrMissing, []string{"keys.command_keys[0]"}},
		{"bad suite", func(t *testing.T, s *kioskSetup) { s.cfg.Suite = "rsa" },
			nil, []string{"keys.suite"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newKioskSetup(t)
			tc.change(t, s)
			k, err := LoadKiosk(s.cfg, s.tlsKey)
			if err == nil {
				t.Fatalf("LoadKiosk = %v, want an error", k)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Errorf("LoadKiosk error %v does not wrap %v", err, tc.wantErr)
			}
			for _, w := range tc.want {
				w = strings.ReplaceAll(w, "DEVICEKEY", s.cfg.DeviceKey)
				if !strings.Contains(err.Error(), w) {
					t.Errorf("LoadKiosk error %q does not mention %q", err, w)
				}
			}
		})
	}
}

// TestLoadKioskReportsAll checks that kioskd learns every key problem at
// once rather than one per restart.
func TestLoadKioskReportsAll(t *testing.T) {
	s := newKioskSetup(t)
	os.Chmod(s.cfg.DeviceKey, 0o644)
	os.Chmod(s.tlsKey, 0o644)
	s.cfg.CommandKeys[0].File += ".gone"
	_, err := LoadKiosk(s.cfg, s.tlsKey)
	for _, want := range []string{s.cfg.DeviceKey, s.tlsKey, "keys.command_keys[0]"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("LoadKiosk error %v does not mention %s", err, want)
		}
	}
}

func TestLoadNode(t *testing.T) {
	dir := t.TempDir()
	k1, priv1, _ := nodeFiles(t, dir, "node-1", seal.KEMMLKEM768X25519)
	_, priv2, _ := nodeFiles(t, dir, "node-2", seal.KEMX25519)
	ck, cmdPriv, _ := commandFiles(t, dir, "cmd-1")
	cfg := config.NodeKeys{
		NodeKeys:   []config.NodeKey{{ID: "node-1", File: priv1}, {ID: "node-2", File: priv2}},
		CommandKey: config.PublicKeyFile{ID: "cmd-1", File: cmdPriv},
	}
	n, err := LoadNode(cfg)
	if err != nil {
		t.Fatalf("LoadNode: %v", err)
	}
	if len(n.OpenKeys) != 2 || n.CommandKeyID != "cmd-1" || !n.CommandKey.Equal(ck) {
		t.Errorf("LoadNode = %d open keys, command key %q", len(n.OpenKeys), n.CommandKeyID)
	}
	if got, _ := n.OpenKeys["node-1"].Bytes(); string(got) != string(must(k1.Bytes())) {
		t.Errorf("node-1 private key differs from the one written")
	}
	os.Chmod(priv2, 0o644)
	if _, err := LoadNode(cfg); !errors.Is(err, ErrPermissions) {
		t.Errorf("LoadNode with a world-readable node key = %v, want ErrPermissions", err)
	}
	if _, err := LoadNode(config.NodeKeys{}); err == nil {
		t.Errorf("LoadNode without keys: want an error")
	}
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

func TestNodeKeySet(t *testing.T) {
	s := newKioskSetup(t)
	k, err := LoadKiosk(s.cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "node-keys.json")
	set, err := OpenNodeKeySet(path, k)
	if err != nil {
		t.Fatalf("OpenNodeKeySet: %v", err)
	}
	if set.FromState() || set.Current().KeyID != "node-1" {
		t.Errorf("fresh set: from state %v, current %q", set.FromState(), set.Current().KeyID)
	}
	n2, _ := GenerateHPKE(seal.KEMMLKEM768X25519)
	n3, _ := GenerateHPKE(seal.KEMMLKEM768X25519)
	classic, _ := GenerateHPKE(seal.KEMX25519)
	r := func(id string, k hpke.PrivateKey) seal.Recipient {
		return seal.Recipient{KeyID: id, Key: k.PublicKey()}
	}

	steps := []struct {
		name        string
		do          func() error
		refused     bool
		wantCurrent string
		wantKeys    int
	}{
		{"add next key", func() error { return set.Add(r("node-2", n2), false) }, false, "node-1", 2},
		{"add again is idempotent", func() error { return set.Add(r("node-2", n2), false) }, false, "node-1", 2},
		{"third key", func() error { return set.Add(r("node-3", n3), false) }, true, "node-1", 2},
		{"same id other key", func() error { return set.Add(r("node-2", n3), false) }, true, "node-1", 2},
		{"make next current", func() error { return set.Add(r("node-2", n2), true) }, false, "node-2", 2},
		{"retire unknown", func() error { return set.Retire("node-9") }, true, "node-2", 2},
		{"retire old", func() error { return set.Retire("node-1") }, false, "node-2", 1},
		{"retire last", func() error { return set.Retire("node-2") }, true, "node-2", 1},
		{"classic key on a PQ kiosk", func() error { return set.Add(r("node-c", classic), true) }, true, "node-2", 1},
		{"bad id", func() error { return set.Add(r("bad id", n3), true) }, true, "node-2", 1},
		{"add and switch", func() error { return set.Add(r("node-3", n3), true) }, false, "node-3", 2},
		{"retire current", func() error { return set.Retire("node-3") }, false, "node-2", 1},
	}
	for _, st := range steps {
		err := st.do()
		if st.refused != errors.Is(err, ErrRefused) || (!st.refused && err != nil) {
			t.Errorf("%s: error %v, want refused=%v", st.name, err, st.refused)
		}
		if got := set.Current().KeyID; got != st.wantCurrent {
			t.Errorf("%s: current = %q, want %q", st.name, got, st.wantCurrent)
		}
		if got := len(set.Keys()); got != st.wantKeys {
			t.Errorf("%s: %d keys, want %d", st.name, got, st.wantKeys)
		}
	}

	// The changes survive a restart with the same config.
	again, err := OpenNodeKeySet(path, k)
	if err != nil {
		t.Fatal(err)
	}
	if !again.FromState() || again.Current().KeyID != "node-2" || len(again.Keys()) != 1 {
		t.Errorf("reopened set: from state %v, current %q, %d keys; want node-2 only from state", again.FromState(), again.Current().KeyID, len(again.Keys()))
	}
	// A technician's config change wins over the state file.
	_, _, pub4 := nodeFiles(t, s.nodeDir, "node-4", seal.KEMMLKEM768X25519)
	s.cfg.NodeKeys = []config.NodeKey{{ID: "node-4", File: pub4}}
	k4, err := LoadKiosk(s.cfg, "")
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := OpenNodeKeySet(path, k4)
	if err != nil {
		t.Fatal(err)
	}
	if fresh.FromState() || fresh.Current().KeyID != "node-4" {
		t.Errorf("after a config change: from state %v, current %q; want node-4 from the config", fresh.FromState(), fresh.Current().KeyID)
	}
	if os.WriteFile(path, []byte("{not json"), 0o600) != nil {
		t.Fatal("write")
	}
	if _, err := OpenNodeKeySet(path, k4); !errors.Is(err, ErrFormat) {
		t.Errorf("corrupt state file = %v, want ErrFormat", err)
	}
}

// TestNodeKeySetSaveFailureKeepsState checks that a change that cannot be
// written does not take effect.
func TestNodeKeySetSaveFailureKeepsState(t *testing.T) {
	s := newKioskSetup(t)
	k, _ := LoadKiosk(s.cfg, "")
	path := filepath.Join(t.TempDir(), "node-keys.json")
	set, err := OpenNodeKeySet(path, k)
	if err != nil {
		t.Fatal(err)
	}
	// A directory in the state file's place makes the rename fail, even
	// for root.
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	n2, _ := GenerateHPKE(seal.KEMMLKEM768X25519)
	err = set.Add(seal.Recipient{KeyID: "node-2", Key: n2.PublicKey()}, true)
	if err == nil || errors.Is(err, ErrRefused) {
		t.Errorf("Add with an unwritable state dir = %v, want a save error", err)
	}
	if set.Current().KeyID != "node-1" || len(set.Keys()) != 1 {
		t.Errorf("failed Add changed the set: current %q, %d keys", set.Current().KeyID, len(set.Keys()))
	}
}

func TestNodeKeySetConcurrent(t *testing.T) {
	s := newKioskSetup(t)
	k, _ := LoadKiosk(s.cfg, "")
	set, err := OpenNodeKeySet(filepath.Join(t.TempDir(), "node-keys.json"), k)
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := GenerateHPKE(seal.KEMMLKEM768X25519)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 20 {
			set.Add(seal.Recipient{KeyID: "node-2", Key: n2.PublicKey()}, true)
			set.Retire("node-2")
		}
	})
	for range 2000 {
		if r := set.Current(); r.Key == nil {
			t.Fatalf("Current returned no key during changes")
		}
	}
	wg.Wait()
}
