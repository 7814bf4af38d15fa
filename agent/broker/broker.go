// Package broker is an embedded MQTT broker (mochi-mqtt/server v2) for
// tests and the demo: mutual TLS with the kiosk and node certificates of the
// development CA, the topic ACL of the design (a kiosk writes only its own
// capture, status and cmd/reply topics and reads only its own ack and cmd;
// a node reads every kiosk's capture, status and cmd/reply and writes acks
// and commands), and fault hooks that production brokers show now and
// then: PUBACKs dropped or delayed, a client disconnected on its Nth
// publish, publishes denied.
//
// Its behaviour differs from mosquitto's where the MQTT 3.1.1 standard lets
// it: a publish the ACL denies makes mochi close the connection, while
// mosquitto acknowledges it and drops it. The uplink must survive both,
// which is why the tests run against both brokers.
//
// It is not meant for production: the national node runs a clustered
// broker (EMQX, VerneMQ, HiveMQ, mosquitto).
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
)

// ACL decides whether the client with identity id (the CN of its TLS
// client certificate, or its client id on a plain TCP listener) may write
// (publish) to topic, or read (subscribe) from the filter topic.
type ACL func(id, topic string, write bool) bool

// Options configure a Broker.
type Options struct {
	// Address to listen on; default "127.0.0.1:0" (a free loopback port).
	Address string
	// TLS is the listener's TLS config (server certificate, ClientCAs and
	// tls.RequireAndVerifyClientCert for mutual TLS); nil means plain TCP,
	// where a client's identity is its client id.
	TLS *tls.Config
	// ACL decides every publish and subscription; nil means
	// DesignACL(Nodes).
	ACL ACL
	// Nodes are the identities (certificate CNs) with node rights under the
	// default ACL.
	Nodes []string
	// Clock times PUBACK delays; default clock.Real().
	Clock clock.Clock
	// Logger receives connections, denials and injected faults; default
	// zap.NewNop().
	Logger *zap.Logger
}

// Broker is a running embedded broker.
type Broker struct {
	srv  *mqtt.Server
	addr string
	tls  bool
	acl  ACL
	clk  clock.Clock
	log  *zap.Logger
	stop chan struct{}
	once sync.Once

	mu         sync.Mutex
	ids        map[*mqtt.Client]string
	dropPubAck map[string]bool
	delay      time.Duration
	disconnect map[string]int
	deny       func(clientID, topic string, write bool) bool
	poison     func(clientID, topic string, payload []byte) bool
	publishes  map[string]int
	denied     int
	subID      int
}

