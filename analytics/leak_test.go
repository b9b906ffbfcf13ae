package analytics

import (
	"errors"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/tearline/tearline"
)

type leakDoc struct {
	doc  uint32
	orig string
	obs  []Observable
}

func buildIndex(t *testing.T, docs []leakDoc, keep func(uint32) bool) *Index {
	t.Helper()
	ix := New()
	for _, d := range docs {
		if !keep(d.doc) {
			continue
		}
		if err := ix.Add(d.doc, d.orig, d.obs); err != nil {
			t.Fatalf("Add(%d) = %v", d.doc, err)
		}
	}
	return ix
}

// score is what a UI would show the viewer for observable q reported in a
// B2 indicator with confidence 70: the corroboration comes from the
// viewer's matches only.
func score(t *testing.T, c Correlation) Assessment {
	t.Helper()
	a, err := Assess(Evidence{Confidence: 70, Reliability: 'B', Credibility: 2, Corroboration: c.Corroboration, Observed: now, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestNoLeakExample: two viewers of one index see different counts and
// scores, and the restricted viewer's view is the one it would get from an
// index that never held the hidden documents.
func TestNoLeakExample(t *testing.T) {
	ip := obs(KindIPv4, "203.0.113.9")
	docs := []leakDoc{
		{1, "GBR", []Observable{ip}},
		{2, "USA", []Observable{obs(KindIPv4, "203.0.113.0/24")}},
		{3, "FRA", []Observable{ip, obs(KindDomain, "evil.example")}},
		{4, "GBR", []Observable{ip}},
	}
	full := buildIndex(t, docs, all)
	restricted := NewDocSet(1, 4) // this viewer may see GBR's reports only
	without := buildIndex(t, docs, restricted.Has)

	cAll, err := full.Correlate(ip, all, 0)
	if err != nil {
		t.Fatal(err)
	}
	cRestricted, err := full.Correlate(ip, restricted.Has, 0)
	if err != nil {
		t.Fatal(err)
	}
	if cAll.Corroboration != 3 || cRestricted.Corroboration != 1 || len(cAll.Matches) != 4 || len(cRestricted.Matches) != 2 {
		t.Fatalf("Correlate(%v): full viewer %d originators, %d matches; restricted %d, %d; want 3, 4 and 1, 2",
			ip, cAll.Corroboration, len(cAll.Matches), cRestricted.Corroboration, len(cRestricted.Matches))
	}
	sAll, sRestricted := score(t, cAll), score(t, cRestricted)
	if sAll.Score <= sRestricted.Score {
		t.Fatalf("scores: full viewer %d, restricted %d; want the full viewer's higher", sAll.Score, sRestricted.Score)
	}
	cWithout, err := without.Correlate(ip, all, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(cRestricted, cWithout) {
		t.Fatalf("restricted Correlate = %+v; want exactly the index without hidden documents: %+v", cRestricted, cWithout)
	}
	if !reflect.DeepEqual(score(t, cRestricted), score(t, cWithout)) {
		t.Fatalf("restricted score differs from the score without hidden documents")
	}
	for _, o := range cRestricted.Originators {
		if o != "GBR" {
			t.Fatalf("restricted viewer sees originator %s of a hidden document", o)
		}
	}
}

// TestNoLeakRandom repeats the comparison over random documents, viewers
// and queries, for every query the package offers.
func TestNoLeakRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	partners := []string{"GBR", "USA", "FRA", "DEU", "CAN", "AUS"}
	for round := range 10 {
		var docs []leakDoc
		for doc := range uint32(80) {
			d := leakDoc{doc: doc, orig: partners[r.IntN(len(partners))]}
			for range 1 + r.IntN(5) {
				d.obs = append(d.obs, randomObservable(r))
			}
			docs = append(docs, d)
		}
		vis := NewDocSet()
		for doc := range uint32(80) {
			if r.IntN(3) == 0 {
				vis.Add(doc)
			}
		}
		full := buildIndex(t, docs, all)
		without := buildIndex(t, docs, vis.Has)
		// Churn the full index so that its internal layout differs from a
		// freshly built one: results must not depend on it.
		for _, d := range docs[:20] {
			full.Remove(d.doc)
			if err := full.Add(d.doc, d.orig, d.obs); err != nil {
				t.Fatal(err)
			}
		}

		differ := false
		for range 200 {
			q := randomObservable(r)
			kinds := MatchKind(r.IntN(16))
			got, err := full.Correlate(q, vis.Has, kinds)
			if err != nil {
				t.Fatal(err)
			}
			want, err := without.Correlate(q, all, kinds)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("round %d: restricted Correlate(%v, %v) = %+v; want %+v", round, q, kinds, got, want)
			}
			if !reflect.DeepEqual(score(t, got), score(t, want)) {
				t.Fatalf("round %d: restricted score for %v differs from the index without hidden documents", round, q)
			}
			everyone, err := full.Correlate(q, all, kinds)
			if err != nil {
				t.Fatal(err)
			}
			if everyone.Corroboration != got.Corroboration {
				differ = true
			}
		}
		if !differ {
			t.Fatalf("round %d: no query told the two viewers apart; the test data is too thin to show a leak", round)
		}
		for doc := range uint32(82) {
			got, errGot := full.CorrelateDocument(doc, vis.Has, DefaultMatches|MatchSubdomain)
			want, errWant := without.CorrelateDocument(doc, all, DefaultMatches|MatchSubdomain)
			if !reflect.DeepEqual(got, want) || (errGot == nil) != (errWant == nil) {
				t.Fatalf("round %d: restricted CorrelateDocument(%d) = %+v, %v; want %+v, %v", round, doc, got, errGot, want, errWant)
			}
			if errGot != nil && (!errors.Is(errGot, tearline.ErrNotFound) || errGot.Error() != errWant.Error()) {
				t.Fatalf("round %d: CorrelateDocument(%d) errors %q and %q; want the same not-found error", round, doc, errGot, errWant)
			}
			gotObs, errGot := full.Observables(doc, vis.Has)
			wantObs, errWant := without.Observables(doc, all)
			if !reflect.DeepEqual(gotObs, wantObs) || (errGot == nil) != (errWant == nil) {
				t.Fatalf("round %d: restricted Observables(%d) = %v, %v; want %v, %v", round, doc, gotObs, errGot, wantObs, errWant)
			}
		}
	}
}
