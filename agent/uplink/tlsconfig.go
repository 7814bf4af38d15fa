package uplink

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
)

// TLSConfig builds a mutual TLS client configuration from PEM files: the CA
// that signed the broker's certificate, and the client's certificate and
// private key. The node uses it too.
func TLSConfig(caFile, certFile, keyFile string) (*tls.Config, error) {
	ca, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("uplink: cannot read the broker CA %s: %w", caFile, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("uplink: %s holds no PEM certificate (want the CA that signed the broker's certificate)", caFile)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("uplink: client certificate %s and key %s do not load as a pair (kioskctl ca sign issues the certificate for the key): %w", certFile, keyFile, err)
	}
	return &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
