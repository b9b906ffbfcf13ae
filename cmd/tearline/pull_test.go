package main

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// runCtx drives the command line in-process with ctx, which a test cancels
// as an operator's interrupt would.
func runCtx(ctx context.Context, args ...string) (stdout, stderr string, code int) {
	var out, errb bytes.Buffer
	code = Main(ctx, args, strings.NewReader(""), &out, &errb)
	return out.String(), errb.String(), code
}

// serveNode runs the node at dir as 'tearline serve' does, on 127.0.0.1,
// and returns its base URL.
func serveNode(t *testing.T, dir string) string {
	t.Helper()
	n, s := openNodeStore(t, dir)
	srv, err := newNodeServer(n, s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve %s: %v", dir, err)
		}
	})
	return "https://" + ln.Addr().String()
}

// pinEndpoint re-pins the card of the node at of, now naming endpoint, in
// the node at into (which pinned of's card before).
func pinEndpoint(t *testing.T, of, into, endpoint string) {
	t.Helper()
	card, errs, code := run(t, "", "partner", "card", "--dir", of, "--endpoint", endpoint)
	if code != 0 {
		t.Fatal(errs)
	}
	file := filepath.Join(t.TempDir(), "card.json")
	writeFile(t, file, card)
	if _, errs, code := run(t, "", "partner", "add", "--dir", into, file); code != 0 {
		t.Fatalf("partner add with endpoint %s: %s", endpoint, errs)
	}
}

// storedIDs lists the ids of the objects in the node's default collection.
func storedIDs(t *testing.T, dir string) []string {
	t.Helper()
	out, errs, code := run(t, "", "export", "--dir", dir, "--format", "jsonl")
	if code != 0 {
		t.Fatalf("export: %s", errs)
	}
	var ids []string
	for _, o := range objectsOf(t, []byte(out)) {
		ids = append(ids, o.(map[string]any)["id"].(string))
	}
	sort.Strings(ids)
	return ids
}

func mustInit(t *testing.T, code, name string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.ToLower(code))
	if _, errs, c := run(t, "", "init", "--partner", code, "--name", name, "--dir", dir); c != 0 {
		t.Fatalf("init %s: %s", code, errs)
	}
	return dir
}

