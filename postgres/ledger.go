package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/transparency-dev/merkle/compact"

	"github.com/tearline/tearline/ledger"
)

// Ledger is the ledger.Storage kept in a Store's database, in tables of its
// own. Append is one transaction that locks the single ledger_head row and
// checks the size there, so that replicas sharing the database cannot fork
// the log.
type Ledger struct {
	s *Store
	// tx, when set, is the transaction of a change that the ledger
	// records: appends join it, so that the change and its entry commit
	// together or not at all.
	tx pgx.Tx
}

// pgdb is what a pool and a transaction share.
type pgdb interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func (l *Ledger) conn() pgdb {
	if l.tx != nil {
		return l.tx
	}
	return l.s.pool
}

var _ ledger.Storage = (*Ledger)(nil)

// Ledger returns the audit log storage in the store's database.
func (s *Store) Ledger() *Ledger { return &Ledger{s: s} }

// Size implements ledger.Storage.
func (l *Ledger) Size(ctx context.Context) (uint64, error) {
	var n int64
	if err := l.conn().QueryRow(ctx, "SELECT size FROM ledger_head").Scan(&n); err != nil {
		return 0, fmt.Errorf("ledger size: %w", err)
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
	// Arguments first, so that a bad one is reported before any lock is taken.
	es := make([][]byte, len(entries))
	for i, e := range entries {
		es[i] = nonNil(e)
	}
	levels, indexes, hashes, err := nodeColumns(nodes)
	if err != nil {
		return err
	}

	tx := l.tx
	if tx == nil {
		if tx, err = l.s.pool.Begin(ctx); err != nil {
			return err
		}
		defer tx.Rollback(ctx)
	}
	// Under READ COMMITTED, FOR UPDATE waits for a concurrent appender and
	// then reads the size it committed.
	var size int64
	if err := tx.QueryRow(ctx, "SELECT size FROM ledger_head FOR UPDATE").Scan(&size); err != nil {
		return fmt.Errorf("lock head: %w", err)
	}
	if first != uint64(size) {
		return fmt.Errorf("%w: size %d", ledger.ErrConflict, size)
	}
	if uint64(len(es)) > math.MaxInt64-uint64(size) {
		return fmt.Errorf("%d entries overflow the index", len(es))
	}
	if len(es) > 0 {
		if _, err := tx.Exec(ctx, `
			INSERT INTO ledger_entries (idx, entry)
			SELECT $1 + ord - 1, e FROM unnest($2::bytea[]) WITH ORDINALITY AS u(e, ord)`,
			size, es); err != nil {
			// Unreachable while the head row is locked; should a writer
			// ever bypass it, the primary key still refuses the fork.
			var pgErr *pgconn.PgError
			if errors.As(err, &pgErr) && pgErr.Code == uniqueViolation {
				return fmt.Errorf("%w: insert entries: %w", ledger.ErrConflict, err)
			}
			return fmt.Errorf("insert entries: %w", err)
		}
		if _, err := tx.Exec(ctx, "UPDATE ledger_head SET size = $1", size+int64(len(es))); err != nil {
			return fmt.Errorf("update head: %w", err)
		}
	}
	// Nodes are replaced, as in ledger.Memory: a node an append completes
	// cannot exist yet, unless the caller is not a ledger.Log.
	if len(levels) > 0 {
		if _, err := tx.Exec(ctx, `
			INSERT INTO ledger_nodes (level, idx, hash)
			SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[])
			ON CONFLICT (level, idx) DO UPDATE SET hash = excluded.hash`,
			levels, indexes, hashes); err != nil {
			return fmt.Errorf("insert nodes: %w", err)
		}
	}
	if l.tx != nil {
		return nil // the change's transaction commits both
	}
	return tx.Commit(ctx)
}

// nodeColumns turns nodes into the columns of ledger_nodes. A later node with
// the same id wins, as in ledger.Memory; one INSERT … ON CONFLICT may not
// touch a row twice.
func nodeColumns(nodes []ledger.Node) (levels []int16, indexes []int64, hashes [][]byte, err error) {
	at := make(map[compact.NodeID]int, len(nodes))
	for _, n := range nodes {
		if n.ID.Level > math.MaxInt16 || n.ID.Index > math.MaxInt64 {
			return nil, nil, nil, fmt.Errorf("node %d/%d: id out of range", n.ID.Level, n.ID.Index)
		}
		if i, dup := at[n.ID]; dup {
			hashes[i] = nonNil(n.Hash)
			continue
		}
		at[n.ID] = len(levels)
		levels = append(levels, int16(n.ID.Level))
		indexes = append(indexes, int64(n.ID.Index))
		hashes = append(hashes, nonNil(n.Hash))
	}
	return levels, indexes, hashes, nil
}

// nonNil maps nil to empty: pgx sends a nil slice as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

// Entry implements ledger.Storage.
func (l *Ledger) Entry(ctx context.Context, index uint64) ([]byte, error) {
	if index > math.MaxInt64 {
		return nil, fmt.Errorf("ledger entry %d: %w", index, ledger.ErrNotFound)
	}
	var e []byte
	err := l.conn().QueryRow(ctx, "SELECT entry FROM ledger_entries WHERE idx = $1", int64(index)).Scan(&e)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("ledger entry %d: %w", index, ledger.ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("ledger entry %d: %w", index, err)
	}
	return e, nil
}

// Hashes implements ledger.Storage, in one query whatever the number of ids.
func (l *Ledger) Hashes(ctx context.Context, ids []compact.NodeID) ([][]byte, error) {
	out := make([][]byte, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	levels := make([]int16, len(ids))
	indexes := make([]int64, len(ids))
	for i, id := range ids {
		if id.Level > math.MaxInt16 || id.Index > math.MaxInt64 {
			return nil, fmt.Errorf("ledger hashes: node %d/%d: %w", id.Level, id.Index, ledger.ErrNotFound)
		}
		levels[i], indexes[i] = int16(id.Level), int64(id.Index)
	}
	rows, err := l.conn().Query(ctx, `
		SELECT q.ord, n.hash
		FROM unnest($1::smallint[], $2::bigint[]) WITH ORDINALITY AS q(level, idx, ord)
		JOIN ledger_nodes n ON n.level = q.level AND n.idx = q.idx`,
		levels, indexes)
	if err != nil {
		return nil, fmt.Errorf("ledger hashes: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var (
			ord int64
			h   []byte
		)
		if err := rows.Scan(&ord, &h); err != nil {
			return nil, fmt.Errorf("ledger hashes: %w", err)
		}
		out[ord-1] = h
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("ledger hashes: %w", err)
	}
	for i, id := range ids {
		if out[i] == nil {
			return nil, fmt.Errorf("ledger hashes: node %d/%d: %w", id.Level, id.Index, ledger.ErrNotFound)
		}
	}
	return out, nil
}

// AddCheckpoint implements ledger.Storage.
func (l *Ledger) AddCheckpoint(ctx context.Context, signed []byte) error {
	if _, err := l.conn().Exec(ctx, "INSERT INTO ledger_checkpoints (signed) VALUES ($1)", nonNil(signed)); err != nil {
		return fmt.Errorf("ledger add checkpoint: %w", err)
	}
	return nil
}

// Checkpoints implements ledger.Storage.
func (l *Ledger) Checkpoints(ctx context.Context) ([][]byte, error) {
	rows, err := l.conn().Query(ctx, "SELECT signed FROM ledger_checkpoints ORDER BY seq")
	if err != nil {
		return nil, fmt.Errorf("ledger checkpoints: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("ledger checkpoints: %w", err)
	}
	return out, nil
}

// LatestCheckpoint returns the checkpoint stored last, or nil if there is
// none.
func (l *Ledger) LatestCheckpoint(ctx context.Context) ([]byte, error) {
	var c []byte
	err := l.conn().QueryRow(ctx, "SELECT signed FROM ledger_checkpoints ORDER BY seq DESC LIMIT 1").Scan(&c)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ledger latest checkpoint: %w", err)
	}
	return c, nil
}
