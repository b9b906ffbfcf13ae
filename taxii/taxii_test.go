package taxii

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/stix"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/golden")

const (
	collA = "2a9e4a39-7b0c-4c4e-9d1f-0b1c2d3e4f50"
	collB = "7d4c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a"
)

var testKey = []byte("0123456789abcdef0123456789abcdef")

// The callers of the test node.
var testAuth = &StaticAuth{
	Tokens: map[string]Principal{
		"alice-token":  {ID: "alice", Kind: Local},
		"bob-token":    {ID: "BOB", Kind: Partner},
		"carol-token":  {ID: "CAROL", Kind: Partner},
		"writer-token": {ID: "writer", Kind: Local},
		"nobody-token": {ID: "nobody", Kind: Partner},
	},
	Grants: map[string]map[string]Access{
		"alice":  {"*": {Read: true, Write: true}},
		"BOB":    {collA: {Read: true}},
		"CAROL":  {"alpha": {Read: true, Write: true}},
		"writer": {collA: {Write: true}},
	},
}

// partnerView releases to partners only versions whose name starts with
// "shared"; local callers see everything.
var partnerView = VisibilityFunc(func(p Principal, _ tearline.Collection, o *tearline.StoredObject) bool {
	if p.Kind == Local {
		return true
	}
	return bytes.Contains(o.JSON, []byte(`"name":"shared`))
})

type testNode struct {
	store tearline.ObjectStore
	h     *Handler
	cfg   Config
}

func newNode(t *testing.T, mod func(*Config)) *testNode {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []tearline.Collection{
		{ID: collA, Alias: "alpha", Title: "Alpha", Description: "shared with partners"},
		{ID: collB, Alias: "bravo", Title: "Bravo"},
	} {
		if _, err := st.CreateCollection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{
		Store: st, Authenticator: testAuth, Authorizer: testAuth, Visibility: partnerView,
		CursorKey: testKey, Title: "Test node", Contact: "soc@example.gov",
		BaseURL: "https://taxii.example.gov", MaxContentLength: 64 << 10,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Now:    func() time.Time { return time.Date(2025, 6, 1, 10, 0, 0, 0, time.UTC) },
	}
	if mod != nil {
		mod(&cfg)
	}
	h, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &testNode{store: st, h: h, cfg: cfg}
}

// identity is a valid STIX identity; n numbers it, v is its version.
func identity(n int, name string, modified time.Time) string {
	return fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-%012d","created":"2020-01-01T00:00:00.000Z","modified":%q,"name":%q}`,
		n, stix.FormatTimestamp(modified), name)
}

func identityID(n int) string { return fmt.Sprintf("identity--00000000-0000-4000-8000-%012d", n) }

var t0 = time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)

func (n *testNode) put(t *testing.T, coll string, objs ...string) {
	t.Helper()
	var os []*tearline.Object
	for _, js := range objs {
		o, _, err := stix.Parse([]byte(js))
		if err != nil {
			t.Fatalf("stix.Parse(%s): %v", js, err)
		}
		os = append(os, o)
	}
	res, err := n.store.PutObjects(context.Background(), coll, os)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Status != tearline.Added {
			t.Fatalf("seeding object %d: %v", i, r.Status)
		}
	}
}

func (n *testNode) do(t *testing.T, method, path, token string, body string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.Header.Set("Accept", MediaType)
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		r.Header.Set("Content-Type", MediaType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if hdr[i+1] == "" {
			r.Header.Del(hdr[i])
		} else {
			r.Header.Set(hdr[i], hdr[i+1])
		}
	}
	w := httptest.NewRecorder()
	n.h.ServeHTTP(w, r)
	if ct := w.Header().Get("Content-Type"); ct != MediaType {
		t.Errorf("%s %s: Content-Type %q; want %q", method, path, ct, MediaType)
	}
	return w
}

func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
		t.Fatalf("response %q: %v", w.Body.String(), err)
	}
	return v
}

type envelopeT struct {
	More    bool              `json:"more"`
	Next    string            `json:"next"`
	Objects []json.RawMessage `json:"objects"`
}

type objT struct {
	ID       string `json:"id"`
	Modified string `json:"modified"`
	Name     string `json:"name"`
}

// names lists "name@modified" of the envelope's objects.
func names(t *testing.T, w *httptest.ResponseRecorder) []string {
	t.Helper()
	env := decode[envelopeT](t, w)
	out := []string{}
	for _, raw := range env.Objects {
		var o objT
		json.Unmarshal(raw, &o)
		out = append(out, o.Name)
	}
	return out
}

func objectsPath(coll string) string { return "/tearline/collections/" + coll + "/objects/" }

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}`)
	dateRE = regexp.MustCompile(`"date_added":"[^"]+"`)
)

