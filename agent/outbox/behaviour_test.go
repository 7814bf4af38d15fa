package outbox

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/bali-rbdes/kiosk/agent/clock"
	"github.com/bali-rbdes/kiosk/agent/outbox/internal/vfs"
)

// segFiles lists the segment files in dir.
func segFiles(t *testing.T, fs vfs.FS, dir string) []string {
	t.Helper()
	names, err := fs.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, n := range names {
		if _, ok := parseSegName(n); ok {
			out = append(out, filepath.Join(dir, n))
		}
	}
	return out
}

func ackAll(t *testing.T, o *Outbox) int {
	t.Helper()
	n := 0
	for _, d := range drain(t, o) {
		if err := o.Ack(d.Seq); err != nil {
			t.Fatalf("Ack(%d) = %v", d.Seq, err)
		}
		n++
	}
	return n
}

func TestBuildErrorConsumesNoSeq(t *testing.T) {
	o := mustNew(t, "/ob", testOpts(vfs.NewMem()))
	defer o.Close()
	appendN(t, o, 2, 100)
	boom := errors.New("signing key unavailable")
	_, err := o.AppendWith(context.Background(), func(uint64, [32]byte) ([]byte, error) { return nil, boom })
	if !errors.Is(err, boom) {
		t.Fatalf("AppendWith with a failing build = %v, want it to wrap %v", err, boom)
	}
	if _, err := o.Append(context.Background(), nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Append(empty) = %v, want ErrTooLarge", err)
	}
	if seqs := appendN(t, o, 1, 100); seqs[0] != 3 {
		t.Errorf("seq after a failed build = %d, want 3", seqs[0])
	}
}

