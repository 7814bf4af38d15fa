package command

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

// NonceStore remembers the nonces of accepted commands.
type NonceStore interface {
	// Use records nonce as seen until the time until and reports true, or
	// reports false when it is already recorded. now lets the store forget
	// nonces whose time has passed. The record is durable when Use returns.
	Use(nonce []byte, until, now time.Time) (fresh bool, err error)
}

// ErrNoncesFull: the nonce store holds its maximum of unexpired nonces.
var ErrNoncesFull = errors.New("command nonce store full")

// DefaultMaxNonces bounds a FileNonces: far more unexpired commands than a
// node sends a kiosk in a command's maximum lifetime.
const DefaultMaxNonces = 4096

// FileNonces is a NonceStore kept in one small JSON file (SHA-256 of each
// nonce and when it may be forgotten), rewritten durably at every accepted
// command. Commands are rare, so simplicity wins over throughput. It is
// safe for concurrent use.
type FileNonces struct {
	path string
	max  int

	mu      sync.Mutex
	entries map[string]int64 // hex SHA-256 of the nonce -> forget after (unix ms)
}

type nonceFile struct {
	Version int              `json:"version"`
	Nonces  map[string]int64 `json:"nonces"`
}

// OpenFileNonces loads the nonce file at path (kioskd's state directory,
// e.g. state/command-nonces.json), or starts empty when it does not exist.
// max bounds the entries; 0 means DefaultMaxNonces.
func OpenFileNonces(path string, max int) (*FileNonces, error) {
	if max <= 0 {
		max = DefaultMaxNonces
	}
	n := &FileNonces{path: path, max: max, entries: map[string]int64{}}
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return n, nil
	case err != nil:
		return nil, fmt.Errorf("command: cannot read nonce file %s: %w", path, err)
	}
	var f nonceFile
	if err := json.Unmarshal(data, &f); err != nil || f.Version != 1 {
		return nil, fmt.Errorf("command: nonce file %s is corrupt; removing it would let commands not yet expired be replayed, so check the disk first: %v", path, err)
	}
	for k, v := range f.Nonces {
		if b, err := hex.DecodeString(k); err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("command: nonce file %s holds an entry %q that is not a SHA-256", path, k)
		}
		n.entries[k] = v
	}
	return n, nil
}

// Use implements NonceStore.
func (n *FileNonces) Use(nonce []byte, until, now time.Time) (bool, error) {
	sum := sha256.Sum256(nonce)
	key := hex.EncodeToString(sum[:])
	n.mu.Lock()
	defer n.mu.Unlock()
	if _, seen := n.entries[key]; seen {
		return false, nil
	}
	next := make(map[string]int64, len(n.entries)+1)
	nowMs := now.UnixMilli()
	for k, v := range n.entries {
		if v >= nowMs {
			next[k] = v
		}
	}
	if len(next) >= n.max {
		return false, fmt.Errorf("command: %d unexpired command nonces are stored in %s: %w", len(next), n.path, ErrNoncesFull)
	}
	next[key] = until.UnixMilli()
	data, err := json.Marshal(nonceFile{Version: 1, Nonces: next})
	if err != nil {
		return false, fmt.Errorf("command: cannot encode nonces: %w", err)
	}
	if err := keys.ReplaceFile(n.path, data, 0o600); err != nil {
		return false, err
	}
	n.entries = next
	return true, nil
}

// Len returns the number of nonces remembered.
func (n *FileNonces) Len() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.entries)
}
