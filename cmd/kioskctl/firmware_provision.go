package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/keys"
)

// dataMount is where the kiosk's data partition is mounted: identity,
// site config, node keys, outbox and state live there, never in the
// shared image.
const dataMount = "/var/lib/kiosk"

func runFirmwareProvision(_ context.Context, st *stdio, args []string) error {
	fs := newFlags(st, "firmware provision", "", `Lay out a kiosk's data partition in -out (an empty directory), which make
provision writes onto the kiosk's card with mkfs.ext4 -d:

  keys/     the kiosk's identity: a new device key and TLS key with a
            certificate request (as kioskctl provision makes them), or the
            files of -keys (an identity made earlier, with its certificate)
  node/     the national node's public keys and CA certificate from -node
            (a file holding a private key is refused)
  config/kioskd.yaml  the site config -site with kiosk.id, keys.device_key
            and keys.device_key_id set to this kiosk's identity
  ssh/authorized_keys  from -ssh, for make ota (optional)

The site config must name files under /var/lib/kiosk (the data partition);
it is validated against -out the way kioskd will read it on the kiosk.`)
	id := fs.String("id", "", "kiosk id (3-64 of a-z, 0-9, '-')")
	site := fs.String("site", "", "site config (a kioskd.yaml whose paths are under /var/lib/kiosk)")
	nodeDir := fs.String("node", "", "directory with the node's public keys (*.hpke.pub, *.cmd.pub) and CA certificate")
	keyDir := fs.String("keys", "", "directory with an identity made by kioskctl provision (default: make a new one)")
	ssh := fs.String("ssh", "", "authorized_keys file for root logins (make ota)")
	out := fs.String("out", "", "empty directory to lay the data partition out in")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *id == "" || *site == "" || *out == "" || fs.NArg() != 0 {
		fs.Usage()
		return usageError("want -id, -site and -out, and no arguments")
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", *out, err)
	}
	if ents, err := os.ReadDir(*out); err != nil || len(ents) > 0 {
		return usageError("-out %s must be an empty directory (it becomes the data partition)", *out)
	}
	siteData, err := os.ReadFile(*site)
	if err != nil {
		return fmt.Errorf("cannot read the site config: %w", err)
	}

	keysOut := filepath.Join(*out, "keys")
	var deviceKeyID string
	var p *keys.Provisioned
	if *keyDir != "" {
		if err := copyDir(*keyDir, keysOut, false); err != nil {
			return err
		}
		if deviceKeyID, err = lastDeviceKeyID(keysOut); err != nil {
			return err
		}
	} else {
		if p, err = keys.Provision(keysOut, *id); err != nil {
			return err
		}
		deviceKeyID = p.DeviceKeyID
	}
	if *nodeDir != "" {
		if err := copyDir(*nodeDir, filepath.Join(*out, "node"), true); err != nil {
			return err
		}
	}
	if *ssh != "" {
		if err := os.MkdirAll(filepath.Join(*out, "ssh"), 0o700); err != nil {
			return fmt.Errorf("cannot create %s: %w", filepath.Join(*out, "ssh"), err)
		}
		if err := copyFile(*ssh, filepath.Join(*out, "ssh", "authorized_keys"), 0o600); err != nil {
			return fmt.Errorf("-ssh: %w", err)
		}
	}

	cfg, err := siteConfig(siteData, map[string]string{
		"kiosk.id":           *id,
		"keys.device_key":    dataMount + "/keys/" + deviceKeyID + ".key",
		"keys.device_key_id": deviceKeyID,
	})
	if err != nil {
		return fmt.Errorf("site config %s: %w", *site, err)
	}
	// Validate the config as kioskd on the kiosk will, with the data
	// partition's files where they will be.
	abs, err := filepath.Abs(*out)
	if err != nil {
		return err
	}
	if _, err := config.ParseKiosk(bytes.ReplaceAll(cfg, []byte(dataMount+"/"), []byte(abs+"/"))); err != nil {
		return fmt.Errorf("the site config does not validate against the data partition (every file it names must be under %s, from -keys, -node or made here):\n%w", dataMount, err)
	}
	if err := os.MkdirAll(filepath.Join(*out, "config"), 0o755); err != nil {
		return fmt.Errorf("cannot create %s: %w", filepath.Join(*out, "config"), err)
	}
	if err := keys.CreateFile(filepath.Join(*out, "config", "kioskd.yaml"), cfg, 0o640); err != nil {
		return err
	}

	fmt.Fprintf(st.out, "data partition for kiosk %s laid out in %s:\n", *id, *out)
	var files []string
	_ = filepath.WalkDir(*out, func(path string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(*out, path)
			files = append(files, rel)
		}
		return nil
	})
	sort.Strings(files)
	for _, f := range files {
		fmt.Fprintf(st.out, "  %s/%s\n", dataMount, f)
	}
	if p != nil {
		fmt.Fprintln(st.out)
		for _, f := range []*string{&p.DeviceKeyFile, &p.DevicePubFile, &p.TLSKeyFile, &p.CSRFile} {
			if rel, err := filepath.Rel(*out, *f); err == nil {
				*f = dataMount + "/" + filepath.ToSlash(rel)
			}
		}
		printProvisioned(st.out, p, time.Now().UTC(), 30*24*time.Hour)
		fmt.Fprintf(st.out, "\nThe TLS certificate request is %s/keys/tls-1.csr: have it signed and add the certificate to the kiosk's keys.\n", *out)
	}
	return nil
}

