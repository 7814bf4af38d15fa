package uplink

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

func newFakeClock() *clock.Fake { return clock.NewFake(time.Time{}) }

// waitSleeping waits until the code under test waits on the fake clock.
func waitSleeping(t *testing.T, clk *clock.Fake) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := clk.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("the uplink does not wait on the clock: %v", err)
	}
}

func writeFile(path, s string) error { return os.WriteFile(path, []byte(s), 0o600) }
