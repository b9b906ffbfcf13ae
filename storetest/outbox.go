package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// OutboxStore is a store that keeps the federation state of package
// federation/mailbox.
type OutboxStore interface {
	ReleaseStore
	OutboxHeads(ctx context.Context) ([]mailbox.Head, error)
	OutboxPage(ctx context.Context, partner string, after uint64, limit, maxBytes int) (mailbox.Page, error)
	RecordSent(ctx context.Context, partner string, acked uint64, at time.Time, batch uint64, events []ledger.Event) error
	InboxCursor(ctx context.Context, sender string) (mailbox.Cursor, error)
	Receive(ctx context.Context, collection string, objs []*tearline.Object, d *mailbox.Delivery) ([]tearline.PutResult, error)
	Origins(ctx context.Context, objectID string) ([]mailbox.Origin, error)
	OriginsOf(ctx context.Context, ids []string) (map[string][]mailbox.Origin, error)
	Links(ctx context.Context) (mailbox.Links, error)
	SetLinkError(ctx context.Context, partner string, dir mailbox.Direction, message string, at time.Time) error
}

// OutboxOpener returns a new, empty store and its audit log storage.
type OutboxOpener func(t *testing.T) (OutboxStore, ledger.Storage)

// RunOutbox checks the federation state: each partner's outbox is filled
// in the transaction that writes a version whose class is releasable to it
// and in the one that makes a class releasable, once per version, in the
// order the node added them; a page reads each version with its release
// now, so that a withdrawal stops it; acknowledgements prune the outbox
// with their audit entries; a delivery is applied exactly once, whole, in
// order, with its cursor, provenance and audit entries; an entry says
// whether the partner sent that version here; link state round trips; concurrent writers and release changes lose no entry.
func RunOutbox(t *testing.T, open OutboxOpener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s OutboxStore, st ledger.Storage)
	}{
		{"FilledOnWrite", testOutboxOnWrite},
		{"FilledOnRelease", testOutboxOnRelease},
		{"ReleaseReadWhenSent", testOutboxWithdrawn},
		{"Paging", testOutboxPaging},
		{"Acknowledged", testOutboxAcknowledged},
		{"DeliveryExactlyOnce", testDelivery},
		{"DeliveryAtomic", testDeliveryAtomic},
		{"ProvenanceChain", testProvenanceChain},
		{"Echo", testOutboxEcho},
		{"Links", testLinks},
		{"ConcurrentWritesAndReleases", testOutboxConcurrent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, st := open(t)
			t.Cleanup(func() { s.Close() })
			mustCollection(t, s, "c")
			tt.fn(t, s, st)
		})
	}
}

func classed(o *tearline.Object, class string) *tearline.Object {
	o.ReleaseClass = []byte(class)
	return o
}

// classID returns the id the store gave a class subject.
func classID(t *testing.T, s OutboxStore, subject string) int64 {
	t.Helper()
	cs, err := s.ReleaseClasses(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if string(c.Subject) == subject {
			return c.ID
		}
	}
	t.Fatalf("no class %s among %d", subject, len(cs))
	return 0
}

func apply(t *testing.T, s OutboxStore, set ...tearline.ClassRelease) {
	t.Helper()
	ch := tearline.ReleaseChange{Set: set, Time: base, Actor: "test", Cause: "test", Summary: map[string]string{}}
	if err := s.ApplyReleases(context.Background(), ch); err != nil {
		t.Fatalf("ApplyReleases: %v", err)
	}
}

// outboxIDs reads a partner's whole outbox as "seq:id" strings.
func outboxIDs(t *testing.T, s OutboxStore, partner string) []string {
	t.Helper()
	p, err := s.OutboxPage(context.Background(), partner, 0, 1000, 1<<30)
	if err != nil {
		t.Fatalf("OutboxPage(%s): %v", partner, err)
	}
	var out []string
	for _, e := range p.Entries {
		id := "deleted"
		if e.Object != nil {
			id = e.Object.ID[len(e.Object.ID)-2:]
		}
		out = append(out, fmt.Sprintf("%d:%s", e.Seq, id))
	}
	return out
}

