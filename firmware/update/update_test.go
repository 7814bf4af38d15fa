package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/firmware/bundle"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestGoodUpdateCommits(t *testing.T) {
	r := newRig(t)
	r.seed()
	r.check("v1")
	u := r.updater(nil)
	start := r.clk.Now()
	res, err := r.install(u, r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok", extraUnit: true}))
	if err != nil {
		t.Fatalf("Install(v2) = %v", err)
	}
	if !res.Committed || res.Slot != SlotB || res.Version != "v2" {
		t.Errorf("Install(v2) = %+v, want committed into slot b", res)
	}
	if took := r.clk.Since(start); took < 30*time.Second {
		t.Errorf("committed after %v of fake time, want at least HealthyFor (30s)", took)
	}
	st := r.check("v2")
	if last := st.History[len(st.History)-1]; last.Result != "committed" || last.Version != "v2" {
		t.Errorf("last event = %+v, want v2 committed", last)
	}
	if r.svc.reloads == 0 {
		t.Errorf("systemd was never reloaded after the switch")
	}
	if _, err := os.Readlink(filepath.Join(r.root, "etc/systemd/system/kiosk-extra.service")); err != nil {
		t.Errorf("the new bundle's extra unit was not linked: %v", err)
	}
	if !r.svc.active(t) {
		t.Errorf("kioskd is not active after the update")
	}
	// The next update goes into slot a, replacing v1.
	res, err = r.install(u, r.bundle(bundleSpec{version: "v3", seq: 12, behaviour: "ok"}))
	if err != nil || res.Slot != SlotA {
		t.Fatalf("Install(v3) = %+v, %v; want committed into slot a", res, err)
	}
	r.check("v3")
}

func TestRejectedBundlesChangeNothing(t *testing.T) {
	r := newRig(t)
	r.seed()
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{9}, 32))
	good := r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok"})
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	flipped := filepath.Join(t.TempDir(), "flipped.bundle")
	data[len(data)/2] ^= 0x10
	if err := os.WriteFile(flipped, data, 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		want error
	}{
		{"signed by an untrusted key", r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok", key: other}), bundle.ErrUntrusted},
		{"one byte changed", flipped, bundle.ErrSignature},
		{"wrong board", r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok", board: "generic-armv7"}), ErrWrongBoard},
		{"older sequence", r.bundle(bundleSpec{version: "v0", seq: 9, behaviour: "ok"}), ErrDowngrade},
		{"needs a newer running version", r.bundle(bundleSpec{version: "v5", seq: 20, min: 15, behaviour: "ok"}), ErrTooOld},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			restarts := r.svc.restarts
			_, err := r.install(r.updater(nil), tt.path)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Install = %v, want %v", err, tt.want)
			}
			r.check("v1")
			if _, err := os.Stat(r.updater(nil).slotDir(SlotB)); err == nil {
				t.Errorf("slot b was written for a rejected bundle")
			}
			if r.svc.restarts != restarts {
				t.Errorf("kioskd was restarted for a rejected bundle")
			}
		})
	}
}

func TestDowngradeAllowed(t *testing.T) {
	r := newRig(t)
	r.seed()
	u, err := New(&Options{Root: r.root, Service: r.svc, Clock: r.clk, HealthyFor: 10 * time.Second, AllowDowngrade: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.install(u, r.bundle(bundleSpec{version: "v0", seq: 9, behaviour: "ok"})); err != nil {
		t.Fatalf("Install(older, AllowDowngrade) = %v", err)
	}
	r.check("v0")
}

func TestFailingUpdatesRollBack(t *testing.T) {
	tests := []struct {
		behaviour string
		reason    string
	}{
		{"crash", "restarted"},
		{"hang", "did not report ready"},
		{"watchdog", "restarted during the trial"},
		{"exec-format-error", "failed"},
	}
	for _, tt := range tests {
		t.Run(tt.behaviour, func(t *testing.T) {
			r := newRig(t)
			r.seed()
			res, err := r.install(r.updater(nil), r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: tt.behaviour}))
			if !errors.Is(err, ErrRolledBack) {
				t.Fatalf("Install(%s build) = %v, want ErrRolledBack", tt.behaviour, err)
			}
			if res == nil || res.Committed || !strings.Contains(res.Reason, tt.reason) {
				t.Errorf("result = %+v, want not committed because %q", res, tt.reason)
			}
			st := r.check("v1")
			if last := st.History[len(st.History)-1]; last.Result != "rolled-back" || last.Version != "v2" {
				t.Errorf("last event = %+v, want v2 rolled back", last)
			}
			r.clk.Advance(3 * time.Second)
			if !r.svc.active(t) || r.svc.behaviour != "ok" {
				t.Errorf("kioskd is not running the old version again (behaviour %q)", r.svc.behaviour)
			}
			// The kiosk can still be updated afterwards.
			if _, err := r.install(r.updater(nil), r.bundle(bundleSpec{version: "v3", seq: 12, behaviour: "ok"})); err != nil {
				t.Fatalf("Install(v3) after a rollback = %v", err)
			}
			r.check("v3")
		})
	}
}

