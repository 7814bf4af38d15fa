package command

import (
	"crypto/ed25519"
	"crypto/hpke"
	"os"
	"path/filepath"
	"testing"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/seal"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// newKeySet provisions a kiosk with node key node-1 and opens its node key
// set, as kioskd does at start.
func newKeySet(t testing.TB) (*keys.NodeKeySet, string) {
	t.Helper()
	dir := t.TempDir()
	p, err := keys.Provision(filepath.Join(dir, "kiosk"), "kiosk-001")
	if err != nil {
		t.Fatal(err)
	}
	n1, _ := keys.GenerateHPKE(seal.KEMMLKEM768X25519)
	pub := filepath.Join(dir, "node-1.pub")
	if err := os.WriteFile(pub, keys.MarshalHPKEPublic("node-1", n1.PublicKey()), 0o644); err != nil {
		t.Fatal(err)
	}
	k, err := keys.LoadKiosk(config.Keys{DeviceKey: p.DeviceKeyFile, DeviceKeyID: p.DeviceKeyID, Suite: "mlkem768-x25519", NodeKeys: []config.NodeKey{{ID: "node-1", File: pub}}}, "")
	if err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(dir, "node-keys.json")
	set, err := keys.OpenNodeKeySet(state, k)
	if err != nil {
		t.Fatal(err)
	}
	return set, state
}

func addKey(id string, k hpke.PublicKey, current bool) *rbdesv1.Command {
	return &rbdesv1.Command{CommandId: "c-" + id, Body: &rbdesv1.Command_AddNodeKey{AddNodeKey: &rbdesv1.AddNodeKey{
		KeyId: id, KemId: uint32(k.KEM().ID()), PublicKey: k.Bytes(), MakeCurrent: current,
	}}}
}

func retireKey(id string) *rbdesv1.Command {
	return &rbdesv1.Command{CommandId: "r-" + id, Body: &rbdesv1.Command_RetireNodeKey{RetireNodeKey: &rbdesv1.RetireNodeKey{KeyId: id}}}
}

func TestApplyKeyChange(t *testing.T) {
	const (
		ok         = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_UNSPECIFIED
		invalid    = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_INVALID_ARGUMENT
		notAllowed = rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_NOT_ALLOWED
	)
	set, state := newKeySet(t)
	n2, _ := keys.GenerateHPKE(seal.KEMMLKEM768X25519)
	n3, _ := keys.GenerateHPKE(seal.KEMMLKEM768X25519)
	classic, _ := keys.GenerateHPKE(seal.KEMX25519)
	broken := addKey("node-b", n3.PublicKey(), false)
	broken.GetAddNodeKey().PublicKey = []byte{1, 2, 3}
	badKEM := addKey("node-k", n3.PublicKey(), false)
	badKEM.GetAddNodeKey().KemId = 0x10
	hugeKEM := addKey("node-h", n3.PublicKey(), false)
	hugeKEM.GetAddNodeKey().KemId = 0x1647A
	badID := addKey("bad id", n3.PublicKey(), false)

	steps := []struct {
		name        string
		cmd         *rbdesv1.Command
		want        rbdesv1.CommandRejectReason
		wantCurrent string
	}{
		{"add next key", addKey("node-2", n2.PublicKey(), false), ok, "node-1"},
		{"third key", addKey("node-3", n3.PublicKey(), false), invalid, "node-1"},
		{"switch to next", addKey("node-2", n2.PublicKey(), true), ok, "node-2"},
		{"retire old", retireKey("node-1"), ok, "node-2"},
		{"retire last", retireKey("node-2"), invalid, "node-2"},
		{"retire unknown", retireKey("node-9"), invalid, "node-2"},
		{"classic key on a post-quantum kiosk", addKey("node-c", classic.PublicKey(), true), invalid, "node-2"},
		{"malformed public key", broken, invalid, "node-2"},
		{"unsupported KEM", badKEM, invalid, "node-2"},
		{"KEM beyond 16 bits", hugeKEM, invalid, "node-2"},
		{"bad key id", badID, invalid, "node-2"},
		{"ping is not a key change", &rbdesv1.Command{Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}}, notAllowed, "node-2"},
		{"policy is not a key change", &rbdesv1.Command{Body: &rbdesv1.Command_SetCapturePolicy{SetCapturePolicy: &rbdesv1.SetCapturePolicy{}}}, notAllowed, "node-2"},
	}
	for _, st := range steps {
		err := ApplyKeyChange(set, st.cmd)
		if got := ReasonOf(err); got != st.want || (st.want == ok && err != nil) {
			t.Errorf("%s: %v, want reason %v", st.name, err, st.want)
		}
		if got := set.Current().KeyID; got != st.wantCurrent {
			t.Errorf("%s: current node key %q, want %q", st.name, got, st.wantCurrent)
		}
	}
	// A save failure is an error, not a rejection, and changes nothing.
	os.Remove(state)
	os.Mkdir(state, 0o700)
	err := ApplyKeyChange(set, addKey("node-3", n3.PublicKey(), true))
	if err == nil || ReasonOf(err) != ok {
		t.Errorf("add with an unwritable state file = %v, want a plain error", err)
	}
	if set.Current().KeyID != "node-2" {
		t.Errorf("failed add changed the current key to %q", set.Current().KeyID)
	}
}

// TestKeyRotationEndToEnd: the node signs an AddNodeKey command, the kiosk
// verifies and applies it, and the next sealed record goes to the new key.
func TestKeyRotationEndToEnd(t *testing.T) {
	e := newEnv(t)
	set, _ := newKeySet(t)
	_, devKey, _ := ed25519.GenerateKey(nil)
	sealer, err := seal.New("kiosk-001", "device-1", devKey, set, nil)
	if err != nil {
		t.Fatal(err)
	}
	n2, _ := keys.GenerateHPKE(seal.KEMMLKEM768X25519)
	c := addKey("node-2", n2.PublicKey(), true)
	c.CommandId, c.KioskId = "", "kiosk-001"
	if err := e.signer.Sign(c); err != nil {
		t.Fatal(err)
	}
	got, err := e.v.Verify(marshal(t, c))
	if err != nil {
		t.Fatal(err)
	}
	if err := ApplyKeyChange(set, got); err != nil {
		t.Fatal(err)
	}
	out, err := sealer.Seal(&rbdesv1.CaptureRecord{RecordId: "0190f5c2-7b3a-7cde-8f01-23456789abcd", KioskId: "kiosk-001"}, 1, [32]byte{})
	if err != nil {
		t.Fatal(err)
	}
	sr, _ := seal.Parse(out)
	if sr.GetNodeKeyId() != "node-2" {
		t.Errorf("record sealed to %q after the rotation, want node-2", sr.GetNodeKeyId())
	}
	if _, err := seal.Open(sr, n2); err != nil {
		t.Errorf("node-2 cannot open the record: %v", err)
	}
}
