package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// keyedIndicator is version v (a day after the first) of indicator i.
func keyedIndicator(t *testing.T, i, v int, name string) *tearline.Object {
	t.Helper()
	at := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	o, _, err := stix.Parse(fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":%q,"modified":%q,"name":%q,"pattern":"[ipv4-addr:value = '198.51.100.1']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
		i, stix.FormatTimestamp(at), stix.FormatTimestamp(at.AddDate(0, 0, v)), name))
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// checkKeys fails unless the tables of keys hold exactly one key per
// stored version and nothing else, and freshKeys counts at least the fresh
// ones.
func checkKeys(t *testing.T, s *Store) {
	t.Helper()
	ctx := context.Background()
	for _, c := range []struct{ what, query string }{
		{"versions without exactly one key", `SELECT count(*) FROM objects o WHERE (SELECT count(*) FROM object_keys k
			WHERE k.collection = o.collection AND k.id_key = o.id_key AND k.date_added = o.date_added) <> 1`},
		{"keys without a version", `SELECT count(*) FROM object_keys k WHERE NOT EXISTS (SELECT 1 FROM objects o
			WHERE o.date_added = k.date_added AND o.collection = k.collection AND o.id_key = k.id_key)`},
		{"keys in both tables", `SELECT count(*) FROM object_ids m JOIN object_ids_fresh f USING (collection, id_key, date_added)`},
	} {
		var n int
		if err := s.db.QueryRowContext(ctx, c.query).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d %s", n, c.what)
		}
	}
	var fresh int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM object_ids_fresh`).Scan(&fresh); err != nil {
		t.Fatal(err)
	}
	// A delete leaves the count above the keys left, never below.
	if fresh > s.freshKeys || fresh >= s.mergeAt {
		t.Errorf("object_ids_fresh holds %d keys; the store counts %d and merges at %d", fresh, s.freshKeys, s.mergeAt)
	}
}

// TestObjectKeys writes versions of the same ids across merges of the
// fresh keys, deletes some, and checks at each step that duplicates and
// conflicts are still told apart, that lookups by id and version filters
// see every version wherever its key is, and that the keys match the
// versions.
func TestObjectKeys(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	s.mergeAt = 7
	const ids, versions = 10, 4
	for v := range versions {
		var batch []*tearline.Object
		for i := range ids {
			batch = append(batch, keyedIndicator(t, i, v, "first"))
		}
		res, err := s.PutObjects(ctx, "c", batch)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Status != tearline.Added {
				t.Fatalf("version %d of indicator %d: %v; want added", v, i, r.Status)
			}
		}
		checkKeys(t, s)
		// Every earlier version again: present, or a conflict when its
		// content differs, whichever table holds its key now.
		for w := 0; w <= v; w++ {
			res, err := s.PutObjects(ctx, "c", []*tearline.Object{keyedIndicator(t, 3, w, "first"), keyedIndicator(t, 4, w, "other")})
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Status != tearline.Present || res[1].Status != tearline.Conflict {
				t.Fatalf("version %d again, after %d versions: %v and %v; want present and conflict", w, v+1, res[0].Status, res[1].Status)
			}
		}
	}
	id := func(i int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i) }
	versionsOf := func(q tearline.ObjectQuery) []string {
		t.Helper()
		q.Collection = "c"
		pg, err := s.Objects(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, o := range pg.Objects {
			out = append(out, fmt.Sprintf("%s@%d", o.ID[len(o.ID)-2:], o.Version.Day()))
		}
		return out
	}
	for _, c := range []struct {
		q    tearline.ObjectQuery
		want string
	}{
		{tearline.ObjectQuery{IDs: []string{id(2)}, Version: tearline.VersionFilter{All: true}}, "02@1 02@2 02@3 02@4"},
		{tearline.ObjectQuery{IDs: []string{id(2), id(7)}}, "02@4 07@4"},
		{tearline.ObjectQuery{IDs: []string{id(7)}, Version: tearline.VersionFilter{First: true}}, "07@1"},
		{tearline.ObjectQuery{IDs: []string{id(7)}, Version: tearline.VersionFilter{First: true, Last: true}}, "07@1 07@4"},
		{tearline.ObjectQuery{Limit: 3}, "00@4 01@4 02@4"},
	} {
		if got := strings.Join(versionsOf(c.q), " "); got != c.want {
			t.Errorf("Objects(%+v) = %s; want %s", c.q, got, c.want)
		}
	}

	// Deleting the last version makes the one before it the last.
	if n, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id(2)}, Version: tearline.VersionFilter{Last: true}}); err != nil || n != 1 {
		t.Fatalf("delete the last version: %d, %v; want 1 deleted", n, err)
	}
	checkKeys(t, s)
	if got := strings.Join(versionsOf(tearline.ObjectQuery{IDs: []string{id(2)}}), " "); got != "02@3" {
		t.Errorf("the last version after deleting the newest is %s; want 02@3", got)
	}
	// A deleted version can be stored again.
	res, err := s.PutObjects(ctx, "c", []*tearline.Object{keyedIndicator(t, 2, 3, "first")})
	if err != nil || res[0].Status != tearline.Added {
		t.Fatalf("storing a deleted version again: %v, %v; want added", res, err)
	}
	if n, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id(5)}}); err != nil || n != versions {
		t.Fatalf("delete every version of one id: %d, %v; want %d", n, err, versions)
	}
	checkKeys(t, s)
	if got := versionsOf(tearline.ObjectQuery{IDs: []string{id(5)}, Version: tearline.VersionFilter{All: true}}); len(got) != 0 {
		t.Errorf("a deleted id still has versions: %v", got)
	}

	// Reopened, the store counts the fresh keys it left.
	s.Close()
	if s, err = Open(ctx, s.path); err != nil {
		t.Fatal(err)
	}
	s.mergeAt = 7
	checkKeys(t, s)
}

// TestMigrationKeysStoredObjects: a database written before the tables of
// keys had them filled from its objects on opening, and reads and writes
// as a new one.
func TestMigrationKeysStoredObjects(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := openWithCollection(t, path)
	var batch []*tearline.Object
	for i := range 20 {
		batch = append(batch, keyedIndicator(t, i, 0, "first"), keyedIndicator(t, i, 1, "first"))
	}
	if _, err := s.PutObjects(ctx, "c", batch); err != nil {
		t.Fatal(err)
	}
	// Back to the schema before migration 15 (and 16, which dropped the
	// triggers on inserts).
	if _, err := s.db.ExecContext(ctx, `DROP TRIGGER objects_unkeyed; DROP VIEW object_keys;
		DROP TABLE object_ids; DROP TABLE object_ids_fresh;
		CREATE INDEX objects_id ON objects (collection, id_key);
		CREATE TRIGGER objects_recalled BEFORE INSERT ON objects
			WHEN EXISTS (SELECT 1 FROM tombstones t WHERE t.object_id = NEW.object_id AND t.hash = NEW.hash)
		BEGIN
			SELECT RAISE(IGNORE);
		END;
		DELETE FROM schema_migrations WHERE version >= 15`); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkKeys(t, s)
	var triggers []string
	rows, err := s.db.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = 'objects' ORDER BY name`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		triggers = append(triggers, name)
	}
	rows.Close()
	if fmt.Sprint(triggers) != "[objects_unkeyed]" {
		t.Errorf("triggers on objects after the migrations: %v; want [objects_unkeyed] (inserts have none)", triggers)
	}
	var fresh, merged int
	if err := s.db.QueryRowContext(ctx, `SELECT (SELECT count(*) FROM object_ids_fresh), (SELECT count(*) FROM object_ids)`).Scan(&fresh, &merged); err != nil {
		t.Fatal(err)
	}
	if fresh != 0 || merged != 40 {
		t.Errorf("after the migration: %d fresh and %d merged keys; want 0 and 40", fresh, merged)
	}
	res, err := s.PutObjects(ctx, "c", []*tearline.Object{keyedIndicator(t, 3, 1, "first"), keyedIndicator(t, 3, 2, "first")})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Status != tearline.Present || res[1].Status != tearline.Added {
		t.Errorf("after the migration: a stored version is %v and a new one %v; want present and added", res[0].Status, res[1].Status)
	}
	checkKeys(t, s)
}

