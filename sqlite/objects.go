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
	insert, err := tx.PrepareContext(ctx, `INSERT INTO objects
		(date_added, collection, object_id, version, versioned, type, spec_version, hash, content)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (collection, object_id, version) DO NOTHING`)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	defer insert.Close()
	hashAt, err := tx.PrepareContext(ctx, `SELECT hash FROM objects WHERE collection = ? AND object_id = ? AND version = ?`)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	defer hashAt.Close()
	sameHash, err := tx.PrepareContext(ctx, `SELECT count(*) FROM objects WHERE collection = ? AND object_id = ? AND hash = ?`)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	defer sameHash.Close()

	now := s.now().UnixMicro()
	for i, o := range objs {
		if !o.Versioned() {
			var n int
			if err := sameHash.QueryRowContext(ctx, coll, o.ID, o.Hash[:]).Scan(&n); err != nil {
				return nil, fmt.Errorf("put objects: object %d: %w", i, err)
			}
			if n > 0 {
				results[i].Status = tearline.Present
				continue
			}
		}
		added := max(now, last+1)
		version := o.Version.UnixNano()
		if !o.Versioned() {
			version = added * 1000
		}
		res, err := insert.ExecContext(ctx, added, coll, o.ID, version, o.Versioned(), o.Type, o.SpecVersion, o.Hash[:], o.JSON)
		if err != nil {
			return nil, fmt.Errorf("put objects: object %d (%s): %w", i, o.ID, err)
		}
		if n, _ := res.RowsAffected(); n == 1 {
			last = added
			results[i] = tearline.PutResult{Status: tearline.Added, DateAdded: time.UnixMicro(added).UTC()}
			continue
		}
		var stored []byte
		if err := hashAt.QueryRowContext(ctx, coll, o.ID, version).Scan(&stored); err != nil {
			return nil, fmt.Errorf("put objects: object %d (%s): %w", i, o.ID, err)
		}
		if bytes.Equal(stored, o.Hash[:]) {
			results[i].Status = tearline.Present
		} else {
			results[i].Status = tearline.Conflict
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
