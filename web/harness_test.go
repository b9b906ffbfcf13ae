package web

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/stix"
)

// The objects of the test node, as the users' TAXII tests have them.
const (
	objSecret    = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b" // GBR SECRET//REL TO USA, GBR, FVEY
	objOfficial  = "indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" // GBR OFFICIAL
	objTopSecret = "indicator--9f8e7d6c-5b4a-4392-8187-6f5e4d3c2b1a" // GBR TOP SECRET//REL TO USA, GBR
	objNowhere   = "indicator--00000000-0000-4000-8000-000000000000" // does not exist
)

// names of the test objects: each appears on a page only if its object
// may be seen.
var objNames = map[string]string{
	objSecret:    "Courier network relay",
	objOfficial:  "Phishing domain list",
	objTopSecret: "Source reporting on the relay",
}

// testNode is a GBR node with the Five Eyes agreement, a real SQLite
// store holding three labelled objects, three users, a signed audit log,
// and the console served over TLS on 127.0.0.1.
type testNode struct {
	store  *sqlite.Store
	rel    *release.Releaser
	coll   tearline.Collection
	cfg    Config
	server *Server
	ts     *httptest.Server
	tokens map[string]string
	log    *ledger.Log
	signer note.Signer
	clock  *clock
}

// clock is a settable clock; zero offset is the real time.
type clock struct {
	mu     sync.Mutex
	offset time.Duration
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.offset)
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

func levels(policyName, top string) []string {
	s, _ := label.LookupScheme(policyName)
	var out []string
	for _, l := range s.Levels() {
		out = append(out, l)
		if l == top {
			break
		}
	}
	return out
}

// labelled returns an object of type indicator with id and name, marked
// with banner, preceded by the marking definitions it needs, as JSON
// lines.
func labelled(t testing.TB, id, name, banner string) string {
	t.Helper()
	l, err := label.Parse(banner)
	if err != nil {
		t.Fatalf("label.Parse(%q): %v", banner, err)
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		t.Fatalf("ToMarkings(%q): %v", banner, err)
	}
	var b bytes.Buffer
	for _, d := range defs {
		b.Write(d)
		b.WriteByte('\n')
	}
	quoted := make([]string, len(refs))
	for i, r := range refs {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z",`+
		`"name":%q,"pattern":"[ipv4-addr:value = '203.0.113.9']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z",`+
		`"labels":["counter-terrorism"],"object_marking_refs":[%s]}`+"\n", id, name, strings.Join(quoted, ","))
	return b.String()
}

// unlabelled is an indicator without markings, as an analyst pastes it.
func unlabelled(id, name string) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z",`+
		`"name":%q,"pattern":"[domain-name:value = 'relay.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00.000Z"}`, id, name)
}

