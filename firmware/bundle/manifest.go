package bundle

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"strings"
	"time"
)

// FormatVersion is the manifest format this package writes and reads.
const FormatVersion = 1

// Product is the product name every kiosk bundle carries.
const Product = "rbdes-kiosk"

// Limits that keep a hostile bundle from exhausting memory.
const (
	maxManifest = 1 << 20
	maxFiles    = 1000
	maxFileSize = 1 << 30
)

// Architectures a bundle may target.
var Architectures = []string{"arm64", "armv7", "amd64"}

var (
	boardRe   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	versionRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$`)
	commitRe  = regexp.MustCompile(`^[0-9a-f]{7,64}$|^unknown$`)
	pathRe    = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._@+-]*(/[A-Za-z0-9_][A-Za-z0-9._@+-]*)*$`)
)

// Manifest describes a bundle: what it is for and every file it carries.
type Manifest struct {
	// Format is FormatVersion.
	Format int `json:"format"`
	// Product is Product.
	Product string `json:"product"`
	// Version is the human-readable version (git describe).
	Version string `json:"version"`
	// Sequence orders builds: it is the number of commits in the build's
	// history, so a later build of the same branch has a larger one. Devices
	// refuse a bundle with a smaller sequence than the one they run unless
	// told to downgrade.
	Sequence uint64 `json:"sequence"`
	// MinPrevious is the smallest sequence a device must already run to
	// install this bundle (0: any), for updates that need an intermediate
	// step.
	MinPrevious uint64 `json:"min_previous"`
	// Commit is the full git commit the bundle was built from.
	Commit string `json:"commit"`
	// Board is the board profile (firmware/boards/<board>).
	Board string `json:"board"`
	// Arch is the CPU architecture of the binaries: arm64, armv7 or amd64.
	Arch string `json:"arch"`
	// Created is the build time; it is the commit time, so builds are
	// reproducible.
	Created time.Time `json:"created"`
	// Files lists every file of the bundle in archive order.
	Files []File `json:"files"`
}

// File is one file of a bundle.
type File struct {
	// Path is slash-separated and relative ("bin/kioskd").
	Path string `json:"path"`
	// Mode is the permission bits, 0644 or 0755, as an octal string.
	Mode Mode `json:"mode"`
	// Size is the length in bytes.
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex SHA-256 of the content.
	SHA256 string `json:"sha256"`
}

// Mode is a file's permission bits, written in JSON as an octal string
// ("0755").
type Mode fs.FileMode

// MarshalJSON writes the mode as "0755".
func (m Mode) MarshalJSON() ([]byte, error) {
	return json.Marshal(fmt.Sprintf("%04o", uint32(m)))
}

// UnmarshalJSON accepts "0644" or "0755" only.
func (m *Mode) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("want a mode string such as \"0644\": %w", err)
	}
	switch s {
	case "0644":
		*m = 0o644
	case "0755":
		*m = 0o755
	default:
		return fmt.Errorf("mode %q: want \"0644\" or \"0755\"", s)
	}
	return nil
}