var deviceKeyRe = regexp.MustCompile(`^device-([1-9][0-9]{0,8})\.key$`)

func lastDeviceKeyID(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", err
	}
	best := 0
	for _, e := range ents {
		if m := deviceKeyRe.FindStringSubmatch(e.Name()); m != nil {
			n, _ := strconv.Atoi(m[1])
			best = max(best, n)
		}
	}
	if best == 0 {
		return "", fmt.Errorf("-keys %s holds no device-N.key (make one with kioskctl provision -id KIOSK -out DIR)", dir)
	}
	return "device-" + strconv.Itoa(best), nil
}

// copyDir copies the regular files of src into dst (created with mode
// 0700), keeping private files private. With publicOnly, a file holding a
// private key is refused: a node's private keys never go onto a kiosk.
func copyDir(src, dst string, publicOnly bool) error {
	ents, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("cannot list %s: %w", src, err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("cannot create %s: %w", dst, err)
	}
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(src, e.Name())
		data, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("cannot read %s: %w", p, err)
		}
		private := bytes.Contains(data, []byte("PRIVATE KEY"))
		if private && publicOnly {
			clear(data)
			return fmt.Errorf("%s holds a private key; only the node's public keys and CA certificate go onto a kiosk", p)
		}
		perm := os.FileMode(0o644)
		if private {
			perm = 0o600
		}
		err = keys.CreateFile(filepath.Join(dst, e.Name()), data, perm)
		clear(data)
		if err != nil {
			return err
		}
	}
	return nil
}

// siteConfig sets dotted scalar fields of a YAML document, keeping its
// comments and layout.
func siteConfig(data []byte, set map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not YAML: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("want a YAML mapping (a kioskd config)")
	}
	names := make([]string, 0, len(set))
	for k := range set {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		setField(doc.Content[0], strings.Split(k, "."), set[k])
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, fmt.Errorf("cannot write YAML: %w", err)
	}
	return buf.Bytes(), nil
}

func setField(m *yaml.Node, path []string, value string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value != path[0] {
			continue
		}
		v := m.Content[i+1]
		if len(path) == 1 {
			*v = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value, LineComment: v.LineComment}
			return
		}
		if v.Kind != yaml.MappingNode {
			*v = yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
		}
		setField(v, path[1:], value)
		return
	}
	key := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: path[0]}
	if len(path) == 1 {
		m.Content = append(m.Content, key, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: value})
		return
	}
	sub := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	m.Content = append(m.Content, key, sub)
	setField(sub, path[1:], value)
}

// copyFile copies src to dst with mode perm, refusing to overwrite.
func copyFile(src, dst string, perm os.FileMode) error {
	data, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	defer clear(data)
	return keys.CreateFile(dst, data, perm)
}
