package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline/node"
)

// usersNode is a GBR node with the Five Eyes agreement, three labelled
// objects and three users with different entitlements, serving its users'
// TAXII on 127.0.0.1.
type usersNode struct {
	dir    string
	base   string
	client *http.Client
	tokens map[string]string
	stop   func()
}

const (
	objSecret    = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b" // GBR SECRET//REL TO USA, GBR, FVEY
	objOfficial  = "indicator--1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" // GBR OFFICIAL
	objTopSecret = "indicator--9f8e7d6c-5b4a-4392-8187-6f5e4d3c2b1a" // GBR TOP SECRET//REL TO USA, GBR
	objRelIDO    = "indicator--3c4d5e6f-7081-4a92-8b3c-4d5e6f708192" // GBR SECRET//REL TO USA, GBR//RELIDO: needs a person
	objNowhere   = "indicator--00000000-0000-4000-8000-000000000000" // does not exist
)

func newUsersNode(t *testing.T) *usersNode {
	t.Helper()
	dir := initNode(t)
	if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, filepath.Join("../../policy/examples", "fvey.yaml")); code != 0 {
		t.Fatalf("agreement add: %s", errs)
	}
	input := labelledIndicator(t, objSecret, "GBR SECRET//REL TO USA, GBR, FVEY") +
		labelledIndicator(t, objOfficial, "GBR OFFICIAL") +
		labelledIndicator(t, objTopSecret, "GBR TOP SECRET//REL TO USA, GBR") +
		labelledIndicator(t, objRelIDO, "GBR SECRET//REL TO USA, GBR//RELIDO")
	if out, errs, code := run(t, input, "import", "--dir", dir, "-"); code != 0 {
		t.Fatalf("import: exit %d %s %s", code, out, errs)
	}
	users := [][]string{
		{"j.smith", "--nationality", "GBR", "--clearance", "GBR:SECRET", "--role", "analyst"},
		{"k.low", "--nationality", "GBR", "--clearance", "GBR:OFFICIAL"},
		{"c.martin", "--nationality", "FRA", "--clearance", "FRA:SECRET", "--organisation", "FRA liaison"},
	}
	u := &usersNode{dir: dir, tokens: map[string]string{}}
	for _, args := range users {
		if out, errs, code := run(t, "", append([]string{"user", "add", "--dir", dir}, args...)...); code != 0 {
			t.Fatalf("user add %v: exit %d %s %s", args, code, out, errs)
		}
		if _, errs, code := run(t, "", "collection", "grant", "--dir", dir, args[0], "default", "--read"); code != 0 {
			t.Fatalf("collection grant %s: %s", args[0], errs)
		}
		out, errs, code := run(t, "", "user", "token", "--dir", dir, args[0])
		if code != 0 || !strings.Contains(errs, "shown once") {
			t.Fatalf("user token %s: exit %d %s", args[0], code, errs)
		}
		u.tokens[args[0]] = strings.TrimSpace(out)
	}
	u.start(t)
	return u
}

// start serves the users' TAXII as `tearline serve` does with api.listen.
func (u *usersNode) start(t *testing.T) {
	t.Helper()
	n, err := node.Load(u.dir)
	if err != nil {
		t.Fatal(err)
	}
	s, err := openStore(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	srv, err := newUserServer(n, s, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveUsers(ctx, srv, ln) }()
	u.stop = func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("users' server: %v", err)
		}
		s.Close()
	}
	t.Cleanup(func() {
		if u.stop != nil {
			u.stop()
			u.stop = nil
		}
	})
	cert, err := n.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	// Clients pin the node's certificate.
	pinned := cert.Certificate[0]
	u.client = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 || !bytes.Equal(raw[0], pinned) {
				return errors.New("not the node's certificate")
			}
			return nil
		},
	}}}
	u.base = "https://" + ln.Addr().String()
}

func (u *usersNode) restart(t *testing.T) {
	t.Helper()
	u.stop()
	u.stop = nil
	u.start(t)
}

