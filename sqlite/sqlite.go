// Package sqlite stores a node's objects in an embedded SQLite database, the
// default for a node: one file, no server.
//
// It implements tearline.ObjectStore natively (SQL written for SQLite, write
// transactions taken with BEGIN IMMEDIATE, WAL journal with full fsync on
// commit). It owns the database schema and its migrations; it MUST NOT
// interpret STIX content beyond the fields tearline.Object exposes.
package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "github.com/mattn/go-sqlite3"

	"github.com/tearline/tearline"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is a SQLite-backed tearline.ObjectStore.
type Store struct {
	db   *sql.DB
	path string
	now  func() time.Time

	// writer runs the write transactions of this process, one at a
	// time (see begin).
	writer *writer

	readOnly bool

	// classes caches release class ids by key; ids enter it only once the
	// transaction that interned them has committed.
	classMu sync.RWMutex
	classes map[[32]byte]int64

	// stmts are the multi-row insert statements of objects and audit
	// entries, prepared once: their many rows make them costly to prepare
	// for every transaction.
	stmts stmtCache

	// readers admits so many page reads (Objects) at a time; see
	// newStore.
	readers chan struct{}

	// statuses are the TAXII statuses waiting to be written (see
	// PutStatus).
	statuses statusQueue

	// checkpoints copies the WAL into the database file in the
	// background (see checkpointer); nil for a read-only store.
	checkpoints *checkpointer

	// freshKeys is about how many keys object_ids_fresh holds, and
	// mergeAt how many it may hold before they are merged (see
	// mergeFreshKeys); both are read and changed under the writer lock.
	freshKeys, mergeAt int
}

var _ tearline.ObjectStore = (*Store)(nil)

