package update

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/firmware/bundle"
)

// Errors callers act on, for errors.Is. Bundle problems are bundle's
// errors (bundle.ErrSignature, bundle.ErrUntrusted, bundle.ErrFormat).
var (
	// ErrWrongBoard: the bundle is for another board.
	ErrWrongBoard = errors.New("bundle is for another board")
	// ErrDowngrade: the bundle is older than the running firmware.
	ErrDowngrade = errors.New("bundle is older than the running firmware")
	// ErrTooOld: the running firmware is older than the bundle's minimum
	// previous version.
	ErrTooOld = errors.New("running firmware is too old for this bundle")
	// ErrRolledBack: the new slot failed its trial and the previous slot
	// runs again.
	ErrRolledBack = errors.New("update rolled back")
	// ErrBusy: another updater holds the firmware lock.
	ErrBusy = errors.New("another firmware operation is running")
	// ErrNoTrial: there is no slot on trial to commit or roll back.
	ErrNoTrial = errors.New("no update on trial")
)

// Options configures an Updater.
type Options struct {
	// Root is the system root; default "/".
	Root string
	// Board is the device's board; default: the content of
	// Root/etc/kiosk/board.
	Board string
	// Keys are the trusted firmware keys; default: every *.pub in
	// Root/etc/kiosk/firmware-keys.
	Keys []ed25519.PublicKey
	// Service is the service manager; nil: Systemd.
	Service ServiceManager
	// Unit is kioskd's unit; default "kioskd.service".
	Unit string
	// HealthyFor is how long kioskd must stay active without a restart
	// before a new slot is committed; default 60s.
	HealthyFor time.Duration
	// StartTimeout bounds the wait for kioskd to become active after the
	// switch; default 3m.
	StartTimeout time.Duration
	// MaxRestarts is how many automatic restarts before kioskd is first
	// active count as a crash loop; default 2.
	MaxRestarts int
	// Poll is how often the unit's state is read; default 1s.
	Poll time.Duration
	// AllowDowngrade lets Install install an older sequence.
	AllowDowngrade bool
	Clock          clock.Clock
	Logger         *zap.Logger
}

// DefaultOptions returns the defaults that nil options or zero fields get.
func DefaultOptions() *Options {
	return &Options{Root: "/", Unit: "kioskd.service", HealthyFor: 60 * time.Second,
		StartTimeout: 3 * time.Minute, MaxRestarts: 2, Poll: time.Second}
}

// Updater installs bundles into the A/B slots of one system root.
type Updater struct {
	opts Options
	dir  string
	svc  ServiceManager
	clk  clock.Clock
	log  *zap.Logger
	disk disk
}

// New returns an Updater for opts (nil: defaults).
func New(opts *Options) (*Updater, error) {
	o := DefaultOptions()
	if opts != nil {
		d := *o
		c := *opts
		o = &c
		if o.Root == "" {
			o.Root = d.Root
		}
		if o.Unit == "" {
			o.Unit = d.Unit
		}
		if o.HealthyFor <= 0 {
			o.HealthyFor = d.HealthyFor
		}
		if o.StartTimeout <= 0 {
			o.StartTimeout = d.StartTimeout
		}
		if o.MaxRestarts <= 0 {
			o.MaxRestarts = d.MaxRestarts
		}
		if o.Poll <= 0 {
			o.Poll = d.Poll
		}
	}
	u := &Updater{opts: *o, dir: filepath.Join(o.Root, FirmwareDir), svc: o.Service, clk: clock.OrReal(o.Clock), log: o.Logger}
	if u.svc == nil {
		u.svc = &Systemd{}
	}
	if u.log == nil {
		u.log = zap.NewNop()
	}
	return u, nil
}

// Board returns the device's board (Options.Board or Root/etc/kiosk/board).
func (u *Updater) Board() (string, error) {
	if u.opts.Board != "" {
		return u.opts.Board, nil
	}
	p := filepath.Join(u.opts.Root, BoardFile)
	b, err := os.ReadFile(p)
	if err != nil {
		return "", fmt.Errorf("update: cannot read the device's board from %s (the image writes it; or pass -board): %w", p, err)
	}
	board := strings.TrimSpace(string(b))
	if board == "" {
		return "", fmt.Errorf("update: %s is empty; it must name the board (rpi4, generic-arm64, ...)", p)
	}
	return board, nil
}