func (u *usersNode) do(t *testing.T, method, path, user, body string, auth ...string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, u.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/taxii+json;version=2.1")
	if body != "" {
		req.Header.Set("Content-Type", "application/taxii+json;version=2.1")
	}
	switch {
	case len(auth) > 0:
		req.Header.Set("Authorization", auth[0])
	case user != "":
		req.Header.Set("Authorization", "Bearer "+u.tokens[user])
	}
	resp, err := u.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func (u *usersNode) collectionPath(t *testing.T, user string) string {
	t.Helper()
	code, _, body := u.do(t, "GET", "/tearline/collections/", user, "")
	if code != 200 {
		t.Fatalf("GET collections as %s = %d %s", user, code, body)
	}
	var cs struct {
		Collections []struct{ ID, Title string }
	}
	if err := json.Unmarshal([]byte(body), &cs); err != nil || len(cs.Collections) != 1 {
		t.Fatalf("collections as %s = %s (%v); want the default collection only", user, body, err)
	}
	return "/tearline/collections/" + cs.Collections[0].ID + "/"
}

func ids(t *testing.T, body string) []string {
	t.Helper()
	var env struct {
		Objects []struct {
			ID   string `json:"id"`
			Type string `json:"type"`
		} `json:"objects"`
	}
	if err := json.Unmarshal([]byte(body), &env); err != nil {
		t.Fatalf("envelope %s: %v", body, err)
	}
	var out []string
	for _, o := range env.Objects {
		if o.Type == "indicator" {
			out = append(out, o.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestUsersSeeWhatTheirClearanceAllows: three users with different
// entitlements read the same collection over TAXII with API tokens; each
// sees exactly the objects the release engine allows them, and an object a
// user may not see answers exactly like one that does not exist.
func TestUsersSeeWhatTheirClearanceAllows(t *testing.T) {
	u := newUsersNode(t)
	path := u.collectionPath(t, "j.smith")
	want := map[string][]string{
		"j.smith":  {objOfficial, objSecret}, // GBR SECRET: not TOP SECRET
		"k.low":    {objOfficial},            // GBR OFFICIAL only
		"c.martin": nil,                      // FRA liaison: no agreement covers FRA, and REL TO excludes it
	}
	slices.Sort(want["j.smith"])
	for user, w := range want {
		code, hdr, body := u.do(t, "GET", path+"objects/", user, "")
		if code != 200 {
			t.Fatalf("GET objects as %s = %d %s", user, code, body)
		}
		if got := ids(t, body); !slices.Equal(got, w) {
			t.Errorf("GET objects as %s = %v; want %v", user, got, w)
		}
		// The manifest and versions say the same, and a hidden object is a
		// 404 exactly like one that never existed.
		_, _, manifest := u.do(t, "GET", path+"manifest/", user, "")
		for _, id := range []string{objSecret, objOfficial, objTopSecret, objRelIDO} {
			if strings.Contains(manifest, id) != slices.Contains(w, id) {
				t.Errorf("manifest as %s: %s listed %v; want %v", user, id, strings.Contains(manifest, id), slices.Contains(w, id))
			}
			code, _, b := u.do(t, "GET", path+"objects/"+id+"/", user, "")
			if slices.Contains(w, id) != (code == 200) {
				t.Errorf("GET %s as %s = %d", id, user, code)
			}
			if code == 404 {
				_, _, missing := u.do(t, "GET", path+"objects/"+objNowhere+"/", user, "")
				if strings.ReplaceAll(b, id, "") != strings.ReplaceAll(missing, objNowhere, "") {
					t.Errorf("GET hidden %s as %s = %s; a missing object gives %s", id, user, b, missing)
				}
			}
		}
		if h := hdr.Get("X-TAXII-Date-Added-First"); len(w) == 0 && h != "" {
			t.Errorf("GET objects as %s with nothing visible has X-TAXII-Date-Added-First %q", user, h)
		}
	}

	// Credentials.
	if code, hdr, _ := u.do(t, "GET", path+"objects/", "", ""); code != 401 || !strings.Contains(hdr.Get("WWW-Authenticate"), "Bearer") {
		t.Errorf("GET without credentials = %d (WWW-Authenticate %q); want 401 with a challenge", code, hdr.Get("WWW-Authenticate"))
	}
	if code, _, _ := u.do(t, "GET", path+"objects/", "", "", "Bearer tl_AAAAAAAAAAAAAAAA_"+strings.Repeat("A", 43)); code != 401 {
		t.Errorf("GET with a forged token = %d; want 401", code)
	}
	basic := "Basic " + base64Std("k.low:"+u.tokens["k.low"])
	if code, _, body := u.do(t, "GET", path+"objects/", "", "", basic); code != 200 || !slices.Equal(ids(t, body), []string{objOfficial}) {
		t.Errorf("GET with HTTP Basic as k.low = %d %v", code, body)
	}
	if code, _, _ := u.do(t, "GET", path+"objects/", "", "", "Basic "+base64Std("j.smith:"+u.tokens["k.low"])); code != 401 {
		t.Errorf("GET with k.low's token under j.smith's name = %d; want 401", code)
	}

	// can_read / can_write per principal and collection.
	lines := strings.Split(strings.TrimSpace(labelledIndicator(t, "indicator--2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182", "GBR OFFICIAL")), "\n")
	post := `{"objects":[` + lines[len(lines)-1] + `]}`
	if code, _, body := u.do(t, "POST", path+"objects/", "j.smith", post); code != 403 {
		t.Errorf("POST without a write grant = %d %s; want 403", code, body)
	}
	if _, errs, code := run(t, "", "collection", "grant", "--dir", u.dir, "j.smith", "default", "--read", "--write"); code != 0 {
		t.Fatal(errs)
	}
	code, _, body := u.do(t, "POST", path+"objects/", "j.smith", post)
	if code != 202 {
		t.Fatalf("POST with a write grant = %d %s", code, body)
	}
	var st struct {
		ID           string `json:"id"`
		SuccessCount int    `json:"success_count"`
	}
	if err := json.Unmarshal([]byte(body), &st); err != nil || st.SuccessCount != 1 {
		t.Fatalf("POST status %s (%v)", body, err)
	}
	if _, errs, code := run(t, "", "collection", "grant", "--dir", u.dir, "k.low", "default"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, _ := u.do(t, "GET", path+"objects/", "k.low", ""); code != 404 {
		t.Errorf("GET a collection no longer granted = %d; want 404 (as if it did not exist)", code)
	}

	// A deletion by a writer is recorded at once.
	if code, _, body := u.do(t, "DELETE", path+"objects/indicator--2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182/", "j.smith", ""); code != 200 {
		t.Errorf("DELETE by a writer = %d %s", code, body)
	}
	out, _, _ := run(t, "", "audit", "log", "--dir", u.dir, "--kind", "object-deleted")
	if !strings.Contains(out, "user j.smith") || !strings.Contains(out, "indicator--2b3c4d5e-6f70-4a81-9b2c-3d4e5f607182@") {
		t.Errorf("audit log --kind object-deleted =\n%s\nwant j.smith's deletion", out)
	}

	// Statuses survive a restart; a disabled user's tokens stop at once.
	// Stopping the server writes the reads it answered to the audit log.
	u.restart(t)
	out, _, _ = run(t, "", "audit", "log", "--dir", u.dir, "--kind", "object-viewed", "--object", objOfficial)
	for _, who := range []string{"user j.smith", "user k.low"} {
		if !strings.Contains(out, who) {
			t.Errorf("audit log of reads of %s =\n%s\nwant %s's reads", objOfficial, out, who)
		}
	}
	if strings.Contains(out, "user c.martin") {
		t.Errorf("audit log records a read by c.martin, who was shown nothing:\n%s", out)
	}
	if code, _, body := u.do(t, "GET", "/tearline/status/"+st.ID+"/", "j.smith", ""); code != 200 || !strings.Contains(body, `"success_count":1`) {
		t.Errorf("GET status after a restart = %d %s; want the stored status", code, body)
	}
	if code, _, _ := u.do(t, "GET", "/tearline/status/"+st.ID+"/", "c.martin", ""); code != 404 {
		t.Errorf("GET someone else's status = %d; want 404", code)
	}
	if _, errs, code := run(t, "", "user", "disable", "--dir", u.dir, "j.smith"); code != 0 {
		t.Fatal(errs)
	}
	if code, _, _ := u.do(t, "GET", path+"objects/", "j.smith", ""); code != 401 {
		t.Errorf("GET as a disabled user = %d; want 401", code)
	}
	out, _, _ = run(t, "", "user", "list", "--dir", u.dir)
	if !strings.Contains(out, "disabled") || !strings.Contains(out, "GBR SECRET") {
		t.Errorf("user list =\n%s", out)
	}
	out, _, _ = run(t, "", "audit", "log", "--dir", u.dir, "--kind", "access-changed")
	if strings.Count(out, "access-changed") < 9 {
		t.Errorf("audit log --kind access-changed =\n%s\nwant every user, token and grant change", out)
	}
}

func base64Std(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestUserAddRefusesBadInput(t *testing.T) {
	dir := initNode(t)
	for _, args := range [][]string{
		{"J Smith", "--nationality", "GBR"},
		{"j.smith", "--nationality", "XXX"},
		{"j.smith", "--nationality", "GBR", "--clearance", "GBR:SUPER"},
		{"j.smith", "--nationality", "GBR", "--role", "king"},
		{"j.smith"},
	} {
		if _, errs, code := run(t, "", append([]string{"user", "add", "--dir", dir}, args...)...); code != 2 || errs == "" {
			t.Errorf("user add %v: exit %d %q; want a usage error", args, code, errs)
		}
	}
	if _, errs, code := run(t, "", "user", "token", "--dir", dir, "nobody"); code == 0 {
		t.Errorf("user token for an unknown user succeeded: %s", errs)
	}
}

// TestCollectionLabel: a collection's default label labels imported
// objects that carry no markings; a bad banner is refused naming the rule.
func TestCollectionLabel(t *testing.T) {
	dir := initNode(t)
	if _, errs, code := run(t, "", "collection", "label", "--dir", dir, "default", "SECRET//REL TO USA//NOFORN"); code != 2 || !strings.Contains(errs, "relto-with-noforn") {
		t.Errorf("collection label with a conflicting banner: exit %d %s", code, errs)
	}
	if out, errs, code := run(t, "", "collection", "label", "--dir", dir, "default", "gbr official"); code != 0 || !strings.Contains(out, "GBR OFFICIAL") {
		t.Fatalf("collection label: exit %d %s %s", code, out, errs)
	}
	if out, _, _ := run(t, "", "collection", "label", "--dir", dir, "default"); !strings.Contains(out, "default: GBR OFFICIAL") {
		t.Errorf("collection label (show) = %q", out)
	}
	const id = "indicator--4d5e6f70-8192-4a3b-8c4d-5e6f70819203"
	obj := `{"type":"indicator","spec_version":"2.1","id":"` + id + `","created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '203.0.113.7']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z"}`
	if out, errs, code := run(t, obj+"\n", "import", "--dir", dir, "-"); code != 0 {
		t.Fatalf("import: exit %d %s %s", code, out, errs)
	}
	out, errs, code := run(t, "", "explain", "--dir", dir, id, "--to", "GBR", "--user", "j.smith", "--clearance", "GBR:OFFICIAL")
	if code != 0 || !strings.Contains(out, "label      GBR OFFICIAL") || !strings.Contains(out, ": ALLOW") {
		t.Errorf("explain after importing into a labelled collection: exit %d\n%s%s", code, out, errs)
	}
	if out, _, _ := run(t, "", "collection", "label", "--dir", dir, "default", "--clear"); !strings.Contains(out, "removed") {
		t.Errorf("collection label --clear = %q", out)
	}
}
