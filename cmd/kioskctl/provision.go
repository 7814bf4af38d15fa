package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/bali-rbdes/kiosk/agent/keys"
)

func runProvision(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "provision", "", `Create a kiosk's identity in DIR: an Ed25519 device signing key
(device-1.key, mode 0600, and device-1.pub) and a TLS client key (tls-1.key,
mode 0600) with a certificate request (tls-1.csr, CN = the kiosk id). Existing
keys are never overwritten.

With -rotate, create the next device key (device-N+1) beside the old one, and
with -tls also a new TLS key and request. Register the new public key at the
node with the old key's overlap window (printed), then point the kiosk config
at the new key and restart kioskd.`)
	id := fs.String("id", "", "kiosk id (3-64 of a-z, 0-9, '-'): the MQTT client id and certificate CN")
	out := fs.String("out", "", "directory for the key files (created with mode 0700)")
	rotate := fs.Bool("rotate", false, "make the next device key instead of the first")
	newTLS := fs.Bool("tls", false, "with -rotate: also make a new TLS key and certificate request")
	overlap := fs.Duration("overlap", 30*24*time.Hour, "with -rotate: how long the node keeps accepting the old key's records (longer than the kiosk may stay offline)")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -id KIOSK and -out DIR, and no arguments")
	}
	if *newTLS && !*rotate {
		return usageError("-tls goes with -rotate (a first provision always makes a TLS key)")
	}
	var (
		p   *keys.Provisioned
		err error
	)
	if *rotate {
		p, err = keys.Rotate(*out, *id, *newTLS)
	} else {
		p, err = keys.Provision(*out, *id)
	}
	if err != nil {
		return err
	}
	for _, f := range []*string{&p.DeviceKeyFile, &p.DevicePubFile, &p.TLSKeyFile, &p.CSRFile} {
		if *f != "" {
			if abs, err := filepath.Abs(*f); err == nil {
				*f = abs
			}
		}
	}
	printProvisioned(st.out, p, time.Now().UTC(), *overlap)
	return nil
}

func printProvisioned(w io.Writer, p *keys.Provisioned, now time.Time, overlap time.Duration) {
	fmt.Fprintf(w, "kiosk %s: new device key %s\n", p.KioskID, p.DeviceKeyID)
	fmt.Fprintf(w, "  device signing key   %s (mode 0600)\n", p.DeviceKeyFile)
	fmt.Fprintf(w, "  device public key    %s\n", p.DevicePubFile)
	if p.TLSKeyFile != "" {
		fmt.Fprintf(w, "  TLS client key       %s (mode 0600)\n", p.TLSKeyFile)
		fmt.Fprintf(w, "  certificate request  %s (CN %s)\n", p.CSRFile, p.KioskID)
	}
	pub := base64.StdEncoding.EncodeToString(p.DevicePublic)
	fmt.Fprintf(w, "\nKiosk config (kioskd.yaml):\n  keys:\n    device_key: %s\n    device_key_id: %s\n", p.DeviceKeyFile, p.DeviceKeyID)
	if p.TLSKeyFile != "" {
		fmt.Fprintf(w, "  uplink:\n    key_file: %s\n    cert_file: <the certificate signed from %s>\n", p.TLSKeyFile, p.CSRFile)
		fmt.Fprintf(w, "\nDevelopment CA: kioskctl ca sign -dir CADIR -kind kiosk -csr %s -out <cert file>\n", p.CSRFile)
	}
	fmt.Fprintf(w, "\nNode registry entry:\n  - id: %s\n    status: active\n    device_keys:\n", p.KioskID)
	if p.Previous != "" {
		prev := "# keep its public key as it is"
		if p.PreviousPublic != nil {
			prev = "public_key: " + base64.StdEncoding.EncodeToString(p.PreviousPublic)
		}
		fmt.Fprintf(w, "      - id: %s\n        %s\n        retired_at: %s\n        accept_until: %s\n",
			p.Previous, prev, now.Format(time.RFC3339), now.Add(overlap).Format(time.RFC3339))
	}
	fmt.Fprintf(w, "      - id: %s\n        public_key: %s\n", p.DeviceKeyID, pub)
	if p.Previous != "" {
		fmt.Fprintf(w, "\nUpdate the node registry first, then the kiosk config, then restart kioskd.\n")
	}
}
