package postgres

import (
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

// PutObjects stores a batch of object versions in one transaction and reports
// what happened to each, in input order.
//
// The transaction first locks the clock row, which every writer on the node
// takes, so writers run one at a time from there to commit. That buys three
// things: DateAdded values commit in the order they were handed out, so a
// reader paging by DateAdded never skips a row that commits later; the
// Present/Conflict decisions are taken against a table no one else is
// changing; and unversioned objects, which no unique key covers, cannot be
// added twice by two replicas at once. The transaction runs at READ COMMITTED
// so that, once it holds the lock, its statements see everything the previous
// writer committed.
func (s *Store) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	return s.putObjects(ctx, collection, objs, nil)
}

// putObjects is PutObjects; within, if set, runs in the transaction before
// it commits (see Receive).
func (s *Store) putObjects(ctx context.Context, collection string, objs []*tearline.Object, within func(pgx.Tx, []tearline.PutResult) error) ([]tearline.PutResult, error) {
	versions := make([]int64, len(objs))
	for i, o := range objs {
		v, err := checkObject(o)
		if err != nil {
			return nil, fmt.Errorf("put objects: object %d: %w", i, err)
		}
		versions[i] = v
	}

	tx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	defer tx.Rollback(ctx)

	num, err := lockCollection(ctx, tx, collection)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	if len(objs) == 0 && within == nil {
		return []tearline.PutResult{}, nil
	}
	if _, err := tx.Exec(ctx, "SELECT FROM clock FOR UPDATE"); err != nil {
		return nil, fmt.Errorf("put objects: lock clock: %w", err)
	}
	stored, err := storedHashes(ctx, tx, num, objs, versions)
	if err != nil {
		return nil, fmt.Errorf("put objects into %q: %w", collection, err)
	}
	results, added := classify(objs, versions, stored)
	if added, err = withoutRecalled(ctx, tx, objs, results, added); err != nil {
		return nil, fmt.Errorf("put objects into %q: %w", collection, err)
	}
	if len(added) == 0 && within == nil {
		return results, nil // nothing to write; the rollback only releases the lock
	}
	if len(added) == 0 {
		if err := within(tx, results); err != nil {
			return nil, err
		}
		return results, tx.Commit(ctx)
	}

	// Hand out one microsecond per added object, never behind the wall clock
	// of the database server (one clock for all replicas) and always past the
	// last value handed out, whatever the clock did since.
	var last int64
	if err := tx.QueryRow(ctx, `
		UPDATE clock
		SET last = GREATEST(last + 1, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint) + $1 - 1
		RETURNING last`, len(added)).Scan(&last); err != nil {
		return nil, fmt.Errorf("put objects: advance clock: %w", err)
	}
	first := last - int64(len(added)) + 1
	dateAdded := make([]int64, len(added))
	for j, i := range added {
		d := first + int64(j)
		dateAdded[j] = d
		if !objs[i].Versioned() {
			versions[i] = d * 1000
		}
		results[i].DateAdded = time.UnixMicro(d).UTC()
	}

	classes, pending, err := s.classIDs(ctx, tx, objs, added)
	if err != nil {
		return nil, fmt.Errorf("put objects into %q: %w", collection, err)
	}
	prev, err := newestStored(ctx, tx, num, objs, added)
	if err != nil {
		return nil, fmt.Errorf("put objects into %q: %w", collection, err)
	}
	_, err = tx.CopyFrom(ctx, pgx.Identifier{"objects"},
		[]string{"collection", "id", "version", "versioned", "type", "spec_version", "hash", "content", "date_added", "class"},
		pgx.CopyFromSlice(len(added), func(j int) ([]any, error) {
			o := objs[added[j]]
			return []any{num, o.ID, versions[added[j]], o.Versioned(), o.Type, o.SpecVersion, o.Hash[:], o.JSON, dateAdded[j], classes[j]}, nil
		}))
	if err != nil {
		return nil, fmt.Errorf("put objects into %q: copy: %w", collection, err)
	}
	if err := enqueueAdded(ctx, tx, num, first, last); err != nil { // federation outboxes
		return nil, fmt.Errorf("put objects into %q: %w", collection, err)
	}
	if within != nil {
		if err := within(tx, results); err != nil {
			return nil, err
		}
	}
	// The audit entry commits with the objects it records, or neither.
	var collID string
	if err := tx.QueryRow(ctx, "SELECT id FROM collections WHERE num = $1", num).Scan(&collID); err != nil {
		return nil, fmt.Errorf("put objects into %q: %w", collection, err)
	}
	ids := make([]string, len(added))
	for j, i := range added {
		ids[j] = objs[i].ID
	}
	events := ledger.IngestEvents(collID, ids, time.Now())
	for j, i := range added {
		if p, ok := prev[j]; ok && versions[i] > p.version && classes[j] != p.class {
			events = append(events, ledger.LabelChangeEvent(collID, objs[i].ID, p.class, classes[j], time.Now()))
		}
	}
	if _, err := ledger.New(&Ledger{s: s, tx: tx}).Append(ctx, events...); err != nil {
		return nil, fmt.Errorf("put objects into %q: audit log: %w", collection, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, fmt.Errorf("put objects into %q: commit: %w", collection, err)
	}
	s.rememberClasses(pending)
	return results, nil
}

// storedVersion is the newest stored version of an object and its class.
type storedVersion struct {
	version, class int64
}

// newestStored returns, by position in added, the newest version already
// stored of each added object that has one, with its release class: a new
// version in another class is a label change.
func newestStored(ctx context.Context, tx pgx.Tx, num int32, objs []*tearline.Object, added []int) (map[int]storedVersion, error) {
	idx := make([]int32, len(added))
	ids := make([]string, len(added))
	for j, i := range added {
		idx[j], ids[j] = int32(j), objs[i].ID
	}
	rows, err := tx.Query(ctx, `
		SELECT DISTINCT ON (v.j) v.j, o.version, o.class
		FROM unnest($2::integer[], $3::text[]) AS v (j, id)
		JOIN objects o ON o.collection = $1 AND o.id = v.id
		ORDER BY v.j, o.version DESC`, num, idx, ids)
	if err != nil {
		return nil, fmt.Errorf("look up previous versions: %w", err)
	}
	out := make(map[int]storedVersion)
	var (
		j  int32
		sv storedVersion
	)
	if _, err := pgx.ForEachRow(rows, []any{&j, &sv.version, &sv.class}, func() error {
		out[int(j)] = sv
		return nil
	}); err != nil {
		return nil, fmt.Errorf("look up previous versions: %w", err)
	}
	return out, nil
}

// checkObject rejects objects the schema cannot hold and returns the object's
// version in nanoseconds, 0 for unversioned objects.
func checkObject(o *tearline.Object) (int64, error) {
	if o == nil {
		return 0, fmt.Errorf("nil object: %w", tearline.ErrInvalid)
	}
	if o.ID == "" {
		return 0, fmt.Errorf("empty id: %w", tearline.ErrInvalid)
	}
	if len(o.JSON) == 0 {
		return 0, fmt.Errorf("%s: no JSON: %w", o.ID, tearline.ErrInvalid)
	}
	for _, f := range []struct{ name, v string }{{"id", o.ID}, {"type", o.Type}, {"spec_version", o.SpecVersion}} {
		if err := checkText(f.v); err != nil {
			return 0, fmt.Errorf("%s %q: %w", f.name, f.v, err)
		}
	}
	if !o.Versioned() {
		return 0, nil
	}
	v, ok := unixNanos(o.Version)
	if !ok {
		return 0, fmt.Errorf("%s: version %s is outside the years 1678 to 2262 that the store supports: %w",
			o.ID, o.Version.Format(time.RFC3339Nano), tearline.ErrInvalid)
	}
	return v, nil
}

var (
	minNanoTime = time.Unix(0, math.MinInt64)
	maxNanoTime = time.Unix(0, math.MaxInt64)
)

// unixNanos returns t in nanoseconds since the Unix epoch, and false when an
// int64 cannot hold it.
func unixNanos(t time.Time) (int64, bool) {
	if t.Before(minNanoTime) || t.After(maxNanoTime) {
		return 0, false
	}
	return t.UnixNano(), true
}

// storedHashes looks up, in one round trip, what the collection already holds
// for each object of the batch: for a versioned object the hash stored under
// its id and version, for an unversioned one its own hash when some version of
// its id has that hash. Objects with nothing stored are absent from the map.
func storedHashes(ctx context.Context, tx pgx.Tx, num int32, objs []*tearline.Object, versions []int64) (map[int32][]byte, error) {
	var (
		vIdx, uIdx []int32
		vIDs, uIDs []string
		vVersions  []int64
		uHashes    [][]byte
	)
	for i, o := range objs {
		if o.Versioned() {
			vIdx = append(vIdx, int32(i))
			vIDs = append(vIDs, o.ID)
			vVersions = append(vVersions, versions[i])
		} else {
			uIdx = append(uIdx, int32(i))
			uIDs = append(uIDs, o.ID)
			uHashes = append(uHashes, o.Hash[:])
		}
	}
	// Two branches so that each probes the primary key the way it can: the
	// versioned one on the whole key, the unversioned one on (collection, id).
	rows, err := tx.Query(ctx, `
		SELECT v.i, o.hash
		FROM unnest($2::integer[], $3::text[], $4::bigint[]) AS v (i, id, version)
		JOIN objects o ON o.collection = $1 AND o.id = v.id AND o.version = v.version
		UNION ALL
		SELECT u.i, u.hash
		FROM unnest($5::integer[], $6::text[], $7::bytea[]) AS u (i, id, hash)
		WHERE EXISTS (SELECT FROM objects o WHERE o.collection = $1 AND o.id = u.id AND o.hash = u.hash)`,
		num, vIdx, vIDs, vVersions, uIdx, uIDs, uHashes)
	if err != nil {
		return nil, fmt.Errorf("look up stored versions: %w", err)
	}
	stored := make(map[int32][]byte)
	var (
		i int32
		h []byte
	)
	_, err = pgx.ForEachRow(rows, []any{&i, &h}, func() error {
		stored[i] = h
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("look up stored versions: %w", err)
	}
	return stored, nil
}

// contentKey is one content of an object: its id and hash.
type contentKey struct {
	id   string
	hash [32]byte
}

// classify decides the fate of each object of a batch given what is stored,
// treating earlier objects of the batch as stored for later ones. It returns
// the results, DateAdded still unset, and the indexes of the objects to add.
func classify(objs []*tearline.Object, versions []int64, stored map[int32][]byte) ([]tearline.PutResult, []int) {
	type versionKey struct {
		id      string
		version int64
	}
	// known holds, for each id and version, the hash that wins: the stored
	// one, else the first of the batch.
	known := make(map[versionKey][32]byte)
	seen := make(map[contentKey]bool)
	for i, h := range stored {
		o := objs[i]
		if o.Versioned() {
			known[versionKey{o.ID, versions[i]}] = [32]byte(h)
		} else {
			seen[contentKey{o.ID, o.Hash}] = true
		}
	}

	results := make([]tearline.PutResult, len(objs))
	var added []int
	for i, o := range objs {
		if o.Versioned() {
			k := versionKey{o.ID, versions[i]}
			h, ok := known[k]
			switch {
			case !ok:
				known[k] = o.Hash
				results[i].Status = tearline.Added
				added = append(added, i)
			case h == o.Hash:
				results[i].Status = tearline.Present
			default:
				results[i].Status = tearline.Conflict
			}
			continue
		}
		k := contentKey{o.ID, o.Hash}
		if seen[k] {
			results[i].Status = tearline.Present
			continue
		}
		seen[k] = true
		results[i].Status = tearline.Added
		added = append(added, i)
	}
	return results, added
}

// Objects returns one page of the collection's object versions that match q,
// in DateAdded order.
func (s *Store) Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error) {
	if q.Limit < 0 {
		return tearline.ObjectPage{}, fmt.Errorf("query objects: negative limit %d: %w", q.Limit, tearline.ErrInvalid)
	}
	num, err := collectionNum(ctx, s.pool, q.Collection)
	if err != nil {
		return tearline.ObjectPage{}, fmt.Errorf("query objects: %w", err)
	}
	versions := q.Version
	if versions.IsZero() {
		versions.Last = true // the TAXII default for reads
	}
	where, args := filter(num, q, versions)

	sql := `SELECT id, type, spec_version, version, versioned, hash, content, date_added, class`
	if q.MarkSole {
		sql += `, NOT EXISTS (SELECT 1 FROM objects v WHERE v.collection = o.collection AND v.id = o.id AND v.version <> o.version)`
	} else {
		sql += `, false`
	}
	sql += ` FROM objects o WHERE ` + where + ` ORDER BY date_added`
	if q.Limit > 0 {
		// One more than asked tells whether another page follows.
		args = append(args, q.Limit+1)
		sql += " LIMIT $" + strconv.Itoa(len(args))
	}
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return tearline.ObjectPage{}, fmt.Errorf("query objects in %q: %w", q.Collection, err)
	}
	objs, err := pgx.CollectRows(rows, scanObject)
	if err != nil {
		return tearline.ObjectPage{}, fmt.Errorf("query objects in %q: %w", q.Collection, err)
	}
	var page tearline.ObjectPage
	if q.Limit > 0 && len(objs) > q.Limit {
		objs, page.More = objs[:q.Limit], true
	}
	page.Objects = objs
	return page, nil
}