// TestPullFromTearlineNode: FRA pulls GBR's collection over mutual TLS and
// stores exactly what GBR's release engine lets FRA see; DEU, pinned but
// under no agreement, gets nothing; a later pull asks only for what was
// added since and stores it.
func TestPullFromTearlineNode(t *testing.T) {
	gbr := initNode(t)
	fra := mustInit(t, "FRA", "DGSI")
	deu := mustInit(t, "DEU", "BfV")
	pinEachOther(t, gbr, fra)
	pinEachOther(t, gbr, deu)
	run(t, "", "agreement", "add", "--dir", gbr, "../../policy/examples/gbr-fra.yaml")
	const (
		forFRA  = "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d"
		forFVEY = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
		later   = "indicator--9d4b5c6e-7f80-4a91-8b2c-3d4e5f6a7b8c"
	)
	input := labelledIndicator(t, forFRA, "GBR SECRET//REL TO GBR, FRA") + labelledIndicator(t, forFVEY, "GBR SECRET//REL TO USA, GBR, FVEY")
	if _, errs, code := run(t, input, "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	base := serveNode(t, gbr)
	pinEndpoint(t, gbr, fra, base)
	pinEndpoint(t, gbr, deu, base)

	out, errs, code := run(t, "", "pull", base, "--collection", "default", "--dir", fra)
	if code != 0 {
		t.Fatalf("pull: exit %d %s %s", code, out, errs)
	}
	if !strings.Contains(out, "GBR's node at "+base) || !strings.Contains(out, "1 read, 1 added") {
		t.Errorf("pull output %q; want GBR named and one object added", out)
	}
	if got := storedIDs(t, fra); !slices.Equal(got, []string{forFRA}) {
		t.Errorf("FRA holds %v after the pull; want exactly what GBR releases to FRA: %s", got, forFRA)
	}
	// Stored through the ingest path: recorded in FRA's audit log.
	if log, _, _ := run(t, "", "audit", "log", "--dir", fra, "--kind", "object-ingested"); !strings.Contains(log, forFRA) {
		t.Errorf("FRA's audit log does not record the pulled object:\n%s", log)
	}
	if out, errs, code := run(t, "", "pull", base, "--collection", "default", "--dir", deu); code != 0 || !strings.Contains(out, "0 read") {
		t.Errorf("pull by DEU: exit %d %q %q; want nothing read", code, out, errs)
	}
	if got := storedIDs(t, deu); len(got) != 0 {
		t.Errorf("DEU holds %v; want nothing", got)
	}

	// Nothing new: nothing read. Then one new object for FRA: only it.
	if out, _, code := run(t, "", "pull", base, "--collection", "default", "--dir", fra); code != 0 || !strings.Contains(out, "0 read") {
		t.Errorf("second pull: exit %d %q; want nothing read, resuming after the first", code, out)
	}
	if _, errs, code := run(t, labelledIndicator(t, later, "GBR SECRET//REL TO GBR, FRA"), "import", "--dir", gbr, "-"); code != 0 {
		t.Fatal(errs)
	}
	if out, _, code := run(t, "", "pull", base, "--collection", "default", "--dir", fra); code != 0 || !strings.Contains(out, "1 read, 1 added") {
		t.Errorf("pull after GBR added one: exit %d %q; want exactly the new object", code, out)
	}
	if got := storedIDs(t, fra); !slices.Equal(got, []string{forFRA, later}) {
		t.Errorf("FRA holds %v; want %s and %s", got, forFRA, later)
	}
	// --ca-file makes no sense for a pinned partner: its certificate is
	// the one on its card.
	if _, errs, code := run(t, "", "pull", base, "--collection", "default", "--dir", fra, "--ca-file", "/etc/ssl/certs/ca-certificates.crt"); code != 2 || !strings.Contains(errs, "pinned endpoint") {
		t.Errorf("pull from a partner with --ca-file: exit %d %q; want a usage error", code, errs)
	}
}

// miniTAXII is a TAXII 2.1 server written for these tests with net/http
// alone, sharing no code with package taxii, so that pull and push are
// shown to work with servers that are not Tearline. It pages with its own
// next values and answers errors with TAXII error messages.
type miniTAXII struct {
	srv *httptest.Server

	mu         sync.Mutex
	objects    []miniObject
	clock      time.Time
	pageSize   int
	maxContent int
	// auth is the Authorization header every request must carry; "" lets
	// every request in.
	auth string
	// refuse maps an object id to the failure message a POST gives it.
	refuse map[string]string
	// hook, if set, runs before a GET objects request is answered; it
	// returns true when it answered the request itself.
	hook     func(w http.ResponseWriter, r *http.Request, start int) bool
	requests []string
	posts    [][]byte
	statuses map[string][]byte
}

type miniObject struct {
	added time.Time
	raw   json.RawMessage
}

const miniCollection = "91a7b528-80eb-42ed-a74d-c6fbd5a26116"

func newMiniTAXII(t *testing.T) *miniTAXII {
	m := &miniTAXII{clock: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC), pageSize: 10, maxContent: 1 << 20,
		refuse: map[string]string{}, statuses: map[string][]byte{}}
	m.srv = httptest.NewUnstartedServer(http.HandlerFunc(m.serve))
	// Handshakes that a test makes fail on purpose are not news.
	m.srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	m.srv.StartTLS()
	t.Cleanup(m.srv.Close)
	return m
}

// caFile writes the server's certificate where --ca-file can read it.
func (m *miniTAXII) caFile(t *testing.T) string {
	f := filepath.Join(t.TempDir(), "ca.pem")
	writeFile(t, f, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: m.srv.Certificate().Raw})))
	return f
}

func (m *miniTAXII) add(objs ...string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, o := range objs {
		m.clock = m.clock.Add(time.Millisecond)
		m.objects = append(m.objects, miniObject{added: m.clock, raw: json.RawMessage(o)})
	}
}

