package postgres

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/storetest"
)

// The tests run against the server at TEARLINE_TEST_POSTGRES_URL, a role
// there that may create databases, or else against a throwaway cluster
// started on first use. Without PostgreSQL binaries they skip, unless
// TEARLINE_REQUIRE_POSTGRES=1 says that skipping would hide a gap in CI.
var testServer struct {
	once    sync.Once
	url     string
	err     error
	cluster *Cluster
	dir     string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if c := testServer.cluster; c != nil {
		if err := c.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}
	if testServer.dir != "" {
		os.RemoveAll(testServer.dir)
	}
	os.Exit(code)
}

// serverURL returns the URL of the test server, starting it if need be.
func serverURL(tb testing.TB) string {
	tb.Helper()
	testServer.once.Do(func() {
		if u := os.Getenv("TEARLINE_TEST_POSTGRES_URL"); u != "" {
			testServer.url = u
			return
		}
		dir, err := os.MkdirTemp("", "tearline-postgres-")
		if err != nil {
			testServer.err = err
			return
		}
		// The server may run as another user (see StartCluster), which must
		// be able to enter the directory.
		if err := os.Chmod(dir, 0o755); err != nil {
			testServer.err = err
			return
		}
		testServer.dir = dir
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := StartCluster(ctx, dir)
		if err != nil {
			testServer.err = err
			return
		}
		testServer.cluster, testServer.url = c, c.URL()
	})
	if errors.Is(testServer.err, ErrNoBinaries) && os.Getenv("TEARLINE_REQUIRE_POSTGRES") != "1" {
		tb.Skipf("no PostgreSQL: %v (set TEARLINE_TEST_POSTGRES_URL, or TEARLINE_REQUIRE_POSTGRES=1 to fail)", testServer.err)
	}
	if testServer.err != nil {
		tb.Fatalf("PostgreSQL test server: %v", testServer.err)
	}
	return testServer.url
}

// newDatabase creates an empty database on the test server, dropped when the
// test ends, and returns its URL.
func newDatabase(tb testing.TB) string {
	tb.Helper()
	admin := serverURL(tb)
	var b [8]byte
	rand.Read(b[:])
	name := fmt.Sprintf("tearline_test_%x", b)

	ctx := context.Background()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		tb.Fatalf("connect to test server: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		tb.Fatalf("create test database: %v", err)
	}
	tb.Cleanup(func() {
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			tb.Errorf("connect to drop test database: %v", err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			tb.Errorf("drop test database: %v", err)
		}
	})
	return withDatabase(tb, admin, name)
}

// withDatabase returns the connection string s pointing at another database.
func withDatabase(tb testing.TB, s, database string) string {
	tb.Helper()
	if !strings.Contains(s, "://") {
		return s + " dbname=" + database // later keywords win
	}
	u, err := url.Parse(s)
	if err != nil {
		tb.Fatalf("parse test server URL: %v", err)
	}
	u.Path = "/" + database
	return u.String()
}

// openStore opens a Store on a fresh database, closed when the test ends.
func openStore(tb testing.TB) *Store {
	tb.Helper()
	return openStoreAt(tb, newDatabase(tb))
}

func openStoreAt(tb testing.TB, url string) *Store {
	tb.Helper()
	s, err := Open(context.Background(), url)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	tb.Cleanup(func() { s.Close() })
	return s
}

// TestContract runs the contract every tearline.ObjectStore meets, each
// subtest on a database of its own.
func TestContract(t *testing.T) {
	storetest.Run(t, func(t *testing.T) tearline.ObjectStore {
		s, err := Open(context.Background(), newDatabase(t))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s // the suite closes it
	})
}

func newCollection(tb testing.TB, s *Store, alias string) tearline.Collection {
	tb.Helper()
	c, err := s.CreateCollection(context.Background(), tearline.Collection{Alias: alias, Title: alias})
	if err != nil {
		tb.Fatalf("CreateCollection(%q): %v", alias, err)
	}
	return c
}

