package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/taxii"
)

const (
	collA = "2a9e4a39-7b0c-4c4e-9d1f-0b1c2d3e4f50"
	collB = "7d4c2b1a-0f9e-4d8c-b7a6-5f4e3d2c1b0a"
)

// tearlineServer serves the node's own TAXII handler (package taxii) over
// TLS on 127.0.0.1, with bearer tokens for a local writer and a partner
// that may read collection alpha only.
func tearlineServer(t testing.TB, maxContent int64) (*httptest.Server, tearline.ObjectStore) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for _, c := range []tearline.Collection{{ID: collA, Alias: "alpha", Title: "Alpha"}, {ID: collB, Alias: "bravo", Title: "Bravo"}} {
		if _, err := st.CreateCollection(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	auth := &taxii.StaticAuth{
		Tokens: map[string]taxii.Principal{
			"writer-token":  {ID: "writer", Kind: taxii.Local},
			"partner-token": {ID: "FRA", Kind: taxii.Partner},
		},
		Grants: map[string]map[string]taxii.Access{
			"writer": {"*": {Read: true, Write: true}},
			"FRA":    {"alpha": {Read: true}},
		},
	}
	h, err := taxii.New(taxii.Config{Store: st, Authenticator: auth, Authorizer: auth, Visibility: taxii.AllVisible,
		CursorKey: []byte("0123456789abcdef0123456789abcdef"), MaxContentLength: maxContent,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv, st
}

func newClient(t *testing.T, srv *httptest.Server, creds Credentials) *Client {
	t.Helper()
	c, err := New(Options{HTTPClient: srv.Client(), Credentials: creds})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// identity is a valid STIX identity numbered n.
func identity(n int) json.RawMessage {
	return json.RawMessage(fmt.Sprintf(`{"type":"identity","spec_version":"2.1","id":"identity--00000000-0000-4000-8000-%012d","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Liaison desk %d"}`, n, n))
}

func ids(objs []json.RawMessage) []string {
	var out []string
	for _, o := range objs {
		var v struct {
			ID string `json:"id"`
		}
		json.Unmarshal(o, &v)
		out = append(out, v.ID)
	}
	return out
}

// TestTearlineServer drives the node's own TAXII server through every
// resource: discovery from the bare origin, the API root, collections by
// alias, a post split into envelopes that fit max_content_length, the
// status, paging with limit and next, the manifest, one object and its
// versions.
func TestTearlineServer(t *testing.T) {
	ctx := context.Background()
	srv, _ := tearlineServer(t, 4096)
	c := newClient(t, srv, BearerToken("writer-token"))

	root, err := c.FindAPIRoot(ctx, srv.URL)
	if err != nil {
		t.Fatalf("FindAPIRoot(%s): %v", srv.URL, err)
	}
	if want := srv.URL + "/tearline/"; root != want {
		t.Fatalf("FindAPIRoot(%s) = %s; want %s", srv.URL, root, want)
	}
	if again, err := c.FindAPIRoot(ctx, root); err != nil || again != root {
		t.Errorf("FindAPIRoot(%s) = %s, %v; want the API root itself", root, again, err)
	}
	ar, err := c.APIRoot(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	if ar.MaxContentLength != 4096 || !ar.SupportsTAXII21() {
		t.Errorf("APIRoot = %+v; want max_content_length 4096 and TAXII 2.1", ar)
	}
	coll, err := c.FindCollection(ctx, root, "alpha")
	if err != nil || coll.ID != collA || !coll.CanWrite || !coll.CanRead {
		t.Fatalf("FindCollection(alpha) = %+v, %v; want %s, readable and writable", coll, err, collA)
	}
	if _, err := c.FindCollection(ctx, root, "charlie"); !errors.Is(err, ErrNoCollection) || !strings.Contains(err.Error(), collB) {
		t.Errorf("FindCollection(charlie) = %v; want ErrNoCollection listing what exists", err)
	}

	// 25 objects of about 190 bytes: a 4 KiB envelope takes about 20.
	var objs []json.RawMessage
	for i := 1; i <= 25; i++ {
		objs = append(objs, identity(i))
	}
	p := Packer{MaxBytes: ar.MaxContentLength}
	var envelopes [][]json.RawMessage
	for _, o := range objs {
		full, err := p.Add(o)
		if err != nil {
			t.Fatal(err)
		}
		if full != nil {
			envelopes = append(envelopes, full)
		}
	}
	envelopes = append(envelopes, p.Flush())
	if len(envelopes) < 2 {
		t.Fatalf("25 objects packed into %d envelope(s) of 4 KiB; want several", len(envelopes))
	}
	total := 0
	for _, env := range envelopes {
		st, err := c.AddObjects(ctx, root, collA, env)
		if err != nil {
			t.Fatalf("AddObjects(%d objects): %v", len(env), err)
		}
		if st, err = c.WaitForStatus(ctx, root, st, 10*time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if st.Status != StatusComplete || st.SuccessCount != len(env) || len(st.Successes) != len(env) {
			t.Errorf("status after posting %d objects = %+v", len(env), st)
		}
		again, err := c.Status(ctx, root, st.ID)
		if err != nil || again.SuccessCount != st.SuccessCount {
			t.Errorf("Status(%s) = %+v, %v; want the same status again", st.ID, again, err)
		}
		total += st.SuccessCount
	}
	if total != 25 {
		t.Fatalf("%d objects stored; want 25", total)
	}

	// Pages of 7: 7, 7, 7, 4, following next.
	var got []string
	var sizes []int
	for env, err := range c.ObjectPages(ctx, root, collA, Filter{Limit: 7}) {
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(env.Objects))
		got = append(got, ids(env.Objects)...)
		if env.DateAddedLast.IsZero() || env.DateAddedLast.Before(env.DateAddedFirst) {
			t.Errorf("page dates %v..%v", env.DateAddedFirst, env.DateAddedLast)
		}
	}
	if !slices.Equal(sizes, []int{7, 7, 7, 4}) || !slices.Equal(got, ids(objs)) {
		t.Errorf("pages of %v with ids %v; want 7,7,7,4 in the order posted", sizes, got)
	}

	// Filters: by id, by type, added_after.
	one, err := c.GetObjects(ctx, root, collA, Filter{IDs: []string{"identity--00000000-0000-4000-8000-000000000003"}})
	if err != nil || len(one.Objects) != 1 || one.More {
		t.Errorf("GetObjects(match[id]) = %+v, %v; want one object", one, err)
	}
	none, err := c.GetObjects(ctx, root, collA, Filter{Types: []string{"indicator"}})
	if err != nil || len(none.Objects) != 0 || !none.DateAddedLast.IsZero() {
		t.Errorf("GetObjects(match[type]=indicator) = %+v, %v; want none", none, err)
	}
	m, err := c.Manifest(ctx, root, collA, Filter{Limit: 100})
	if err != nil || len(m.Objects) != 25 || m.Objects[0].Version != "2024-01-01T00:00:00.000000Z" {
		t.Fatalf("Manifest = %+v, %v", m, err)
	}
	tail, err := c.GetObjects(ctx, root, collA, Filter{AddedAfter: m.Objects[19].DateAdded})
	if err != nil || !slices.Equal(ids(tail.Objects), ids(objs[20:])) {
		t.Errorf("GetObjects(added_after the 20th) = %v, %v; want the last 5", ids(tail.Objects), err)
	}
	obj, err := c.GetObject(ctx, root, collA, "identity--00000000-0000-4000-8000-000000000004", Filter{})
	if err != nil || len(obj.Objects) != 1 {
		t.Errorf("GetObject = %+v, %v", obj, err)
	}
	vs, err := c.Versions(ctx, root, collA, "identity--00000000-0000-4000-8000-000000000004", Filter{})
	if err != nil || !slices.Equal(vs.Versions, []string{"2024-01-01T00:00:00.000000Z"}) {
		t.Errorf("Versions = %+v, %v", vs, err)
	}
}

// TestServerErrors: the server's TAXII error message reaches the caller
// with the HTTP status, for each kind of refusal.
func TestServerErrors(t *testing.T) {
	ctx := context.Background()
	srv, _ := tearlineServer(t, 1024)
	root := srv.URL + "/tearline/"
	cases := []struct {
		name   string
		creds  Credentials
		call   func(c *Client) error
		status int
		text   string
	}{
		{"unknown token", BearerToken("stolen"), func(c *Client) error { _, err := c.Collections(ctx, root); return err },
			401, "Authentication required"},
		{"no credentials", nil, func(c *Client) error { _, err := c.APIRoot(ctx, root); return err },
			401, "needs valid credentials"},
		{"read-only partner posts", BearerToken("partner-token"), func(c *Client) error {
			_, err := c.AddObjects(ctx, root, collA, []json.RawMessage{identity(1)})
			return err
		}, 403, "you may not write to this collection"},
		{"hidden collection", BearerToken("partner-token"), func(c *Client) error {
			_, err := c.GetObjects(ctx, root, collB, Filter{})
			return err
		}, 404, "no such collection"},
		{"envelope over max_content_length", BearerToken("writer-token"), func(c *Client) error {
			var many []json.RawMessage
			for i := 0; i < 20; i++ {
				many = append(many, identity(i))
			}
			_, err := c.AddObjects(ctx, root, collA, many)
			return err
		}, 413, "exceeds the max_content_length"},
		{"forged cursor", BearerToken("writer-token"), func(c *Client) error {
			_, err := c.GetObjects(ctx, root, collA, Filter{Next: "AQAGNn-13EpA5w2uvrY9NFQNv195fIMPAw"})
			return err
		}, 400, "next is not a cursor"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.call(newClient(t, srv, tc.creds))
			var te *Error
			if !errors.As(err, &te) {
				t.Fatalf("error %v (%T); want *Error", err, err)
			}
			if te.StatusCode != tc.status || te.Message == nil || te.Message.HTTPStatus != fmt.Sprint(tc.status) {
				t.Errorf("error = %+v; want HTTP %d with a TAXII error message", te, tc.status)
			}
			if !strings.Contains(err.Error(), tc.text) || !strings.Contains(err.Error(), root) {
				t.Errorf("error text %q; want the URL and %q", err, tc.text)
			}
		})
	}
}

// miniServer is a TAXII 2.1 server written for the test, with no code in
// common with package taxii: each test gives the answers.
func miniServer(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func writeTAXII(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", MediaType)
	w.WriteHeader(status)
	io.WriteString(w, body)
}

// TestPagingWithoutNext: a server that gives no next is paged with
// added_after set to its X-TAXII-Date-Added-Last, keeping the filter.
func TestPagingWithoutNext(t *testing.T) {
	dates := []string{"2026-01-01T00:00:01.000Z", "2026-01-01T00:00:02.000Z", "2026-01-01T00:00:03.000Z"}
	var queries []string
	srv := miniServer(t, func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
		after := r.URL.Query().Get("added_after")
		i := 0
		for i < len(dates) && after != "" && dates[i] <= after {
			i++
		}
		if i == len(dates) {
			writeTAXII(w, 200, `{"more":false}`)
			return
		}
		w.Header().Set("X-TAXII-Date-Added-First", dates[i])
		w.Header().Set("X-TAXII-Date-Added-Last", dates[i])
		writeTAXII(w, 200, fmt.Sprintf(`{"more":%v,"objects":[%s]}`, i < len(dates)-1, identity(i)))
	})
	c := newClient(t, srv, nil)
	var got []string
	for env, err := range c.ObjectPages(context.Background(), srv.URL+"/api1/", "c1", Filter{Types: []string{"identity"}}) {
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, ids(env.Objects)...)
	}
	if len(got) != 3 {
		t.Errorf("paged %v; want 3 objects", got)
	}
	want := []string{"match%5Btype%5D=identity", "added_after=2026-01-01T00%3A00%3A01.000Z&match%5Btype%5D=identity", "added_after=2026-01-01T00%3A00%3A02.000Z&match%5Btype%5D=identity"}
	if !slices.Equal(queries, want) {
		t.Errorf("queries %q; want %q", queries, want)
	}
}

// TestPagingGuards: servers that would make paging loop or that give no
// way to continue end the iteration with an error.
func TestPagingGuards(t *testing.T) {
	cases := []struct {
		name, body, last, want string
	}{
		{"same next again", `{"more":true,"next":"n1"}`, "", "gave the next value \"n1\" twice"},
		{"no next, no date", `{"more":true,"objects":[{}]}`, "", "neither next nor X-TAXII-Date-Added-Last"},
		{"date does not advance", `{"more":true,"objects":[{}]}`, "2020-01-01T00:00:00Z", "does not advance"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := miniServer(t, func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				if tc.last != "" {
					w.Header().Set("X-TAXII-Date-Added-Last", tc.last)
				}
				writeTAXII(w, 200, tc.body)
			})
			c := newClient(t, srv, nil)
			var last error
			for _, err := range c.ObjectPages(context.Background(), srv.URL+"/api1/", "c1", Filter{AddedAfter: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)}) {
				last = err
			}
			if last == nil || !strings.Contains(last.Error(), tc.want) {
				t.Errorf("paging ended with %v; want an error with %q", last, tc.want)
			}
			if calls.Load() > 3 {
				t.Errorf("%d requests; paging should stop at once", calls.Load())
			}
		})
	}
}

