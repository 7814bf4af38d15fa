// Package demo is the world around a simulated kiosk, shared by `kioskctl
// demo` and kioskd's end-to-end test: a throwaway development PKI made on
// the spot (agent/keys), the embedded MQTT broker with mutual TLS and the
// design's ACL (agent/broker), the reference national node storing into
// SQLite in a temporary folder (agent/node), the R30x fingerprint module
// simulator on a pseudo-terminal (drivers/r30x/r30xsim) that kioskd's real
// r30x driver talks to, and a Crowd of synthetic travellers (agent/synth)
// who answer the kiosk's prompts by placing the finger asked for. It also
// writes the kioskd config for all of this.
//
// Nothing here reads /work/shared or any file outside the repository and
// the temporary folder.
package demo

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/broker"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/node"
	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	"github.com/bali-rbdes/kiosk/agent/wire"
	"github.com/bali-rbdes/kiosk/drivers/r30x/r30xsim"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Names of the demo's parties.
const (
	NodeID  = "node-demo"
	Country = "IDN"
)

// Options configure a World.
type Options struct {
	// Dir holds everything the world writes; it must exist.
	Dir string
	// KioskID is the simulated kiosk's id; default "kiosk-demo-0001".
	KioskID string
	// Suite is the HPKE suite records are sealed with: "mlkem768-x25519"
	// (default, as production) or "x25519" (quicker under the race
	// detector).
	Suite string
	// Seed chooses the travellers; Returning is the share of arrivals
	// that are travellers seen before (default 0.25; negative: none).
	Seed      uint64
	Returning float64
	// Travellers is how many travellers the crowd serves; later arrivals
	// are nobody (0: no limit).
	Travellers int
	// Logger receives the broker's and node's logs; default none.
	Logger *zap.Logger
	// OnPublish is called when the kiosk publishes a record on its capture
	// topic, OnAck when the node publishes its ack; from the broker's
	// goroutines, and they must not block.
	OnPublish func(seq uint64, recordID string)
	OnAck     func(seq uint64, recordID string, status rbdesv1.AckStatus)
}

// World is the running world. Close stops everything it started.
type World struct {
	o      Options
	log    *zap.Logger
	files  KioskFiles
	ca     *keys.CA
	server *tls.Config
	addr   string // the broker's address, kept across outages

	Store *node.Store
	Sim   *r30xsim.Sim
	Crowd *Crowd

	nodeKey  hpke.PrivateKey
	cmdKey   ed25519.PrivateKey
	devPub   ed25519.PublicKey
	nodeTLS  *tls.Config
	stopSim  context.CancelFunc
	stopNode context.CancelFunc
	wg       sync.WaitGroup
	nodeDone chan error
	n        *node.Node

	mu     sync.Mutex
	broker *broker.Broker
}

// KioskFiles are the key and certificate files of the simulated kiosk.
type KioskFiles struct {
	DeviceKey, NodeKey, CommandKey string
	CAFile, CertFile, KeyFile      string
}

// Start makes the PKI and the keys, and starts the broker, the node and the
// fingerprint simulator.
func Start(ctx context.Context, opts Options) (*World, error) {
	if opts.KioskID == "" {
		opts.KioskID = "kiosk-demo-0001"
	}
	if opts.Suite == "" {
		opts.Suite = "mlkem768-x25519"
	}
	if opts.Returning == 0 {
		opts.Returning = 0.25
	}
	w := &World{o: opts, log: opts.Logger, nodeDone: make(chan error, 1)}
	if w.log == nil {
		w.log = zap.NewNop()
	}
	ok := false
	defer func() {
		if !ok {
			w.Close()
		}
	}()
	if err := w.makeKeys(); err != nil {
		return nil, err
	}
	if err := w.startBroker("127.0.0.1:0"); err != nil {
		return nil, err
	}
	if err := w.startNode(ctx); err != nil {
		return nil, err
	}
	crowd, err := NewCrowd(opts.Seed, opts.Returning, opts.Travellers)
	if err != nil {
		return nil, err
	}
	w.Crowd = crowd
	sim, err := r30xsim.New(&r30xsim.Options{Model: "R307", Baud: 57600, Source: crowd, Dir: opts.Dir,
		Logger: w.log.Named("r30x-sim")})
	if err != nil {
		return nil, fmt.Errorf("demo: starting the R30x simulator: %w", err)
	}
	sim.SetFinger(false)
	crowd.attach(sim)
	w.Sim = sim
	simCtx, cancel := context.WithCancel(context.Background())
	w.stopSim = cancel
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		if err := sim.Run(simCtx); err != nil {
			w.log.Error("R30x simulator stopped", zap.Error(err))
		}
	}()
	ok = true
	return w, nil
}

