package outbox

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// testOpts are small options over a Mem filesystem.
func testOpts(fs vfs.FS) *Options {
	return &Options{MaxBytes: 1 << 20, SegmentBytes: 8 << 10, Window: 8, MaxDeliveries: 3,
		CommitDelay: -1, // a fake clock would hold it forever
		Clock:       clock.NewFake(time.Time{}), fs: fs}
}

func mustNew(t testing.TB, dir string, opts *Options) *Outbox {
	t.Helper()
	o, err := New(dir, opts)
	if err != nil {
		t.Fatalf("New(%s) = %v", dir, err)
	}
	return o
}

// payloadFor is a self-checking payload: seq, prev hash, filler, SHA-256 of
// the rest.
func payloadFor(seq uint64, prev [32]byte, size int) []byte {
	size = max(size, 8+32+32)
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, seq)
	copy(b[8:], prev[:])
	for i := 40; i < size-32; i++ {
		b[i] = byte(seq*31 + uint64(i))
	}
	s := sha256.Sum256(b[:size-32])
	copy(b[size-32:], s[:])
	return b
}

// checkPayload verifies a payload made by payloadFor and returns its seq and
// prev link.
func checkPayload(b []byte) (seq uint64, prev [32]byte, err error) {
	if len(b) < 72 {
		return 0, prev, fmt.Errorf("payload of %d bytes", len(b))
	}
	s := sha256.Sum256(b[:len(b)-32])
	if !bytes.Equal(s[:], b[len(b)-32:]) {
		return 0, prev, errors.New("payload hash mismatch")
	}
	copy(prev[:], b[8:40])
	return binary.LittleEndian.Uint64(b), prev, nil
}

func appendN(t testing.TB, o *Outbox, n, size int) []uint64 {
	t.Helper()
	var seqs []uint64
	for i := 0; i < n; i++ {
		seq, err := o.AppendWith(context.Background(), func(seq uint64, prev [32]byte) ([]byte, error) {
			return payloadFor(seq, prev, size), nil
		})
		if err != nil {
			t.Fatalf("AppendWith #%d = %v", i, err)
		}
		seqs = append(seqs, seq)
	}
	return seqs
}

// drain reads every pending record without settling it (with an unbounded
// window), then rewinds.
func drain(t testing.TB, o *Outbox) []Delivery {
	t.Helper()
	o.mu.Lock()
	window := o.opts.Window
	o.opts.Window = 1 << 30
	o.mu.Unlock()
	defer func() {
		o.Rewind()
		o.mu.Lock()
		o.opts.Window = window
		o.mu.Unlock()
	}()
	var out []Delivery
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for int64(len(out)) < o.Stats().Records { // Records drops when delivery finds a damaged record
		d, err := o.Next(ctx)
		if err != nil {
			t.Fatalf("Next after %d of %d = %v", len(out), o.Stats().Records, err)
		}
		out = append(out, d)
	}
	return out
}

func TestAppendDeliverAck(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	seqs := appendN(t, o, 50, 700)
	if got, want := seqs[0], uint64(1); got != want {
		t.Errorf("first seq = %d, want %d", got, want)
	}
	if got, want := o.Stats().Records, int64(50); got != want {
		t.Errorf("Stats().Records = %d, want %d", got, want)
	}
	ctx := context.Background()
	var prev [32]byte
	for i := 0; i < 50; i++ {
		d, err := o.Next(ctx)
		if err != nil {
			t.Fatalf("Next = %v", err)
		}
		seq, link, err := checkPayload(d.Payload)
		if err != nil || seq != d.Seq || d.Seq != uint64(i+1) {
			t.Fatalf("Next #%d = seq %d (payload seq %d, %v), want %d", i, d.Seq, seq, err, i+1)
		}
		if link != prev {
			t.Fatalf("record %d links to %x, want %x", d.Seq, link[:4], prev[:4])
		}
		prev = sha256.Sum256(d.Payload)
		if err := o.Ack(d.Seq); err != nil {
			t.Fatalf("Ack(%d) = %v", d.Seq, err)
		}
	}
	st := o.Stats()
	if st.Records != 0 || st.InFlight != 0 {
		t.Errorf("after acking all: Records %d InFlight %d, want 0 0", st.Records, st.InFlight)
	}
	if err := o.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	// Reopen: nothing to deliver, chain and counter continue.
	o = mustNew(t, "/ob", testOpts(fs))
	defer o.Close()
	if got := o.Stats(); got.Records != 0 || got.NextSeq != 51 || got.LastSeq != 50 {
		t.Errorf("reopened: Records %d NextSeq %d LastSeq %d, want 0 51 50", got.Records, got.NextSeq, got.LastSeq)
	}
	seq, err := o.AppendWith(ctx, func(seq uint64, p [32]byte) ([]byte, error) {
		if p != prev {
			t.Errorf("build got prev %x, want %x", p[:4], prev[:4])
		}
		return payloadFor(seq, p, 100), nil
	})
	if err != nil || seq != 51 {
		t.Errorf("AppendWith after reopen = %d, %v; want 51, nil", seq, err)
	}
}
