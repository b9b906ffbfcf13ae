package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"strings"
	"sync"

	"github.com/transparency-dev/merkle/compact"

	"github.com/tearline/tearline/ledger"
)

// Ledger is the ledger.Storage kept in a Store's database, in tables of its
// own. Append is one write transaction; SQLite admits one writer at a time,
// so the size checked inside it cannot change before the commit, and two
// appenders at the same first cannot both succeed, even from two processes.
type Ledger struct {
	db    *sql.DB
	stmts *stmtCache
	// tx, when set, is the write transaction of a change that the ledger
	// records: appends join it instead of taking their own, so that the
	// change and its entry commit together or not at all.
	tx *sql.Tx
	// writer runs the appends that take a transaction of their own
	// (see Store.begin).
	writer *writer
}

// dbtx is what a *sql.DB and a *sql.Tx share.
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func (l *Ledger) conn() dbtx {
	if l.tx != nil {
		return l.tx
	}
	return l.db
}

var _ ledger.Storage = (*Ledger)(nil)

// Ledger returns the audit log storage in the store's database.
func (s *Store) Ledger() *Ledger { return &Ledger{db: s.db, stmts: &s.stmts, writer: s.writer} }

// ledgerIn returns the audit log storage that appends within tx.
func (s *Store) ledgerIn(tx *sql.Tx) *Ledger {
	return &Ledger{db: s.db, stmts: &s.stmts, tx: tx, writer: s.writer}
}

// stmtCache holds statements prepared on the database, by text; a
// transaction uses them through Tx.StmtContext, which prepares each once
// per connection.
type stmtCache struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (c *stmtCache) get(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.m[query]; st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.m == nil {
		c.m = map[string]*sql.Stmt{}
	}
	c.m[query] = st
	return st, nil
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.m {
		st.Close()
	}
	c.m = nil
}

// Size implements ledger.Storage.
func (l *Ledger) Size(ctx context.Context) (uint64, error) {
	n, err := ledgerSize(ctx, l.conn())
	if err != nil {
		return 0, fmt.Errorf("ledger size: %w", err)
	}
	return n, nil
}