func testOutboxOnWrite(t *testing.T, s OutboxStore, st ledger.Storage) {
	put(t, s, "c", classed(obj(id("indicator", 1), base, "a"), "A"), classed(obj(id("indicator", 2), base, "b"), "B"))
	a, b := classID(t, s, "A"), classID(t, s, "B")
	apply(t, s,
		tearline.ClassRelease{Class: a, Partner: "FRA", Outcome: tearline.Allow},
		tearline.ClassRelease{Class: a, Partner: "USA", Outcome: tearline.Deny},
		tearline.ClassRelease{Class: b, Partner: "FRA", Outcome: tearline.AllowVariant, Variant: id("report", 9)},
		tearline.ClassRelease{Class: b, Partner: "USA", Outcome: tearline.NeedsConsent})
	if got, want := outboxIDs(t, s, "FRA"), []string{"1:01", "2:02"}; !slices.Equal(got, want) {
		t.Fatalf("FRA's outbox after the release = %v; want %v", got, want)
	}
	// Written after the decision: queued in the write's transaction.
	put(t, s, "c",
		classed(obj(id("indicator", 3), base, "c"), "B"),
		obj(id("indicator", 4), base, "unclassified"),
		classed(obj(id("indicator", 5), base, "e"), "A"),
		classed(obj(id("indicator", 6), base, "f"), "new class"))
	if got, want := outboxIDs(t, s, "FRA"), []string{"1:01", "2:02", "3:03", "4:05"}; !slices.Equal(got, want) {
		t.Errorf("FRA's outbox = %v; want %v (releasable classes only, in the order added)", got, want)
	}
	if got := outboxIDs(t, s, "USA"); len(got) != 0 {
		t.Errorf("USA's outbox = %v; want none (denied, needs consent)", got)
	}
	// Present and conflicting versions are not new: nothing is queued.
	put(t, s, "c", classed(obj(id("indicator", 5), base, "e"), "A"), classed(obj(id("indicator", 5), base, "changed"), "A"))
	heads, err := s.OutboxHeads(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 || heads[0].Partner != "FRA" || heads[0].Last != 4 || heads[0].Acked != 0 || heads[0].Lag() != 4 {
		t.Errorf("OutboxHeads = %+v; want FRA at 4, nothing acknowledged", heads)
	}
}

func testOutboxOnRelease(t *testing.T, s OutboxStore, st ledger.Storage) {
	for i := 1; i <= 3; i++ {
		put(t, s, "c", classed(obj(id("indicator", i), base, fmt.Sprint(i)), "C"))
	}
	put(t, s, "c", classed(obj(id("indicator", 1), base.Add(time.Hour), "1b"), "C"))
	c := classID(t, s, "C")
	if got := outboxIDs(t, s, "FRA"); len(got) != 0 {
		t.Fatalf("FRA's outbox before any decision = %v; want none", got)
	}
	before, err := st.Size(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	apply(t, s, tearline.ClassRelease{Class: c, Partner: "FRA", Outcome: tearline.Allow, Reasons: []string{"allowed"}})
	want := []string{"1:01", "2:02", "3:03", "4:01"}
	if got := outboxIDs(t, s, "FRA"); !slices.Equal(got, want) {
		t.Fatalf("FRA's outbox after the class became releasable = %v; want %v, every version in the order added", got, want)
	}
	if after, _ := st.Size(context.Background()); after != before+1 {
		t.Errorf("the release change added %d audit entries; want 1", after-before)
	}
	// Decided again (other reasons, another agreement): nothing new.
	apply(t, s, tearline.ClassRelease{Class: c, Partner: "FRA", Outcome: tearline.Allow, Agreement: "other@2", Reasons: []string{"allowed"}})
	// Withdrawn and released again: each version stays queued once.
	apply(t, s, tearline.ClassRelease{Class: c, Partner: "FRA", Outcome: tearline.Deny})
	apply(t, s, tearline.ClassRelease{Class: c, Partner: "FRA", Outcome: tearline.Allow})
	if got := outboxIDs(t, s, "FRA"); !slices.Equal(got, want) {
		t.Errorf("FRA's outbox after deciding again = %v; want %v, no version twice", got, want)
	}
	// A second partner gets its own numbering.
	apply(t, s, tearline.ClassRelease{Class: c, Partner: "DEU", Outcome: tearline.AllowVariant})
	if got := outboxIDs(t, s, "DEU"); !slices.Equal(got, want) {
		t.Errorf("DEU's outbox = %v; want %v", got, want)
	}
	put(t, s, "c", classed(obj(id("indicator", 7), base, "7"), "C"))
	if got := outboxIDs(t, s, "DEU"); len(got) != 5 || got[4] != "5:07" {
		t.Errorf("DEU's outbox after a new version = %v; want it fifth", got)
	}
}

func testOutboxWithdrawn(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	put(t, s, "c", classed(obj(id("indicator", 1), base, "a"), "A"), classed(obj(id("indicator", 2), base, "b"), "A"),
		classed(obj(id("indicator", 3), base, "c"), "A"))
	a := classID(t, s, "A")
	apply(t, s, tearline.ClassRelease{Class: a, Partner: "FRA", Outcome: tearline.Allow})
	outcomes := func() []tearline.Outcome {
		t.Helper()
		p, err := s.OutboxPage(ctx, "FRA", 0, 10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var out []tearline.Outcome
		for _, e := range p.Entries {
			out = append(out, e.Outcome)
		}
		return out
	}
	if got := outcomes(); !slices.Equal(got, []tearline.Outcome{tearline.Allow, tearline.Allow, tearline.Allow}) {
		t.Fatalf("outcomes = %v; want allow for all", got)
	}
	apply(t, s, tearline.ClassRelease{Class: a, Partner: "FRA", Outcome: tearline.NeedsPerson})
	if got := outcomes(); !slices.Equal(got, []tearline.Outcome{tearline.NeedsPerson, tearline.NeedsPerson, tearline.NeedsPerson}) {
		t.Errorf("outcomes after a withdrawal = %v; want needs a person for all", got)
	}
	err := s.ApplyReleases(ctx, tearline.ReleaseChange{Remove: []tearline.ClassRelease{{Class: a, Partner: "FRA"}}, Time: base, Actor: "test", Cause: "partner gone"})
	if err != nil {
		t.Fatal(err)
	}
	if got := outcomes(); !slices.Equal(got, []tearline.Outcome{tearline.Deny, tearline.Deny, tearline.Deny}) {
		t.Errorf("outcomes after the release was removed = %v; want deny (a missing release is a denial)", got)
	}
	apply(t, s, tearline.ClassRelease{Class: a, Partner: "FRA", Outcome: tearline.Allow})
	if _, err := s.DeleteObjects(ctx, tearline.ObjectQuery{Collection: "c", IDs: []string{id("indicator", 2)}}); err != nil {
		t.Fatal(err)
	}
	if got := outboxIDs(t, s, "FRA"); !slices.Equal(got, []string{"1:01", "2:deleted", "3:03"}) {
		t.Errorf("FRA's outbox after a delete = %v; want the deleted version's entry without its object", got)
	}
}

func testOutboxPaging(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	var objs []*tearline.Object
	for i := 1; i <= 10; i++ {
		objs = append(objs, classed(obj(id("indicator", i), base, fmt.Sprint(i)), "A"))
	}
	put(t, s, "c", objs...)
	apply(t, s, tearline.ClassRelease{Class: classID(t, s, "A"), Partner: "FRA", Outcome: tearline.Allow})
	p, err := s.OutboxPage(ctx, "FRA", 0, 4, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 4 || p.Through != 4 || p.Head != 10 || p.Entries[0].Collection == "" {
		t.Fatalf("first page = %d entries through %d, head %d; want 4 through 4, head 10, with the collection", len(p.Entries), p.Through, p.Head)
	}
	if got := p.Entries[2].Object; got.ID != objs[2].ID || got.Hash != objs[2].Hash || string(got.JSON) != string(objs[2].JSON) || !got.Version.Equal(base) {
		t.Errorf("entry 3 = %+v; want the third version as written", got)
	}
	// A byte budget stops the page once passed; the first entry is always read.
	p, err = s.OutboxPage(ctx, "FRA", 4, 100, len(objs[0].JSON)+1)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 2 || p.Through != 6 {
		t.Errorf("page with a %d-byte budget = %d entries through %d; want 2 through 6", len(objs[0].JSON)+1, len(p.Entries), p.Through)
	}
	p, err = s.OutboxPage(ctx, "FRA", 4, 100, 1)
	if err != nil || len(p.Entries) != 1 {
		t.Errorf("page with a 1-byte budget = %d entries, %v; want 1", len(p.Entries), err)
	}
	p, err = s.OutboxPage(ctx, "FRA", 10, 100, 1<<20)
	if err != nil || len(p.Entries) != 0 || p.Through != 10 || p.Head != 10 {
		t.Errorf("page past the end = %+v, %v; want empty through 10", p, err)
	}
	p, err = s.OutboxPage(ctx, "NLD", 0, 100, 1<<20)
	if err != nil || len(p.Entries) != 0 || p.Through != 0 || p.Head != 0 {
		t.Errorf("page of a partner without an outbox = %+v, %v; want empty", p, err)
	}
	if _, err := s.OutboxPage(ctx, "FRA", 0, 0, 1<<20); err == nil {
		t.Error("OutboxPage with limit 0 succeeded")
	}
}

func testOutboxAcknowledged(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	for i := 1; i <= 5; i++ {
		put(t, s, "c", classed(obj(id("indicator", i), base, fmt.Sprint(i)), "A"))
	}
	apply(t, s, tearline.ClassRelease{Class: classID(t, s, "A"), Partner: "FRA", Outcome: tearline.Allow})
	size := func() uint64 {
		n, err := st.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := size()
	at := base.Add(time.Minute)
	ev := ledger.Event{Kind: ledger.KindEnvelopeSent, Time: at, Actor: "test", Details: map[string]string{"recipient": "FRA"}}
	if err := s.RecordSent(ctx, "FRA", 3, at, 0, []ledger.Event{ev, ev}); err != nil {
		t.Fatal(err)
	}
	if n := size(); n != before+2 {
		t.Errorf("RecordSent added %d audit entries; want 2", n-before)
	}
	if got := outboxIDs(t, s, "FRA"); !slices.Equal(got, []string{"4:04", "5:05"}) {
		t.Errorf("FRA's outbox after acknowledging 3 = %v; want 4 and 5 left", got)
	}
	// An older acknowledgement does not move the head back.
	if err := s.RecordSent(ctx, "FRA", 1, at.Add(time.Second), 0, nil); err != nil {
		t.Fatal(err)
	}
	heads, err := s.OutboxHeads(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(heads) != 1 || heads[0].Acked != 3 || heads[0].Last != 5 || !heads[0].Sent.Equal(at.Add(time.Second)) || heads[0].Lag() != 2 {
		t.Errorf("heads = %+v; want FRA acknowledged 3 of 5, sent at %v", heads, at.Add(time.Second))
	}
	// Acknowledging what was never queued is refused, with nothing done.
	before = size()
	if err := s.RecordSent(ctx, "FRA", 6, at, 0, []ledger.Event{ev}); !errors.Is(err, tearline.ErrInvalid) {
		t.Errorf("RecordSent past the head = %v; want ErrInvalid", err)
	}
	if n := size(); n != before {
		t.Errorf("a refused RecordSent added %d audit entries", n-before)
	}
	// A partner without an outbox may be served (nothing) and acknowledge 0.
	if err := s.RecordSent(ctx, "NLD", 0, at, 0, nil); err != nil {
		t.Errorf("RecordSent for a partner without an outbox: %v", err)
	}
}

func delivery(sender string, after, through uint64, objs ...*tearline.Object) *mailbox.Delivery {
	d := &mailbox.Delivery{Sender: sender, After: after, Through: through, SenderHead: through + 2, Received: base.Add(time.Hour),
		Header: []byte("header"), Signature: []byte("signature")}
	for i, o := range objs {
		d.Provenance = append(d.Provenance, mailbox.Provenance{ObjectID: o.ID, Hash: o.Hash, Originators: []string{sender}, Proof: []byte{byte(i)}})
	}
	d.Record = func(results []tearline.PutResult) []ledger.Event {
		return []ledger.Event{{Kind: ledger.KindEnvelopeReceived, Time: base, Actor: sender,
			Details: map[string]string{"objects": fmt.Sprint(len(results))}}}
	}
	return d
}

func testDelivery(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	a, b := obj(id("indicator", 1), base, "a"), obj(id("indicator", 2), base, "b")
	res, err := s.Receive(ctx, "c", []*tearline.Object{a, b}, delivery("GBR", 0, 5, a, b))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(statuses(res), []tearline.PutStatus{tearline.Added, tearline.Added}) {
		t.Fatalf("Receive = %v; want both added", statuses(res))
	}
	c, err := s.InboxCursor(ctx, "GBR")
	if err != nil || c.Through != 5 || c.SenderHead != 7 || !c.Received.Equal(base.Add(time.Hour)) || c.Lag() != 2 {
		t.Fatalf("InboxCursor = %+v, %v; want through 5, sender head 7", c, err)
	}
	origins, err := s.Origins(ctx, a.ID)
	if err != nil || len(origins) != 1 || origins[0].Sender != "GBR" || origins[0].Hash != a.Hash || origins[0].Through != 5 ||
		string(origins[0].Header) != "header" || string(origins[0].Signature) != "signature" || len(origins[0].Proof) != 1 ||
		!slices.Equal(origins[0].Originators, []string{"GBR"}) {
		t.Fatalf("Origins(a) = %+v, %v; want GBR's batch 5 with a's proof", origins, err)
	}
	size, _ := st.Size(ctx)
	// The same batch again: refused as delivered, nothing stored twice.
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a, b}, delivery("GBR", 0, 5, a, b)); !errors.Is(err, mailbox.ErrDelivered) {
		t.Errorf("Receive of the same batch again = %v; want ErrDelivered", err)
	}
	// A later batch that does not start at the cursor: refused.
	x := obj(id("indicator", 3), base, "x")
	if _, err := s.Receive(ctx, "c", []*tearline.Object{x}, delivery("GBR", 6, 9, x)); !errors.Is(err, mailbox.ErrOutOfOrder) {
		t.Errorf("Receive after 6 with the cursor at 5 = %v; want ErrOutOfOrder", err)
	}
	if n, _ := st.Size(ctx); n != size {
		t.Errorf("refused deliveries added %d audit entries", n-size)
	}
	if n, _ := s.Count(ctx, "c"); n != 2 {
		t.Errorf("%d versions stored after refused deliveries; want 2", n)
	}
	// Another sender has its own cursor; a version already held is present.
	res, err = s.Receive(ctx, "c", []*tearline.Object{a, x}, delivery("USA", 0, 1, a, x))
	if err != nil || !slices.Equal(statuses(res), []tearline.PutStatus{tearline.Present, tearline.Added}) {
		t.Fatalf("Receive from USA = %v, %v; want present, added", statuses(res), err)
	}
	if origins, _ := s.Origins(ctx, a.ID); len(origins) != 2 || origins[1].Sender != "USA" {
		t.Errorf("Origins(a) = %+v; want GBR's and USA's", origins)
	}
	// Several objects at once: each as Origins gives it, none for an
	// object never received.
	never := id("indicator", 99)
	all, err := s.OriginsOf(ctx, []string{a.ID, x.ID, never})
	if err != nil {
		t.Fatal(err)
	}
	for _, oid := range []string{a.ID, x.ID, never} {
		one, err := s.Origins(ctx, oid)
		if err != nil || !reflect.DeepEqual(all[oid], one) {
			t.Errorf("OriginsOf(...)[%s] = %+v; want Origins' %+v (%v)", oid, all[oid], one, err)
		}
	}
	if _, ok := all[never]; ok || len(all) != 2 {
		t.Errorf("OriginsOf holds %d objects (%v); want a and x only", len(all), slices.Collect(maps.Keys(all)))
	}
	// A batch with nothing to send moves the cursor with no objects.
	empty := &mailbox.Delivery{Sender: "GBR", After: 5, Through: 8, SenderHead: 8, Received: base}
	if res, err := s.Receive(ctx, "c", nil, empty); err != nil || len(res) != 0 {
		t.Fatalf("Receive of an empty batch = %v, %v", res, err)
	}
	if c, _ := s.InboxCursor(ctx, "GBR"); c.Through != 8 || c.Lag() != 0 {
		t.Errorf("cursor after an empty batch = %+v; want through 8", c)
	}
	if c, _ := s.InboxCursor(ctx, "NLD"); c.Through != 0 || !c.Received.IsZero() {
		t.Errorf("cursor of an unknown sender = %+v; want zero", c)
	}
	for _, bad := range []*mailbox.Delivery{
		{Sender: "GBR", After: 8, Through: 8},
		{Sender: "", After: 8, Through: 9},
		{Sender: "GBR", After: 8, Through: 9, Header: []byte("h")},
	} {
		if _, err := s.Receive(ctx, "c", nil, bad); !errors.Is(err, tearline.ErrInvalid) {
			t.Errorf("Receive(%+v) = %v; want ErrInvalid", bad, err)
		}
	}
}

// testProvenanceChain: the chain a sender carried with a version is kept
// with its provenance byte for byte and read back by Origins and
// OriginsOf; a version received with none (as every row stored before
// chains were kept) reads with a nil chain, whether alone in its batch or
// next to one with a chain.
func testProvenanceChain(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	a, b, c := obj(id("indicator", 1), base, "a"), obj(id("indicator", 2), base, "b"), obj(id("indicator", 3), base, "c")
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a}, delivery("GBR", 0, 1, a)); err != nil {
		t.Fatal(err)
	}
	chain := []byte(`[{"from":"GBR","header":"aGVhZGVy","signature":"c2ln","proof":"AA=="}]`)
	d := delivery("USA", 0, 2, a, b, c)
	d.Provenance[0].Chain = chain
	d.Provenance[0].Originators = []string{"GBR"}
	d.Provenance[2].Chain = append(slices.Clone(chain), ' ')
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a, b, c}, d); err != nil {
		t.Fatal(err)
	}
	all, err := s.OriginsOf(ctx, []string{a.ID, b.ID, c.ID})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, sender  string
		chain       []byte
		originators []string
	}{
		{a.ID, "GBR", nil, []string{"GBR"}},
		{a.ID, "USA", chain, []string{"GBR"}},
		{b.ID, "USA", nil, []string{"USA"}},
		{c.ID, "USA", d.Provenance[2].Chain, []string{"USA"}},
	} {
		one, err := s.Origins(ctx, tc.id)
		if err != nil {
			t.Fatal(err)
		}
		for name, origins := range map[string][]mailbox.Origin{"Origins": one, "OriginsOf": all[tc.id]} {
			i := slices.IndexFunc(origins, func(o mailbox.Origin) bool { return o.Sender == tc.sender })
			if i < 0 {
				t.Errorf("%s(%s) = %+v; want a copy from %s", name, tc.id, origins, tc.sender)
				continue
			}
			o := origins[i]
			if !bytes.Equal(o.Chain, tc.chain) || (tc.chain == nil) != (o.Chain == nil) || !slices.Equal(o.Originators, tc.originators) {
				t.Errorf("%s(%s) from %s: chain %q, originators %v; want %q, %v", name, tc.id, tc.sender, o.Chain, o.Originators, tc.chain, tc.originators)
			}
		}
	}
}

