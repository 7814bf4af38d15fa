package node

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"

	"go.uber.org/zap"
)

// SQLite WAL checkpoints. A checkpoint copies the pages committed to the
// write-ahead log into the database file and fsyncs it. SQLite runs one
// inside the commit that takes the log past wal_autocheckpoint pages, so
// every few hundred records one commit (and every ack behind it) waited
// for several megabytes to be copied and synced. The checkpointer does
// that work on a connection of its own while the writer goes on
// committing; durability does not change, since a commit is durable once
// its log frames are synced (synchronous=FULL).
const (
	// checkpointBytes is how much record data is committed between
	// background checkpoints (about 500 pages).
	checkpointBytes = 2 << 20
	// inlineCheckpointPages is the writer's own wal_autocheckpoint: a
	// safety net should the checkpointer fall behind.
	inlineCheckpointPages = 8192
	// restartFrames: a log this long is reset (RESTART checkpoint), which
	// waits for the writer's current transaction. A passive checkpoint
	// never waits, so under continuous load it copies everything but the
	// frames of the commits that ran meanwhile, and the log would only
	// grow.
	restartFrames = 16384
)

// checkpointer runs WAL checkpoints in the background for a SQLite store.
// Store.Close stops it.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
	// every and restart are checkpointBytes and restartFrames (tests
	// lower them).
	every   int64
	restart int
	// observe, when set (tests), sees each checkpoint's mode and the log's
	// length in frames.
	observe func(mode string, frames int)
	// step is the checkpoint run at each kick: checkpoint, or a fake in
	// tests.
	step func() error

	mu       sync.Mutex
	log      *zap.Logger
	pending  int64 // bytes committed since the last kick
	err      error // of the last checkpoint
	runs     int   // checkpoints done, for tests
	failures int   // consecutive failed checkpoints
}

func newCheckpointer(db *sql.DB) *checkpointer {
	c := &checkpointer{db: db, log: zap.NewNop(), kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), every: checkpointBytes, restart: restartFrames}
	c.step = c.checkpoint
	go c.run()
	return c
}

// committed tells the checkpointer that a commit stored about n bytes.
func (c *checkpointer) committed(n int64) {
	c.mu.Lock()
	c.pending += n
	due := c.pending >= c.every
	if due {
		c.pending = 0
	}
	c.mu.Unlock()
	if due {
		wake(c.kick)
	}
}

func (c *checkpointer) run() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		err := c.step()
		c.mu.Lock()
		c.err = err
		c.runs++
		log, failures := c.log, c.failures
		if err != nil {
			c.failures++
		} else {
			c.failures = 0
		}
		c.mu.Unlock()
		// Once per failure streak (and every 100th failure), then once on
		// recovery: a stuck checkpoint shows in the log without flooding
		// it. Commits stay durable meanwhile; SQLite's own autocheckpoint
		// (inlineCheckpointPages) bounds the log.
		switch {
		case err != nil && (failures == 0 || (failures+1)%100 == 0):
			log.Error("background WAL checkpoint failed; commits stay durable, but the log grows until it succeeds (check the disk and the database file)",
				zap.Int("failures", failures+1), zap.Error(err))
		case err == nil && failures > 0:
			log.Info("background WAL checkpoint recovered", zap.Int("failures", failures))
		}
	}
}

// setLogger sets where failing checkpoints are reported.
func (c *checkpointer) setLogger(log *zap.Logger) {
	c.mu.Lock()
	c.log = log
	c.mu.Unlock()
}

// stats returns the number of checkpoints run and the last one's error.
func (c *checkpointer) stats() (runs int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs, c.err
}

// checkpoint copies what it can of the log without waiting for the writer
// and resets a long log.
func (c *checkpointer) checkpoint() error {
	frames, err := c.pragma("PASSIVE")
	if err != nil || frames < c.restart {
		return err
	}
	_, err = c.pragma("RESTART")
	return err
}

// pragma runs PRAGMA wal_checkpoint(mode) and returns the log's length in
// frames. A checkpoint that found the database busy is not an error: the
// next one copies the rest.
func (c *checkpointer) pragma(mode string) (frames int, err error) {
	var busy, done int
	err = c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint("+mode+")").Scan(&busy, &frames, &done)
	if err != nil && strings.Contains(err.Error(), "SQLITE_BUSY") {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("node: SQLite %s checkpoint: %w", strings.ToLower(mode), err)
	}
	if c.observe != nil {
		c.observe(mode, frames)
	}
	return frames, nil
}

// close stops the checkpointer and closes its connection.
func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