// makeKeys creates the development CA and every key of the demo.
func (w *World) makeKeys() error {
	dir := w.o.Dir
	now := time.Now().Add(-time.Hour)
	ca, err := keys.InitCA(filepath.Join(dir, "ca"), "RBDES demo CA (throwaway)", now, 24*time.Hour)
	if err != nil {
		return fmt.Errorf("demo: making the development CA: %w", err)
	}
	w.ca = ca
	pool := x509.NewCertPool()
	pool.AddCert(ca.Cert)
	issue := func(cn string, kind keys.CertKind) (tls.Certificate, string, string, error) {
		p := keys.Profile{Kind: kind, Validity: 24 * time.Hour}
		if kind == keys.CertBroker {
			p.DNS, p.IPs = []string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)}
		}
		keyPEM, certPEM, err := ca.Issue(cn, p, now)
		if err != nil {
			return tls.Certificate{}, "", "", err
		}
		certFile, keyFile := filepath.Join(dir, string(kind)+".crt"), filepath.Join(dir, string(kind)+".key")
		if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
			return tls.Certificate{}, "", "", err
		}
		if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
			return tls.Certificate{}, "", "", err
		}
		cert, err := tls.X509KeyPair(certPEM, keyPEM)
		return cert, certFile, keyFile, err
	}
	bc, _, _, err := issue("broker", keys.CertBroker)
	if err != nil {
		return fmt.Errorf("demo: broker certificate: %w", err)
	}
	w.server = &tls.Config{Certificates: []tls.Certificate{bc}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12}
	caFile := filepath.Join(dir, "ca", keys.CACertFile)
	_, nodeCert, nodeKey, err := issue(NodeID, keys.CertNode)
	if err != nil {
		return fmt.Errorf("demo: node certificate: %w", err)
	}
	if w.nodeTLS, err = uplink.TLSConfig(caFile, nodeCert, nodeKey); err != nil {
		return err
	}
	_, kioskCert, kioskKey, err := issue(w.o.KioskID, keys.CertKiosk)
	if err != nil {
		return fmt.Errorf("demo: kiosk certificate: %w", err)
	}

	// The kiosk's device key, the node's sealing key and command key.
	pub, dev, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	w.devPub = pub
	devPEM, err := keys.MarshalEd25519Private(dev)
	if err != nil {
		return err
	}
	kem := seal.KEMMLKEM768X25519
	if w.o.Suite == "x25519" {
		kem = seal.KEMX25519
	}
	if w.nodeKey, err = keys.GenerateHPKE(kem); err != nil {
		return fmt.Errorf("demo: node sealing key: %w", err)
	}
	cmdPub, cmdKey, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return err
	}
	w.cmdKey = cmdKey
	cmdPEM, err := keys.MarshalEd25519Public(cmdPub)
	if err != nil {
		return err
	}
	w.files = KioskFiles{
		DeviceKey: filepath.Join(dir, "device-1.key"), NodeKey: filepath.Join(dir, "node-1.pub"),
		CommandKey: filepath.Join(dir, "cmd-1.pub"), CAFile: caFile, CertFile: kioskCert, KeyFile: kioskKey,
	}
	for _, f := range []struct {
		path string
		data []byte
		mode os.FileMode
	}{
		{w.files.DeviceKey, devPEM, 0o600},
		{w.files.NodeKey, keys.MarshalHPKEPublic("node-1", w.nodeKey.PublicKey()), 0o644},
		{w.files.CommandKey, cmdPEM, 0o644},
	} {
		if err := os.WriteFile(f.path, f.data, f.mode); err != nil {
			return fmt.Errorf("demo: writing %s: %w", f.path, err)
		}
	}
	return nil
}