func scanObject(row pgx.CollectableRow) (tearline.StoredObject, error) {
	var (
		so        tearline.StoredObject
		version   int64
		versioned bool
		hash      []byte
		dateAdded int64
	)
	if err := row.Scan(&so.ID, &so.Type, &so.SpecVersion, &version, &versioned, &hash, &so.JSON, &dateAdded, &so.Class, &so.Sole); err != nil {
		return so, err
	}
	if len(hash) != len(so.Hash) {
		return so, fmt.Errorf("object %s: stored hash has %d bytes, want %d", so.ID, len(hash), len(so.Hash))
	}
	so.Hash = [32]byte(hash)
	if versioned {
		so.Version = time.Unix(0, version).UTC()
	}
	so.DateAdded = time.UnixMicro(dateAdded).UTC()
	return so, nil
}

// DeleteObjects removes the versions that match q's filters, all versions of
// the matching objects when q.Version is empty, and reports how many it
// removed. The paging fields After and Limit are ignored.
func (s *Store) DeleteObjects(ctx context.Context, q tearline.ObjectQuery) (int, error) {
	num, err := collectionNum(ctx, s.pool, q.Collection)
	if err != nil {
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	versions := q.Version
	if versions.IsZero() {
		versions.All = true // the TAXII default for deletes
	}
	q.After = time.Time{}
	where, args := filter(num, q, versions)
	// first and last are judged against the versions before the delete: the
	// subqueries in filter see the statement's snapshot.
	tag, err := s.pool.Exec(ctx, "DELETE FROM objects o WHERE "+where, args...)
	if err != nil {
		return 0, fmt.Errorf("delete objects in %q: %w", q.Collection, err)
	}
	return int(tag.RowsAffected()), nil
}

// filter builds the WHERE clause, over objects aliased o, that selects the
// collection's versions matching q with the given version filter, and its
// arguments.
func filter(num int32, q tearline.ObjectQuery, versions tearline.VersionFilter) (string, []any) {
	args := []any{num}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	conds := []string{"o.collection = $1"}
	if len(q.IDs) > 0 {
		conds = append(conds, "o.id = ANY("+arg(q.IDs)+"::text[])")
	}
	if len(q.Types) > 0 {
		conds = append(conds, "o.type = ANY("+arg(q.Types)+"::text[])")
	}
	if len(q.SpecVersions) > 0 {
		conds = append(conds, "o.spec_version = ANY("+arg(q.SpecVersions)+"::text[])")
	}
	// AddedAfter and After are both strict lower bounds on DateAdded; the
	// later one decides. UnixMicro rounds down, so a bound between two
	// microseconds still excludes the earlier one only.
	var after time.Time
	if q.AddedAfter.After(after) {
		after = q.AddedAfter
	}
	if q.After.After(after) {
		after = q.After
	}
	if !after.IsZero() {
		conds = append(conds, "o.date_added > "+arg(after.UnixMicro()))
	}

	if !versions.All {
		var alts []string
		if versions.First {
			alts = append(alts, `NOT EXISTS (SELECT FROM objects e
				WHERE e.collection = o.collection AND e.id = o.id AND e.version < o.version)`)
		}
		if versions.Last {
			alts = append(alts, `NOT EXISTS (SELECT FROM objects l
				WHERE l.collection = o.collection AND l.id = o.id AND l.version > o.version)`)
		}
		if len(versions.Exact) > 0 {
			exact := make([]int64, 0, len(versions.Exact))
			for _, t := range versions.Exact {
				// A timestamp no version can have matches nothing.
				if ns, ok := unixNanos(t); ok {
					exact = append(exact, ns)
				}
			}
			alts = append(alts, "o.version = ANY("+arg(exact)+"::bigint[])")
		}
		conds = append(conds, "("+strings.Join(alts, " OR ")+")")
	}
	return strings.Join(conds, " AND "), args
}

// withoutRecalled marks Recalled the versions of added (indexes into
// objs) that their originator recalled, and returns the others: a
// recalled version is never stored again. The trigger objects_recalled
// would drop them silently; this reports them.
func withoutRecalled(ctx context.Context, tx pgx.Tx, objs []*tearline.Object, results []tearline.PutResult, added []int) ([]int, error) {
	if len(added) == 0 {
		return added, nil
	}
	var some bool
	if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM tombstones)`).Scan(&some); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	if !some { // most nodes, most of the time
		return added, nil
	}
	ids := make([]string, len(added))
	for j, i := range added {
		ids[j] = objs[i].ID
	}
	rows, err := tx.Query(ctx, `SELECT object_id, hash FROM tombstones WHERE object_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	recalled := map[contentKey]bool{}
	for rows.Next() {
		var id string
		var hash []byte
		if err := rows.Scan(&id, &hash); err != nil {
			rows.Close()
			return nil, fmt.Errorf("tombstones: %w", err)
		}
		if len(hash) != 32 {
			rows.Close()
			return nil, fmt.Errorf("tombstones: the tombstone of %s holds a hash of %d bytes, not 32", id, len(hash))
		}
		recalled[contentKey{id, [32]byte(hash)}] = true
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	if len(recalled) == 0 {
		return added, nil
	}
	// A copy later in the batch of a recalled version, which classify
	// found present, is recalled too.
	for i, o := range objs {
		if st := results[i].Status; (st == tearline.Added || st == tearline.Present) && recalled[contentKey{o.ID, o.Hash}] {
			results[i].Status = tearline.Recalled
		}
	}
	kept := added[:0]
	for _, i := range added {
		if results[i].Status == tearline.Added {
			kept = append(kept, i)
		}
	}
	return kept, nil
}
