package nodeverify

import (
	"bytes"
	"crypto/ed25519"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/seal"
)

// Status is a kiosk's standing at the node.
type Status string

// Kiosk statuses.
const (
	// StatusActive: records are accepted.
	StatusActive Status = "active"
	// StatusRevoked: every record is refused (REVOKED_KIOSK), whatever its
	// signature; used for a stolen or decommissioned kiosk.
	StatusRevoked Status = "revoked"
)

// DeviceKey is one of a kiosk's Ed25519 signing keys. During a device key
// rotation a kiosk has two: the old one with RetiredAt set and the new one.
// The overlap window lets records the kiosk sealed with the old key before
// the rotation, and still held in its outbox, be delivered afterwards.
type DeviceKey struct {
	ID     string
	Public ed25519.PublicKey
	// RetiredAt, when set, is when the kiosk stopped signing with this key:
	// records created (created_unix_ms) after it are refused.
	RetiredAt time.Time
	// AcceptUntil, when set, ends the overlap window: after it (by the
	// node's clock) the key is refused altogether. Set it beyond the
	// longest time a kiosk may stay offline with records in its outbox.
	AcceptUntil time.Time
}

// Kiosk is a registered kiosk.
type Kiosk struct {
	ID         string
	Status     Status
	DeviceKeys []DeviceKey
	// Certificate is the kiosk's TLS client certificate when the registry
	// names one (CN = ID); the node may pin it. Nil otherwise.
	Certificate *x509.Certificate
}

// DeviceKey returns the kiosk's device key with the given id.
func (k *Kiosk) DeviceKey(id string) (DeviceKey, bool) {
	for _, d := range k.DeviceKeys {
		if d.ID == id {
			return d, true
		}
	}
	return DeviceKey{}, false
}

// Directory is what the Verifier needs of the kiosk registry: look a kiosk
// up by id. Registry implements it; a node keeping kiosks in a database
// implements it there.
type Directory interface {
	Kiosk(id string) (*Kiosk, bool)
}

// Registry is an immutable set of registered kiosks. To change it (revoke
// a kiosk, rotate a device key) build or load a new one and swap it in.
type Registry struct {
	kiosks map[string]*Kiosk
}

// NewRegistry checks kiosks (valid unique ids, a known status, at least one
// device key per kiosk with unique valid ids and 32-byte public keys, a
// certificate CN equal to the id) and returns them as a Registry.
func NewRegistry(kiosks []Kiosk) (*Registry, error) {
	r := &Registry{kiosks: map[string]*Kiosk{}}
	for i := range kiosks {
		k := kiosks[i]
		if !seal.ValidKioskID(k.ID) {
			return nil, fmt.Errorf("nodeverify: registry entry %d: kiosk id %q is not valid (want 3-64 characters of a-z, 0-9 and '-')", i, k.ID)
		}
		if _, dup := r.kiosks[k.ID]; dup {
			return nil, fmt.Errorf("nodeverify: registry lists kiosk %s twice", k.ID)
		}
		if k.Status != StatusActive && k.Status != StatusRevoked {
			return nil, fmt.Errorf("nodeverify: kiosk %s: status %q is not active or revoked", k.ID, k.Status)
		}
		if len(k.DeviceKeys) == 0 {
			return nil, fmt.Errorf("nodeverify: kiosk %s has no device key (add the public key kioskctl provision printed)", k.ID)
		}
		seen := map[string]bool{}
		for _, d := range k.DeviceKeys {
			if !seal.ValidKeyID(d.ID) {
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key id %q is not a key id", k.ID, d.ID)
			}
			if seen[d.ID] {
				return nil, fmt.Errorf("nodeverify: kiosk %s lists device key %s twice", k.ID, d.ID)
			}
			seen[d.ID] = true
			if len(d.Public) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s is %d bytes, want %d", k.ID, d.ID, len(d.Public), ed25519.PublicKeySize)
			}
			if !d.RetiredAt.IsZero() && !d.AcceptUntil.IsZero() && d.AcceptUntil.Before(d.RetiredAt) {
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s: accept_until %s is before retired_at %s", k.ID, d.ID, d.AcceptUntil.Format(time.RFC3339), d.RetiredAt.Format(time.RFC3339))
			}
		}
		if k.Certificate != nil && k.Certificate.Subject.CommonName != k.ID {
			return nil, fmt.Errorf("nodeverify: kiosk %s: certificate CN is %q, want the kiosk id", k.ID, k.Certificate.Subject.CommonName)
		}
		k.DeviceKeys = append([]DeviceKey(nil), k.DeviceKeys...)
		r.kiosks[k.ID] = &k
	}
	return r, nil
}