func newTestNode(t testing.TB) *testNode {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	data, err := os.ReadFile("../policy/examples/fvey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	fvey, err := policy.ParseAgreement(data)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.NewReleaser(policy.Builtin(), []tearline.Agreement{fvey}, "GBR")
	if err != nil {
		t.Fatal(err)
	}
	coll, err := st.CreateCollection(ctx, tearline.Collection{Alias: "default", Title: "Default collection"})
	if err != nil {
		t.Fatal(err)
	}
	n := &testNode{store: st, rel: rel, coll: coll, tokens: map[string]string{}, clock: &clock{}}
	// One ingest per object, so that each has an audit entry of its own.
	pub := &testPublisher{n: n}
	for _, o := range []struct{ id, banner string }{
		{objSecret, "GBR SECRET//REL TO USA, GBR, FVEY"},
		{objOfficial, "GBR OFFICIAL"},
		{objTopSecret, "GBR TOP SECRET//REL TO USA, GBR"},
	} {
		if err := pub.ingest(ctx, coll.ID, []byte(labelled(t, o.id, objNames[o.id], o.banner)), nil); err != nil {
			t.Fatal(err)
		}
	}
	users := []tearline.User{
		{Name: "j.smith", Nationality: "GBR", Clearances: []tearline.Clearance{{Policy: "GBR", Levels: levels("GBR", "SECRET")}}, Roles: []tearline.Role{tearline.RoleAnalyst}},
		{Name: "k.low", Nationality: "GBR", Clearances: []tearline.Clearance{{Policy: "GBR", Levels: levels("GBR", "OFFICIAL")}}, Roles: []tearline.Role{tearline.RoleAnalyst}},
		{Name: "m.reed", Nationality: "GBR", Clearances: []tearline.Clearance{{Policy: "GBR", Levels: levels("GBR", "SECRET")}}, Roles: []tearline.Role{tearline.RoleReleaser}},
		{Name: "c.martin", Nationality: "FRA", Organisation: "FRA liaison", Clearances: []tearline.Clearance{{Policy: "FRA", Levels: levels("FRA", "SECRET")}}},
	}
	for _, u := range users {
		u.Created = time.Now().UTC()
		if err := st.PutUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		tok, hash, secret, err := access.NewToken(u.Name, time.Now(), 24*time.Hour)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.AddToken(ctx, tok, hash); err != nil {
			t.Fatal(err)
		}
		n.tokens[u.Name] = secret
		if err := st.SetGrant(ctx, tearline.Grant{Principal: u.Name, Collection: coll.ID, Read: true, Write: u.Name == "j.smith" || u.Name == "m.reed"}); err != nil {
			t.Fatal(err)
		}
	}
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	n.log = ledger.New(st.Ledger())
	n.signer = ledger.NewSigner("tearline/GBR", key)
	n.checkpoint(t)
	n.cfg = Config{
		Node:            NodeInfo{Partner: "GBR", Name: "UK National Liaison Office"},
		Users:           st,
		Objects:         st,
		Decider:         &testDecider{store: st, rel: rel},
		Publisher:       pub,
		Audit:           &testAudit{Log: n.log, st: st.Ledger(), verifier: ledger.NewVerifier("tearline/GBR", key.Public().(ed25519.PublicKey))},
		Agreements:      testAgreements{rel.Agreements},
		AgreementImpact: testImpact{n: n},
		Partners: testPartners{{Code: "USA", Name: "US node", Fingerprint: "SHA256:0123:4567:89ab:cdef:0123:4567:89ab:cdef:0123:4567:89ab:cdef:0123:4567:89ab:cdef",
			SigningKeyID: "ed25519:usa", HPKEKeyID: "hpke:usa", TLSCertificateSHA256: strings.Repeat("ab", 32), Issued: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}},
		Now: n.clock.now,
	}
	n.start(t)
	return n
}

// start serves the console from cfg, over real TLS on 127.0.0.1, on a mux
// like the users' listener, with a TAXII stand-in at "/".
func (n *testNode) start(t testing.TB) {
	t.Helper()
	srv, err := New(n.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n.server = srv
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "taxii", http.StatusNotFound) })
	srv.Mount(mux)
	n.ts = httptest.NewUnstartedServer(mux)
	n.ts.StartTLS()
	t.Cleanup(n.ts.Close)
}

func (n *testNode) checkpoint(t testing.TB) {
	t.Helper()
	if _, err := n.log.Checkpoint(context.Background(), n.signer); err != nil {
		t.Fatal(err)
	}
}

// testDecider decides from each version's own JSON and markings, as the
// node does for versions without a release class.
type testDecider struct {
	store *sqlite.Store
	rel   *release.Releaser
	// fail, when set, is returned by Subjects.
	fail error
}