// ts parses an RFC 3339 timestamp.
func ts(tb testing.TB, s string) time.Time {
	tb.Helper()
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// indicator returns a versioned object; body varies its content.
func indicator(id string, version time.Time, body string) *tearline.Object {
	js := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"modified":%q,"name":%q}`,
		id, version.Format(time.RFC3339Nano), body)
	return &tearline.Object{ID: id, Type: "indicator", SpecVersion: "2.1", Version: version,
		Hash: sha256.Sum256([]byte(js)), JSON: []byte(js)}
}

// observable returns an unversioned object; value varies its content.
func observable(id, value string) *tearline.Object {
	js := fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":%q,"value":%q}`, id, value)
	return &tearline.Object{ID: id, Type: "ipv4-addr", SpecVersion: "2.1",
		Hash: sha256.Sum256([]byte(js)), JSON: []byte(js)}
}

func put(tb testing.TB, s *Store, collection string, objs ...*tearline.Object) []tearline.PutResult {
	tb.Helper()
	res, err := s.PutObjects(context.Background(), collection, objs)
	if err != nil {
		tb.Fatalf("PutObjects: %v", err)
	}
	if len(res) != len(objs) {
		tb.Fatalf("PutObjects returned %d results for %d objects", len(res), len(objs))
	}
	return res
}

func statuses(res []tearline.PutResult) []tearline.PutStatus {
	var ss []tearline.PutStatus
	for _, r := range res {
		ss = append(ss, r.Status)
	}
	return ss
}

func query(tb testing.TB, s *Store, q tearline.ObjectQuery) tearline.ObjectPage {
	tb.Helper()
	page, err := s.Objects(context.Background(), q)
	if err != nil {
		tb.Fatalf("Objects(%+v): %v", q, err)
	}
	return page
}

// versionsOf lists a page's objects as "id@version" with the effective
// version in RFC 3339, in page order.
func versionsOf(page tearline.ObjectPage) []string {
	var vs []string
	for _, o := range page.Objects {
		vs = append(vs, o.ID+"@"+o.EffectiveVersion().Format(time.RFC3339Nano))
	}
	return vs
}

func TestPutObjectsStatuses(t *testing.T) {
	s := openStore(t)
	c := newCollection(t, s, "batch")
	t1 := ts(t, "2024-01-01T00:00:00.123456789Z")
	t2 := ts(t, "2024-02-01T00:00:00Z")
	a := "indicator--00000000-0000-4000-8000-00000000000a"
	o := "ipv4-addr--00000000-0000-5000-8000-00000000000b"

	first := put(t, s, c.ID, indicator(a, t1, "x"), observable(o, "10.0.0.1"))
	if got, want := statuses(first), []tearline.PutStatus{tearline.Added, tearline.Added}; !slices.Equal(got, want) {
		t.Fatalf("first batch statuses = %v; want %v", got, want)
	}

	tests := []struct {
		name string
		objs []*tearline.Object
		want []tearline.PutStatus
	}{
		{"stored versioned, same hash", []*tearline.Object{indicator(a, t1, "x")},
			[]tearline.PutStatus{tearline.Present}},
		{"stored versioned, other hash", []*tearline.Object{indicator(a, t1, "y")},
			[]tearline.PutStatus{tearline.Conflict}},
		{"stored unversioned, same hash", []*tearline.Object{observable(o, "10.0.0.1")},
			[]tearline.PutStatus{tearline.Present}},
		{"new version, then repeated, then conflicting", []*tearline.Object{
			indicator(a, t2, "x"), indicator(a, t2, "x"), indicator(a, t2, "z")},
			[]tearline.PutStatus{tearline.Added, tearline.Present, tearline.Conflict}},
		{"conflict with stored, then stored content", []*tearline.Object{
			indicator(a, t1, "w"), indicator(a, t1, "x")},
			[]tearline.PutStatus{tearline.Conflict, tearline.Present}},
		{"unversioned new content twice, then old content", []*tearline.Object{
			observable(o, "10.0.0.2"), observable(o, "10.0.0.2"), observable(o, "10.0.0.1")},
			[]tearline.PutStatus{tearline.Added, tearline.Present, tearline.Present}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := statuses(put(t, s, c.Alias, tt.objs...)); !slices.Equal(got, tt.want) {
				t.Errorf("PutObjects statuses = %v; want %v", got, tt.want)
			}
		})
	}

	// Stored: a@t1, a@t2, o twice (two contents).
	if n, err := s.Count(context.Background(), c.ID); err != nil || n != 4 {
		t.Errorf("Count = %d, %v; want 4", n, err)
	}
	// The conflicting content must not have replaced the stored one.
	page := query(t, s, tearline.ObjectQuery{Collection: c.ID, IDs: []string{a},
		Version: tearline.VersionFilter{Exact: []time.Time{t1}}})
	if len(page.Objects) != 1 || !bytes.Equal(page.Objects[0].JSON, indicator(a, t1, "x").JSON) {
		t.Errorf("stored %s@%v = %v; want the first content", a, t1, page.Objects)
	}
}

