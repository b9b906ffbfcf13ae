package analytics

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/stix"
)

// The harness stores objects in a real SQLite node store of GBR, each
// with the release class ingest would give it, and builds corpora from
// it.

var (
	created = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
	asOf    = time.Date(2026, 10, 15, 0, 0, 0, 0, time.UTC)
)

const holder = "GBR"

type harness struct {
	t    *testing.T
	s    *sqlite.Store
	rel  *release.Releaser
	coll string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	c, err := s.CreateCollection(ctx, tearline.Collection{Alias: "default", Title: "default"})
	if err != nil {
		t.Fatal(err)
	}
	agreements, err := policy.ExampleAgreements()
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.NewReleaser(policy.Builtin(), agreements, holder)
	if err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, s: s, rel: rel, coll: c.ID}
}

// obj is an object to store: its JSON, the banner of its label, and the
// partner that sent it ("" for the node's own).
type obj struct {
	json, banner, sender string
}

// put stores objects and returns them as stored, release classes set, as
// the ingest path would hand them to Corpus.Apply.
func (h *harness) put(objs ...obj) []tearline.StoredObject {
	h.t.Helper()
	var batch []*tearline.Object
	for _, o := range objs {
		parsed, v, err := stix.Parse([]byte(o.json))
		if err != nil {
			h.t.Fatalf("stix.Parse(%s): %v", o.json, err)
		}
		var l tearline.Label
		if o.banner != "" {
			if l, err = label.Parse(o.banner); err != nil {
				h.t.Fatalf("label.Parse(%q): %v", o.banner, err)
			}
		}
		s := release.NewSubject(parsed, v, holder, l)
		if o.sender != "" {
			s.Originators = []string{o.sender}
		}
		if parsed.ReleaseClass, err = h.rel.Classify(s); err != nil {
			h.t.Fatal(err)
		}
		batch = append(batch, parsed)
	}
	res, err := h.s.PutObjects(context.Background(), h.coll, batch)
	if err != nil {
		h.t.Fatal(err)
	}
	var out []tearline.StoredObject
	for i, r := range res {
		if r.Status != tearline.Added {
			h.t.Fatalf("PutObjects %s: %v", batch[i].ID, r.Status)
		}
		out = append(out, tearline.StoredObject{Object: *batch[i], DateAdded: r.DateAdded})
	}
	return out
}

func (h *harness) build(opts Options) *Corpus {
	h.t.Helper()
	if opts.Now == nil {
		opts.Now = func() time.Time { return asOf }
	}
	c, err := Build(context.Background(), h.s, opts)
	if err != nil {
		h.t.Fatalf("Build: %v", err)
	}
	return c
}

// user is a view for a local user of GBR cleared up to level.
func user(t *testing.T, c *Corpus, rel *release.Releaser, name, level string) *View {
	t.Helper()
	sch, ok := label.LookupScheme("GBR")
	if !ok {
		t.Fatal("no GBR scheme")
	}
	top, ok := sch.Rank(level)
	if !ok {
		t.Fatalf("no GBR level %s", level)
	}
	rc := &tearline.Recipient{Code: "GBR", Nationality: "GBR", User: name,
		Clearances: []tearline.Clearance{{Policy: "GBR", Levels: sch.Levels()[:top+1]}}}
	d, err := LocalUserDecider(rel.Engine, rc, asOf)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.NewView(name, d)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

var idSeq int

// newID returns a fresh, valid STIX id of type typ.
func newID(typ string) string {
	idSeq++
	return fmt.Sprintf("%s--00000000-0000-4000-8000-%012d", typ, idSeq)
}

func ts(t time.Time) string { return stix.FormatTimestamp(t) }

// indicator returns the JSON of an indicator with pattern and, unless
// negative, a confidence.
func indicator(id, pattern string, confidence int, at time.Time) string {
	conf := ""
	if confidence >= 0 {
		conf = fmt.Sprintf(`,"confidence":%d`, confidence)
	}
	p, _ := json.Marshal(pattern)
	return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":%q,"created":%q,"modified":%q,"pattern":%s,"pattern_type":"stix","valid_from":%q%s}`,
		id, ts(at), ts(at), p, ts(at), conf)
}

func relationship(id, typ, source, target string) string {
	return fmt.Sprintf(`{"type":"relationship","spec_version":"2.1","id":%q,"created":%q,"modified":%q,"relationship_type":%q,"source_ref":%q,"target_ref":%q}`,
		id, ts(created), ts(created), typ, source, target)
}

func sdo(typ, id, name string, aliases ...string) string {
	al := ""
	if len(aliases) > 0 {
		b, _ := json.Marshal(aliases)
		al = `,"aliases":` + string(b)
	}
	extra := ""
	if typ == "malware" {
		extra = `,"is_family":true`
	}
	return fmt.Sprintf(`{"type":%q,"spec_version":"2.1","id":%q,"created":%q,"modified":%q,"name":%q%s%s}`,
		typ, id, ts(created), ts(created), name, al, extra)
}

func sighting(id, of string, count int, seen time.Time, observed ...string) string {
	od := ""
	if len(observed) > 0 {
		b, _ := json.Marshal(observed)
		od = `,"observed_data_refs":` + string(b)
	}
	return fmt.Sprintf(`{"type":"sighting","spec_version":"2.1","id":%q,"created":%q,"modified":%q,"sighting_of_ref":%q,"count":%d,"first_seen":%q,"last_seen":%q%s}`,
		id, ts(seen), ts(seen), of, count, ts(seen), ts(seen), od)
}

func ipv4SCO(value string) (string, string) {
	id := newID("ipv4-addr")
	return id, fmt.Sprintf(`{"type":"ipv4-addr","spec_version":"2.1","id":%q,"value":%q}`, id, value)
}

func observedData(id string, refs ...string) string {
	b, _ := json.Marshal(refs)
	return fmt.Sprintf(`{"type":"observed-data","spec_version":"2.1","id":%q,"created":%q,"modified":%q,"first_observed":%q,"last_observed":%q,"number_observed":1,"object_refs":%s}`,
		id, ts(created), ts(created), ts(created), ts(created), b)
}

// mustObs normalises a value of kind k or fails the test.
func mustObs(t *testing.T, k Kind, v string) Observable {
	t.Helper()
	o, err := Normalise(k, v)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

func reportsBy(f Finding) string {
	var parts []string
	for _, r := range f.Reports {
		parts = append(parts, fmt.Sprintf("%s/%s/%s", r.Originator, r.Match, r.Reported.Value))
	}
	return strings.Join(parts, " ")
}

func parseObj(s string) (*tearline.Object, *stix.Value, error) { return stix.Parse([]byte(s)) }
