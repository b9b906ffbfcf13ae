package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// consoleClient is a browser's session with the console of a usersNode.
type consoleClient struct {
	u    *usersNode
	http *http.Client
	csrf string
}

var (
	consoleCSRF   = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	consoleForm   = regexp.MustCompile(`name="form" value="([^"]+)"`)
	consoleDigest = regexp.MustCompile(`name="digest" value="([^"]+)"`)
	consoleEntry  = regexp.MustCompile(`href="/console/audit/(\d+)"`)
)

func newConsoleClient(t *testing.T, u *usersNode) *consoleClient {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	c := *u.client
	c.Jar = jar
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &consoleClient{u: u, http: &c}
}

func (c *consoleClient) do(t *testing.T, method, path string, form url.Values) (int, http.Header, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.u.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", c.u.base)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := consoleCSRF.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header, string(b)
}

func (c *consoleClient) signIn(t *testing.T, user string) {
	t.Helper()
	_, _, page := c.do(t, "GET", "/console/signin", nil)
	m := consoleForm.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("sign-in page without a form token:\n%s", page)
	}
	code, hdr, body := c.do(t, "POST", "/console/signin", url.Values{"form": {m[1]}, "user": {user}, "token": {c.u.tokens[user]}})
	if code != http.StatusSeeOther || hdr.Get("Location") != "/console/objects" {
		t.Fatalf("console sign-in as %s = %d %s\n%s", user, code, hdr.Get("Location"), body)
	}
	c.do(t, "GET", "/console/objects", nil)
}

// TestConsoleServedToUsers: `tearline serve` with api.listen serves the
// console on the users' listener, deciding with the node's own release
// engine, users, release sets and audit log: what each user sees matches
// the users' TAXII, and a publication goes through the one ingest path
// into the release sets and the audit log, with a proof the page checks.
func TestConsoleServedToUsers(t *testing.T) {
	u := newUsersNode(t)
	anon := newConsoleClient(t, u)
	code, hdr, _ := anon.do(t, "GET", "/console/", nil)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/console/objects" {
		t.Errorf("GET /console/ = %d %s; want a redirect", code, hdr.Get("Location"))
	}
	if csp := hdr.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("GET /console/: Content-Security-Policy %q", csp)
	}
	if code, _, _ := anon.do(t, "GET", "/console/objects", nil); code != http.StatusSeeOther {
		t.Errorf("GET /console/objects without a session = %d; want a redirect to sign in", code)
	}

	want := map[string][]string{
		"j.smith":  {objOfficial, objSecret},
		"k.low":    {objOfficial},
		"c.martin": nil,
	}
	clients := map[string]*consoleClient{}
	for user, visible := range want {
		c := newConsoleClient(t, u)
		c.signIn(t, user)
		clients[user] = c
		_, _, list := c.do(t, "GET", "/console/objects", nil)
		_, _, missing := c.do(t, "GET", "/console/objects/default/"+objNowhere, nil)
		for _, id := range []string{objSecret, objOfficial, objTopSecret, objRelIDO} {
			may := false
			for _, v := range visible {
				may = may || v == id
			}
			if strings.Contains(list, id) != may {
				t.Errorf("console list as %s shows %s: %v; want %v (as on TAXII)", user, id, !may, may)
			}
			code, _, page := c.do(t, "GET", "/console/objects/default/"+id, nil)
			switch {
			case may && code != 200:
				t.Errorf("console object %s as %s = %d; want 200", id, user, code)
			case !may && (code != 404 || page != missing):
				t.Errorf("console object %s as %s = %d; want the 404 of a missing object", id, user, code)
			}
		}
	}

	smith := clients["j.smith"]
	_, _, page := smith.do(t, "GET", "/console/objects/default/"+objSecret, nil)
	for _, w := range []string{"GBR SECRET//REL TO USA, GBR, FVEY", `data-partner="AUS"`, `data-partner="USA"`, "Release class", "fvey-intel@3"} {
		if !strings.Contains(page, w) {
			t.Errorf("object page of %s lacks %q", objSecret, w)
		}
	}
	if _, _, agreements := smith.do(t, "GET", "/console/agreements", nil); !strings.Contains(agreements, "fvey-intel@v3") {
		t.Errorf("agreements page lacks fvey-intel@v3")
	}

	// Publishing needs a write grant, as TAXII POST does.
	if _, errs, code := run(t, "", "collection", "grant", "--dir", u.dir, "j.smith", "default", "--read", "--write"); code != 0 {
		t.Fatal(errs)
	}
	const published = "indicator--0b1c2d3e-4f50-4a61-8b72-c3d4e5f60718"
	paste := fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-11-01T00:00:00.000Z","modified":"2026-11-01T00:00:00.000Z",`+
		`"name":"Relay domain","pattern":"[domain-name:value = 'relay.example']","pattern_type":"stix","valid_from":"2026-11-01T00:00:00.000Z"}`, published)
	form := url.Values{"csrf": {smith.csrf}, "stix": {paste}, "policy": {"GBR"}, "level": {"SECRET"}, "relto": {"USA", "GBR"}}
	code, _, preview := smith.do(t, "POST", "/console/publish/preview", form)
	m := consoleDigest.FindStringSubmatch(preview)
	if code != 200 || m == nil || !strings.Contains(preview, `<tr data-partner="USA">`) {
		t.Fatalf("preview = %d\n%s", code, preview)
	}
	form.Set("digest", m[1])
	form.Set("csrf", smith.csrf)
	if code, _, body := smith.do(t, "POST", "/console/publish", form); code != 200 || !strings.Contains(body, "1 added") {
		t.Fatalf("publish = %d\n%s", code, body)
	}
	out, errs, code := run(t, "", "release", "show", "--dir", u.dir, published)
	if code != 0 || !strings.Contains(out, "USA") || !strings.Contains(out, "ALLOW") || !strings.Contains(out, "AUS") {
		t.Errorf("release show %s after publishing = %d\n%s%s", published, code, out, errs)
	}
	out, _, _ = run(t, "", "explain", "--dir", u.dir, published, "--to", "USA")
	if !strings.Contains(out, "GBR SECRET//REL TO USA, GBR") || !strings.Contains(out, "ALLOW") {
		t.Errorf("explain %s --to USA =\n%s", published, out)
	}
	if code, _, _ := clients["k.low"].do(t, "GET", "/console/objects/default/"+published, nil); code != 404 {
		t.Errorf("k.low sees the SECRET publication: %d", code)
	}

	// The publication is in the audit log under the user's name, and its
	// entry's proof verifies against a checkpoint the node signed.
	if _, errs, code := run(t, "", "audit", "checkpoint", "--dir", u.dir); code != 0 {
		t.Fatal(errs)
	}
	_, _, audit := smith.do(t, "GET", "/console/audit?actor=j.smith", nil)
	e := consoleEntry.FindStringSubmatch(audit)
	if e == nil || !strings.Contains(audit, published) {
		t.Fatalf("audit log by j.smith does not list the publication:\n%s", audit)
	}
	if _, _, entry := smith.do(t, "GET", "/console/audit/"+e[1], nil); !strings.Contains(entry, "Verified on the node.") || !strings.Contains(entry, `id="proof"`) {
		t.Errorf("audit entry %s:\n%s", e[1], entry)
	}
	if _, _, low := clients["k.low"].do(t, "GET", "/console/audit?actor=j.smith", nil); strings.Contains(low, published) {
		t.Error("k.low sees the audit entry of a SECRET publication")
	}
}