// Validate checks every field of m and returns the first problem found.
func (m *Manifest) Validate() error {
	switch {
	case m.Format != FormatVersion:
		return fmt.Errorf("manifest format %d, want %d (a newer kioskctl may read it)", m.Format, FormatVersion)
	case m.Product != Product:
		return fmt.Errorf("manifest product %q, want %q (not a kiosk bundle)", m.Product, Product)
	case !versionRe.MatchString(m.Version):
		return fmt.Errorf("manifest version %q: want 1-64 of letters, digits and ._+-", m.Version)
	case m.Sequence == 0:
		return fmt.Errorf("manifest sequence is 0: want the build's commit count (git rev-list --count HEAD)")
	case m.MinPrevious > m.Sequence:
		return fmt.Errorf("manifest min_previous %d is above the bundle's own sequence %d", m.MinPrevious, m.Sequence)
	case !commitRe.MatchString(m.Commit):
		return fmt.Errorf("manifest commit %q: want a lowercase hex git commit", m.Commit)
	case !boardRe.MatchString(m.Board):
		return fmt.Errorf("manifest board %q: want 1-32 of a-z, 0-9 and '-'", m.Board)
	case !validArch(m.Arch):
		return fmt.Errorf("manifest arch %q: want one of %s", m.Arch, strings.Join(Architectures, ", "))
	case m.Created.IsZero() || m.Created.Location() != time.UTC:
		return fmt.Errorf("manifest created %v: want a UTC time", m.Created)
	case len(m.Files) == 0:
		return fmt.Errorf("manifest lists no files")
	case len(m.Files) > maxFiles:
		return fmt.Errorf("manifest lists %d files, more than %d", len(m.Files), maxFiles)
	}
	seen := make(map[string]bool, len(m.Files))
	for i, f := range m.Files {
		if err := validPath(f.Path); err != nil {
			return fmt.Errorf("manifest files[%d]: %w", i, err)
		}
		if seen[f.Path] {
			return fmt.Errorf("manifest files[%d]: %s is listed twice", i, f.Path)
		}
		seen[f.Path] = true
		if f.Mode != 0o644 && f.Mode != 0o755 {
			return fmt.Errorf("manifest files[%d] %s: mode %04o, want 0644 or 0755", i, f.Path, uint32(f.Mode))
		}
		if f.Size < 0 || f.Size > maxFileSize {
			return fmt.Errorf("manifest files[%d] %s: size %d out of range", i, f.Path, f.Size)
		}
		if b, err := hex.DecodeString(f.SHA256); err != nil || len(b) != 32 || f.SHA256 != strings.ToLower(f.SHA256) {
			return fmt.Errorf("manifest files[%d] %s: sha256 %q is not 64 lowercase hex digits", i, f.Path, f.SHA256)
		}
	}
	// A file and a directory of the same name cannot both be unpacked.
	for p := range seen {
		for dir := path.Dir(p); dir != "."; dir = path.Dir(dir) {
			if seen[dir] {
				return fmt.Errorf("manifest lists %s both as a file and as the directory of %s", dir, p)
			}
		}
	}
	return nil
}

// File returns the manifest entry for p, or nil.
func (m *Manifest) File(p string) *File {
	for i := range m.Files {
		if m.Files[i].Path == p {
			return &m.Files[i]
		}
	}
	return nil
}

// ParseManifest decodes and validates a manifest; unknown fields are
// errors.
func ParseManifest(data []byte) (*Manifest, error) {
	if len(data) > maxManifest {
		return nil, fmt.Errorf("manifest is %d bytes, more than %d", len(data), maxManifest)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var m Manifest
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	if dec.More() {
		return nil, fmt.Errorf("manifest has data after its JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return &m, nil
}

// marshal returns the manifest's canonical encoding.
func (m *Manifest) marshal() ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("bundle: cannot encode manifest: %w", err)
	}
	return append(b, '\n'), nil
}

func validArch(a string) bool {
	for _, x := range Architectures {
		if a == x {
			return true
		}
	}
	return false
}

// manifestName is the archive name of the manifest; no bundle file may
// use it.
const manifestName = "manifest.json"

func validPath(p string) error {
	switch {
	case len(p) == 0 || len(p) > 100:
		return fmt.Errorf("path %q: want 1-100 characters", p)
	case !pathRe.MatchString(p):
		return fmt.Errorf("path %q: want a relative slash-separated path of letters, digits and ._@+- (no '..', no leading '/')", p)
	case p == manifestName:
		return fmt.Errorf("path %q is reserved for the manifest", p)
	}
	for _, part := range strings.Split(p, "/") {
		if part == "." || part == ".." {
			return fmt.Errorf("path %q: '.' and '..' are not allowed", p)
		}
	}
	return nil
}
