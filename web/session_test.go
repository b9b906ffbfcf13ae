package web

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

func findCookie(t *testing.T, h http.Header, name string) *http.Cookie {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		c, err := http.ParseSetCookie(line)
		if err != nil {
			t.Fatalf("Set-Cookie %q: %v", line, err)
		}
		if c.Name == name {
			c.Raw = line
			return c
		}
	}
	t.Fatalf("no Set-Cookie %s in %q", name, h.Values("Set-Cookie"))
	return nil
}

// TestSessionCookie: the session cookie is random, HttpOnly, Secure,
// SameSite=Strict, host-only, and ends with the session.
func TestSessionCookie(t *testing.T) {
	n := newTestNode(t)
	a, b := n.client(t), n.client(t)
	ra, rb := a.signIn("j.smith"), b.signIn("j.smith")
	ca, cb := findCookie(t, ra.header, sessionCookie), findCookie(t, rb.header, sessionCookie)
	for _, c := range []*http.Cookie{ca, cb} {
		if !c.HttpOnly || !c.Secure || c.SameSite != http.SameSiteStrictMode || c.Path != "/" || c.Domain != "" {
			t.Errorf("session cookie %q: want HttpOnly, Secure, SameSite=Strict, Path=/ and no Domain", c.Raw)
		}
		if !strings.HasPrefix(c.Name, "__Host-") {
			t.Errorf("session cookie name %q: want the __Host- prefix", c.Name)
		}
		if len(c.Value) < 43 {
			t.Errorf("session id %q: want at least 256 random bits", c.Value)
		}
		if c.Expires.IsZero() || c.Expires.After(time.Now().Add(8*time.Hour+time.Minute)) {
			t.Errorf("session cookie expires %v; want within the 8-hour session lifetime", c.Expires)
		}
	}
	if ca.Value == cb.Value {
		t.Error("two sign-ins got the same session id")
	}
	sc := findCookie(t, a.get("/console/signin").header, signinCookie)
	if !sc.HttpOnly || !sc.Secure || sc.SameSite != http.SameSiteStrictMode {
		t.Errorf("sign-in form cookie %q: want HttpOnly, Secure, SameSite=Strict", sc.Raw)
	}

	// Signing out ends the session on the node, not only in the browser.
	if r := a.post("/console/signout", nil); r.status != http.StatusSeeOther {
		t.Fatalf("sign out = %d", r.status)
	}
	replay := n.client(t)
	replay.http.Jar.SetCookies(mustURL(t, n.ts.URL), []*http.Cookie{{Name: sessionCookie, Value: ca.Value}})
	if r := replay.get("/console/objects"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin" {
		t.Errorf("GET with a signed-out session id = %d %s; want a redirect to sign in", r.status, r.header.Get("Location"))
	}
	if r := b.get("/console/objects"); r.status != 200 {
		t.Errorf("the other session = %d after the first signed out; want 200", r.status)
	}
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// TestSessionEnds: idle sessions, revoked tokens and disabled users end at
// once.
func TestSessionEnds(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	signedOut := func(c *client, what string) {
		t.Helper()
		if r := c.get("/console/objects"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin" {
			t.Errorf("after %s: GET /console/objects = %d %s; want a redirect to sign in", what, r.status, r.header.Get("Location"))
		}
	}

	idle := n.client(t)
	idle.signIn("j.smith")
	n.clock.advance(29 * time.Minute)
	if r := idle.get("/console/objects"); r.status != 200 {
		t.Fatalf("after 29 idle minutes = %d; want 200", r.status)
	}
	n.clock.advance(31 * time.Minute)
	signedOut(idle, "31 idle minutes")

	revoked := n.client(t)
	revoked.signIn("j.smith")
	toks, err := n.store.Tokens(ctx, "j.smith")
	if err != nil || len(toks) != 1 {
		t.Fatalf("tokens of j.smith: %v %v", toks, err)
	}
	if err := n.store.RevokeToken(ctx, toks[0].ID); err != nil {
		t.Fatal(err)
	}
	signedOut(revoked, "revoking the token")

	disabled := n.client(t)
	disabled.signIn("k.low")
	u, err := n.store.User(ctx, "k.low")
	if err != nil {
		t.Fatal(err)
	}
	u.Disabled = true
	if err := n.store.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	signedOut(disabled, "disabling the user")
}

// TestSignInRefusals: wrong tokens, another user's token, a missing form
// token, and guessing.
func TestSignInRefusals(t *testing.T) {
	n := newTestNode(t)
	c := n.client(t)
	form := func() string {
		return formField.FindStringSubmatch(c.get("/console/signin").body)[1]
	}
	for _, tc := range []struct {
		name  string
		form  url.Values
		want  int
		words string
	}{
		{"another user's token", url.Values{"user": {"k.low"}, "token": {n.tokens["j.smith"]}}, 401, "do not match"},
		{"forged token", url.Values{"user": {"j.smith"}, "token": {"tl_AAAAAAAAAAAAAAAA_" + strings.Repeat("A", 43)}}, 401, "do not match"},
		{"no token", url.Values{"user": {"j.smith"}}, 401, "do not match"},
		{"no form token", url.Values{"user": {"j.smith"}, "token": {n.tokens["j.smith"]}, "form": {""}}, 403, "expired"},
		{"wrong form token", url.Values{"user": {"j.smith"}, "token": {n.tokens["j.smith"]}, "form": {"x" + form()}}, 403, "expired"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, set := tc.form["form"]; !set {
				tc.form.Set("form", form())
			} else if tc.form.Get("form") == "" {
				tc.form.Del("form")
			}
			tc.form.Set("csrf", "")
			r := c.post("/console/signin", tc.form)
			if r.status != tc.want || !strings.Contains(r.body, tc.words) {
				t.Errorf("sign in with %s = %d; want %d and %q\n%s", tc.name, r.status, tc.want, tc.words, r.body)
			}
			for _, line := range r.header.Values("Set-Cookie") {
				if strings.HasPrefix(line, sessionCookie+"=") {
					t.Errorf("refused sign-in set a session cookie: %s", line)
				}
			}
		})
	}
	// After ten failures from one address, even the right token waits.
	for i := 0; i < 10; i++ {
		c.post("/console/signin", url.Values{"form": {form()}, "user": {"j.smith"}, "token": {"wrong"}, "csrf": {""}})
	}
	r := c.post("/console/signin", url.Values{"form": {form()}, "user": {"j.smith"}, "token": {n.tokens["j.smith"]}, "csrf": {""}})
	if r.status != http.StatusTooManyRequests {
		t.Errorf("sign in after ten failures = %d; want 429", r.status)
	}
}

