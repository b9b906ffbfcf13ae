// Package storetest is the contract every tearline.ObjectStore must meet.
// Each store adapter runs Run against a real instance of its database; a
// behaviour that differs between stores is a bug in one of them.
package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// Opener returns a new, empty store. The store is closed by the suite.
type Opener func(t *testing.T) tearline.ObjectStore

// Run runs the contract suite. Each subtest opens its own store.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s tearline.ObjectStore)
	}{
		{"Collections", testCollections},
		{"PutStatuses", testPutStatuses},
		{"BatchDuplicates", testBatchDuplicates},
		{"Unversioned", testUnversioned},
		{"DateAddedIncreases", testDateAddedIncreases},
		{"RoundTrip", testRoundTrip},
		{"VersionFilter", testVersionFilter},
		{"SoleMark", testSoleMark},
		{"FieldFilters", testFieldFilters},
		{"Paging", testPaging},
		{"AddedAfter", testAddedAfter},
		{"CollectionsAreSeparate", testCollectionsSeparate},
		{"Delete", testDelete},
		{"DateAddedNotReusedAfterDelete", testNoReuseAfterDelete},
		{"UnknownCollection", testUnknownCollection},
		{"SchemaVersion", testSchemaVersion},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var base = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

// obj builds an object version whose JSON and hash depend on its content.
func obj(id string, version time.Time, content string) *tearline.Object {
	typ := id[:len(id)-38]
	js := fmt.Sprintf(`{"type":%q,"id":%q,"spec_version":"2.1"`, typ, id)
	if !version.IsZero() {
		ts := version.Format("2006-01-02T15:04:05.000000000Z")
		js += fmt.Sprintf(`,"created":"2020-01-01T00:00:00.000Z","modified":%q`, ts)
	}
	js += fmt.Sprintf(`,"x_content":%q}`, content)
	return &tearline.Object{
		ID: id, Type: typ, SpecVersion: "2.1", Version: version,
		Hash: sha256.Sum256([]byte(js)), JSON: []byte(js),
	}
}

func id(typ string, n int) string {
	return fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, n)
}

func mustCollection(t *testing.T, s tearline.ObjectStore, alias string) tearline.Collection {
	t.Helper()
	c, err := s.CreateCollection(context.Background(), tearline.Collection{Alias: alias, Title: "Collection " + alias})
	if err != nil {
		t.Fatalf("CreateCollection(%s): %v", alias, err)
	}
	return c
}

func put(t *testing.T, s tearline.ObjectStore, coll string, objs ...*tearline.Object) []tearline.PutResult {
	t.Helper()
	res, err := s.PutObjects(context.Background(), coll, objs)
	if err != nil {
		t.Fatalf("PutObjects: %v", err)
	}
	if len(res) != len(objs) {
		t.Fatalf("PutObjects returned %d results for %d objects", len(res), len(objs))
	}
	return res
}

func statuses(res []tearline.PutResult) []tearline.PutStatus {
	out := make([]tearline.PutStatus, len(res))
	for i, r := range res {
		out[i] = r.Status
	}
	return out
}

func query(t *testing.T, s tearline.ObjectStore, q tearline.ObjectQuery) tearline.ObjectPage {
	t.Helper()
	p, err := s.Objects(context.Background(), q)
	if err != nil {
		t.Fatalf("Objects(%+v): %v", q, err)
	}
	return p
}

