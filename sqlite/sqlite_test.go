package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/storetest"
)

func TestContract(t *testing.T) {
	storetest.Run(t, contractStore(freshKeysMerged))
}

// TestContractMergingKeys runs the store contract with the fresh keys
// merged after every few: each test then finds its ids in both tables of
// keys, and across merges.
func TestContractMergingKeys(t *testing.T) {
	storetest.Run(t, contractStore(3))
}

// contractStore opens fresh stores that merge their fresh keys at
// mergeAt.
func contractStore(mergeAt int) storetest.Opener {
	return func(t *testing.T) tearline.ObjectStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "test.db"))
		if err != nil {
			t.Fatal(err)
		}
		s.mergeAt = mergeAt
		return s
	}
}

// openWithCollection opens (creating) the database at path, with a
// collection aliased "c"; the caller closes it.
func openWithCollection(tb testing.TB, path string) *Store {
	tb.Helper()
	ctx := context.Background()
	s, err := Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := s.CreateCollection(ctx, tearline.Collection{Alias: "c"}); err != nil {
		s.Close()
		tb.Fatal(err)
	}
	return s
}

// TestCursorSurvivesRestart pages half-way, reopens the database, and
// carries on from the same DateAdded cursor.
func TestCursorSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := openWithCollection(t, path)
	var objs []*tearline.Object
	for i := 0; i < 10; i++ {
		objs = append(objs, &tearline.Object{ID: fmt.Sprintf("url--00000000-0000-4000-8000-%012d", i), Type: "url", SpecVersion: "2.1",
			Hash: [32]byte{byte(i)}, JSON: []byte(fmt.Sprintf(`{"n":%d}`, i))})
	}
	if _, err := s.PutObjects(ctx, "c", objs); err != nil {
		t.Fatal(err)
	}
	p1, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", Limit: 4})
	if err != nil || len(p1.Objects) != 4 || !p1.More {
		t.Fatalf("first page = %d objects, more %v, %v", len(p1.Objects), p1.More, err)
	}
	cursor := p1.Objects[3].DateAdded
	s.Close()

	s, err = Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	p2, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", After: cursor})
	if err != nil || len(p2.Objects) != 6 || string(p2.Objects[0].JSON) != `{"n":4}` {
		t.Fatalf("after restart: %d objects starting %s, %v; want 6 starting with n=4", len(p2.Objects), p2.Objects[0].JSON, err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	var applied int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&applied); err != nil {
		t.Fatal(err)
	}
	// Migrations are applied by number, each once; a number may be
	// skipped (another branch's migration still to come).
	newest := 0
	for _, name := range names {
		var n int
		if _, err := fmt.Sscanf(filepath.Base(name), "%04d_", &n); err != nil {
			t.Fatalf("migration %s: %v", name, err)
		}
		newest = max(newest, n)
	}
	if v, _ := s.SchemaVersion(ctx); v != newest || applied != len(names) {
		t.Errorf("after reopen: SchemaVersion = %d with %d migrations recorded; want %d, and %d migrations each applied once", v, applied, newest, len(names))
	}
}

func TestBackup(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := openWithCollection(t, filepath.Join(dir, "node.db"))
	defer s.Close()
	if _, err := s.PutObjects(ctx, "c", []*tearline.Object{{ID: "url--00000000-0000-4000-8000-000000000001", Type: "url", SpecVersion: "2.1", JSON: []byte(`{}`)}}); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(dir, "copy.db")
	if err := s.Backup(ctx, dest); err != nil {
		t.Fatal(err)
	}
	if err := s.Backup(ctx, dest); err == nil {
		t.Error("Backup over an existing file succeeded; want an error")
	}
	b, err := Open(ctx, dest)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n, err := b.Count(ctx, "c"); err != nil || n != 1 {
		t.Errorf("backup holds %d objects, %v; want 1", n, err)
	}
}

func TestOpenReadOnlyRefusesWrites(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	if err := openWithCollection(t, path).Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := OpenReadOnly(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.Collection(ctx, "c"); err != nil {
		t.Errorf("read-only Collection: %v", err)
	}
	if _, err := ro.CreateCollection(ctx, tearline.Collection{Alias: "d"}); err == nil {
		t.Error("CreateCollection on a read-only store succeeded")
	}
	if _, err := OpenReadOnly(ctx, filepath.Join(t.TempDir(), "absent.db")); err == nil {
		t.Error("OpenReadOnly of a missing file succeeded")
	}
}

// TestObjectsKeepTheirContent: the objects of a page keep their own
// content and hash, each as stored, after the rows after them were read
// and after the page's connection went back to the pool and served other
// queries. Objects keeps the driver's values without copying them, which
// is right only while the driver gives every row memory of its own.
func TestObjectsKeepTheirContent(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	var objs []*tearline.Object
	for i := range 50 {
		o, _, err := stix.Parse(fmt.Appendf(nil, `{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","name":"indicator %d %s","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}`,
			i, i, strings.Repeat("x", i*37), i))
		if err != nil {
			t.Fatal(err)
		}
		objs = append(objs, o)
	}
	if _, err := s.PutObjects(ctx, "c", objs); err != nil {
		t.Fatal(err)
	}
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", Version: tearline.VersionFilter{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	// Other queries on the pool's connections.
	for range 5 {
		if _, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", Limit: 7, Version: tearline.VersionFilter{All: true}}); err != nil {
			t.Fatal(err)
		}
	}
	if len(page.Objects) != len(objs) {
		t.Fatalf("read %d objects; want %d", len(page.Objects), len(objs))
	}
	for i, o := range page.Objects {
		if !bytes.Equal(o.JSON, objs[i].JSON) || o.Hash != objs[i].Hash || o.ID != objs[i].ID {
			t.Errorf("object %d reads %s (hash %x); want %s as stored", i, o.JSON, o.Hash[:4], objs[i].JSON)
		}
	}
}
