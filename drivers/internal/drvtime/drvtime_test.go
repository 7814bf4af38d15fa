package drvtime

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestVirtualSleepAdvances(t *testing.T) {
	v := NewVirtual(time.Time{})
	start := v.Now()
	for range 3 {
		if err := v.Sleep(context.Background(), 5*time.Millisecond); err != nil {
			t.Fatalf("Sleep = %v, want nil", err)
		}
	}
	if got, want := v.Now().Sub(start), 15*time.Millisecond; got != want {
		t.Errorf("Now()-start = %v, want %v", got, want)
	}
	if got, want := v.Slept(), 15*time.Millisecond; got != want {
		t.Errorf("Slept() = %v, want %v", got, want)
	}
}

func TestVirtualSleepHonoursCancel(t *testing.T) {
	v := NewVirtual(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := v.Sleep(ctx, time.Second); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(cancelled) = %v, want context.Canceled", err)
	}
	if got := v.Slept(); got != 0 {
		t.Errorf("Slept() = %v after a cancelled sleep, want 0", got)
	}
}

func TestRealSleep(t *testing.T) {
	c := Or(nil)
	start := c.Now()
	if err := c.Sleep(context.Background(), time.Millisecond); err != nil {
		t.Fatalf("Sleep = %v", err)
	}
	if c.Now().Sub(start) < time.Millisecond {
		t.Errorf("real Sleep(1ms) returned early")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := c.Sleep(ctx, time.Hour); !errors.Is(err, context.Canceled) {
		t.Errorf("Sleep(cancelled, 1h) = %v, want context.Canceled", err)
	}
}