// TrustedKeys returns Options.Keys or the keys in Root/etc/kiosk/firmware-keys.
func (u *Updater) TrustedKeys() ([]ed25519.PublicKey, error) {
	if len(u.opts.Keys) > 0 {
		return u.opts.Keys, nil
	}
	return LoadKeyDir(filepath.Join(u.opts.Root, KeyDir))
}

// LoadKeyDir reads every *.pub file (PKIX PEM Ed25519) in dir.
func LoadKeyDir(dir string) ([]ed25519.PublicKey, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.pub"))
	if err != nil {
		return nil, fmt.Errorf("update: cannot list %s: %w", dir, err)
	}
	sort.Strings(names)
	var out []ed25519.PublicKey
	for _, n := range names {
		k, err := keys.LoadEd25519Public(n, "firmware public key")
		if err != nil {
			return nil, fmt.Errorf("update: %w", err)
		}
		out = append(out, k)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("update: no trusted firmware keys (*.pub) in %s: install the release public key there: %w", dir, bundle.ErrUntrusted)
	}
	return out, nil
}

// lock takes the firmware lock; with wait false it fails with ErrBusy when
// another process holds it. The lock goes away with the process, so a
// killed updater never leaves it behind.
func (u *Updater) lock(wait bool) (func(), error) {
	if err := os.MkdirAll(u.dir, 0o755); err != nil {
		return nil, fmt.Errorf("update: cannot create %s: %w", u.dir, err)
	}
	f, err := os.OpenFile(filepath.Join(u.dir, lockFile), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("update: cannot open the firmware lock: %w", err)
	}
	how := syscall.LOCK_EX
	if !wait {
		how |= syscall.LOCK_NB
	}
	if err := syscall.Flock(int(f.Fd()), how); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("update: %w (an install in progress; see kioskctl firmware status)", ErrBusy)
		}
		return nil, fmt.Errorf("update: cannot lock %s: %w", f.Name(), err)
	}
	return func() { f.Close() }, nil
}

// InstallOptions modify one Install.
type InstallOptions struct {
	// Offline installs and commits without touching the service manager:
	// for building an image (Root is the image's root filesystem) or
	// seeding a device's first slot.
	Offline bool
}

// Result is the outcome of an Install.
type Result struct {
	Slot     string
	Version  string
	Sequence uint64
	// Committed is true when the new slot runs and is committed; false
	// with ErrRolledBack when the previous slot runs again.
	Committed bool
	Reason    string
}