func TestChainHeadSurvivesDeletingEverything(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	appendN(t, o, 40, 1500) // several segments
	if n := len(segFiles(t, fs, "/ob")); n < 3 {
		t.Fatalf("want several segments, have %d", n)
	}
	var lastHash [32]byte
	for _, d := range drain(t, o) {
		lastHash = sha256.Sum256(d.Payload)
		if err := o.Ack(d.Seq); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.deleteDone(); err != nil {
		t.Fatal(err)
	}
	if got := len(segFiles(t, fs, "/ob")); got != 1 {
		t.Errorf("segments after acking all = %d, want 1 (the active one)", got)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = mustNew(t, "/ob", testOpts(fs))
	defer o.Close()
	var gotSeq uint64
	var gotPrev [32]byte
	if _, err := o.AppendWith(context.Background(), func(seq uint64, prev [32]byte) ([]byte, error) {
		gotSeq, gotPrev = seq, prev
		return []byte("x"), nil
	}); err != nil {
		t.Fatal(err)
	}
	if gotSeq != 41 || gotPrev != lastHash {
		t.Errorf("after deleting everything: build(%d, %x), want build(41, %x)", gotSeq, gotPrev[:4], lastHash[:4])
	}
}

func TestFullAlarmsAndResume(t *testing.T) {
	fs := vfs.NewMem()
	var mu sync.Mutex
	var alarms []int
	opts := testOpts(fs)
	opts.MaxBytes = 64 << 10
	opts.SegmentBytes = 8 << 10
	opts.OnAlarm = func(a Alarm) {
		mu.Lock()
		alarms = append(alarms, a.Level)
		mu.Unlock()
	}
	reg := prometheus.NewRegistry()
	opts.Registerer = reg
	o := mustNew(t, "/ob", opts)
	defer o.Close()
	var err error
	n := 0
	for ; n < 1000; n++ {
		if _, err = o.Append(context.Background(), make([]byte, 1000)); err != nil {
			break
		}
	}
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append after %d records = %v, want ErrFull", n, err)
	}
	if st := o.Stats(); st.Alarm != 95 || st.UsedBytes > opts.MaxBytes {
		t.Errorf("when full: Alarm %d UsedBytes %d, want 95 and <= %d", st.Alarm, st.UsedBytes, opts.MaxBytes)
	}
	if got := testutil.ToFloat64(o.m.appends.WithLabelValues("full")); got != 1 {
		t.Errorf("kiosk_outbox_appends_total{result=full} = %v, want 1", got)
	}
	ackAll(t, o)
	if err := o.deleteDone(); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Append(context.Background(), make([]byte, 1000)); err != nil {
		t.Errorf("Append after acks freed space = %v, want nil", err)
	}
	// The housekeeper reports asynchronously; wait for the way down.
	deadline := time.Now().Add(5 * time.Second)
	for {
		o.kick()
		mu.Lock()
		got := append([]int(nil), alarms...)
		mu.Unlock()
		if len(got) >= 4 && got[len(got)-1] == 0 {
			want := []int{50, 80, 95}
			for i, w := range want {
				if got[i] != w {
					t.Errorf("alarms = %v, want %v then 0", got, want)
				}
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("alarms = %v, want 50, 80, 95 then 0", got)
		}
		time.Sleep(time.Millisecond)
	}
	if n, err := testutil.GatherAndCount(reg, "kiosk_outbox_depth_records", "kiosk_outbox_alarm_level"); err != nil || n != 2 {
		t.Errorf("gathered %d depth/alarm metrics (%v), want 2", n, err)
	}
}

func TestDiskFullIsErrFull(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	appendN(t, o, 3, 500)
	size := int64(0)
	for _, f := range []string{"/ob/acks.log", "/ob/deadletters.log", "/ob/state"} {
		b, _ := fs.ReadFile(f)
		size += int64(len(b))
	}
	for _, f := range segFiles(t, fs, "/ob") {
		b, _ := fs.ReadFile(f)
		size += int64(len(b))
	}
	fs.SetCapacity(size + 100)
	_, err := o.Append(context.Background(), make([]byte, 500))
	if !errors.Is(err, ErrFull) {
		t.Fatalf("Append on a full disk = %v, want ErrFull", err)
	}
	fs.SetCapacity(0)
	seqs := appendN(t, o, 1, 500)
	if seqs[0] != 4 {
		t.Errorf("seq after ENOSPC = %d, want 4 (the failed record took none)", seqs[0])
	}
	if got := len(drain(t, o)); got != 4 {
		t.Errorf("records after ENOSPC = %d, want 4", got)
	}
	// Reopening on a disk with no space left at all still works.
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	fs.SetCapacity(1)
	o2, err := New("/ob", testOpts(fs))
	if err != nil {
		t.Fatalf("New on a full disk = %v, want success", err)
	}
	defer o2.Close()
	ds := drain(t, o2)
	if len(ds) != 4 {
		t.Fatalf("records after reopening on a full disk = %d, want 4", len(ds))
	}
	if err := o2.Ack(ds[0].Seq); err != nil {
		t.Errorf("Ack on a full disk = %v, want nil (kept in memory)", err)
	}
	if _, err := o2.Append(context.Background(), make([]byte, 10)); !errors.Is(err, ErrFull) {
		t.Errorf("Append on a full disk = %v, want ErrFull", err)
	}
}

func TestFsyncFailureLosesOnlyUnsaved(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	defer o.Close()
	appendN(t, o, 3, 300)
	fs.FailSyncs(1)
	if _, err := o.Append(context.Background(), make([]byte, 300)); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Append with a failing fsync = %v, want an error wrapping EIO", err)
	}
	seqs := appendN(t, o, 1, 300)
	if seqs[0] != 4 {
		t.Errorf("seq after a failed fsync = %d, want 4 (reused)", seqs[0])
	}
	ds := drain(t, o)
	if len(ds) != 4 {
		t.Fatalf("records = %d, want 4", len(ds))
	}
	for i, d := range ds {
		if _, _, err := checkPayload(d.Payload); err != nil && i < 3 {
			t.Errorf("record %d: %v", d.Seq, err)
		}
	}
}

func TestFailThenDeadLetter(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs)) // MaxDeliveries 3
	appendN(t, o, 3, 200)
	ctx := context.Background()
	var attempts []int
	for i := 0; i < 3; i++ {
		d, err := o.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Seq != 1 {
			t.Fatalf("Next after Fail = %d, want record 1 first", d.Seq)
		}
		attempts = append(attempts, d.Attempt)
		if err := o.Fail(d.Seq, "no ack within 30s"); err != nil {
			t.Fatal(err)
		}
	}
	if attempts[0] != 1 || attempts[2] != 3 {
		t.Errorf("attempts = %v, want 1 2 3", attempts)
	}
	d, err := o.Next(ctx)
	if err != nil || d.Seq != 2 {
		t.Fatalf("Next after 3 failures = %d, %v; want 2", d.Seq, err)
	}
	if err := o.DeadLetter(2, "node: REJECTED bad signature"); err != nil {
		t.Fatal(err)
	}
	dl := o.DeadLetters()
	if len(dl) != 2 || dl[0].Seq != 1 || dl[1].Seq != 2 || dl[1].Reason != "node: REJECTED bad signature" {
		t.Fatalf("DeadLetters = %+v, want records 1 and 2", dl)
	}
	p, err := o.DeadLetterPayload(1)
	if seq, _, cerr := checkPayload(p); err != nil || cerr != nil || seq != 1 {
		t.Errorf("DeadLetterPayload(1) = seq %d, %v, %v", seq, err, cerr)
	}
	if _, err := o.DeadLetterPayload(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("DeadLetterPayload(3) = %v, want ErrNotFound", err)
	}
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o = mustNew(t, "/ob", testOpts(fs))
	defer o.Close()
	if got := o.DeadLetters(); len(got) != 2 {
		t.Errorf("dead letters after reopen = %d, want 2", len(got))
	}
	ds := drain(t, o)
	if len(ds) != 1 || ds[0].Seq != 3 {
		t.Errorf("deliverable after reopen = %v, want only record 3", ds)
	}
	if st := o.Stats(); st.DeadLetters != 2 || st.Records != 1 {
		t.Errorf("Stats = %+v, want 2 dead letters and 1 record", st)
	}
}

