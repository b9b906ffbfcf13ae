package web

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
)

// partnerPost is what the stand-in partner node received.
type partnerPost struct {
	Path string
	Body []byte
}

// partnerStub is every partner node: a TLS endpoint that accepts the
// consent workflow's posts and keeps them.
type partnerStub struct {
	mu    sync.Mutex
	posts []partnerPost
}

func (p *partnerStub) received() []partnerPost {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]partnerPost(nil), p.posts...)
}

// Requests sent to the test node, as USA's node would send them.
const (
	reqSecret    = "consent-request--11111111-1111-4111-8111-111111111111" // about objSecret
	reqTopSecret = "consent-request--22222222-2222-4222-8222-222222222222" // about objTopSecret
	reqMissing   = "consent-request--33333333-3333-4333-8333-333333333333" // none
)

// withRequests gives the test node the consent workflow on its store,
// signing with a key of its own and reaching every partner at a stub, and
// puts two requests from USA in its inbox: to pass objSecret and
// objTopSecret to CAN.
func (n *testNode) withRequests(t *testing.T) *partnerStub {
	t.Helper()
	stub := &partnerStub{}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		stub.mu.Lock()
		stub.posts = append(stub.posts, partnerPost{Path: r.URL.Path, Body: body})
		stub.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	_, key, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	w := &federation.Workflow{Signer: envelope.Signer{Code: "GBR", KeyID: "ed25519:gbr-test", Key: key}, Store: n.store,
		Cards: partner.NewStore(t.TempDir(), "GBR"), Releaser: n.rel, Collection: "default",
		Dial: func(code string) (*http.Client, string, error) { return srv.Client(), srv.URL, nil }}
	ctx := context.Background()
	now := time.Now().UTC()
	for id, obj := range map[string]string{reqSecret: objSecret, reqTopSecret: objTopSecret} {
		r := mailbox.Request{Box: mailbox.RequestInbox, ID: id, Requester: "USA", Originator: "GBR", Recipient: "CAN", Object: obj,
			Note: "for the joint assessment", Created: now, State: mailbox.RequestPending}
		if err := n.store.PutRequest(ctx, r, federation.RequestEvent("USA", "received", &r, now)); err != nil {
			t.Fatal(err)
		}
	}
	n.cfg.Requests = WorkflowRequests(w)
	n.start(t)
	return stub
}