// keys renders a page as "id@version" strings for comparisons.
func keys(p tearline.ObjectPage) []string {
	out := make([]string, len(p.Objects))
	for i, o := range p.Objects {
		out[i] = fmt.Sprintf("%s@%s", o.ID[len(o.ID)-2:], o.EffectiveVersion().Format(time.RFC3339Nano))
	}
	return out
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testCollections(t *testing.T, s tearline.ObjectStore) {
	ctx := context.Background()
	a := mustCollection(t, s, "alpha")
	if a.ID == "" || a.Created.IsZero() {
		t.Errorf("CreateCollection = %+v; want an id and a creation time", a)
	}
	b, err := s.CreateCollection(ctx, tearline.Collection{ID: "91a7b528-80eb-42ed-a74d-c6fbd5a26116", Alias: "bravo", Title: "Bravo", Description: "second"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateCollection(ctx, tearline.Collection{Alias: "alpha"}); !errors.Is(err, tearline.ErrExists) {
		t.Errorf("CreateCollection(duplicate alias) = %v; want ErrExists", err)
	}
	for _, key := range []string{"bravo", b.ID} {
		got, err := s.Collection(ctx, key)
		if err != nil || got.ID != b.ID || got.Alias != "bravo" || got.Title != "Bravo" || got.Description != "second" {
			t.Errorf("Collection(%s) = %+v, %v; want %+v", key, got, err, b)
		}
	}
	if _, err := s.Collection(ctx, "charlie"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Collection(unknown) = %v; want ErrNotFound", err)
	}
	all, err := s.Collections(ctx)
	if err != nil || len(all) != 2 {
		t.Fatalf("Collections() = %v, %v; want 2", all, err)
	}
}

func testPutStatuses(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	v1 := obj(id("indicator", 1), base, "one")
	res := put(t, s, "c", v1)
	if res[0].Status != tearline.Added || res[0].DateAdded.IsZero() {
		t.Fatalf("first put = %+v; want Added with a DateAdded", res[0])
	}
	same := obj(id("indicator", 1), base, "one")
	changed := obj(id("indicator", 1), base, "tampered")
	newer := obj(id("indicator", 1), base.Add(time.Second), "two")
	got := statuses(put(t, s, "c", same, changed, newer))
	want := []tearline.PutStatus{tearline.Present, tearline.Conflict, tearline.Added}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("PutObjects statuses = %v; want %v", got, want)
	}
	if n, err := s.Count(context.Background(), "c"); err != nil || n != 2 {
		t.Errorf("Count = %d, %v; want 2", n, err)
	}
	// The refused version must not have replaced the stored one.
	p := query(t, s, tearline.ObjectQuery{Collection: "c", Version: tearline.VersionFilter{Exact: []time.Time{base}}})
	if len(p.Objects) != 1 || string(p.Objects[0].JSON) != string(v1.JSON) {
		t.Errorf("stored version after a conflict = %v; want the original", keys(p))
	}
}

func testBatchDuplicates(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	a := obj(id("malware", 1), base, "a")
	got := statuses(put(t, s, "c", a, obj(id("malware", 1), base, "a"), obj(id("malware", 1), base, "b")))
	want := []tearline.PutStatus{tearline.Added, tearline.Present, tearline.Conflict}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("statuses within one batch = %v; want %v", got, want)
	}
}

func testUnversioned(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	ip := obj(id("ipv4-addr", 1), time.Time{}, "198.51.100.3")
	res := put(t, s, "c", ip, obj(id("ipv4-addr", 1), time.Time{}, "198.51.100.3"))
	if fmt.Sprint(statuses(res)) != fmt.Sprint([]tearline.PutStatus{tearline.Added, tearline.Present}) {
		t.Fatalf("statuses = %v; want [added present]", statuses(res))
	}
	// Different content under the same id is another version, versioned by
	// its DateAdded.
	res2 := put(t, s, "c", obj(id("ipv4-addr", 1), time.Time{}, "with a label"))
	if res2[0].Status != tearline.Added {
		t.Fatalf("second content = %v; want added", res2[0].Status)
	}
	p := query(t, s, tearline.ObjectQuery{Collection: "c", Version: tearline.VersionFilter{All: true}})
	if len(p.Objects) != 2 {
		t.Fatalf("all versions = %v; want 2", keys(p))
	}
	for _, o := range p.Objects {
		if o.Versioned() || !o.EffectiveVersion().Equal(o.DateAdded) {
			t.Errorf("unversioned object %s: Version %v, effective %v; want zero and DateAdded %v", o.ID, o.Version, o.EffectiveVersion(), o.DateAdded)
		}
	}
	last := query(t, s, tearline.ObjectQuery{Collection: "c"})
	if len(last.Objects) != 1 || !last.Objects[0].DateAdded.Equal(res2[0].DateAdded) {
		t.Errorf("last version = %v; want the one added second", keys(last))
	}
}

func testDateAddedIncreases(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	var prev time.Time
	for batch := 0; batch < 3; batch++ {
		var objs []*tearline.Object
		for i := 0; i < 50; i++ {
			objs = append(objs, obj(id("indicator", batch*100+i), base, "x"))
		}
		for i, r := range put(t, s, "c", objs...) {
			if !r.DateAdded.After(prev) {
				t.Fatalf("batch %d object %d: DateAdded %v not after %v", batch, i, r.DateAdded, prev)
			}
			if r.DateAdded.Nanosecond()%1000 != 0 {
				t.Fatalf("DateAdded %v has sub-microsecond digits", r.DateAdded)
			}
			prev = r.DateAdded
		}
	}
}

func testRoundTrip(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	v := time.Date(2024, 2, 29, 23, 59, 59, 123456789, time.UTC)
	o := obj(id("report", 7), v, "ünïcode \u2028 \"quoted\"")
	o.SpecVersion = "2.1"
	put(t, s, "c", o)
	p := query(t, s, tearline.ObjectQuery{Collection: "c"})
	if len(p.Objects) != 1 {
		t.Fatalf("Objects = %v; want 1", keys(p))
	}
	got := p.Objects[0]
	if got.ID != o.ID || got.Type != "report" || got.SpecVersion != "2.1" || !got.Version.Equal(v) ||
		got.Hash != o.Hash || string(got.JSON) != string(o.JSON) {
		t.Errorf("round trip = %+v\nwant %+v", got.Object, *o)
	}
}

// versions stores three versions of object 1 and two of object 2.
func versions(t *testing.T, s tearline.ObjectStore) (t1, t2, t3 time.Time) {
	mustCollection(t, s, "c")
	t1, t2, t3 = base, base.Add(time.Hour), base.Add(2*time.Hour)
	// Stored out of order: the newest version of 1 is added first.
	put(t, s, "c", obj(id("campaign", 1), t3, "v3"), obj(id("campaign", 2), t1, "v1"))
	put(t, s, "c", obj(id("campaign", 1), t1, "v1"), obj(id("campaign", 2), t2, "v2"))
	put(t, s, "c", obj(id("campaign", 1), t2, "v2"))
	return
}

func testVersionFilter(t *testing.T, s tearline.ObjectStore) {
	t1, t2, t3 := versions(t, s)
	f := func(ts time.Time) string { return ts.Format(time.RFC3339Nano) }
	cases := []struct {
		name string
		vf   tearline.VersionFilter
		want []string
	}{
		{"default is last", tearline.VersionFilter{}, []string{"01@" + f(t3), "02@" + f(t2)}},
		{"last", tearline.VersionFilter{Last: true}, []string{"01@" + f(t3), "02@" + f(t2)}},
		{"first", tearline.VersionFilter{First: true}, []string{"02@" + f(t1), "01@" + f(t1)}},
		{"all", tearline.VersionFilter{All: true}, []string{"01@" + f(t3), "02@" + f(t1), "01@" + f(t1), "02@" + f(t2), "01@" + f(t2)}},
		{"exact", tearline.VersionFilter{Exact: []time.Time{t2}}, []string{"02@" + f(t2), "01@" + f(t2)}},
		{"first or exact", tearline.VersionFilter{First: true, Exact: []time.Time{t2}}, []string{"02@" + f(t1), "01@" + f(t1), "02@" + f(t2), "01@" + f(t2)}},
		{"first or last", tearline.VersionFilter{First: true, Last: true}, []string{"01@" + f(t3), "02@" + f(t1), "01@" + f(t1), "02@" + f(t2)}},
		{"exact matches nothing", tearline.VersionFilter{Exact: []time.Time{t1.Add(time.Nanosecond)}}, []string{}},
	}
	for _, c := range cases {
		got := keys(query(t, s, tearline.ObjectQuery{Collection: "c", Version: c.vf}))
		if !equal(got, c.want) {
			t.Errorf("%s: Objects(version %+v) = %v; want %v", c.name, c.vf, got, c.want)
		}
	}
}

// testSoleMark: asked to, the store marks each version that is the only
// one of its id in the collection, whatever the filters; a version of the
// same id in another collection, or one deleted, does not count.
func testSoleMark(t *testing.T, s tearline.ObjectStore) {
	ctx := context.Background()
	t1, _, _ := versions(t, s) // campaign 1: three versions; 2: two
	mustCollection(t, s, "d")
	put(t, s, "c", obj(id("malware", 3), t1, "m"), obj(id("malware", 4), t1, "m"), obj(id("ipv4-addr", 5), time.Time{}, "o"))
	put(t, s, "d", obj(id("malware", 3), t1.Add(time.Hour), "other collection"))
	if _, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id("campaign", 2)}, Version: tearline.VersionFilter{First: true}}); err != nil {
		t.Fatal(err)
	}
	marks := func(q tearline.ObjectQuery) []string {
		t.Helper()
		q.Collection = "c"
		var out []string
		for _, o := range query(t, s, q).Objects {
			if o.Sole {
				out = append(out, o.ID[len(o.ID)-2:])
			}
		}
		return out
	}
	all := tearline.VersionFilter{All: true}
	for _, c := range []struct {
		name string
		q    tearline.ObjectQuery
		want []string
	}{
		{"every version", tearline.ObjectQuery{MarkSole: true, Version: all}, []string{"02", "03", "04", "05"}},
		{"by id", tearline.ObjectQuery{MarkSole: true, Version: all, IDs: []string{id("campaign", 1), id("malware", 3)}}, []string{"03"}},
		{"by type, last", tearline.ObjectQuery{MarkSole: true, Types: []string{"campaign"}}, []string{"02"}},
		{"a page", tearline.ObjectQuery{MarkSole: true, Version: all, Limit: 1}, nil},
		{"not asked", tearline.ObjectQuery{Version: all}, nil},
	} {
		if got := marks(c.q); !equal(got, c.want) {
			t.Errorf("%s: versions marked sole: %v; want %v", c.name, got, c.want)
		}
	}
}