func TestWindowRewindAndOrder(t *testing.T) {
	opts := testOpts(vfs.NewMem())
	opts.Window = 2
	o := mustNew(t, "/ob", opts)
	defer o.Close()
	appendN(t, o, 5, 200)
	ctx := context.Background()
	a, _ := o.Next(ctx)
	b, _ := o.Next(ctx)
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	_, err := o.Next(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next with a full window = %v, want a deadline error", err)
	}
	if err := o.Ack(b.Seq); err != nil {
		t.Fatal(err)
	}
	c, _ := o.Next(ctx)
	if a.Seq != 1 || b.Seq != 2 || c.Seq != 3 {
		t.Fatalf("deliveries %d %d %d, want 1 2 3", a.Seq, b.Seq, c.Seq)
	}
	o.Rewind() // reconnect: 1 and 3 in flight go again, in order
	var got []uint64
	for i := 0; i < 2; i++ {
		d, err := o.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, d.Seq)
		o.Ack(d.Seq)
	}
	d, _ := o.Next(ctx)
	got = append(got, d.Seq)
	if want := []uint64{1, 3, 4}; got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("after Rewind: %v, want %v", got, want)
	}
	if err := o.Ack(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("Ack(99) = %v, want ErrNotFound", err)
	}
	if err := o.Ack(1); err != nil {
		t.Errorf("second Ack(1) = %v, want nil (idempotent)", err)
	}
}

func TestAcksSurviveProcessCrash(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	appendN(t, o, 10, 200)
	for _, d := range drain(t, o)[:6] {
		if err := o.Ack(d.Seq); err != nil {
			t.Fatal(err)
		}
	}
	o.Fail(7, "timeout")
	crashed := fs.Clone() // kill -9: the page cache survives, nothing was closed
	fs.Cut()
	o.Close()
	o = mustNew(t, "/ob", testOpts(crashed))
	defer o.Close()
	ds := drain(t, o)
	if len(ds) != 4 || ds[0].Seq != 7 || ds[0].Attempt != 2 {
		t.Fatalf("after a crash: %d records from %d (attempt %d), want 4 from 7 (attempt 2)", len(ds), ds[0].Seq, ds[0].Attempt)
	}
}

func TestClose(t *testing.T) {
	o := mustNew(t, "/ob", testOpts(vfs.NewMem()))
	errc := make(chan error)
	go func() {
		_, err := o.Next(context.Background())
		errc <- err
	}()
	time.Sleep(10 * time.Millisecond)
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrClosed) {
		t.Errorf("blocked Next after Close = %v, want ErrClosed", err)
	}
	if _, err := o.Append(context.Background(), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Errorf("Append after Close = %v, want ErrClosed", err)
	}
	if err := o.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
}

func TestLockedByAnotherOpener(t *testing.T) {
	fs := vfs.NewMem()
	o := mustNew(t, "/ob", testOpts(fs))
	defer o.Close()
	if _, err := New("/ob", testOpts(fs)); !errors.Is(err, vfs.ErrLocked) {
		t.Errorf("second New = %v, want ErrLocked", err)
	}
}

func TestConcurrentAppendersKeepChainOrder(t *testing.T) {
	for _, delay := range []time.Duration{-1, 2 * time.Millisecond} {
		t.Run(fmt.Sprintf("commit delay %v", delay), func(t *testing.T) {
			opts := testOpts(vfs.NewMem())
			opts.CommitDelay = delay
			if delay > 0 {
				opts.Clock = clock.Real() // the committer waits on the clock
			}
			testConcurrentAppenders(t, opts)
		})
	}
}

func testConcurrentAppenders(t *testing.T, opts *Options) {
	o := mustNew(t, "/ob", opts)
	defer o.Close()
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 25; i++ {
				if _, err := o.AppendWith(context.Background(), func(seq uint64, prev [32]byte) ([]byte, error) {
					return payloadFor(seq, prev, 300+w*10), nil
				}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	// Deliver while appending.
	ctx := context.Background()
	var prev [32]byte
	for i := 1; i <= 200; i++ {
		d, err := o.Next(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seq, link, err := checkPayload(d.Payload)
		if err != nil || seq != uint64(i) || d.Seq != uint64(i) || link != prev {
			t.Fatalf("delivery %d: seq %d/%d link ok %v err %v", i, d.Seq, seq, link == prev, err)
		}
		prev = sha256.Sum256(d.Payload)
		o.Ack(d.Seq)
	}
	wg.Wait()
}

func TestOldestUnackedAge(t *testing.T) {
	clk := clock.NewFake(time.Time{})
	opts := testOpts(vfs.NewMem())
	opts.Clock = clk
	o := mustNew(t, "/ob", opts)
	defer o.Close()
	appendN(t, o, 1, 100)
	clk.Advance(90 * time.Second)
	appendN(t, o, 1, 100)
	clk.Advance(10 * time.Second)
	if got := o.Stats().OldestUnackedAge; got != 100*time.Second {
		t.Errorf("OldestUnackedAge = %v, want 100s", got)
	}
	o.Ack(1)
	if got := o.Stats().OldestUnackedAge; got != 10*time.Second {
		t.Errorf("after Ack(1): OldestUnackedAge = %v, want 10s", got)
	}
}