// startBroker starts the embedded broker on addr and watches the kiosk's
// capture and ack topics.
func (w *World) startBroker(addr string) error {
	b, err := broker.New(&broker.Options{Address: addr, TLS: w.server, Nodes: []string{NodeID}, Logger: w.log.Named("broker")})
	if err != nil {
		return fmt.Errorf("demo: starting the MQTT broker: %w", err)
	}
	topics := wire.KioskTopics(Country, w.o.KioskID)
	if w.o.OnPublish != nil {
		if err := b.Subscribe(topics.Capture, func(_ string, payload []byte) {
			if sr, err := seal.Parse(payload); err == nil {
				w.o.OnPublish(sr.GetSeq(), sr.GetRecordId())
			}
		}); err != nil {
			b.Close()
			return err
		}
	}
	if w.o.OnAck != nil {
		if err := b.Subscribe(topics.Ack, func(_ string, payload []byte) {
			if a, err := wire.ParseAck(payload); err == nil {
				w.o.OnAck(a.GetSeq(), a.GetRecordId(), a.GetStatus())
			}
		}); err != nil {
			b.Close()
			return err
		}
	}
	w.mu.Lock()
	w.broker, w.addr = b, b.Addr()
	w.mu.Unlock()
	return nil
}

// startNode runs the reference node against the broker, storing into
// SQLite in the world's folder.
func (w *World) startNode(ctx context.Context) error {
	store, err := node.OpenSQLite(ctx, filepath.Join(w.o.Dir, "node.db"))
	if err != nil {
		return err
	}
	w.Store = store
	reg, err := nodeverify.NewRegistry([]nodeverify.Kiosk{{ID: w.o.KioskID, Status: nodeverify.StatusActive,
		DeviceKeys: []nodeverify.DeviceKey{{ID: "device-1", Public: w.devPub}}}})
	if err != nil {
		return err
	}
	v, err := nodeverify.New(reg, map[string]hpke.PrivateKey{"node-1": w.nodeKey}, nil)
	if err != nil {
		return err
	}
	n, err := node.New(v, store, &node.Options{NodeID: NodeID, Country: Country, Brokers: []string{w.BrokerURL()}, TLS: w.nodeTLS,
		AckKeyID: "cmd-1", AckKey: w.cmdKey, KeepAlive: 5 * time.Second, Logger: w.log.Named("node")})
	if err != nil {
		return err
	}
	w.n = n
	nctx, cancel := context.WithCancel(context.Background())
	w.stopNode = cancel
	go func() { w.nodeDone <- n.Run(nctx) }()
	deadline := time.Now().Add(20 * time.Second)
	for n.Ready() != nil {
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: the node did not subscribe within 20s: %w", n.Ready())
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// BrokerURL is the broker's tls:// URL.
func (w *World) BrokerURL() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return "tls://" + w.addr
}

// Files returns the kiosk's key and certificate files.
func (w *World) Files() KioskFiles { return w.files }

// KioskID returns the simulated kiosk's id.
func (w *World) KioskID() string { return w.o.KioskID }

// Suite returns the HPKE suite of the node's key.
func (w *World) Suite() string { return w.o.Suite }

// NodeReady reports whether the node is subscribed.
func (w *World) NodeReady() error { return w.n.Ready() }

// CutBroker stops the broker: every client loses its connection and none
// can connect until RestoreBroker.
func (w *World) CutBroker() error {
	w.mu.Lock()
	b := w.broker
	w.broker = nil
	w.mu.Unlock()
	if b == nil {
		return errors.New("demo: the broker is already down")
	}
	return b.Close()
}

// RestoreBroker starts the broker again on the same address.
func (w *World) RestoreBroker() error {
	w.mu.Lock()
	addr, up := w.addr, w.broker != nil
	w.mu.Unlock()
	if up {
		return nil
	}
	var err error
	for range 50 { // the port may linger for a moment
		if err = w.startBroker(addr); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Close stops the simulator, the node and the broker and closes the store.
func (w *World) Close() error {
	if w.stopSim != nil {
		w.stopSim()
	}
	if w.stopNode != nil {
		w.stopNode()
	}
	w.wg.Wait()
	if w.Crowd != nil {
		w.Crowd.Wait()
	}
	var errs []error
	if w.n != nil {
		if err := <-w.nodeDone; err != nil {
			errs = append(errs, err)
		}
		w.n = nil
	}
	if w.Sim != nil {
		errs = append(errs, w.Sim.Close())
		w.Sim = nil
	}
	w.mu.Lock()
	b := w.broker
	w.broker = nil
	w.mu.Unlock()
	if b != nil {
		errs = append(errs, b.Close())
	}
	if w.Store != nil {
		errs = append(errs, w.Store.Close())
		w.Store = nil
	}
	return errors.Join(errs...)
}