func testFieldFilters(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	sv20 := obj(id("tool", 3), base, "old")
	sv20.SpecVersion = "2.0"
	put(t, s, "c", obj(id("indicator", 1), base, "i"), obj(id("malware", 2), base, "m"), sv20)
	cases := []struct {
		name string
		q    tearline.ObjectQuery
		want int
	}{
		{"id", tearline.ObjectQuery{IDs: []string{id("malware", 2)}}, 1},
		{"ids or", tearline.ObjectQuery{IDs: []string{id("malware", 2), id("indicator", 1)}}, 2},
		{"type", tearline.ObjectQuery{Types: []string{"indicator"}}, 1},
		{"types or", tearline.ObjectQuery{Types: []string{"indicator", "tool"}}, 2},
		{"id and type", tearline.ObjectQuery{IDs: []string{id("malware", 2)}, Types: []string{"indicator"}}, 0},
		{"spec version", tearline.ObjectQuery{SpecVersions: []string{"2.0"}}, 1},
		{"unknown id", tearline.ObjectQuery{IDs: []string{id("malware", 9)}}, 0},
	}
	for _, c := range cases {
		c.q.Collection = "c"
		if got := query(t, s, c.q); len(got.Objects) != c.want {
			t.Errorf("%s: Objects(%+v) = %v; want %d objects", c.name, c.q, keys(got), c.want)
		}
	}
}

