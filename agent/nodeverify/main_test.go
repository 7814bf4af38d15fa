package nodeverify

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine (the outbox's, in
// the end-to-end chain test) outlives them.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
