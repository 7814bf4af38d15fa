package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/bali-rbdes/kiosk/agent/seal"
)

// NewTLSKey makes an ECDSA P-256 key for mutual TLS and returns it with its
// PKCS#8 PEM encoding. P-256 is what every MQTT broker's TLS stack accepts.
func NewTLSKey() (*ecdsa.PrivateKey, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: cannot generate a TLS key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: cannot encode the TLS key: %w", err)
	}
	defer clear(der)
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// NewCSR returns a PEM certificate request for key with common name cn.
func NewCSR(key crypto.Signer, cn string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot make a certificate request for %q: %w", cn, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// ParseCSR parses and checks the self-signature of a PEM certificate
// request.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		return nil, fmt.Errorf("keys: want a PEM \"CERTIFICATE REQUEST\" block: %w", ErrFormat)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: not a certificate request (%v): %w", err, ErrFormat)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("keys: certificate request for %q has a bad self-signature: %w", csr.Subject.CommonName, err)
	}
	return csr, nil
}

// ParseCertificate parses the first PEM "CERTIFICATE" block of data.
func ParseCertificate(data []byte) (*x509.Certificate, error) {
	b, _ := pem.Decode(data)
	if b == nil || b.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("keys: want a PEM \"CERTIFICATE\" block: %w", ErrFormat)
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: not an X.509 certificate (%v): %w", err, ErrFormat)
	}
	return c, nil
}

// CertKind is what a certificate issued by the development CA is for.
type CertKind string

// Certificate kinds of the development CA.
const (
	// CertKiosk is a kiosk's MQTT client certificate: CN = kiosk id,
	// extended key usage client authentication.
	CertKiosk CertKind = "kiosk"
	// CertNode is a national node's MQTT client certificate: CN = node id.
	CertNode CertKind = "node"
	// CertBroker is an MQTT broker's server certificate, with DNS names
	// and IP addresses as subject alternative names.
	CertBroker CertKind = "broker"
)

// Profile says what certificate to issue.
type Profile struct {
	Kind CertKind
	// DNS names and IPs are subject alternative names; a broker needs one
	// at least, clients may have none.
	DNS []string
	IPs []net.IP
	// Validity is the certificate's lifetime; 0 means one year.
	Validity time.Duration
}

// CA is the small development certificate authority of tests and the demo.
// It is not meant for production: its key is a plain file.
type CA struct {
	Cert    *x509.Certificate
	CertPEM []byte
	key     crypto.Signer
}

// Files of a development CA directory.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

// InitCA creates a new development CA in dir (ca.crt and ca.key, mode
// 0600), valid from now for validity (0 means ten years). It refuses to
// replace an existing CA.
func InitCA(dir, name string, now time.Time, validity time.Duration) (*CA, error) {
	if validity == 0 {
		validity = 10 * 365 * 24 * time.Hour
	}
	if name == "" {
		name = "RBDES development CA"
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("keys: cannot create CA directory %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, CAKeyFile)); err == nil {
		return nil, fmt.Errorf("keys: %s already holds a CA key; use it or choose another directory: %w", dir, ErrExists)
	}
	key, keyPEM, err := NewTLSKey()
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: name, Organization: []string{"RBDES development"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(validity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot self-sign the CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("keys: CA certificate does not parse back: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := CreateFile(filepath.Join(dir, CAKeyFile), keyPEM, 0o600); err != nil {
		return nil, err
	}
	if err := CreateFile(filepath.Join(dir, CACertFile), certPEM, 0o644); err != nil {
		return nil, err
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: key}, nil
}

// LoadCA opens the development CA in dir.
func LoadCA(dir string) (*CA, error) {
	keyPEM, err := ReadPrivateFile(filepath.Join(dir, CAKeyFile), "CA key")
	if err != nil {
		return nil, err
	}
	defer clear(keyPEM)
	b, _ := pem.Decode(keyPEM)
	if b == nil || b.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("keys: %s is not a PKCS#8 PEM key: %w", filepath.Join(dir, CAKeyFile), ErrFormat)
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	clear(b.Bytes)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %v: %w", filepath.Join(dir, CAKeyFile), err, ErrFormat)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("keys: %s holds a %T, not a signing key: %w", filepath.Join(dir, CAKeyFile), k, ErrFormat)
	}
	certPEM, err := ReadPublicFile(filepath.Join(dir, CACertFile), "CA certificate")
	if err != nil {
		return nil, err
	}
	cert, err := ParseCertificate(certPEM)
	if err != nil {
		return nil, fmt.Errorf("keys: %s: %w", filepath.Join(dir, CACertFile), err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("keys: %s is not a CA certificate: %w", filepath.Join(dir, CACertFile), ErrFormat)
	}
	if pub, ok := signer.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !pub.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("keys: %s does not belong to %s (mixed-up CA files?): %w", filepath.Join(dir, CAKeyFile), filepath.Join(dir, CACertFile), ErrFormat)
	}
	return &CA{Cert: cert, CertPEM: certPEM, key: signer}, nil
}

// Sign issues a certificate for the key and common name of csr, as p
// says, and returns it as PEM. A kiosk certificate's CN must be a kiosk id.
func (ca *CA) Sign(csr *x509.CertificateRequest, p Profile, now time.Time) ([]byte, error) {
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("keys: certificate request for %q has a bad self-signature: %w", csr.Subject.CommonName, err)
	}
	return ca.issue(csr.PublicKey, csr.Subject.CommonName, p, now)
}

// Issue makes a new TLS key and a certificate for it with common name cn,
// as p says, and returns both as PEM.
func (ca *CA) Issue(cn string, p Profile, now time.Time) (keyPEM, certPEM []byte, err error) {
	key, keyPEM, err := NewTLSKey()
	if err != nil {
		return nil, nil, err
	}
	certPEM, err = ca.issue(key.Public(), cn, p, now)
	if err != nil {
		clear(keyPEM)
		return nil, nil, err
	}
	return keyPEM, certPEM, nil
}

func (ca *CA) issue(pub crypto.PublicKey, cn string, p Profile, now time.Time) ([]byte, error) {
	validity := p.Validity
	if validity == 0 {
		validity = 365 * 24 * time.Hour
	}
	sn, err := serial()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(validity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		DNSNames:     p.DNS,
		IPAddresses:  p.IPs,
	}
	switch p.Kind {
	case CertKiosk, CertNode:
		if !seal.ValidKioskID(cn) {
			return nil, fmt.Errorf("keys: %s certificate CN %q is not an id (want 3-64 characters of a-z, 0-9 and '-'; it must equal the MQTT client id)", p.Kind, cn)
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case CertBroker:
		if cn == "" {
			return nil, errors.New("keys: a broker certificate needs a common name")
		}
		if len(p.DNS) == 0 && len(p.IPs) == 0 {
			return nil, fmt.Errorf("keys: broker certificate %q needs at least one DNS name or IP address (TLS clients check the subject alternative names)", cn)
		}
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	default:
		return nil, fmt.Errorf("keys: unknown certificate kind %q (want kiosk, node or broker)", p.Kind)
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, pub, ca.key)
	if err != nil {
		return nil, fmt.Errorf("keys: cannot sign the %s certificate for %q: %w", p.Kind, cn, err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// serial returns a random positive 127-bit serial number.
func serial() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("keys: cannot draw a certificate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}
