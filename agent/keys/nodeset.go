package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strings"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// MaxNodeKeys is how many node sealing keys a kiosk holds at once: the
// current one and the next (or the previous, until it is retired).
const MaxNodeKeys = 2

// ErrRefused: a change to the node key set breaks one of its rules (more
// than two keys, retiring the last key, a key of another suite). The
// command layer reports it as an invalid argument.
var ErrRefused = errors.New("node key change refused")

// NodeKeySet is the kiosk's set of node sealing keys: at most two, one of
// them current. Node commands add and retire keys at run time; every change
// is written durably to a state file before it takes effect, so it
// survives restarts. It implements seal.Recipients and is safe for
// concurrent use.
//
// The state file records a fingerprint of the config's node keys it
// started from. At open, when the config's keys still have that
// fingerprint the state file wins (it holds the changes commands made
// since); when a technician changed the config's keys, the config wins and
// the state file is rewritten from it.
type NodeKeySet struct {
	path  string
	suite seal.Suite
	base  string

	mu        sync.RWMutex
	keys      []seal.Recipient
	current   string
	fromState bool
}

type nodeSetFile struct {
	Version int           `json:"version"`
	Config  string        `json:"config"`
	Suite   string        `json:"suite"`
	Current string        `json:"current"`
	Keys    []nodeSetItem `json:"keys"`
}

type nodeSetItem struct {
	ID        string `json:"id"`
	KEM       uint16 `json:"kem_id"`
	PublicKey []byte `json:"public_key"`
}

// OpenNodeKeySet opens the node key set persisted at path (in kioskd's
// state directory), starting from k's node keys when the file does not
// exist or the config changed since it was written.
func OpenNodeKeySet(path string, k *Kiosk) (*NodeKeySet, error) {
	if k == nil || len(k.NodeKeys) == 0 {
		return nil, errors.New("keys: OpenNodeKeySet needs the kiosk's configured node keys")
	}
	s := &NodeKeySet{path: path, suite: k.Suite, base: fingerprint(k.NodeKeys, k.Current)}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("keys: cannot read node key state %s: %w", path, err)
	default:
		var f nodeSetFile
		if err := json.Unmarshal(data, &f); err != nil {
			return nil, fmt.Errorf("keys: node key state %s is corrupt (%v); remove it to start again from the config's keys.node_keys: %w", path, err, ErrFormat)
		}
		if f.Config == s.base {
			keys, err := s.decode(f)
			if err != nil {
				return nil, fmt.Errorf("keys: node key state %s: %w; remove it to start again from the config's keys.node_keys", path, err)
			}
			s.keys, s.current, s.fromState = keys, f.Current, true
			return s, nil
		}
	}
	s.keys = slices.Clone(k.NodeKeys)
	s.current = k.Current
	if err := s.check(s.keys, s.current); err != nil {
		return nil, err
	}
	if err := s.save(s.keys, s.current); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *NodeKeySet) decode(f nodeSetFile) ([]seal.Recipient, error) {
	if f.Version != 1 {
		return nil, fmt.Errorf("unknown state format version %d: %w", f.Version, ErrFormat)
	}
	var keys []seal.Recipient
	for _, it := range f.Keys {
		kem, err := seal.KEM(it.KEM)
		if err != nil {
			return nil, fmt.Errorf("key %q: %v: %w", it.ID, err, ErrFormat)
		}
		pub, err := kem.NewPublicKey(it.PublicKey)
		if err != nil {
			return nil, fmt.Errorf("key %q is not a valid %s public key: %w", it.ID, seal.KEMName(it.KEM), ErrFormat)
		}
		keys = append(keys, seal.Recipient{KeyID: it.ID, Key: pub})
	}
	if err := s.check(keys, f.Current); err != nil {
		return nil, err
	}
	return keys, nil
}

// check enforces the set's rules.
func (s *NodeKeySet) check(keys []seal.Recipient, current string) error {
	if len(keys) == 0 || len(keys) > MaxNodeKeys {
		return fmt.Errorf("keys: a node key set holds 1 to %d keys, not %d: %w", MaxNodeKeys, len(keys), ErrRefused)
	}
	ids := map[string]bool{}
	for _, r := range keys {
		if !seal.ValidKeyID(r.KeyID) {
			return fmt.Errorf("keys: node key id %q is not a key id: %w", r.KeyID, ErrRefused)
		}
		if ids[r.KeyID] {
			return fmt.Errorf("keys: node key id %q appears twice: %w", r.KeyID, ErrRefused)
		}
		ids[r.KeyID] = true
		if got := r.Key.KEM().ID(); got != s.suite.KEM {
			return fmt.Errorf("keys: node key %s is a %s key but this kiosk seals with %s (keys.suite); a node command cannot change the suite: %w", r.KeyID, seal.KEMName(got), s.suite.Name(), ErrRefused)
		}
	}
	if !ids[current] {
		return fmt.Errorf("keys: current node key %q is not in the set: %w", current, ErrRefused)
	}
	return nil
}