// golden compares got with testdata/golden/name, after replacing values
// that differ between runs (status ids, dates added).
func golden(t *testing.T, name string, w *httptest.ResponseRecorder) {
	t.Helper()
	var b strings.Builder
	fmt.Fprintf(&b, "HTTP %d\nContent-Type: %s\n", w.Code, w.Header().Get("Content-Type"))
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, w.Body.Bytes(), "", "  "); err != nil {
		t.Fatalf("golden %s: body is not JSON: %v", name, err)
	}
	body := pretty.String()
	body = dateRE.ReplaceAllString(body, `"date_added":"DATE-ADDED"`)
	body = strings.ReplaceAll(body, `"date_added": "`, `"date_added": "`)
	body = regexp.MustCompile(`"date_added": "[^"]+"`).ReplaceAllString(body, `"date_added": "DATE-ADDED"`)
	if strings.HasPrefix(name, "post-") {
		body = regexp.MustCompile(`"id": "`+uuidRE.String()+`"`).ReplaceAllString(body, `"id": "STATUS-ID"`)
	}
	b.WriteString("\n" + body)
	path := filepath.Join("testdata", "golden", name)
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("golden %s: %v (run go test -update to create it)", name, err)
	}
	if b.String() != string(want) {
		t.Errorf("response differs from %s (go test -update rewrites it):\ngot:\n%s\nwant:\n%s", path, b.String(), want)
	}
}

func TestServerResources(t *testing.T) {
	n := newNode(t, nil)
	n.put(t, collA, identity(1, "shared one", t0), identity(2, "secret two", t0))
	golden(t, "discovery.txt", n.do(t, "GET", "/taxii2/", "alice-token", ""))
	golden(t, "api-root.txt", n.do(t, "GET", "/tearline/", "alice-token", ""))
	golden(t, "collections-alice.txt", n.do(t, "GET", "/tearline/collections/", "alice-token", ""))
	golden(t, "collections-bob.txt", n.do(t, "GET", "/tearline/collections/", "bob-token", ""))
	golden(t, "collection-carol.txt", n.do(t, "GET", "/tearline/collections/"+collA+"/", "carol-token", ""))
	golden(t, "objects-alice.txt", n.do(t, "GET", objectsPath(collA), "alice-token", ""))
	golden(t, "manifest-bob.txt", n.do(t, "GET", "/tearline/collections/"+collA+"/manifest/", "bob-token", ""))

	// No collections at all: the list is omitted, not empty.
	w := n.do(t, "GET", "/tearline/collections/", "nobody-token", "")
	if w.Code != 200 || strings.TrimSpace(w.Body.String()) != "{}" {
		t.Errorf("collections for nobody = %d %s; want 200 {}", w.Code, w.Body)
	}
	// An empty page omits objects.
	w = n.do(t, "GET", objectsPath(collB), "alice-token", "")
	if strings.TrimSpace(w.Body.String()) != `{"more":false}` || w.Header().Get("X-TAXII-Date-Added-First") != "" {
		t.Errorf("empty collection = %s (first %q); want {\"more\":false} without date headers", w.Body, w.Header().Get("X-TAXII-Date-Added-First"))
	}
	// Aliases address collections too.
	if w := n.do(t, "GET", "/tearline/collections/alpha/", "alice-token", ""); w.Code != 200 {
		t.Errorf("collection by alias = %d", w.Code)
	}
}