// trialLeftBehind makes the state an installer leaves when it is killed
// during a trial: v2 in slot b, current on b, trying b.
func trialLeftBehind(t *testing.T, r *rig, behaviour string) {
	t.Helper()
	u := r.updater(nil)
	if _, err := u.Install(context.Background(), r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: behaviour}), &InstallOptions{Offline: true}); err != nil {
		t.Fatal(err)
	}
	st, err := readState(u.dir)
	if err != nil {
		t.Fatal(err)
	}
	st.Committed, st.Trying, st.TrySince = SlotA, SlotB, r.clk.Now()
	if err := u.writeState(st); err != nil {
		t.Fatal(err)
	}
	if err := r.svc.Restart(context.Background(), "kioskd.service"); err != nil {
		t.Fatal(err)
	}
}

func TestFailedHandlerRollsBackTrial(t *testing.T) {
	r := newRig(t)
	r.seed()
	trialLeftBehind(t, r, "crash")
	r.clk.Advance(20 * time.Second)
	if st, _ := r.svc.State(context.Background(), "kioskd.service"); st.Active != "failed" {
		t.Fatalf("fake kioskd is %s, want failed (start limit)", st.Active)
	}
	u := r.updater(nil)

	// While an installer holds the lock, the handler leaves it alone.
	unlock, err := u.lock(false)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := u.Failed(context.Background())
	unlock()
	if err != nil || !strings.Contains(msg, "in progress") {
		t.Fatalf("Failed with the lock held = %q, %v; want it to leave the trial to the installer", msg, err)
	}

	msg, err = u.Failed(context.Background())
	if err != nil || !strings.Contains(msg, "rolled back") {
		t.Fatalf("Failed = %q, %v; want a rollback", msg, err)
	}
	r.check("v1")
	r.clk.Advance(3 * time.Second)
	if !r.svc.active(t) {
		t.Errorf("kioskd not active on v1 after the rollback")
	}
	if _, err := u.Failed(context.Background()); !errors.Is(err, ErrNoTrial) {
		t.Errorf("Failed without a trial = %v, want ErrNoTrial", err)
	}
}

func TestBootRollsBackUncommittedTrial(t *testing.T) {
	r := newRig(t)
	r.seed()
	trialLeftBehind(t, r, "ok")
	r.svc.running = false // the kiosk restarted
	reloads := r.svc.reloads
	did, err := r.updater(nil).Boot(context.Background())
	if err != nil || !strings.Contains(did, "rolled back") {
		t.Fatalf("Boot = %q, %v; want a rollback", did, err)
	}
	st := r.check("v1")
	if last := st.History[len(st.History)-1]; last.Result != "rolled-back" || !strings.Contains(last.Reason, "restarted before") {
		t.Errorf("last event = %+v", last)
	}
	if r.svc.reloads == reloads {
		t.Errorf("Boot changed the slot but did not reload systemd")
	}
	if did, err := r.updater(nil).Boot(context.Background()); err != nil || did != "" {
		t.Errorf("second Boot = %q, %v; want nothing to do", did, err)
	}
}

func TestBootRepairsDamagedSlot(t *testing.T) {
	r := newRig(t)
	r.seed()
	if _, err := r.install(r.updater(nil), r.bundle(bundleSpec{version: "v2", seq: 11, behaviour: "ok"})); err != nil {
		t.Fatal(err)
	}
	// Storage damage in the committed slot b.
	p := filepath.Join(r.updater(nil).slotDir(SlotB), "bin/kioskctl")
	if err := os.WriteFile(p, []byte("garbage"), 0o755); err != nil {
		t.Fatal(err)
	}
	did, err := r.updater(nil).Boot(context.Background())
	if err != nil || !strings.Contains(did, "complete slot a") {
		t.Fatalf("Boot = %q, %v; want a switch to slot a", did, err)
	}
	r.check("v1")
}

func TestManualCommitAndRollback(t *testing.T) {
	r := newRig(t)
	r.seed()
	trialLeftBehind(t, r, "ok")
	u := r.updater(nil)
	if err := u.Commit(context.Background()); err != nil {
		t.Fatalf("Commit = %v", err)
	}
	r.check("v2")
	if err := u.Commit(context.Background()); !errors.Is(err, ErrNoTrial) {
		t.Errorf("second Commit = %v, want ErrNoTrial", err)
	}
	msg, err := u.Rollback(context.Background(), "technician")
	if err != nil || !strings.Contains(msg, "slot a") {
		t.Fatalf("Rollback = %q, %v", msg, err)
	}
	r.check("v1")
}

func TestInstallNeedsSeededDevice(t *testing.T) {
	r := newRig(t)
	_, err := r.install(r.updater(nil), r.bundle(bundleSpec{version: "v1", seq: 10, behaviour: "ok"}))
	if err == nil || !strings.Contains(err.Error(), "no installed firmware") {
		t.Errorf("Install on an empty root = %v, want a clear refusal", err)
	}
}

func TestParseShow(t *testing.T) {
	st, err := parseShow([]byte("ActiveState=active\nSubState=running\nInvocationID=abc\nNRestarts=3\n"))
	if err != nil || st != (UnitState{Active: "active", Sub: "running", InvocationID: "abc", Restarts: 3}) {
		t.Errorf("parseShow = %+v, %v", st, err)
	}
	if _, err := parseShow([]byte("NRestarts=x\nActiveState=active\n")); err == nil {
		t.Errorf("parseShow accepted NRestarts=x")
	}
	if _, err := parseShow(nil); err == nil {
		t.Errorf("parseShow accepted empty output")
	}
}