// TestResponseChecks: answers that are not TAXII 2.1 are refused with the
// reason, and nothing larger than the limit is read.
func TestResponseChecks(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		handle http.HandlerFunc
		want   string
		is     error
	}{
		{"html login page", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html")
			io.WriteString(w, "<html>please log in</html>")
		}, "is not application/taxii+json;version=2.1", nil},
		{"TAXII 2.0", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/taxii+json;version=2.0")
			io.WriteString(w, `{}`)
		}, "speaks TAXII 2.0", nil},
		{"too large", func(w http.ResponseWriter, r *http.Request) {
			writeTAXII(w, 200, `{"objects":[`+strings.Repeat(`{"a":1},`, 200)+`{}]}`)
		}, "larger than the client's limit", ErrResponseTooLarge},
		{"bad date header", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("X-TAXII-Date-Added-Last", "yesterday")
			writeTAXII(w, 200, `{"objects":[{}]}`)
		}, "X-TAXII-Date-Added-Last header", nil},
		{"objects not a list", func(w http.ResponseWriter, r *http.Request) {
			writeTAXII(w, 200, `{"objects":{"type":"indicator"}}`)
		}, "property objects is a JSON object; want a list", nil},
		{"error without TAXII message", func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(502)
			io.WriteString(w, "upstream \x1b[31mdown")
		}, `502 Bad Gateway; the body is not a TAXII error message: "upstream \x1b[31mdown"`, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv := miniServer(t, tc.handle)
			c, err := New(Options{HTTPClient: srv.Client(), MaxResponseBytes: 1000})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.GetObjects(ctx, srv.URL+"/api1/", "c1", Filter{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("GetObjects = %v; want an error with %q", err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("error %v is not %v", err, tc.is)
			}
		})
	}
}

