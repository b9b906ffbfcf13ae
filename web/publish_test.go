package web

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

const (
	newA = "indicator--5d6e7f80-9a1b-4c2d-8e3f-4a5b6c7d8e9f"
	newB = "indicator--7e8f9a0b-1c2d-4e3f-9a4b-5c6d7e8f9a0b"
)

var (
	digestField = regexp.MustCompile(`name="digest" value="([^"]+)"`)
	rowOf       = regexp.MustCompile(`(?s)<tr data-partner="([A-Z]+)">(.*?)</tr>`)
)

// rows returns, per partner, the text of its row in the table with id.
func rows(t *testing.T, body, id string) map[string]string {
	t.Helper()
	start := strings.Index(body, `id="`+id+`"`)
	if start < 0 {
		return nil
	}
	end := strings.Index(body[start:], "</table>")
	out := map[string]string{}
	for _, m := range rowOf.FindAllStringSubmatch(body[start:start+end], -1) {
		out[m[1]] = m[2]
	}
	return out
}

// TestPublishWithPreview: the preview lists who receives the paste and who
// does not, with the reasons, before anything is stored; publishing what
// was previewed stores it under the label, with its release set and an
// audit entry naming the user.
func TestPublishWithPreview(t *testing.T) {
	n := newTestNode(t)
	c := n.client(t)
	c.signIn("j.smith")
	paste := `{"type":"bundle","id":"bundle--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","objects":[` + unlabelled(newA, "Relay domain") + "," + unlabelled(newB, "Relay backup domain") + `]}`
	form := url.Values{"stix": {paste}, "collection": {n.coll.ID}, "policy": {"GBR"}, "level": {"SECRET"}, "relto": {"USA", "GBR"}}
	r := c.post("/console/publish/preview", form)
	if r.status != 200 || !strings.Contains(r.body, "Release preview") {
		t.Fatalf("preview = %d\n%s", r.status, r.body)
	}
	if !strings.Contains(r.body, "GBR SECRET//REL TO USA, GBR") {
		t.Errorf("preview does not show the banner")
	}
	receive, withheld := rows(t, r.body, "receive"), rows(t, r.body, "withheld")
	if len(receive) != 1 || !strings.Contains(receive["USA"], "ALLOW") || !strings.Contains(receive["USA"], "fvey-intel@3") {
		t.Errorf("receive = %v; want USA alone, allowed under fvey-intel@3", receive)
	}
	for _, p := range []string{"AUS", "CAN", "NZL"} {
		if !strings.Contains(withheld[p], "DENY") || !strings.Contains(withheld[p], "<code>rel-to</code>") {
			t.Errorf("withheld[%s] = %q; want a denial for REL TO", p, withheld[p])
		}
	}
	if strings.Contains(r.body, `id="self-warning"`) {
		t.Error("j.smith is cleared GBR SECRET, but is warned they will not see it")
	}
	m := digestField.FindStringSubmatch(r.body)
	if m == nil {
		t.Fatal("the preview offers no publication")
	}
	if page, _ := n.store.Objects(context.Background(), tearline.ObjectQuery{Collection: n.coll.ID, IDs: []string{newA}}); len(page.Objects) != 0 {
		t.Fatal("the preview stored the object")
	}

	// What was not previewed is not published.
	for name, change := range map[string]func(url.Values){
		"no digest":        func(v url.Values) { v.Del("digest") },
		"another label":    func(v url.Values) { v["relto"] = []string{"USA", "GBR", "FVEY"} },
		"another paste":    func(v url.Values) { v.Set("stix", unlabelled(newA, "Relay domain")) },
		"a forged digest":  func(v url.Values) { v.Set("digest", strings.Repeat("A", 43)) },
		"another level":    func(v url.Values) { v.Set("level", "OFFICIAL") },
		"with REL TO gone": func(v url.Values) { v.Del("relto") },
	} {
		v := url.Values{"digest": {m[1]}}
		for k, vs := range form {
			v[k] = vs
		}
		change(v)
		if r := c.post("/console/publish", v); r.status != 409 || !strings.Contains(r.body, "preview again") {
			t.Errorf("publish with %s = %d; want 409 asking for a preview", name, r.status)
		}
	}
	if page, _ := n.store.Objects(context.Background(), tearline.ObjectQuery{Collection: n.coll.ID, IDs: []string{newA}}); len(page.Objects) != 0 {
		t.Fatal("a publication that was not previewed was stored")
	}

	form.Set("digest", m[1])
	r = c.post("/console/publish", form)
	if r.status != 200 || !strings.Contains(r.body, "2 added") {
		t.Fatalf("publish = %d\n%s", r.status, r.body)
	}
	page := c.get("/console/objects/default/" + newA)
	if page.status != 200 || !strings.Contains(page.body, "GBR SECRET//REL TO USA, GBR") {
		t.Fatalf("published object page = %d\n%s", page.status, page.body)
	}
	stored := rows(t, page.body, "stored")
	if !strings.Contains(stored["USA"], "ALLOW") || !strings.Contains(stored["AUS"], "DENY") {
		t.Errorf("stored release set = %v; want USA allowed and AUS denied", stored)
	}
	low := n.client(t)
	low.signIn("k.low")
	if r := low.get("/console/objects/default/" + newA); r.status != 404 {
		t.Errorf("k.low (OFFICIAL) sees the SECRET publication: %d", r.status)
	}
	audit := c.get("/console/audit?actor=j.smith")
	if !strings.Contains(audit.body, newA) || !strings.Contains(audit.body, "via = console") {
		t.Errorf("the audit log does not record j.smith publishing %s:\n%s", newA, audit.body)
	}
}