// New starts a broker listening on opts.Address; it serves until Close.
func New(opts *Options) (*Broker, error) {
	if opts == nil {
		opts = &Options{}
	}
	addr := opts.Address
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	b := &Broker{
		acl:        opts.ACL,
		clk:        clock.OrReal(opts.Clock),
		log:        opts.Logger,
		tls:        opts.TLS != nil,
		stop:       make(chan struct{}),
		ids:        map[*mqtt.Client]string{},
		dropPubAck: map[string]bool{},
		disconnect: map[string]int{},
		publishes:  map[string]int{},
	}
	if b.acl == nil {
		b.acl = DesignACL(opts.Nodes)
	}
	if b.log == nil {
		b.log = zap.NewNop()
	}
	b.srv = mqtt.New(&mqtt.Options{
		InlineClient: true,
		Logger:       slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err := b.srv.AddHook(&hook{b: b}, nil); err != nil {
		return nil, fmt.Errorf("broker: adding the ACL and fault hook: %w", err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "rbdes", Address: addr, TLSConfig: opts.TLS})
	if err := b.srv.AddListener(l); err != nil {
		return nil, fmt.Errorf("broker: cannot listen on %s (port taken?): %w", addr, err)
	}
	b.addr = l.Address()
	go func() { _ = b.srv.Serve() }()
	return b, nil
}

// Addr returns the host:port the broker listens on.
func (b *Broker) Addr() string { return b.addr }

// URL returns the broker's URL for clients: tls://host:port, or
// tcp://host:port without TLS.
func (b *Broker) URL() string {
	if b.tls {
		return "tls://" + b.addr
	}
	return "tcp://" + b.addr
}

// Close stops the broker and disconnects every client. It is idempotent.
func (b *Broker) Close() error {
	var err error
	b.once.Do(func() {
		close(b.stop)
		err = b.srv.Close()
	})
	return err
}

// Run serves until ctx is done, then closes the broker.
func (b *Broker) Run(ctx context.Context) error {
	<-ctx.Done()
	return b.Close()
}

// Publish publishes from inside the broker (no ACL), as a node tool might.
func (b *Broker) Publish(topic string, payload []byte, retain bool) error {
	return b.srv.Publish(topic, payload, retain, 1)
}

// DropPubAcks makes the broker swallow (on) or send again (off) the
// PUBACKs of client clientID: its publishes are delivered but the client
// never hears that the broker took them.
func (b *Broker) DropPubAcks(clientID string, on bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.dropPubAck[clientID] = on
}

// DelayPubAcks holds every PUBACK for d before sending it (0: no delay).
func (b *Broker) DelayPubAcks(d time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.delay = d
}

// DisconnectOnPublish closes client clientID's connection when it sends
// its nth publish from now (n=1: the next one), which is then lost.
func (b *Broker) DisconnectOnPublish(clientID string, n int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.disconnect[clientID] = n
}

// DisconnectOn closes a client's connection whenever it publishes a
// message for which fn returns true, which is then lost: a broker that
// refuses one message each time it is sent. nil removes the rule.
func (b *Broker) DisconnectOn(fn func(clientID, topic string, payload []byte) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.poison = fn
}

// Subscribe calls fn for every message published on filter, from inside
// the broker (no ACL). fn must not block.
func (b *Broker) Subscribe(filter string, fn func(topic string, payload []byte)) error {
	b.mu.Lock()
	b.subID++
	id := b.subID
	b.mu.Unlock()
	return b.srv.Subscribe(filter, id, func(_ *mqtt.Client, _ packets.Subscription, pk packets.Packet) {
		fn(pk.TopicName, pk.Payload)
	})
}

// Deny adds a rule on top of the ACL: publishes and subscriptions for
// which fn returns true are refused (a denied QoS 1 publish closes the
// connection, as mochi does for MQTT 3.1.1). nil removes the rule.
func (b *Broker) Deny(fn func(clientID, topic string, write bool) bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.deny = fn
}

// Publishes returns how many publishes clients sent on topic and the
// broker accepted.
func (b *Broker) Publishes(topic string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.publishes[topic]
}

// Denied returns how many publishes and subscriptions were refused.
func (b *Broker) Denied() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.denied
}

// DesignACL is the topic ACL of the design: a client whose identity is not
// listed in nodes is the kiosk of that id; a node may read every kiosk's
// capture, status and cmd/reply topics (also through $share/ filters) and
// write every kiosk's ack and cmd topics. Wildcards are allowed in a filter
// only at the kiosk id level, and only for nodes.
func DesignACL(nodes []string) ACL {
	isNode := map[string]bool{}
	for _, n := range nodes {
		isNode[n] = true
	}
	return func(id, topic string, write bool) bool {
		if !write && strings.HasPrefix(topic, "$share/") {
			parts := strings.SplitN(topic, "/", 3)
			if len(parts) < 3 || !isNode[id] {
				return false
			}
			topic = parts[2]
		}
		lv := strings.Split(topic, "/")
		if len(lv) < 6 || len(lv) > 7 || lv[0] != "rbdes" || lv[1] != "v1" || lv[3] != "kiosk" || lv[2] == "+" || lv[2] == "#" {
			return false
		}
		kiosk := lv[4]
		kind := strings.Join(lv[5:], "/")
		if strings.Contains(kind, "+") || strings.Contains(kind, "#") || kiosk == "#" {
			return false
		}
		if isNode[id] {
			switch kind {
			case "capture", "status", "cmd/reply":
				return !write
			case "ack", "cmd":
				return write && kiosk != "+"
			}
			return false
		}
		if kiosk != id {
			return false
		}
		switch kind {
		case "capture", "status", "cmd/reply":
			return write
		case "ack", "cmd":
			return !write
		}
		return false
	}
}

// hook is the broker's ACL and fault injection.
type hook struct {
	mqtt.HookBase
	b *Broker
}

func (h *hook) ID() string { return "rbdes-acl-faults" }

func (h *hook) Provides(x byte) bool {
	switch x {
	case mqtt.OnConnectAuthenticate, mqtt.OnACLCheck, mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnDisconnect, mqtt.OnPublished:
		return true
	}
	return false
}

func (h *hook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	id := cl.ID
	if h.b.tls {
		tc, ok := cl.Net.Conn.(*tls.Conn)
		if !ok {
			return false
		}
		st := tc.ConnectionState()
		if len(st.PeerCertificates) == 0 {
			return false
		}
		id = st.PeerCertificates[0].Subject.CommonName
	}
	h.b.mu.Lock()
	h.b.ids[cl] = id
	h.b.mu.Unlock()
	h.b.log.Debug("client connected", zap.String("client_id", cl.ID), zap.String("identity", id))
	return true
}

func (h *hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.b.mu.Lock()
	delete(h.b.ids, cl)
	h.b.mu.Unlock()
}

func (h *hook) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	h.b.mu.Lock()
	id, ok := h.b.ids[cl]
	deny := h.b.deny
	h.b.mu.Unlock()
	allowed := ok && h.b.acl(id, topic, write) && (deny == nil || !deny(cl.ID, topic, write))
	if !allowed {
		h.b.mu.Lock()
		h.b.denied++
		h.b.mu.Unlock()
		h.b.log.Info("denied by ACL", zap.String("client_id", cl.ID), zap.String("identity", id), zap.String("topic", topic), zap.Bool("write", write))
	}
	return allowed
}