func TestPutObjectsRoundTrip(t *testing.T) {
	s := openStore(t)
	c := newCollection(t, s, "roundtrip")
	v := ts(t, "2023-05-06T07:08:09.987654321Z")
	// Key order and spacing that a jsonb column would not keep.
	js := `{"type":"indicator", "id":"indicator--1","spec_version":"2.1","modified":"2023-05-06T07:08:09.987654321Z","z":1,"a":2}`
	in := &tearline.Object{ID: "indicator--1", Type: "indicator", SpecVersion: "2.1", Version: v,
		Hash: sha256.Sum256([]byte("canonical")), JSON: []byte(js)}
	obs := observable("ipv4-addr--1", "192.0.2.1")
	res := put(t, s, c.ID, in, obs)

	page := query(t, s, tearline.ObjectQuery{Collection: c.ID})
	if len(page.Objects) != 2 {
		t.Fatalf("Objects returned %d objects; want 2", len(page.Objects))
	}
	got := page.Objects[0]
	if got.ID != in.ID || got.Type != in.Type || got.SpecVersion != in.SpecVersion ||
		!got.Version.Equal(v) || got.Hash != in.Hash || string(got.JSON) != js {
		t.Errorf("stored object = %+v; want %+v", got.Object, *in)
	}
	if !got.DateAdded.Equal(res[0].DateAdded) {
		t.Errorf("DateAdded = %v; want %v as PutObjects reported", got.DateAdded, res[0].DateAdded)
	}
	u := page.Objects[1]
	if !u.Version.IsZero() || u.Versioned() {
		t.Errorf("unversioned object came back with version %v", u.Version)
	}
	if !u.EffectiveVersion().Equal(res[1].DateAdded) {
		t.Errorf("unversioned EffectiveVersion = %v; want DateAdded %v", u.EffectiveVersion(), res[1].DateAdded)
	}
	// Its effective version is exactly addressable.
	exact := query(t, s, tearline.ObjectQuery{Collection: c.ID,
		Version: tearline.VersionFilter{Exact: []time.Time{res[1].DateAdded}}})
	if len(exact.Objects) != 1 || exact.Objects[0].ID != obs.ID {
		t.Errorf("Exact(DateAdded of %s) = %v; want that object", obs.ID, versionsOf(exact))
	}
}

func TestPutObjectsInvalidStoresNothing(t *testing.T) {
	s := openStore(t)
	c := newCollection(t, s, "invalid")
	tests := []struct {
		name string
		bad  *tearline.Object
	}{
		{"nil", nil},
		{"empty id", &tearline.Object{Type: "indicator", JSON: []byte(`{}`)}},
		{"no JSON", &tearline.Object{ID: "indicator--x", Type: "indicator"}},
		{"NUL in id", observable("ipv4-addr--\x00", "x")},
		{"version beyond 2262", indicator("indicator--late", ts(t, "2300-01-01T00:00:00Z"), "x")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := s.PutObjects(context.Background(), c.ID,
				[]*tearline.Object{observable("ipv4-addr--ok", "x"), tt.bad})
			if !errors.Is(err, tearline.ErrInvalid) {
				t.Errorf("PutObjects(valid, %s) error = %v; want ErrInvalid", tt.name, err)
			}
			if n, err := s.Count(context.Background(), c.ID); err != nil || n != 0 {
				t.Errorf("Count after failed batch = %d, %v; want 0", n, err)
			}
		})
	}
}