func miniError(w http.ResponseWriter, status int, title, description string) {
	w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"title": title, "description": description, "http_status": strconv.Itoa(status)})
}

func miniJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (m *miniTAXII) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.requests = append(m.requests, r.Method+" "+r.URL.RequestURI())
	auth := m.auth
	m.mu.Unlock()
	if auth != "" && r.Header.Get("Authorization") != auth {
		w.Header().Set("WWW-Authenticate", `Basic realm="mini"`)
		miniError(w, 401, "Unauthorized", "wrong or missing credentials")
		return
	}
	if !strings.Contains(r.Header.Get("Accept"), "application/taxii+json") {
		miniError(w, 406, "Not acceptable", "ask for application/taxii+json;version=2.1")
		return
	}
	objects := "/api1/collections/" + miniCollection + "/objects/"
	switch {
	case r.Method == "GET" && r.URL.Path == "/taxii2/":
		miniJSON(w, 200, map[string]any{"title": "Mini TAXII", "default": "/api1/", "api_roots": []string{"/api1/"}})
	case r.Method == "GET" && r.URL.Path == "/api1/":
		miniJSON(w, 200, map[string]any{"title": "API 1", "versions": []string{"application/taxii+json;version=2.1"}, "max_content_length": m.maxContent})
	case r.Method == "GET" && r.URL.Path == "/api1/collections/":
		miniJSON(w, 200, map[string]any{"collections": []any{map[string]any{"id": miniCollection, "title": "Partner feed",
			"can_read": true, "can_write": true, "media_types": []string{"application/stix+json;version=2.1"}}}})
	case r.Method == "GET" && r.URL.Path == objects:
		m.getObjects(w, r)
	case r.Method == "POST" && r.URL.Path == objects:
		m.postObjects(w, r)
	case r.Method == "GET" && strings.HasPrefix(r.URL.Path, "/api1/status/"):
		m.mu.Lock()
		st, ok := m.statuses[strings.Trim(strings.TrimPrefix(r.URL.Path, "/api1/status/"), "/")]
		m.mu.Unlock()
		if !ok {
			miniError(w, 404, "Not found", "no such status")
			return
		}
		w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
		w.Write(st)
	default:
		miniError(w, 404, "Not found", "no such resource")
	}
}

// getObjects pages in the order objects were added. next is "at-N", the
// index the page starts at; added_after skips what was added until then.
func (m *miniTAXII) getObjects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	m.mu.Lock()
	objs := slices.Clone(m.objects)
	size := m.pageSize
	hook := m.hook
	m.mu.Unlock()
	start := 0
	if v := q.Get("added_after"); v != "" {
		after, err := time.Parse(time.RFC3339Nano, v)
		if err != nil {
			miniError(w, 400, "Bad request", "added_after is not a timestamp")
			return
		}
		for start < len(objs) && !objs[start].added.After(after) {
			start++
		}
	}
	if v := q.Get("next"); v != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(v, "at-"))
		if err != nil || !strings.HasPrefix(v, "at-") || n < start || n > len(objs) {
			miniError(w, 400, "Bad request", "unknown next value")
			return
		}
		start = n
	}
	if v := q.Get("limit"); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n > 0 && n < size {
			size = n
		}
	}
	if hook != nil && hook(w, r, start) {
		return
	}
	end := min(start+size, len(objs))
	env := map[string]any{"more": end < len(objs)}
	if end < len(objs) {
		env["next"] = fmt.Sprintf("at-%d", end)
	}
	var page []json.RawMessage
	for _, o := range objs[start:end] {
		page = append(page, o.raw)
	}
	if len(page) > 0 {
		env["objects"] = page
		w.Header().Set("X-TAXII-Date-Added-First", objs[start].added.Format("2006-01-02T15:04:05.000Z"))
		w.Header().Set("X-TAXII-Date-Added-Last", objs[end-1].added.Format("2006-01-02T15:04:05.000Z"))
	}
	miniJSON(w, 200, env)
}

