package clock

import (
	"context"
	"testing"
	"time"
)

func TestFakeTimerFiresOnlyWhenAdvanced(t *testing.T) {
	f := NewFake(time.Time{})
	start := f.Now()
	tm := f.NewTimer(10 * time.Second)
	f.Advance(9 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("timer fired before its deadline")
	default:
	}
	f.Advance(time.Second)
	select {
	case got := <-tm.C():
		if want := start.Add(10 * time.Second); !got.Equal(want) {
			t.Errorf("timer fired at %v, want %v", got, want)
		}
	default:
		t.Fatal("timer did not fire at its deadline")
	}
	if n := f.Waiters(); n != 0 {
		t.Errorf("Waiters() = %d after firing, want 0", n)
	}
}

func TestFakeTimerStopAndReset(t *testing.T) {
	f := NewFake(time.Time{})
	tm := f.NewTimer(time.Second)
	if !tm.Stop() {
		t.Error("Stop() on an active timer = false, want true")
	}
	if tm.Stop() {
		t.Error("second Stop() = true, want false")
	}
	f.Advance(2 * time.Second)
	select {
	case <-tm.C():
		t.Fatal("stopped timer fired")
	default:
	}
	if tm.Reset(time.Second) {
		t.Error("Reset on a stopped timer reported it active")
	}
	f.Advance(time.Second)
	select {
	case <-tm.C():
	default:
		t.Fatal("reset timer did not fire")
	}
}

func TestFakeTickerDropsUnreadTicks(t *testing.T) {
	f := NewFake(time.Time{})
	tk := f.NewTicker(time.Second)
	defer tk.Stop()
	f.Advance(5 * time.Second)
	n := 0
	for {
		select {
		case <-tk.C():
			n++
			continue
		default:
		}
		break
	}
	if n != 1 {
		t.Errorf("read %d ticks after 5 periods without reading, want 1 (buffer of one, like time.Ticker)", n)
	}
	f.Advance(time.Second)
	select {
	case <-tk.C():
	default:
		t.Fatal("ticker stopped ticking")
	}
}

func TestFakeSleepAndBlockUntil(t *testing.T) {
	f := NewFake(time.Time{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- f.Sleep(ctx, time.Minute) }()
	if err := f.BlockUntil(ctx, 1); err != nil {
		t.Fatalf("BlockUntil: %v", err)
	}
	f.Advance(time.Minute)
	if err := <-done; err != nil {
		t.Errorf("Sleep = %v, want nil", err)
	}
}

func TestFakeSleepCancelled(t *testing.T) {
	f := NewFake(time.Time{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := f.Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Sleep on a cancelled context = %v, want context.Canceled", err)
	}
	if n := f.Waiters(); n != 0 {
		t.Errorf("Waiters() = %d after a cancelled sleep, want 0", n)
	}
}

func TestRealSleepHonoursContext(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Real().Sleep(ctx, time.Hour); err != context.Canceled {
		t.Errorf("Real().Sleep on a cancelled context = %v, want context.Canceled", err)
	}
}