// TestCSRF: every state-changing request needs the session's own form
// token, and a browser's Origin must be the node.
func TestCSRF(t *testing.T) {
	n := newTestNode(t)
	c, other := n.client(t), n.client(t)
	c.signIn("j.smith")
	other.signIn("j.smith")
	good := url.Values{"stix": {unlabelled("indicator--5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f", "Relay domain")}, "policy": {"GBR"}, "level": {"OFFICIAL"}}
	with := func(csrf string) url.Values {
		v := url.Values{}
		for k, vs := range good {
			v[k] = vs
		}
		v.Set("csrf", csrf)
		return v
	}
	for _, path := range []string{"/console/publish/preview", "/console/publish", "/console/publish/label", "/console/signout"} {
		for _, tc := range []struct {
			name string
			csrf string
		}{{"no token", ""}, {"a wrong token", "AAAA" + c.csrf[4:]}, {"another session's token", other.csrf}} {
			if r := c.post(path, with(tc.csrf)); r.status != http.StatusForbidden {
				t.Errorf("POST %s with %s = %d; want 403", path, tc.name, r.status)
			}
		}
		req, _ := http.NewRequest("POST", n.ts.URL+path, strings.NewReader(with(c.csrf).Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if r := c.do(req); r.status != http.StatusForbidden {
			t.Errorf("POST %s from another origin with the right token = %d; want 403", path, r.status)
		}
	}
	if r := c.get("/console/objects"); r.status != 200 {
		t.Errorf("the session ended after refused sign-outs: %d", r.status)
	}
	if r := c.post("/console/publish/preview", with(c.csrf)); r.status != 200 || !strings.Contains(r.body, "Release preview") {
		t.Errorf("POST preview with the session's token = %d; want the preview", r.status)
	}
}

var (
	inlineScript  = regexp.MustCompile(`(?i)<script(?:\s[^>]*)?>`)
	scriptSrc     = regexp.MustCompile(`(?i)<script\s[^>]*\bsrc="/console/static/[a-z]+\.js"[^>]*>`)
	styleAttr     = regexp.MustCompile(`(?i)\sstyle\s*=`)
	eventHandler  = regexp.MustCompile(`(?i)\son[a-z]+\s*=`)
	javascriptURL = regexp.MustCompile(`(?i)javascript:`)
)

// TestSecurityHeaders: every response of the console, whatever its status,
// carries the strict Content Security Policy and the other headers; no
// page holds inline script, inline style or event handlers that the policy
// would have to allow.
func TestSecurityHeaders(t *testing.T) {
	n := newTestNode(t)
	anon, c := n.client(t), n.client(t)
	c.signIn("j.smith")
	entry := firstEntry(t, n, objOfficial)
	responses := map[string]response{
		"GET /console":                    anon.get("/console"),
		"GET /console/signin":             anon.get("/console/signin"),
		"GET /console/objects anon":       anon.get("/console/objects"),
		"GET /console/static/console.css": anon.get("/console/static/console.css"),
		"GET /console/static/console.js":  anon.get("/console/static/console.js"),
		"GET /console/static/missing":     anon.get("/console/static/missing.js"),
		"GET /console/nowhere":            c.get("/console/nowhere"),
		"GET /console/objects":            c.get("/console/objects"),
		"GET object":                      c.get("/console/objects/default/" + objOfficial),
		"GET object json":                 c.get("/console/objects/default/" + objOfficial + "/json"),
		"GET hidden object":               c.get("/console/objects/default/" + objTopSecret),
		"GET /console/publish":            c.get("/console/publish"),
		"POST preview":                    c.post("/console/publish/preview", url.Values{"stix": {unlabelled("indicator--5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f", "x")}, "policy": {"GBR"}, "level": {"OFFICIAL"}}),
		"POST label":                      c.post("/console/publish/label", url.Values{"policy": {"GBR"}, "level": {"SECRET"}}),
		"POST without csrf":               c.post("/console/publish/preview", url.Values{"csrf": {""}}),
		"GET /console/audit":              c.get("/console/audit"),
		"GET audit entry":                 c.get("/console/audit/" + entry),
		"GET bad query":                   c.get("/console/objects?from=yesterday"),
		"GET /console/agreements":         c.get("/console/agreements"),
		"GET /console/partners":           c.get("/console/partners"),
	}
	statuses := map[int]bool{}
	for name, r := range responses {
		statuses[r.status] = true
		csp := r.header.Get("Content-Security-Policy")
		if csp != contentSecurityPolicy {
			t.Errorf("%s (%d): Content-Security-Policy %q; want %q", name, r.status, csp, contentSecurityPolicy)
		}
		for _, must := range []string{"default-src 'self'", "frame-ancestors 'none'", "script-src 'self'"} {
			if !strings.Contains(csp, must) {
				t.Errorf("%s: CSP lacks %s", name, must)
			}
		}
		if strings.Contains(csp, "unsafe") {
			t.Errorf("%s: CSP allows something unsafe: %s", name, csp)
		}
		for h, want := range map[string]string{"X-Content-Type-Options": "nosniff", "X-Frame-Options": "DENY", "Referrer-Policy": "same-origin"} {
			if got := r.header.Get(h); got != want {
				t.Errorf("%s: %s = %q; want %q", name, h, got, want)
			}
		}
		if strings.HasPrefix(r.body, "<!doctype html>") {
			scripts := inlineScript.FindAllString(r.body, -1)
			for _, s := range scripts {
				if !scriptSrc.MatchString(s) {
					t.Errorf("%s: script element %q does not load a console asset", name, s)
				}
			}
			if strings.Count(r.body, "</script>") != len(scripts) || len(scripts) != 1 {
				t.Errorf("%s: %d script elements; want exactly the console's one, empty", name, len(scripts))
			}
			for _, re := range []*regexp.Regexp{styleAttr, eventHandler, javascriptURL} {
				if m := re.FindString(r.body); m != "" {
					t.Errorf("%s: page holds %q, which the CSP forbids", name, m)
				}
			}
		}
	}
	for _, st := range []int{200, 303, 400, 403, 404} {
		if !statuses[st] {
			t.Errorf("no response with status %d was checked", st)
		}
	}
}

// firstEntry returns the index of the first audit entry naming id.
func firstEntry(t *testing.T, n *testNode, id string) string {
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
		if strings.Contains(string(data), id) {
			return strconv.FormatUint(i, 10)
		}
	}
	t.Fatalf("no audit entry names %s", id)
	return ""
}