func (s *NodeKeySet) save(keys []seal.Recipient, current string) error {
	f := nodeSetFile{Version: 1, Config: s.base, Suite: s.suite.Name(), Current: current}
	for _, r := range keys {
		f.Keys = append(f.Keys, nodeSetItem{ID: r.KeyID, KEM: r.Key.KEM().ID(), PublicKey: r.Key.Bytes()})
	}
	data, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return fmt.Errorf("keys: cannot encode node key state: %w", err)
	}
	if err := ReplaceFile(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("keys: cannot save node key state (check the state directory): %w", err)
	}
	return nil
}

// fingerprint identifies a configured key set: ids, KEMs, public keys and
// the current id.
func fingerprint(keys []seal.Recipient, current string) string {
	h := sha256.New()
	for _, r := range keys {
		fmt.Fprintf(h, "%s\x00%04x\x00%x\x00", r.KeyID, r.Key.KEM().ID(), r.Key.Bytes())
	}
	h.Write([]byte(current))
	return hex.EncodeToString(h.Sum(nil))
}

// Current returns the key new records are sealed to.
func (s *NodeKeySet) Current() seal.Recipient {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for _, r := range s.keys {
		if r.KeyID == s.current {
			return r
		}
	}
	return seal.Recipient{}
}

// Keys returns the keys of the set; the current one is Current.
func (s *NodeKeySet) Keys() []seal.Recipient {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return slices.Clone(s.keys)
}

// FromState reports whether the set was loaded from the state file (node
// commands changed it since the config was last edited) rather than from
// the config.
func (s *NodeKeySet) FromState() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fromState
}

// Add adds a node key, making it current when makeCurrent. Adding a key
// that is already in the set with the same public key is not an error (a
// command may be resent). It fails with ErrRefused when the set already
// holds two keys, the id holds another key, or the key is not of the
// kiosk's suite; the change is saved before it takes effect.
func (s *NodeKeySet) Add(r seal.Recipient, makeCurrent bool) error {
	if r.Key == nil {
		return fmt.Errorf("keys: node key %q has no public key: %w", r.KeyID, ErrRefused)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	keys := slices.Clone(s.keys)
	i := slices.IndexFunc(keys, func(k seal.Recipient) bool { return k.KeyID == r.KeyID })
	switch {
	case i >= 0 && (keys[i].Key.KEM().ID() != r.Key.KEM().ID() || !bytes.Equal(keys[i].Key.Bytes(), r.Key.Bytes())):
		return fmt.Errorf("keys: node key id %q already holds a different key; retire it first: %w", r.KeyID, ErrRefused)
	case i < 0 && len(keys) >= MaxNodeKeys:
		return fmt.Errorf("keys: the kiosk already holds %d node keys (%s); retire one first: %w", len(keys), ids(keys), ErrRefused)
	case i < 0:
		keys = append(keys, r)
	}
	current := s.current
	if makeCurrent {
		current = r.KeyID
	}
	return s.commit(keys, current)
}

// Retire removes a node key. The other key becomes current if the retired
// one was. It fails with ErrRefused for an unknown id or the last key.
func (s *NodeKeySet) Retire(id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := slices.IndexFunc(s.keys, func(k seal.Recipient) bool { return k.KeyID == id })
	if i < 0 {
		return fmt.Errorf("keys: no node key %q to retire (the kiosk holds %s): %w", id, ids(s.keys), ErrRefused)
	}
	if len(s.keys) == 1 {
		return fmt.Errorf("keys: node key %q is the kiosk's last; add its successor first: %w", id, ErrRefused)
	}
	keys := slices.Delete(slices.Clone(s.keys), i, i+1)
	current := s.current
	if current == id {
		current = keys[0].KeyID
	}
	return s.commit(keys, current)
}

func (s *NodeKeySet) commit(keys []seal.Recipient, current string) error {
	if err := s.check(keys, current); err != nil {
		return err
	}
	if err := s.save(keys, current); err != nil {
		return err
	}
	s.keys, s.current, s.fromState = keys, current, true
	return nil
}

func ids(keys []seal.Recipient) string {
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(k.KeyID)
	}
	return b.String()
}
