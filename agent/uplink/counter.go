package uplink

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

// Counter is a persisted, strictly increasing counter (the kiosk's boot
// and connect epochs), kept as decimal text in a small file replaced
// durably at each step. The zero Counter counts in memory only.
type Counter struct {
	path string
	mu   sync.Mutex
	n    uint64
}

// OpenCounter opens the counter kept at path, starting at 0 when the file
// does not exist. A file that does not hold a number is an error: a reset
// counter would make a kiosk's new epochs look older than its old ones.
func OpenCounter(path string) (*Counter, error) {
	c := &Counter{path: path}
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return c, nil
	case err != nil:
		return nil, fmt.Errorf("uplink: cannot read counter %s: %w", path, err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("uplink: counter file %s does not hold a number (%q); restore it or set it above every epoch the node has seen: %w", path, b, err)
	}
	c.n = n
	return c, nil
}

// Next increments the counter, saves it durably and returns the new value.
func (c *Counter) Next() (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := c.n + 1
	if c.path != "" {
		if err := keys.ReplaceFile(c.path, []byte(strconv.FormatUint(n, 10)+"\n"), 0o600); err != nil {
			return 0, fmt.Errorf("uplink: cannot save counter %s (check the state directory): %w", c.path, err)
		}
	}
	c.n = n
	return n, nil
}

// Value returns the current value.
func (c *Counter) Value() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}