// Install installs the bundle at bundlePath (see the package comment). It
// returns an error wrapping ErrRolledBack when the new version failed its
// trial and the previous one runs again.
func (u *Updater) Install(ctx context.Context, bundlePath string, opts *InstallOptions) (*Result, error) {
	if opts == nil {
		opts = &InstallOptions{}
	}
	unlock, err := u.lock(false)
	if err != nil {
		return nil, err
	}
	defer unlock()

	b, f, err := u.openBundle(bundlePath)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	m := b.Manifest

	st, err := readState(u.dir)
	switch {
	case errors.Is(err, errNoState) && opts.Offline:
		st = &State{}
	case errors.Is(err, errNoState):
		return nil, fmt.Errorf("update: %s holds no installed firmware; a device gets its first slot from the image (or kioskctl firmware install -offline)", u.dir)
	case err != nil:
		return nil, err
	}
	if st.Trying != "" {
		// A trial whose installer died without a reboot: end it first.
		if err := u.rollback(ctx, st, "an earlier update was still on trial when a new one started", !opts.Offline); err != nil {
			return nil, err
		}
	}
	if st.Committed != "" {
		cur := u.inspectSlot(st.Committed, false)
		if cur.Manifest != nil {
			if m.Sequence < cur.Sequence && !u.opts.AllowDowngrade {
				return nil, fmt.Errorf("update: bundle %s (sequence %d) is older than the running %s (sequence %d); pass -allow-downgrade to install it anyway: %w",
					m.Version, m.Sequence, cur.Version, cur.Sequence, ErrDowngrade)
			}
			if m.MinPrevious > cur.Sequence {
				return nil, fmt.Errorf("update: bundle %s needs at least sequence %d running, this kiosk runs %s (sequence %d); install an intermediate version first: %w",
					m.Version, m.MinPrevious, cur.Version, cur.Sequence, ErrTooOld)
			}
		}
	}

	target := SlotA
	if st.Committed != "" {
		target = otherSlot(st.Committed)
	}
	u.log.Info("installing", zap.String("version", m.Version), zap.Uint64("sequence", m.Sequence), zap.String("slot", target))
	if err := u.unpack(b, target); err != nil {
		return nil, err
	}
	if err := u.linkSystemFiles(m); err != nil {
		return nil, err
	}
	res := &Result{Slot: target, Version: m.Version, Sequence: m.Sequence}
	if opts.Offline {
		if err := u.switchTo(target); err != nil {
			return nil, err
		}
		st.Committed, st.Trying = target, ""
		st.record(Event{At: u.clk.Now().UTC(), Action: "install", Slot: target, Version: m.Version, Sequence: m.Sequence, Result: "committed", Reason: "installed offline"})
		if err := u.writeState(st); err != nil {
			return nil, err
		}
		res.Committed = true
		return res, nil
	}

	// The trial is recorded before the switch, so a power loss right
	// after the switch boots into a rollback, never into an unrecorded
	// trial.
	st.Trying, st.TrySince = target, u.clk.Now().UTC()
	if err := u.writeState(st); err != nil {
		return nil, err
	}
	if err := u.switchTo(target); err != nil {
		return nil, u.failTrial(ctx, st, m, err.Error(), err)
	}
	if err := u.svc.Reload(ctx); err != nil {
		return nil, u.failTrial(ctx, st, m, err.Error(), err)
	}
	if err := u.svc.Restart(ctx, u.opts.Unit); err != nil {
		return nil, u.failTrial(ctx, st, m, err.Error(), err)
	}
	if reason := u.trial(ctx); reason != "" {
		err := u.failTrial(ctx, st, m, reason, nil)
		res.Reason = reason
		return res, err
	}
	st.Committed, st.Trying, st.TrySince = target, "", time.Time{}
	st.record(Event{At: u.clk.Now().UTC(), Action: "install", Slot: target, Version: m.Version, Sequence: m.Sequence, Result: "committed",
		Reason: fmt.Sprintf("kioskd active for %v", u.opts.HealthyFor)})
	if err := u.writeState(st); err != nil {
		return nil, err
	}
	u.log.Info("committed", zap.String("version", m.Version), zap.String("slot", target))
	res.Committed = true
	return res, nil
}

// failTrial rolls back a trial that failed for reason; cause, when not
// nil, is the error that ended it.
func (u *Updater) failTrial(ctx context.Context, st *State, m *bundle.Manifest, reason string, cause error) error {
	u.log.Warn("update failed its trial; rolling back", zap.String("version", m.Version), zap.String("why", reason))
	if err := u.rollback(ctx, st, reason, true); err != nil {
		return fmt.Errorf("update: %s failed its trial (%s) and the rollback failed too: %w", m.Version, reason, err)
	}
	if cause != nil {
		return fmt.Errorf("update: %s rolled back: %w: %w", m.Version, ErrRolledBack, cause)
	}
	return fmt.Errorf("update: %s rolled back: %s: %w", m.Version, reason, ErrRolledBack)
}

func (u *Updater) openBundle(p string) (*bundle.Bundle, *os.File, error) {
	trusted, err := u.TrustedKeys()
	if err != nil {
		return nil, nil, err
	}
	board, err := u.Board()
	if err != nil {
		return nil, nil, err
	}
	f, err := os.Open(p)
	if err != nil {
		return nil, nil, fmt.Errorf("update: cannot open bundle: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("update: cannot stat bundle %s: %w", p, err)
	}
	b, err := bundle.Open(f, fi.Size(), trusted)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("update: %s: %w", p, err)
	}
	if b.Manifest.Board != board {
		f.Close()
		return nil, nil, fmt.Errorf("update: bundle %s is for board %s, this kiosk is %s (build it with make firmware BOARD=%s): %w",
			p, b.Manifest.Board, board, board, ErrWrongBoard)
	}
	return b, f, nil
}

