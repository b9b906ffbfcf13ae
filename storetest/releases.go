package storetest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

// ReleaseStore is a store that keeps release classes and decisions.
type ReleaseStore interface {
	tearline.ObjectStore
	tearline.ReleaseStore
}

// ReleaseOpener returns a new, empty store and its audit log storage.
type ReleaseOpener func(t *testing.T) (ReleaseStore, ledger.Storage)

// RunReleases checks the release class and decision storage: classes are
// interned across writes and counted per object version, undecided classes
// are listed until decided, a change is applied whole with one audit entry,
// removed pairs read as absent (denied), and ReleaseOf finds an object's
// class and decisions.
func RunReleases(t *testing.T, open ReleaseOpener) {
	ctx := context.Background()
	s, st := open(t)
	t.Cleanup(func() { s.Close() })
	mustCollection(t, s, "c")

	withClass := func(o *tearline.Object, class string) *tearline.Object {
		if class != "" {
			o.ReleaseClass = []byte(class)
		}
		return o
	}
	put(t, s, "c",
		withClass(obj(id("indicator", 1), base, "a"), `{"class":"A"}`),
		withClass(obj(id("indicator", 2), base, "b"), `{"class":"B"}`),
		withClass(obj(id("indicator", 3), base, "c"), `{"class":"A"}`),
		withClass(obj(id("indicator", 4), base, "d"), ""))
	// A second write meets class A again: interned, not duplicated.
	put(t, s, "c", withClass(obj(id("indicator", 5), base, "e"), `{"class":"A"}`))

	classes, err := s.ReleaseClasses(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	counts := map[string]int64{}
	ids := map[string]int64{}
	for _, c := range classes {
		counts[string(c.Subject)] = c.Objects
		ids[string(c.Subject)] = c.ID
		if !c.Decided.IsZero() {
			t.Errorf("class %s decided at %v before any decision", c.Subject, c.Decided)
		}
	}
	if len(classes) != 2 || counts[`{"class":"A"}`] != 3 || counts[`{"class":"B"}`] != 1 {
		t.Fatalf("ReleaseClasses = %v; want A with 3 objects and B with 1 (the unclassified object in none)", counts)
	}
	a, b := ids[`{"class":"A"}`], ids[`{"class":"B"}`]
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", Version: tearline.VersionFilter{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	wantClass := map[string]int64{id("indicator", 1): a, id("indicator", 2): b, id("indicator", 3): a, id("indicator", 4): 0, id("indicator", 5): a}
	for _, o := range page.Objects {
		if o.Class != wantClass[o.ID] {
			t.Errorf("Objects: %s has class %d; want %d", o.ID, o.Class, wantClass[o.ID])
		}
	}
	subjects, err := s.ReleaseSubjects(ctx, []int64{a, b, 999999})
	if err != nil || len(subjects) != 2 || string(subjects[a]) != `{"class":"A"}` || string(subjects[b]) != `{"class":"B"}` {
		t.Errorf("ReleaseSubjects = %d subjects, %v; want A and B, and nothing for an unknown id", len(subjects), err)
	}

	size := func() uint64 {
		t.Helper()
		n, err := st.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	at := base.Add(time.Hour)
	ch := tearline.ReleaseChange{
		Set: []tearline.ClassRelease{
			{Class: a, Partner: "FRA", Outcome: tearline.Allow, Agreement: "gbr-fra@1", Reasons: []string{"allowed"}},
			{Class: a, Partner: "USA", Outcome: tearline.NeedsConsent, Agreement: "fvey@3", ConsentFrom: []string{"CAN", "NZL"}, Reasons: []string{"orcon", "onward"}},
			{Class: b, Partner: "FRA", Outcome: tearline.Deny, Reasons: []string{"rel-to"}},
		},
		Decided: []int64{a, b}, Time: at, Actor: "test", Cause: "first decision",
		Summary: map[string]string{"FRA": "+3 -0 ~0", "USA": "+0 -0 ~3"},
	}
	if err := s.ApplyReleases(ctx, ch); err != nil {
		t.Fatal(err)
	}
	if n := size(); n != before+1 {
		t.Fatalf("audit log grew by %d entries for one release change; want 1", n-before)
	}
	data, err := st.Entry(ctx, before)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ledger.DecodeEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != ledger.KindReleaseDecided || !slices.Equal(ev.Subjects, []string{"FRA", "USA"}) ||
		ev.Details["partner.FRA"] != "+3 -0 ~0" || ev.Details["cause"] != "first decision" {
		t.Errorf("audit entry = %+v; want release-decided for FRA and USA with the summary", ev)
	}
	got, err := s.Releases(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.EqualFunc(got, ch.Set, sameRelease) {
		t.Errorf("Releases = %+v; want %+v", got, ch.Set)
	}
	undecided, err := s.ReleaseClasses(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(undecided) != 0 {
		t.Errorf("ReleaseClasses(undecided) after deciding = %d classes; want none", len(undecided))
	}
	all, err := s.ReleaseClasses(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range all {
		if !c.Decided.Equal(at) {
			t.Errorf("class %d decided at %v; want %v", c.ID, c.Decided, at)
		}
	}

	// Replace one pair, remove another.
	ch2 := tearline.ReleaseChange{
		Set:    []tearline.ClassRelease{{Class: a, Partner: "FRA", Outcome: tearline.Deny, Agreement: "gbr-fra@2", Reasons: []string{"above-ceiling"}}},
		Remove: []tearline.ClassRelease{{Class: a, Partner: "USA"}},
		Time:   at.Add(time.Hour), Actor: "test", Cause: "agreement gbr-fra@2",
		Summary: map[string]string{"FRA": "+0 -3 ~0", "USA": "+0 -0 ~3"},
	}
	if err := s.ApplyReleases(ctx, ch2); err != nil {
		t.Fatal(err)
	}
	class, rs, err := s.ReleaseOf(ctx, "c", id("indicator", 3), time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if class != a || len(rs) != 1 || !sameRelease(rs[0], ch2.Set[0]) {
		t.Errorf("ReleaseOf(indicator 3) = %d, %+v; want class %d with only %+v", class, rs, a, ch2.Set[0])
	}
	class, rs, err = s.ReleaseOf(ctx, "c", id("indicator", 4), time.Time{})
	if err != nil || class != 0 || len(rs) != 0 {
		t.Errorf("ReleaseOf(unclassified) = %d, %v, %v; want class 0 and no releases", class, rs, err)
	}
	if _, _, err := s.ReleaseOf(ctx, "c", id("indicator", 99), time.Time{}); err == nil {
		t.Error("ReleaseOf(missing object) succeeded")
	}
}

// labelChanges returns the label-changed entries of the audit log from
// index from on.
func labelChanges(t *testing.T, st ledger.Storage, from uint64) []ledger.Event {
	t.Helper()
	ctx := context.Background()
	n, err := st.Size(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var out []ledger.Event
	for i := from; i < n; i++ {
		data, err := st.Entry(ctx, i)
		if err != nil {
			t.Fatal(err)
		}
		ev, err := ledger.DecodeEvent(data)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == ledger.KindLabelChanged {
			out = append(out, ev)
		}
	}
	return out
}

// RunLabelChanges checks that a store records a label change when a new
// version of an object arrives in another release class than the newest
// one before it, in the write's transaction; not for a version in the same
// class, nor for an older version arriving late.
func RunLabelChanges(t *testing.T, open ReleaseOpener) {
	ctx := context.Background()
	s, st := open(t)
	t.Cleanup(func() { s.Close() })
	mustCollection(t, s, "c")
	size := func() uint64 {
		n, err := st.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	versioned := func(at time.Time, content, class string) *tearline.Object {
		o := obj(id("report", 1), at, content)
		o.ReleaseClass = []byte(class)
		return o
	}
	put(t, s, "c", versioned(base, "v1", `{"label":"SECRET"}`))
	mark := size()
	put(t, s, "c", versioned(base.Add(time.Hour), "v2", `{"label":"OFFICIAL"}`))
	evs := labelChanges(t, st, mark)
	if len(evs) != 1 || !slices.Equal(evs[0].Subjects, []string{id("report", 1)}) || evs[0].Details["from-class"] == evs[0].Details["to-class"] {
		t.Fatalf("label-changed entries after a new version in another class = %+v; want one naming the object and both classes", evs)
	}
	mark = size()
	put(t, s, "c", versioned(base.Add(2*time.Hour), "v3", `{"label":"OFFICIAL"}`))
	put(t, s, "c", versioned(base.Add(-time.Hour), "v0", `{"label":"TOP SECRET"}`))
	if evs := labelChanges(t, st, mark); len(evs) != 0 {
		t.Errorf("label-changed entries for a version in the same class and a late older one = %+v; want none", evs)
	}
}

func sameRelease(a, b tearline.ClassRelease) bool {
	return a.Class == b.Class && a.Partner == b.Partner && a.Outcome == b.Outcome && a.Agreement == b.Agreement &&
		a.Variant == b.Variant && slices.Equal(a.ConsentFrom, b.ConsentFrom) && slices.Equal(a.Reasons, b.Reasons)
}