// Kiosk returns the registered kiosk with that id.
func (r *Registry) Kiosk(id string) (*Kiosk, bool) {
	k, ok := r.kiosks[id]
	return k, ok
}

// Len returns the number of registered kiosks.
func (r *Registry) Len() int { return len(r.kiosks) }

// registryFile is the YAML form of a registry:
//
//	kiosks:
//	  - id: kiosk-001
//	    status: active                  # or revoked
//	    certificate_file: kiosk-001.crt # optional, relative to this file
//	    device_keys:
//	      - id: device-1
//	        public_key: 3q2+7w...       # base64 of the 32-byte key, or:
//	        # public_key_file: kiosk-001/device-1.pub
//	        retired_at: 2026-03-01T00:00:00Z    # optional
//	        accept_until: 2026-04-01T00:00:00Z  # optional
type registryFile struct {
	Kiosks []struct {
		ID              string `yaml:"id"`
		Status          string `yaml:"status"`
		CertificateFile string `yaml:"certificate_file"`
		DeviceKeys      []struct {
			ID            string `yaml:"id"`
			PublicKey     string `yaml:"public_key"`
			PublicKeyFile string `yaml:"public_key_file"`
			RetiredAt     string `yaml:"retired_at"`
			AcceptUntil   string `yaml:"accept_until"`
		} `yaml:"device_keys"`
	} `yaml:"kiosks"`
}

// LoadRegistry reads a registry YAML file (format above); relative file
// names in it are relative to the file's directory.
func LoadRegistry(path string) (*Registry, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("nodeverify: cannot read kiosk registry %s (check node.registry in the node config): %w", path, err)
	}
	r, err := ParseRegistry(data, filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return r, nil
}

// ParseRegistry decodes registry YAML; relative file names are taken from
// dir. Unknown fields are errors.
func ParseRegistry(data []byte, dir string) (*Registry, error) {
	var f registryFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("nodeverify: kiosk registry is not valid YAML of the registry format: %w", err)
	}
	rel := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		return filepath.Join(dir, p)
	}
	var kiosks []Kiosk
	for _, fk := range f.Kiosks {
		k := Kiosk{ID: fk.ID, Status: Status(fk.Status)}
		if fk.CertificateFile != "" {
			data, err := keys.ReadPublicFile(rel(fk.CertificateFile), "kiosk certificate")
			if err != nil {
				return nil, fmt.Errorf("nodeverify: kiosk %s: %w", fk.ID, err)
			}
			if k.Certificate, err = keys.ParseCertificate(data); err != nil {
				return nil, fmt.Errorf("nodeverify: kiosk %s: certificate %s: %w", fk.ID, fk.CertificateFile, err)
			}
		}
		for _, fd := range fk.DeviceKeys {
			d := DeviceKey{ID: fd.ID}
			switch {
			case fd.PublicKey != "" && fd.PublicKeyFile != "":
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s has both public_key and public_key_file; keep one", fk.ID, fd.ID)
			case fd.PublicKey != "":
				b, err := base64.StdEncoding.DecodeString(fd.PublicKey)
				if err != nil || len(b) != ed25519.PublicKeySize {
					return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s: public_key is not base64 of 32 bytes", fk.ID, fd.ID)
				}
				d.Public = b
			case fd.PublicKeyFile != "":
				pub, err := keys.LoadEd25519Public(rel(fd.PublicKeyFile), "kiosk device public key")
				if err != nil {
					return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s: %w", fk.ID, fd.ID, err)
				}
				d.Public = pub
			default:
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s needs public_key or public_key_file", fk.ID, fd.ID)
			}
			var err error
			if d.RetiredAt, err = parseTime(fd.RetiredAt); err != nil {
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s: retired_at: %w", fk.ID, fd.ID, err)
			}
			if d.AcceptUntil, err = parseTime(fd.AcceptUntil); err != nil {
				return nil, fmt.Errorf("nodeverify: kiosk %s: device key %s: accept_until: %w", fk.ID, fd.ID, err)
			}
			k.DeviceKeys = append(k.DeviceKeys, d)
		}
		kiosks = append(kiosks, k)
	}
	return NewRegistry(kiosks)
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not an RFC 3339 time such as 2026-03-01T00:00:00Z", s)
	}
	return t, nil
}