// unpack writes b into slot s: the old content and marker go first, the
// marker is written last.
func (u *Updater) unpack(b *bundle.Bundle, s string) error {
	dir := u.slotDir(s)
	if u.currentSlot() == s {
		return fmt.Errorf("update: refusing to unpack into slot %s, which is the active one", s)
	}
	if err := u.disk.remove(filepath.Join(dir, completeFile)); err != nil {
		return err
	}
	if err := u.disk.removeAll(dir); err != nil {
		return err
	}
	if err := u.disk.mkdirAll(dir); err != nil {
		return err
	}
	err := b.Files(func(f bundle.File, r io.Reader) error {
		p := filepath.Join(dir, filepath.FromSlash(f.Path))
		if err := u.disk.mkdirAll(filepath.Dir(p)); err != nil {
			return err
		}
		return u.disk.createFile(p, fs.FileMode(f.Mode), r)
	})
	if err != nil {
		return fmt.Errorf("update: unpacking into slot %s: %w", s, err)
	}
	mb := b.ManifestBytes()
	if err := u.disk.createFile(filepath.Join(dir, manifestFile), 0o644, strings.NewReader(string(mb))); err != nil {
		return err
	}
	if err := u.disk.syncDirs(dir); err != nil {
		return err
	}
	sum := sha256.Sum256(mb)
	return u.disk.replaceFile(filepath.Join(dir, completeFile), 0o644, []byte(hex.EncodeToString(sum[:])+"\n"))
}

// linkSystemFiles links every unit, rule, sysusers and tmpfiles file of m
// into the system directories, through CurrentLink.
func (u *Updater) linkSystemFiles(m *bundle.Manifest) error {
	for _, f := range m.Files {
		dir, name := path.Split(f.Path)
		for _, ld := range linkDirs {
			if strings.TrimSuffix(dir, "/") != ld.bundleDir {
				continue
			}
			sysDir := filepath.Join(u.opts.Root, ld.systemDir)
			if err := u.disk.mkdirAll(sysDir); err != nil {
				return err
			}
			if err := u.disk.symlink(CurrentLink+"/"+f.Path, filepath.Join(sysDir, name)); err != nil {
				return err
			}
		}
	}
	return nil
}

// trial watches kioskd after the switch and returns "" when it stayed
// active for HealthyFor, or why it failed.
func (u *Updater) trial(ctx context.Context) string {
	start := u.clk.Now()
	var (
		invocation  string
		activeSince time.Time
		baseline    = -1
	)
	for {
		st, err := u.svc.State(ctx, u.opts.Unit)
		switch {
		case err != nil:
			return "cannot read kioskd's state: " + err.Error()
		case baseline < 0:
			baseline = st.Restarts
		}
		now := u.clk.Now()
		switch {
		case st.Active == "failed":
			return fmt.Sprintf("kioskd failed (%s): it exited with an error or hit its start limit", st.Sub)
		case invocation != "" && (st.InvocationID != invocation || st.Restarts != baseline):
			return "kioskd restarted during the trial (a crash or a watchdog timeout)"
		case st.Active == "active" && invocation == "":
			invocation, activeSince, baseline = st.InvocationID, now, st.Restarts
			u.log.Info("kioskd is active on the new slot; watching it", zap.Duration("for", u.opts.HealthyFor))
		case st.Active != "active" && invocation != "":
			return fmt.Sprintf("kioskd stopped being active during the trial (%s/%s)", st.Active, st.Sub)
		case st.Restarts-baseline > u.opts.MaxRestarts:
			return fmt.Sprintf("kioskd restarted %d times without becoming ready (crash loop)", st.Restarts-baseline)
		case invocation == "" && now.Sub(start) >= u.opts.StartTimeout:
			return fmt.Sprintf("kioskd did not report ready within %v", u.opts.StartTimeout)
		}
		if invocation != "" && now.Sub(activeSince) >= u.opts.HealthyFor {
			return ""
		}
		if err := u.clk.Sleep(ctx, u.opts.Poll); err != nil {
			return "trial interrupted: " + err.Error()
		}
	}
}