func (d *testDecider) Subjects(ctx context.Context, collection string, objs []tearline.StoredObject) ([]*policy.Subject, error) {
	if d.fail != nil {
		return nil, d.fail
	}
	out := make([]*policy.Subject, len(objs))
	for i := range objs {
		obj, v, err := stix.Parse(bytes.Clone(objs[i].JSON))
		if err != nil {
			continue
		}
		defs := label.Definitions{}
		if refs, ok := v.Get("object_marking_refs"); ok {
			var ids []string
			for _, r := range refs.Arr {
				ids = append(ids, r.Str)
			}
			page, err := d.store.Objects(ctx, tearline.ObjectQuery{Collection: collection, IDs: ids, Types: []string{"marking-definition"}})
			if err != nil {
				return nil, err
			}
			for _, m := range page.Objects {
				if err := defs.Add(m.JSON); err != nil {
					return nil, err
				}
			}
		}
		l, err := label.FromObject(v, defs)
		if err != nil {
			l = tearline.Label{}
		}
		out[i] = release.NewSubject(obj, v, d.rel.Holder, l)
	}
	return out, nil
}

func (d *testDecider) NewSubject(obj *tearline.Object, v *stix.Value, l tearline.Label) *policy.Subject {
	return release.NewSubject(obj, v, d.rel.Holder, l)
}

func (d *testDecider) Decide(req *policy.Request) tearline.Decision { return d.rel.Engine.Decide(req) }
func (d *testDecider) Partners(at time.Time) []string               { return d.rel.Partners(at) }
func (d *testDecider) Recipient(code string, at time.Time) *tearline.Recipient {
	return d.rel.Recipient(code, at)
}
func (d *testDecider) Communities() []string {
	var out []string
	for _, c := range d.rel.Registry.Communities() {
		out = append(out, c.Code)
	}
	return out
}

// testPublisher ingests as the node does: the label's definitions, then
// the objects with its markings and release classes, then the release
// sets and an audit entry.
type testPublisher struct {
	n *testNode
}

func (p *testPublisher) ingest(ctx context.Context, collection string, content []byte, refs []string) error {
	var refused error
	_, err := ingest.Stream(ctx, p.n.store, bytes.NewReader(content), ingest.Options{Collection: collection, Markings: refs,
		Classify: func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
			return p.n.rel.Classify(release.NewSubject(obj, v, p.n.rel.Holder, l))
		},
		Reject: func(r ingest.Rejection) { refused = errors.Join(refused, r.Err) }})
	if err != nil {
		return err
	}
	if refused != nil {
		return refused
	}
	_, err = release.Update(ctx, p.n.store, p.n.rel, time.Now().UTC(), "test")
	return err
}

func (p *testPublisher) Publish(ctx context.Context, pub Publication) (PublishResult, error) {
	defs, refs, err := label.ToMarkings(pub.Label)
	if err != nil {
		return PublishResult{}, err
	}
	if err := p.ingest(ctx, pub.Collection, bytes.Join(defs, []byte("\n")), nil); err != nil {
		return PublishResult{}, err
	}
	if err := p.ingest(ctx, pub.Collection, pub.Content, refs); err != nil {
		return PublishResult{}, err
	}
	objs, _ := parsePaste(pub.Content)
	var ids []string
	for _, o := range objs {
		ids = append(ids, o.ID)
	}
	_, err = p.n.log.Append(ctx, ledger.Event{Kind: ledger.KindObjectIngested, Time: time.Now().UTC(), Actor: pub.Actor, Subjects: ids,
		Details: map[string]string{"via": "console", "label": label.Format(pub.Label)}})
	return PublishResult{Read: len(objs), Added: len(objs)}, err
}

type testAudit struct {
	*ledger.Log
	st       ledger.Storage
	verifier note.Verifier
}

func (a *testAudit) NewestCheckpoint(ctx context.Context) (ledger.Checkpoint, []byte, error) {
	cps, err := a.st.Checkpoints(ctx)
	if err != nil {
		return ledger.Checkpoint{}, nil, err
	}
	if len(cps) == 0 {
		return ledger.Checkpoint{}, nil, tearline.ErrNotFound
	}
	cp, _, err := ledger.OpenCheckpoint(cps[len(cps)-1], a.verifier)
	return cp, cps[len(cps)-1], err
}

