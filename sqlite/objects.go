package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// insertChunk is the number of rows per multi-row INSERT: large enough that
// statement overhead vanishes, small enough to stay far below SQLite's
// limit on bound parameters.
const insertChunk = 256

const insertColumns = 9

// PutObjects writes a batch of object versions in one transaction.
func (s *Store) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	results := make([]tearline.PutResult, len(objs))
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	defer tx.Rollback()
	coll, _, err := s.collection(ctx, tx, collection)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last FROM clock`).Scan(&last); err != nil {
		return nil, fmt.Errorf("put objects: read clock: %w", err)
	}

	// Unversioned objects (observables) are the same version when their
	// content is: look up the hashes already stored for their ids.
	present, err := unversionedPresent(ctx, tx, coll, objs)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}

	type row struct {
		i       int
		added   int64
		version int64
	}
	rows := make([]row, 0, len(objs))
	now := s.now().UnixMicro()
	for i, o := range objs {
		if !o.Versioned() {
			k := idHash{o.ID, o.Hash}
			if present[k] {
				results[i].Status = tearline.Present
				continue
			}
			present[k] = true // a later copy in this batch is present
		}
		last = max(now, last+1)
		version := o.Version.UnixNano()
		if !o.Versioned() {
			version = last * 1000
		}
		rows = append(rows, row{i: i, added: last, version: version})
	}

	var stmts [insertChunk + 1]*sql.Stmt
	defer func() {
		for _, st := range stmts {
			if st != nil {
				st.Close()
			}
		}
	}()
	inserted := make(map[int64]bool, len(rows))
	args := make([]any, 0, insertChunk*insertColumns)
	for start := 0; start < len(rows); start += insertChunk {
		chunk := rows[start:min(start+insertChunk, len(rows))]
		st := stmts[len(chunk)]
		if st == nil {
			st, err = tx.PrepareContext(ctx, insertSQL(len(chunk)))
			if err != nil {
				return nil, fmt.Errorf("put objects: %w", err)
			}
			stmts[len(chunk)] = st
		}
		args = args[:0]
		for _, r := range chunk {
			o := objs[r.i]
			args = append(args, r.added, coll, o.ID, r.version, o.Versioned(), o.Type, o.SpecVersion, o.Hash[:], o.JSON)
		}
		res, err := st.ExecContext(ctx, args...)
		if err != nil {
			return nil, fmt.Errorf("put objects: insert: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return nil, fmt.Errorf("put objects: insert: %w", err)
		}
		if int(n) == len(chunk) {
			for _, r := range chunk {
				inserted[r.added] = true
			}
			continue
		}
		// Some rows hit a version already taken; find which went in.
		if err := insertedAmong(ctx, tx, chunk[0].added, chunk[len(chunk)-1].added, inserted); err != nil {
			return nil, fmt.Errorf("put objects: insert: %w", err)
		}
	}

	var hashAt *sql.Stmt
	for _, r := range rows {
		if inserted[r.added] {
			results[r.i] = tearline.PutResult{Status: tearline.Added, DateAdded: time.UnixMicro(r.added).UTC()}
			continue
		}
		// The version is taken: by the same content, or by other content.
		if hashAt == nil {
			hashAt, err = tx.PrepareContext(ctx, `SELECT hash FROM objects WHERE collection = ? AND object_id = ? AND version = ?`)
			if err != nil {
				return nil, fmt.Errorf("put objects: %w", err)
			}
			defer hashAt.Close()
		}
		o := objs[r.i]
		var stored []byte
		if err := hashAt.QueryRowContext(ctx, coll, o.ID, r.version).Scan(&stored); err != nil {
			return nil, fmt.Errorf("put objects: object %d (%s): %w", r.i, o.ID, err)
		}
		if bytes.Equal(stored, o.Hash[:]) {
			results[r.i].Status = tearline.Present
		} else {
			results[r.i].Status = tearline.Conflict
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE clock SET last = ?`, last); err != nil {
		return nil, fmt.Errorf("put objects: write clock: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("put objects: commit: %w", err)
	}
	return results, nil
}

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO objects (date_added, collection, object_id, version, versioned, type, spec_version, hash, content) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?)`)
	}
	b.WriteString(` ON CONFLICT (collection, object_id, version) DO NOTHING`)
	return b.String()
}

// insertedAmong marks the date_added values in [from, to] that are stored:
// within one write transaction, exactly the rows this batch inserted.
func insertedAmong(ctx context.Context, tx *sql.Tx, from, to int64, inserted map[int64]bool) error {
	rows, err := tx.QueryContext(ctx, `SELECT date_added FROM objects WHERE date_added BETWEEN ? AND ?`, from, to)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var added int64
		if err := rows.Scan(&added); err != nil {
			return err
		}
		inserted[added] = true
	}
	return rows.Err()
}

type idHash struct {
	id   string
	hash [32]byte
}

// unversionedPresent returns which (id, hash) pairs of the batch's
// unversioned objects are already stored in the collection.
func unversionedPresent(ctx context.Context, tx *sql.Tx, coll int64, objs []*tearline.Object) (map[idHash]bool, error) {
	present := make(map[idHash]bool)
	var ids []any
	seen := make(map[string]bool)
	for _, o := range objs {
		if !o.Versioned() && !seen[o.ID] {
			seen[o.ID] = true
			ids = append(ids, o.ID)
		}
	}
	for start := 0; start < len(ids); start += 500 {
		chunk := ids[start:min(start+500, len(ids))]
		rows, err := tx.QueryContext(ctx, `SELECT object_id, hash FROM objects WHERE collection = ? AND object_id IN (?`+
			strings.Repeat(`,?`, len(chunk)-1)+`)`, append([]any{coll}, chunk...)...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k idHash
			var h []byte
			if err := rows.Scan(&k.id, &h); err != nil {
				rows.Close()
				return nil, err
			}
			copy(k.hash[:], h)
			present[k] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return present, nil
}

// where builds the filter shared by Objects and DeleteObjects.
func where(coll int64, q tearline.ObjectQuery, defaultAll bool) (string, []any) {
	var b strings.Builder
	args := []any{coll}
	b.WriteString(`o.collection = ?`)
	after := q.AddedAfter
	if q.After.After(after) {
		after = q.After
	}
	if !after.IsZero() {
		b.WriteString(` AND o.date_added > ?`)
		args = append(args, after.UnixMicro())
	}
	in := func(col string, vals []string) {
		if len(vals) == 0 {
			return
		}
		b.WriteString(` AND ` + col + ` IN (?` + strings.Repeat(`, ?`, len(vals)-1) + `)`)
		for _, v := range vals {
			args = append(args, v)
		}
	}
	in("o.object_id", q.IDs)
	in("o.type", q.Types)
	in("o.spec_version", q.SpecVersions)

	vf := q.Version
	if vf.IsZero() {
		if defaultAll {
			return b.String(), args
		}
		vf.Last = true
	}
	if vf.All {
		return b.String(), args
	}
	var alts []string
	if vf.Last {
		alts = append(alts, `o.version = (SELECT max(v.version) FROM objects v WHERE v.collection = o.collection AND v.object_id = o.object_id)`)
	}
	if vf.First {
		alts = append(alts, `o.version = (SELECT min(v.version) FROM objects v WHERE v.collection = o.collection AND v.object_id = o.object_id)`)
	}
	if len(vf.Exact) > 0 {
		alts = append(alts, `o.version IN (?`+strings.Repeat(`, ?`, len(vf.Exact)-1)+`)`)
		for _, t := range vf.Exact {
			args = append(args, t.UnixNano())
		}
	}
	b.WriteString(` AND (` + strings.Join(alts, ` OR `) + `)`)
	return b.String(), args
}

// Objects returns one page of the versions matching q, in DateAdded order.
func (s *Store) Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error) {
	var page tearline.ObjectPage
	coll, _, err := s.collection(ctx, s.db, q.Collection)
	if err != nil {
		return page, err
	}
	cond, args := where(coll, q, false)
	query := `SELECT o.date_added, o.object_id, o.type, o.spec_version, o.version, o.versioned, o.hash, o.content
		FROM objects o WHERE ` + cond + ` ORDER BY o.date_added`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit+1)
	}
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return page, fmt.Errorf("query objects: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		if q.Limit > 0 && len(page.Objects) == q.Limit {
			page.More = true
			break
		}
		var so tearline.StoredObject
		var added, version int64
		var versioned bool
		var hash []byte
		if err := rows.Scan(&added, &so.ID, &so.Type, &so.SpecVersion, &version, &versioned, &hash, &so.JSON); err != nil {
			return page, fmt.Errorf("query objects: %w", err)
		}
		so.DateAdded = time.UnixMicro(added).UTC()
		if versioned {
			so.Version = time.Unix(0, version).UTC()
		}
		if len(hash) != len(so.Hash) {
			return page, fmt.Errorf("query objects: %s has a corrupt hash of %d bytes", so.ID, len(hash))
		}
		copy(so.Hash[:], hash)
		page.Objects = append(page.Objects, so)
	}
	if err := rows.Err(); err != nil {
		return page, fmt.Errorf("query objects: %w", err)
	}
	return page, nil
}

// DeleteObjects removes the matching versions; an empty version filter
// removes every version.
func (s *Store) DeleteObjects(ctx context.Context, q tearline.ObjectQuery) (int, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	defer tx.Rollback()
	coll, _, err := s.collection(ctx, tx, q.Collection)
	if err != nil {
		return 0, err
	}
	q.Limit = 0
	cond, args := where(coll, q, true)
	// The version subqueries must see the table before the delete, so the
	// rows are chosen first.
	res, err := tx.ExecContext(ctx, `DELETE FROM objects WHERE date_added IN (SELECT o.date_added FROM objects o WHERE `+cond+`)`, args...)
	if err != nil {
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	return int(n), nil
}

// Count reports how many versions a collection holds ("" for the node).
func (s *Store) Count(ctx context.Context, collection string) (int64, error) {
	var n int64
	if collection == "" {
		err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM objects`).Scan(&n)
		return n, err
	}
	coll, _, err := s.collection(ctx, s.db, collection)
	if err != nil {
		return 0, err
	}
	err = s.db.QueryRowContext(ctx, `SELECT count(*) FROM objects WHERE collection = ?`, coll).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return n, err
}
