package uplink_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/bali-rbdes/kiosk/agent/broker"
	"github.com/bali-rbdes/kiosk/agent/command"
	"github.com/bali-rbdes/kiosk/agent/uplink"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// TestPoisonRecordGoesToDeadLetters: the broker closes the connection each
// time one record is published (as mochi does for a publish its ACL
// denies, and paho would resend it first forever). The record goes to dead
// letters with the poison alarm and every record behind it is delivered.
func TestPoisonRecordGoesToDeadLetters(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	n := r.startNode("node-idn-1", r.sqliteStore(), b.URL())
	k := r.startKiosk("kiosk-001", kioskOptions{inflight: 4}, b.URL())
	b.DisconnectOn(func(_, _ string, payload []byte) bool {
		sr := &rbdesv1.SealedRecord{}
		return proto.Unmarshal(payload, sr) == nil && sr.GetSeq() == 4
	})
	k.save(t, 12, 1500)
	k.drained(t, 60*time.Second)
	dl := k.ob.DeadLetters()
	if len(dl) != 1 || dl[0].Seq != 4 {
		t.Fatalf("dead letters = %+v, want exactly seq 4", dl)
	}
	if got := k.alarmKinds()["poison"]; got != 1 {
		t.Errorf("poison alarms raised = %d, want 1", got)
	}
	recs, err := n.store.Records(context.Background(), "kiosk-001")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 11 {
		t.Errorf("%d records stored, want the 11 that are not poison", len(recs))
	}
	for _, rec := range recs {
		if rec.Seq == 4 {
			t.Errorf("the poison record was stored")
		}
	}
}

// TestBrokerFaults: PUBACKs dropped or delayed and connections closed on
// the Nth publish change nothing: every record is stored exactly once and
// the outbox ends empty.
func TestBrokerFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault func(b *broker.Broker)
	}{
		{"pubacks dropped", func(b *broker.Broker) {
			b.DropPubAcks("kiosk-001", true)
		}},
		{"pubacks delayed", func(b *broker.Broker) {
			b.DelayPubAcks(100 * time.Millisecond)
		}},
		{"disconnect on 7th publish", func(b *broker.Broker) {
			b.DisconnectOnPublish("kiosk-001", 7)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := newRig(t, "kiosk-001")
			b := r.mochi("")
			tc.fault(b)
			n := r.startNode("node-idn-1", r.sqliteStore(), b.URL())
			k := r.startKiosk("kiosk-001", kioskOptions{}, b.URL())
			k.save(t, 30, 1500)
			k.drained(t, 60*time.Second)
			checkStored(t, n.store, "kiosk-001", 30)
			if dl := k.ob.DeadLetters(); len(dl) != 0 {
				t.Errorf("dead letters = %+v, want none", dl)
			}
		})
	}
}