// TestObjectQueryPlans: no query of objects reads every key of a
// collection. A condition on the outer row written so that SQLite cannot
// push it into the view of both tables of keys (object_keys) makes it
// build a temporary index of the whole collection's keys for every row.
func TestObjectQueryPlans(t *testing.T) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, q := range []tearline.ObjectQuery{
		{IDs: []string{"indicator--a", "indicator--b"}},
		{IDs: []string{"indicator--a"}, Version: tearline.VersionFilter{First: true}},
		{Types: []string{"indicator"}, Version: tearline.VersionFilter{Last: true, First: true}},
		{},
	} {
		cond, args := where(1, q, false)
		all := queryPlan(t, s, `SELECT o.date_added FROM objects o WHERE `+cond+` ORDER BY o.date_added LIMIT 1001`, args...)
		for _, bad := range []string{"AUTOMATIC", "CO-ROUTINE", "SCAN"} {
			if strings.Contains(all, bad) {
				t.Errorf("the plan of %+v has %s:\n%s", q, bad, all)
			}
		}
	}
	// The lookup of a batch's keys searches both tables by key.
	all := queryPlan(t, s, storedVersionsSQL, 1, "[1,2,3]")
	for _, want := range []string{"SEARCH object_ids USING PRIMARY KEY (collection=? AND id_key=?)", "SEARCH object_ids_fresh USING PRIMARY KEY (collection=? AND id_key=?)"} {
		if !strings.Contains(all, want) {
			t.Errorf("the plan of the stored versions lookup lacks %q:\n%s", want, all)
		}
	}
	for _, bad := range []string{"AUTOMATIC", "SCAN object_ids", "SCAN o"} {
		if strings.Contains(all, bad) {
			t.Errorf("the plan of the stored versions lookup has %s:\n%s", bad, all)
		}
	}
}

// queryPlan is SQLite's plan of query, a line a step.
func queryPlan(t *testing.T, s *Store, query string, args ...any) string {
	t.Helper()
	rows, err := s.db.QueryContext(context.Background(), `EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return strings.Join(plan, "\n")
}

// TestClassKeys: each object's release class key is the SHA-256 of its
// class, whether its encoding is shared with other objects or a copy.
func TestClassKeys(t *testing.T) {
	a, b := []byte(`{"class":"a"}`), []byte(`{"class":"b"}`)
	objs := []*tearline.Object{{ReleaseClass: a}, {}, {ReleaseClass: b}, {ReleaseClass: a}, {ReleaseClass: append([]byte(nil), b...)}}
	want := [][32]byte{sha256.Sum256(a), {}, sha256.Sum256(b), sha256.Sum256(a), sha256.Sum256(b)}
	if got := classKeys(objs); !reflect.DeepEqual(got, want) {
		t.Errorf("classKeys = %x; want %x", got, want)
	}
}