type testAgreements struct{ list []tearline.Agreement }

func (a testAgreements) Agreements(context.Context) ([]tearline.Agreement, error) { return a.list, nil }

// testImpact previews agreements as the node does: the text parsed and
// validated, put in place of the version in force, and the release sets
// computed again without applying them.
type testImpact struct{ n *testNode }

func (im testImpact) PreviewAgreement(ctx context.Context, text []byte) (tearline.Agreement, release.Impact, error) {
	a, err := policy.ParseAgreement(text)
	if err == nil {
		err = policy.ValidateAgreement(a, im.n.rel.Registry)
	}
	if err != nil {
		return a, release.Impact{}, fmt.Errorf("%w: %v", ErrAgreementText, err)
	}
	var list []tearline.Agreement
	for _, cur := range im.n.rel.Agreements {
		if cur.ID == a.ID {
			if a.Version <= cur.Version {
				return a, release.Impact{}, fmt.Errorf("%w: version %d is in force; give the change version %d", ErrAgreementText, cur.Version, cur.Version+1)
			}
			continue
		}
		list = append(list, cur)
	}
	rel, err := release.NewReleaser(im.n.rel.Registry, append(list, a), im.n.rel.Holder)
	if err != nil {
		return a, release.Impact{}, err
	}
	plan, err := release.Compute(ctx, im.n.store, rel, release.Options{All: true, At: time.Now().UTC(), Actor: "test", Cause: "preview"})
	if err != nil {
		return a, release.Impact{}, err
	}
	return a, plan.Impact, nil
}

type testPartners []PartnerCard

func (p testPartners) PartnerCards(context.Context) ([]PartnerCard, error) { return p, nil }

// client is one browser's session with the console, over TLS.
type client struct {
	t    testing.TB
	n    *testNode
	http *http.Client
	csrf string
}

func (n *testNode) client(t testing.TB) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	// A client of its own: the server's shared client would share its jar.
	hc := *n.ts.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, n: n, http: &hc}
}

type response struct {
	status int
	header http.Header
	body   string
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	if m := csrfField.FindStringSubmatch(r.body); m != nil {
		c.csrf = m[1]
	}
	return r
}

var (
	csrfField = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	formField = regexp.MustCompile(`name="form" value="([^"]+)"`)
)

func (c *client) get(path string) response {
	c.t.Helper()
	req, err := http.NewRequest("GET", c.n.ts.URL+path, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

// post sends a form as a browser of this origin would. The session's CSRF
// token is added unless the form sets csrf itself (empty: sent without).
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, set := form["csrf"]; !set {
		form.Set("csrf", c.csrf)
	} else if form.Get("csrf") == "" {
		form.Del("csrf")
	}
	req, err := http.NewRequest("POST", c.n.ts.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.n.ts.URL)
	return c.do(req)
}

// signIn signs in as user with their token and returns the sign-in
// response.
func (c *client) signIn(user string) response {
	c.t.Helper()
	page := c.get("/console/signin")
	m := formField.FindStringSubmatch(page.body)
	if page.status != 200 || m == nil {
		c.t.Fatalf("GET /console/signin = %d, no form token:\n%s", page.status, page.body)
	}
	r := c.post("/console/signin", url.Values{"form": {m[1]}, "user": {user}, "token": {c.n.tokens[user]}, "csrf": {""}})
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/objects" {
		c.t.Fatalf("sign in as %s = %d %s\n%s", user, r.status, r.header.Get("Location"), r.body)
	}
	// Load a page to learn the session's CSRF token.
	if p := c.get("/console/objects"); p.status != 200 {
		c.t.Fatalf("GET /console/objects after sign-in = %d\n%s", p.status, p.body)
	}
	return r
}
