package uplink_test

import (
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"math/big"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/bali-rbdes/kiosk/agent/broker"
	"github.com/bali-rbdes/kiosk/agent/broker/brokertest"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/node"
	"github.com/bali-rbdes/kiosk/agent/nodeverify"
	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/seal"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// rig is a national node's keys and registry, a development PKI, and the
// kiosks and nodes a test starts.
type rig struct {
	t       testing.TB
	pki     *brokertest.PKI
	nodeKey hpke.PrivateKey
	cmdPub  ed25519.PublicKey
	cmdKey  ed25519.PrivateKey
	devKeys map[string]ed25519.PrivateKey
	reg     *nodeverify.Registry
	verbose bool
	// metrics, when set (measurements), receives the metrics of the nodes
	// and kiosks the rig starts.
	metrics *prometheus.Registry
}

// newRig registers kiosks ids (device key device-1 each) at the node.
func newRig(t testing.TB, ids ...string) *rig {
	t.Helper()
	r := &rig{t: t, pki: brokertest.NewPKI(t), devKeys: map[string]ed25519.PrivateKey{}}
	// The classic suite keeps the tests quick under -race and qemu; the
	// measurements use the default post-quantum one (UPLINK_SUITE=mlkem).
	kem := seal.KEMX25519
	if os.Getenv("UPLINK_SUITE") == "mlkem" {
		kem = seal.KEMMLKEM768X25519
	}
	kx, _ := seal.KEM(kem)
	var err error
	if r.nodeKey, err = kx.GenerateKey(); err != nil {
		t.Fatal(err)
	}
	r.cmdPub, r.cmdKey, _ = ed25519.GenerateKey(rand.Reader)
	var ks []nodeverify.Kiosk
	for _, id := range ids {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		r.devKeys[id] = priv
		ks = append(ks, nodeverify.Kiosk{ID: id, Status: nodeverify.StatusActive, DeviceKeys: []nodeverify.DeviceKey{{ID: "device-1", Public: pub}}})
	}
	if r.reg, err = nodeverify.NewRegistry(ks); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) logger(name string) *zap.Logger {
	if !r.verbose {
		return zap.NewNop()
	}
	return zaptest.NewLogger(r.t).Named(name)
}

// registerer returns the rig's metrics registry, or nil (no metrics).
func (r *rig) registerer() prometheus.Registerer {
	if r.metrics == nil {
		return nil
	}
	return r.metrics
}

// mochi starts an embedded broker with TLS and the design's ACL.
func (r *rig) mochi(addr string) *broker.Broker {
	r.t.Helper()
	b, err := broker.New(&broker.Options{Address: addr, TLS: r.pki.ServerTLS(r.t), Nodes: []string{"node-idn-1", "node-idn-2"}, Logger: r.logger("broker")})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { b.Close() })
	return b
}

// runningNode is a node instance started by startNode.
type runningNode struct {
	n     *node.Node
	store *node.Store
	stop  func()
}

// sqliteStore opens a SQLite store in a temp dir.
func (r *rig) sqliteStore() *node.Store {
	r.t.Helper()
	s, err := node.OpenSQLite(context.Background(), filepath.Join(r.t.TempDir(), "node.db"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { s.Close() })
	return s
}

// startNode runs node instance id against the brokers, storing into store.
func (r *rig) startNode(id string, store *node.Store, brokers ...string) *runningNode {
	r.t.Helper()
	v, err := nodeverify.New(r.reg, map[string]hpke.PrivateKey{"node-1": r.nodeKey}, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	cert, key := r.pki.Issue(r.t, id, keys.CertNode)
	tlsc, err := uplink.TLSConfig(r.pki.CAFile, cert, key)
	if err != nil {
		r.t.Fatal(err)
	}
	n, err := node.New(v, store, &node.Options{NodeID: id, Country: "IDN", Brokers: brokers, TLS: tlsc, AckKeyID: "cmd-1", AckKey: r.cmdKey, KeepAlive: 5 * time.Second, Logger: r.logger(id), Registerer: r.registerer()})
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- n.Run(ctx) }()
	rn := &runningNode{n: n, store: store}
	var once sync.Once
	rn.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				r.t.Errorf("node %s Run = %v", id, err)
			}
		})
	}
	r.t.Cleanup(rn.stop)
	waitFor(r.t, 20*time.Second, "node "+id+" subscribed", func() bool { return n.Ready() == nil })
	return rn
}

// testKiosk is a kiosk's outbox, sealer and uplink.
type testKiosk struct {
	r      *rig
	id     string
	ob     *outbox.Outbox
	sealer *seal.Sealer
	up     *uplink.Uplink
	stop   func()

	mu     sync.Mutex
	alarms []uplink.Alarm
}

// kioskOptions tweak startKiosk.
type kioskOptions struct {
	certCN   string // default: the kiosk id
	inflight int
	tweak    func(o *uplink.Options)
	// captureTopic, when set, is where the kiosk publishes its records.
	captureTopic string
}

// startKiosk creates kiosk id's outbox and runs its uplink against brokers.
func (r *rig) startKiosk(id string, ko kioskOptions, brokers ...string) *testKiosk {
	r.t.Helper()
	if ko.inflight == 0 {
		ko.inflight = 8
	}
	k := r.newKiosk(id, ko.inflight)
	k.runWith(r, ko, brokers, nil)
	return k
}

