package webhook

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/stix"
)

// tinyCorpus is a corpus over a real SQLite store holding one indicator of
// relay.example that FRA sent, and a view for a local user of GBR.
func tinyCorpus(t *testing.T) (*analytics.Corpus, *analytics.View) {
	t.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	coll, err := s.CreateCollection(ctx, tearline.Collection{Alias: "default", Title: "default"})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.NewReleaser(policy.Builtin(), nil, "GBR")
	if err != nil {
		t.Fatal(err)
	}
	obj, v, err := stix.Parse([]byte(`{"type":"indicator","spec_version":"2.1","id":"indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",` +
		`"created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z","pattern":"[domain-name:value = 'relay.example']",` +
		`"pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z"}`))
	if err != nil {
		t.Fatal(err)
	}
	l, err := label.Parse("GBR OFFICIAL//PAP:AMBER")
	if err != nil {
		t.Fatal(err)
	}
	subject := release.NewSubject(obj, v, "GBR", l)
	subject.Originators = []string{"FRA"}
	if obj.ReleaseClass, err = rel.Classify(subject); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PutObjects(ctx, coll.ID, []*tearline.Object{obj}); err != nil {
		t.Fatal(err)
	}
	c, err := analytics.Build(ctx, s, analytics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rc := &tearline.Recipient{Code: "GBR", Nationality: "GBR", User: "soc", Clearances: []tearline.Clearance{{Policy: "GBR", Levels: []string{"OFFICIAL"}}}}
	d, err := analytics.LocalUserDecider(rel.Engine, rc, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	view, err := c.NewView("soc", d)
	if err != nil {
		t.Fatal(err)
	}
	return c, view
}
