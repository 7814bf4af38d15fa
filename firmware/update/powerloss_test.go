package update

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// cutAfter returns a step hook that lets n writes happen and then cuts
// the power: that write and every later one fail, and so does every call
// to systemd.
func cutAfter(n int, svc *fakeSystemd, count *int) func(op, path string) error {
	return func(op, path string) error {
		*count++
		if *count > n {
			svc.mu.Lock()
			svc.dead = true
			svc.mu.Unlock()
			return fmt.Errorf("%s %s: %w", op, path, errPowerLost)
		}
		return nil
	}
}

// reboot brings the rig back after a power cut: systemd comes up fresh,
// Boot runs before kioskd, then kioskd starts. It checks that the kiosk
// runs a complete slot with a working kioskd.
func (r *rig) reboot(t *testing.T, wantVersion ...string) Status {
	t.Helper()
	r.svc = &fakeSystemd{root: r.root, clk: r.clk}
	if _, err := r.updater(nil).Boot(context.Background()); err != nil {
		t.Fatalf("Boot after the power cut = %v", err)
	}
	st := r.check(wantVersion...)
	if err := r.svc.Restart(context.Background(), "kioskd.service"); err != nil {
		t.Fatalf("starting kioskd after the power cut: %v", err)
	}
	r.clk.Advance(3 * time.Second)
	if !r.svc.active(t) {
		t.Fatalf("kioskd did not become active after the power cut")
	}
	return st
}

// countSteps runs f with a counting hook that never cuts, and returns how
// many writes it made.
func countSteps(t *testing.T, r *rig, f func(u *Updater)) int {
	t.Helper()
	n := 0
	f(r.updater(cutAfter(1<<30, r.svc, &n)))
	return n
}

// TestPowerLossDuringGoodUpdate cuts the power before every write of an
// update that would succeed: after the reboot the kiosk runs v1 or, once
// the commit was written, v2, always from a complete slot; and a new
// install afterwards succeeds.
func TestPowerLossDuringGoodUpdate(t *testing.T) {
	ref := newRig(t)
	ref.seed()
	total := countSteps(t, ref, func(u *Updater) {
		if _, err := ref.install(u, ref.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok"})); err != nil {
			t.Fatalf("reference install = %v", err)
		}
	})
	if total < 10 {
		t.Fatalf("a good update made only %d writes; the hook is not wired", total)
	}
	sawV2 := false
	for cut := 0; cut <= total; cut++ {
		t.Run(fmt.Sprintf("cut after %d of %d writes", cut, total), func(t *testing.T) {
			r := newRig(t)
			r.seed()
			n := 0
			_, err := r.install(r.updater(cutAfter(cut, r.svc, &n)), r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok"}))
			if cut < total && err == nil {
				t.Fatalf("Install succeeded although the power was cut after %d of %d writes", cut, total)
			}
			st := r.reboot(t, "v1", "v2")
			if st.Committed == SlotB {
				sawV2 = true
			}
			if _, err := r.install(r.updater(nil), r.bundle(bundleSpec{version: "v3", seq: 12, behaviour: "ok"})); err != nil {
				t.Fatalf("Install(v3) after the power cut = %v", err)
			}
			r.check("v3")
		})
	}
	if !sawV2 {
		t.Errorf("no cut point ever ended with v2 committed; the last cut should have")
	}
}

// TestPowerLossDuringRollback cuts the power at every write of an update
// whose new version crash-loops: the kiosk always comes back on v1.
func TestPowerLossDuringRollback(t *testing.T) {
	ref := newRig(t)
	ref.seed()
	total := countSteps(t, ref, func(u *Updater) {
		_, _ = ref.install(u, ref.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "crash"}))
	})
	for cut := 0; cut <= total; cut++ {
		t.Run(fmt.Sprintf("cut after %d of %d writes", cut, total), func(t *testing.T) {
			r := newRig(t)
			r.seed()
			n := 0
			_, _ = r.install(r.updater(cutAfter(cut, r.svc, &n)), r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "crash"}))
			r.reboot(t, "v1")
		})
	}
}

// TestPowerLossDuringBoot cuts the power at every write of the boot-time
// rollback of a trial, then boots again.
func TestPowerLossDuringBoot(t *testing.T) {
	ref := newRig(t)
	ref.seed()
	trialLeftBehind(t, ref, "ok")
	total := countSteps(t, ref, func(u *Updater) {
		if _, err := u.Boot(context.Background()); err != nil {
			t.Fatal(err)
		}
	})
	for cut := 0; cut <= total; cut++ {
		t.Run(fmt.Sprintf("cut after %d of %d writes", cut, total), func(t *testing.T) {
			r := newRig(t)
			r.seed()
			trialLeftBehind(t, r, "ok")
			n := 0
			_, _ = r.updater(cutAfter(cut, r.svc, &n)).Boot(context.Background())
			r.reboot(t, "v1")
		})
	}
}