// TestCredentials: Basic and bearer credentials reach the server over
// https, and are never sent over plain http.
func TestCredentials(t *testing.T) {
	ctx := context.Background()
	var got []string
	srv := miniServer(t, func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Header.Get("Authorization")+" "+r.Header.Get("Accept"))
		writeTAXII(w, 200, `{"title":"t","versions":["application/taxii+json;version=2.1"],"max_content_length":1}`)
	})
	for _, creds := range []Credentials{BasicAuth{User: "analyst", Password: "s3cret"}, BearerToken("tok")} {
		if _, err := newClient(t, srv, creds).APIRoot(ctx, srv.URL+"/api1/"); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{"Basic YW5hbHlzdDpzM2NyZXQ= " + MediaType, "Bearer tok " + MediaType}
	if !slices.Equal(got, want) {
		t.Errorf("server saw %q; want %q", got, want)
	}
	var plainHits atomic.Int32
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { plainHits.Add(1) }))
	defer plain.Close()
	c, _ := New(Options{Credentials: BearerToken("tok")})
	if _, err := c.APIRoot(ctx, plain.URL+"/api1/"); err == nil || !strings.Contains(err.Error(), "only sent over https") {
		t.Errorf("APIRoot over http with a token = %v; want a refusal", err)
	}
	if plainHits.Load() != 0 {
		t.Error("the plain http server was contacted")
	}
}

