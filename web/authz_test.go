package web

import (
	"context"
	"errors"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// visibleTo is what each test user may see: the release engine's answer
// for their clearance and nationality.
var visibleTo = map[string][]string{
	"j.smith":  {objSecret, objOfficial}, // GBR SECRET: not TOP SECRET
	"k.low":    {objOfficial},            // GBR OFFICIAL only
	"c.martin": nil,                      // FRA liaison: no agreement covers FRA, REL TO excludes it
}

// TestUsersSeeOnlyWhatTheyMay: a user without the clearance cannot see an
// object through any page, search result, count, fragment, download or
// audit entry; a hidden object answers exactly like a missing one.
func TestUsersSeeOnlyWhatTheyMay(t *testing.T) {
	n := newTestNode(t)
	all := []string{objSecret, objOfficial, objTopSecret}
	for user, want := range visibleTo {
		t.Run(user, func(t *testing.T) {
			c := n.client(t)
			c.signIn(user)
			pages := map[string]response{}
			for _, q := range []string{"", "?q=relay", "?label=SECRET", "?type=indicator", "?label=REL+TO+USA", "?q=indicator--",
				"?from=2000-01-01&until=2999-12-31", "?collection=default"} {
				pages["objects"+q] = c.get("/console/objects" + q)
			}
			for _, q := range []string{"", "?kind=object-ingested", "?object=" + objSecret, "?object=" + objTopSecret, "?actor=store"} {
				pages["audit"+q] = c.get("/console/audit" + q)
			}
			for _, p := range []string{"/console/publish", "/console/agreements", "/console/partners"} {
				pages[p] = c.get(p)
			}
			pages["label fragment"] = c.post("/console/publish/label", url.Values{"policy": {"GBR"}, "level": {"SECRET"}})
			missing := c.get("/console/objects/default/" + objNowhere)
			missingJSON := c.get("/console/objects/default/" + objNowhere + "/json")
			size, _ := n.log.Size(context.Background())
			missingEntry := c.get(fmt.Sprintf("/console/audit/%d", size+5))
			if missing.status != 404 || missingJSON.status != 404 || missingEntry.status != 404 {
				t.Fatalf("missing object, download, entry = %d, %d, %d; want 404", missing.status, missingJSON.status, missingEntry.status)
			}
			for _, id := range all {
				may := slices.Contains(want, id)
				page := c.get("/console/objects/default/" + id)
				download := c.get("/console/objects/default/" + id + "/json")
				entry := c.get("/console/audit/" + firstEntry(t, n, id))
				if may {
					if page.status != 200 || !strings.Contains(page.body, objNames[id]) || download.status != 200 || !strings.Contains(download.body, id) || entry.status != 200 {
						t.Errorf("%s may see %s: page %d, download %d, audit entry %d; want 200 each with the object", user, id, page.status, download.status, entry.status)
					}
				} else {
					if page.status != 404 || page.body != missing.body {
						t.Errorf("%s may not see %s: page = %d, and differs from a missing object's:\n%s", user, id, page.status, page.body)
					}
					if download.status != 404 || download.body != missingJSON.body {
						t.Errorf("%s may not see %s: download = %d %q", user, id, download.status, download.body)
					}
					if entry.status != 404 || entry.body != missingEntry.body {
						t.Errorf("%s may not see %s: its audit entry = %d, and differs from a missing entry's", user, id, entry.status)
					}
				}
				for name, r := range pages {
					if r.status != 200 {
						t.Errorf("%s: GET %s = %d", user, name, r.status)
					}
					if strings.Contains(name, id) {
						// The search form shows the id the user typed; no entry may follow.
						if !may && !strings.Contains(r.body, `id="no-entries"`) {
							t.Errorf("%s may not see %s, but %s lists entries", user, id, name)
						}
						continue
					}
					shown := strings.Contains(r.body, id) || strings.Contains(r.body, objNames[id])
					if shown && !may {
						t.Errorf("%s may not see %s, but %s shows it", user, id, name)
					}
				}
				if shown := strings.Contains(pages["objects"].body, id); shown != may {
					t.Errorf("%s: the object list shows %s: %v; want %v", user, id, shown, may)
				}
			}
			count := fmt.Sprintf("%d object", len(want))
			if !strings.Contains(pages["objects"].body, count) {
				t.Errorf("%s: the object list does not say %q", user, count)
			}
			// The search finds what it should among what the user may see.
			relay := 0
			if slices.Contains(want, objSecret) {
				relay = 1 // the TOP SECRET source report also matches "relay", unseen
			}
			if got := strings.Count(pages["objects?q=relay"].body, `class="portion"`); got != relay {
				t.Errorf("%s: search q=relay shows %d rows; want %d", user, got, relay)
			}
		})
	}
}

// TestDecisionErrorsShowNothing: when the release engine cannot decide,
// the console shows no object at all.
func TestDecisionErrorsShowNothing(t *testing.T) {
	n := newTestNode(t)
	d := n.cfg.Decider.(*testDecider)
	c := n.client(t)
	c.signIn("j.smith")
	d.fail = errors.New("decider down")
	for _, path := range []string{"/console/objects", "/console/objects/default/" + objOfficial, "/console/objects/default/" + objOfficial + "/json",
		"/console/audit", "/console/audit?object=" + objOfficial} {
		r := c.get(path)
		if r.status != http.StatusInternalServerError {
			t.Errorf("GET %s with a failing decider = %d; want 500", path, r.status)
		}
		for _, id := range []string{objOfficial, objSecret, objNames[objOfficial], "decider down"} {
			if strings.Contains(r.body, id) && !strings.Contains(path, id) {
				t.Errorf("GET %s with a failing decider shows %q", path, id)
			}
		}
	}
}

// TestGrantsOpenCollections: a user without a read grant sees no
// collection, as on the users' TAXII.
func TestGrantsOpenCollections(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	grants, err := n.store.Grants(ctx, "j.smith")
	if err != nil || len(grants) != 1 {
		t.Fatalf("grants: %v %v", grants, err)
	}
	g := grants[0]
	g.Read, g.Write = false, false
	if err := n.store.SetGrant(ctx, g); err != nil {
		t.Fatal(err)
	}
	c := n.client(t)
	c.signIn("j.smith")
	if r := c.get("/console/objects"); r.status != 200 || !strings.Contains(r.body, "You may read no collection") || strings.Contains(r.body, objOfficial) {
		t.Errorf("objects without a grant = %d\n%s", r.status, r.body)
	}
	if r := c.get("/console/objects/default/" + objOfficial); r.status != 404 {
		t.Errorf("an object of a collection not granted = %d; want 404", r.status)
	}
	if r := c.get("/console/publish"); !strings.Contains(r.body, "You may write to no collection") {
		t.Errorf("publish without a write grant does not say so:\n%s", r.body)
	}
}

var nextLink = regexp.MustCompile(`href="(/console/objects\?[^"]+)" id="next"`)

// TestSearchPages: following the next-page links lists every object the
// user may see exactly once, also when thousands of hidden versions lie
// between them and a page stops at the scan limit.
func TestSearchPages(t *testing.T) {
	n := newTestNode(t)
	ctx := context.Background()
	// 7,000 hidden TOP SECRET versions, with an OFFICIAL one after every
	// hundred of the first 2,000 and of the last 200: in between, a
	// stretch longer than the scan limit holds nothing k.low may see.
	topSecret := strings.Split(strings.TrimSpace(labelled(t, objTopSecret, "x", "GBR TOP SECRET//REL TO USA, GBR")), "\n")
	refs := topSecret[len(topSecret)-1]
	refs = refs[strings.Index(refs, `"object_marking_refs"`):]
	const total = 7000
	var input strings.Builder
	official := 0
	for i := 0; i < total; i++ {
		if i%100 == 0 && (i < 2000 || i >= total-200) {
			lines := strings.Split(strings.TrimSpace(labelled(t, fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i), fmt.Sprintf("Official %d", i), "GBR OFFICIAL")), "\n")
			input.WriteString(lines[len(lines)-1] + "\n")
			official++
		}
		fmt.Fprintf(&input, `{"type":"indicator","spec_version":"2.1","id":"indicator--11111111-0000-4000-8000-%012d","created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z","name":"Hidden %d","pattern":"[ipv4-addr:value = '203.0.113.9']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z",%s`+"\n", i, i, refs)
	}
	pub := &testPublisher{n: n}
	if err := pub.ingest(ctx, n.coll.ID, []byte(input.String()), nil); err != nil {
		t.Fatal(err)
	}
	c := n.client(t)
	c.signIn("k.low")
	seen := map[string]int{}
	limited := false
	query := ""
	for pages := 0; ; pages++ {
		if pages > 20 {
			t.Fatal("more than 20 pages")
		}
		r := c.get("/console/objects" + query)
		if r.status != 200 {
			t.Fatalf("GET /console/objects%s = %d", query, r.status)
		}
		if strings.Contains(r.body, "Hidden ") {
			t.Fatal("a hidden object is listed")
		}
		for _, m := range regexp.MustCompile(`>(Official \d+|`+objNames[objOfficial]+`)</a>`).FindAllStringSubmatch(r.body, -1) {
			seen[m[1]]++
		}
		limited = limited || strings.Contains(r.body, "the search stopped after examining")
		m := nextLink.FindStringSubmatch(r.body)
		if m == nil {
			break
		}
		query = strings.TrimPrefix(html.UnescapeString(m[1]), "/console/objects")
	}
	want := official + 1
	if len(seen) != want {
		t.Errorf("paging listed %d distinct objects; want %d", len(seen), want)
	}
	for name, k := range seen {
		if k != 1 {
			t.Errorf("%s listed %d times", name, k)
		}
	}
	if !limited {
		t.Error("no page said the search stopped at the scan limit")
	}
}
