package sqlite

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"database/sql/driver"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

// insertChunk is the number of rows per multi-row INSERT: large enough that
// statement overhead vanishes, small enough to stay far below SQLite's
// limit on bound parameters.
const insertChunk = 256

const insertColumns = 11

// idKey is the compact index key of an object id: the first 8 bytes of its
// SHA-256. The id index (object_keys) holds these instead of the ids
// themselves, which makes it a third of the size; a bulk import into a
// large node then rewrites far fewer index pages per commit. Rows are
// always matched on the full object_id as well, so two ids sharing a key
// are told apart.
func idKey(id string) int64 {
	h := sha256.Sum256([]byte(id))
	return int64(binary.BigEndian.Uint64(h[:8]))
}

// stored is what the store already holds of one object version.
type stored struct {
	version int64
	hash    [32]byte
	class   int64 // -1 for a version added earlier in the same batch
}

// PutObjects writes a batch of object versions in one transaction.
//
// Whether a version is new is decided here, inside the write transaction
// that SQLite grants to one writer at a time, against the versions already
// stored for the batch's ids; the insert then needs no conflict handling.
func (s *Store) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	return s.putObjects(ctx, collection, objs, nil)
}

// putObjects is PutObjects; within, if set, runs in the transaction before
// it commits (see Receive).
func (s *Store) putObjects(ctx context.Context, collection string, objs []*tearline.Object, within func(*sql.Tx, []tearline.PutResult) error) ([]tearline.PutResult, error) {
	results := make([]tearline.PutResult, len(objs))
	// The keys are hashed before the writer lock is taken.
	keys := make([]int64, len(objs))
	for i, o := range objs {
		keys[i] = idKey(o.ID)
	}
	ckeys := classKeys(objs)
	tx, done, err := s.begin(ctx)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	defer done()
	coll, collInfo, err := s.collection(ctx, tx, collection)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	var last int64
	if err := tx.QueryRowContext(ctx, `SELECT last FROM clock`).Scan(&last); err != nil {
		return nil, fmt.Errorf("put objects: read clock: %w", err)
	}
	clockBefore := last // the batch's date_added values follow it
	have, err := s.storedVersions(ctx, tx, coll, objs, keys)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	recalled, err := recalledVersions(ctx, tx, objs)
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
	// The newest stored version of each id, for label changes.
	prev := make([]stored, len(objs))
	for i, o := range objs {
		for _, h := range have[o.ID] {
			if h.class >= 0 && (prev[i].hash == [32]byte{} || h.version > prev[i].version) {
				prev[i] = h
			}
		}
	}
	for i, o := range objs {
		status := tearline.Added
		version := o.Version.UnixNano()
		for _, h := range have[o.ID] {
			if o.Versioned() && h.version == version {
				status = tearline.Conflict
				if h.hash == o.Hash {
					status = tearline.Present
				}
				break
			}
			if !o.Versioned() && h.hash == o.Hash {
				status = tearline.Present
				break
			}
		}
		if status == tearline.Added && recalled[tombstoneKey{o.ID, o.Hash}] {
			status = tearline.Recalled
		}
		if status != tearline.Added {
			results[i].Status = status
			continue
		}
		last = max(now, last+1)
		if !o.Versioned() {
			version = last * 1000
		}
		have[o.ID] = append(have[o.ID], stored{version: version, hash: o.Hash, class: -1})
		rows = append(rows, row{i: i, added: last, version: version})
		results[i] = tearline.PutResult{Status: tearline.Added, DateAdded: time.UnixMicro(last).UTC()}
	}
	classes, pending, err := s.classIDs(ctx, tx, objs, ckeys)
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}

	// The rows go in date_added order, each at the end of the table; their
	// keys go to the small table of fresh keys (see mergeFreshKeys).
	args := make([]any, 0, insertChunk*insertColumns)
	for start := 0; start < len(rows); {
		// Chunks of a power of two rows: the few statements they need
		// are prepared once (see stmtCache), not in every transaction.
		k := insertChunk
		for k > len(rows)-start {
			k /= 2
		}
		st, err := s.stmts.get(ctx, s.db, insertSQL(k))
		if err != nil {
			return nil, fmt.Errorf("put objects: %w", err)
		}
		args = args[:0]
		for _, r := range rows[start : start+k] {
			o := objs[r.i]
			args = append(args, r.added, coll, keys[r.i], o.ID, r.version, o.Versioned(), o.Type, o.SpecVersion, o.Hash[:], o.JSON, classes[r.i])
		}
		if _, err := tx.StmtContext(ctx, st).ExecContext(ctx, args...); err != nil {
			return nil, fmt.Errorf("put objects: insert: %w", err)
		}
		start += k
	}
	// The keys of the rows added, which are the rows after clockBefore
	// (see mergeFreshKeys). A statement for them all costs less than a
	// trigger per row: a table with triggers has each multi-row insert
	// copied to a temporary table first, content included.
	if len(rows) > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO object_ids_fresh (collection, id_key, date_added)
			SELECT collection, id_key, date_added FROM objects WHERE date_added > ?`, clockBefore); err != nil {
			return nil, fmt.Errorf("put objects: keys: %w", err)
		}
	}
	if _, err := tx.ExecContext(ctx, `UPDATE clock SET last = ?`, last); err != nil {
		return nil, fmt.Errorf("put objects: write clock: %w", err)
	}
	if err := enqueueAdded(ctx, tx, clockBefore, last); err != nil { // federation outboxes
		return nil, fmt.Errorf("put objects: %w", err)
	}
	if within != nil {
		if err := within(tx, results); err != nil {
			return nil, err
		}
	}
	if len(rows) > 0 {
		// The audit entry commits with the objects it records, or neither.
		ids := make([]string, 0, len(rows))
		for i, r := range results {
			if r.Status == tearline.Added {
				ids = append(ids, objs[i].ID)
			}
		}
		events := ledger.IngestEvents(collInfo.ID, ids, s.now())
		for _, r := range rows {
			if p := prev[r.i]; p.hash != [32]byte{} && r.version > p.version && classes[r.i] != p.class {
				events = append(events, ledger.LabelChangeEvent(collInfo.ID, objs[r.i].ID, p.class, classes[r.i], s.now()))
			}
		}
		if _, err := ledger.New(s.ledgerIn(tx)).Append(ctx, events...); err != nil {
			return nil, fmt.Errorf("put objects: audit log: %w", err)
		}
	}
	fresh, err := s.mergeFreshKeys(ctx, tx, len(rows))
	if err != nil {
		return nil, fmt.Errorf("put objects: %w", err)
	}
	// TAXII statuses waiting to be written commit with the objects (see
	// PutStatus).
	statuses := s.statuses.take()
	if err := s.writeStatuses(ctx, tx, statuses); err != nil {
		s.statuses.putBack(statuses, nil)
		return nil, fmt.Errorf("put objects: %w", err)
	}
	if err := tx.Commit(); err != nil {
		s.statuses.putBack(statuses, nil)
		return nil, fmt.Errorf("put objects: commit: %w", err)
	}
	written(statuses)
	s.freshKeys = fresh
	s.rememberClasses(pending)
	return results, nil
}

// freshKeysMerged is how many fresh keys are moved at once into
// object_ids. Merging n keys into an index of p pages writes about
// p(1-e^(-n/p)) pages, so the more keys at once the fewer pages each;
// but every write dirties more pages of object_ids_fresh the bigger it
// is. 50,000 keys (some 330 pages) did best at 1,000,000 objects, in
// 1,000-object writes (BenchmarkPutObjectsEnvelopes).
const freshKeysMerged = 50000

// mergeFreshKeys moves the fresh keys into object_ids, within tx, once
// they are s.mergeAt (freshKeysMerged) or more with the added keys of tx,
// and returns how many fresh keys there are once tx commits. The fresh
// keys are read in key order, so the merge walks object_ids from its
// first page to its last, writing each once.
func (s *Store) mergeFreshKeys(ctx context.Context, tx *sql.Tx, added int) (int, error) {
	if s.freshKeys+added < s.mergeAt {
		return s.freshKeys + added, nil
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO object_ids (collection, id_key, date_added)
		SELECT collection, id_key, date_added FROM object_ids_fresh ORDER BY collection, id_key, date_added`); err != nil {
		return 0, fmt.Errorf("merge the fresh keys: %w", err)
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM object_ids_fresh`); err != nil {
		return 0, fmt.Errorf("merge the fresh keys: %w", err)
	}
	return 0, nil
}

func insertSQL(n int) string {
	var b strings.Builder
	b.WriteString(`INSERT INTO objects (date_added, collection, id_key, object_id, version, versioned, type, spec_version, hash, content, class) VALUES `)
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`(?,?,?,?,?,?,?,?,?,?,?)`)
	}
	return b.String()
}

// tombstoneKey is a recalled version: its id and content hash.
type tombstoneKey struct {
	id   string
	hash [32]byte
}

// recalledVersions returns the versions of the batch that were recalled
// (see RecallStore): they are never stored again.
func recalledVersions(ctx context.Context, tx *sql.Tx, objs []*tearline.Object) (map[tombstoneKey]bool, error) {
	var some bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM tombstones)`).Scan(&some); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	if !some || len(objs) == 0 { // most nodes, most of the time
		return nil, nil
	}
	ids := make([]string, 0, len(objs))
	seen := make(map[string]bool, len(objs))
	for _, o := range objs {
		if !seen[o.ID] {
			seen[o.ID] = true
			ids = append(ids, o.ID)
		}
	}
	list, err := json.Marshal(ids)
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	// The ids as one JSON array, as storedVersions passes its keys.
	rows, err := tx.QueryContext(ctx, `SELECT object_id, hash FROM tombstones WHERE object_id IN (SELECT value FROM json_each(?))`, string(list))
	if err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	defer rows.Close()
	out := map[tombstoneKey]bool{}
	for rows.Next() {
		var id string
		var hash []byte
		if err := rows.Scan(&id, &hash); err != nil {
			return nil, fmt.Errorf("tombstones: %w", err)
		}
		if len(hash) != 32 {
			return nil, fmt.Errorf("tombstones: the tombstone of %s holds a hash of %d bytes, not 32", id, len(hash))
		}
		out[tombstoneKey{id, [32]byte(hash)}] = true
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("tombstones: %w", err)
	}
	return out, nil
}

