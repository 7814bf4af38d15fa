package uplink_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/bali-rbdes/kiosk/agent/broker/brokertest"
	"github.com/bali-rbdes/kiosk/agent/node"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	"github.com/bali-rbdes/kiosk/agent/wire"
)

// TestMosquittoDeliverAndACL runs against Debian's mosquitto 2 with mutual
// TLS and the design's ACL: kiosk-001 delivers; kiosk-002 publishing its
// records on kiosk-003's capture topic gets nothing
// stored (mosquitto acknowledges and drops the publish), its record stays
// in its outbox and the missing ack raises the no_ack alarm. (A kiosk
// whose client id is another kiosk's cannot even connect: mosquitto refuses
// its will on the other kiosk's status topic.)
func TestMosquittoDeliverAndACL(t *testing.T) {
	r := newRig(t, "kiosk-001", "kiosk-002", "kiosk-003")
	m := brokertest.StartMosquitto(t, r.pki, brokertest.MosquittoOptions{Nodes: []string{"node-idn-1", "node-idn-2"}})
	n := r.startNode("node-idn-1", r.sqliteStore(), m.URL())
	good := r.startKiosk("kiosk-001", kioskOptions{}, m.URL())
	bad := r.startKiosk("kiosk-002", kioskOptions{captureTopic: wire.KioskTopics("IDN", "kiosk-003").Capture, tweak: func(o *uplink.Options) { o.AckTimeout = 500 * time.Millisecond }}, m.URL())
	good.save(t, 20, 2000)
	bad.save(t, 1, 2000)
	good.drained(t, 30*time.Second)
	checkStored(t, n.store, "kiosk-001", 20)
	waitFor(t, 20*time.Second, "no_ack alarm of the kiosk publishing on another's topic", func() bool { return bad.alarmKinds()["no_ack"] > 0 })
	if got := bad.ob.Stats().Records; got != 1 {
		t.Errorf("outbox of the misconfigured kiosk holds %d records, want 1", got)
	}
	for _, id := range []string{"kiosk-002", "kiosk-003"} {
		if recs, _ := n.store.Records(context.Background(), id); len(recs) != 0 {
			t.Errorf("node stored %d records of %s published on a topic the ACL forbids", len(recs), id)
		}
	}
}

// TestChaos: records are saved while mosquitto is killed and restarted
// several times and a TCP proxy between the kiosks and the broker cuts
// every connection at random moments. Every record is stored exactly once,
// in sequence order per kiosk, and every outbox ends empty.
func TestChaos(t *testing.T) {
	records, restarts := 2000, 5
	if testing.Short() {
		records, restarts = 100, 1
	}
	ids := []string{"kiosk-001", "kiosk-002"}
	r := newRig(t, ids...)
	m := brokertest.StartMosquitto(t, r.pki, brokertest.MosquittoOptions{Nodes: []string{"node-idn-1"}})
	proxy := brokertest.NewProxy(t, m.Addr)
	n := r.startNode("node-idn-1", r.sqliteStore(), m.URL())
	var kiosks []*testKiosk
	for _, id := range ids {
		// Poison detection is off here (MaxDrops 50): a link cut more
		// often than a record's round trip (as under -race on a loaded
		// machine) would otherwise make innocent records look like poison.
		// TestPoisonRecordGoesToDeadLetters covers it.
		kiosks = append(kiosks, r.startKiosk(id, kioskOptions{inflight: 16, tweak: func(o *uplink.Options) { o.AckTimeout = 2 * time.Second; o.MaxDrops = 50 }}, "tls://"+proxy.Addr()))
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // random cuts
		defer wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-time.After(randDuration(200*time.Millisecond, time.Second)):
				proxy.CutAll()
			}
		}
	}()
	per := records / len(kiosks)
	var saveWG sync.WaitGroup
	for _, k := range kiosks {
		saveWG.Add(1)
		go func() {
			defer saveWG.Done()
			for i := 0; i < per; i += 10 {
				k.save(t, 10, 1500)
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	for i := range restarts {
		time.Sleep(randDuration(300*time.Millisecond, 900*time.Millisecond))
		m.Kill()
		time.Sleep(randDuration(100*time.Millisecond, 400*time.Millisecond))
		m.Start()
		t.Logf("broker restart %d done", i+1)
	}
	saveWG.Wait()
	for _, k := range kiosks {
		k.drained(t, 3*time.Minute)
	}
	cancel()
	wg.Wait()
	for _, k := range kiosks {
		checkStored(t, n.store, k.id, per)
		if dl := k.ob.DeadLetters(); len(dl) != 0 {
			t.Errorf("kiosk %s: dead letters %+v, want none", k.id, dl)
		}
	}
	t.Logf("%d records, %d broker restarts, %d proxy cuts", records, restarts, proxy.Cuts())
}

// TestScaleOut: two node instances in one share group against mosquitto
// store into one PostgreSQL database: every record is stored exactly once
// and both instances take part.
func TestScaleOut(t *testing.T) {
	records := 600
	if testing.Short() {
		records = 60
	}
	ids := []string{"kiosk-001", "kiosk-002", "kiosk-003"}
	r := newRig(t, ids...)
	pg := brokertest.StartPostgres(t)
	m := brokertest.StartMosquitto(t, r.pki, brokertest.MosquittoOptions{Nodes: []string{"node-idn-1", "node-idn-2"}})
	var stores []*node.Store
	for range 2 {
		s, err := node.OpenPostgres(context.Background(), pg.DSN)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		stores = append(stores, s)
	}
	n1 := r.startNode("node-idn-1", stores[0], m.URL())
	n2 := r.startNode("node-idn-2", stores[1], m.URL())
	per := records / len(ids)
	var wg sync.WaitGroup
	for _, id := range ids {
		k := r.startKiosk(id, kioskOptions{inflight: 8}, m.URL())
		wg.Add(1)
		go func() {
			defer wg.Done()
			k.save(t, per, 1500)
			k.drained(t, 2*time.Minute)
		}()
	}
	wg.Wait()
	recs, err := stores[0].Records(context.Background(), "")
	if err != nil {
		t.Fatal(err)
	}
	byNode := map[string]int{}
	for _, id := range ids {
		seen := map[uint64]int{}
		for _, rec := range recs {
			if rec.KioskID == id {
				seen[rec.Seq]++
			}
		}
		for s := uint64(1); s <= uint64(per); s++ {
			if seen[s] != 1 {
				t.Errorf("kiosk %s seq %d stored %d times, want once", id, s, seen[s])
			}
		}
	}
	nodes, err := nodeOf(stores[0])
	if err != nil {
		t.Fatal(err)
	}
	for _, nid := range nodes {
		byNode[nid]++
	}
	t.Logf("records stored per node instance: %v", byNode)
	for _, nid := range []string{"node-idn-1", "node-idn-2"} {
		if byNode[nid] < records/10 {
			t.Errorf("node %s stored %d of %d records; the share group did not split the load", nid, byNode[nid], records)
		}
	}
	_ = n1
	_ = n2
}

// nodeOf returns the node id that stored each record.
func nodeOf(s *node.Store) ([]string, error) {
	views, err := s.StoredBy(context.Background())
	if err != nil {
		return nil, fmt.Errorf("reading who stored what: %w", err)
	}
	return views, nil
}
