// Package postgres stores a Tearline node's collections and object versions in
// PostgreSQL, for nodes that outgrow the embedded SQLite store or run several
// replicas over one database.
//
// The package owns the PostgreSQL schema and its migrations, and is the only
// package that imports pgx. It implements tearline.ObjectStore natively: batch
// writes go through COPY, DateAdded comes from a clock row in the database so
// that every replica shares it, and queries are planned by PostgreSQL. It MUST
// NOT parse STIX: objects arrive with their id, type, version and hash already
// extracted.
package postgres

import (
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tearline/tearline"
)

// Store is a tearline.ObjectStore backed by a PostgreSQL database. It is safe
// for concurrent use, and several Stores, in one process or in several, may
// share a database.
type Store struct {
	pool *pgxpool.Pool

	// classes caches release class ids by key; ids enter it only once the
	// transaction that interned them has committed.
	classMu sync.RWMutex
	classes map[[32]byte]int64
}

var _ tearline.ObjectStore = (*Store)(nil)

// Open connects to the database at url (a pgx connection string, URL or
// keyword/value form), brings its schema up to date and returns the Store.
func Open(ctx context.Context, url string) (*Store, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres store: %w", err)
	}
	return &Store{pool: pool}, nil
}

// Close releases the Store's connections.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

// loadMigrations reads the embedded migrations, named NNNN_description.sql,
// and checks that each has a version of its own. Versions may have gaps:
// migrations written side by side on separate branches take numbers ahead
// of each other, and migrate applies every one a database lacks, not only
// those past its newest, so none is skipped.
func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	ms := make([]migration, 0, len(names))
	for _, name := range names { // fs.Glob returns names sorted
		base := path.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number and an underscore", base)
		}
		if v <= 0 || (len(ms) > 0 && v <= ms[len(ms)-1].version) {
			return nil, fmt.Errorf("migration %s: version %d is not above the previous one; give each migration a number of its own", base, v)
		}
		b, err := migrationFiles.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	return ms, nil
}

// migrationLock is the key of the advisory lock that serialises migrations
// among replicas starting at the same time: "tearline" in ASCII.
const migrationLock = 0x746561726c696e65