// Open opens (creating if needed) the database at path and brings its schema
// up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Set("_txlock", "immediate")
	q.Set("_journal_mode", "WAL")
	q.Set("_synchronous", "FULL")
	q.Set("_busy_timeout", "10000")
	q.Set("_foreign_keys", "on")
	// A 64 MiB page cache keeps the id index of a large node in memory
	// during bulk ingest; SQLite's default is 2 MiB.
	q.Set("_cache_size", "-65536")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := newStore(db, path)
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM object_ids_fresh`).Scan(&s.freshKeys); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: count the fresh keys: %w", path, err)
	}
	s.checkpoints = startCheckpointer(db, s.writer, checkpointEvery)
	return s, nil
}

// OpenReadOnly opens an existing database for reading only: no migrations,
// no checkpoints, no writes. It suits tools that inspect a node while it
// runs.
func OpenReadOnly(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	q.Set("mode", "ro")
	q.Set("_query_only", "true")
	q.Set("_busy_timeout", "10000")
	dsn := "file:" + (&url.URL{Path: path}).EscapedPath() + "?" + q.Encode()
	db, err := sql.Open(driverName, dsn)
	if err != nil {
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	s := newStore(db, path)
	s.readOnly = true
	return s, nil
}

// newStore makes the store of db. Page reads (Objects) are admitted a few
// at a time, twice as many as the CPUs: more would only queue in SQLite,
// and each would hold a connection of its own, whose page cache grows to
// 64 MiB. The connections of the admitted reads, the writer's and a few
// more stay open with their caches warm; others close after use. So the
// store's memory is bounded whatever the number of clients.
func newStore(db *sql.DB, path string) *Store {
	readers := max(4, 2*runtime.GOMAXPROCS(0))
	db.SetMaxIdleConns(readers + 4)
	return &Store{db: db, path: path, now: time.Now, writer: newWriter(db),
		readers: make(chan struct{}, readers), mergeAt: freshKeysMerged}
}

// driverName registers the driver with the per-connection settings that the
// DSN cannot carry.
const driverName = "tearline-sqlite3"

func init() {
	sql.Register(driverName, &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		// The store copies the WAL back into the database itself, in the
		// background (see checkpointer). SQLite's own checkpoint, run by
		// the committing connection under the writer lock, is kept for
		// when the WAL holds 256 MiB, should the store's fall behind.
		if _, err := c.Exec(`PRAGMA wal_autocheckpoint = 65536`, nil); err != nil {
			return err
		}
		// Statement journals stay in memory. A statement that may fail
		// part-way (an insert of many rows, with its constraints)
		// copies each page it changes to one first, and
		// SQLite writes a journal past 64 KiB to a temporary file: two
		// system calls per page, as many pages as the write itself.
		// Each journal lives for one statement.
		_, err := c.Exec(`PRAGMA temp_store = MEMORY`, nil)
		return err
	}})
}

// Close checkpoints the WAL into the database file and closes it.
func (s *Store) Close() error {
	if s.readOnly {
		return s.db.Close()
	}
	kerr := s.checkpoints.stop()
	s.stmts.close()
	werr := s.writer.close()
	_, cerr := s.db.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	if err := s.db.Close(); err != nil {
		return err
	}
	if werr != nil {
		return fmt.Errorf("close sqlite %s: the writers' connection: %w", s.path, werr)
	}
	if kerr != nil {
		return fmt.Errorf("close sqlite %s: in the background: %w", s.path, kerr)
	}
	if cerr != nil {
		return fmt.Errorf("close sqlite %s: checkpoint: %w", s.path, cerr)
	}
	return nil
}

// uninterrupted is the context for a query that reads many rows: the
// driver runs every row of a query whose context can end on a goroutine of
// its own, so that it can interrupt it, which costs more than reading the
// row. Such a query is read with uninterrupted(ctx) and checks ctx between
// rows itself (see cancelled).
func uninterrupted(ctx context.Context) context.Context { return context.WithoutCancel(ctx) }

// cancelled reports ctx's error every 256th row n, for queries read with
// uninterrupted.
func cancelled(ctx context.Context, n int) error {
	if n%256 == 255 {
		return ctx.Err()
	}
	return nil
}

// writer runs the process's write transactions, one at a time, all on
// one connection.
//
// SQLite admits one writer at a time; without the lock, writers that find
// the database locked sleep in SQLite's busy handler for 1 to 100 ms at a
// time and start late, where here they queue and start the moment the
// writer before them ends.
//
// The one connection keeps its page cache: SQLite empties a connection's
// whole cache when it begins a transaction after another connection has
// written. A write transaction taken from the pool starts on another
// connection whenever a read took the last writer's in between, and then
// reads the pages it changes (the last pages of the tables, the indexes)
// back from the file; the more reads, the more often.
type writer struct {
	lock chan struct{}
	db   *sql.DB
	// conn is the writers' connection, taken from db on first use and
	// again if it breaks; read and changed under lock.
	conn *sql.Conn
	// ended counts the write transactions ended, committed or not.
	ended atomic.Uint64
}

func newWriter(db *sql.DB) *writer { return &writer{lock: make(chan struct{}, 1), db: db} }

// begin starts a write transaction (BEGIN IMMEDIATE, the DSN's _txlock)
// once the writer lock is free, or fails when ctx ends first. done rolls
// the transaction back unless it was committed, and frees the lock; call
// it (deferred) in every case.
func (w *writer) begin(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	select {
	case w.lock <- struct{}{}:
	case <-ctx.Done():
		return nil, nil, ctx.Err()
	}
	return w.beginHeld(ctx)
}

// beginHeld is begin for a caller that took the writer lock itself.
func (w *writer) beginHeld(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	if tx, err = w.beginLocked(ctx); err != nil {
		<-w.lock
		return nil, nil, err
	}
	return tx, func() { tx.Rollback(); w.ended.Add(1); <-w.lock }, nil
}

func (w *writer) beginLocked(ctx context.Context) (*sql.Tx, error) {
	for retried := false; ; retried = true {
		if w.conn == nil {
			c, err := w.db.Conn(ctx)
			if err != nil {
				return nil, err
			}
			w.conn = c
		}
		tx, err := w.conn.BeginTx(ctx, nil)
		if err == nil || retried || !(errors.Is(err, sql.ErrConnDone) || errors.Is(err, driver.ErrBadConn)) {
			return tx, err
		}
		// The connection broke: the pool closes it, and the next
		// transaction runs on a new one.
		w.conn.Close()
		w.conn = nil
	}
}

// close gives the writers' connection back to the pool, once the
// transaction under way, if any, has ended.
func (w *writer) close() error {
	w.lock <- struct{}{}
	defer func() { <-w.lock }()
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}

// begin starts a write transaction of the store's writer (see
// writer.begin).
func (s *Store) begin(ctx context.Context) (tx *sql.Tx, done func(), err error) {
	return s.writer.begin(ctx)
}

// exec runs one write statement in a transaction of its own, under the
// writer lock (see begin).
func (s *Store) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	tx, done, err := s.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := tx.ExecContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return res, tx.Commit()
}

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY, applied INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	slices.Sort(names)
	prev := 0
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		n, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return fmt.Errorf("migration %s: name must start with its number", base)
		}
		// Two migrations under one number would leave the second
		// unapplied: each is applied once per number.
		if n <= prev {
			return fmt.Errorf("migration %s: version %d is not above the previous one; give each migration a number of its own", base, n)
		}
		prev = n
		if err := s.applyMigration(ctx, n, name); err != nil {
			return fmt.Errorf("migration %s: %w", base, err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, n int, name string) error {
	tx, done, err := s.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	var applied int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, n).Scan(&applied); err != nil {
		return err
	}
	if applied > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied) VALUES (?, ?)`, n, s.now().UnixMicro()); err != nil {
		return err
	}
	return tx.Commit()
}