// TestPublishRefusals: the label picker's rules are checked on the node
// and named; pastes that cannot be labelled as previewed are refused;
// users without a write grant cannot publish.
func TestPublishRefusals(t *testing.T) {
	n := newTestNode(t)
	c := n.client(t)
	c.signIn("j.smith")
	paste := unlabelled(newA, "Relay domain")
	for _, tc := range []struct {
		name  string
		form  url.Values
		words []string
	}{
		{"REL TO with NOFORN", url.Values{"policy": {"GBR"}, "level": {"SECRET"}, "relto": {"USA"}, "noforn": {"on"}}, []string{"relto-with-noforn", "keep NOFORN"}},
		{"DISPLAY ONLY with RELIDO", url.Values{"policy": {"GBR"}, "level": {"SECRET"}, "display": {"FVEY"}, "relido": {"on"}}, []string{"display-only-with-relido"}},
		{"a level of another policy", url.Values{"policy": {"GBR"}, "level": {"NATO SECRET"}}, []string{"unknown-classification"}},
		{"a level alone", url.Values{"level": {"SECRET"}}, []string{"missing-policy"}},
		{"an unknown code", url.Values{"policy": {"GBR"}, "level": {"SECRET"}, "relto": {"XYZ"}}, []string{"invalid-code"}},
		{"an unknown colour", url.Values{"tlp": {"PURPLE"}}, []string{"unknown-tlp"}},
		{"nothing", url.Values{}, []string{"empty-label"}},
		{"ORCON on unclassified", url.Values{"policy": {"USA"}, "level": {"UNCLASSIFIED"}, "orcon": {"on"}}, []string{"orcon-on-unclassified"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.form.Set("stix", paste)
			r := c.post("/console/publish/preview", tc.form)
			if r.status != 422 || !strings.Contains(r.body, `id="label-error"`) || strings.Contains(r.body, `name="digest"`) {
				t.Errorf("preview with %s = %d; want 422, the label refused, no publication offered", tc.name, r.status)
			}
			for _, w := range tc.words {
				if !strings.Contains(html.UnescapeString(r.body), w) {
					t.Errorf("preview with %s does not say %q", tc.name, w)
				}
			}
			frag := c.post("/console/publish/label", tc.form)
			var got map[string]string
			if err := json.Unmarshal([]byte(frag.body), &got); err != nil || got["rule"] != tc.words[0] {
				t.Errorf("label check with %s = %s (%v); want rule %s", tc.name, frag.body, err, tc.words[0])
			}
		})
	}
	frag := c.post("/console/publish/label", url.Values{"policy": {"GBR"}, "level": {"SECRET"}, "relto": {"GBR", "USA", "FVEY"}, "tlp": {"AMBER"}})
	if !strings.Contains(frag.body, `"banner":"GBR SECRET//REL TO USA, GBR, FVEY//TLP:AMBER"`) {
		t.Errorf("label check of a good label = %s", frag.body)
	}

	label := url.Values{"policy": {"GBR"}, "level": {"OFFICIAL"}}
	for name, tc := range map[string]struct{ paste, words string }{
		"own markings":       {strings.Replace(paste, `"name"`, `"object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"],"name"`, 1), "carries markings of its own"},
		"marking definition": {`{"type":"marking-definition","spec_version":"2.1","id":"marking-definition--1b2c3d4e-5f60-4a71-8b92-a3b4c5d6e7f8","created":"2026-01-01T00:00:00.000Z","definition_type":"statement","definition":{"statement":"Copyright GBR"}}`, "marking definitions are made from the label"},
		"invalid STIX":       {`{"type":"indicator","id":"indicator--x"}`, "object 0"},
		"not JSON":           {`{"type":`, "input at byte"},
		"empty":              {"   ", "Paste at least one"},
	} {
		v := url.Values{"stix": {tc.paste}}
		for k, vs := range label {
			v[k] = vs
		}
		r := c.post("/console/publish/preview", v)
		if r.status != 422 || !strings.Contains(html.UnescapeString(r.body), tc.words) || strings.Contains(r.body, `name="digest"`) {
			t.Errorf("preview of a paste with %s = %d; want 422 saying %q\n%s", name, r.status, tc.words, r.body)
		}
	}

	// A label above the user's own clearance is allowed, with a warning.
	r := c.post("/console/publish/preview", url.Values{"stix": {paste}, "policy": {"GBR"}, "level": {"TOP SECRET"}})
	if r.status != 200 || !strings.Contains(r.body, `id="self-warning"`) {
		t.Errorf("preview of TOP SECRET by a SECRET user = %d; want a warning that they will not see it", r.status)
	}

	low := n.client(t)
	low.signIn("k.low")
	if r := low.post("/console/publish/preview", url.Values{"stix": {paste}, "policy": {"GBR"}, "level": {"OFFICIAL"}}); !strings.Contains(r.body, "You may write to no collection") || strings.Contains(r.body, "Release preview") {
		t.Errorf("preview by a user without a write grant = %d\n%s", r.status, r.body)
	}
	if r := c.post("/console/publish/preview", url.Values{"stix": {paste}, "policy": {"GBR"}, "level": {"OFFICIAL"}, "collection": {"elsewhere"}}); r.status != 400 {
		t.Errorf("preview into a collection not granted = %d; want 400", r.status)
	}
}

