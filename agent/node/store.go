package node

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"

	_ "github.com/jackc/pgx/v5/stdlib" // database/sql driver "pgx"
	"go.uber.org/zap"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/bali-rbdes/kiosk/agent/nodeverify"
)

// dialect holds what differs between SQLite and PostgreSQL.
type dialect struct {
	name     string
	blob     string // binary column type
	serial   string // auto-increment primary key column definition
	lockRows bool   // SELECT ... FOR UPDATE serializes a kiosk's transactions
	dollar   bool   // placeholders are $1, $2, ... instead of ?
}

var (
	sqliteDialect   = dialect{name: "sqlite", blob: "BLOB", serial: "INTEGER PRIMARY KEY AUTOINCREMENT"}
	postgresDialect = dialect{name: "postgres", blob: "BYTEA", serial: "BIGSERIAL PRIMARY KEY", lockRows: true, dollar: true}
)

// q rewrites a query written with ? placeholders for the dialect.
func (d dialect) q(query string) string {
	if !d.dollar {
		return query
	}
	var b strings.Builder
	n := 0
	for _, c := range query {
		if c == '?' {
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
			continue
		}
		b.WriteRune(c)
	}
	return b.String()
}

func (d dialect) schema() []string {
	return []string{
		`CREATE TABLE IF NOT EXISTS kiosks (
			kiosk_id TEXT PRIMARY KEY,
			first_seen_ms BIGINT NOT NULL DEFAULT 0,
			last_seen_ms BIGINT NOT NULL DEFAULT 0,
			records BIGINT NOT NULL DEFAULT 0,
			last_seq BIGINT NOT NULL DEFAULT 0,
			last_created_ms BIGINT NOT NULL DEFAULT 0,
			last_stored_ms BIGINT NOT NULL DEFAULT 0,
			online INTEGER NOT NULL DEFAULT 0,
			status_kind INTEGER NOT NULL DEFAULT 0,
			boot_epoch BIGINT NOT NULL DEFAULT 0,
			connect_epoch BIGINT NOT NULL DEFAULT 0,
			status_ms BIGINT NOT NULL DEFAULT 0,
			queue_depth BIGINT NOT NULL DEFAULT 0,
			oldest_unacked_age_ms BIGINT NOT NULL DEFAULT 0,
			dead_letters BIGINT NOT NULL DEFAULT 0,
			agent_version TEXT NOT NULL DEFAULT '',
			alarms TEXT NOT NULL DEFAULT ''
		)`,
		`CREATE TABLE IF NOT EXISTS records (
			id ` + d.serial + `,
			kiosk_id TEXT NOT NULL,
			record_id TEXT NOT NULL,
			seq BIGINT NOT NULL,
			boot_epoch BIGINT NOT NULL,
			hash ` + d.blob + ` NOT NULL,
			prev_hash ` + d.blob + ` NOT NULL,
			created_ms BIGINT NOT NULL DEFAULT 0,
			captured_ms BIGINT NOT NULL DEFAULT 0,
			stored_ms BIGINT NOT NULL DEFAULT 0,
			node_id TEXT NOT NULL DEFAULT '',
			suite TEXT NOT NULL DEFAULT '',
			node_key_id TEXT NOT NULL DEFAULT '',
			device_key_id TEXT NOT NULL DEFAULT '',
			site TEXT NOT NULL DEFAULT '',
			session_id TEXT NOT NULL DEFAULT '',
			officer_id TEXT NOT NULL DEFAULT '',
			policy TEXT NOT NULL DEFAULT '',
			agent_version TEXT NOT NULL DEFAULT '',
			devices TEXT NOT NULL DEFAULT '',
			timings TEXT NOT NULL DEFAULT '',
			UNIQUE (kiosk_id, record_id),
			UNIQUE (kiosk_id, seq)
		)`,
		`CREATE TABLE IF NOT EXISTS templates (
			record_pk BIGINT NOT NULL REFERENCES records (id),
			idx INTEGER NOT NULL,
			position INTEGER NOT NULL,
			iso_template ` + d.blob + `,
			quality INTEGER NOT NULL DEFAULT 0,
			attempts INTEGER NOT NULL DEFAULT 0,
			missing_reason INTEGER NOT NULL DEFAULT 0,
			minutiae INTEGER NOT NULL DEFAULT 0,
			device TEXT NOT NULL DEFAULT '',
			duration_ms INTEGER NOT NULL DEFAULT 0,
			image_format INTEGER NOT NULL DEFAULT 0,
			image_width INTEGER NOT NULL DEFAULT 0,
			image_height INTEGER NOT NULL DEFAULT 0,
			image_ppi INTEGER NOT NULL DEFAULT 0,
			image ` + d.blob + `,
			PRIMARY KEY (record_pk, idx)
		)`,
		`CREATE TABLE IF NOT EXISTS faces (
			record_pk BIGINT PRIMARY KEY REFERENCES records (id),
			iso_record ` + d.blob + `,
			quality INTEGER NOT NULL DEFAULT 0,
			accepted INTEGER NOT NULL DEFAULT 0,
			frames INTEGER NOT NULL DEFAULT 0,
			measures TEXT NOT NULL DEFAULT '',
			reasons TEXT NOT NULL DEFAULT '',
			device TEXT NOT NULL DEFAULT '',
			duration_ms INTEGER NOT NULL DEFAULT 0
		)`,
		`CREATE TABLE IF NOT EXISTS chain_gaps (
			kiosk_id TEXT NOT NULL,
			from_seq BIGINT NOT NULL,
			to_seq BIGINT NOT NULL,
			open_start INTEGER NOT NULL DEFAULT 0,
			found_ms BIGINT NOT NULL DEFAULT 0,
			PRIMARY KEY (kiosk_id, from_seq)
		)`,
	}
}