// TestRedirectToPlainHTTP: a redirect that leaves https is not followed,
// so credentials never travel in clear.
func TestRedirectToPlainHTTP(t *testing.T) {
	var plainAuth atomic.Value
	plainAuth.Store("")
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		plainAuth.Store(r.Header.Get("Authorization"))
		writeTAXII(w, 200, `{"title":"t","versions":[],"max_content_length":1}`)
	}))
	defer plain.Close()
	srv := miniServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, plain.URL+"/api1/", http.StatusFound)
	})
	_, err := newClient(t, srv, BearerToken("tok")).APIRoot(context.Background(), srv.URL+"/api1/")
	if err == nil || !strings.Contains(err.Error(), "leaves https") {
		t.Errorf("APIRoot through a redirect to http = %v; want a refusal", err)
	}
	if got := plainAuth.Load().(string); got != "" {
		t.Errorf("the plain http server received Authorization %q", got)
	}
}

// TestWaitForStatus polls a pending status until it completes.
func TestWaitForStatus(t *testing.T) {
	var polls atomic.Int32
	srv := miniServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.Method == http.MethodPost:
			if ct := r.Header.Get("Content-Type"); ct != MediaType {
				writeTAXII(w, 415, `{"title":"Unsupported media type","http_status":"415"}`)
				return
			}
			body, _ := io.ReadAll(r.Body)
			if string(body) != `{"objects":[`+string(identity(1))+`,`+string(identity(2))+`]}` {
				writeTAXII(w, 422, `{"title":"bad envelope"}`)
				return
			}
			writeTAXII(w, 202, `{"id":"s-1","status":"pending","total_count":2,"success_count":0,"failure_count":0,"pending_count":2}`)
		case r.URL.Path == "/api1/status/s-1/" && polls.Add(1) < 3:
			writeTAXII(w, 200, `{"id":"s-1","status":"pending","total_count":2,"success_count":1,"failure_count":0,"pending_count":1}`)
		case r.URL.Path == "/api1/status/s-1/":
			writeTAXII(w, 200, `{"id":"s-1","status":"complete","total_count":2,"success_count":1,"successes":[{"id":"identity--00000000-0000-4000-8000-000000000001","version":"2024-01-01T00:00:00.000Z"}],"failure_count":1,"failures":[{"id":"identity--00000000-0000-4000-8000-000000000002","version":"2024-01-01T00:00:00.000Z","message":"duplicate"}],"pending_count":0}`)
		default:
			writeTAXII(w, 404, `{"title":"Not found"}`)
		}
	})
	c := newClient(t, srv, nil)
	ctx := context.Background()
	st, err := c.AddObjects(ctx, srv.URL+"/api1/", "c1", []json.RawMessage{identity(1), identity(2)})
	if err != nil {
		t.Fatal(err)
	}
	st, err = c.WaitForStatus(ctx, srv.URL+"/api1/", st, time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != StatusComplete || st.FailureCount != 1 || st.Failures[0].Message != "duplicate" || polls.Load() != 3 {
		t.Errorf("final status %+v after %d polls; want complete with one failure after 3", st, polls.Load())
	}
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	pending := &Status{ID: "never", Status: StatusPending, TotalCount: 1, PendingCount: 1}
	if _, err := c.WaitForStatus(short, srv.URL+"/api1/", pending, time.Hour); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("WaitForStatus past the deadline = %v; want DeadlineExceeded", err)
	}
}