func TestUnknownCollection(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	newCollection(t, s, "known")
	if _, err := s.PutObjects(ctx, "nope", []*tearline.Object{observable("ipv4-addr--1", "x")}); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("PutObjects(nope) error = %v; want ErrNotFound", err)
	}
	if _, err := s.PutObjects(ctx, "nope", nil); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("PutObjects(nope, empty) error = %v; want ErrNotFound", err)
	}
	if _, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "nope"}); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Objects(nope) error = %v; want ErrNotFound", err)
	}
	if _, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "nope"}); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("DeleteObjects(nope) error = %v; want ErrNotFound", err)
	}
	if _, err := s.Count(ctx, "nope"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Count(nope) error = %v; want ErrNotFound", err)
	}
	if _, err := s.Collection(ctx, "nope"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Collection(nope) error = %v; want ErrNotFound", err)
	}
}

func TestCollections(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	created := ts(t, "2024-03-04T05:06:07.123456789Z")
	b, err := s.CreateCollection(ctx, tearline.Collection{Alias: "b", Title: "B", Description: "second", Created: created})
	if err != nil {
		t.Fatalf("CreateCollection(b): %v", err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(b.ID) {
		t.Errorf("generated ID %q is not a version 4 UUID", b.ID)
	}
	if want := created.Truncate(time.Microsecond); !b.Created.Equal(want) {
		t.Errorf("Created = %v; want %v", b.Created, want)
	}
	a, err := s.CreateCollection(ctx, tearline.Collection{ID: "fixed-id", Alias: "a", Created: created})
	if err != nil {
		t.Fatalf("CreateCollection(a): %v", err)
	}
	before := time.Now().Add(-time.Second)
	late, err := s.CreateCollection(ctx, tearline.Collection{Alias: "late"})
	if err != nil {
		t.Fatalf("CreateCollection(late): %v", err)
	}
	if late.Created.Before(before) || late.Title != "late" {
		t.Errorf("CreateCollection(late) = %+v; want Created about now and Title defaulting to the alias", late)
	}
	if _, err := s.CreateCollection(ctx, tearline.Collection{Title: "no alias"}); !errors.Is(err, tearline.ErrInvalid) {
		t.Errorf("CreateCollection without alias error = %v; want ErrInvalid", err)
	}

	for _, dup := range []tearline.Collection{
		{Alias: "a"},                     // alias taken
		{ID: "fixed-id", Alias: "other"}, // id taken
		{Alias: "fixed-id"},              // alias naming another's id
		{ID: "b", Alias: "c"},            // id naming another's alias
	} {
		if _, err := s.CreateCollection(ctx, dup); !errors.Is(err, tearline.ErrExists) {
			t.Errorf("CreateCollection(%+v) error = %v; want ErrExists", dup, err)
		}
	}

	for _, key := range []string{"a", "fixed-id"} {
		got, err := s.Collection(ctx, key)
		if err != nil || got != a {
			t.Errorf("Collection(%q) = %+v, %v; want %+v", key, got, err, a)
		}
	}
	all, err := s.Collections(ctx)
	if err != nil {
		t.Fatalf("Collections: %v", err)
	}
	var aliases []string
	for _, c := range all {
		aliases = append(aliases, c.Alias)
	}
	// Same Created: ordered by alias; then the one created now.
	if want := []string{"a", "b", "late"}; !slices.Equal(aliases, want) {
		t.Errorf("Collections aliases = %q; want %q", aliases, want)
	}
	if all[1] != b {
		t.Errorf("Collections()[1] = %+v; want %+v", all[1], b)
	}
}

func TestVersionFilter(t *testing.T) {
	s := openStore(t)
	c := newCollection(t, s, "versions")
	t1 := ts(t, "2024-01-01T00:00:00Z")
	t2 := ts(t, "2024-01-02T00:00:00Z")
	t3 := ts(t, "2024-01-03T00:00:00Z")
	a, b := "indicator--a", "indicator--b"
	// Added out of version order: first and last go by version, not by
	// DateAdded.
	put(t, s, c.ID, indicator(a, t2, "a2"), indicator(b, t1, "b1"))
	put(t, s, c.ID, indicator(a, t3, "a3"), indicator(a, t1, "a1"))
	// The observable's versions are its DateAdded values.
	o1 := put(t, s, c.ID, observable("ipv4-addr--o", "1"))[0].DateAdded
	o2 := put(t, s, c.ID, observable("ipv4-addr--o", "2"))[0].DateAdded
	at := func(id string, v time.Time) string { return id + "@" + v.Format(time.RFC3339Nano) }

	tests := []struct {
		name string
		vf   tearline.VersionFilter
		want []string // in DateAdded order
	}{
		{"default is last", tearline.VersionFilter{},
			[]string{at(b, t1), at(a, t3), at("ipv4-addr--o", o2)}},
		{"last", tearline.VersionFilter{Last: true},
			[]string{at(b, t1), at(a, t3), at("ipv4-addr--o", o2)}},
		{"first", tearline.VersionFilter{First: true},
			[]string{at(b, t1), at(a, t1), at("ipv4-addr--o", o1)}},
		{"first or last", tearline.VersionFilter{First: true, Last: true},
			[]string{at(b, t1), at(a, t3), at(a, t1), at("ipv4-addr--o", o1), at("ipv4-addr--o", o2)}},
		{"all", tearline.VersionFilter{All: true},
			[]string{at(a, t2), at(b, t1), at(a, t3), at(a, t1), at("ipv4-addr--o", o1), at("ipv4-addr--o", o2)}},
		{"exact", tearline.VersionFilter{Exact: []time.Time{t2, o1}},
			[]string{at(a, t2), at("ipv4-addr--o", o1)}},
		{"exact or last", tearline.VersionFilter{Exact: []time.Time{t2}, Last: true},
			[]string{at(a, t2), at(b, t1), at(a, t3), at("ipv4-addr--o", o2)}},
		{"exact matching nothing", tearline.VersionFilter{Exact: []time.Time{ts(t, "2024-01-02T00:00:00.000000001Z")}},
			nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := tearline.ObjectQuery{Collection: c.ID, Version: tt.vf}
			if got := versionsOf(query(t, s, q)); !slices.Equal(got, tt.want) {
				t.Errorf("Objects(%+v) = %q; want %q", tt.vf, got, tt.want)
			}
		})
	}

	// Filters combine with AND; last is judged over all the object's
	// versions, so a filter that hides the newest version hides the object.
	q := tearline.ObjectQuery{Collection: c.ID, IDs: []string{a}, Types: []string{"indicator"},
		AddedAfter: o1.Add(-time.Hour), SpecVersions: []string{"2.1"}}
	if got, want := versionsOf(query(t, s, q)), []string{at(a, t3)}; !slices.Equal(got, want) {
		t.Errorf("Objects(%+v) = %q; want %q", q, got, want)
	}
	q = tearline.ObjectQuery{Collection: c.ID, Types: []string{"ipv4-addr"}, SpecVersions: []string{"2.0"}}
	if got := versionsOf(query(t, s, q)); len(got) != 0 {
		t.Errorf("Objects(spec_version 2.0) = %q; want none", got)
	}
}

func TestPaging(t *testing.T) {
	s := openStore(t)
	c := newCollection(t, s, "paging")
	var objs []*tearline.Object
	for i := range 25 {
		objs = append(objs, observable(fmt.Sprintf("ipv4-addr--%02d", i), "x"))
	}
	res := put(t, s, c.ID, objs[:10]...)
	res = append(res, put(t, s, c.ID, objs[10:]...)...)

	var (
		got   []string
		after time.Time
		pages int
	)
	for {
		page := query(t, s, tearline.ObjectQuery{Collection: c.ID, After: after, Limit: 7})
		pages++
		for _, o := range page.Objects {
			got = append(got, o.ID)
		}
		if len(page.Objects) > 0 {
			after = page.Objects[len(page.Objects)-1].DateAdded
		}
		if !page.More {
			break
		}
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	var want []string
	for _, o := range objs {
		want = append(want, o.ID)
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged IDs = %q; want %q", got, want)
	}
	if pages != 4 {
		t.Errorf("25 objects in pages of 7 took %d pages; want 4", pages)
	}

	// AddedAfter is strict, and the later of AddedAfter and After wins.
	page := query(t, s, tearline.ObjectQuery{Collection: c.ID, AddedAfter: res[20].DateAdded, After: res[3].DateAdded})
	if len(page.Objects) != 4 || page.Objects[0].ID != objs[21].ID || page.More {
		t.Errorf("Objects(AddedAfter %d) = %v, more %v; want objects 21 to 24", 20, versionsOf(page), page.More)
	}
	// A bound between two microseconds keeps the later one.
	page = query(t, s, tearline.ObjectQuery{Collection: c.ID, AddedAfter: res[23].DateAdded.Add(500 * time.Nanosecond)})
	if len(page.Objects) != 1 || page.Objects[0].ID != objs[24].ID {
		t.Errorf("Objects(AddedAfter between 23 and 24) = %v; want object 24", versionsOf(page))
	}
	// Exactly a full page: no more.
	page = query(t, s, tearline.ObjectQuery{Collection: c.ID, After: res[19].DateAdded, Limit: 5})
	if len(page.Objects) != 5 || page.More {
		t.Errorf("last full page: %d objects, more %v; want 5, false", len(page.Objects), page.More)
	}
}

func TestDeleteObjects(t *testing.T) {
	t1 := ts(t, "2024-01-01T00:00:00Z")
	t2 := ts(t, "2024-01-02T00:00:00Z")
	t3 := ts(t, "2024-01-03T00:00:00Z")
	a, b := "indicator--a", "indicator--b"
	tests := []struct {
		name   string
		q      tearline.ObjectQuery
		n      int
		remain []string
	}{
		{"all versions by default", tearline.ObjectQuery{IDs: []string{a}}, 3,
			[]string{"b@t1"}},
		{"first", tearline.ObjectQuery{IDs: []string{a}, Version: tearline.VersionFilter{First: true}}, 1,
			[]string{"a@t2", "a@t3", "b@t1"}},
		{"last", tearline.ObjectQuery{IDs: []string{a}, Version: tearline.VersionFilter{Last: true}}, 1,
			[]string{"a@t1", "a@t2", "b@t1"}},
		{"exact", tearline.ObjectQuery{IDs: []string{a}, Version: tearline.VersionFilter{Exact: []time.Time{t2}}}, 1,
			[]string{"a@t1", "a@t3", "b@t1"}},
		{"spec version not matching", tearline.ObjectQuery{IDs: []string{a}, SpecVersions: []string{"2.0"}}, 0,
			[]string{"a@t1", "a@t2", "a@t3", "b@t1"}},
	}
	names := map[string]string{
		a + "@" + t1.Format(time.RFC3339Nano): "a@t1", a + "@" + t2.Format(time.RFC3339Nano): "a@t2",
		a + "@" + t3.Format(time.RFC3339Nano): "a@t3", b + "@" + t1.Format(time.RFC3339Nano): "b@t1",
	}
	s := openStore(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCollection(t, s, tt.name)
			other := newCollection(t, s, tt.name+" (untouched)")
			for _, coll := range []string{c.ID, other.ID} {
				put(t, s, coll, indicator(a, t1, "1"), indicator(a, t2, "2"), indicator(a, t3, "3"), indicator(b, t1, "1"))
			}
			q := tt.q
			q.Collection = c.ID
			n, err := s.DeleteObjects(context.Background(), q)
			if err != nil || n != tt.n {
				t.Errorf("DeleteObjects(%+v) = %d, %v; want %d", q, n, err, tt.n)
			}
			var remain []string
			for _, v := range versionsOf(query(t, s, tearline.ObjectQuery{Collection: c.ID, Version: tearline.VersionFilter{All: true}})) {
				if short, ok := names[v]; ok {
					v = short
				}
				remain = append(remain, v)
			}
			slices.Sort(remain)
			if !slices.Equal(remain, tt.remain) {
				t.Errorf("after DeleteObjects(%+v): %q remain; want %q", q, remain, tt.remain)
			}
			if n, err := s.Count(context.Background(), other.ID); err != nil || n != 4 {
				t.Errorf("other collection Count = %d, %v; want 4", n, err)
			}
		})
	}
}

