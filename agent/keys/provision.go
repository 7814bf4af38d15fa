package keys

import (
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// Provisioned lists what Provision or Rotate wrote.
type Provisioned struct {
	KioskID string
	// DeviceKeyID is the id of the new device key (device-N), to put in
	// keys.device_key_id and in the node's kiosk registry.
	DeviceKeyID   string
	DeviceKeyFile string
	DevicePubFile string
	DevicePublic  ed25519.PublicKey
	// TLSKeyFile and CSRFile are empty when no TLS key was made.
	TLSKeyFile string
	CSRFile    string
	// Previous is the id of the device key this one replaces, empty for the
	// first; PreviousPublic is its public key when device-N.pub is readable.
	Previous       string
	PreviousPublic ed25519.PublicKey
}

var deviceKeyFileRe = regexp.MustCompile(`^device-([1-9][0-9]{0,8})\.key$`)

// Provision makes a kiosk's first keys in dir (created with mode 0700 when
// missing): the Ed25519 device key device-1.key (mode 0600) and its public
// key device-1.pub, and a TLS key tls-1.key (mode 0600) with a certificate
// request tls-1.csr whose CN is kioskID. It refuses a dir that already
// holds a device key (use Rotate).
func Provision(dir, kioskID string) (*Provisioned, error) {
	if !seal.ValidKioskID(kioskID) {
		return nil, fmt.Errorf("keys: kiosk id %q is not valid (want 3-64 characters of a-z, 0-9 and '-', starting and ending with a letter or digit)", kioskID)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: cannot create key directory %s: %w", dir, err)
	}
	last, err := lastDeviceKey(dir)
	if err != nil {
		return nil, err
	}
	if last > 0 {
		return nil, fmt.Errorf("keys: %s already holds device-%d.key; use -rotate to make the next device key: %w", dir, last, ErrExists)
	}
	return makeKeys(dir, kioskID, 1, true)
}

// Rotate makes the next device key in dir (device-N+1.key and .pub) next to
// the existing ones, and with newTLS also a new TLS key and certificate
// request (tls-N+1). The old files stay: the node keeps accepting the old
// device key during the overlap window set in its registry.
func Rotate(dir, kioskID string, newTLS bool) (*Provisioned, error) {
	if !seal.ValidKioskID(kioskID) {
		return nil, fmt.Errorf("keys: kiosk id %q is not valid (want 3-64 characters of a-z, 0-9 and '-', starting and ending with a letter or digit)", kioskID)
	}
	last, err := lastDeviceKey(dir)
	if err != nil {
		return nil, err
	}
	if last == 0 {
		return nil, fmt.Errorf("keys: %s holds no device-N.key to rotate from; run provision without -rotate first: %w", dir, ErrMissing)
	}
	p, err := makeKeys(dir, kioskID, last+1, newTLS)
	if err != nil {
		return nil, err
	}
	p.Previous = "device-" + strconv.Itoa(last)
	if pub, err := LoadEd25519Public(filepath.Join(dir, p.Previous+".pub"), "previous device public key"); err == nil {
		p.PreviousPublic = pub
	}
	return p, nil
}

func lastDeviceKey(dir string) (int, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("keys: cannot list key directory %s: %w", dir, err)
	}
	last := 0
	for _, e := range ents {
		if m := deviceKeyFileRe.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			last = max(last, n)
		}
	}
	return last, nil
}

func makeKeys(dir, kioskID string, n int, withTLS bool) (*Provisioned, error) {
	id := "device-" + strconv.Itoa(n)
	p := &Provisioned{
		KioskID:       kioskID,
		DeviceKeyID:   id,
		DeviceKeyFile: filepath.Join(dir, id+".key"),
		DevicePubFile: filepath.Join(dir, id+".pub"),
	}
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot generate an Ed25519 device key: %w", err)
	}
	defer clear(priv)
	privPEM, err := MarshalEd25519Private(priv)
	if err != nil {
		return nil, err
	}
	defer clear(privPEM)
	pubPEM, err := MarshalEd25519Public(pub)
	if err != nil {
		return nil, err
	}
	if err := CreateFile(p.DeviceKeyFile, privPEM, 0o600); err != nil {
		return nil, err
	}
	if err := CreateFile(p.DevicePubFile, pubPEM, 0o644); err != nil {
		return nil, err
	}
	p.DevicePublic = pub
	if !withTLS {
		return p, nil
	}
	tlsKey, tlsPEM, err := NewTLSKey()
	if err != nil {
		return nil, err
	}
	defer clear(tlsPEM)
	csr, err := NewCSR(tlsKey, kioskID)
	if err != nil {
		return nil, err
	}
	p.TLSKeyFile = filepath.Join(dir, "tls-"+strconv.Itoa(n)+".key")
	p.CSRFile = filepath.Join(dir, "tls-"+strconv.Itoa(n)+".csr")
	if err := CreateFile(p.TLSKeyFile, tlsPEM, 0o600); err != nil {
		return nil, err
	}
	if err := CreateFile(p.CSRFile, csr, 0o644); err != nil {
		return nil, err
	}
	return p, nil
}