// rollback ends the trial in st: "current" goes back to the committed slot
// and, with restart, kioskd restarts on it.
func (u *Updater) rollback(ctx context.Context, st *State, reason string, restart bool) error {
	tried := u.inspectSlot(st.Trying, false)
	back := st.Committed
	if back == "" || !u.inspectSlot(back, false).Complete {
		return fmt.Errorf("update: cannot roll back: the committed slot %q is not complete", back)
	}
	if err := u.switchTo(back); err != nil {
		return err
	}
	e := Event{At: u.clk.Now().UTC(), Action: "rollback", Slot: st.Trying, Version: tried.Version, Sequence: tried.Sequence, Result: "rolled-back", Reason: reason}
	st.Trying, st.TrySince = "", time.Time{}
	st.record(e)
	if err := u.writeState(st); err != nil {
		return err
	}
	if !restart {
		return nil
	}
	if err := u.svc.Reload(ctx); err != nil {
		return err
	}
	return u.svc.Restart(ctx, u.opts.Unit)
}

// Boot makes the firmware directory consistent at boot, before kioskd
// starts: a slot still on trial is rolled back (the kiosk restarted before
// committing it), and "current" is made to point to the committed slot,
// which must be complete (if it is not, the other slot is used when it
// is). It reloads the service manager when it changed anything. It returns
// what it did, or "" when nothing was needed.
func (u *Updater) Boot(ctx context.Context) (string, error) {
	unlock, err := u.lock(true)
	if err != nil {
		return "", err
	}
	defer unlock()
	st, err := readState(u.dir)
	if err != nil {
		// No or a damaged state file: adopt whichever slot is complete.
		st = &State{}
		if !errors.Is(err, errNoState) {
			u.log.Warn("firmware state unreadable; rebuilding it from the slots", zap.Error(err))
		}
	}
	var did []string
	if st.Trying != "" {
		if err := u.rollback(ctx, st, "the kiosk restarted before the update was committed", false); err != nil {
			return "", err
		}
		did = append(did, "rolled back the uncommitted slot "+u.lastSlot(st))
	}
	want := st.Committed
	if want == "" || !u.inspectSlot(want, true).Complete {
		alt := SlotA
		if want != "" {
			alt = otherSlot(want)
		}
		switch {
		case u.inspectSlot(alt, true).Complete:
		case want == "" && u.inspectSlot(SlotB, true).Complete:
			alt = SlotB
		default:
			return "", fmt.Errorf("update: no complete firmware slot in %s (reflash the kiosk)", u.dir)
		}
		info := u.inspectSlot(alt, false)
		st.Committed = alt
		st.record(Event{At: u.clk.Now().UTC(), Action: "repair", Slot: alt, Version: info.Version, Sequence: info.Sequence, Result: "repaired",
			Reason: fmt.Sprintf("slot %q was not complete; using slot %s", want, alt)})
		if err := u.writeState(st); err != nil {
			return "", err
		}
		did = append(did, "switched to the complete slot "+alt)
	}
	if u.currentSlot() != st.Committed {
		if err := u.switchTo(st.Committed); err != nil {
			return "", err
		}
		did = append(did, "pointed current at the committed slot "+st.Committed)
	}
	if len(did) == 0 {
		return "", nil
	}
	if err := u.svc.Reload(ctx); err != nil {
		return "", err
	}
	return strings.Join(did, "; "), nil
}

func (u *Updater) lastSlot(st *State) string {
	if e := st.Last(); e != nil {
		return e.Slot + " (" + e.Version + ")"
	}
	return "?"
}

// Failed is kioskd's OnFailure= action: kioskd entered the failed state
// (start limit hit). A slot on trial is rolled back and kioskd restarted on
// the committed one. When an installer holds the lock it is watching the
// trial itself and Failed does nothing. Without a trial it returns
// ErrNoTrial: there is nothing to roll back to automatically.
func (u *Updater) Failed(ctx context.Context) (string, error) {
	unlock, err := u.lock(false)
	if errors.Is(err, ErrBusy) {
		return "an install is in progress and handles the failure", nil
	}
	if err != nil {
		return "", err
	}
	defer unlock()
	st, err := readState(u.dir)
	if err != nil {
		return "", err
	}
	if st.Trying == "" {
		return "", fmt.Errorf("update: kioskd failed on the committed slot %s; nothing to roll back to automatically (kioskctl firmware rollback switches to the other slot): %w", st.Committed, ErrNoTrial)
	}
	if err := u.rollback(ctx, st, "kioskd failed (start limit hit) while the update was on trial", true); err != nil {
		return "", err
	}
	return "rolled back to slot " + st.Committed, nil
}

