package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// ConsentStore is a store that keeps consents and release classes.
type ConsentStore interface {
	ReleaseStore
	mailbox.ConsentStore
}

// ConsentOpener returns a new, empty store and its audit log storage.
type ConsentOpener func(t *testing.T) (ConsentStore, ledger.Storage)

// RunConsent checks consent storage: a consent is kept with its audit
// entry, found by object and recipient (or for every recipient), replaced
// by a consent for the same request, with its times kept to the
// nanosecond; SetClass moves the versions named to the class given, which
// is interned and undecided, and changes nothing for an unknown object.
func RunConsent(t *testing.T, open ConsentOpener) {
	ctx := context.Background()
	s, st := open(t)
	t.Cleanup(func() { s.Close() })
	mustCollection(t, s, "c")
	o1, o2 := id("indicator", 1), id("indicator", 2)
	v1, v2 := base, base.Add(time.Hour)
	first := obj(o1, v1, "a")
	first.ReleaseClass = []byte(`{"class":"A"}`)
	second := obj(o1, v2, "b")
	second.ReleaseClass = []byte(`{"class":"A"}`)
	other := obj(o2, v1, "c")
	other.ReleaseClass = []byte(`{"class":"A"}`)
	put(t, s, "c", first, second, other)

	size := func() uint64 {
		n, err := st.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	expires := base.Add(48*time.Hour + 123456789)
	c1 := mailbox.Consent{Request: "r1", Originator: "GBR", Holder: "USA", Recipient: "CAN", Object: o1, Version: v2,
		Expires: expires, Record: []byte(`{"record":1}`)}
	c2 := mailbox.Consent{Request: "r2", Originator: "GBR", Holder: "USA", Recipient: "AUS", Object: o1, Record: []byte(`{"record":2}`)}
	for _, c := range []mailbox.Consent{c1, c2} {
		ev := ledger.Event{Kind: ledger.KindConsentGiven, Time: base, Actor: "GBR", Subjects: []string{c.Object},
			Details: map[string]string{"request": c.Request}}
		if err := s.PutConsent(ctx, c, ev); err != nil {
			t.Fatalf("PutConsent(%s): %v", c.Request, err)
		}
	}
	if got := size(); got != before+2 {
		t.Errorf("audit log grew by %d entries for two consents; want 2", got-before)
	}
	got, err := s.ConsentsFor(ctx, "CAN", []string{o1, o2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Request != "r1" || !got[0].Version.Equal(v2) || !got[0].Expires.Equal(expires) ||
		string(got[0].Record) != `{"record":1}` || got[0].Holder != "USA" || got[0].Originator != "GBR" {
		t.Fatalf("ConsentsFor(CAN) = %+v; want r1 as kept", got)
	}
	all, err := s.ConsentsFor(ctx, "", []string{o1})
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 2 || all[0].Request != "r1" || all[1].Request != "r2" || !all[1].Version.IsZero() || !all[1].Expires.IsZero() {
		t.Fatalf("ConsentsFor(anyone) = %+v; want r1 then r2, r2 for every version and never lapsing", all)
	}
	if none, err := s.ConsentsFor(ctx, "CAN", []string{o2}); err != nil || len(none) != 0 {
		t.Errorf("ConsentsFor(CAN, %s) = %+v, %v; want none", o2, none, err)
	}
	c1.Recipient = "NZL"
	if err := s.PutConsent(ctx, c1, ledger.Event{Kind: ledger.KindConsentGiven, Time: base, Actor: "GBR", Subjects: []string{o1}}); err != nil {
		t.Fatal(err)
	}
	if got, err := s.ConsentsFor(ctx, "CAN", []string{o1}); err != nil || len(got) != 0 {
		t.Errorf("ConsentsFor(CAN) after r1 was replaced = %+v, %v; want none", got, err)
	}

	classA, _, err := s.ReleaseOf(ctx, "c", o1, v1)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.SetClass(ctx, "c", o1, v2, []byte(`{"class":"A","id":"one"}`))
	if err != nil || n != 1 {
		t.Fatalf("SetClass(one version) = %d, %v; want 1", n, err)
	}
	newer, _, err := s.ReleaseOf(ctx, "c", o1, v2)
	if err != nil {
		t.Fatal(err)
	}
	older, _, _ := s.ReleaseOf(ctx, "c", o1, v1)
	untouched, _, _ := s.ReleaseOf(ctx, "c", o2, v1)
	if newer == classA || older != classA || untouched != classA {
		t.Errorf("after SetClass of one version: classes %d (it), %d (the older version), %d (another object); want new, %d, %d",
			newer, older, untouched, classA, classA)
	}
	undecided, err := s.ReleaseClasses(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, c := range undecided {
		found = found || (c.ID == newer && c.Objects == 1)
	}
	if !found {
		t.Errorf("ReleaseClasses(undecided) = %+v; want the new class %d with one version", undecided, newer)
	}
	if n, err := s.SetClass(ctx, "c", o1, time.Time{}, []byte(`{"class":"A","id":"one"}`)); err != nil || n != 2 {
		t.Errorf("SetClass(every version) = %d, %v; want 2", n, err)
	}
	if n, err := s.SetClass(ctx, "c", id("indicator", 99), time.Time{}, []byte(`{"class":"B"}`)); err != nil || n != 0 {
		t.Errorf("SetClass(unknown object) = %d, %v; want 0, nil", n, err)
	}
}
