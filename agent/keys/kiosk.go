package keys

import (
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/seal"
)

// Kiosk holds the keys kioskd runs with.
type Kiosk struct {
	// DeviceKeyID and DeviceKey sign every sealed record.
	DeviceKeyID string
	DeviceKey   ed25519.PrivateKey
	// Suite is the HPKE suite records are sealed with (keys.suite); every
	// node key is a key of its KEM.
	Suite seal.Suite
	// NodeKeys are the node's public sealing keys in config order; Current
	// is the id of the one new records are sealed to.
	NodeKeys []seal.Recipient
	Current  string
	// CommandKeys are the node's command-signing public keys by id.
	CommandKeys map[string]ed25519.PublicKey
}

// LoadKiosk reads every key the kiosk config names and checks them all,
// reporting every problem at once (errors.Join): the device signing key
// (missing, or accessible to group or others, is an error wrapping
// ErrMissing or ErrPermissions), the TLS client key tlsKeyFile when not
// empty (the same checks; pass the config's uplink.key_file, or "" when the
// uplink is off or insecure), the node's public sealing keys (each must be
// a key of keys.suite's KEM) and the node's command keys. kioskd refuses to
// start when it fails.
func LoadKiosk(cfg config.Keys, tlsKeyFile string) (*Kiosk, error) {
	var errs []error
	k := &Kiosk{DeviceKeyID: cfg.DeviceKeyID, CommandKeys: map[string]ed25519.PublicKey{}}
	dk, err := LoadEd25519Private(cfg.DeviceKey, "device signing key (keys.device_key)")
	if err != nil {
		errs = append(errs, err)
	}
	k.DeviceKey = dk
	if !seal.ValidKeyID(cfg.DeviceKeyID) {
		errs = append(errs, fmt.Errorf("keys: keys.device_key_id %q is not a key id (want 1-64 characters of letters, digits, '.', '_' and '-')", cfg.DeviceKeyID))
	}
	if tlsKeyFile != "" {
		if err := checkTLSKey(tlsKeyFile); err != nil {
			errs = append(errs, err)
		}
	}
	suite, err := seal.ParseSuite(cfg.Suite)
	if err != nil {
		errs = append(errs, fmt.Errorf("keys: keys.suite: %w", err))
	}
	k.Suite = suite
	if len(cfg.NodeKeys) == 0 || len(cfg.NodeKeys) > MaxNodeKeys {
		errs = append(errs, fmt.Errorf("keys: keys.node_keys lists %d keys; want 1 or %d (current and next)", len(cfg.NodeKeys), MaxNodeKeys))
	}
	for i, nk := range cfg.NodeKeys {
		pub, err := LoadHPKEPublic(nk.File, nk.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: keys.node_keys[%d]: %w", i, err))
			continue
		}
		if suite.Supported() && pub.KEM().ID() != suite.KEM {
			errs = append(errs, fmt.Errorf("keys: keys.node_keys[%d] (%s, %s) is a %s key but keys.suite is %s; get a node key of that suite or change keys.suite", i, nk.ID, nk.File, seal.KEMName(pub.KEM().ID()), suite.Name()))
			continue
		}
		k.NodeKeys = append(k.NodeKeys, seal.Recipient{KeyID: nk.ID, Key: pub})
	}
	k.Current = cfg.Current
	if k.Current == "" && len(cfg.NodeKeys) > 0 {
		k.Current = cfg.NodeKeys[0].ID
	}
	found := false
	for _, nk := range cfg.NodeKeys {
		found = found || nk.ID == k.Current
	}
	if !found && len(cfg.NodeKeys) > 0 {
		errs = append(errs, fmt.Errorf("keys: keys.current %q is not the id of one of keys.node_keys", k.Current))
	}
	for i, ck := range cfg.CommandKeys {
		pub, err := LoadEd25519Public(ck.File, "node command key (keys.command_keys)")
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: keys.command_keys[%d]: %w", i, err))
			continue
		}
		if _, dup := k.CommandKeys[ck.ID]; dup {
			errs = append(errs, fmt.Errorf("keys: keys.command_keys[%d]: id %q is used twice", i, ck.ID))
		}
		k.CommandKeys[ck.ID] = pub
	}
	if len(errs) > 0 {
		clear(k.DeviceKey)
		return nil, errors.Join(errs...)
	}
	return k, nil
}

// checkTLSKey checks that the TLS private key is present, private and a
// PKCS#8, PKCS#1 or SEC 1 PEM key.
func checkTLSKey(path string) error {
	data, err := ReadPrivateFile(path, "TLS client key (uplink.key_file)")
	if err != nil {
		return err
	}
	defer clear(data)
	b, _ := pem.Decode(data)
	if b == nil {
		return fmt.Errorf("keys: TLS client key %s is not PEM: %w", path, ErrFormat)
	}
	defer clear(b.Bytes)
	if _, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return nil
	}
	return fmt.Errorf("keys: TLS client key %s is not a PKCS#8, SEC 1 or PKCS#1 private key: %w", path, ErrFormat)
}

// Node holds the keys of a national node.
type Node struct {
	// OpenKeys are the HPKE private keys records are opened with, by id.
	OpenKeys map[string]hpke.PrivateKey
	// CommandKeyID and CommandKey sign commands; CommandKey is nil when
	// none is configured.
	CommandKeyID string
	CommandKey   ed25519.PrivateKey
}

// LoadNode reads the node's private keys named by its config, refusing any
// that is missing or accessible to group or others, and reports every
// problem at once.
func LoadNode(cfg config.NodeKeys) (*Node, error) {
	var errs []error
	n := &Node{OpenKeys: map[string]hpke.PrivateKey{}}
	if len(cfg.NodeKeys) == 0 {
		errs = append(errs, errors.New("keys: keys.node_keys is empty; the node needs a private key to open records (kioskctl keys node makes one)"))
	}
	for i, nk := range cfg.NodeKeys {
		if !seal.ValidKeyID(nk.ID) {
			errs = append(errs, fmt.Errorf("keys: keys.node_keys[%d].id %q is not a key id", i, nk.ID))
			continue
		}
		if _, dup := n.OpenKeys[nk.ID]; dup {
			errs = append(errs, fmt.Errorf("keys: keys.node_keys[%d]: id %q is used twice", i, nk.ID))
			continue
		}
		priv, err := LoadHPKEPrivate(nk.File, nk.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("keys: keys.node_keys[%d]: %w", i, err))
			continue
		}
		n.OpenKeys[nk.ID] = priv
	}
	if cfg.CommandKey.File != "" {
		ck, err := LoadEd25519Private(cfg.CommandKey.File, "node command-signing key (keys.command_key)")
		if err != nil {
			errs = append(errs, err)
		}
		n.CommandKeyID, n.CommandKey = cfg.CommandKey.ID, ck
	}
	if len(errs) > 0 {
		clear(n.CommandKey)
		return nil, errors.Join(errs...)
	}
	return n, nil
}