func TestCount(t *testing.T) {
	s := openStore(t)
	ctx := context.Background()
	x, y := newCollection(t, s, "x"), newCollection(t, s, "y")
	put(t, s, x.ID, observable("ipv4-addr--1", "1"), observable("ipv4-addr--2", "2"))
	put(t, s, y.ID, observable("ipv4-addr--1", "1"))
	for _, tt := range []struct {
		coll string
		want int64
	}{{x.ID, 2}, {"y", 1}, {"", 3}} {
		if n, err := s.Count(ctx, tt.coll); err != nil || n != tt.want {
			t.Errorf("Count(%q) = %d, %v; want %d", tt.coll, n, err, tt.want)
		}
	}
}

// TestDateAddedConcurrentStores runs two Stores, as two replicas would, on one
// database, with a reader paging by DateAdded while they write. Every
// DateAdded must be unique and every Added version must reach the reader: a
// version committing after the reader has moved past its DateAdded would be
// lost to it for good.
func TestDateAddedConcurrentStores(t *testing.T) {
	db := newDatabase(t)
	replicas := []*Store{openStoreAt(t, db), openStoreAt(t, db)}
	c := newCollection(t, replicas[0], "shared")
	ctx := context.Background()

	const writersPerStore, batches, batchSize = 3, 20, 100
	var (
		mu    sync.Mutex
		added = map[int64]string{} // DateAdded in µs -> id
		errs  []error
		wg    sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errs = append(errs, err)
	}
	for r, s := range replicas {
		for w := range writersPerStore {
			wg.Go(func() {
				for b := range batches {
					var objs []*tearline.Object
					for i := range batchSize {
						objs = append(objs, observable(fmt.Sprintf("ipv4-addr--%d-%d-%d-%d", r, w, b, i), "x"))
					}
					res, err := s.PutObjects(ctx, c.ID, objs)
					if err != nil {
						fail(err)
						return
					}
					mu.Lock()
					for i, pr := range res {
						if pr.Status != tearline.Added {
							errs = append(errs, fmt.Errorf("%s: status %v; want added", objs[i].ID, pr.Status))
						}
						if i > 0 && !pr.DateAdded.After(res[i-1].DateAdded) {
							errs = append(errs, fmt.Errorf("batch DateAdded not increasing: %v then %v", res[i-1].DateAdded, pr.DateAdded))
						}
						us := pr.DateAdded.UnixMicro()
						if prev, dup := added[us]; dup {
							errs = append(errs, fmt.Errorf("DateAdded %d given to both %s and %s", us, prev, objs[i].ID))
						}
						added[us] = objs[i].ID
					}
					mu.Unlock()
				}
			})
		}
	}

	writing := make(chan struct{})
	go func() { wg.Wait(); close(writing) }()
	seen := map[string]int{}
	var after time.Time
	readPage := func() bool {
		page := query(t, replicas[1], tearline.ObjectQuery{Collection: c.ID, After: after, Limit: 50,
			Version: tearline.VersionFilter{All: true}})
		for _, o := range page.Objects {
			seen[o.ID]++
			if !o.DateAdded.After(after) {
				t.Fatalf("page not in DateAdded order: %v after cursor %v", o.DateAdded, after)
			}
			after = o.DateAdded
		}
		return page.More
	}
	for done := false; !done; {
		select {
		case <-writing:
			done = true
		default:
			readPage()
		}
	}
	for readPage() {
	}
	for _, err := range errs {
		t.Error(err)
	}

	const total = 2 * writersPerStore * batches * batchSize
	if len(added) != total {
		t.Errorf("%d distinct DateAdded values; want %d", len(added), total)
	}
	if len(seen) != total {
		t.Errorf("reader paging by DateAdded saw %d objects; want %d", len(seen), total)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("reader saw %s %d times", id, n)
		}
	}
}

