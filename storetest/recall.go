package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// RecallStore is a store that keeps recalls, with the objects, release
// decisions and outboxes that a recall acts on.
type RecallStore interface {
	OutboxStore
	mailbox.RecallStore
}

// RecallOpener returns a new, empty store and its audit log storage.
type RecallOpener func(t *testing.T) (RecallStore, ledger.Storage)

// RunRecall checks recall storage: a recall issued purges the version
// from every collection, keeps its tombstone and queues the notice for
// the partners the version was delivered to or is queued for and that
// have pulled, not for a partner that only had another version; a
// notice applied is passed on likewise, except to the originator and
// the partner it came from, with the holder's acknowledgement queued for
// the originator; a notice is applied once; a purged version never comes
// back, by delivery or by a write, while other versions of the object
// do; queued messages are listed oldest first until delivered or refused
// for good, with the originator's view of each partner following them;
// acknowledgements are kept only for this node's own recalls, adding the
// partners a holder passed the notice on to; every change appends its
// audit entries in its own transaction, so that a failure leaves nothing
// of it behind.
func RunRecall(t *testing.T, open RecallOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s RecallStore, st ledger.Storage)
	}{
		{"Issue", testRecallIssue},
		{"Apply", testRecallApply},
		{"Atomic", testRecallAtomic},
		{"Delivery", testRecallDelivery},
		{"Acknowledgements", testRecallAcks},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := open(t)
			t.Cleanup(func() { s.Close() })
			mustCollection(t, s, "c")
			mustCollection(t, s, "c2")
			tt.fn(t, s, st)
		})
	}
}

// recallVersion is the version the tests recall.
var recallVersion = base.Add(-time.Hour + 123456789)

