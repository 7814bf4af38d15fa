package uplink

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
	"github.com/google/uuid"

	"github.com/bali-rbdes/kiosk/agent/outbox"
	"github.com/bali-rbdes/kiosk/agent/wire"
	rbdesv1 "github.com/bali-rbdes/kiosk/proto/rbdes/v1"
)

// listQueue hands out n sealed-looking records, then blocks.
type listQueue struct {
	*fakeQueue
	mu   sync.Mutex
	next uint64
	n    uint64
}

func (q *listQueue) Next(ctx context.Context) (outbox.Delivery, error) {
	q.mu.Lock()
	if q.next < q.n {
		q.next++
		seq := q.next
		q.mu.Unlock()
		b, _ := wire.Marshal(&rbdesv1.SealedRecord{RecordId: uuid.Must(uuid.NewV7()).String(), Seq: seq})
		return outbox.Delivery{Seq: seq, Payload: b, Attempt: 1}, nil
	}
	q.mu.Unlock()
	<-ctx.Done()
	return outbox.Delivery{}, ctx.Err()
}

// pubClient is a paho.Client that only counts publishes; their tokens
// never complete, as with a broker that never sends PUBACK.
type pubClient struct {
	paho.Client
	mu  sync.Mutex
	pub int
}

func (c *pubClient) Publish(string, byte, bool, any) paho.Token {
	c.mu.Lock()
	c.pub++
	c.mu.Unlock()
	return pendingToken{}
}

func (c *pubClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pub
}

type pendingToken struct{}

func (pendingToken) Wait() bool                     { return false }
func (pendingToken) WaitTimeout(time.Duration) bool { return false }
func (pendingToken) Done() <-chan struct{}          { return nil }
func (pendingToken) Error() error                   { return nil }

// TestResumeRateAndWindow: after a connection the sender publishes at most
// ResumeRate records per second during ResumeWindow, then as fast as the
// in-flight window allows, and never more than InFlight unacknowledged.
func TestResumeRateAndWindow(t *testing.T) {
	clk := newFakeClock()
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	q := &listQueue{fakeQueue: newFakeQueue(), n: 100}
	u, err := New(q, &Options{KioskID: "kiosk-001", Country: "IDN", Brokers: []string{"tcp://127.0.0.1:1"}, AckKeys: map[string]ed25519.PublicKey{"cmd-1": pub},
		InFlight: 6, ResumeRate: 10, ResumeWindow: time.Second, Clock: clk})
	if err != nil {
		t.Fatal(err)
	}
	c := &pubClient{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- u.send(ctx, c) }()
	settle := func(want int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); c.count() < want; time.Sleep(time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("publishes = %d, want %d", c.count(), want)
			}
		}
		time.Sleep(20 * time.Millisecond)
		if got := c.count(); got != want {
			t.Fatalf("publishes = %d, want exactly %d", got, want)
		}
	}
	settle(1)
	for i := 2; i <= 6; i++ {
		waitSleeping(t, clk)
		clk.Advance(100 * time.Millisecond)
		settle(i)
	}
	// The window of 6 is full: nothing more until acks, rate or not.
	clk.Advance(2 * time.Second)
	settle(6)
	u.mu.Lock()
	for seq := range u.inflight {
		if seq <= 3 {
			delete(u.inflight, seq)
		}
	}
	u.mu.Unlock()
	u.signal()
	// Past the resume window: three acks free three slots at once.
	settle(9)
	cancel()
	if err := <-done; err != nil {
		t.Errorf("send = %v", err)
	}
}