// TestDateAddedAheadOfWallClock checks that DateAdded continues from the
// stored clock, not from the server's wall clock, when the clock is ahead:
// after a restart on a server whose clock went back, for instance.
func TestDateAddedAheadOfWallClock(t *testing.T) {
	db := newDatabase(t)
	s := openStoreAt(t, db)
	c := newCollection(t, s, "clock")
	future := time.Now().Add(24 * time.Hour).UnixMicro()
	if _, err := s.pool.Exec(context.Background(), "UPDATE clock SET last = $1", future); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s = openStoreAt(t, db)
	res := put(t, s, c.ID, observable("ipv4-addr--1", "1"), observable("ipv4-addr--2", "2"))
	for i, r := range res {
		if got, want := r.DateAdded.UnixMicro(), future+int64(i)+1; got != want {
			t.Errorf("DateAdded of object %d = %d µs; want %d", i, got, want)
		}
	}
	// Present objects use no ticks.
	put(t, s, c.ID, observable("ipv4-addr--1", "1"))
	if got := put(t, s, c.ID, observable("ipv4-addr--3", "3"))[0].DateAdded.UnixMicro(); got != future+3 {
		t.Errorf("DateAdded after a present-only batch = %d µs; want %d", got, future+3)
	}
}

func TestMigrations(t *testing.T) {
	db := newDatabase(t)
	ms, err := loadMigrations()
	if err != nil {
		t.Fatalf("loadMigrations: %v", err)
	}
	// Replicas starting together must all succeed and migrate once.
	var wg sync.WaitGroup
	stores := make([]*Store, 4)
	errs := make([]error, len(stores))
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = Open(context.Background(), db) })
	}
	wg.Wait()
	for i, s := range stores {
		if errs[i] != nil {
			t.Fatalf("concurrent Open %d: %v", i, errs[i])
		}
		defer s.Close()
	}
	s := openStoreAt(t, db) // and once more, on a migrated database
	newest := ms[len(ms)-1].version
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != newest {
		t.Errorf("SchemaVersion = %d, %v; want %d", v, err, newest)
	}
	var rows int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM schema_migrations").Scan(&rows); err != nil || rows != len(ms) {
		t.Errorf("schema_migrations has %d rows, %v; want %d", rows, err, len(ms))
	}

	// A migration the database lacks is applied, whatever newer ones it
	// has: here the receipts, as if this build had been merged after a
	// build that numbered its own migration beyond them.
	if _, err := s.pool.Exec(context.Background(), `DROP TABLE receipts; DELETE FROM schema_migrations WHERE version = 11;
		INSERT INTO schema_migrations (version) VALUES (12)`); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(context.Background(), db); err == nil {
		t.Errorf("Open with migration 12 applied, which this build does not know, succeeded; want an error")
	}
	if _, err := s.pool.Exec(context.Background(), `DELETE FROM schema_migrations WHERE version = 12`); err != nil {
		t.Fatal(err)
	}
	again := openStoreAt(t, db)
	var n int
	if err := again.pool.QueryRow(context.Background(), "SELECT count(*) FROM receipts").Scan(&n); err != nil {
		t.Errorf("receipts after Open on a database that lacked migration 11: %v", err)
	}

	// A database migrated by a newer build is refused.
	if _, err := s.pool.Exec(context.Background(), "INSERT INTO schema_migrations (version) VALUES ($1)", newest+1); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(context.Background(), db); err == nil {
		s.Close()
		t.Errorf("Open on schema version %d succeeded; want an error", newest+1)
	}
}

