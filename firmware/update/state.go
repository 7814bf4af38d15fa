package update

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/bali-rbdes/kiosk/firmware/bundle"
)

// Paths relative to the system root.
const (
	// FirmwareDir holds the slots, the current link and the state.
	FirmwareDir = "opt/kiosk"
	// KeyDir holds the trusted firmware public keys (*.pub, PKIX PEM).
	KeyDir = "etc/kiosk/firmware-keys"
	// BoardFile names the device's board profile.
	BoardFile = "etc/kiosk/board"
	// CurrentLink is the absolute path of the active slot on the device;
	// the system links point through it.
	CurrentLink = "/opt/kiosk/current"
)

// Slot names.
const (
	SlotA = "a"
	SlotB = "b"
)

// linkDirs maps a bundle directory to the system directory its files are
// linked into.
var linkDirs = []struct{ bundleDir, systemDir string }{
	{"systemd", "etc/systemd/system"},
	{"udev", "etc/udev/rules.d"},
	{"sysusers", "etc/sysusers.d"},
	{"tmpfiles", "etc/tmpfiles.d"},
}

const (
	manifestFile = "manifest.json"
	completeFile = ".complete"
	stateFile    = "state.json"
	lockFile     = ".lock"
	maxHistory   = 20
)

// State is what the updater keeps in opt/kiosk/state.json.
type State struct {
	// Committed is the slot known to work ("a" or "b"), empty before the
	// first install.
	Committed string `json:"committed"`
	// Trying is the slot on trial, empty when none is.
	Trying string `json:"trying,omitempty"`
	// TrySince is when the trial began.
	TrySince time.Time `json:"try_since,omitzero"`
	// History lists the latest outcomes, newest last.
	History []Event `json:"history,omitempty"`
}

// Event is one outcome the updater recorded.
type Event struct {
	At time.Time `json:"at"`
	// Action is install, commit, rollback or repair.
	Action   string `json:"action"`
	Slot     string `json:"slot"`
	Version  string `json:"version"`
	Sequence uint64 `json:"sequence"`
	// Result is committed, rolled-back, failed or repaired.
	Result string `json:"result"`
	Reason string `json:"reason,omitempty"`
}

// Last returns the newest event, or nil.
func (s *State) Last() *Event {
	if len(s.History) == 0 {
		return nil
	}
	return &s.History[len(s.History)-1]
}

func (s *State) record(e Event) {
	s.History = append(s.History, e)
	if len(s.History) > maxHistory {
		s.History = s.History[len(s.History)-maxHistory:]
	}
}

func otherSlot(s string) string {
	if s == SlotA {
		return SlotB
	}
	return SlotA
}

func validSlot(s string) bool { return s == SlotA || s == SlotB }

// errNoState: the firmware directory has no state file yet.
var errNoState = errors.New("no firmware state")

func readState(dir string) (*State, error) {
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoState
	}
	if err != nil {
		return nil, fmt.Errorf("update: cannot read %s: %w", filepath.Join(dir, stateFile), err)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("update: %s is damaged (%v)", filepath.Join(dir, stateFile), err)
	}
	if (s.Committed != "" && !validSlot(s.Committed)) || (s.Trying != "" && !validSlot(s.Trying)) || (s.Trying != "" && s.Trying == s.Committed) {
		return nil, fmt.Errorf("update: %s names impossible slots (committed %q, trying %q)", filepath.Join(dir, stateFile), s.Committed, s.Trying)
	}
	return &s, nil
}

func (u *Updater) writeState(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("update: cannot encode state: %w", err)
	}
	return u.disk.replaceFile(filepath.Join(u.dir, stateFile), 0o644, append(data, '\n'))
}

// SlotInfo describes one slot.
type SlotInfo struct {
	Name string `json:"name"`
	// Complete reports whether the slot holds a whole bundle (its marker
	// matches its manifest; with a deep check, every file matches too).
	Complete bool `json:"complete"`
	// Problem says why the slot is not complete.
	Problem  string           `json:"problem,omitempty"`
	Manifest *bundle.Manifest `json:"-"`
	Version  string           `json:"version,omitempty"`
	Sequence uint64           `json:"sequence,omitempty"`
	Board    string           `json:"board,omitempty"`
}

func (u *Updater) slotDir(s string) string { return filepath.Join(u.dir, "slots", s) }

// inspectSlot reads a slot's manifest and marker; with deep it also hashes
// every file.
func (u *Updater) inspectSlot(s string, deep bool) SlotInfo {
	info := SlotInfo{Name: s}
	dir := u.slotDir(s)
	mb, err := os.ReadFile(filepath.Join(dir, manifestFile))
	if err != nil {
		info.Problem = "no manifest (empty or partly written slot)"
		return info
	}
	m, err := bundle.ParseManifest(mb)
	if err != nil {
		info.Problem = "damaged manifest: " + err.Error()
		return info
	}
	info.Manifest, info.Version, info.Sequence, info.Board = m, m.Version, m.Sequence, m.Board
	marker, err := os.ReadFile(filepath.Join(dir, completeFile))
	sum := sha256.Sum256(mb)
	if err != nil || string(bytes.TrimSpace(marker)) != hex.EncodeToString(sum[:]) {
		info.Problem = "not marked complete (unpacking was interrupted)"
		return info
	}
	if deep {
		for _, f := range m.Files {
			if err := checkFile(filepath.Join(dir, filepath.FromSlash(f.Path)), f); err != nil {
				info.Problem = err.Error()
				return info
			}
		}
	}
	info.Complete = true
	return info
}

func checkFile(path string, f bundle.File) error {
	fh, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%s is missing", f.Path)
	}
	defer fh.Close()
	fi, err := fh.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() != f.Size {
		return fmt.Errorf("%s has the wrong size or type", f.Path)
	}
	h := sha256.New()
	if _, err := io.Copy(h, fh); err != nil {
		return fmt.Errorf("%s cannot be read: %v", f.Path, err)
	}
	if hex.EncodeToString(h.Sum(nil)) != f.SHA256 {
		return fmt.Errorf("%s does not match its SHA-256 (damaged storage?)", f.Path)
	}
	return nil
}

// currentSlot returns the slot "current" points to, or "".
func (u *Updater) currentSlot() string {
	t, err := os.Readlink(filepath.Join(u.dir, "current"))
	if err != nil {
		return ""
	}
	switch t {
	case "slots/a":
		return SlotA
	case "slots/b":
		return SlotB
	}
	return ""
}

func (u *Updater) switchTo(s string) error {
	return u.disk.symlink("slots/"+s, filepath.Join(u.dir, "current"))
}
