// Package node is the reference national node of the RBDES kiosk protocol:
// it consumes the kiosks' sealed records from MQTT through a shared
// subscription, verifies and opens each one (agent/nodeverify), stores it
// exactly once in SQLite or PostgreSQL together with its hash-chain
// position, and publishes the signed Ack only after the commit.
//
// # Pipeline
//
// paho hands each capture message (in arrival order, with automatic
// PUBACK disabled) to a queue that never blocks paho. Verify workers check
// and decrypt records in parallel; one writer takes the results in arrival
// order and stores a batch of them in one transaction (Store.Group: one
// fsync for the batch; a record whose storing fails is undone alone). The
// acker then signs and publishes the batch's Acks and only then PUBACKs
// the messages to the broker, while the writer commits the next batch. A
// record is therefore acknowledged to the kiosk only once it is committed;
// a node that dies before the commit sends no Ack and the kiosk sends the
// record again, which the node then stores (or finds stored: DUPLICATE).
// REJECTED Acks say why (rbdes.v1 RejectReason); a store failure is not
// acknowledged at all, so the kiosk resends once the store is back.
//
// Status messages (birth, heartbeat, will, shutdown) update the per-kiosk
// view: last seen, online state (a will whose connect epoch is older than
// the latest birth is ignored), lag, queue depth, chain gaps; Store.Kiosks
// returns it and the node exports it as rbdes_node_kiosk_* metrics.
//
// Several node instances with the same share group split the records
// between them; with PostgreSQL they share one database and a kiosk's
// records are serialized by a row lock, so each record is still stored
// once.
package node

import (
	"context"
	"crypto/ed25519"
	"crypto/tls"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// Options configure a Node.
type Options struct {
	// NodeID names this instance in Acks and logs.
	NodeID string
	// Country is the ISO 3166-1 alpha-3 code whose kiosks it serves.
	Country string
	// ShareGroup is the shared-subscription group; default "rbdes-node".
	ShareGroup string
	// Brokers are tried in order; TLS is the mutual TLS configuration (nil
	// only for tcp:// in development).
	Brokers []string
	TLS     *tls.Config
	// ClientID is the MQTT client id; default NodeID. It must differ
	// between instances.
	ClientID string
	// KeepAlive is the MQTT keepalive; default 30s.
	KeepAlive time.Duration
	// AckKeyID and AckKey are the node's Ed25519 command key that signs
	// every Ack. Required.
	AckKeyID string
	AckKey   ed25519.PrivateKey
	// Workers verify and open records in parallel; default GOMAXPROCS.
	Workers int
	// MaxBatch bounds the records committed in one transaction; default 256.
	MaxBatch int
	// Clock stamps stored times; default clock.Real().
	Clock clock.Clock
	// Logger; default zap.NewNop().
	Logger *zap.Logger
	// Registerer receives the rbdes_node_* metrics; nil means none.
	Registerer prometheus.Registerer
}

// Node consumes, stores and acknowledges records. Create it with New and
// run it with Run.
type Node struct {
	o     Options
	v     *nodeverify.Verifier
	store *Store
	log   *zap.Logger
	clk   clock.Clock
	m     *metrics

	mu      sync.Mutex
	client  paho.Client
	ready   bool
	lastErr error
}

// New returns a Node that verifies with v and stores in store.
func New(v *nodeverify.Verifier, store *Store, opts *Options) (*Node, error) {
	if opts == nil {
		return nil, errors.New("node: Options are required (node id, country, brokers, ack key)")
	}
	o := *opts
	if o.ShareGroup == "" {
		o.ShareGroup = "rbdes-node"
	}
	if o.ClientID == "" {
		o.ClientID = o.NodeID
	}
	if o.KeepAlive == 0 {
		o.KeepAlive = 30 * time.Second
	}
	if o.Workers <= 0 {
		o.Workers = runtime.GOMAXPROCS(0)
	}
	if o.MaxBatch <= 0 {
		o.MaxBatch = 256
	}
	o.Clock = clock.OrReal(o.Clock)
	if o.Logger == nil {
		o.Logger = zap.NewNop()
	}
	switch {
	case v == nil || store == nil:
		return nil, errors.New("node: New needs a verifier and a store")
	case !seal.ValidKioskID(o.NodeID):
		return nil, fmt.Errorf("node: node id %q is not valid (3-64 of a-z, 0-9 and '-')", o.NodeID)
	case len(o.Country) != 3:
		return nil, fmt.Errorf("node: country %q is not an ISO 3166-1 alpha-3 code", o.Country)
	case len(o.AckKey) != ed25519.PrivateKeySize || !seal.ValidKeyID(o.AckKeyID):
		return nil, errors.New("node: the node needs its Ed25519 command key (keys.command_key) to sign acks; kiosks ignore unsigned acks")
	}
	n := &Node{o: o, v: v, store: store, log: o.Logger.With(zap.String("node", o.NodeID)), clk: o.Clock}
	store.setLogger(n.log)
	n.m = newMetrics(store, o.Clock)
	if err := n.m.register(o.Registerer); err != nil {
		return nil, err
	}
	return n, nil
}

// Ready is the node's readiness check: nil while connected and subscribed.
func (n *Node) Ready() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ready {
		return nil
	}
	if n.lastErr != nil {
		return n.lastErr
	}
	return errors.New("not connected to the broker yet")
}

