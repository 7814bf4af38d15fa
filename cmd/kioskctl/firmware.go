package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/firmware/board"
	"github.com/bali-rbdes/kiosk/firmware/bundle"
	"github.com/bali-rbdes/kiosk/firmware/update"
)

// devKeyName is the development firmware key make firmware creates in
// dist/ when no key is configured; verify and inspect trust its public
// half beside a bundle, with a warning, when no other key is given.
const devKeyName = "firmware-dev"

// stringList is a repeatable string flag.
type stringList []string

func (s *stringList) String() string     { return strings.Join(*s, ",") }
func (s *stringList) Set(v string) error { *s = append(*s, v); return nil }

func runFirmwareKeygen(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware keygen", "", `Create an Ed25519 firmware signing key: KEY (PKCS#8 PEM, mode 0600) and
KEY with .key replaced by .pub (the public key devices trust, in
/etc/kiosk/firmware-keys/). An existing key is never overwritten. Keep a
release key offline: sign release bundles with kioskctl firmware sign.`)
	key := fs.String("key", "", "private key file to create, ending in .key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if !strings.HasSuffix(*key, ".key") || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -key FILE.key and no arguments")
	}
	if err := os.MkdirAll(filepath.Dir(*key), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", filepath.Dir(*key), err)
	}
	pubFile := strings.TrimSuffix(*key, ".key") + ".pub"
	pub, err := writeEd25519Pair(*key, pubFile)
	if err != nil {
		return err
	}
	fmt.Fprintf(st.out, "firmware key %s: %s (mode 0600), public %s\n", bundle.KeyID(pub), *key, pubFile)
	return nil
}

func runFirmwareBuild(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware build", "", `Build a signed firmware bundle for a board from the agent binaries in -bin
(kioskd and kioskctl, built for the board's architecture) and the device
files under -src: systemd units (systemd/), sysusers (sysusers/), udev rules
(udev/ and the board's udev/), the default config (kioskd.yaml) and the
board profile (boards/BOARD/). make firmware runs this; the same inputs and
key give the same bytes.`)
	boardName := fs.String("board", "", "board profile name (a directory of -src/boards)")
	src := fs.String("src", "firmware", "directory holding systemd/, udev/, sysusers/, boards/ and kioskd.yaml")
	bin := fs.String("bin", "", "directory with kioskd and kioskctl built for the board")
	version := fs.String("version", "", "version (git describe)")
	sequence := fs.Uint64("sequence", 0, "build sequence (git rev-list --count HEAD)")
	minPrev := fs.Uint64("min-previous", 0, "smallest sequence a device must run to install this bundle (0: any)")
	commit := fs.String("commit", "unknown", "git commit")
	created := fs.Int64("created", 0, "build time in Unix seconds (the commit time, for reproducible bundles)")
	keyFile := fs.String("key", "", "Ed25519 signing key (PKCS#8 PEM, mode 0600)")
	out := fs.String("o", "", "bundle file to write")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *boardName == "" || *bin == "" || *version == "" || *sequence == 0 || *created <= 0 || *keyFile == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -board, -bin, -version, -sequence, -created, -key and -o, and no arguments")
	}
	prof, err := board.Load(filepath.Join(*src, "boards", *boardName))
	if err != nil {
		return err
	}
	key, err := keys.LoadEd25519Private(*keyFile, "firmware signing key")
	if err != nil {
		return err
	}
	defer clear(key)
	files, err := bundleInputs(prof, *src, *bin)
	if err != nil {
		return err
	}
	m := bundle.Manifest{Version: *version, Sequence: *sequence, MinPrevious: *minPrev, Commit: *commit,
		Board: prof.Name, Arch: prof.Arch, Created: time.Unix(*created, 0).UTC()}
	var buf bytes.Buffer
	wrote, err := bundle.Write(&buf, m, files, key)
	if err != nil {
		return err
	}
	if err := keys.ReplaceFile(*out, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "%s: %s %s for %s (%s), %d files, %d bytes, signed by key %s\n", *out, bundle.Product, wrote.Version,
		wrote.Board, wrote.Arch, len(wrote.Files), buf.Len(), bundle.KeyID(key.Public().(ed25519.PublicKey)))
	return nil
}

// bundleInputs collects a board's bundle files in their fixed order.
func bundleInputs(prof *board.Profile, src, bin string) ([]bundle.Input, error) {
	var in []bundle.Input
	add := func(file, path string, mode os.FileMode) error {
		data, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("cannot read %s for the bundle: %w", file, err)
		}
		in = append(in, bundle.Input{Path: path, Mode: mode, Data: data})
		return nil
	}
	for _, name := range []string{"kioskd", "kioskctl"} {
		p := filepath.Join(bin, name)
		if err := checkELF(p, prof.Arch); err != nil {
			return nil, err
		}
		if err := add(p, "bin/"+name, 0o755); err != nil {
			return nil, err
		}
	}
	if err := add(filepath.Join(src, "kioskd.yaml"), "config/kioskd.yaml", 0o644); err != nil {
		return nil, err
	}
	for _, d := range []struct{ dir, glob string }{{"systemd", "*.service"}, {"sysusers", "*.conf"}, {"udev", "*.rules"}} {
		names, _ := filepath.Glob(filepath.Join(src, d.dir, d.glob))
		if len(names) == 0 {
			return nil, fmt.Errorf("no %s in %s: is -src the firmware directory?", d.glob, filepath.Join(src, d.dir))
		}
		sort.Strings(names)
		for _, n := range names {
			if err := add(n, d.dir+"/"+filepath.Base(n), 0o644); err != nil {
				return nil, err
			}
		}
	}
	rules, err := prof.UdevRules()
	if err != nil {
		return nil, err
	}
	for _, r := range rules {
		if err := add(filepath.Join(prof.Dir, r), r, 0o644); err != nil {
			return nil, err
		}
	}
	bf, err := prof.Files()
	if err != nil {
		return nil, err
	}
	for _, f := range bf {
		if err := add(filepath.Join(prof.Dir, f), "board/"+f, 0o644); err != nil {
			return nil, err
		}
	}
	return in, nil
}

// checkELF refuses a binary built for another architecture than the
// board's.
func checkELF(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s is not an ELF binary (build it with make build-arm64 or build-armv7): %w", path, err)
	}
	defer f.Close()
	want := map[string]elf.Machine{"arm64": elf.EM_AARCH64, "armv7": elf.EM_ARM, "amd64": elf.EM_X86_64}[arch]
	if f.Machine != want {
		return fmt.Errorf("%s is built for %v, the board needs %s (%v)", path, f.Machine, arch, want)
	}
	return nil
}

func runFirmwareSign(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware sign", "BUNDLE", `Sign a firmware bundle with an Ed25519 key, replacing any signature it has:
how a bundle built and checked with a development key is signed with the
release key kept offline. Writes -o, or replaces BUNDLE.`)
	keyFile := fs.String("key", "", "Ed25519 signing key (PKCS#8 PEM, mode 0600)")
	out := fs.String("o", "", "output file (default: replace BUNDLE)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *keyFile == "" || fs.NArg() != 1 {
		fs.Usage()
		return usageError("want -key FILE and one BUNDLE")
	}
	key, err := keys.LoadEd25519Private(*keyFile, "firmware signing key")
	if err != nil {
		return err
	}
	defer clear(key)
	in := fs.Arg(0)
	f, err := os.Open(in)
	if err != nil {
		return fmt.Errorf("cannot open bundle: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return fmt.Errorf("cannot stat %s: %w", in, err)
	}
	var buf bytes.Buffer
	m, err := bundle.Sign(&buf, f, fi.Size(), key)
	if err != nil {
		return fmt.Errorf("%s: %w", in, err)
	}
	dst := *out
	if dst == "" {
		dst = in
	}
	if err := keys.ReplaceFile(dst, buf.Bytes(), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "%s: %s for %s signed by key %s\n", dst, m.Version, m.Board, bundle.KeyID(key.Public().(ed25519.PublicKey)))
	return nil
}

// trustedKeys returns the keys verify trusts: -pub files, else the
// device's keyring, else the development key beside the bundle.
func trustedKeys(st *stdio, pubs []string, bundlePath string) ([]ed25519.PublicKey, string, error) {
	if len(pubs) > 0 {
		var out []ed25519.PublicKey
		for _, p := range pubs {
			k, err := keys.LoadEd25519Public(p, "firmware public key")
			if err != nil {
				return nil, "", err
			}
			out = append(out, k)
		}
		return out, strings.Join(pubs, ", "), nil
	}
	if dir := os.Getenv("KIOSK_FIRMWARE_KEYS"); dir != "" {
		k, err := update.LoadKeyDir(dir)
		return k, dir + " ($KIOSK_FIRMWARE_KEYS)", err
	}
	if _, err := os.Stat("/" + update.KeyDir); err == nil {
		k, err := update.LoadKeyDir("/" + update.KeyDir)
		return k, "/" + update.KeyDir, err
	}
	dev := filepath.Join(filepath.Dir(bundlePath), devKeyName+".pub")
	k, err := keys.LoadEd25519Public(dev, "development firmware public key")
	if err != nil {
		return nil, "", usageError("no trusted key: give -pub FILE, set KIOSK_FIRMWARE_KEYS=DIR, or install keys in /%s (%v)", update.KeyDir, err)
	}
	fmt.Fprintf(st.err, "kioskctl firmware: WARNING: trusting the DEVELOPMENT key %s beside the bundle; a release device trusts only /%s\n", dev, update.KeyDir)
	return []ed25519.PublicKey{k}, dev, nil
}

func runFirmwareVerify(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware verify", "BUNDLE...", `Check firmware bundles: the signature must be by a trusted key and match
every byte, and the archive must hold exactly the manifest's files with
their SHA-256. Trusted keys: -pub files, else the *.pub in $KIOSK_FIRMWARE_KEYS,
else /etc/kiosk/firmware-keys/, else (development) firmware-dev.pub beside the
bundle. Exit status 0 when every bundle is good, 1 when any is rejected.`)
	var pubs stringList
	fs.Var(&pubs, "pub", "trusted firmware public key (PKIX PEM); repeatable")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return usageError("want at least one BUNDLE")
	}
	bad := 0
	for _, p := range fs.Args() {
		trusted, from, err := trustedKeys(st, pubs, p)
		if err != nil {
			return err
		}
		b, err := openBundleFile(p, trusted)
		if err != nil {
			fmt.Fprintf(st.err, "%s: REJECTED: %v\n", p, err)
			bad++
			continue
		}
		m := b.Manifest
		fmt.Fprintf(st.out, "%s: ok: %s %s (sequence %d) for %s (%s), %d files, signed by key %s (trusted: %s)\n",
			p, bundle.Product, m.Version, m.Sequence, m.Board, m.Arch, len(m.Files), b.KeyID(), from)
	}
	if bad > 0 {
		return &exitError{code: 1, msg: fmt.Sprintf("%d of %d bundles rejected", bad, fs.NArg())}
	}
	return nil
}

// openBundleFile opens and checks a bundle file; trusted nil means
// Inspect (signature against the bundle's own key).
func openBundleFile(path string, trusted []ed25519.PublicKey) (*bundle.Bundle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	var b *bundle.Bundle
	if trusted == nil {
		b, err = bundle.Inspect(f, fi.Size())
	} else {
		b, err = bundle.Open(f, fi.Size(), trusted)
	}
	if err != nil {
		return nil, err
	}
	// The checks read everything; nothing more is read after the close.
	return b, nil
}

func runFirmwareInspect(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware inspect", "BUNDLE", `Show a bundle's manifest (version, sequence, board, architecture, minimum
previous sequence, files with sizes and SHA-256) and who signed it. The
signature is checked against the key the bundle carries, not against
trusted keys: use kioskctl firmware verify for that.`)
	asJSON := fs.Bool("json", false, "print the manifest and signer as JSON")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want one BUNDLE")
	}
	b, err := openBundleFile(fs.Arg(0), nil)
	if err != nil {
		return &exitError{code: 1, msg: fmt.Sprintf("%s: %v", fs.Arg(0), err)}
	}
	m := b.Manifest
	if *asJSON {
		out := struct {
			*bundle.Manifest
			Signer string `json:"signer_key_id"`
			Size   int64  `json:"size"`
		}{m, b.KeyID(), b.Size}
		enc := json.NewEncoder(st.out)
		enc.SetIndent("", "  ")
		return enc.Encode(out)
	}
	fmt.Fprintf(st.out, "bundle       %s (%d bytes)\nproduct      %s\nversion      %s\nsequence     %d\nmin previous %d\ncommit       %s\nboard        %s\narch         %s\ncreated      %s\nsigned by    key %s (signature matches; trust not checked)\nfiles:\n",
		fs.Arg(0), b.Size, m.Product, m.Version, m.Sequence, m.MinPrevious, m.Commit, m.Board, m.Arch, m.Created.Format(time.RFC3339), b.KeyID())
	for _, f := range m.Files {
		fmt.Fprintf(st.out, "  %04o %9d  %s  %s\n", uint32(f.Mode), f.Size, f.SHA256, f.Path)
	}
	return nil
}

// updaterFlags are the flags the device-side commands share.
type updaterFlags struct {
	root, board string
	pubs        stringList
}

func addUpdaterFlags(fs *flag.FlagSet, withKeys bool) *updaterFlags {
	u := &updaterFlags{}
	fs.StringVar(&u.root, "root", "/", "system root (an image's root filesystem when building one)")
	fs.StringVar(&u.board, "board", "", "the device's board (default: the content of ROOT/etc/kiosk/board)")
	if withKeys {
		fs.Var(&u.pubs, "pub", "trusted firmware public key (default: ROOT/etc/kiosk/firmware-keys/*.pub); repeatable")
	}
	return u
}

func (u *updaterFlags) updater(st *stdio, opts *update.Options) (*update.Updater, error) {
	if opts == nil {
		opts = &update.Options{}
	}
	opts.Root, opts.Board = u.root, u.board
	for _, p := range u.pubs {
		k, err := keys.LoadEd25519Public(p, "firmware public key")
		if err != nil {
			return nil, err
		}
		opts.Keys = append(opts.Keys, k)
	}
	ec := zap.NewDevelopmentEncoderConfig()
	ec.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
	opts.Logger = zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(ec), zapcore.AddSync(st.err), zapcore.InfoLevel)).Named("firmware")
	return update.New(opts)
}

// parse parses the flags of a device-side command that takes no
// arguments and returns its updater.
func (u *updaterFlags) parse(st *stdio, fs *flag.FlagSet, args []string) (*update.Updater, error) {
	if err := parseFlags(fs, args); err != nil {
		return nil, err
	}
	if fs.NArg() != 0 {
		fs.Usage()
		return nil, usageError("want no arguments")
	}
	return u.updater(st, nil)
}

func runFirmwareInstall(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware install", "BUNDLE", `Install a firmware bundle on this kiosk: verify it (trusted signature, this
board, not older than the running version, minimum previous version), unpack
it into the inactive slot, switch /opt/kiosk/current, reload systemd and udev
and restart kioskd; commit once kioskd has stayed active for -healthy, roll
back to the previous slot if it fails, restarts (crash, watchdog) or never
becomes ready. Exit status 0 when committed, 1 when rejected or rolled back.
Run it detached from the SSH session (make ota uses systemd-run).`)
	u := addUpdaterFlags(fs, true)
	healthy := fs.Duration("healthy", 60*time.Second, "how long kioskd must stay active before the update is committed")
	startTimeout := fs.Duration("start-timeout", 3*time.Minute, "how long kioskd may take to report ready")
	downgrade := fs.Bool("allow-downgrade", false, "install a bundle older than the running version")
	offline := fs.Bool("offline", false, "install and commit without systemd (building an image: -root is its root filesystem)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return usageError("want one BUNDLE")
	}
	up, err := u.updater(st, &update.Options{HealthyFor: *healthy, StartTimeout: *startTimeout, AllowDowngrade: *downgrade})
	if err != nil {
		return err
	}
	res, err := up.Install(ctx, fs.Arg(0), &update.InstallOptions{Offline: *offline})
	if err != nil {
		if errors.Is(err, update.ErrRolledBack) {
			return &exitError{code: 1, msg: fmt.Sprintf("%v\nthe previous version runs again; see kioskctl firmware status and journalctl -u kioskd", err)}
		}
		return err
	}
	fmt.Fprintf(st.out, "installed %s (sequence %d) in slot %s: committed\n", res.Version, res.Sequence, res.Slot)
	return nil
}

func runFirmwareStatus(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware status", "", `Show this kiosk's firmware: board, active and committed slot, a slot on
trial, each slot's version and completeness, and the latest update outcomes.`)
	u := addUpdaterFlags(fs, false)
	asJSON := fs.Bool("json", false, "print JSON")
	deep := fs.Bool("deep", false, "hash every file of both slots")
	up, err := u.parse(st, fs, args)
	if err != nil {
		return err
	}
	s, err := up.Status(*deep)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(st.out)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}
	fmt.Fprintf(st.out, "board      %s\ncurrent    %s\ncommitted  %s\n", s.Board, s.Current, s.Committed)
	if s.Trying != "" {
		fmt.Fprintf(st.out, "on trial   %s since %s\n", s.Trying, s.TrySince.Format(time.RFC3339))
	}
	if s.Busy {
		fmt.Fprintf(st.out, "busy       an install is running\n")
	}
	for _, sl := range s.Slots {
		state := "complete"
		if !sl.Complete {
			state = "incomplete: " + sl.Problem
		}
		v := "-"
		if sl.Version != "" {
			v = sl.Version + " (sequence " + strconv.FormatUint(sl.Sequence, 10) + ", " + sl.Board + ")"
		}
		fmt.Fprintf(st.out, "slot %s     %s, %s\n", sl.Name, v, state)
	}
	for _, e := range s.History {
		fmt.Fprintf(st.out, "%s  %-8s slot %s %s: %s", e.At.Format(time.RFC3339), e.Action, e.Slot, e.Version, e.Result)
		if e.Reason != "" {
			fmt.Fprintf(st.out, " (%s)", e.Reason)
		}
		fmt.Fprintln(st.out)
	}
	return nil
}