// newKiosk creates kiosk id's outbox and sealer.
func (r *rig) newKiosk(id string, inflight int) *testKiosk {
	r.t.Helper()
	k := &testKiosk{id: id, r: r}
	var err error
	k.ob, err = outbox.New(filepath.Join(r.t.TempDir(), "outbox"), &outbox.Options{Window: inflight, SegmentBytes: 4 << 20, MaxBytes: 2 << 30, MaxDeliveries: 5})
	if err != nil {
		r.t.Fatal(err)
	}
	r.t.Cleanup(func() { k.ob.Close() })
	dev := r.devKeys[id]
	if dev == nil {
		_, dev, _ = ed25519.GenerateKey(rand.Reader)
	}
	k.sealer, err = seal.New(id, "device-1", dev, seal.Fixed(seal.Recipient{KeyID: "node-1", Key: r.nodeKey.PublicKey()}), &seal.Options{BootEpoch: 1})
	if err != nil {
		r.t.Fatal(err)
	}
	return k
}

// run starts the kiosk's uplink (for measurements: no resume limit) over
// q (the outbox when nil).
func (k *testKiosk) run(t testing.TB, url string, inflight int, q uplink.Queue) {
	t.Helper()
	k.runWith(k.r, kioskOptions{inflight: inflight}, []string{url}, q)
}

func (k *testKiosk) runWith(r *rig, ko kioskOptions, brokers []string, q uplink.Queue) {
	r.t.Helper()
	if ko.certCN == "" {
		ko.certCN = k.id
	}
	cert, key := r.pki.Issue(r.t, ko.certCN, keys.CertKiosk)
	tlsc, err := uplink.TLSConfig(r.pki.CAFile, cert, key)
	if err != nil {
		r.t.Fatal(err)
	}
	o := &uplink.Options{
		KioskID: k.id, Country: "IDN", Brokers: brokers, TLS: tlsc,
		KeepAlive: 5 * time.Second, ConnectTimeout: 5 * time.Second,
		ReconnectMin: 20 * time.Millisecond, ReconnectMax: 500 * time.Millisecond,
		InFlight: ko.inflight, AckTimeout: 3 * time.Second, MaxDrops: 3,
		ResumeRate: 1000, ResumeWindow: 0, Heartbeat: time.Minute,
		AckKeys:    map[string]ed25519.PublicKey{"cmd-1": r.cmdPub},
		Logger:     r.logger(k.id),
		Registerer: r.registerer(),
		OnAlarm:    func(a uplink.Alarm) { k.mu.Lock(); k.alarms = append(k.alarms, a); k.mu.Unlock() },
	}
	if ko.tweak != nil {
		ko.tweak(o)
	}
	if q == nil {
		q = k.ob
	}
	k.up, err = uplink.New(q, o)
	if err != nil {
		r.t.Fatal(err)
	}
	if ko.captureTopic != "" {
		uplink.OverrideCaptureTopic(k.up, ko.captureTopic)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- k.up.Run(ctx) }()
	var once sync.Once
	k.stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				r.t.Errorf("kiosk %s Run = %v", k.id, err)
			}
		})
	}
	r.t.Cleanup(k.stop)
}

// record returns a capture record of kiosk id with about size bytes of
// template and face data.
func record(id string, size int) *rbdesv1.CaptureRecord {
	b := make([]byte, max(size-200, 2))
	rand.Read(b)
	return &rbdesv1.CaptureRecord{
		RecordId: uuid.Must(uuid.NewV7()).String(), KioskId: id, CapturedUnixMs: time.Now().UnixMilli(), Policy: "default",
		Face:    &rbdesv1.FaceSample{IsoRecord: b[:len(b)/2], Quality: 70},
		Fingers: []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_RIGHT_INDEX, IsoTemplate: b[len(b)/2:], Quality: 60}},
	}
}

// save seals and appends n records of about size bytes and returns them
// as sealed.
func (k *testKiosk) save(t testing.TB, n, size int) [][]byte {
	t.Helper()
	var out [][]byte
	for range n {
		rec := record(k.id, size)
		var sealed []byte
		if _, err := k.ob.AppendWith(context.Background(), func(seq uint64, prev [32]byte) ([]byte, error) {
			b, err := k.sealer.Seal(rec, seq, prev)
			sealed = b
			return b, err
		}); err != nil {
			t.Fatal(err)
		}
		out = append(out, sealed)
	}
	return out
}

func (k *testKiosk) alarmKinds() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	m := map[string]int{}
	for _, a := range k.alarms {
		if a.Raised {
			m[a.Kind]++
		}
	}
	return m
}

// waitFor polls cond until it holds or the time is up.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached within %v", what, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drained waits until the kiosk's outbox holds nothing unacknowledged.
func (k *testKiosk) drained(t testing.TB, within time.Duration) {
	t.Helper()
	waitFor(t, within, "outbox of "+k.id+" empty", func() bool { return k.ob.Stats().Records == 0 })
}

// checkStored checks that the store holds exactly seqs 1..n of kiosk id,
// each once, in sequence order.
func checkStored(t testing.TB, s *node.Store, id string, n int) {
	t.Helper()
	recs, err := s.Records(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != n {
		t.Errorf("kiosk %s: %d records stored, want %d", id, len(recs), n)
	}
	seen := map[uint64]bool{}
	var last uint64
	for _, r := range recs {
		if seen[r.Seq] {
			t.Errorf("kiosk %s: seq %d stored twice", id, r.Seq)
		}
		seen[r.Seq] = true
		if r.Seq < last {
			t.Errorf("kiosk %s: seq %d stored after seq %d (out of order)", id, r.Seq, last)
		}
		last = r.Seq
	}
	for s := uint64(1); s <= uint64(n); s++ {
		if !seen[s] {
			t.Errorf("kiosk %s: seq %d missing", id, s)
		}
	}
}

// randDuration draws a duration in [lo, hi).
func randDuration(lo, hi time.Duration) time.Duration {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(hi-lo)))
	return lo + time.Duration(n.Int64())
}