// ledgerSize reads the audit log's size.
func ledgerSize(t *testing.T, st ledger.Storage) uint64 {
	t.Helper()
	n, err := st.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// holds reports whether collection coll holds the version o.
func holds(t *testing.T, s RecallStore, coll string, o *tearline.Object) bool {
	t.Helper()
	p := query(t, s, tearline.ObjectQuery{Collection: coll, IDs: []string{o.ID}, Version: tearline.VersionFilter{All: true}})
	return slices.ContainsFunc(p.Objects, func(so tearline.StoredObject) bool { return so.Hash == o.Hash })
}

// spread stores the version to recall in collections c and c2 (class A)
// and another version of the same object in c (class B), then sends them:
// FRA acknowledges both, NZL has pulled but acknowledged nothing, DEU has
// never pulled, AUS had only the other version. It returns the two
// versions.
func spread(t *testing.T, s RecallStore) (recalled, kept *tearline.Object) {
	t.Helper()
	ctx := context.Background()
	recalled = classed(obj(id("report", 1), recallVersion, "recalled"), "A")
	kept = classed(obj(id("report", 1), base, "kept"), "B")
	put(t, s, "c", recalled, kept)
	put(t, s, "c2", recalled)
	a, b := classID(t, s, "A"), classID(t, s, "B")
	apply(t, s,
		tearline.ClassRelease{Class: a, Partner: "FRA", Outcome: tearline.Allow},
		tearline.ClassRelease{Class: a, Partner: "NZL", Outcome: tearline.Allow},
		tearline.ClassRelease{Class: a, Partner: "DEU", Outcome: tearline.Allow},
		tearline.ClassRelease{Class: b, Partner: "FRA", Outcome: tearline.Allow},
		tearline.ClassRelease{Class: b, Partner: "AUS", Outcome: tearline.Allow})
	at := base.Add(time.Minute)
	for p, n := range map[string]int{"FRA": 3, "AUS": 1} {
		if got := outboxIDs(t, s, p); len(got) != n {
			t.Fatalf("%s's outbox = %v; want %d entries", p, got, n)
		}
		if err := s.RecordSent(ctx, p, uint64(n), at, 0, nil); err != nil {
			t.Fatalf("RecordSent(%s, %d): %v", p, n, err)
		}
	}
	if err := s.RecordSent(ctx, "NZL", 0, at, 0, nil); err != nil {
		t.Fatalf("RecordSent(NZL, 0): %v", err)
	}
	return recalled, kept
}

func notice(n string, o *tearline.Object, originator string) mailbox.Recall {
	return mailbox.Recall{Notice: n, Originator: originator, Object: o.ID, Version: o.Version, Hash: o.Hash,
		Reason: "source at risk", Issued: base.Add(time.Hour + 987654321), Record: []byte(fmt.Sprintf(`{"notice":%q}`, n))}
}

func issuedEvents(got *[]string) func([]string) []ledger.Event {
	return func(targets []string) []ledger.Event {
		*got = targets
		return []ledger.Event{{Kind: ledger.KindRecallIssued, Time: base, Actor: "GBR", Subjects: []string{id("report", 1)},
			Details: map[string]string{"recall": "issued"}}}
	}
}

func recallMessages(t *testing.T, s RecallStore) []string {
	t.Helper()
	ms, err := s.RecallMessages(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i, m := range ms {
		if i > 0 && m.ID <= ms[i-1].ID {
			t.Errorf("RecallMessages: id %d after %d; want oldest first", m.ID, ms[i-1].ID)
		}
		out = append(out, fmt.Sprintf("%s %s %s %s %d", m.Partner, m.Kind, m.Notice, m.Body, m.Attempts))
	}
	return out
}

func recalls(t *testing.T, s RecallStore, object string) []mailbox.RecallStatus {
	t.Helper()
	rs, err := s.Recalls(context.Background(), object)
	if err != nil {
		t.Fatalf("Recalls(%q): %v", object, err)
	}
	return rs
}

func targetNames(st mailbox.RecallStatus) []string {
	var out []string
	for _, t := range st.Targets {
		out = append(out, t.Partner)
	}
	return out
}

func testRecallIssue(t *testing.T, s RecallStore, st ledger.Storage) {
	ctx := context.Background()
	recalled, kept := spread(t, s)
	r := notice("n-1", recalled, "GBR")
	before := ledgerSize(t, st)
	var told []string
	targets, err := s.IssueRecall(ctx, r, issuedEvents(&told))
	if err != nil {
		t.Fatalf("IssueRecall: %v", err)
	}
	want := []string{"FRA", "NZL"}
	if !slices.Equal(targets, want) || !slices.Equal(told, want) {
		t.Errorf("IssueRecall = %v, events given %v; want %v (delivered, or queued and pulled; not DEU, never pulled, nor AUS, sent another version)",
			targets, told, want)
	}
	if n := ledgerSize(t, st); n != before+1 {
		t.Errorf("IssueRecall added %d audit entries; want 1", n-before)
	}
	if holds(t, s, "c", recalled) || holds(t, s, "c2", recalled) {
		t.Error("the recalled version is still stored; want it purged from every collection")
	}
	if !holds(t, s, "c", kept) {
		t.Error("the object's other version was purged; want only the recalled one")
	}
	if got := outboxIDs(t, s, "DEU"); !slices.Equal(got, []string{"1:deleted", "2:deleted"}) {
		t.Errorf("DEU's outbox = %v; want the recalled version's entries sent as deleted", got)
	}
	ts, err := s.Tombstones(ctx, recalled.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(ts) != 1 || ts[0].Hash != recalled.Hash || !ts[0].Version.Equal(recallVersion) || ts[0].RecalledBy != "GBR" ||
		ts[0].Reason != r.Reason || ts[0].Notice != "n-1" || !ts[0].Recalled.Equal(r.Issued) || ts[0].Purged.IsZero() {
		t.Errorf("Tombstones = %+v; want one of the recalled version, by GBR, issued %v", ts, r.Issued)
	}
	wantMsgs := []string{`FRA notice n-1 {"notice":"n-1"} 0`, `NZL notice n-1 {"notice":"n-1"} 0`}
	if got := recallMessages(t, s); !slices.Equal(got, wantMsgs) {
		t.Errorf("RecallMessages = %q; want %q", got, wantMsgs)
	}
	rs := recalls(t, s, recalled.ID)
	if len(rs) != 1 || rs[0].Notice != "n-1" || rs[0].Originator != "GBR" || rs[0].Hash != recalled.Hash ||
		!rs[0].Version.Equal(recallVersion) || !rs[0].Issued.Equal(r.Issued) || rs[0].Reason != r.Reason ||
		string(rs[0].Record) != string(r.Record) || !slices.Equal(targetNames(rs[0]), want) {
		t.Fatalf("Recalls(%s) = %+v; want n-1 as issued, to %v", recalled.ID, rs, want)
	}
	for _, tg := range rs[0].Targets {
		if !tg.Delivered.IsZero() || !tg.Acknowledged.IsZero() || tg.Error != "" || tg.Purged != 0 || tg.Record != nil {
			t.Errorf("target %+v; want it awaiting delivery", tg)
		}
	}
	if all := recalls(t, s, ""); len(all) != 1 {
		t.Errorf("Recalls(every object) = %+v; want n-1", all)
	}
	if other := recalls(t, s, id("report", 2)); len(other) != 0 {
		t.Errorf("Recalls(another object) = %+v; want none", other)
	}

	before = ledgerSize(t, st)
	told = nil
	if _, err := s.IssueRecall(ctx, r, issuedEvents(&told)); !errors.Is(err, mailbox.ErrRecallKnown) {
		t.Errorf("IssueRecall(n-1 again) = %v; want ErrRecallKnown", err)
	}
	if n := ledgerSize(t, st); n != before || told != nil {
		t.Errorf("IssueRecall(n-1 again) added %d audit entries, events given %v; want none", n-before, told)
	}
	if got := recallMessages(t, s); len(got) != 2 {
		t.Errorf("RecallMessages after a repeated notice = %q; want the first two only", got)
	}
	// A copy on its way back is not stored again.
	res, err := s.Receive(ctx, "c", []*tearline.Object{recalled}, delivery("AUS", 0, 1, recalled))
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(res) != 1 || res[0].Status != tearline.Recalled {
		t.Errorf("Receive(the recalled version) = %v; want it reported recalled", res)
	}
	if holds(t, s, "c", recalled) {
		t.Error("the recalled version came back in a delivery; want it refused by its tombstone")
	}
}

func testRecallApply(t *testing.T, s RecallStore, st ledger.Storage) {
	ctx := context.Background()
	recalled := classed(obj(id("report", 1), recallVersion, "recalled"), "A")
	kept := obj(id("report", 1), base, "kept")
	if _, err := s.Receive(ctx, "c", []*tearline.Object{recalled, kept}, delivery("GBR", 0, 1, recalled, kept)); err != nil {
		t.Fatalf("Receive: %v", err)
	}
	put(t, s, "c2", recalled)
	a := classID(t, s, "A")
	var set []tearline.ClassRelease
	for _, p := range []string{"FRA", "NZL", "DEU", "GBR", "CAN"} {
		set = append(set, tearline.ClassRelease{Class: a, Partner: p, Outcome: tearline.Allow})
	}
	apply(t, s, set...)
	at := base.Add(time.Minute)
	for _, p := range []string{"FRA", "GBR", "CAN"} {
		if err := s.RecordSent(ctx, p, 2, at, 0, nil); err != nil {
			t.Fatalf("RecordSent(%s): %v", p, err)
		}
	}
	if err := s.RecordSent(ctx, "NZL", 0, at, 0, nil); err != nil {
		t.Fatal(err)
	}

	r := notice("n-1", recalled, "GBR")
	before := ledgerSize(t, st)
	var gotPurged int
	var gotForwarded []string
	ack := func(purged int, forwarded []string) ([]byte, []ledger.Event, error) {
		gotPurged, gotForwarded = purged, forwarded
		ev := ledger.Event{Kind: ledger.KindRecallAcknowledged, Time: base, Actor: "USA", Subjects: []string{recalled.ID}}
		return []byte(`{"ack":"n-1"}`), []ledger.Event{ev, ev}, nil
	}
	purged, forwarded, err := s.ApplyRecall(ctx, r, "CAN", "USA", ack)
	if err != nil {
		t.Fatalf("ApplyRecall: %v", err)
	}
	want := []string{"FRA", "NZL"}
	if purged != 2 || !slices.Equal(forwarded, want) || gotPurged != 2 || !slices.Equal(gotForwarded, want) {
		t.Errorf("ApplyRecall = %d, %v (ack given %d, %v); want 2 purged, passed on to %v (not the originator GBR, nor CAN it came from, nor DEU that never pulled)",
			purged, forwarded, gotPurged, gotForwarded, want)
	}
	if n := ledgerSize(t, st); n != before+2 {
		t.Errorf("ApplyRecall added %d audit entries; want the 2 of ack", n-before)
	}
	if holds(t, s, "c", recalled) || holds(t, s, "c2", recalled) || !holds(t, s, "c", kept) {
		t.Error("after ApplyRecall: want the recalled version purged from both collections and the other version kept")
	}
	if ts, err := s.Tombstones(ctx, recalled.ID); err != nil || len(ts) != 1 || ts[0].Notice != "n-1" || ts[0].RecalledBy != "GBR" {
		t.Errorf("Tombstones = %+v, %v; want the recalled version's", ts, err)
	}
	wantMsgs := []string{`FRA notice n-1 {"notice":"n-1"} 0`, `NZL notice n-1 {"notice":"n-1"} 0`, `GBR ack n-1 {"ack":"n-1"} 0`}
	if got := recallMessages(t, s); !slices.Equal(got, wantMsgs) {
		t.Errorf("RecallMessages = %q; want %q", got, wantMsgs)
	}
	if rs := recalls(t, s, ""); len(rs) != 0 {
		t.Errorf("Recalls on a holder = %+v; want none: it follows only its own", rs)
	}
	ev := ledger.Event{Kind: ledger.KindRecallAcknowledged, Time: base, Actor: "FRA", Subjects: []string{recalled.ID}}
	if err := s.RecordRecallAck(ctx, "n-1", "FRA", 1, nil, []byte("{}"), base, ev); !errors.Is(err, mailbox.ErrUnknownRecall) {
		t.Errorf("RecordRecallAck of a notice applied here = %v; want ErrUnknownRecall", err)
	}

	before = ledgerSize(t, st)
	called := false
	again := func(int, []string) ([]byte, []ledger.Event, error) { called = true; return []byte("{}"), nil, nil }
	if _, _, err := s.ApplyRecall(ctx, r, "FRA", "USA", again); !errors.Is(err, mailbox.ErrRecallKnown) {
		t.Errorf("ApplyRecall(n-1 again) = %v; want ErrRecallKnown", err)
	}
	if called || ledgerSize(t, st) != before || len(recallMessages(t, s)) != 3 {
		t.Error("ApplyRecall(n-1 again) acknowledged, logged or queued; want nothing done")
	}

	// The purged version never comes back; other versions do.
	newer := obj(id("report", 1), base.Add(time.Hour), "newer")
	res, err := s.Receive(ctx, "c", []*tearline.Object{recalled, newer}, delivery("GBR", 1, 2, recalled, newer))
	if err != nil {
		t.Fatalf("Receive: %v", err)
	}
	if len(res) != 2 || res[0].Status != tearline.Recalled || res[1].Status != tearline.Added {
		t.Errorf("Receive(recalled, newer) = %v; want recalled, added", res)
	}
	before = ledgerSize(t, st)
	res, err = s.PutObjects(ctx, "c2", []*tearline.Object{recalled})
	if err != nil {
		t.Fatalf("PutObjects: %v", err)
	}
	if len(res) != 1 || res[0].Status != tearline.Recalled {
		t.Errorf("PutObjects(the recalled version) = %v; want it reported recalled", res)
	}
	if n := ledgerSize(t, st); n != before {
		t.Errorf("PutObjects(the recalled version) added %d audit entries; want none, as nothing was stored", n-before)
	}
	if holds(t, s, "c", recalled) || holds(t, s, "c2", recalled) {
		t.Error("the recalled version is stored again; want it refused by its tombstone")
	}
	if !holds(t, s, "c", newer) {
		t.Error("a newer version of the recalled object was not stored; want only the recalled version refused")
	}

	// Delivering the acknowledgement leaves nothing to send.
	ms, err := s.RecallMessages(ctx, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if err := s.RecallSent(ctx, m.ID, at, "", false); err != nil {
			t.Fatalf("RecallSent(%d): %v", m.ID, err)
		}
	}
	if got := recallMessages(t, s); len(got) != 0 {
		t.Errorf("RecallMessages after every delivery = %q; want none", got)
	}
}

func testRecallAtomic(t *testing.T, s RecallStore, st ledger.Storage) {
	ctx := context.Background()
	one, two := obj(id("report", 1), recallVersion, "one"), obj(id("report", 2), recallVersion, "two")
	put(t, s, "c", one, two)
	nothingDone := func(what string, o *tearline.Object) {
		t.Helper()
		if !holds(t, s, "c", o) {
			t.Errorf("%s: the version was purged; want it kept", what)
		}
		if ts, err := s.Tombstones(ctx, o.ID); err != nil || len(ts) != 0 {
			t.Errorf("%s: Tombstones = %+v, %v; want none", what, ts, err)
		}
		if got := recallMessages(t, s); len(got) != 0 {
			t.Errorf("%s: RecallMessages = %q; want none", what, got)
		}
	}

	before := ledgerSize(t, st)
	boom := errors.New("signer unavailable")
	fail := func(int, []string) ([]byte, []ledger.Event, error) { return nil, nil, boom }
	if _, _, err := s.ApplyRecall(ctx, notice("n-1", one, "GBR"), "GBR", "USA", fail); !errors.Is(err, boom) {
		t.Errorf("ApplyRecall with a failing acknowledgement = %v; want %v", err, boom)
	}
	nothingDone("failed ApplyRecall", one)
	ok := func(int, []string) ([]byte, []ledger.Event, error) {
		return []byte("{}"), []ledger.Event{{Kind: ledger.KindRecallAcknowledged, Time: base, Actor: "USA"}}, nil
	}
	invalid := func(int, []string) ([]byte, []ledger.Event, error) {
		return []byte("{}"), []ledger.Event{{Kind: "no-such-kind", Time: base, Actor: "USA"}}, nil
	}
	if _, _, err := s.ApplyRecall(ctx, notice("n-1", one, "GBR"), "GBR", "USA", invalid); !errors.Is(err, ledger.ErrInvalidEvent) {
		t.Errorf("ApplyRecall with an invalid audit entry = %v; want ledger.ErrInvalidEvent", err)
	}
	nothingDone("ApplyRecall refused by the audit log", one)

	var told []string
	bad := func(targets []string) []ledger.Event {
		told = targets
		return []ledger.Event{{Kind: "no-such-kind", Time: base, Actor: "GBR"}}
	}
	if _, err := s.IssueRecall(ctx, notice("n-2", two, "GBR"), bad); !errors.Is(err, ledger.ErrInvalidEvent) {
		t.Errorf("IssueRecall with an invalid audit entry = %v; want ledger.ErrInvalidEvent", err)
	}
	nothingDone("IssueRecall refused by the audit log", two)
	if rs := recalls(t, s, ""); len(rs) != 0 {
		t.Errorf("Recalls after a refused IssueRecall = %+v; want none", rs)
	}
	noRecord := notice("n-3", two, "GBR")
	noRecord.Record = nil
	if _, err := s.IssueRecall(ctx, noRecord, issuedEvents(&told)); err == nil {
		t.Error("IssueRecall without the signed notice = nil; want an error")
	}
	nothingDone("IssueRecall without a record", two)
	if n := ledgerSize(t, st); n != before {
		t.Errorf("refused recalls added %d audit entries; want none", n-before)
	}

	// Nothing of the refused notices was kept: they apply now.
	if _, _, err := s.ApplyRecall(ctx, notice("n-1", one, "GBR"), "GBR", "USA", ok); err != nil {
		t.Errorf("ApplyRecall(n-1) after its failures: %v", err)
	}
	if _, err := s.IssueRecall(ctx, notice("n-2", two, "GBR"), issuedEvents(&told)); err != nil {
		t.Errorf("IssueRecall(n-2) after its failure: %v", err)
	}
	if holds(t, s, "c", one) || holds(t, s, "c", two) {
		t.Error("a version is still stored after its recall succeeded")
	}
	if n := ledgerSize(t, st); n != before+2 {
		t.Errorf("the two recalls added %d audit entries; want 2", n-before)
	}
}

func testRecallDelivery(t *testing.T, s RecallStore, st ledger.Storage) {
	ctx := context.Background()
	recalled, _ := spread(t, s)
	var told []string
	if _, err := s.IssueRecall(ctx, notice("n-1", recalled, "GBR"), issuedEvents(&told)); err != nil {
		t.Fatal(err)
	}
	first, err := s.RecallMessages(ctx, 1)
	if err != nil {
		t.Fatal(err)
	}
	if len(first) != 1 || first[0].Partner != "FRA" {
		t.Fatalf("RecallMessages(1) = %+v; want FRA's notice alone", first)
	}
	ms, err := s.RecallMessages(ctx, 10)
	if err != nil || len(ms) != 2 || ms[1].Partner != "NZL" {
		t.Fatalf("RecallMessages(10) = %+v, %v; want FRA's and NZL's notices", ms, err)
	}
	target := func(partner string) mailbox.RecallTarget {
		t.Helper()
		rs := recalls(t, s, recalled.ID)
		if len(rs) != 1 {
			t.Fatalf("Recalls = %+v; want n-1", rs)
		}
		for _, tg := range rs[0].Targets {
			if tg.Partner == partner {
				return tg
			}
		}
		t.Fatalf("n-1 has no target %s: %+v", partner, rs[0].Targets)
		return mailbox.RecallTarget{}
	}

	at1, at2 := base.Add(2*time.Hour+111), base.Add(3*time.Hour+222)
	if err := s.RecallSent(ctx, ms[0].ID, at1, "connection refused", false); err != nil {
		t.Fatal(err)
	}
	if got := recallMessages(t, s); len(got) != 2 || got[0] != `FRA notice n-1 {"notice":"n-1"} 1` {
		t.Errorf("RecallMessages after a failed attempt = %q; want FRA's still queued, after 1 attempt", got)
	}
	if tg := target("FRA"); tg.Error != "connection refused" || !tg.Delivered.IsZero() {
		t.Errorf("FRA after a failed attempt = %+v; want the error, not delivered", tg)
	}
	if err := s.RecallSent(ctx, ms[0].ID, at2, "", false); err != nil {
		t.Fatal(err)
	}
	if got := recallMessages(t, s); len(got) != 1 || got[0] != `NZL notice n-1 {"notice":"n-1"} 0` {
		t.Errorf("RecallMessages after delivery to FRA = %q; want NZL's alone", got)
	}
	if tg := target("FRA"); tg.Error != "" || !tg.Delivered.Equal(at2) {
		t.Errorf("FRA after delivery = %+v; want delivered at %v, no error", tg, at2)
	}
	if err := s.RecallSent(ctx, ms[1].ID, at2, "NZL refused it: 403 Forbidden", true); err != nil {
		t.Fatal(err)
	}
	if got := recallMessages(t, s); len(got) != 0 {
		t.Errorf("RecallMessages after NZL refused for good = %q; want none", got)
	}
	if tg := target("NZL"); tg.Error != "NZL refused it: 403 Forbidden" || !tg.Delivered.IsZero() {
		t.Errorf("NZL after refusing = %+v; want its refusal, not delivered", tg)
	}
	if err := s.RecallSent(ctx, ms[1].ID+1000, at2, "", false); err == nil {
		t.Error("RecallSent(unknown message) = nil; want an error")
	}
	// A failed attempt after the delivery (a copy sent again) does not
	// undo it.
	if err := s.RecallSent(ctx, ms[0].ID, at2.Add(time.Hour), "timeout", false); err != nil {
		t.Fatal(err)
	}
	if tg := target("FRA"); !tg.Delivered.Equal(at2) || tg.Error != "timeout" {
		t.Errorf("FRA after a later failed attempt = %+v; want still delivered at %v, with the error", tg, at2)
	}
}

func testRecallAcks(t *testing.T, s RecallStore, st ledger.Storage) {
	ctx := context.Background()
	recalled, _ := spread(t, s)
	other := obj(id("report", 2), time.Time{}, "never sent")
	put(t, s, "c", other)
	var told []string
	r1 := notice("n-1", recalled, "GBR")
	if _, err := s.IssueRecall(ctx, r1, issuedEvents(&told)); err != nil {
		t.Fatal(err)
	}
	r2 := notice("n-2", other, "GBR")
	r2.Issued = r1.Issued.Add(time.Second)
	if targets, err := s.IssueRecall(ctx, r2, issuedEvents(&told)); err != nil || len(targets) != 0 {
		t.Fatalf("IssueRecall(a version sent to no one) = %v, %v; want no partners", targets, err)
	}

	ev := ledger.Event{Kind: ledger.KindRecallAcknowledged, Time: base, Actor: "FRA", Subjects: []string{recalled.ID}}
	before := ledgerSize(t, st)
	at1, at2 := base.Add(4*time.Hour+333), base.Add(5*time.Hour+444)
	if err := s.RecordRecallAck(ctx, "n-1", "FRA", 1, []string{"JPN", "GBR"}, []byte(`{"ack":"FRA"}`), at1, ev); err != nil {
		t.Fatalf("RecordRecallAck(FRA): %v", err)
	}
	if err := s.RecordRecallAck(ctx, "n-1", "JPN", 3, nil, []byte(`{"ack":"JPN"}`), at2, ev); err != nil {
		t.Fatalf("RecordRecallAck(JPN): %v", err)
	}
	if n := ledgerSize(t, st); n != before+2 {
		t.Errorf("two acknowledgements added %d audit entries; want 2", n-before)
	}
	// FRA's acknowledgement delivered again: nothing changes.
	if err := s.RecordRecallAck(ctx, "n-1", "FRA", 1, []string{"JPN", "GBR"}, []byte(`{"ack":"FRA"}`), at2, ev); err != nil {
		t.Fatalf("RecordRecallAck(FRA) again: %v", err)
	}
	if n := ledgerSize(t, st); n != before+2 {
		t.Errorf("an acknowledgement kept again added %d audit entries; want none", n-before-2)
	}
	if err := s.RecordRecallAck(ctx, "n-9", "FRA", 1, nil, []byte("{}"), at1, ev); !errors.Is(err, mailbox.ErrUnknownRecall) {
		t.Errorf("RecordRecallAck(unknown notice) = %v; want ErrUnknownRecall", err)
	}
	if n := ledgerSize(t, st); n != before+2 {
		t.Errorf("a refused acknowledgement added %d audit entries; want none", n-before-2)
	}

	rs := recalls(t, s, "")
	if len(rs) != 2 || rs[0].Notice != "n-1" || rs[1].Notice != "n-2" || len(rs[1].Targets) != 0 {
		t.Fatalf("Recalls(every object) = %+v; want n-1 then n-2, n-2 with no partners", rs)
	}
	if got, want := targetNames(rs[0]), []string{"FRA", "JPN", "NZL"}; !slices.Equal(got, want) {
		t.Fatalf("n-1's partners = %v; want %v (JPN, passed on to, added; GBR, the originator, not)", got, want)
	}
	fra, jpn, nzl := rs[0].Targets[0], rs[0].Targets[1], rs[0].Targets[2]
	if !fra.Acknowledged.Equal(at1) || fra.Purged != 1 || string(fra.Record) != `{"ack":"FRA"}` || !fra.Delivered.IsZero() {
		t.Errorf("FRA = %+v; want acknowledged at %v, 1 purged, with its record", fra, at1)
	}
	if !jpn.Acknowledged.Equal(at2) || jpn.Purged != 3 || string(jpn.Record) != `{"ack":"JPN"}` {
		t.Errorf("JPN = %+v; want acknowledged at %v, 3 purged, with its record", jpn, at2)
	}
	if !nzl.Acknowledged.IsZero() || nzl.Record != nil {
		t.Errorf("NZL = %+v; want it still awaited", nzl)
	}
	if only := recalls(t, s, other.ID); len(only) != 1 || only[0].Notice != "n-2" {
		t.Errorf("Recalls(%s) = %+v; want n-2 alone", other.ID, only)
	}
}