// TestForgedAcksIgnored: acks a broker could inject (unsigned, signed by
// another key, for another record's hash) never remove a record; the
// node's genuine ack does.
func TestForgedAcksIgnored(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	k := r.startKiosk("kiosk-001", kioskOptions{tweak: func(o *uplink.Options) { o.AckTimeout = time.Hour }}, b.URL())
	sealed := k.save(t, 1, 1000)[0]
	topics := wire.KioskTopics("IDN", "kiosk-001")
	waitFor(t, 20*time.Second, "record published", func() bool { return b.Publishes(topics.Capture) >= 1 })
	sr := &rbdesv1.SealedRecord{}
	if err := proto.Unmarshal(sealed, sr); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(sealed)
	ack := func() *rbdesv1.Ack {
		return &rbdesv1.Ack{RecordId: sr.GetRecordId(), Sha256: sum[:], Status: rbdesv1.AckStatus_ACK_STATUS_STORED, NodeId: "node-idn-1", Seq: 1, KioskId: "kiosk-001", StoredUnixMs: 1}
	}
	_, other, _ := ed25519.GenerateKey(rand.Reader)
	unsigned := ack()
	unsigned.KeyId, unsigned.Signature = "cmd-1", make([]byte, 64)
	wrongKey := ack()
	if err := wire.SignAck(wrongKey, "cmd-1", other); err != nil {
		t.Fatal(err)
	}
	wrongHash := ack()
	wrongHash.Sha256 = make([]byte, 32)
	if err := wire.SignAck(wrongHash, "cmd-1", r.cmdKey); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*rbdesv1.Ack{unsigned, wrongKey, wrongHash} {
		p, _ := wire.Marshal(a)
		if err := b.Publish(topics.Ack, p, false); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(300 * time.Millisecond)
	if got := k.ob.Stats().Records; got != 1 {
		t.Fatalf("outbox holds %d records after forged acks, want 1", got)
	}
	good := ack()
	if err := wire.SignAck(good, "cmd-1", r.cmdKey); err != nil {
		t.Fatal(err)
	}
	p, _ := wire.Marshal(good)
	if err := b.Publish(topics.Ack, p, false); err != nil {
		t.Fatal(err)
	}
	k.drained(t, 10*time.Second)
}

// TestSilentNodeRaisesAlarm: with no node, records stay in the outbox, are
// sent again after each ack timeout without counting as failures, and the
// no_ack alarm is raised; a node coming up clears it and stores them once.
func TestSilentNodeRaisesAlarm(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	k := r.startKiosk("kiosk-001", kioskOptions{tweak: func(o *uplink.Options) { o.AckTimeout = 300 * time.Millisecond }}, b.URL())
	k.save(t, 5, 1000)
	waitFor(t, 20*time.Second, "no_ack alarm", func() bool { return k.alarmKinds()["no_ack"] > 0 })
	topics := wire.KioskTopics("IDN", "kiosk-001")
	waitFor(t, 20*time.Second, "records sent again", func() bool { return b.Publishes(topics.Capture) >= 10 })
	if got := k.ob.Stats().Records; got != 5 {
		t.Fatalf("outbox holds %d records, want 5", got)
	}
	if dl := k.ob.DeadLetters(); len(dl) != 0 {
		t.Fatalf("a silent node sent records to dead letters: %+v", dl)
	}
	n := r.startNode("node-idn-1", r.sqliteStore(), b.URL())
	k.drained(t, 30*time.Second)
	checkStored(t, n.store, "kiosk-001", 5)
	waitFor(t, 5*time.Second, "no_ack alarm cleared", func() bool {
		for _, a := range k.up.Alarms() {
			if a.Kind == "no_ack" {
				return false
			}
		}
		return true
	})
}

// TestRejectedRecordGoesToDeadLetters: a kiosk the node does not know gets
// REJECTED acks; its records move to dead letters with an alarm.
func TestRejectedRecordGoesToDeadLetters(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	r.startNode("node-idn-1", r.sqliteStore(), b.URL())
	k := r.startKiosk("kiosk-007", kioskOptions{}, b.URL())
	k.save(t, 2, 1000)
	k.drained(t, 30*time.Second)
	dl := k.ob.DeadLetters()
	if len(dl) != 2 {
		t.Fatalf("dead letters = %+v, want 2", dl)
	}
	if !bytes.Contains([]byte(dl[0].Reason), []byte("UNKNOWN_KIOSK")) {
		t.Errorf("dead letter reason %q does not name UNKNOWN_KIOSK", dl[0].Reason)
	}
	if k.alarmKinds()["dead_letter"] == 0 {
		t.Error("no dead_letter alarm raised")
	}
}

type policyHook struct {
	mu  sync.Mutex
	got map[string]string
}

func (p *policyHook) SetCapturePolicy(v map[string]string) error {
	if v["max_attempts"] == "99" {
		return uplink.ErrInvalidPolicy
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.got = v
	return nil
}

// TestCommands: signed commands are verified, run and answered on
// cmd/reply; a replayed, a badly signed and a not allowed command are
// refused with their reason.
func TestCommands(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	nonces, err := command.OpenFileNonces(filepath.Join(t.TempDir(), "nonces.json"), 0)
	if err != nil {
		t.Fatal(err)
	}
	cv, err := command.NewVerifier("kiosk-001", map[string]ed25519.PublicKey{"cmd-1": r.cmdPub}, nonces, nil)
	if err != nil {
		t.Fatal(err)
	}
	hook := &policyHook{}
	k := r.startKiosk("kiosk-001", kioskOptions{tweak: func(o *uplink.Options) {
		o.Commands, o.Policy = cv, hook
		o.Allow = []string{"ping", "report_status", "set_capture_policy"}
	}}, b.URL())
	topics := wire.KioskTopics("IDN", "kiosk-001")
	replies := make(chan *rbdesv1.CommandReply, 16)
	if err := b.Subscribe(topics.CmdReply, func(_ string, p []byte) {
		rep, err := wire.ParseCommandReply(p)
		if err != nil {
			t.Errorf("kiosk sent a malformed reply: %v", err)
			return
		}
		replies <- rep
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "kiosk connected", k.up.Connected)
	signer, err := command.NewSigner("cmd-1", r.cmdKey, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(c *rbdesv1.Command) *rbdesv1.CommandReply {
		t.Helper()
		p, _ := wire.Marshal(c)
		if err := b.Publish(topics.Cmd, p, false); err != nil {
			t.Fatal(err)
		}
		select {
		case rep := <-replies:
			return rep
		case <-time.After(10 * time.Second):
			t.Fatalf("no reply to command %s", command.Kind(c))
			return nil
		}
	}
	sign := func(c *rbdesv1.Command) *rbdesv1.Command {
		c.KioskId = "kiosk-001"
		if err := signer.Sign(c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ok := rbdesv1.CommandResult_COMMAND_RESULT_OK
	rejected := rbdesv1.CommandResult_COMMAND_RESULT_REJECTED
	ping := sign(&rbdesv1.Command{Body: &rbdesv1.Command_Ping{Ping: &rbdesv1.Ping{}}})
	forged := sign(&rbdesv1.Command{Body: &rbdesv1.Command_ReportStatus{ReportStatus: &rbdesv1.ReportStatus{}}})
	forged.Signature[0] ^= 1
	tests := []struct {
		name   string
		cmd    *rbdesv1.Command
		result rbdesv1.CommandResult
		reason rbdesv1.CommandRejectReason
	}{
		{"ping", ping, ok, 0},
		{"ping replayed", ping, rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_REPLAYED},
		{"report status", sign(&rbdesv1.Command{Body: &rbdesv1.Command_ReportStatus{ReportStatus: &rbdesv1.ReportStatus{}}}), ok, 0},
		{"bad signature", forged, rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_BAD_SIGNATURE},
		{"capture policy", sign(&rbdesv1.Command{Body: &rbdesv1.Command_SetCapturePolicy{SetCapturePolicy: &rbdesv1.SetCapturePolicy{Values: map[string]string{"max_attempts": "4"}}}}), ok, 0},
		{"capture policy invalid", sign(&rbdesv1.Command{Body: &rbdesv1.Command_SetCapturePolicy{SetCapturePolicy: &rbdesv1.SetCapturePolicy{Values: map[string]string{"max_attempts": "99"}}}}), rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_INVALID_ARGUMENT},
		{"not allowed", sign(&rbdesv1.Command{Body: &rbdesv1.Command_RetireNodeKey{RetireNodeKey: &rbdesv1.RetireNodeKey{KeyId: "node-1"}}}), rejected, rbdesv1.CommandRejectReason_COMMAND_REJECT_REASON_NOT_ALLOWED},
	}
	for _, tc := range tests {
		rep := send(tc.cmd)
		if rep.GetCommandId() != tc.cmd.GetCommandId() || rep.GetResult() != tc.result || rep.GetReason() != tc.reason {
			t.Errorf("%s: reply %v/%v for %q, want %v/%v for %q (detail %q)", tc.name, rep.GetResult(), rep.GetReason(), rep.GetCommandId(), tc.result, tc.reason, tc.cmd.GetCommandId(), rep.GetDetail())
		}
		if tc.name == "report status" && rep.GetStatus().GetKioskId() != "kiosk-001" {
			t.Errorf("report status reply carries no status: %v", rep)
		}
	}
	hook.mu.Lock()
	if hook.got["max_attempts"] != "4" {
		t.Errorf("capture policy hook got %v, want max_attempts=4", hook.got)
	}
	hook.mu.Unlock()
}

// TestStatusBirthAndShutdown: the node sees the kiosk online after its
// birth and offline after its clean shutdown.
func TestStatusBirthAndShutdown(t *testing.T) {
	r := newRig(t, "kiosk-001")
	b := r.mochi("")
	n := r.startNode("node-idn-1", r.sqliteStore(), b.URL())
	k := r.startKiosk("kiosk-001", kioskOptions{}, b.URL())
	online := func(want bool) func() bool {
		return func() bool {
			vs, err := n.store.Kiosks(context.Background())
			return err == nil && len(vs) == 1 && vs[0].Online == want && vs[0].ConnectEpoch >= 1
		}
	}
	waitFor(t, 20*time.Second, "kiosk online at the node", online(true))
	k.stop()
	waitFor(t, 20*time.Second, "kiosk offline at the node", online(false))
}
