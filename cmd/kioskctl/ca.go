package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/seal"
)

const caAbout = `The development CA signs the certificates of tests and the demo. It is not
for production: its key is a plain file.`

func runCAInit(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "ca init", "", "Create a development CA in DIR: ca.crt and ca.key (mode 0600).\n"+caAbout)
	dir := fs.String("dir", "", "CA directory (created with mode 0700)")
	name := fs.String("name", "RBDES development CA", "common name of the CA")
	days := fs.Int("days", 3650, "validity in days")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() != 0 || *days <= 0 {
		fs.Usage()
		return usageError("want -dir DIR, a positive -days and no arguments")
	}
	if _, err := keys.InitCA(*dir, *name, time.Now(), time.Duration(*days)*24*time.Hour); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "development CA %q in %s: %s (give it to brokers, kiosks and nodes), %s (mode 0600)\n",
		*name, *dir, filepath.Join(*dir, keys.CACertFile), filepath.Join(*dir, keys.CAKeyFile))
	return nil
}

// certFlags are the flags ca sign and ca issue share.
type certFlags struct {
	dir, kind, dns, ips *string
	days                *int
}

func addCertFlags(fs *flag.FlagSet) certFlags {
	return certFlags{
		dir:  fs.String("dir", "", "CA directory made by kioskctl ca init"),
		kind: fs.String("kind", "", "kiosk (client, CN = kiosk id), node (client, CN = node id) or broker (server)"),
		dns:  fs.String("dns", "", "comma-separated DNS names (subject alternative names; a broker needs one or -ip)"),
		ips:  fs.String("ip", "", "comma-separated IP addresses (subject alternative names)"),
		days: fs.Int("days", 365, "validity in days"),
	}
}

func (c certFlags) profile() (keys.Profile, error) {
	p := keys.Profile{Kind: keys.CertKind(*c.kind), Validity: time.Duration(*c.days) * 24 * time.Hour}
	switch p.Kind {
	case keys.CertKiosk, keys.CertNode, keys.CertBroker:
	default:
		return p, usageError("-kind %q: want kiosk, node or broker", *c.kind)
	}
	if *c.days <= 0 {
		return p, usageError("-days must be positive")
	}
	p.DNS = splitList(*c.dns)
	for _, s := range splitList(*c.ips) {
		ip := net.ParseIP(s)
		if ip == nil {
			return p, usageError("-ip %q is not an IP address", s)
		}
		p.IPs = append(p.IPs, ip)
	}
	return p, nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func runCASign(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "ca sign", "", "Sign a certificate request (kioskctl provision makes one) with the development CA.\n"+caAbout)
	cf := addCertFlags(fs)
	csrPath := fs.String("csr", "", "PEM certificate request")
	out := fs.String("out", "", "certificate file to write (PEM)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cf.dir == "" || *csrPath == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -dir, -kind, -csr and -out, and no arguments")
	}
	p, err := cf.profile()
	if err != nil {
		return err
	}
	ca, err := keys.LoadCA(*cf.dir)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(*csrPath)
	if err != nil {
		return fmt.Errorf("cannot read the certificate request: %w", err)
	}
	csr, err := keys.ParseCSR(data)
	if err != nil {
		return fmt.Errorf("%s: %w", *csrPath, err)
	}
	cert, err := ca.Sign(csr, p, time.Now())
	if err != nil {
		return err
	}
	if err := keys.CreateFile(*out, cert, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "%s certificate for %q: %s\n", p.Kind, csr.Subject.CommonName, *out)
	return nil
}

func runCAIssue(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "ca issue", "", "Make a TLS key and a certificate for it in OUTDIR: CN.key (mode 0600) and CN.crt.\nFor brokers and nodes of tests and the demo (kiosks use provision and ca sign).\n"+caAbout)
	cf := addCertFlags(fs)
	cn := fs.String("cn", "", "common name: the broker's name, or the node or kiosk id")
	out := fs.String("out", "", "output directory")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *cf.dir == "" || *cn == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -dir, -kind, -cn and -out, and no arguments")
	}
	p, err := cf.profile()
	if err != nil {
		return err
	}
	if strings.ContainsAny(*cn, "/\\") || *cn == "." || *cn == ".." {
		return usageError("-cn %q cannot name a file", *cn)
	}
	ca, err := keys.LoadCA(*cf.dir)
	if err != nil {
		return err
	}
	keyPEM, certPEM, err := ca.Issue(*cn, p, time.Now())
	if err != nil {
		return err
	}
	defer clear(keyPEM)
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", *out, err)
	}
	keyPath, certPath := filepath.Join(*out, *cn+".key"), filepath.Join(*out, *cn+".crt")
	if err := keys.CreateFile(keyPath, keyPEM, 0o600); err != nil {
		return err
	}
	if err := keys.CreateFile(certPath, certPEM, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "%s certificate for %q: %s, key %s (mode 0600)\n", p.Kind, *cn, certPath, keyPath)
	return nil
}