func TestObjectFilters(t *testing.T) {
	n := newNode(t, nil)
	// Object 1 in three versions, object 2 in one; a 2.1 indicator-free mix.
	n.put(t, collA, identity(1, "one-v3", t0.Add(2*time.Hour)), identity(2, "two", t0))
	n.put(t, collA, identity(1, "one-v1", t0))
	n.put(t, collA, identity(1, "one-v2", t0.Add(time.Hour)))
	ip := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.7"}`
	n.put(t, collA, ip)
	all, _ := n.store.Objects(context.Background(), tearline.ObjectQuery{Collection: collA, Version: tearline.VersionFilter{All: true}})
	secondAdded := timestamp(all.Objects[1].DateAdded)

	cases := []struct {
		query string
		want  []string
	}{
		{"", []string{"one-v3", "two", ""}},
		{"match[version]=last", []string{"one-v3", "two", ""}},
		{"match[version]=first", []string{"two", "one-v1", ""}},
		{"match[version]=all", []string{"one-v3", "two", "one-v1", "one-v2", ""}},
		{"match[version]=first,last", []string{"one-v3", "two", "one-v1", ""}},
		{"match[version]=" + timestamp(t0.Add(time.Hour)), []string{"one-v2"}},
		{"match[version]=first&match[version]=" + stix.FormatTimestamp(t0.Add(time.Hour)), []string{"two", "one-v1", "one-v2", ""}},
		{"match[type]=identity", []string{"one-v3", "two"}},
		{"match[type]=identity,ipv4-addr", []string{"one-v3", "two", ""}},
		{"match[type]=malware", []string{}},
		{"match[id]=" + identityID(2), []string{"two"}},
		{"match[id]=" + identityID(2) + "," + identityID(1) + "&match[version]=all", []string{"one-v3", "two", "one-v1", "one-v2"}},
		{"match[id]=" + identityID(2) + "&match[type]=ipv4-addr", []string{}},
		{"match[spec_version]=2.1", []string{"one-v3", "two", ""}},
		{"match[spec_version]=2.0", []string{}},
		{"added_after=" + url.QueryEscape(secondAdded) + "&match[version]=all", []string{"one-v1", "one-v2", ""}},
		{"limit=2", []string{"one-v3", "two"}},
	}
	for _, c := range cases {
		t.Run(c.query, func(t *testing.T) {
			w := n.do(t, "GET", objectsPath(collA)+"?"+c.query, "alice-token", "")
			if w.Code != 200 {
				t.Fatalf("GET ?%s = %d %s", c.query, w.Code, w.Body)
			}
			if got := names(t, w); !slices.Equal(got, c.want) {
				t.Errorf("GET objects?%s = %q; want %q", c.query, got, c.want)
			}
		})
	}

	// One object, its versions.
	w := n.do(t, "GET", objectsPath(collA)+identityID(1)+"/?match[version]=all", "alice-token", "")
	if got := names(t, w); !slices.Equal(got, []string{"one-v3", "one-v1", "one-v2"}) {
		t.Errorf("GET object 1 all versions = %q", got)
	}
	w = n.do(t, "GET", objectsPath(collA)+identityID(1)+"/versions/", "alice-token", "")
	vs := decode[struct {
		More     bool     `json:"more"`
		Versions []string `json:"versions"`
	}](t, w)
	want := []string{timestamp(t0.Add(2 * time.Hour)), timestamp(t0), timestamp(t0.Add(time.Hour))}
	if !slices.Equal(vs.Versions, want) || vs.More {
		t.Errorf("versions = %v more %v; want %v", vs.Versions, vs.More, want)
	}
	if w.Header().Get("X-TAXII-Date-Added-First") == "" || w.Header().Get("X-TAXII-Date-Added-Last") == "" {
		t.Errorf("versions response lacks the date-added headers: %v", w.Header())
	}
	// A filter that excludes every version of an existing object is an
	// empty page, not a 404.
	if w := n.do(t, "GET", objectsPath(collA)+identityID(1)+"/?match[spec_version]=2.0", "alice-token", ""); w.Code != 200 {
		t.Errorf("object with a filter matching nothing = %d; want 200", w.Code)
	}
}