// storedVersionsSQL reads the versions stored under keys (a JSON array)
// in collection.
const storedVersionsSQL = `SELECT o.object_id, o.version, o.hash, o.class FROM object_keys k JOIN objects o ON o.date_added = k.date_added
	WHERE k.collection = ? AND k.id_key IN (SELECT value FROM json_each(?))`

// storedVersions returns, for each id of the batch that the collection
// already holds, the versions stored and their hashes.
func (s *Store) storedVersions(ctx context.Context, tx *sql.Tx, coll int64, objs []*tearline.Object, keys []int64) (map[string][]stored, error) {
	have := make(map[string][]stored)
	want := make(map[string]bool, len(objs))
	list := make([]byte, 0, 1+21*len(keys))
	list = append(list, '[')
	seen := make(map[int64]bool, len(objs))
	for i, o := range objs {
		want[o.ID] = true
		if !seen[keys[i]] {
			seen[keys[i]] = true
			if len(list) > 1 {
				list = append(list, ',')
			}
			list = strconv.AppendInt(list, keys[i], 10)
		}
	}
	list = append(list, ']')
	// The keys go as one JSON array, not one parameter each: a statement
	// of its own text, prepared once, and one value bound.
	q, err := s.stmts.get(ctx, s.db, storedVersionsSQL)
	if err != nil {
		return nil, err
	}
	rows, err := tx.StmtContext(ctx, q).QueryContext(uninterrupted(ctx), coll, string(list)) // text: SQLite reads a blob as JSONB
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for n := 0; rows.Next(); n++ {
		if err := cancelled(ctx, n); err != nil {
			return nil, err
		}
		var id string
		var st stored
		var h []byte
		if err := rows.Scan(&id, &st.version, &h, &st.class); err != nil {
			return nil, err
		}
		if !want[id] {
			continue // another id with the same key
		}
		copy(st.hash[:], h)
		have[id] = append(have[id], st)
	}
	return have, rows.Err()
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
	if len(q.IDs) > 0 {
		b.WriteString(` AND o.date_added IN (SELECT k.date_added FROM object_keys k WHERE k.collection = ? AND k.id_key IN (?` + strings.Repeat(`, ?`, len(q.IDs)-1) + `))`)
		args = append(args, coll)
		for _, id := range q.IDs {
			args = append(args, idKey(id))
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
		alts = append(alts, `NOT `+otherVersion(">"))
	}
	if vf.First {
		alts = append(alts, `NOT `+otherVersion("<"))
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

// otherVersion is a condition on a version o: the collection holds a
// version of o's id whose version is op (">" or "<") o's. Versions of an
// id are unique in a collection, so o is the last when there is none
// newer. (An aggregate, max(version) of the id's versions, would read the
// collection's every key for each row: SQLite does not push a correlated
// condition into an aggregate over the view of both tables of keys. See
// TestObjectQueryPlans.)
func otherVersion(op string) string {
	return `EXISTS (SELECT 1 FROM object_keys k JOIN objects v ON v.date_added = k.date_added
		WHERE k.collection = o.collection AND k.id_key = o.id_key AND v.object_id = o.object_id AND v.version ` + op + ` o.version)`
}

// Objects returns one page of the versions matching q, in DateAdded order.
func (s *Store) Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error) {
	var page tearline.ObjectPage
	coll, _, err := s.collection(ctx, s.db, q.Collection)
	if err != nil {
		return page, err
	}
	cond, args := where(coll, q, false)
	// The id, type and spec version come as one value, and the version
	// as NULL when the object has none: every column read costs the
	// driver two calls into SQLite per row, a page a thousand rows.
	query := `SELECT o.date_added, o.object_id || char(0) || o.type || char(0) || o.spec_version,
		CASE WHEN o.versioned THEN o.version END, o.hash, o.content, o.class`
	columns := 6
	if q.MarkSole {
		// No other key of the id's: a key shared with another id (see
		// idKey) leaves a sole version unmarked, never the reverse.
		query += `, NOT EXISTS (SELECT 1 FROM object_keys k WHERE k.collection = o.collection AND k.id_key = o.id_key AND k.date_added <> o.date_added)`
		columns++
	}
	query += ` FROM objects o WHERE ` + cond + ` ORDER BY o.date_added`
	if q.Limit > 0 {
		query += ` LIMIT ?`
		args = append(args, q.Limit+1)
	}
	select {
	case s.readers <- struct{}{}:
		defer func() { <-s.readers }()
	case <-ctx.Done():
		return page, fmt.Errorf("query objects: %w", ctx.Err())
	}
	// The rows are read from the driver directly: database/sql would lock,
	// convert and copy every column of every row again, a fifth of the
	// time of a page.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return page, fmt.Errorf("query objects: %w", err)
	}
	defer conn.Close()
	err = conn.Raw(func(dc any) error {
		qc, ok := dc.(driver.QueryerContext)
		if !ok {
			return fmt.Errorf("the driver's connection (%T) cannot query", dc)
		}
		named := make([]driver.NamedValue, len(args))
		for i, a := range args {
			v, err := driver.DefaultParameterConverter.ConvertValue(a)
			if err != nil {
				return err
			}
			named[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
		}
		rows, err := qc.QueryContext(uninterrupted(ctx), query, named)
		if err != nil {
			return err
		}
		defer rows.Close()
		dest := make([]driver.Value, columns)
		for n := 0; ; n++ {
			if err := cancelled(ctx, n); err != nil {
				return err
			}
			if err := rows.Next(dest); err == io.EOF {
				return nil
			} else if err != nil {
				return err
			}
			if q.Limit > 0 && len(page.Objects) == q.Limit {
				page.More = true
				return nil
			}
			so, err := scanObject(dest)
			if err != nil {
				return err
			}
			page.Objects = append(page.Objects, so)
		}
	})
	if err != nil {
		return page, fmt.Errorf("query objects: %w", err)
	}
	return page, nil
}

// scanObject decodes a row of Objects' query: six columns, and a seventh,
// the sole mark, when the query asked for it.
func scanObject(row []driver.Value) (tearline.StoredObject, error) {
	var so tearline.StoredObject
	added, ok1 := row[0].(int64)
	names, ok2 := row[1].(string)
	hash, ok3 := row[3].([]byte)
	content, ok4 := row[4].([]byte)
	class, ok5 := row[5].(int64)
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 {
		return so, fmt.Errorf("a stored version has columns of unexpected types (%T, %T, %T, %T, %T)", row[0], row[1], row[3], row[4], row[5])
	}
	if len(row) > 6 {
		sole, ok := row[6].(int64)
		if !ok {
			return so, fmt.Errorf("a stored version's sole mark is of type %T", row[6])
		}
		so.Sole = sole != 0
	}
	var ok bool
	if so.ID, names, ok = strings.Cut(names, "\x00"); ok {
		so.Type, so.SpecVersion, ok = strings.Cut(names, "\x00")
	}
	if !ok {
		return so, fmt.Errorf("%s has a corrupt type or spec version", so.ID)
	}
	switch v := row[2].(type) {
	case nil:
	case int64:
		so.Version = time.Unix(0, v).UTC()
	default:
		return so, fmt.Errorf("%s has a version of type %T", so.ID, v)
	}
	if len(hash) != len(so.Hash) {
		return so, fmt.Errorf("%s has a corrupt hash of %d bytes", so.ID, len(hash))
	}
	copy(so.Hash[:], hash)
	so.DateAdded = time.UnixMicro(added).UTC()
	// The driver copies each blob into memory of its own for every row
	// (C.GoBytes), which TestObjectsKeepTheirContent holds it to: the
	// content is kept as it comes.
	so.JSON = content
	so.Class = class
	return so, nil
}

// DeleteObjects removes the matching versions; an empty version filter
// removes every version.
func (s *Store) DeleteObjects(ctx context.Context, q tearline.ObjectQuery) (int, error) {
	tx, done, err := s.begin(ctx)
	if err != nil {
		return 0, fmt.Errorf("delete objects: %w", err)
	}
	defer done()
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