// TestUnversionedConcurrentStores puts the same unversioned objects through
// two Stores at once. No unique key covers an unversioned object's content, so
// only the writers' serialisation keeps both from adding it.
func TestUnversionedConcurrentStores(t *testing.T) {
	db := newDatabase(t)
	replicas := []*Store{openStoreAt(t, db), openStoreAt(t, db)}
	c := newCollection(t, replicas[0], "shared")
	var objs []*tearline.Object
	for i := range 200 {
		objs = append(objs, observable(fmt.Sprintf("ipv4-addr--%d", i), "x"))
	}

	const writers = 6
	results := make([][]tearline.PutResult, writers)
	errs := make([]error, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			results[w], errs[w] = replicas[w%2].PutObjects(context.Background(), c.ID, objs)
		})
	}
	wg.Wait()
	for w := range writers {
		if errs[w] != nil {
			t.Fatalf("writer %d: PutObjects: %v", w, errs[w])
		}
	}
	for i, o := range objs {
		added := 0
		for w := range writers {
			if results[w][i].Status == tearline.Added {
				added++
			}
		}
		if added != 1 {
			t.Errorf("%s added by %d of %d writers; want 1", o.ID, added, writers)
		}
	}
	if n, err := replicas[1].Count(context.Background(), c.ID); err != nil || n != int64(len(objs)) {
		t.Errorf("Count = %d, %v; want %d", n, err, len(objs))
	}
}