// errInjected is the cause of a connection closed by DisconnectOnPublish.
var errInjected = errors.New("broker: connection closed by an injected fault")

func (h *hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type != packets.Publish {
		return pk, nil
	}
	h.b.mu.Lock()
	defer h.b.mu.Unlock()
	if h.b.poison != nil && h.b.poison(cl.ID, pk.TopicName, pk.Payload) {
		h.b.log.Info("fault: disconnecting on a refused message", zap.String("client_id", cl.ID), zap.String("topic", pk.TopicName))
		cl.Stop(errInjected)
		return pk, packets.ErrRejectPacket
	}
	if n, ok := h.b.disconnect[cl.ID]; ok {
		if n <= 1 {
			delete(h.b.disconnect, cl.ID)
			h.b.log.Info("fault: disconnecting on publish", zap.String("client_id", cl.ID), zap.String("topic", pk.TopicName))
			cl.Stop(errInjected)
			return pk, packets.ErrRejectPacket
		}
		h.b.disconnect[cl.ID] = n - 1
	}
	return pk, nil
}

func (h *hook) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	h.b.mu.Lock()
	h.b.publishes[pk.TopicName]++
	h.b.mu.Unlock()
}

func (h *hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Puback {
		return pk
	}
	h.b.mu.Lock()
	drop, d := h.b.dropPubAck[cl.ID], h.b.delay
	h.b.mu.Unlock()
	if d > 0 {
		// Holding the client's writer is the fault: everything behind the
		// PUBACK waits too, as on a congested broker.
		t := h.b.clk.NewTimer(d)
		select {
		case <-t.C():
		case <-h.b.stop:
			t.Stop()
		}
	}
	if drop {
		// A PINGRESP in its place: harmless to the client, and the PUBACK
		// never arrives.
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingresp}}
	}
	return pk
}