// Commit commits the slot on trial by hand.
func (u *Updater) Commit(context.Context) error {
	unlock, err := u.lock(false)
	if err != nil {
		return err
	}
	defer unlock()
	st, err := readState(u.dir)
	if err != nil {
		return err
	}
	if st.Trying == "" {
		return fmt.Errorf("update: slot %s is already committed: %w", st.Committed, ErrNoTrial)
	}
	info := u.inspectSlot(st.Trying, true)
	if !info.Complete || u.currentSlot() != st.Trying {
		return fmt.Errorf("update: slot %s on trial is not complete and active (%s); not committing it", st.Trying, info.Problem)
	}
	st.record(Event{At: u.clk.Now().UTC(), Action: "commit", Slot: st.Trying, Version: info.Version, Sequence: info.Sequence, Result: "committed", Reason: "committed by hand"})
	st.Committed, st.Trying, st.TrySince = st.Trying, "", time.Time{}
	return u.writeState(st)
}

// Rollback ends a trial by hand, or, without one, switches to the other
// slot when it is complete (a technician undoing a committed update), and
// restarts kioskd.
func (u *Updater) Rollback(ctx context.Context, reason string) (string, error) {
	unlock, err := u.lock(false)
	if err != nil {
		return "", err
	}
	defer unlock()
	st, err := readState(u.dir)
	if err != nil {
		return "", err
	}
	if st.Trying != "" {
		if err := u.rollback(ctx, st, reason, true); err != nil {
			return "", err
		}
		return "rolled back to slot " + st.Committed, nil
	}
	other := otherSlot(st.Committed)
	info := u.inspectSlot(other, true)
	if !info.Complete {
		return "", fmt.Errorf("update: the other slot %s is not complete (%s); nothing to roll back to", other, info.Problem)
	}
	if err := u.switchTo(other); err != nil {
		return "", err
	}
	from := st.Committed
	st.Committed = other
	st.record(Event{At: u.clk.Now().UTC(), Action: "rollback", Slot: from, Version: info.Version, Sequence: info.Sequence, Result: "rolled-back", Reason: reason})
	if err := u.writeState(st); err != nil {
		return "", err
	}
	if err := u.svc.Reload(ctx); err != nil {
		return "", err
	}
	if err := u.svc.Restart(ctx, u.opts.Unit); err != nil {
		return "", err
	}
	return fmt.Sprintf("switched from slot %s to slot %s (%s)", from, other, info.Version), nil
}

// Status describes the firmware directory.
type Status struct {
	Board string `json:"board"`
	// Current is the slot "current" points to.
	Current   string     `json:"current"`
	Committed string     `json:"committed"`
	Trying    string     `json:"trying,omitempty"`
	TrySince  time.Time  `json:"try_since,omitzero"`
	Slots     []SlotInfo `json:"slots"`
	// Busy reports whether an install holds the lock.
	Busy    bool    `json:"busy"`
	History []Event `json:"history,omitempty"`
}

// Status reads the state without taking the lock; deep hashes every file
// of both slots.
func (u *Updater) Status(deep bool) (*Status, error) {
	s := &Status{Current: u.currentSlot()}
	s.Board, _ = u.Board()
	st, err := readState(u.dir)
	if err != nil && !errors.Is(err, errNoState) {
		return nil, err
	}
	if st != nil {
		s.Committed, s.Trying, s.TrySince, s.History = st.Committed, st.Trying, st.TrySince, st.History
	}
	for _, name := range []string{SlotA, SlotB} {
		s.Slots = append(s.Slots, u.inspectSlot(name, deep))
	}
	if unlock, err := u.lock(false); err == nil {
		unlock()
	} else if errors.Is(err, ErrBusy) {
		s.Busy = true
	}
	return s, nil
}