// job is one inbound message on its way through the pipeline.
type job struct {
	topic   string
	kiosk   string
	kind    string
	payload []byte
	msg     paho.Message // nil for Handle
	done    chan struct{}

	// set by the verify worker
	opened *nodeverify.Opened
	sr     *rbdesv1.SealedRecord
	status *rbdesv1.Status
	err    error

	// set by the writer
	verdict nodeverify.Verdict
}

// Run connects to the broker, subscribes and processes messages until ctx
// is done. paho reconnects by itself (the subscriptions are made again in
// the on-connect handler); Run returns nil after ctx is done.
func (n *Node) Run(ctx context.Context) error {
	p := newPipeline()
	po := paho.NewClientOptions().
		SetClientID(n.o.ClientID).
		SetCleanSession(true).
		SetAutoReconnect(true).
		SetConnectRetry(true).
		SetConnectRetryInterval(time.Second).
		SetMaxReconnectInterval(30 * time.Second).
		SetOrderMatters(true).
		SetAutoAckDisabled(true).
		SetKeepAlive(n.o.KeepAlive).
		SetConnectTimeout(10 * time.Second).
		SetWriteTimeout(10 * time.Second).
		SetTLSConfig(n.o.TLS).
		SetStore(paho.NewMemoryStore()).
		SetOnConnectHandler(func(c paho.Client) {
			filters := map[string]byte{
				wire.SharedFilter(n.o.ShareGroup, n.o.Country, wire.KindCapture):  1,
				wire.SharedFilter(n.o.ShareGroup, n.o.Country, wire.KindCmdReply): 1,
				wire.KindFilter(n.o.Country, wire.KindStatus):                     1,
			}
			tok := c.SubscribeMultiple(filters, func(_ paho.Client, m paho.Message) { n.receive(p, m) })
			go n.subscribed(tok)
		}).
		SetConnectionLostHandler(func(_ paho.Client, err error) {
			n.mu.Lock()
			n.ready, n.lastErr = false, fmt.Errorf("node: broker connection lost (paho reconnects): %w", err)
			n.mu.Unlock()
			n.m.connected.Set(0)
			n.log.Warn("broker connection lost", zap.Error(err))
		})
	for _, b := range n.o.Brokers {
		po.AddBroker(b)
	}
	c := paho.NewClient(po)
	n.mu.Lock()
	n.client = c
	n.mu.Unlock()
	c.Connect() // with ConnectRetry it keeps trying in the background

	var wg sync.WaitGroup
	for range n.o.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.verifyLoop(p)
		}()
	}
	acks := make(chan ackBatch, 4)
	acked := make(chan struct{})
	go func() {
		defer close(acked)
		n.ackLoop(c, acks)
	}()
	wctx, cancel := context.WithCancel(context.Background())
	wg.Add(1)
	go func() {
		defer wg.Done()
		n.write(wctx, p, acks)
	}()
	<-ctx.Done()
	p.close()
	wg.Wait() // the writer commits what was queued
	close(acks)
	<-acked // and its acks go out
	cancel()
	c.Disconnect(250)
	n.m.connected.Set(0)
	return nil
}

func (n *Node) subscribed(tok paho.Token) {
	if !tok.WaitTimeout(30*time.Second) || tok.Error() != nil {
		n.log.Error("subscribing failed", zap.Error(tok.Error()))
		n.mu.Lock()
		n.lastErr = fmt.Errorf("node: subscribing to the kiosks' topics failed (check the broker ACL for %s): %v", n.o.ClientID, tok.Error())
		n.mu.Unlock()
		return
	}
	if st, ok := tok.(*paho.SubscribeToken); ok {
		for topic, code := range st.Result() {
			if code >= 0x80 {
				n.log.Error("the broker refused a subscription (check its ACL)", zap.String("filter", topic))
				n.mu.Lock()
				n.lastErr = fmt.Errorf("node: the broker refused the subscription %s (check its ACL for %s)", topic, n.o.ClientID)
				n.mu.Unlock()
				return
			}
		}
	}
	n.mu.Lock()
	n.ready, n.lastErr = true, nil
	n.mu.Unlock()
	n.m.connected.Set(1)
	n.log.Info("connected and subscribed", zap.String("share_group", n.o.ShareGroup))
}

// receive is paho's message handler: it only queues.
func (n *Node) receive(p *pipeline, m paho.Message) {
	p.put(&job{topic: m.Topic(), payload: m.Payload(), msg: m, done: make(chan struct{})})
}

// verify is the parallel part: topic, decoding, signature and decryption.
func (n *Node) verify(j *job) {
	defer close(j.done)
	kiosk, kind, err := wire.ParseTopic(n.o.Country, j.topic)
	if err != nil {
		j.err = err
		return
	}
	j.kiosk, j.kind = kiosk, kind
	switch kind {
	case wire.KindCapture:
		j.opened, j.err = n.v.Open(kiosk, j.payload)
		if j.err != nil {
			j.sr, _ = seal.Parse(j.payload)
		}
	case wire.KindStatus:
		j.status, j.err = wire.ParseStatus(j.payload)
		if j.err == nil && j.status.GetKioskId() != kiosk {
			j.err = fmt.Errorf("node: status on %s's topic names kiosk %s", kiosk, j.status.GetKioskId())
		}
	case wire.KindCmdReply:
		var r *rbdesv1.CommandReply
		r, j.err = wire.ParseCommandReply(j.payload)
		if j.err == nil {
			n.log.Info("command reply", zap.String("kiosk", kiosk), zap.String("command_id", r.GetCommandId()),
				zap.String("result", r.GetResult().String()), zap.String("reason", r.GetReason().String()), zap.String("detail", r.GetDetail()))
		}
	}
}