func (m *miniTAXII) postObjects(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/taxii+json") {
		miniError(w, 415, "Unsupported media type", "post an envelope as application/taxii+json;version=2.1")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(m.maxContent)+1))
	if err != nil || len(body) > m.maxContent {
		miniError(w, 413, "Too large", "the envelope exceeds max_content_length")
		return
	}
	var env struct {
		Objects []json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		miniError(w, 422, "Unprocessable", "not an envelope")
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.posts = append(m.posts, body)
	type detail struct {
		ID      string `json:"id"`
		Version string `json:"version"`
		Message string `json:"message,omitempty"`
	}
	var ok, failed []detail
	for _, raw := range env.Objects {
		var o struct{ ID, Modified string }
		json.Unmarshal(raw, &o)
		if msg, refused := m.refuse[o.ID]; refused {
			failed = append(failed, detail{o.ID, o.Modified, msg})
			continue
		}
		m.clock = m.clock.Add(time.Millisecond)
		m.objects = append(m.objects, miniObject{added: m.clock, raw: raw})
		ok = append(ok, detail{ID: o.ID, Version: o.Modified})
	}
	id := fmt.Sprintf("status-%d", len(m.posts))
	st, _ := json.Marshal(map[string]any{"id": id, "status": "complete", "total_count": len(env.Objects),
		"success_count": len(ok), "successes": ok, "failure_count": len(failed), "failures": failed, "pending_count": 0})
	m.statuses[id] = st
	w.Header().Set("Content-Type", "application/taxii+json;version=2.1")
	w.WriteHeader(202)
	w.Write(st)
}

func (m *miniTAXII) objectRequests() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for _, r := range m.requests {
		if strings.HasPrefix(r, "GET /api1/collections/"+miniCollection+"/objects/") {
			out = append(out, strings.TrimPrefix(r, "GET /api1/collections/"+miniCollection+"/objects/"))
		}
	}
	return out
}

// miniIndicator is a valid unmarked indicator numbered n.
func miniIndicator(n int) string {
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-02-01T00:00:00.000Z","modified":"2026-02-01T00:00:00.000Z","name":"Relay %d","pattern":"[ipv4-addr:value = '203.0.113.%d']","pattern_type":"stix","valid_from":"2026-02-01T00:00:00.000Z","labels":["counter-terrorism"]}`, n, n, n%250)
}

func miniID(n int) string { return fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n) }

// TestPullResumesAfterInterrupt interrupts a pull while it reads the third
// page: the two pages read are kept and the position after them saved; the
// next pull asks only for what was added after it, and every object ends up
// stored once.
func TestPullResumesAfterInterrupt(t *testing.T) {
	dir := initNode(t)
	m := newMiniTAXII(t)
	for i := 1; i <= 25; i++ {
		m.add(miniIndicator(i))
	}
	ctx, interrupt := context.WithCancel(context.Background())
	m.hook = func(w http.ResponseWriter, r *http.Request, start int) bool {
		if start != 20 {
			return false
		}
		interrupt()
		<-r.Context().Done() // the client gave up on this page
		return true
	}
	ca := m.caFile(t)
	out, errs, code := runCtx(ctx, "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", ca)
	if code == 0 || !strings.Contains(errs, "interrupted") || !strings.Contains(out, "20 read, 20 added") {
		t.Fatalf("interrupted pull: exit %d %q %q; want 20 objects kept and an interruption reported", code, out, errs)
	}
	states, _ := filepath.Glob(filepath.Join(dir, pullStateDir, "*.json"))
	if len(states) != 1 {
		t.Fatalf("pull state files %v; want one", states)
	}
	data, _ := os.ReadFile(states[0])
	if !strings.Contains(string(data), `"added_after": "2026-03-01T09:00:00.020Z"`) {
		t.Errorf("pull state %s; want the date the 20th object was added", data)
	}
	m.hook = nil
	before := len(m.objectRequests())
	out, errs, code = run(t, "", "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", ca)
	if code != 0 || !strings.Contains(out, "5 read, 5 added") {
		t.Fatalf("resumed pull: exit %d %q %q; want the 5 remaining objects", code, out, errs)
	}
	if first := m.objectRequests()[before]; !strings.Contains(first, "added_after=2026-03-01T09%3A00%3A00.020Z") {
		t.Errorf("the resumed pull asked %q; want added_after the last committed page", first)
	}
	got := storedIDs(t, dir)
	if len(got) != 25 || got[0] != miniID(1) || got[24] != miniID(25) {
		t.Errorf("stored %d objects (%v); want the 25 once each", len(got), got)
	}
	// --since overrides the saved position: everything again, stored once.
	if out, _, code := run(t, "", "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", ca, "--since", "2026-01-01T00:00:00Z"); code != 0 || !strings.Contains(out, "25 read, 0 added, 25 already present") {
		t.Errorf("pull --since: exit %d %q; want all 25 read again and already present", code, out)
	}
}