// SchemaVersion reports the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v)
	return v, err
}

// Backup writes a consistent copy of the database to dest, which must not
// exist, while the store stays in use.
func (s *Store) Backup(ctx context.Context, dest string) error {
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, dest); err != nil {
		return fmt.Errorf("backup to %s: %w", dest, err)
	}
	return nil
}

func newUUID() string {
	var u [16]byte
	rand.Read(u[:])
	u[6] = (u[6] & 0x0f) | 0x40
	u[8] = (u[8] & 0x3f) | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}

// CreateCollection adds a collection. An empty ID gets a random UUID.
func (s *Store) CreateCollection(ctx context.Context, c tearline.Collection) (tearline.Collection, error) {
	if c.Alias == "" {
		return c, fmt.Errorf("create collection: alias is required: %w", tearline.ErrInvalid)
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.Title == "" {
		c.Title = c.Alias
	}
	if c.Created.IsZero() {
		c.Created = s.now().UTC().Truncate(time.Microsecond)
	}
	_, err := s.exec(ctx, `INSERT INTO collections (id, alias, title, description, created) VALUES (?, ?, ?, ?, ?)`,
		c.ID, c.Alias, c.Title, c.Description, c.Created.UnixMicro())
	var se sqlite3.Error
	if errors.As(err, &se) && se.ExtendedCode == sqlite3.ErrConstraintUnique {
		return c, fmt.Errorf("create collection %q: %w", c.Alias, tearline.ErrExists)
	}
	if err != nil {
		return c, fmt.Errorf("create collection %q: %w", c.Alias, err)
	}
	return c, nil
}

const collectionColumns = `seq, id, alias, title, description, created`

func scanCollection(sc interface{ Scan(...any) error }) (int64, tearline.Collection, error) {
	var c tearline.Collection
	var seq, created int64
	err := sc.Scan(&seq, &c.ID, &c.Alias, &c.Title, &c.Description, &created)
	c.Created = time.UnixMicro(created).UTC()
	return seq, c, err
}

// Collections lists every collection.
func (s *Store) Collections(ctx context.Context) ([]tearline.Collection, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+collectionColumns+` FROM collections ORDER BY created, alias`)
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	defer rows.Close()
	var out []tearline.Collection
	for rows.Next() {
		_, c, err := scanCollection(rows)
		if err != nil {
			return nil, fmt.Errorf("list collections: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Collection finds a collection by id or alias.
func (s *Store) Collection(ctx context.Context, idOrAlias string) (tearline.Collection, error) {
	_, c, err := s.collection(ctx, s.db, idOrAlias)
	return c, err
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (s *Store) collection(ctx context.Context, q querier, idOrAlias string) (int64, tearline.Collection, error) {
	seq, c, err := scanCollection(q.QueryRowContext(ctx,
		`SELECT `+collectionColumns+` FROM collections WHERE id = ? OR alias = ? LIMIT 1`, idOrAlias, idOrAlias))
	if errors.Is(err, sql.ErrNoRows) {
		return 0, c, fmt.Errorf("collection %q: %w", idOrAlias, tearline.ErrNotFound)
	}
	if err != nil {
		return 0, c, fmt.Errorf("collection %q: %w", idOrAlias, err)
	}
	return seq, c, nil
}
