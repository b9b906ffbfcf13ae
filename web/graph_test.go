package web

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tearline/tearline/label"
)

// markedObject returns obj with the markings of banner, preceded by their
// definitions, as JSON lines.
func markedObject(t *testing.T, obj map[string]any, banner string) []byte {
	t.Helper()
	l, err := label.Parse(banner)
	if err != nil {
		t.Fatal(err)
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		t.Fatal(err)
	}
	obj["object_marking_refs"] = refs
	obj["spec_version"] = "2.1"
	obj["created"], obj["modified"] = "2026-10-02T00:00:00.000Z", "2026-10-02T00:00:00.000Z"
	body, err := json.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	return append(append(bytes.Join(defs, []byte("\n")), '\n'), body...)
}

// The graph's objects around objSecret.
const (
	relVisible   = "relationship--aaaaaaaa-0000-4000-8000-000000000001" // SECRET: objOfficial indicates objSecret
	relHiddenEnd = "relationship--aaaaaaaa-0000-4000-8000-000000000002" // SECRET: objTopSecret related-to objSecret
	relHidden    = "relationship--aaaaaaaa-0000-4000-8000-000000000003" // TOP SECRET: objSecret related-to objOfficial
	sightHidden  = "sighting--aaaaaaaa-0000-4000-8000-000000000004"     // TOP SECRET: a sighting of objSecret
	sightVisible = "sighting--aaaaaaaa-0000-4000-8000-000000000005"     // OFFICIAL: a sighting of objOfficial
)

func newGraphNode(t *testing.T) *testNode {
	t.Helper()
	n := newTestNode(t)
	pub := &testPublisher{n: n}
	for _, o := range []struct {
		obj    map[string]any
		banner string
	}{
		{map[string]any{"type": "relationship", "id": relVisible, "relationship_type": "indicates", "source_ref": objOfficial, "target_ref": objSecret}, "GBR SECRET"},
		{map[string]any{"type": "relationship", "id": relHiddenEnd, "relationship_type": "related-to", "source_ref": objTopSecret, "target_ref": objSecret}, "GBR SECRET"},
		{map[string]any{"type": "relationship", "id": relHidden, "relationship_type": "related-to", "source_ref": objSecret, "target_ref": objOfficial}, "GBR TOP SECRET"},
		{map[string]any{"type": "sighting", "id": sightHidden, "sighting_of_ref": objSecret, "count": 1}, "GBR TOP SECRET"},
		{map[string]any{"type": "sighting", "id": sightVisible, "sighting_of_ref": objOfficial, "count": 2}, "GBR OFFICIAL"},
	} {
		if err := pub.ingest(context.Background(), n.coll.ID, markedObject(t, o.obj, o.banner), nil); err != nil {
			t.Fatal(err)
		}
	}
	return n
}

// TestGraphShowsOnlyWhatUsersMaySee: the object page's graph draws the
// relationships and sightings that reference the object, and what it
// references, each a link to its page; an object the user may not see
// (a relationship's hidden end, a hidden relationship or sighting) leaves
// no node, edge, id or name.
func TestGraphShowsOnlyWhatUsersMaySee(t *testing.T) {
	n := newGraphNode(t)
	hidden := map[string][]string{
		"j.smith": {objTopSecret, objNames[objTopSecret], relHiddenEnd, relHidden, sightHidden},
		"k.low":   {objSecret, objNames[objSecret], relVisible, relHiddenEnd, relHidden, sightHidden, objTopSecret},
	}
	j := n.client(t)
	j.signIn("j.smith")
	page := j.get("/console/objects/default/" + objSecret)
	if page.status != 200 || !strings.Contains(page.body, `<svg`) {
		t.Fatalf("j.smith: objSecret's page = %d, without a graph:\n%s", page.status, page.body)
	}
	for _, want := range []string{`data-object="` + objOfficial + `"`, `href="/console/objects/default/` + relVisible + `"`, ">indicates<"} {
		if !strings.Contains(page.body, want) {
			t.Errorf("j.smith: objSecret's graph lacks %s", want)
		}
	}
	for _, h := range hidden["j.smith"] {
		if strings.Contains(page.body, h) {
			t.Errorf("j.smith: objSecret's page shows %s, which j.smith may not see", h)
		}
	}
	if strings.Count(page.body, `class="node" data-object=`) != 1 {
		t.Errorf("j.smith: objSecret's graph draws %d neighbours; want 1 (objOfficial)", strings.Count(page.body, `class="node" data-object=`))
	}
	// A relationship's own page draws both its ends.
	rel := j.get("/console/objects/default/" + relVisible)
	for _, want := range []string{`data-object="` + objOfficial + `"`, `data-object="` + objSecret + `"`, ">source_ref<", ">target_ref<"} {
		if !strings.Contains(rel.body, want) {
			t.Errorf("j.smith: the relationship's graph lacks %s", want)
		}
	}

	k := n.client(t)
	k.signIn("k.low")
	low := k.get("/console/objects/default/" + objOfficial)
	if low.status != 200 {
		t.Fatalf("k.low: objOfficial's page = %d", low.status)
	}
	for _, h := range hidden["k.low"] {
		if strings.Contains(low.body, h) {
			t.Errorf("k.low: objOfficial's page shows %s, which k.low may not see", h)
		}
	}
	if !strings.Contains(low.body, `data-object="`+sightVisible+`"`) || !strings.Contains(low.body, ">sighting of<") {
		t.Errorf("k.low: objOfficial's graph lacks the sighting k.low may see")
	}
	if strings.Count(low.body, `class="node" data-object=`) != 1 {
		t.Errorf("k.low: objOfficial's graph draws %d neighbours; want 1 (the sighting)", strings.Count(low.body, `class="node" data-object=`))
	}
	// The hidden relationship's page is missing for both.
	for _, c := range []*client{j, k} {
		if r := c.get("/console/objects/default/" + relHidden); r.status != 404 {
			t.Errorf("the TOP SECRET relationship's page = %d; want 404", r.status)
		}
	}
}