// TestPullServerError: a TAXII error from the server stops the pull with
// the server's own words; what came before is kept and the next pull
// resumes.
func TestPullServerError(t *testing.T) {
	dir := initNode(t)
	m := newMiniTAXII(t)
	for i := 1; i <= 15; i++ {
		m.add(miniIndicator(i))
	}
	m.hook = func(w http.ResponseWriter, r *http.Request, start int) bool {
		if start == 10 {
			miniError(w, 503, "Maintenance", "the feed is being re-indexed until 14:00 UTC")
			return true
		}
		return false
	}
	ca := m.caFile(t)
	out, errs, code := run(t, "", "pull", m.srv.URL, "--collection", "Partner feed", "--dir", dir, "--ca-file", ca)
	if code != 1 {
		t.Fatalf("pull against a failing server: exit %d; want 1", code)
	}
	for _, want := range []string{"503 Service Unavailable", `"Maintenance: the feed is being re-indexed until 14:00 UTC"`, "pull again to resume"} {
		if !strings.Contains(errs, want) {
			t.Errorf("error %q lacks %q", errs, want)
		}
	}
	if !strings.Contains(out, "10 read, 10 added") {
		t.Errorf("output %q; want the first page kept", out)
	}
	m.hook = nil
	if out, errs, code := run(t, "", "pull", m.srv.URL, "--collection", "Partner feed", "--dir", dir, "--ca-file", ca); code != 0 || !strings.Contains(out, "5 read, 5 added") {
		t.Errorf("pull after the server recovered: exit %d %q %q; want the other 5", code, out, errs)
	}
	// Without --ca-file the test server's certificate is not trusted.
	if _, errs, code := run(t, "", "pull", m.srv.URL, "--collection", "Partner feed", "--dir", dir); code != 1 || !strings.Contains(errs, "certificate") {
		t.Errorf("pull without trusting the server: exit %d %q; want a certificate error", code, errs)
	}
}

// TestPullReportsInvalidObjects: invalid objects are reported with their
// page, index and reason; the valid ones around them are stored.
func TestPullReportsInvalidObjects(t *testing.T) {
	dir := initNode(t)
	m := newMiniTAXII(t)
	bad := strings.Replace(miniIndicator(2), `"created":"2026-02-01T00:00:00.000Z"`, `"created":"2026-02-01"`, 1)
	m.add(miniIndicator(1), bad, miniIndicator(3), `"not an object"`, miniIndicator(5))
	m.pageSize = 3
	out, errs, code := run(t, "", "pull", m.srv.URL+"/api1/", "--collection", miniCollection, "--dir", dir, "--ca-file", m.caFile(t))
	if code != 3 {
		t.Fatalf("pull with invalid objects: exit %d %q %q; want 3", code, out, errs)
	}
	for _, want := range []string{"page 1, objects[1] (" + miniID(2) + "): rejected $.created:", "page 2, objects[0]: rejected $: not a JSON object [object-type]"} {
		if !strings.Contains(errs, want) {
			t.Errorf("rejections %q lack %q", errs, want)
		}
	}
	if !strings.Contains(out, "5 read, 3 added, 0 already present, 2 rejected") {
		t.Errorf("summary %q; want 3 added and 2 rejected", out)
	}
	if got := storedIDs(t, dir); !slices.Equal(got, []string{miniID(1), miniID(3), miniID(5)}) {
		t.Errorf("stored %v; want the three valid objects", got)
	}
}