func runKeysNode(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "keys node", "", `Make a national node's keys in DIR: an HPKE key pair records are sealed to
(ID.hpke.key, mode 0600, and ID.hpke.pub for the kiosks) and an Ed25519
command-signing key pair (CMDID.cmd.key, mode 0600, and CMDID.cmd.pub for the
kiosks). Existing files are never overwritten.`)
	out := fs.String("out", "", "output directory (created with mode 0700)")
	id := fs.String("id", "node-1", "id of the sealing key (keys.node_keys[].id on both sides)")
	suite := fs.String("suite", seal.SuiteNameMLKEM768X25519, "HPKE suite: mlkem768-x25519 (post-quantum hybrid) or x25519")
	cmdID := fs.String("command-id", "cmd-1", "id of the command key; empty: make no command key")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -out DIR and no arguments")
	}
	s, err := seal.ParseSuite(*suite)
	if err != nil {
		return usageError("-suite: %v", err)
	}
	if !seal.ValidKeyID(*id) || (*cmdID != "" && !seal.ValidKeyID(*cmdID)) {
		return usageError("-id and -command-id want 1-64 characters of letters, digits, '.', '_' and '-'")
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", *out, err)
	}
	if abs, err := filepath.Abs(*out); err == nil {
		*out = abs
	}
	priv, err := keys.GenerateHPKE(s.KEM)
	if err != nil {
		return err
	}
	privPEM, err := keys.MarshalHPKEPrivate(*id, priv)
	if err != nil {
		return err
	}
	hpkeKey, hpkePub := filepath.Join(*out, *id+".hpke.key"), filepath.Join(*out, *id+".hpke.pub")
	if err := keys.CreateFile(hpkeKey, privPEM, 0o600); err != nil {
		return err
	}
	if err := keys.CreateFile(hpkePub, keys.MarshalHPKEPublic(*id, priv.PublicKey()), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(st.out, "node sealing key %s (%s): %s (mode 0600), public %s\n", *id, s.Name(), hpkeKey, hpkePub)
	var cmdKey, cmdPub string
	if *cmdID != "" {
		cmdKey, cmdPub = filepath.Join(*out, *cmdID+".cmd.key"), filepath.Join(*out, *cmdID+".cmd.pub")
		if _, err := writeEd25519Pair(cmdKey, cmdPub); err != nil {
			return err
		}
		fmt.Fprintf(st.out, "node command key %s: %s (mode 0600), public %s\n", *cmdID, cmdKey, cmdPub)
	}
	fmt.Fprintf(st.out, "\nNode config (rbdes-node.yaml):\n  keys:\n    node_keys:\n      - id: %s\n        file: %s\n", *id, hpkeKey)
	if cmdKey != "" {
		fmt.Fprintf(st.out, "    command_key:\n      id: %s\n      file: %s\n", *cmdID, cmdKey)
	}
	fmt.Fprintf(st.out, "\nKiosk config (kioskd.yaml):\n  keys:\n    suite: %s\n    node_keys:\n      - id: %s\n        file: %s\n", s.Name(), *id, hpkePub)
	if cmdPub != "" {
		fmt.Fprintf(st.out, "    command_keys:\n      - id: %s\n        file: %s\n", *cmdID, cmdPub)
	}
	return nil
}

// writeEd25519Pair creates a new Ed25519 key: the private key at privPath
// (PKCS#8 PEM, mode 0600) and the public key at pubPath. Neither file may
// exist already (keys.CreateFile).
func writeEd25519Pair(privPath, pubPath string) (ed25519.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("cannot generate a key: %w", err)
	}
	defer clear(priv)
	privPEM, err := keys.MarshalEd25519Private(priv)
	if err != nil {
		return nil, err
	}
	defer clear(privPEM)
	pubPEM, err := keys.MarshalEd25519Public(pub)
	if err != nil {
		return nil, err
	}
	if err := keys.CreateFile(privPath, privPEM, 0o600); err != nil {
		return nil, err
	}
	return pub, keys.CreateFile(pubPath, pubPEM, 0o644)
}
