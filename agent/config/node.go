package config

import (
	"fmt"
	"net/url"
	"os"
	"regexp"
	"time"
)

// Node is the configuration of the reference national node, rbdes-node.
type Node struct {
	Node   NodeIdentity `yaml:"node"`
	Broker NodeBroker   `yaml:"broker"`
	Store  NodeStore    `yaml:"store"`
	Keys   NodeKeys     `yaml:"keys"`
	HTTP   HTTP         `yaml:"http"`
	Log    Log          `yaml:"log"`
}

// NodeIdentity names the node instance.
type NodeIdentity struct {
	// ID names this node instance in acks and logs.
	ID string `yaml:"id"`
	// Country is the ISO 3166-1 alpha-3 code of the member state.
	Country string `yaml:"country"`
	// Registry is the YAML file of registered kiosks (id, public keys,
	// status).
	Registry string `yaml:"registry"`
}

// NodeBroker configures the node's MQTT connection.
type NodeBroker struct {
	URLs     []string `yaml:"urls"`
	Insecure bool     `yaml:"insecure"`
	CAFile   string   `yaml:"ca_file"`
	CertFile string   `yaml:"cert_file"`
	KeyFile  string   `yaml:"key_file"`
	// ClientID of this node instance; defaults to the node id.
	ClientID string `yaml:"client_id"`
	// ShareGroup is the shared-subscription group node instances join.
	ShareGroup string        `yaml:"share_group"`
	KeepAlive  time.Duration `yaml:"keepalive"`
}

// NodeStore configures where records are stored.
type NodeStore struct {
	// Driver is sqlite (embedded default) or postgres.
	Driver string `yaml:"driver"`
	// Path is the SQLite database file.
	Path string `yaml:"path"`
	// DSN is the PostgreSQL connection string.
	DSN string `yaml:"dsn"`
}

// NodeKeys names the node's private keys.
type NodeKeys struct {
	// NodeKeys are the HPKE private keys records are opened with.
	NodeKeys []NodeKey `yaml:"node_keys"`
	// CommandKey is the Ed25519 private key that signs commands and every
	// Ack; required.
	CommandKey PublicKeyFile `yaml:"command_key"`
}

var shareGroupRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// DefaultNode returns the node configuration fields fall back to.
func DefaultNode() *Node {
	return &Node{
		Broker: NodeBroker{ShareGroup: "rbdes-node", KeepAlive: 30 * time.Second},
		Store:  NodeStore{Driver: "sqlite", Path: "/var/lib/rbdes-node/node.db"},
		HTTP:   HTTP{Listen: "127.0.0.1:8490"},
		Log:    Log{Level: "info", Format: "json"},
	}
}

// LoadNode reads and validates an rbdes-node config file.
func LoadNode(path string) (*Node, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: cannot read %s (check the -config path and its permissions): %w", path, err)
	}
	c, err := ParseNode(data)
	if err != nil {
		if e, ok := err.(*Error); ok {
			e.File = path
		}
		return nil, err
	}
	return c, nil
}

// ParseNode decodes and validates rbdes-node config data.
func ParseNode(data []byte) (*Node, error) {
	c := DefaultNode()
	lines, probs := decodeStrict(data, c)
	ps := &problems{list: probs, lines: lines}
	if !hasSyntaxProblem(probs) {
		c.validate(ps)
	}
	if len(ps.list) > 0 {
		return nil, &Error{Problems: ps.list}
	}
	return c, nil
}

func (c *Node) validate(ps *problems) {
	if !kioskIDRe.MatchString(c.Node.ID) {
		ps.add("node.id", c.Node.ID, "want 3-64 characters of a-z, 0-9 and '-'")
	}
	validCountry(ps, "node.country", c.Node.Country)
	readableFile(ps, "node.registry", c.Node.Registry, "the kiosk registry")
	if len(c.Broker.URLs) == 0 {
		ps.add("broker.urls", "", "want at least one broker URL such as tls://broker.example:8883")
	}
	for i, b := range c.Broker.URLs {
		field := fmt.Sprintf("broker.urls[%d]", i)
		pu, err := url.Parse(b)
		if err != nil || pu.Host == "" || pu.Port() == "" {
			ps.add(field, b, "want a broker URL such as tls://broker.example:8883")
			continue
		}
		switch pu.Scheme {
		case "tls", "ssl", "mqtts":
		case "tcp", "mqtt":
			if !c.Broker.Insecure {
				ps.add(field, b, "plain tcp:// is unencrypted; use tls:// or set broker.insecure: true for development")
			}
		default:
			ps.add(field, b, "want scheme tls://, ssl:// or mqtts://")
		}
	}
	if !c.Broker.Insecure {
		readableFile(ps, "broker.ca_file", c.Broker.CAFile, "the PEM file of the broker's CA")
		readableFile(ps, "broker.cert_file", c.Broker.CertFile, "the node's PEM client certificate")
		privateFile(ps, "broker.key_file", c.Broker.KeyFile, "the node's PEM TLS private key")
	}
	if !shareGroupRe.MatchString(c.Broker.ShareGroup) {
		ps.add("broker.share_group", c.Broker.ShareGroup, "want 1-64 characters of letters, digits, '_' and '-'")
	}
	durRange(ps, "broker.keepalive", c.Broker.KeepAlive, 5*time.Second, 20*time.Minute)
	switch c.Store.Driver {
	case "sqlite":
		if c.Store.Path == "" {
			ps.add("store.path", "", "want the SQLite database file")
		}
	case "postgres":
		if c.Store.DSN == "" {
			ps.add("store.dsn", "", "want a PostgreSQL connection string, e.g. postgres://node@db/rbdes")
		}
	default:
		ps.add("store.driver", c.Store.Driver, "want sqlite or postgres")
	}
	if len(c.Keys.NodeKeys) == 0 {
		ps.add("keys.node_keys", "", "want at least one node private key to open records with")
	}
	for i, nk := range c.Keys.NodeKeys {
		base := fmt.Sprintf("keys.node_keys[%d]", i)
		if !keyIDRe.MatchString(nk.ID) {
			ps.add(base+".id", nk.ID, "want 1-64 characters of letters, digits, '.', '_' and '-'")
		}
		privateFile(ps, base+".file", nk.File, "a node private sealing key")
	}
	// The command key signs every ack (kiosks ignore unsigned ones), so it
	// is required.
	if !keyIDRe.MatchString(c.Keys.CommandKey.ID) {
		ps.add("keys.command_key.id", c.Keys.CommandKey.ID, "want 1-64 characters of letters, digits, '.', '_' and '-'")
	}
	privateFile(ps, "keys.command_key.file", c.Keys.CommandKey.File, "the node's Ed25519 command-signing key, which signs every ack (kioskctl keys node makes it)")
	validListen(ps, "http.listen", c.HTTP.Listen, c.HTTP.AllowRemote)
	validLog(ps, "log", c.Log)
}
