package main

import (
	"context"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/bali-rbdes/kiosk/agent/broker"
	"github.com/bali-rbdes/kiosk/agent/broker/brokertest"
	"github.com/bali-rbdes/kiosk/agent/config"
	"github.com/bali-rbdes/kiosk/agent/keys"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// TestDaemonWiresUplink: with a broker configured, the daemon connects
// with the kiosk's certificate, publishes its birth, and a record saved
// through the saver is published on the capture topic; it stops cleanly.
func TestDaemonWiresUplink(t *testing.T) {
	pki := brokertest.NewPKI(t)
	b, err := broker.New(&broker.Options{TLS: pki.ServerTLS(t)})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cert, key := pki.Issue(t, "kiosk-test-01", keys.CertKiosk)
	path := writeConfig(t, "127.0.0.1:0", `uplink:
  brokers: [`+b.URL()+`]
  ca_file: `+pki.CAFile+`
  cert_file: `+cert+`
  key_file: `+key+`
  reconnect_min: 50ms
  reconnect_max: 1s
`)
	cfg, err := config.LoadKiosk(path)
	if err != nil {
		t.Fatal(err)
	}
	d, err := newDaemon(cfg, zap.NewNop(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if d.uplink == nil || d.saver == nil {
		t.Fatal("daemon has no uplink or no saver")
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx) }()
	topics := wire.KioskTopics("IDN", "kiosk-test-01")
	wait := func(what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 20s", what)
			}
		}
	}
	wait("birth published", func() bool { return b.Publishes(topics.Status) >= 1 })
	rec := &rbdesv1.CaptureRecord{Fingers: []*rbdesv1.FingerSample{{Position: rbdesv1.FingerPosition_FINGER_POSITION_LEFT_INDEX, IsoTemplate: []byte("template")}}}
	saved, err := d.saver.Save(ctx, rec)
	if err != nil {
		t.Fatal(err)
	}
	if saved.Seq != 1 {
		t.Errorf("first saved record has seq %d, want 1", saved.Seq)
	}
	wait("record published", func() bool { return b.Publishes(topics.Capture) >= 1 })
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("daemon did not stop within 10s")
	}
}