func ledgerSize(ctx context.Context, q querier) (uint64, error) {
	var n int64
	if err := q.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM ledger_entries`).Scan(&n); err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// Append implements ledger.Storage.
func (l *Ledger) Append(ctx context.Context, first uint64, entries [][]byte, nodes []ledger.Node) error {
	if err := l.append(ctx, first, entries, nodes); err != nil {
		return fmt.Errorf("ledger append at %d: %w", first, err)
	}
	return nil
}

func (l *Ledger) append(ctx context.Context, first uint64, entries [][]byte, nodes []ledger.Node) error {
	// BEGIN IMMEDIATE (the DSN's _txlock): the write lock is held from here.
	tx := l.tx
	if tx == nil {
		var done func()
		var err error
		if tx, done, err = l.writer.begin(ctx); err != nil {
			return err
		}
		defer done()
	}
	size, err := ledgerSize(ctx, tx)
	if err != nil {
		return err
	}
	if first != size {
		return fmt.Errorf("%w: size %d", ledger.ErrConflict, size)
	}
	if uint64(len(entries)) > math.MaxInt64-size {
		return fmt.Errorf("%d entries overflow the index", len(entries))
	}
	// Rows go in many to a statement: each statement is a trip through
	// cgo and the SQLite VM, which costs more than the row.
	err = l.insertRows(ctx, tx, `INSERT INTO ledger_entries (idx, entry) VALUES `, `(?, coalesce(?, x''))`, len(entries),
		func(i int, args []any) []any { return append(args, int64(first)+int64(i), entries[i]) })
	if err != nil {
		return fmt.Errorf("entries: %w", err)
	}
	keys := make([]int64, len(nodes))
	for i, n := range nodes {
		k, ok := nodeKey(n.ID)
		if !ok {
			return fmt.Errorf("node %d/%d: index out of range", n.ID.Level, n.ID.Index)
		}
		keys[i] = k
	}
	// Nodes are replaced, as in ledger.Memory: a node an append completes
	// cannot exist yet, unless the caller is not a ledger.Log.
	err = l.insertRows(ctx, tx, `INSERT OR REPLACE INTO ledger_tree (key, hash) VALUES `, `(?, coalesce(?, x''))`, len(nodes),
		func(i int, args []any) []any { return append(args, keys[i], nodes[i].Hash) })
	if err != nil {
		return fmt.Errorf("nodes: %w", err)
	}
	if l.tx != nil {
		return nil // the change's transaction commits both
	}
	return tx.Commit()
}

// ledgerChunk is the most rows per insert statement.
const ledgerChunk = 128

// insertRows inserts n rows with statements of up to ledgerChunk rows,
// each row's arguments appended by row. Statements have a power of two of
// rows, so that few texts serve every n and each is prepared once (the
// cache), rather than parsed again for every append.
func (l *Ledger) insertRows(ctx context.Context, tx *sql.Tx, head, values string, n int, row func(i int, args []any) []any) error {
	args := make([]any, 0, 3*ledgerChunk)
	for start := 0; start < n; {
		k := ledgerChunk
		for k > n-start {
			k /= 2
		}
		args = args[:0]
		for i := start; i < start+k; i++ {
			args = row(i, args)
		}
		query := head + strings.Repeat(values+",", k-1) + values
		var err error
		if l.stmts != nil {
			var st *sql.Stmt
			if st, err = l.stmts.get(ctx, l.db, query); err == nil {
				_, err = tx.StmtContext(ctx, st).ExecContext(ctx, args...)
			}
		} else {
			_, err = tx.ExecContext(ctx, query, args...)
		}
		if err != nil {
			return err
		}
		start += k
	}
	return nil
}

// Entry implements ledger.Storage.
func (l *Ledger) Entry(ctx context.Context, index uint64) ([]byte, error) {
	if index > math.MaxInt64 {
		return nil, fmt.Errorf("ledger entry %d: %w", index, ledger.ErrNotFound)
	}
	var e []byte
	err := l.conn().QueryRowContext(ctx, `SELECT entry FROM ledger_entries WHERE idx = ?`, int64(index)).Scan(&e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("ledger entry %d: %w", index, ledger.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger entry %d: %w", index, err)
	}
	return e, nil
}

// nodeKey is the key of node id in ledger_tree: the index of the last leaf
// under it times 64, plus its level, so that nodes are keyed in the order
// appends complete them. It is false for a node no log of at most 2^56
// entries has.
func nodeKey(id compact.NodeID) (int64, bool) {
	if id.Level >= 57 || id.Index >= (1<<57)>>id.Level {
		return 0, false
	}
	last := (id.Index+1)<<id.Level - 1
	return int64(last<<6 | uint64(id.Level)), true
}

// hashesPerQuery bounds the ids looked up by one statement, well below
// SQLite's limit on parameters.
const hashesPerQuery = 800

// Hashes implements ledger.Storage. Stored nodes never change, so each chunk
// of ids may be read in a statement of its own.
func (l *Ledger) Hashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	for start := 0; start < len(ids); start += hashesPerQuery {
		chunk := ids[start:min(start+hashesPerQuery, len(ids))]
		if err := l.hashes(ctx, chunk, out[start:]); err != nil {
			return nil, fmt.Errorf("ledger hashes: %w", err)
		}
	}
	return out, nil
}

func (l *Ledger) hashes(ctx context.Context, ids []compact.NodeID, out [][]byte) error {
	want := make(map[int64][]int, len(ids))
	var (
		q    strings.Builder
		args []any
	)
	q.WriteString(`SELECT key, hash FROM ledger_tree WHERE key IN (`)
	for i, id := range ids {
		k, ok := nodeKey(id)
		if !ok {
			return fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ledger.ErrNotFound)
		}
		if _, dup := want[k]; !dup {
			if len(args) > 0 {
				q.WriteString(", ")
			}
			q.WriteString("?")
			args = append(args, k)
		}
		want[k] = append(want[k], i)
	}
	q.WriteString(")")
	rows, err := l.conn().QueryContext(ctx, q.String(), args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	found := 0
	for rows.Next() {
		var (
			k int64
			h []byte
		)
		if err := rows.Scan(&k, &h); err != nil {
			return err
		}
		for j, i := range want[k] {
			if j > 0 {
				h = append([]byte(nil), h...)
			}
			out[i] = h
		}
		found++
	}
	if err := rows.Err(); err != nil {
		return err
	}
	if found < len(want) {
		for i, id := range ids {
			if out[i] == nil {
				return fmt.Errorf("node %d/%d: %w", id.Level, id.Index, ledger.ErrNotFound)
			}
		}
	}
	return nil
}

// AddCheckpoint implements ledger.Storage.
func (l *Ledger) AddCheckpoint(ctx context.Context, signed []byte) error {
	if _, err := l.conn().ExecContext(ctx, `INSERT INTO ledger_checkpoints (signed) VALUES (coalesce(?, x''))`, signed); err != nil {
		return fmt.Errorf("ledger add checkpoint: %w", err)
	}
	return nil
}

// Checkpoints implements ledger.Storage.
func (l *Ledger) Checkpoints(ctx context.Context) ([][]byte, error) {
	rows, err := l.conn().QueryContext(ctx, `SELECT signed FROM ledger_checkpoints ORDER BY seq`)
	if err != nil {
		return nil, fmt.Errorf("ledger checkpoints: %w", err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var c []byte
		if err := rows.Scan(&c); err != nil {
			return nil, fmt.Errorf("ledger checkpoints: %w", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger checkpoints: %w", err)
	}
	return out, nil
}

// LatestCheckpoint returns the checkpoint stored last, or nil if there is
// none.
func (l *Ledger) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	var c []byte
	err := l.conn().QueryRowContext(ctx, `SELECT signed FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1`).Scan(&c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger latest checkpoint: %w", err)
	}
	return c, nil
}