func TestPaging(t *testing.T) {
	n := newNode(t, nil)
	var objs []string
	for i := range 25 {
		objs = append(objs, identity(i, fmt.Sprintf("shared %02d", i), t0))
	}
	n.put(t, collA, objs...)

	var got []string
	next := ""
	var firstDates []string
	for page := 0; ; page++ {
		q := "?limit=10&match[type]=identity"
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		// Each page is served by a fresh handler with the same key, as
		// after a restart or by another replica.
		h2, err := New(n.cfg)
		if err != nil {
			t.Fatal(err)
		}
		n.h = h2
		w := n.do(t, "GET", objectsPath(collA)+q, "bob-token", "")
		if w.Code != 200 {
			t.Fatalf("page %d: %d %s", page, w.Code, w.Body)
		}
		env := decode[envelopeT](t, w)
		got = append(got, names(t, w)...)
		firstDates = append(firstDates, w.Header().Get("X-TAXII-Date-Added-First"))
		if !env.More {
			if env.Next != "" {
				t.Errorf("last page has next %q", env.Next)
			}
			break
		}
		if env.Next == "" {
			t.Fatalf("page %d: more without next", page)
		}
		next = env.Next
		if page > 5 {
			t.Fatal("paging does not end")
		}
	}
	if len(got) != 25 || got[0] != "shared 00" || got[24] != "shared 24" || len(firstDates) != 3 {
		t.Errorf("paged %d objects in %d pages: %q", len(got), len(firstDates), got)
	}
	for _, d := range firstDates {
		if !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$`).MatchString(d) {
			t.Errorf("X-TAXII-Date-Added-First %q is not a microsecond timestamp", d)
		}
	}

	// Obtain a valid cursor, then misuse it.
	w := n.do(t, "GET", objectsPath(collA)+"?limit=10&match[type]=identity", "bob-token", "")
	cur := decode[envelopeT](t, w).Next
	tampered := []byte(cur)
	tampered[5] ^= 1
	if tampered[5] == cur[5] {
		t.Fatal("tampering did not change the cursor")
	}
	otherKey, _ := New(func() Config { c := n.cfg; c.CursorKey = bytes.Repeat([]byte{7}, 32); return c }())
	cases := []struct {
		name, token, query string
		h                  *Handler
	}{
		{"tampered", "bob-token", "?limit=10&match[type]=identity&next=" + string(tampered), n.h},
		{"garbage", "bob-token", "?next=%00%ff", n.h},
		{"other filter", "bob-token", "?limit=10&match[type]=malware&next=" + cur, n.h},
		{"no filter", "bob-token", "?next=" + cur, n.h},
		{"other caller", "alice-token", "?limit=10&match[type]=identity&next=" + cur, n.h},
		{"other key", "bob-token", "?limit=10&match[type]=identity&next=" + cur, otherKey},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			n2 := *n
			n2.h = c.h
			w := n2.do(t, "GET", objectsPath(collA)+c.query, c.token, "")
			e := decode[errorResource](t, w)
			if w.Code != 400 || e.HTTPStatus != "400" || !strings.Contains(e.Description, "cursor") {
				t.Errorf("cursor %s = %d %s; want a 400 error object about the cursor", c.name, w.Code, w.Body)
			}
		})
	}
	// A different limit with the same filter is fine.
	if w := n.do(t, "GET", objectsPath(collA)+"?limit=3&match[type]=identity&next="+cur, "bob-token", ""); w.Code != 200 || len(names(t, w)) != 3 {
		t.Errorf("cursor with another limit = %d %s", w.Code, w.Body)
	}
}

// TestVisibility: bob sees only "shared" versions; what he cannot see must
// look absent everywhere.
func TestVisibility(t *testing.T) {
	n := newNode(t, nil)
	n.put(t, collA,
		identity(1, "shared a", t0), identity(2, "secret b", t0), identity(3, "secret c", t0),
		identity(4, "shared d", t0), identity(5, "secret e", t0), identity(6, "shared f", t0),
		identity(7, "secret g", t0), identity(8, "secret h", t0), identity(9, "shared i", t0))
	// Object 1 gets a newer version bob may not see; object 4 a newer one
	// he may.
	n.put(t, collA, identity(1, "secret a2", t0.Add(time.Hour)), identity(4, "shared d2", t0.Add(time.Hour)))

	var got []string
	next := ""
	pages := 0
	for {
		q := "?limit=2"
		if next != "" {
			q += "&next=" + url.QueryEscape(next)
		}
		w := n.do(t, "GET", objectsPath(collA)+q, "bob-token", "")
		env := decode[envelopeT](t, w)
		if len(env.Objects) > 2 {
			t.Fatalf("page of %d with limit 2", len(env.Objects))
		}
		got = append(got, names(t, w)...)
		pages++
		if !env.More {
			break
		}
		next = env.Next
		if pages > 10 {
			t.Fatal("paging does not end")
		}
	}
	want := []string{"shared a", "shared f", "shared i", "shared d2"}
	if !slices.Equal(got, want) || pages != 2 {
		t.Errorf("bob pages = %q in %d pages; want %q in 2 (last visible version of object 1 is its first)", got, pages, want)
	}

	hidden := n.do(t, "GET", objectsPath(collA)+identityID(2)+"/", "bob-token", "")
	absent := n.do(t, "GET", objectsPath(collA)+identityID(99)+"/", "bob-token", "")
	if hidden.Code != 404 || hidden.Body.String() != absent.Body.String() {
		t.Errorf("hidden object = %d %s; absent = %d %s; want identical 404s", hidden.Code, hidden.Body, absent.Code, absent.Body)
	}
	for _, sub := range []string{"versions/"} {
		h := n.do(t, "GET", objectsPath(collA)+identityID(2)+"/"+sub, "bob-token", "")
		a := n.do(t, "GET", objectsPath(collA)+identityID(99)+"/"+sub, "bob-token", "")
		if h.Code != 404 || h.Body.String() != a.Body.String() {
			t.Errorf("hidden %s = %d %s; want the absent 404 %s", sub, h.Code, h.Body, a.Body)
		}
	}
	vs := decode[struct {
		Versions []string `json:"versions"`
	}](t, n.do(t, "GET", objectsPath(collA)+identityID(1)+"/versions/", "bob-token", ""))
	if !slices.Equal(vs.Versions, []string{timestamp(t0)}) {
		t.Errorf("bob's versions of object 1 = %v; want only the shared one", vs.Versions)
	}
	if got := names(t, n.do(t, "GET", objectsPath(collA)+identityID(1)+"/", "bob-token", "")); !slices.Equal(got, []string{"shared a"}) {
		t.Errorf("bob's object 1 = %q; want its visible last version", got)
	}
	m := decode[struct {
		Objects []manifestRecord `json:"objects"`
	}](t, n.do(t, "GET", "/tearline/collections/"+collA+"/manifest/?match[version]=all", "bob-token", ""))
	var ids []string
	for _, r := range m.Objects {
		ids = append(ids, r.ID[len(r.ID)-2:]+"@"+r.Version[11:13])
	}
	if want := []string{"01@08", "04@08", "06@08", "09@08", "04@09"}; !slices.Equal(ids, want) {
		t.Errorf("bob's manifest = %v; want %v", ids, want)
	}
	// Alice (local) sees all, including the hidden ones.
	if got := names(t, n.do(t, "GET", objectsPath(collA)+"?match[id]="+identityID(2), "alice-token", "")); !slices.Equal(got, []string{"secret b"}) {
		t.Errorf("alice's object 2 = %q", got)
	}

	// Carol may write alpha and sees as bob does: deleting a hidden object
	// is the absent 404, and deleting object 1 removes only the version
	// she can see.
	del := n.do(t, "DELETE", objectsPath(collA)+identityID(2)+"/", "carol-token", "")
	delAbsent := n.do(t, "DELETE", objectsPath(collA)+identityID(99)+"/", "carol-token", "")
	if del.Code != 404 || del.Body.String() != delAbsent.Body.String() {
		t.Errorf("carol deletes hidden = %d %s; want the absent 404 %s", del.Code, del.Body, delAbsent.Body)
	}
	if w := n.do(t, "DELETE", objectsPath(collA)+identityID(1)+"/", "carol-token", ""); w.Code != 200 {
		t.Fatalf("carol deletes object 1 = %d %s", w.Code, w.Body)
	}
	if got := names(t, n.do(t, "GET", objectsPath(collA)+identityID(1)+"/?match[version]=all", "alice-token", "")); !slices.Equal(got, []string{"secret a2"}) {
		t.Errorf("object 1 after carol's delete = %q; want the version she could not see", got)
	}
	if w := n.do(t, "GET", objectsPath(collA)+identityID(2)+"/", "alice-token", ""); w.Code != 200 {
		t.Errorf("hidden object 2 after carol's attempt = %d; want it still there", w.Code)
	}
}

func TestDelete(t *testing.T) {
	n := newNode(t, nil)
	n.put(t, collA, identity(1, "v1", t0), identity(1, "v2", t0.Add(time.Hour)), identity(1, "v3", t0.Add(2*time.Hour)))
	if w := n.do(t, "DELETE", objectsPath(collA)+identityID(1)+"/?match[version]=last", "alice-token", ""); w.Code != 200 {
		t.Fatalf("delete last = %d %s", w.Code, w.Body)
	}
	if got := names(t, n.do(t, "GET", objectsPath(collA)+identityID(1)+"/?match[version]=all", "alice-token", "")); !slices.Equal(got, []string{"v1", "v2"}) {
		t.Errorf("after deleting last: %q", got)
	}
	if w := n.do(t, "DELETE", objectsPath(collA)+identityID(1)+"/?match[spec_version]=2.0", "alice-token", ""); w.Code != 404 {
		t.Errorf("delete matching no version = %d; want 404", w.Code)
	}
	if w := n.do(t, "DELETE", objectsPath(collA)+identityID(1)+"/", "alice-token", ""); w.Code != 200 {
		t.Fatalf("delete all = %d", w.Code)
	}
	if w := n.do(t, "GET", objectsPath(collA)+identityID(1)+"/", "alice-token", ""); w.Code != 404 {
		t.Errorf("get after delete = %d; want 404", w.Code)
	}
	if w := n.do(t, "DELETE", objectsPath(collA)+identityID(1)+"/", "bob-token", ""); w.Code != 403 {
		t.Errorf("bob (read only) deletes = %d; want 403", w.Code)
	}
}

func TestPost(t *testing.T) {
	n := newNode(t, nil)
	bad := `{"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-000000000009","created":"2020-01-01T00:00:00.000Z","modified":"2020-01-01T00:00:00.000Z"}`
	conflict := identity(1, "changed", t0)
	body := `{"objects":[` + strings.Join([]string{identity(1, "shared one", t0), bad, identity(1, "shared one", t0), conflict, `42`,
		identity(2, "shared two", t0)}, ",") + `]}`
	w := n.do(t, "POST", objectsPath(collA), "carol-token", body)
	if w.Code != 202 {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	golden(t, "post-status.txt", w)
	st := decode[statusResource](t, w)
	if st.Status.Status != "complete" || st.TotalCount != 6 || st.SuccessCount != 3 || st.FailureCount != 3 || st.PendingCount != 0 {
		t.Errorf("status = %+v; want complete, 6 total, 3 successes, 3 failures", st.Status)
	}
	if len(st.Failures) != 3 || st.Failures[0].ID != identityID(9) || !strings.Contains(st.Failures[0].Message, "name") ||
		st.Failures[1].ID != identityID(1) || st.Failures[1].Version != "2024-05-01T08:00:00.000000Z" {
		t.Errorf("failures = %+v", st.Failures)
	}
	if len(st.Failures) == 3 && st.Failures[2].Message != "objects[4] is not a JSON object" {
		t.Errorf("non-object failure = %+v", st.Failures[2])
	}

	// Unversioned objects are versioned by their date added, also when
	// posted again.
	ip := `{"type":"ipv4-addr","spec_version":"2.1","id":"ipv4-addr--ff26c055-6336-5bc5-b98d-13d6226742dd","value":"198.51.100.7"}`
	var versions []string
	for range 2 {
		w := n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+ip+`]}`)
		st := decode[statusResource](t, w)
		if w.Code != 202 || st.SuccessCount != 1 || st.Successes[0].Version == "" {
			t.Fatalf("POST unversioned = %d %s", w.Code, w.Body)
		}
		versions = append(versions, st.Successes[0].Version)
	}
	if versions[0] != versions[1] {
		t.Errorf("unversioned versions %v; want the stored copy's date added both times", versions)
	}

	// The status is kept for its owner only.
	path := "/tearline/status/" + st.ID + "/"
	if w := n.do(t, "GET", path, "carol-token", ""); w.Code != 200 || decode[statusResource](t, w).SuccessCount != 3 {
		t.Errorf("GET status = %d %s", w.Code, w.Body)
	}
	for _, tok := range []string{"alice-token", "bob-token"} {
		if w := n.do(t, "GET", path, tok, ""); w.Code != 404 {
			t.Errorf("GET someone else's status as %s = %d; want 404", tok, w.Code)
		}
	}
	// Re-posting the same valid objects: exact duplicates succeed.
	w = n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+identity(1, "shared one", t0)+`]}`)
	if st := decode[statusResource](t, w); w.Code != 202 || st.SuccessCount != 1 || st.FailureCount != 0 {
		t.Errorf("duplicate POST = %d %s", w.Code, w.Body)
	}
	if c, _ := n.store.Count(context.Background(), collA); c != 3 {
		t.Errorf("collection holds %d versions; want 3", c)
	}

	// Statuses expire.
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	ms := NewMemoryStatusStore(24*time.Hour, func() time.Time { return now })
	ms.Put(context.Background(), Status{ID: "s"})
	now = now.Add(23 * time.Hour)
	if _, err := ms.Get(context.Background(), "s"); err != nil {
		t.Errorf("status after 23h: %v", err)
	}
	now = now.Add(time.Hour)
	if _, err := ms.Get(context.Background(), "s"); err == nil {
		t.Error("status after 24h still there")
	}
}

func TestErrors(t *testing.T) {
	n := newNode(t, nil)
	n.put(t, collA, identity(1, "shared one", t0))
	big := `{"objects":[` + identity(1, strings.Repeat("x", 70<<10), t0) + `]}`
	cases := []struct {
		name, method, path, token, body string
		hdr                             []string
		code                            int
	}{
		{"no credentials", "GET", "/taxii2/", "", "", nil, 401},
		{"bad token", "GET", "/taxii2/", "wrong", "", nil, 401},
		{"not bearer", "GET", "/taxii2/", "", "", []string{"Authorization", "Basic YTpi"}, 401},
		{"not acceptable", "GET", "/taxii2/", "alice-token", "", []string{"Accept", "application/xml"}, 406},
		{"wrong version", "GET", "/taxii2/", "alice-token", "", []string{"Accept", "application/taxii+json;version=2.0"}, 406},
		{"wildcard accepted", "GET", "/taxii2/", "alice-token", "", []string{"Accept", "*/*"}, 200},
		{"no version accepted", "GET", "/taxii2/", "alice-token", "", []string{"Accept", "application/taxii+json"}, 200},
		{"unsupported media", "POST", objectsPath(collA), "alice-token", `{"objects":[]}`, []string{"Content-Type", "application/json"}, 415},
		{"too large", "POST", objectsPath(collA), "alice-token", big, nil, 413},
		{"too large streamed", "POST", objectsPath(collA), "alice-token", big, []string{"X-Chunked", "1"}, 413},
		{"not an envelope", "POST", objectsPath(collA), "alice-token", `[1,2]`, nil, 422},
		{"no objects list", "POST", objectsPath(collA), "alice-token", `{"more":false}`, nil, 422},
		{"invalid json", "POST", objectsPath(collA), "alice-token", `{"objects":[`, nil, 400},
		{"read-only writes", "POST", objectsPath(collA), "bob-token", `{"objects":[]}`, nil, 403},
		{"write-only reads", "GET", objectsPath(collA), "writer-token", "", nil, 403},
		{"write-only manifest", "GET", "/tearline/collections/" + collA + "/manifest/", "writer-token", "", nil, 403},
		{"no access", "GET", objectsPath(collA), "nobody-token", "", nil, 404},
		{"no access collection", "GET", "/tearline/collections/" + collA + "/", "nobody-token", "", nil, 404},
		{"no access post", "POST", objectsPath(collB), "bob-token", `{"objects":[]}`, nil, 404},
		{"unknown collection", "GET", objectsPath("nope"), "alice-token", "", nil, 404},
		{"unknown object", "GET", objectsPath(collA) + identityID(5) + "/", "alice-token", "", nil, 404},
		{"malformed object id", "GET", objectsPath(collA) + "nonsense/", "alice-token", "", nil, 404},
		{"unknown status", "GET", "/tearline/status/abc/", "alice-token", "", nil, 404},
		{"unknown path", "GET", "/other/", "alice-token", "", nil, 404},
		{"no trailing slash redirects", "GET", "/tearline/collections", "alice-token", "", nil, 307},
		{"method", "PUT", objectsPath(collA), "alice-token", "", nil, 405},
		{"limit zero", "GET", objectsPath(collA) + "?limit=0", "alice-token", "", nil, 400},
		{"limit text", "GET", objectsPath(collA) + "?limit=ten", "alice-token", "", nil, 400},
		{"added_after", "GET", objectsPath(collA) + "?added_after=yesterday", "alice-token", "", nil, 400},
		{"added_after twice", "GET", objectsPath(collA) + "?added_after=2020-01-01T00:00:00Z&added_after=2020-01-01T00:00:00Z", "alice-token", "", nil, 400},
		{"version", "GET", objectsPath(collA) + "?match[version]=newest", "alice-token", "", nil, 400},
		{"empty type", "GET", objectsPath(collA) + "?match[type]=indicator,,malware", "alice-token", "", nil, 400},
		{"bad id", "GET", objectsPath(collA) + "?match[id]=indicator", "alice-token", "", nil, 400},
		{"bad spec version", "GET", objectsPath(collA) + "?match[spec_version]=3", "alice-token", "", nil, 400},
		{"bad escape", "GET", objectsPath(collA) + "?match[type]=%zz", "alice-token", "", nil, 400},
		{"bad delete filter", "DELETE", objectsPath(collA) + identityID(1) + "/?match[version]=x", "alice-token", "", nil, 400},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var w *httptest.ResponseRecorder
			if len(c.hdr) == 2 && c.hdr[0] == "X-Chunked" {
				// Unknown length: the limit is enforced while reading.
				r := httptest.NewRequest(c.method, c.path, io.MultiReader(strings.NewReader(c.body)))
				r.ContentLength = -1
				r.Header.Set("Accept", MediaType)
				r.Header.Set("Content-Type", MediaType)
				r.Header.Set("Authorization", "Bearer "+c.token)
				w = httptest.NewRecorder()
				n.h.ServeHTTP(w, r)
			} else {
				w = n.do(t, c.method, c.path, c.token, c.body, c.hdr...)
			}
			if w.Code != c.code {
				t.Fatalf("%s %s = %d %s; want %d", c.method, c.path, w.Code, w.Body, c.code)
			}
			if ct := w.Header().Get("Content-Type"); ct != MediaType {
				t.Errorf("Content-Type = %q; want %q", ct, MediaType)
			}
			if c.code < 400 {
				return
			}
			e := decode[errorResource](t, w)
			if e.Title == "" || e.HTTPStatus != fmt.Sprint(c.code) {
				t.Errorf("error body = %s; want a title and http_status %q", w.Body, fmt.Sprint(c.code))
			}
			if c.code == 401 && w.Header().Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if c.code == 405 && w.Header().Get("Allow") == "" {
				t.Error("405 without Allow")
			}
		})
	}
	if c, _ := n.store.Count(context.Background(), collA); c != 1 {
		t.Errorf("refused POSTs stored something: %d versions; want 1", c)
	}
}

func TestAnonymous(t *testing.T) {
	off := newNode(t, nil)
	if w := off.do(t, "GET", "/tearline/collections/", "", ""); w.Code != 401 {
		t.Errorf("anonymous with access off = %d; want 401", w.Code)
	}
	on := newNode(t, func(c *Config) {
		c.AllowAnonymous = true
		c.Authorizer = &StaticAuth{Grants: map[string]map[string]Access{"": {"bravo": {Read: true}}}}
	})
	w := on.do(t, "GET", "/tearline/collections/", "", "")
	cs := decode[struct {
		Collections []collectionResource `json:"collections"`
	}](t, w)
	if w.Code != 200 || len(cs.Collections) != 1 || cs.Collections[0].ID != collB {
		t.Errorf("anonymous with access on = %d %s; want bravo only", w.Code, w.Body)
	}
}

// failingVisibility fails every decision: requests must fail closed.
type failingVisibility struct{}

func (failingVisibility) Visible(context.Context, Principal, tearline.Collection, []tearline.StoredObject) ([]bool, error) {
	return nil, fmt.Errorf("policy engine down at 10.0.0.7")
}

func TestVisibilityFailsClosed(t *testing.T) {
	n := newNode(t, func(c *Config) { c.Visibility = failingVisibility{} })
	n.put(t, collA, identity(1, "shared one", t0))
	w := n.do(t, "GET", objectsPath(collA), "bob-token", "")
	if w.Code != 500 || strings.Contains(w.Body.String(), "10.0.0.7") || strings.Contains(w.Body.String(), "shared") {
		t.Errorf("failing visibility = %d %s; want a 500 without internals or objects", w.Code, w.Body)
	}
}

func TestNewRequiresConfig(t *testing.T) {
	ok := Config{Store: nil, Authenticator: testAuth, Authorizer: testAuth, Visibility: AllVisible, CursorKey: testKey}
	if _, err := New(ok); err == nil {
		t.Error("New without a store succeeded")
	}
	n := newNode(t, nil)
	for name, mod := range map[string]func(*Config){
		"short key":     func(c *Config) { c.CursorKey = []byte("short") },
		"no visibility": func(c *Config) { c.Visibility = nil },
		"bad root":      func(c *Config) { c.APIRoot = "taxii2" },
	} {
		c := n.cfg
		mod(&c)
		if _, err := New(c); err == nil {
			t.Errorf("New(%s) succeeded; want an error", name)
		}
	}
}

// TestPostBanner: a banner header labels the posted objects that carry no
// markings, with the label's marking definitions stored beside them; an
// object with its own markings keeps them; a banner that breaks a rule is
// a 400 naming it, and nothing is stored.
func TestPostBanner(t *testing.T) {
	n := newNode(t, nil)
	ctx := context.Background()
	before, _ := n.store.Count(ctx, collA)
	w := n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+identity(7, "bannered", t0)+`]}`,
		BannerHeader, "GBR SECRET//REL TO USA, GBR")
	if st := decode[statusResource](t, w); w.Code != 202 || st.SuccessCount != 1 {
		t.Fatalf("POST with a banner = %d %s", w.Code, w.Body)
	}
	page, err := n.store.Objects(ctx, tearline.ObjectQuery{Collection: collA, IDs: []string{identityID(7)}})
	if err != nil || len(page.Objects) != 1 {
		t.Fatalf("stored object: %v, %v", page.Objects, err)
	}
	var stored struct {
		Refs []string `json:"object_marking_refs"`
	}
	if err := json.Unmarshal(page.Objects[0].JSON, &stored); err != nil || len(stored.Refs) == 0 {
		t.Fatalf("stored object %s has no object_marking_refs (%v)", page.Objects[0].JSON, err)
	}
	defs, err := n.store.Objects(ctx, tearline.ObjectQuery{Collection: collA, IDs: stored.Refs, Types: []string{"marking-definition"}})
	if err != nil || len(defs.Objects) != len(stored.Refs) {
		t.Errorf("the banner's %d marking definitions: %d stored, %v", len(stored.Refs), len(defs.Objects), err)
	}

	after, _ := n.store.Count(ctx, collA)
	w = n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+identity(8, "refused", t0)+`]}`,
		BannerHeader, "SECRET//REL TO USA//NOFORN")
	if w.Code != 400 || !strings.Contains(w.Body.String(), "relto-with-noforn") {
		t.Errorf("POST with a conflicting banner = %d %s; want 400 naming relto-with-noforn", w.Code, w.Body)
	}
	if c, _ := n.store.Count(ctx, collA); c != after {
		t.Errorf("a refused banner stored %d versions", c-after)
	}
	if after <= before {
		t.Errorf("collection count %d -> %d after a banner POST", before, after)
	}
}

// TestPostLabelsFromStoredDefinitions: an object posted after the marking
// definitions it refers to were stored is labelled by them (and so
// classified and checked by them), not left unlabelled.
func TestPostLabelsFromStoredDefinitions(t *testing.T) {
	var got []string
	n := newNode(t, func(c *Config) {
		c.Classify = func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
			got = append(got, obj.ID+" "+l.Policy+" "+l.Classification)
			return []byte(l.Policy + " " + l.Classification), nil
		}
	})
	l, err := label.Parse("GBR SECRET//REL TO USA, GBR")
	if err != nil {
		t.Fatal(err)
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		t.Fatal(err)
	}
	var ds []string
	for _, d := range defs {
		ds = append(ds, string(d))
	}
	if w := n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+strings.Join(ds, ",")+`]}`); w.Code != 202 {
		t.Fatalf("POST definitions = %d %s", w.Code, w.Body)
	}
	quoted, _ := json.Marshal(refs)
	obj := strings.TrimSuffix(identity(5, "labelled later", t0), "}") + `,"object_marking_refs":` + string(quoted) + `}`
	w := n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+obj+`]}`)
	if st := decode[statusResource](t, w); w.Code != 202 || st.SuccessCount != 1 {
		t.Fatalf("POST object = %d %s", w.Code, w.Body)
	}
	if want := identityID(5) + " GBR SECRET"; !slices.Contains(got, want) {
		t.Errorf("classified %q; want %q: the label read from the stored definitions", got, want)
	}
}

// TestPostCollectionBanner: a collection's default label labels posted
// objects without markings when the request names no banner; a banner in
// the request wins.
func TestPostCollectionBanner(t *testing.T) {
	got := map[string]string{}
	n := newNode(t, func(c *Config) {
		c.DefaultBanner = func(_ context.Context, coll string) (string, error) {
			if coll == collA {
				return "GBR OFFICIAL", nil
			}
			return "", nil
		}
		c.Classify = func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
			got[obj.ID] = l.Policy + " " + l.Classification
			return []byte("x"), nil
		}
	})
	if w := n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+identity(11, "default", t0)+`]}`); w.Code != 202 {
		t.Fatalf("POST = %d %s", w.Code, w.Body)
	}
	if w := n.do(t, "POST", objectsPath(collA), "carol-token", `{"objects":[`+identity(12, "header", t0)+`]}`, BannerHeader, "GBR SECRET//REL TO USA, GBR"); w.Code != 202 {
		t.Fatalf("POST with a banner = %d %s", w.Code, w.Body)
	}
	if got[identityID(11)] != "GBR OFFICIAL" || got[identityID(12)] != "GBR SECRET" {
		t.Errorf("labels = %v; want the collection's default for the first and the request's banner for the second", got)
	}
}
