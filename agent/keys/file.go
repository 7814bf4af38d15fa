// Package keys reads, writes and makes the key files of a kiosk and of a
// national node: the kiosk's Ed25519 device signing key and TLS client key,
// the node's HPKE sealing keys and Ed25519 command key, and the small
// development certificate authority used by tests and the demo.
//
// Private keys are PEM files of mode 0600. Every loader refuses a private
// key file that is missing or that group or others may access, with an
// error naming the file and the command that fixes it; kioskd calls
// LoadKiosk at start and refuses to run on such an error. Files are written
// durably (write, fsync, rename or link, fsync the directory) and a private
// key is never overwritten.
//
// File formats:
//   - Ed25519 private key: PKCS#8 PEM ("PRIVATE KEY"); public: PKIX PEM
//     ("PUBLIC KEY").
//   - TLS key: ECDSA P-256, PKCS#8 PEM; certificate request: PEM
//     "CERTIFICATE REQUEST" with CN = kiosk id.
//   - HPKE keys (no standard PEM exists): "RBDES HPKE PRIVATE KEY" holding
//     the RFC 9180 SerializePrivateKey bytes and "RBDES HPKE PUBLIC KEY"
//     holding SerializePublicKey, each with the headers "KEM-ID: 0x647A" (or
//     0x0020) and "Key-ID: <id>".
//
// The kiosk's set of node keys, which node commands may change at run time,
// is a NodeKeySet persisted in kioskd's state directory.
package keys

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Errors callers act on, for errors.Is.
var (
	// ErrMissing: a key file does not exist.
	ErrMissing = errors.New("key file missing")
	// ErrPermissions: a private key file is accessible to group or others,
	// or is not a regular file.
	ErrPermissions = errors.New("private key file has unsafe permissions")
	// ErrFormat: a file does not hold the kind of key expected.
	ErrFormat = errors.New("key file has the wrong format")
	// ErrExists: writing would overwrite an existing key file.
	ErrExists = errors.New("key file already exists")
)

// ReadPrivateFile reads a private key file, refusing it when it is missing
// (ErrMissing), not a regular file or accessible to group or others
// (ErrPermissions). what names the key in messages ("device signing key").
// The caller clears the returned bytes once parsed.
func ReadPrivateFile(path, what string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("keys: no file given for the %s: %w", what, ErrMissing)
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("keys: %s %s does not exist (create it with kioskctl provision or kioskctl keys node, or fix the path in the config): %w", what, path, ErrMissing)
		}
		return nil, fmt.Errorf("keys: cannot open %s %s (check its owner: kioskd must run as that user): %w", what, path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("keys: cannot stat %s %s: %w", what, path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("keys: %s %s is not a regular file (%s): %w", what, path, fi.Mode().Type(), ErrPermissions)
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("keys: %s %s is accessible to group or others (mode %04o); run: chmod 600 %s: %w", what, path, perm, path, ErrPermissions)
	}
	const maxKeyFile = 1 << 20
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFile+1))
	if err != nil {
		clear(data)
		return nil, fmt.Errorf("keys: cannot read %s %s: %w", what, path, err)
	}
	if len(data) > maxKeyFile {
		clear(data)
		return nil, fmt.Errorf("keys: %s %s is larger than %d bytes, not a key file: %w", what, path, maxKeyFile, ErrFormat)
	}
	return data, nil
}

// ReadPublicFile reads a public key or certificate file.
func ReadPublicFile(path, what string) ([]byte, error) {
	if path == "" {
		return nil, fmt.Errorf("keys: no file given for the %s: %w", what, ErrMissing)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("keys: %s %s does not exist (fix the path in the config): %w", what, path, ErrMissing)
		}
		return nil, fmt.Errorf("keys: cannot read %s %s: %w", what, path, err)
	}
	return data, nil
}

// CreateFile durably writes a new file with mode perm and fails with
// ErrExists if path exists: the data goes to a temporary file in the same
// directory, is synced, then hard-linked to path (which cannot replace an
// existing file) and the directory is synced.
func CreateFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, false)
}

// ReplaceFile durably writes path with mode perm, atomically replacing any
// previous content: temporary file, fsync, rename, fsync of the directory.
func ReplaceFile(path string, data []byte, perm fs.FileMode) error {
	return writeFile(path, data, perm, true)
}

func writeFile(path string, data []byte, perm fs.FileMode, replace bool) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("keys: cannot create a file in %s (does the directory exist and is it writable?): %w", dir, err)
	}
	name := tmp.Name()
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(name)
		}
	}()
	if err = tmp.Chmod(perm); err != nil {
		return fmt.Errorf("keys: cannot set mode %04o on %s: %w", perm, name, err)
	}
	if _, err = tmp.Write(data); err != nil {
		return fmt.Errorf("keys: cannot write %s: %w", path, err)
	}
	if err = tmp.Sync(); err != nil {
		return fmt.Errorf("keys: cannot sync %s to disk: %w", path, err)
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("keys: cannot close %s: %w", path, err)
	}
	if replace {
		if err = os.Rename(name, path); err != nil {
			return fmt.Errorf("keys: cannot rename %s to %s: %w", name, path, err)
		}
	} else {
		if err = os.Link(name, path); err != nil {
			if errors.Is(err, fs.ErrExist) {
				err = fmt.Errorf("keys: %s already exists and is never overwritten (move it away first, or use -rotate to make a new key): %w", path, ErrExists)
				return err
			}
			return fmt.Errorf("keys: cannot create %s: %w", path, err)
		}
		os.Remove(name)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: cannot open directory %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("keys: cannot sync directory %s: %w", dir, err)
	}
	return nil
}
