package storetest

import (
	"context"
	"slices"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

// AuditedOpener returns a new, empty store and its audit log storage.
type AuditedOpener func(t *testing.T) (tearline.ObjectStore, ledger.Storage)

// RunAudited checks that a store records what it ingests in its audit log,
// in the same transaction: one object-ingested entry per write that added
// objects, naming them in input order; none for a write that added
// nothing or failed.
func RunAudited(t *testing.T, open AuditedOpener) {
	ctx := context.Background()
	s, st := open(t)
	t.Cleanup(func() { s.Close() })
	mustCollection(t, s, "c")
	size := func() uint64 {
		t.Helper()
		n, err := st.Size(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a, b := obj(id("indicator", 1), base, "a"), obj(id("indicator", 2), base, "b")
	put(t, s, "c", b, a)
	if n := size(); n != 1 {
		t.Fatalf("audit log holds %d entries after one write; want 1", n)
	}
	data, err := st.Entry(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	ev, err := ledger.DecodeEvent(data)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Kind != ledger.KindObjectIngested || !slices.Equal(ev.Subjects, []string{b.ID, a.ID}) {
		t.Errorf("audit entry = %+v; want object-ingested naming %s, %s", ev, b.ID, a.ID)
	}
	// Nothing added: no entry.
	put(t, s, "c", a, obj(id("indicator", 1), base, "changed"))
	if n := size(); n != 1 {
		t.Errorf("audit log holds %d entries after a write that added nothing; want 1", n)
	}
	// A failed write leaves no entry.
	if _, err := s.PutObjects(ctx, "nope", []*tearline.Object{obj(id("indicator", 3), base, "c")}); err == nil {
		t.Fatal("PutObjects into an unknown collection succeeded")
	}
	if n := size(); n != 1 {
		t.Errorf("audit log holds %d entries after a failed write; want 1", n)
	}
	put(t, s, "c", obj(id("indicator", 3), base, "c"))
	if n := size(); n != 2 {
		t.Errorf("audit log holds %d entries after a second write; want 2", n)
	}
	if err := ledger.Verify(ctx, st, nil); err != nil {
		t.Errorf("the audit log does not verify: %v", err)
	}
}