func testDeliveryAtomic(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	a := classed(obj(id("indicator", 1), base, "a"), "A")
	size, _ := st.Size(ctx)
	d := delivery("GBR", 0, 3, a)
	// An audit entry that cannot be written fails the whole delivery.
	d.Record = func([]tearline.PutResult) []ledger.Event {
		return []ledger.Event{{Kind: "no-such-kind", Time: base, Actor: "x"}}
	}
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a}, d); err == nil {
		t.Fatal("Receive with an unwritable audit entry succeeded")
	}
	if n, _ := s.Count(ctx, "c"); n != 0 {
		t.Errorf("%d versions stored by a failed delivery; want none", n)
	}
	if c, _ := s.InboxCursor(ctx, "GBR"); c.Through != 0 {
		t.Errorf("cursor after a failed delivery = %d; want 0", c.Through)
	}
	if n, _ := st.Size(ctx); n != size {
		t.Errorf("a failed delivery added %d audit entries", n-size)
	}
	if o, _ := s.Origins(ctx, a.ID); len(o) != 0 {
		t.Errorf("a failed delivery left provenance %+v", o)
	}
	// The same delivery, written properly, goes through whole: objects,
	// their ingest entry and the delivery's own entry.
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a}, delivery("GBR", 0, 3, a)); err != nil {
		t.Fatal(err)
	}
	if n, _ := st.Size(ctx); n != size+2 {
		t.Errorf("a delivery of one object added %d audit entries; want 2 (ingested, received)", n-size)
	}
}