var dataAttr = regexp.MustCompile(`data-(entry|index|size|root|path)="([^"]*)"`)

// TestAuditProof: an entry's page carries an inclusion proof against the
// newest signed checkpoint that verifies (checked here with the ledger's
// own verifier), and says so when the entry is newer than the checkpoint.
func TestAuditProof(t *testing.T) {
	n := newTestNode(t)
	c := n.client(t)
	c.signIn("j.smith")
	index := firstEntry(t, n, objOfficial)
	r := c.get("/console/audit/" + index)
	if r.status != 200 || !strings.Contains(r.body, "Verified on the node.") {
		t.Fatalf("audit entry %s = %d\n%s", index, r.status, r.body)
	}
	attrs := map[string]string{}
	for _, m := range dataAttr.FindAllStringSubmatch(r.body, -1) {
		attrs[m[1]] = html.UnescapeString(m[2])
	}
	entry, err1 := base64.StdEncoding.DecodeString(attrs["entry"])
	idx, err2 := strconv.ParseUint(attrs["index"], 10, 64)
	size, err3 := strconv.ParseUint(attrs["size"], 10, 64)
	rootBytes, err4 := hex.DecodeString(attrs["root"])
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil || len(rootBytes) != 32 || attrs["index"] != index {
		t.Fatalf("proof attributes %v: %v %v %v %v", attrs, err1, err2, err3, err4)
	}
	var path [][]byte
	for _, h := range strings.Fields(attrs["path"]) {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		path = append(path, b)
	}
	root := [32]byte(rootBytes)
	if err := ledger.VerifyInclusion(entry, idx, size, root, path); err != nil {
		t.Errorf("the page's proof does not verify: %v", err)
	}
	cp, _, err := n.cfg.Audit.NewestCheckpoint(context.Background())
	if err != nil || cp.Root != root || cp.Size != size {
		t.Errorf("the proof is against size %d root %x; the newest checkpoint is %d %x (%v)", size, root, cp.Size, cp.Root, err)
	}
	ev, err := ledger.DecodeEvent(entry)
	if err != nil || !strings.Contains(strings.Join(ev.Subjects, " "), objOfficial) {
		t.Errorf("the proof's entry is %+v (%v); want the one naming %s", ev, err, objOfficial)
	}

	// A newer entry waits for the next checkpoint.
	if _, err := n.log.Append(context.Background(), ledger.Event{Kind: ledger.KindAccessChanged, Time: time.Now().UTC(), Actor: "test", Subjects: []string{"j.smith"}}); err != nil {
		t.Fatal(err)
	}
	newest := strconv.FormatUint(size, 10)
	if r := c.get("/console/audit/" + newest); r.status != 200 || !strings.Contains(r.body, "newer than the newest checkpoint") || strings.Contains(r.body, `id="proof"`) {
		t.Errorf("entry %s after the checkpoint = %d; want it said to wait for the next checkpoint", newest, r.status)
	}
	n.checkpoint(t)
	if r := c.get("/console/audit/" + newest); !strings.Contains(r.body, "Verified on the node.") {
		t.Errorf("entry %s after a new checkpoint is not verified", newest)
	}
	for _, bad := range []string{"-1", "01", "1e3", "18446744073709551616", "x"} {
		if r := c.get("/console/audit/" + bad); r.status != 404 {
			t.Errorf("GET /console/audit/%s = %d; want 404", bad, r.status)
		}
	}
}