func (n *testNode) request(t *testing.T, box mailbox.RequestBox, id string) mailbox.Request {
	t.Helper()
	r, err := n.store.GetRequest(context.Background(), box, id)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestReleaseRequestApproveAndDeny: a releaser sees the inbox with the
// request about an object they may see, approves it; the consent signed
// by the node reaches the holder and the audit log records it. Denying
// needs a reason, and the signed denial reaches the holder.
func TestReleaseRequestApproveAndDeny(t *testing.T) {
	n := newTestNode(t)
	stub := n.withRequests(t)
	c := n.client(t)
	c.signIn("m.reed")
	page := c.get("/console/requests")
	if page.status != 200 || !strings.Contains(page.body, `data-request="`+reqSecret+`" data-state="pending"`) ||
		!strings.Contains(page.body, `action="/console/requests/`+reqSecret+`/approve"`) || !strings.Contains(page.body, objNames[objSecret]) {
		t.Fatalf("GET /console/requests as a releaser = %d; want the pending request with its answers:\n%s", page.status, page.body)
	}
	if home := c.get("/console/home"); !strings.Contains(home.body, `<strong>1</strong> release request waits`) {
		t.Errorf("the dashboard does not count the one request the releaser may see:\n%s", home.body)
	}

	// A term the console does not offer is refused, and nothing is
	// decided.
	for _, holds := range []string{"13", "-30", "30d", "x"} {
		if r := c.post("/console/requests/"+reqSecret+"/approve", url.Values{"holds": {holds}}); r.status != http.StatusBadRequest ||
			!strings.Contains(r.body, "not one the console offers") {
			t.Errorf("approve with the term %q = %d; want 400 naming the terms offered:\n%s", holds, r.status, r.body)
		}
	}
	if got := n.request(t, mailbox.RequestInbox, reqSecret); got.State != mailbox.RequestPending {
		t.Fatalf("a refused approval decided the request: %+v", got)
	}

	r := c.post("/console/requests/"+reqSecret+"/approve", url.Values{"holds": {"30"}})
	if r.status != 200 || !strings.Contains(r.body, `id="request-done"`) {
		t.Fatalf("approve = %d\n%s", r.status, r.body)
	}
	got := n.request(t, mailbox.RequestInbox, reqSecret)
	if got.State != mailbox.RequestApproved || got.Delivered.IsZero() {
		t.Fatalf("after approval the request is %+v; want approved and delivered", got)
	}
	posts := stub.received()
	if len(posts) != 1 || posts[0].Path != federation.PathConsentApproval {
		t.Fatalf("the holder received %+v; want one approval", posts)
	}
	p, err := federation.ParseConsent(posts[0].Body)
	if err != nil || p.Object != objSecret || p.Holder != "USA" || p.Recipient != "CAN" || p.Original != "" {
		t.Fatalf("the holder's record: %+v, %v; want a consent for %s to CAN", p, err, objSecret)
	}
	// The consent holds for the 30 days chosen, and the inbox says when
	// it lapses.
	if want := p.Issued.Add(30 * 24 * time.Hour); !p.Expires.Equal(want) {
		t.Errorf("the consent lapses %v; want 30 days after it was issued (%v)", p.Expires, want)
	}
	lapses := `data-expires="` + p.Expires.UTC().Format("2006-01-02 15:04:05Z") + `"`
	if page := c.get("/console/requests"); !strings.Contains(page.body, lapses) {
		t.Errorf("the inbox does not show when the consent lapses (%s):\n%s", lapses, page.body)
	}
	if ev, ok := entryFor(t, n, ledger.KindConsentGiven, reqSecret); !ok || ev.Actor != "m.reed" {
		t.Errorf("the audit log's consent-given entry for %s: %+v, %v; want one by m.reed", reqSecret, ev, ok)
	}
	if home := c.get("/console/home"); !strings.Contains(home.body, `id="no-requests"`) {
		t.Errorf("the dashboard still counts a waiting request after the approval")
	}

	// A decided request cannot be denied; a pending one needs a reason.
	if r := c.post("/console/requests/"+reqSecret+"/deny", url.Values{"reason": {"no"}}); r.status != http.StatusConflict {
		t.Errorf("deny an approved request = %d; want 409", r.status)
	}
	n2 := newTestNode(t)
	stub2 := n2.withRequests(t)
	c2 := n2.client(t)
	c2.signIn("m.reed")
	if r := c2.post("/console/requests/"+reqSecret+"/deny", url.Values{"reason": {"  "}}); r.status != http.StatusBadRequest {
		t.Errorf("deny without a reason = %d; want 400", r.status)
	}
	if r := c2.post("/console/requests/"+reqSecret+"/deny", url.Values{"reason": {"the source would be exposed"}}); r.status != 200 {
		t.Fatalf("deny = %d\n%s", r.status, r.body)
	}
	if got := n2.request(t, mailbox.RequestInbox, reqSecret); got.State != mailbox.RequestDenied || got.Reason != "the source would be exposed" {
		t.Errorf("after the denial the request is %+v", got)
	}
	if posts := stub2.received(); len(posts) != 1 || posts[0].Path != federation.PathConsentDenial {
		t.Errorf("the holder received %+v; want one denial", posts)
	}
}

// entryFor finds the audit entry of kind about request.
func entryFor(t *testing.T, n *testNode, kind ledger.Kind, request string) (ledger.Event, bool) {
	t.Helper()
	ctx := context.Background()
	size, err := n.log.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := uint64(0); i < size; i++ {
		data, err := n.log.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		var ev ledger.Event
		if json.Unmarshal(data, &ev) == nil && ev.Kind == kind && ev.Details["request"] == request {
			return ev, true
		}
	}
	return ledger.Event{}, false
}

// tearlineForm is the editor's form for a variant under GBR OFFICIAL,
// releasable to USA and CAN.
func tearlineForm(content string) url.Values {
	return url.Values{"stix": {content}, "policy": {"GBR"}, "level": {"OFFICIAL"}}
}

var textareaContent = regexp.MustCompile(`(?s)<textarea id="stix"[^>]*>(.*?)</textarea>`)

// TestReleaseRequestApproveWithTearline: the releaser opens the editor
// (the original, under a new id), removes what must not go, sees the line
// diff and the release preview, and approves; the tearline is published
// with a derived-from relationship to the original, and the holder gets a
// consent for the tearline that names the original. Changing the text
// after the preview is refused.
func TestReleaseRequestApproveWithTearline(t *testing.T) {
	n := newTestNode(t)
	stub := n.withRequests(t)
	c := n.client(t)
	c.signIn("m.reed")
	editor := c.get("/console/requests/" + reqSecret + "/tearline")
	m := textareaContent.FindStringSubmatch(editor.body)
	if editor.status != 200 || m == nil {
		t.Fatalf("GET the editor = %d\n%s", editor.status, editor.body)
	}
	draft := html.UnescapeString(m[1])
	var v map[string]any
	if err := json.Unmarshal([]byte(draft), &v); err != nil {
		t.Fatalf("the draft is not JSON: %v\n%s", err, draft)
	}
	variant, _ := v["id"].(string)
	if !strings.HasPrefix(variant, "indicator--") || variant == objSecret || v["name"] != objNames[objSecret] || v["object_marking_refs"] != nil {
		t.Fatalf("the draft %s; want the original without markings under a new id", draft)
	}
	v["name"] = "Relay infrastructure (sanitised)"
	delete(v, "labels")
	edited, _ := json.MarshalIndent(v, "", "  ")
	// As a browser sends a textarea: lines ended by CR LF.
	content := strings.ReplaceAll(string(edited), "\n", "\r\n")

	preview := c.post("/console/requests/"+reqSecret+"/tearline/preview", tearlineForm(content))
	if preview.status != 200 || !strings.Contains(preview.body, `id="approve-tearline"`) {
		t.Fatalf("preview = %d\n%s", preview.status, preview.body)
	}
	for _, want := range []string{`class="del">-   &#34;name&#34;: &#34;Courier network relay&#34;`, `class="add">&#43;   &#34;name&#34;: &#34;Relay infrastructure (sanitised)&#34;`,
		`id="request-decisions"`, `data-partner="USA"`, `data-partner="CAN"`} {
		if !strings.Contains(preview.body, want) {
			t.Errorf("the preview lacks %s\n%s", want, preview.body)
		}
	}
	digest := regexp.MustCompile(`name="digest" value="([^"]+)"`).FindStringSubmatch(preview.body)
	if digest == nil {
		t.Fatal("the preview has no digest")
	}
	changed := tearlineForm(strings.Replace(content, "sanitised", "edited", 1))
	changed.Set("digest", digest[1])
	if r := c.post("/console/requests/"+reqSecret+"/tearline", changed); r.status != http.StatusConflict {
		t.Errorf("approve with a text changed after the preview = %d; want 409", r.status)
	}
	if got := n.request(t, mailbox.RequestInbox, reqSecret); got.State != mailbox.RequestPending {
		t.Fatalf("a refused approval changed the request: %+v", got)
	}

	form := tearlineForm(content)
	form.Set("digest", digest[1])
	form.Set("holds", "2")
	if r := c.post("/console/requests/"+reqSecret+"/tearline", form); r.status != http.StatusBadRequest {
		t.Errorf("approve with a term the console does not offer = %d; want 400", r.status)
	}
	form.Set("holds", "7")
	done := c.post("/console/requests/"+reqSecret+"/tearline", form)
	if done.status != 200 || !strings.Contains(done.body, `id="request-done"`) || !strings.Contains(done.body, `data-tearline="`+variant+`"`) {
		t.Fatalf("approve with the tearline = %d\n%s", done.status, done.body)
	}
	got := n.request(t, mailbox.RequestInbox, reqSecret)
	if got.State != mailbox.RequestApproved || got.Delivered.IsZero() {
		t.Fatalf("the request is %+v; want approved and delivered", got)
	}
	posts := stub.received()
	if len(posts) != 1 {
		t.Fatalf("the holder received %d posts; want 1", len(posts))
	}
	p, err := federation.ParseConsent(posts[0].Body)
	if err != nil || p.Object != variant || p.Original != objSecret || p.Version.IsZero() {
		t.Fatalf("the holder's record: %+v, %v; want a consent for %s standing for %s", p, err, variant, objSecret)
	}
	if want := p.Issued.Add(7 * 24 * time.Hour); !p.Expires.Equal(want) {
		t.Errorf("the consent for the tearline lapses %v; want the 7 days chosen (%v)", p.Expires, want)
	}
	ctx := context.Background()
	page, err := n.store.Objects(ctx, tearline.ObjectQuery{Collection: n.coll.ID, Types: []string{"indicator", "relationship"}})
	if err != nil {
		t.Fatal(err)
	}
	var published, linked bool
	for _, o := range page.Objects {
		switch {
		case o.ID == variant:
			published = strings.Contains(string(o.JSON), "Relay infrastructure (sanitised)") && strings.Contains(string(o.JSON), "object_marking_refs")
		case o.Type == "relationship":
			var rel map[string]any
			json.Unmarshal(o.JSON, &rel)
			linked = rel["relationship_type"] == "derived-from" && rel["source_ref"] == variant && rel["target_ref"] == objSecret
		}
	}
	if !published || !linked {
		t.Errorf("the store holds the tearline: %v, its derived-from relationship: %v; want both", published, linked)
	}
	// The tearline's page shows the original in its graph, through the
	// relationship.
	if tp := c.get("/console/objects/default/" + variant); tp.status != 200 || !strings.Contains(tp.body, `data-object="`+objSecret+`"`) {
		t.Errorf("the tearline's graph does not link the original:\n%s", tp.body)
	}
}

// TestRequestsHideWhatUsersMayNotSee: a request about an object the user
// may not see appears on no requests page, the dashboard does not count
// it, and its editor and answers answer as a missing request does; an
// analyst sees the inbox read-only and cannot answer.
func TestRequestsHideWhatUsersMayNotSee(t *testing.T) {
	n := newTestNode(t)
	n.withRequests(t)
	for _, tc := range []struct {
		user    string
		sees    []string
		decides bool
	}{
		{"m.reed", []string{reqSecret}, true},
		{"j.smith", []string{reqSecret}, false},
		{"k.low", nil, false},
		{"c.martin", nil, false},
	} {
		t.Run(tc.user, func(t *testing.T) {
			c := n.client(t)
			c.signIn(tc.user)
			missing := c.get("/console/requests/" + reqMissing + "/tearline")
			if missing.status != 404 {
				t.Fatalf("editor of a missing request = %d; want 404", missing.status)
			}
			page := c.get("/console/requests")
			home := c.get("/console/home")
			for id, obj := range map[string]string{reqSecret: objSecret, reqTopSecret: objTopSecret} {
				sees := id == reqSecret && len(tc.sees) > 0
				for name, r := range map[string]response{"requests": page, "home": home} {
					shown := strings.Contains(r.body, id) || strings.Contains(r.body, obj) || strings.Contains(r.body, objNames[obj])
					if name == "requests" && shown != sees {
						t.Errorf("%s: the requests page shows %s: %v; want %v", tc.user, id, shown, sees)
					}
					if name == "home" && strings.Contains(r.body, id) {
						t.Errorf("%s: the dashboard names %s", tc.user, id)
					}
				}
				editor := c.get("/console/requests/" + id + "/tearline")
				switch {
				case !sees && (editor.status != 404 || editor.body != missing.body):
					t.Errorf("%s: the editor of %s = %d, unlike a missing request's", tc.user, id, editor.status)
				case sees && tc.decides && editor.status != 200:
					t.Errorf("%s: the editor of %s = %d; want 200", tc.user, id, editor.status)
				case sees && !tc.decides && editor.status != http.StatusBadRequest:
					t.Errorf("%s: the editor of %s = %d; want 400 (only releasers answer)", tc.user, id, editor.status)
				}
				if sees {
					continue
				}
				for _, action := range []string{"approve", "deny", "tearline/preview", "tearline"} {
					r := c.post("/console/requests/"+id+"/"+action, url.Values{"reason": {"x"}, "stix": {"{}"}})
					if r.status != 404 {
						t.Errorf("%s: POST %s of %s = %d; want 404", tc.user, action, id, r.status)
					}
				}
			}
			wantCount := 0
			if len(tc.sees) > 0 {
				wantCount = 1
			}
			if count := strings.Contains(home.body, `<strong>1</strong> release request waits`); count != (wantCount == 1) || wantCount == 0 && !strings.Contains(home.body, `id="no-requests"`) {
				t.Errorf("%s: the dashboard's count is wrong:\n%s", tc.user, home.body)
			}
			if !tc.decides {
				if strings.Contains(page.body, `/approve"`) {
					t.Errorf("%s may not answer, but the inbox offers it", tc.user)
				}
				if len(tc.sees) > 0 {
					if r := c.post("/console/requests/"+reqSecret+"/approve", nil); r.status != http.StatusBadRequest {
						t.Errorf("%s: approve = %d; want 400", tc.user, r.status)
					}
				}
			}
		})
	}
	for _, id := range []string{reqSecret, reqTopSecret} {
		if got := n.request(t, mailbox.RequestInbox, id); got.State != mailbox.RequestPending {
			t.Errorf("%s is %s after users who may not answer it tried", id, got.State)
		}
	}
}

// TestRequestPostsNeedCSRF: every post of the requests pages is refused
// without the session's form token, and changes nothing.
func TestRequestPostsNeedCSRF(t *testing.T) {
	n := newTestNode(t)
	stub := n.withRequests(t)
	c := n.client(t)
	c.signIn("m.reed")
	for _, path := range []string{"/approve", "/deny", "/tearline/preview", "/tearline"} {
		for name, token := range map[string]string{"none": "", "wrong": "not-the-token"} {
			r := c.post("/console/requests/"+reqSecret+path, url.Values{"csrf": {token}, "reason": {"x"}})
			if r.status != http.StatusForbidden {
				t.Errorf("POST %s with %s token = %d; want 403", path, name, r.status)
			}
		}
	}
	if r := c.post("/console/objects/default/"+objSecret+"/request", url.Values{"csrf": {""}, "recipient": {"CAN"}}); r.status != http.StatusForbidden {
		t.Errorf("POST request onward release without a token = %d; want 403", r.status)
	}
	if got := n.request(t, mailbox.RequestInbox, reqSecret); got.State != mailbox.RequestPending {
		t.Errorf("the request is %s after posts without the token", got.State)
	}
	if posts := stub.received(); len(posts) != 0 {
		t.Errorf("the holder received %d posts; want none", len(posts))
	}
}

// TestAskOnwardRelease: the page of an object this node holds but another
// partner originated offers to ask the originator; the request goes to
// the outbox and reaches the originator. An object the node originated
// offers no such form.
func TestAskOnwardRelease(t *testing.T) {
	n := newTestNode(t)
	stub := n.withRequests(t)
	foreign := "indicator--44444444-4444-4444-8444-444444444444"
	pub := &testPublisher{n: n}
	if err := pub.ingest(context.Background(), n.coll.ID, []byte(labelled(t, foreign, "USA reporting on the relay", "GBR SECRET//REL TO USA, GBR, FVEY//ORIGINATOR USA")), nil); err != nil {
		t.Fatal(err)
	}
	c := n.client(t)
	c.signIn("j.smith")
	if own := c.get("/console/objects/default/" + objSecret); strings.Contains(own.body, `id="ask-form"`) {
		t.Errorf("the page of an object GBR originated offers to ask for consent")
	}
	page := c.get("/console/objects/default/" + foreign)
	if page.status != 200 || !strings.Contains(page.body, `id="ask-form"`) || !strings.Contains(page.body, `<option value="CAN">`) {
		t.Fatalf("the page of USA's object = %d, without the form to ask USA:\n%s", page.status, page.body)
	}
	r := c.post("/console/objects/default/"+foreign+"/request", url.Values{"recipient": {"CAN"}, "note": {"for the joint assessment"}})
	if r.status != 200 || !strings.Contains(r.body, `id="outbox"`) {
		t.Fatalf("ask = %d\n%s", r.status, r.body)
	}
	out, err := n.store.Requests(context.Background(), mailbox.RequestOutbox)
	if err != nil || len(out) != 1 || out[0].Originator != "USA" || out[0].Recipient != "CAN" || out[0].Object != foreign || out[0].Delivered.IsZero() {
		t.Fatalf("the outbox: %+v, %v; want one request to USA, delivered", out, err)
	}
	posts := stub.received()
	if len(posts) != 1 || posts[0].Path != federation.PathConsentRequest {
		t.Fatalf("the originator received %+v; want the request", posts)
	}
	if r := c.post("/console/objects/default/"+foreign+"/request", url.Values{"recipient": {"ZZZ"}}); r.status != http.StatusBadRequest {
		t.Errorf("ask for a partner not offered = %d; want 400", r.status)
	}
	// k.low may not see the object: asking answers as for a missing one.
	low := n.client(t)
	low.signIn("k.low")
	if r := low.post("/console/objects/default/"+foreign+"/request", url.Values{"recipient": {"CAN"}}); r.status != 404 {
		t.Errorf("k.low asks about an object hidden from them = %d; want 404", r.status)
	}

}

// TestReleaseRequestRecordMustRead: an approved request whose consent
// record does not read is an error, not a consent shown with no end; the
// error of the workflow is passed on; other requests need no record.
func TestReleaseRequestRecordMustRead(t *testing.T) {
	approved := mailbox.Request{ID: "consent-request--1", State: mailbox.RequestApproved, Record: []byte(`{"not":"a consent"}`)}
	if got, err := releaseRequest(approved, nil); err == nil {
		t.Errorf("an unreadable consent record gave %+v and no error", got)
	}
	boom := io.ErrUnexpectedEOF
	if _, err := releaseRequest(mailbox.Request{}, boom); err != boom {
		t.Errorf("the workflow's error became %v", err)
	}
	pending := mailbox.Request{ID: "consent-request--2", State: mailbox.RequestPending}
	if got, err := releaseRequest(pending, nil); err != nil || !got.Expires.IsZero() || got.ID != pending.ID {
		t.Errorf("a pending request gave %+v, %v", got, err)
	}
}