// Store is the node's record store: kiosks, records (metadata, templates,
// face, chain position) and chain gaps, in SQLite or PostgreSQL. It
// implements nodeverify.ChainStore, and Group commits many records in one
// transaction. Every write of a record happens in one transaction with its
// chain link, so a record is stored exactly once however often it is
// delivered.
type Store struct {
	db *sql.DB
	d  dialect

	mu    sync.Mutex
	stmts map[string]*sql.Stmt // prepared once: parsing SQL costs more than running it

	ckpt *checkpointer // SQLite only
}

// OpenSQLite opens (creating it when needed) the SQLite database at path
// in WAL mode with synchronous=FULL: a commit is on disk when it returns.
// One connection writes; transactions are BEGIN IMMEDIATE. A second
// connection copies the log into the database file in the background
// (checkpoint.go).
func OpenSQLite(ctx context.Context, path string) (*Store, error) {
	base := "file:" + path + "?_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=busy_timeout(10000)"
	db, err := sql.Open("sqlite", base+"&_pragma=foreign_keys(ON)&_pragma=wal_autocheckpoint("+strconv.Itoa(inlineCheckpointPages)+")&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("node: opening SQLite database %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	s := &Store{db: db, d: sqliteDialect, stmts: map[string]*sql.Stmt{}}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("node: SQLite database %s (check the path and its permissions): %w", path, err)
	}
	cdb, err := sql.Open("sqlite", base)
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("node: opening SQLite database %s for checkpoints: %w", path, err)
	}
	cdb.SetMaxOpenConns(1)
	s.ckpt = newCheckpointer(cdb)
	return s, nil
}

// OpenPostgres connects to PostgreSQL with dsn (a libpq connection string
// or postgres:// URL) and creates the tables when needed. Several node
// instances may share one database: a kiosk's records are serialized by a
// row lock on the kiosk.
func OpenPostgres(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("node: PostgreSQL connection string: %w", err)
	}
	db.SetMaxOpenConns(8)
	s := &Store{db: db, d: postgresDialect, stmts: map[string]*sql.Stmt{}}
	if err := s.init(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("node: PostgreSQL (check store.dsn, the server and the role's rights): %w", err)
	}
	return s, nil
}

// Open opens the store the node config names: "sqlite" with path, or
// "postgres" with dsn.
func Open(ctx context.Context, driver, path, dsn string) (*Store, error) {
	switch driver {
	case "sqlite":
		return OpenSQLite(ctx, path)
	case "postgres":
		return OpenPostgres(ctx, dsn)
	}
	return nil, fmt.Errorf("node: store driver %q: want sqlite or postgres", driver)
}

func (s *Store) init(ctx context.Context) error {
	if err := s.db.PingContext(ctx); err != nil {
		return err
	}
	for _, stmt := range s.d.schema() {
		if _, err := s.db.ExecContext(ctx, stmt); err != nil {
			if s.d.lockRows && isUniqueViolation(err) {
				continue // another instance created it at the same moment
			}
			return fmt.Errorf("creating tables: %w", err)
		}
	}
	for _, q := range txQueries {
		st, err := s.db.PrepareContext(ctx, s.d.q(q))
		if err != nil {
			return fmt.Errorf("preparing statements: %w", err)
		}
		s.stmts[q] = st
	}
	return nil
}