// TestPacker: envelopes keep the order, never exceed the size or count,
// and an object too large for any envelope is refused alone.
func TestPacker(t *testing.T) {
	var objs []json.RawMessage
	for i := 0; i < 300; i++ {
		objs = append(objs, json.RawMessage(fmt.Sprintf(`{"id":%d,"pad":%q}`, i, strings.Repeat("x", i%97))))
	}
	for _, max := range []int64{int64(envelopeOverhead) + 120, 500, 4096, 1 << 20} {
		for _, count := range []int{0, 1, 7} {
			p := Packer{MaxBytes: max, MaxObjects: count}
			var out []json.RawMessage
			check := func(env []json.RawMessage) {
				if len(env) == 0 {
					t.Fatalf("max %d count %d: empty envelope", max, count)
				}
				if n := int64(len(EncodeEnvelope(env))); n > max {
					t.Errorf("max %d count %d: envelope of %d bytes", max, count, n)
				}
				if count > 0 && len(env) > count {
					t.Errorf("max %d count %d: envelope of %d objects", max, count, len(env))
				}
				if !json.Valid(EncodeEnvelope(env)) {
					t.Errorf("max %d: envelope is not JSON", max)
				}
				out = append(out, env...)
			}
			skipped := 0
			for _, o := range objs {
				full, err := p.Add(o)
				if errors.Is(err, ErrObjectTooLarge) {
					skipped++
					continue
				}
				if err != nil {
					t.Fatal(err)
				}
				if full != nil {
					check(full)
				}
			}
			if p.Len() > 0 {
				check(p.Flush())
			}
			if len(out)+skipped != len(objs) {
				t.Errorf("max %d count %d: %d packed + %d too large; want %d", max, count, len(out), skipped, len(objs))
			}
			for i := 1; i < len(out); i++ {
				var a, b struct{ ID int }
				json.Unmarshal(out[i-1], &a)
				json.Unmarshal(out[i], &b)
				if a.ID >= b.ID {
					t.Fatalf("max %d: order broken at %d", max, i)
				}
			}
			if max >= 4096 && skipped != 0 {
				t.Errorf("max %d: %d objects refused", max, skipped)
			}
		}
	}
}

func TestNewRejectsConflictingOptions(t *testing.T) {
	if _, err := New(Options{HTTPClient: http.DefaultClient, Timeout: time.Second}); err == nil {
		t.Error("New with an HTTP client and a timeout succeeded; want an error")
	}
}

// TestParseEnvelopeNesting: the envelope reader bounds nesting where
// encoding/json does, so both read the same documents.
func TestParseEnvelopeNesting(t *testing.T) {
	for _, depth := range []int{9999, 10000, 10001} {
		body := `{"objects":[` + strings.Repeat("[", depth-2) + strings.Repeat("]", depth-2) + `]}`
		_, err := parseEnvelope([]byte(body))
		_, refErr := parseEnvelopeStdlib([]byte(body))
		if (err == nil) != (refErr == nil) {
			t.Errorf("depth %d: parseEnvelope: %v; encoding/json: %v", depth, err, refErr)
		}
		if want := depth <= 10000; (err == nil) != want {
			t.Errorf("depth %d: parseEnvelope: %v; want success %v", depth, err, want)
		}
	}
}