// TestPullBannerAndCredentials: --user and --password-file reach the
// server; a wrong password is refused in the server's words; --banner
// labels the unmarked objects exactly as 'import --banner' does.
func TestPullBannerAndCredentials(t *testing.T) {
	dir := initNode(t)
	m := newMiniTAXII(t)
	m.add(miniIndicator(1))
	m.auth = "Basic YW5hbHlzdDpzM2NyZXQ=" // analyst:s3cret
	ca := m.caFile(t)
	pw := filepath.Join(t.TempDir(), "password")
	os.WriteFile(pw, []byte("wrong\n"), 0o600)
	_, errs, code := run(t, "", "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", ca, "--user", "analyst", "--password-file", pw)
	if code != 1 || !strings.Contains(errs, "401 Unauthorized") || !strings.Contains(errs, "wrong or missing credentials") {
		t.Errorf("pull with a wrong password: exit %d %q; want the server's 401", code, errs)
	}
	os.WriteFile(pw, []byte("s3cret\n"), 0o600)
	os.Chmod(pw, 0o644)
	if _, errs, code := run(t, "", "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", ca, "--user", "analyst", "--password-file", pw); code != 1 || !strings.Contains(errs, "chmod 600") {
		t.Errorf("pull with a world-readable password file: exit %d %q; want a refusal", code, errs)
	}
	os.Chmod(pw, 0o600)
	out, errs, code := run(t, "", "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", ca,
		"--user", "analyst", "--password-file", pw, "--banner", "gbr secret//rel to fra, gbr")
	if code != 0 || !strings.Contains(out, "1 read, 1 added") {
		t.Fatalf("pull --banner: exit %d %q %q", code, out, errs)
	}
	run(t, "", "agreement", "add", "--dir", dir, "../../policy/examples/gbr-fra.yaml")
	out, _, _ = run(t, "", "explain", "--dir", dir, miniID(1), "--to", "FRA", "--at", "2026-11-01T00:00:00Z")
	if !strings.Contains(out, "GBR SECRET//REL TO FRA, GBR") || !strings.Contains(out, ": ALLOW") {
		t.Errorf("explain after pull --banner =\n%s\nwant the banner's label and an allow", out)
	}
	if _, errs, code := run(t, "", "pull", "http://"+strings.TrimPrefix(m.srv.URL, "https://"), "--collection", miniCollection, "--dir", dir); code != 2 || !strings.Contains(errs, "plain http is refused") {
		t.Errorf("pull over http: exit %d %q; want a usage error", code, errs)
	}
}

// TestPullEvery repeats the pull until interrupted, and stops cleanly.
func TestPullEvery(t *testing.T) {
	dir := initNode(t)
	m := newMiniTAXII(t)
	m.add(miniIndicator(1))
	ctx, interrupt := context.WithCancel(context.Background())
	runs := 0
	m.hook = func(w http.ResponseWriter, r *http.Request, start int) bool {
		runs++
		if runs == 1 {
			// Added after this run read its snapshot: the second run
			// finds it.
			m.add(miniIndicator(2))
		}
		if runs == 3 {
			interrupt()
		}
		return false
	}
	done := make(chan struct{})
	var out, errs string
	var code int
	go func() {
		out, errs, code = runCtx(ctx, "pull", m.srv.URL, "--collection", miniCollection, "--dir", dir, "--ca-file", m.caFile(t), "--every", "1s")
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		interrupt()
		t.Fatal("pull --every did not stop after an interrupt")
	}
	if code != 0 || !strings.Contains(out, "pull stopped after 3 run(s)") {
		t.Errorf("pull --every: exit %d %q %q; want a clean stop after 3 runs", code, out, errs)
	}
	if got := storedIDs(t, dir); !slices.Equal(got, []string{miniID(1), miniID(2)}) {
		t.Errorf("stored %v; want both objects", got)
	}
}