// migrate applies the migrations the database lacks, all in one transaction.
func migrate(ctx context.Context, pool *pgxpool.Pool) error {
	ms, err := loadMigrations()
	if err != nil {
		return fmt.Errorf("load migrations: %w", err)
	}
	tx, err := pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer tx.Rollback(ctx)

	// Take the lock before touching schema_migrations: two replicas creating
	// the table at once would otherwise collide in the catalog.
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", int64(migrationLock)); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version integer PRIMARY KEY,
		applied timestamptz NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("migrate: create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, "SELECT version FROM schema_migrations")
	if err != nil {
		return fmt.Errorf("migrate: read versions: %w", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return fmt.Errorf("migrate: read versions: %w", err)
	}
	known := map[int]bool{}
	for _, m := range ms {
		known[m.version] = true
	}
	done := map[int]bool{}
	for _, v := range applied {
		if !known[v] {
			// An older binary must not write to a schema it does not know.
			return fmt.Errorf("migrate: database schema has migration %d, which this build does not know; upgrade tearline", v)
		}
		done[v] = true
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		if _, err := tx.Exec(ctx, m.sql); err != nil {
			return fmt.Errorf("migrate: apply %s: %w", m.name, err)
		}
		if _, err := tx.Exec(ctx, "INSERT INTO schema_migrations (version) VALUES ($1)", m.version); err != nil {
			return fmt.Errorf("migrate: record %s: %w", m.name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}

// SchemaVersion reports the version of the newest migration applied.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.pool.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM schema_migrations").Scan(&v); err != nil {
		return 0, fmt.Errorf("schema version: %w", err)
	}
	return v, nil
}

// uniqueViolation is the SQLSTATE of a unique constraint violation.
const uniqueViolation = "23505"

// CreateCollection stores a new collection. The alias is required. An empty ID
// gets a random UUID, an empty Title the alias, and a zero Created the current
// time. Created is kept to the microsecond, as PostgreSQL stores it; the
// returned collection is the one stored. An ID or alias already used by
// another collection, as either, is an error wrapping tearline.ErrExists.
func (s *Store) CreateCollection(ctx context.Context, c tearline.Collection) (tearline.Collection, error) {
	if c.Alias == "" {
		return tearline.Collection{}, fmt.Errorf("create collection: alias is required: %w", tearline.ErrInvalid)
	}
	if c.ID == "" {
		c.ID = newUUID()
	}
	if c.Title == "" {
		c.Title = c.Alias
	}
	if c.Created.IsZero() {
		c.Created = time.Now()
	}
	c.Created = c.Created.UTC().Truncate(time.Microsecond)
	for _, f := range []struct{ name, v string }{
		{"id", c.ID}, {"alias", c.Alias}, {"title", c.Title}, {"description", c.Description},
	} {
		if err := checkText(f.v); err != nil {
			return tearline.Collection{}, fmt.Errorf("create collection: %s: %w", f.name, err)
		}
	}
	// Collection looks collections up by id or alias, so neither may name
	// another collection in either role.
	tag, err := s.pool.Exec(ctx, `
		INSERT INTO collections (id, alias, title, description, created)
		SELECT $1, $2, $3, $4, $5
		WHERE NOT EXISTS (SELECT FROM collections WHERE id = $2 OR alias = $1)`,
		c.ID, c.Alias, c.Title, c.Description, c.Created)
	var pgErr *pgconn.PgError
	switch {
	case errors.As(err, &pgErr) && pgErr.Code == uniqueViolation, err == nil && tag.RowsAffected() == 0:
		return tearline.Collection{}, fmt.Errorf("create collection %q (alias %q): %w", c.ID, c.Alias, tearline.ErrExists)
	case err != nil:
		return tearline.Collection{}, fmt.Errorf("create collection %q: %w", c.ID, err)
	}
	return c, nil
}

const collectionColumns = "id, alias, title, description, created"

func scanCollection(row pgx.Row) (tearline.Collection, error) {
	var c tearline.Collection
	err := row.Scan(&c.ID, &c.Alias, &c.Title, &c.Description, &c.Created)
	c.Created = c.Created.UTC()
	return c, err
}

// Collections lists the node's collections, oldest first.
func (s *Store) Collections(ctx context.Context) ([]tearline.Collection, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+collectionColumns+
		" FROM collections ORDER BY created, alias")
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (tearline.Collection, error) {
		return scanCollection(row)
	})
	if err != nil {
		return nil, fmt.Errorf("list collections: %w", err)
	}
	return cs, nil
}

// Collection returns the collection with the given id or alias.
func (s *Store) Collection(ctx context.Context, idOrAlias string) (tearline.Collection, error) {
	c, err := scanCollection(s.pool.QueryRow(ctx, "SELECT "+collectionColumns+
		" FROM collections WHERE id = $1 OR alias = $1", idOrAlias))
	if errors.Is(err, pgx.ErrNoRows) {
		return tearline.Collection{}, fmt.Errorf("collection %q: %w", idOrAlias, tearline.ErrNotFound)
	}
	if err != nil {
		return tearline.Collection{}, fmt.Errorf("collection %q: %w", idOrAlias, err)
	}
	return c, nil
}

// querier is what collectionNum needs from a pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// collectionNum resolves a collection id or alias to the surrogate key that
// object rows carry.
func collectionNum(ctx context.Context, q querier, idOrAlias string) (int32, error) {
	return lookupNum(ctx, q, "SELECT num FROM collections WHERE id = $1 OR alias = $1", idOrAlias)
}

// lockCollection is collectionNum for a transaction that writes objects: it
// also locks the collection row against deletion until the transaction ends,
// which is what a foreign key would do, once per batch instead of per row.
func lockCollection(ctx context.Context, tx pgx.Tx, idOrAlias string) (int32, error) {
	return lookupNum(ctx, tx, "SELECT num FROM collections WHERE id = $1 OR alias = $1 FOR KEY SHARE", idOrAlias)
}

func lookupNum(ctx context.Context, q querier, sql, idOrAlias string) (int32, error) {
	var num int32
	err := q.QueryRow(ctx, sql, idOrAlias).Scan(&num)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, fmt.Errorf("collection %q: %w", idOrAlias, tearline.ErrNotFound)
	}
	if err != nil {
		return 0, fmt.Errorf("collection %q: %w", idOrAlias, err)
	}
	return num, nil
}

// Count reports how many object versions the collection holds, or the whole
// node when collection is empty.
func (s *Store) Count(ctx context.Context, collection string) (int64, error) {
	var n int64
	if collection == "" {
		if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM objects").Scan(&n); err != nil {
			return 0, fmt.Errorf("count objects: %w", err)
		}
		return n, nil
	}
	num, err := collectionNum(ctx, s.pool, collection)
	if err != nil {
		return 0, fmt.Errorf("count objects: %w", err)
	}
	if err := s.pool.QueryRow(ctx, "SELECT count(*) FROM objects WHERE collection = $1", num).Scan(&n); err != nil {
		return 0, fmt.Errorf("count objects in %q: %w", collection, err)
	}
	return n, nil
}

// checkText rejects strings that a PostgreSQL text column cannot hold, so that
// the caller gets tearline.ErrInvalid rather than a driver error.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("not valid UTF-8: %w", tearline.ErrInvalid)
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("contains a NUL character: %w", tearline.ErrInvalid)
	}
	return nil
}

// newUUID returns a random (version 4) UUID in its canonical text form.
func newUUID() string {
	var b [16]byte
	rand.Read(b[:]) // never returns an error; it crashes the program instead
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