func runFirmwareCommit(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware commit", "", "Commit the firmware slot on trial by hand (install commits by itself after -healthy).")
	u := addUpdaterFlags(fs, false)
	up, err := u.parse(st, fs, args)
	if err != nil {
		return err
	}
	if err := up.Commit(ctx); err != nil {
		return err
	}
	fmt.Fprintln(st.out, "committed")
	return nil
}

func runFirmwareRollback(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware rollback", "", `Roll back the slot on trial, or, without one, switch to the other slot when it
is complete (undo a committed update), and restart kioskd.`)
	u := addUpdaterFlags(fs, false)
	reason := fs.String("reason", "rolled back by hand", "reason recorded in the history")
	up, err := u.parse(st, fs, args)
	if err != nil {
		return err
	}
	msg, err := up.Rollback(ctx, *reason)
	if err != nil {
		return err
	}
	fmt.Fprintln(st.out, msg)
	return nil
}

func runFirmwareBoot(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware boot", "", `Boot-time check (kiosk-firmware-boot.service, before kioskd): roll back an
update still on trial and make /opt/kiosk/current point at the committed,
complete slot.`)
	u := addUpdaterFlags(fs, false)
	up, err := u.parse(st, fs, args)
	if err != nil {
		return err
	}
	did, err := up.Boot(ctx)
	if err != nil {
		return err
	}
	if did == "" {
		did = "firmware slots consistent"
	}
	fmt.Fprintln(st.out, did)
	return nil
}

func runFirmwareFailed(ctx context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware failed", "", `kioskd's OnFailure= action (kiosk-firmware-failed.service): roll back a
firmware update on trial whose kioskd hit its start limit. Exit status 3
when there is no update on trial to roll back, 1 on an error.`)
	u := addUpdaterFlags(fs, false)
	up, err := u.parse(st, fs, args)
	if err != nil {
		return err
	}
	msg, err := up.Failed(ctx)
	if errors.Is(err, update.ErrNoTrial) {
		return &exitError{code: 3, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(st.out, msg)
	return nil
}