// setLogger sets where the store reports what goes wrong in the
// background (failing WAL checkpoints); the default discards it.
func (s *Store) setLogger(log *zap.Logger) {
	if s.ckpt != nil && log != nil {
		s.ckpt.setLogger(log)
	}
}

// Close closes the database.
func (s *Store) Close() error {
	var ckptErr error
	if s.ckpt != nil {
		ckptErr = s.ckpt.close()
	}
	s.mu.Lock()
	for _, st := range s.stmts {
		st.Close()
	}
	clear(s.stmts)
	s.mu.Unlock()
	return errors.Join(ckptErr, s.db.Close())
}

// stmt returns the statement of query prepared at open (one of
// txQueries). It never prepares inside a transaction: with SQLite's single
// connection that would wait for the connection the transaction holds.
func (s *Store) stmt(query string) (*sql.Stmt, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.stmts[query]
	return st, ok
}

// Driver returns "sqlite" or "postgres".
func (s *Store) Driver() string { return s.d.name }

// Op is one kiosk's work inside a Group transaction. When Fn fails, what
// it wrote is undone and Err says why, and the other ops still commit. Fn
// may run more than once (see Group), so it must act only through tx.
type Op struct {
	KioskID string
	Fn      func(tx *Tx) error
	// Err is Fn's error after Group returns.
	Err error
}

// errOpWrote says that an op failed after writing, so the batch must run
// again with a savepoint per op.
var errOpWrote = errors.New("node: an op failed after writing")

// Group runs ops in one transaction, in order, and commits once (one
// fsync for all of them). It returns the error of the transaction itself
// (begin, lock, commit): then nothing of any op was stored. Kiosks are
// locked in sorted order first so that node instances sharing a
// PostgreSQL database never deadlock.
//
// Ops run without savepoints first: an op that fails before writing
// anything (a rejected record) needs no undo. When an op fails after a
// write or a failed statement, the transaction is rolled back and the
// batch runs again with each op in its own savepoint, as the only way to
// undo that op alone.
func (s *Store) Group(ctx context.Context, ops []*Op) error {
	err := s.group(ctx, ops, false)
	if errors.Is(err, errOpWrote) {
		err = s.group(ctx, ops, true)
	}
	return err
}

func (s *Store) group(ctx context.Context, ops []*Op, savepoints bool) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("node: beginning a store transaction: %w", err)
	}
	defer tx.Rollback()
	g := newGroup(s, tx, ctx)
	var ids []string
	for _, op := range ops {
		if op.KioskID != "" {
			ids = append(ids, op.KioskID)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if err := g.lockKiosk(id); err != nil {
			return err
		}
	}
	for i, op := range ops {
		sp := "op" + strconv.Itoa(i)
		if savepoints {
			if _, err := tx.ExecContext(ctx, "SAVEPOINT "+sp); err != nil {
				return fmt.Errorf("node: savepoint: %w", err)
			}
		}
		t := &Tx{g: g, kiosk: op.KioskID}
		op.Err = op.Fn(t)
		if op.Err == nil {
			op.Err = t.flush()
		}
		switch {
		case op.Err == nil:
			g.settle(t)
		case !savepoints && t.dirty:
			return errOpWrote
		case savepoints:
			if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+sp); err != nil {
				return fmt.Errorf("node: rolling back to a savepoint: %w", err)
			}
		}
		if savepoints {
			if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+sp); err != nil {
				return fmt.Errorf("node: releasing a savepoint: %w", err)
			}
		}
	}
	if err := g.saveCounters(); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("node: committing %d records: %w", len(ops), err)
	}
	if s.ckpt != nil {
		s.ckpt.committed(g.bytes)
	}
	return nil
}

// Update implements nodeverify.ChainStore: fn runs in a transaction of its
// own over kiosk's chain. The node itself uses Group.
func (s *Store) Update(ctx context.Context, kioskID string, fn func(tx nodeverify.ChainTx) error) error {
	op := &Op{KioskID: kioskID, Fn: func(tx *Tx) error { return fn(tx) }}
	if err := s.Group(ctx, []*Op{op}); err != nil {
		return err
	}
	return op.Err
}

func isUniqueViolation(err error) bool {
	return err != nil && (strings.Contains(err.Error(), "SQLSTATE 23505") || strings.Contains(err.Error(), "SQLSTATE 42P07") || strings.Contains(err.Error(), "UNIQUE constraint failed"))
}
