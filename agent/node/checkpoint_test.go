package node

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"
)

// TestBackgroundCheckpoint: while records are committed back to back, the
// checkpointer copies the log into the database file and resets a long
// log (a passive checkpoint alone never lets it restart); everything
// committed is there after reopening.
func TestBackgroundCheckpoint(t *testing.T) {
	path := filepath.Join(t.TempDir(), "node.db")
	store, err := OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { store.Close() }()
	type seen struct {
		mode   string
		frames int
	}
	var mu sync.Mutex
	var log []seen
	store.ckpt.every = 128 << 10 // a checkpoint every ~6 records
	store.ckpt.restart = 64      // and the log reset past 64 frames
	store.ckpt.observe = func(mode string, frames int) {
		mu.Lock()
		log = append(log, seen{mode, frames})
		mu.Unlock()
	}
	// restarted reports whether a checkpoint saw a shorter log after a
	// RESTART checkpoint: writing went on from the start of the log.
	restarted := func() bool {
		mu.Lock()
		defer mu.Unlock()
		for i, s := range log {
			if s.mode != "RESTART" {
				continue
			}
			for _, later := range log[i+1:] {
				if later.frames < s.frames {
					return true
				}
			}
		}
		return false
	}
	e := newEnv(t, store)
	const size = 20000
	var seq uint64
	commit := func() {
		var batch []*job
		for range 4 {
			seq++
			j := &job{topic: capture, payload: e.sealSized(t, seq, size), done: make(chan struct{})}
			e.n.verify(j)
			batch = append(batch, j)
		}
		e.n.commit(context.Background(), batch, t0)
		for _, j := range batch {
			if j.err != nil || j.verdict.Err != nil {
				t.Fatalf("seq %d: %v %v", j.verdict.Seq, j.err, j.verdict.Err)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for seq < 200 || !restarted() {
		if time.Now().After(deadline) {
			mu.Lock()
			seenLog := append([]seen(nil), log...)
			mu.Unlock()
			t.Fatalf("after %d records no RESTART checkpoint was followed by a shorter log; checkpoints seen: %v", seq, seenLog)
		}
		commit()
	}
	if runs, err := store.ckpt.stats(); err != nil || runs < 2 {
		t.Errorf("checkpointer: %d runs, last error %v; want at least 2 and no error", runs, err)
	}
	db, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(seq) * size / 2; db.Size() < want {
		t.Errorf("database file holds %d bytes after the checkpoints, want at least %d (the log was not copied)", db.Size(), want)
	}
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	store, err = OpenSQLite(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	recs, err := store.Records(context.Background(), "kiosk-001")
	if err != nil || len(recs) != int(seq) {
		t.Errorf("after reopening: %d records, %v; want %d", len(recs), err, seq)
	}
}

// TestCheckpointFailuresLogged: a failing background checkpoint is logged
// once when it starts failing, again every 100th failure, and once when
// it recovers; the error names the component.
func TestCheckpointFailuresLogged(t *testing.T) {
	store, err := OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	core, logs := observer.New(zap.InfoLevel)
	store.setLogger(zap.New(core))
	c := store.ckpt
	var fail atomic.Bool
	c.step = func() error {
		if fail.Load() {
			return errors.New("node: SQLite passive checkpoint: disk I/O error")
		}
		return nil
	}
	// kick runs one checkpoint and waits for it to finish.
	kick := func() {
		t.Helper()
		before, _ := c.stats()
		c.committed(c.every)
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(time.Millisecond) {
			if runs, _ := c.stats(); runs > before {
				return
			}
			if time.Now().After(deadline) {
				t.Fatal("the checkpointer did not run within 10s of a kick")
			}
		}
	}
	kick()
	fail.Store(true)
	for range 150 {
		kick()
	}
	fail.Store(false)
	kick()
	kick()
	var got []string
	for _, e := range logs.All() {
		got = append(got, fmt.Sprintf("%s %s %v", e.Level, e.Message, e.ContextMap()["failures"]))
	}
	want := []string{
		"error background WAL checkpoint failed; commits stay durable, but the log grows until it succeeds (check the disk and the database file) 1",
		"error background WAL checkpoint failed; commits stay durable, but the log grows until it succeeds (check the disk and the database file) 100",
		"info background WAL checkpoint recovered 150",
	}
	if !slices.Equal(got, want) {
		t.Errorf("log:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if _, err := c.stats(); err != nil {
		t.Errorf("last error after recovery = %v, want nil", err)
	}
}