func testLinks(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	at := base.Add(time.Minute)
	if err := s.SetLinkError(ctx, "FRA", mailbox.Send, "connection refused", at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkError(ctx, "FRA", mailbox.Receive, "bad signature", at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkError(ctx, "DEU", mailbox.Send, "timeout", at); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkError(ctx, "FRA", mailbox.Send, "reset", at.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := s.SetLinkError(ctx, "DEU", mailbox.Send, "", at); err != nil {
		t.Fatal(err)
	}
	a := obj(id("indicator", 1), base, "a")
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a}, delivery("GBR", 0, 1, a)); err != nil {
		t.Fatal(err)
	}
	if err := s.RecordSent(ctx, "GBR", 0, at, 0, nil); err != nil {
		t.Fatal(err)
	}
	l, err := s.Links(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := []mailbox.LinkError{{Partner: "FRA", Direction: mailbox.Receive, Message: "bad signature", At: at},
		{Partner: "FRA", Direction: mailbox.Send, Message: "reset", At: at.Add(time.Second)}}
	if !slices.EqualFunc(l.Errors, want, func(a, b mailbox.LinkError) bool {
		return a == b || (a.Partner == b.Partner && a.Direction == b.Direction && a.Message == b.Message && a.At.Equal(b.At))
	}) {
		t.Errorf("Links().Errors = %+v; want %+v", l.Errors, want)
	}
	if len(l.In) != 1 || l.In[0].Sender != "GBR" || l.In[0].Through != 1 {
		t.Errorf("Links().In = %+v; want GBR through 1", l.In)
	}
	if len(l.Out) != 1 || l.Out[0].Partner != "GBR" || !l.Out[0].Sent.Equal(at) {
		t.Errorf("Links().Out = %+v; want GBR served at %v", l.Out, at)
	}
}

// testOutboxConcurrent writes versions of one class from several
// goroutines while the class becomes releasable: whichever commits first,
// every version ends up in the outbox exactly once, numbered without gaps.
func testOutboxConcurrent(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	put(t, s, "c", classed(obj(id("indicator", 0), base, "first"), "C"))
	c := classID(t, s, "C")
	const writers, each = 4, 15
	var wg sync.WaitGroup
	errs := make(chan error, writers+1)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				n := 1 + w*each + i
				if _, err := s.PutObjects(ctx, "c", []*tearline.Object{classed(obj(id("indicator", n), base, fmt.Sprint(n)), "C")}); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Go(func() {
		time.Sleep(2 * time.Millisecond)
		ch := tearline.ReleaseChange{Set: []tearline.ClassRelease{{Class: c, Partner: "FRA", Outcome: tearline.Allow}}, Time: base, Actor: "test", Cause: "test"}
		if err := s.ApplyReleases(ctx, ch); err != nil {
			errs <- err
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	p, err := s.OutboxPage(ctx, "FRA", 0, 1000, 1<<30)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for i, e := range p.Entries {
		if e.Seq != uint64(i+1) {
			t.Errorf("entry %d has sequence number %d; want %d (no gaps)", i, e.Seq, i+1)
		}
		seen[e.Object.ID]++
	}
	if total := 1 + writers*each; len(seen) != total || len(p.Entries) != total {
		t.Errorf("FRA's outbox holds %d entries for %d versions; want every one of the %d versions once", len(p.Entries), len(seen), total)
	}
}

// testOutboxEcho: a version received from a partner and queued for it
// again says so, so that it is not sent back; for others it does not.
func testOutboxEcho(t *testing.T, s OutboxStore, st ledger.Storage) {
	ctx := context.Background()
	a, b := classed(obj(id("indicator", 1), base, "a"), "A"), classed(obj(id("indicator", 2), base, "b"), "A")
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a}, delivery("GBR", 0, 1, a)); err != nil {
		t.Fatal(err)
	}
	put(t, s, "c", b)
	c := classID(t, s, "A")
	apply(t, s, tearline.ClassRelease{Class: c, Partner: "GBR", Outcome: tearline.Allow},
		tearline.ClassRelease{Class: c, Partner: "FRA", Outcome: tearline.Allow})
	for _, tc := range []struct {
		partner string
		want    []bool
	}{{"GBR", []bool{true, false}}, {"FRA", []bool{false, false}}} {
		p, err := s.OutboxPage(ctx, tc.partner, 0, 10, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var got []bool
		for _, e := range p.Entries {
			got = append(got, e.Echo)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s's entries echo %v; want %v (only what %s sent here)", tc.partner, got, tc.want, tc.partner)
		}
	}
}
