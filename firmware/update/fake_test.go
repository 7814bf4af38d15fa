package update

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/firmware/bundle"
)

// errPowerLost is what every write and service call returns once the
// simulated power is gone.
var errPowerLost = errors.New("power lost")

// fakeSystemd plays systemd running kioskd. The "binary" bin/kioskd of a
// test bundle names how that build behaves:
//
//	ok        READY=1 2s after each start, then stays active
//	crash     exits 1s after each start; Restart=always after 2s; the
//	          fifth start in a row hits the start limit: failed
//	hang      never sends READY=1
//	watchdog  READY=1 after 2s, then misses its watchdog 20s later and
//	          is restarted, again and again
type fakeSystemd struct {
	mu         sync.Mutex
	root       string
	clk        *clock.Fake
	dead       bool
	reloads    int
	restarts   int
	behaviour  string
	started    time.Time
	invocation int
	running    bool
}

func (f *fakeSystemd) Reload(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return errPowerLost
	}
	f.reloads++
	return nil
}

func (f *fakeSystemd) Restart(_ context.Context, unit string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return errPowerLost
	}
	if unit != "kioskd.service" {
		return fmt.Errorf("fake systemd: unexpected unit %s", unit)
	}
	// systemd loads the unit through the link the updater made.
	link, err := os.Readlink(filepath.Join(f.root, "etc/systemd/system/kioskd.service"))
	if err != nil {
		return fmt.Errorf("fake systemd: Unit kioskd.service not found: %v", err)
	}
	if _, err := os.Stat(filepath.Join(f.root, link)); err != nil {
		return fmt.Errorf("fake systemd: kioskd.service links to %s, which does not exist: %v", link, err)
	}
	bin, err := os.ReadFile(filepath.Join(f.root, "opt/kiosk/current/bin/kioskd"))
	if err != nil {
		return fmt.Errorf("fake systemd: kioskd binary missing: %v", err)
	}
	f.behaviour = strings.TrimSpace(strings.TrimPrefix(string(bin), "#!fake-kioskd "))
	f.started = f.clk.Now()
	f.invocation++
	f.restarts++
	f.running = true
	return nil
}

func (f *fakeSystemd) State(_ context.Context, unit string) (UnitState, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.dead {
		return UnitState{}, errPowerLost
	}
	if !f.running {
		return UnitState{Active: "inactive", Sub: "dead"}, nil
	}
	el := f.clk.Now().Sub(f.started)
	inv := func(n int) string { return fmt.Sprintf("inv-%d-%d", f.invocation, n) }
	switch f.behaviour {
	case "ok":
		if el < 2*time.Second {
			return UnitState{Active: "activating", Sub: "start", InvocationID: inv(0)}, nil
		}
		return UnitState{Active: "active", Sub: "running", InvocationID: inv(0)}, nil
	case "crash":
		n := int(el / (3 * time.Second))
		if n >= 4 {
			return UnitState{Active: "failed", Sub: "failed", InvocationID: inv(n), Restarts: 4}, nil
		}
		return UnitState{Active: "activating", Sub: "auto-restart", InvocationID: inv(n), Restarts: n}, nil
	case "hang":
		return UnitState{Active: "activating", Sub: "start", InvocationID: inv(0)}, nil
	case "watchdog":
		n := int(el / (22 * time.Second))
		if el-time.Duration(n)*22*time.Second < 2*time.Second {
			return UnitState{Active: "activating", Sub: "start", InvocationID: inv(n), Restarts: n}, nil
		}
		return UnitState{Active: "active", Sub: "running", InvocationID: inv(n), Restarts: n}, nil
	}
	return UnitState{Active: "failed", Sub: "exec-format", InvocationID: inv(0)}, nil
}

// kioskdRunning reports whether the fake kioskd is active now.
func (f *fakeSystemd) active(t *testing.T) bool {
	t.Helper()
	st, err := f.State(context.Background(), "kioskd.service")
	if err != nil {
		t.Fatal(err)
	}
	return st.Active == "active"
}

var testStart = time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC)

// rig is a temporary system root with a trusted key, a board and a fake
// systemd.
type rig struct {
	t    *testing.T
	root string
	key  ed25519.PrivateKey
	clk  *clock.Fake
	svc  *fakeSystemd
}