func testPaging(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	var objs []*tearline.Object
	for i := 0; i < 23; i++ {
		objs = append(objs, obj(id("indicator", i), base, "x"))
	}
	put(t, s, "c", objs...)
	seen := map[string]bool{}
	var cursor time.Time
	pages := 0
	for {
		p := query(t, s, tearline.ObjectQuery{Collection: "c", Limit: 5, After: cursor})
		pages++
		for _, o := range p.Objects {
			if seen[o.ID] {
				t.Fatalf("page %d repeats %s", pages, o.ID)
			}
			seen[o.ID] = true
		}
		if len(p.Objects) > 5 {
			t.Fatalf("page of %d objects with limit 5", len(p.Objects))
		}
		if !p.More {
			break
		}
		if len(p.Objects) == 0 {
			t.Fatal("empty page with More set")
		}
		cursor = p.Objects[len(p.Objects)-1].DateAdded
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != 23 || pages != 5 {
		t.Errorf("paging saw %d objects in %d pages; want 23 in 5", len(seen), pages)
	}
	// Exactly a page's worth left: More is false.
	p := query(t, s, tearline.ObjectQuery{Collection: "c", Limit: 23})
	if p.More || len(p.Objects) != 23 {
		t.Errorf("limit 23 of 23: %d objects, More %v; want 23, false", len(p.Objects), p.More)
	}
}

func testAddedAfter(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	r1 := put(t, s, "c", obj(id("indicator", 1), base, "x"))
	put(t, s, "c", obj(id("indicator", 2), base, "x"))
	p := query(t, s, tearline.ObjectQuery{Collection: "c", AddedAfter: r1[0].DateAdded})
	if len(p.Objects) != 1 || p.Objects[0].ID != id("indicator", 2) {
		t.Errorf("AddedAfter(first) = %v; want only the second object", keys(p))
	}
}

func testCollectionsSeparate(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "a")
	mustCollection(t, s, "b")
	o := obj(id("identity", 1), base, "x")
	if r := put(t, s, "a", o); r[0].Status != tearline.Added {
		t.Fatal("put in a not added")
	}
	if r := put(t, s, "b", o); r[0].Status != tearline.Added {
		t.Errorf("same version in another collection = %v; want added", r[0].Status)
	}
	put(t, s, "b", obj(id("identity", 2), base, "y"))
	na, _ := s.Count(context.Background(), "a")
	nb, _ := s.Count(context.Background(), "b")
	all, _ := s.Count(context.Background(), "")
	if na != 1 || nb != 2 || all != 3 {
		t.Errorf("counts a=%d b=%d all=%d; want 1 2 3", na, nb, all)
	}
	if p := query(t, s, tearline.ObjectQuery{Collection: "a"}); len(p.Objects) != 1 {
		t.Errorf("collection a holds %v; want 1 object", keys(p))
	}
}