func newRig(t *testing.T) *rig {
	t.Helper()
	root := t.TempDir()
	key := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	pub, err := keys.MarshalEd25519Public(key.Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range map[string][]byte{
		KeyDir + "/release.pub": pub,
		BoardFile:               []byte("rpi4\n"),
	} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	clk := clock.NewFake(testStart)
	return &rig{t: t, root: root, key: key, clk: clk, svc: &fakeSystemd{root: root, clk: clk}}
}

func (r *rig) updater(step func(op, path string) error) *Updater {
	r.t.Helper()
	u, err := New(&Options{Root: r.root, Service: r.svc, Clock: r.clk, HealthyFor: 30 * time.Second, StartTimeout: time.Minute})
	if err != nil {
		r.t.Fatal(err)
	}
	u.disk.step = step
	return u
}

type bundleSpec struct {
	version   string
	seq, min  uint64
	board     string
	behaviour string
	key       ed25519.PrivateKey
	extraUnit bool
}

// bundle writes a test bundle and returns its path.
func (r *rig) bundle(s bundleSpec) string {
	r.t.Helper()
	if s.board == "" {
		s.board = "rpi4"
	}
	if s.key == nil {
		s.key = r.key
	}
	files := []bundle.Input{
		{Path: "bin/kioskd", Mode: 0o755, Data: []byte("#!fake-kioskd " + s.behaviour + "\n")},
		{Path: "bin/kioskctl", Mode: 0o755, Data: bytes.Repeat([]byte(s.version), 2000)},
		{Path: "config/kioskd.yaml", Mode: 0o644, Data: []byte("# default config of " + s.version + "\n")},
		{Path: "systemd/kioskd.service", Mode: 0o644, Data: []byte("[Service]\nType=notify\n# " + s.version + "\n")},
		{Path: "udev/70-kiosk.rules", Mode: 0o644, Data: []byte("# rules of " + s.version + "\n")},
	}
	if s.extraUnit {
		files = append(files, bundle.Input{Path: "systemd/kiosk-extra.service", Mode: 0o644, Data: []byte("[Service]\n")})
	}
	m := bundle.Manifest{Version: s.version, Sequence: s.seq, MinPrevious: s.min, Commit: "0123456789abcdef0123456789abcdef01234567",
		Board: s.board, Arch: "arm64", Created: testStart}
	var buf bytes.Buffer
	if _, err := bundle.Write(&buf, m, files, s.key); err != nil {
		r.t.Fatal(err)
	}
	p := filepath.Join(r.t.TempDir(), s.version+".bundle")
	if err := os.WriteFile(p, buf.Bytes(), 0o644); err != nil {
		r.t.Fatal(err)
	}
	return p
}

// seed installs v1 offline into slot a, as the image build does, and
// starts kioskd on it.
func (r *rig) seed() {
	r.t.Helper()
	u := r.updater(nil)
	if _, err := u.Install(context.Background(), r.bundle(bundleSpec{version: "v1", seq: 10, behaviour: "ok"}), &InstallOptions{Offline: true}); err != nil {
		r.t.Fatalf("seeding v1: %v", err)
	}
	if err := r.svc.Restart(context.Background(), "kioskd.service"); err != nil {
		r.t.Fatal(err)
	}
}

// withClock runs f while advancing the fake clock one second whenever f
// waits, until f returns.
func (r *rig) withClock(f func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer cancel()
		f()
	}()
	for r.clk.BlockUntil(ctx, 1) == nil {
		r.clk.Advance(time.Second)
	}
	<-done
}

func (r *rig) install(u *Updater, path string) (*Result, error) {
	var (
		res *Result
		err error
	)
	r.withClock(func() { res, err = u.Install(context.Background(), path, nil) })
	return res, err
}

// check verifies the invariants of a firmware directory at rest: current
// names a complete slot (every file hashed), the state is not on trial
// and commits that slot, and the system links resolve.
func (r *rig) check(wantVersion ...string) Status {
	r.t.Helper()
	u := r.updater(nil)
	st, err := u.Status(true)
	if err != nil {
		r.t.Fatalf("Status = %v", err)
	}
	if st.Current == "" || st.Current != st.Committed || st.Trying != "" {
		r.t.Fatalf("at rest: current %q committed %q trying %q, want current == committed and no trial", st.Current, st.Committed, st.Trying)
	}
	var cur SlotInfo
	for _, s := range st.Slots {
		if s.Name == st.Current {
			cur = s
		}
	}
	if !cur.Complete {
		r.t.Fatalf("current slot %s is not complete: %s", st.Current, cur.Problem)
	}
	ok := len(wantVersion) == 0
	for _, v := range wantVersion {
		ok = ok || cur.Version == v
	}
	if !ok {
		r.t.Fatalf("current slot runs %s, want one of %v", cur.Version, wantVersion)
	}
	for _, l := range []string{"etc/systemd/system/kioskd.service", "etc/udev/rules.d/70-kiosk.rules"} {
		target, err := os.Readlink(filepath.Join(r.root, l))
		if err != nil {
			r.t.Fatalf("%s: %v", l, err)
		}
		data, err := os.ReadFile(filepath.Join(r.root, target))
		if err != nil || !strings.Contains(string(data), cur.Version) {
			r.t.Fatalf("%s -> %s does not resolve to the current slot's file (%v, %q)", l, target, err, data)
		}
	}
	return *st
}