func testDelete(t *testing.T, s tearline.ObjectStore) {
	t1, _, t3 := versions(t, s)
	ctx := context.Background()
	n, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id("campaign", 1)}, Version: tearline.VersionFilter{Exact: []time.Time{t3}}})
	if err != nil || n != 1 {
		t.Fatalf("DeleteObjects(exact) = %d, %v; want 1", n, err)
	}
	// The newest remaining version is now the last.
	p := query(t, s, tearline.ObjectQuery{Collection: "c", IDs: []string{id("campaign", 1)}})
	if len(p.Objects) != 1 || p.Objects[0].Version.Equal(t3) || p.Objects[0].Version.Equal(t1) {
		t.Errorf("last version after deleting the newest = %v; want the middle one", keys(p))
	}
	n, err = s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id("campaign", 1)}})
	if err != nil || n != 2 {
		t.Fatalf("DeleteObjects(all versions) = %d, %v; want 2", n, err)
	}
	if p := query(t, s, tearline.ObjectQuery{Collection: "c", IDs: []string{id("campaign", 1)}, Version: tearline.VersionFilter{All: true}}); len(p.Objects) != 0 {
		t.Errorf("after delete: %v; want nothing", keys(p))
	}
	if c, _ := s.Count(ctx, "c"); c != 2 {
		t.Errorf("Count after deletes = %d; want the other object's 2 versions", c)
	}
	n, err = s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id("campaign", 9)}})
	if err != nil || n != 0 {
		t.Errorf("DeleteObjects(absent) = %d, %v; want 0, nil", n, err)
	}
}

func testNoReuseAfterDelete(t *testing.T, s tearline.ObjectStore) {
	mustCollection(t, s, "c")
	r := put(t, s, "c", obj(id("note", 1), base, "x"))
	if _, err := s.DeleteObjects(context.Background(), tearline.ObjectQuery{Collection: "c", IDs: []string{id("note", 1)}}); err != nil {
		t.Fatal(err)
	}
	r2 := put(t, s, "c", obj(id("note", 2), base, "y"))
	if !r2[0].DateAdded.After(r[0].DateAdded) {
		t.Errorf("DateAdded after deleting the newest = %v; want after %v", r2[0].DateAdded, r[0].DateAdded)
	}
}

func testUnknownCollection(t *testing.T, s tearline.ObjectStore) {
	ctx := context.Background()
	if _, err := s.PutObjects(ctx, "nope", []*tearline.Object{obj(id("note", 1), base, "x")}); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("PutObjects(unknown collection) = %v; want ErrNotFound", err)
	}
	if _, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "nope"}); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Objects(unknown collection) = %v; want ErrNotFound", err)
	}
	if _, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "nope"}); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("DeleteObjects(unknown collection) = %v; want ErrNotFound", err)
	}
}

func testSchemaVersion(t *testing.T, s tearline.ObjectStore) {
	v, err := s.SchemaVersion(context.Background())
	if err != nil || v < 1 {
		t.Errorf("SchemaVersion() = %d, %v; want at least 1", v, err)
	}
}
