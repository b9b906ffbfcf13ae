// Package storagetest is the contract every ledger.Storage must meet. Each
// store adapter runs Run against a real instance of its database; a behaviour
// that differs between storages is a bug in one of them.
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/transparency-dev/merkle/compact"

	"github.com/tearline/tearline/ledger"
)

// Opener returns a new, empty storage. Closing whatever backs it is the
// opener's business (t.Cleanup).
type Opener func(t *testing.T) ledger.Storage

// Run runs the contract suite. Each subtest opens its own storage.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s ledger.Storage)
	}{
		{"Empty", testEmpty},
		{"AppendBatches", testAppendBatches},
		{"StaleFirst", testStaleFirst},
		{"ConflictStoresNothing", testConflictStoresNothing},
		{"ConcurrentAppends", testConcurrentAppends},
		{"KeepsCopies", testKeepsCopies},
		{"Checkpoints", testCheckpoints},
		{"NotFound", testNotFound},
		{"LogRoundTrip", testLogRoundTrip},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// entry returns a distinct entry for i.
func entry(i int) []byte { return fmt.Appendf(nil, "entry %d", i) }

// node returns a node at id with a hash derived from id and tag, so that two
// appends of the same id with different tags store different bytes.
func node(level uint, index uint64, tag string) ledger.Node {
	h := sha256.Sum256(fmt.Appendf(nil, "%d/%d/%s", level, index, tag))
	return ledger.Node{ID: compact.NewNodeID(level, index), Hash: h[:]}
}

func entries(from, to int) [][]byte {
	var es [][]byte
	for i := from; i < to; i++ {
		es = append(es, entry(i))
	}
	return es
}

func mustAppend(t *testing.T, s ledger.Storage, first uint64, es [][]byte, ns []ledger.Node) {
	t.Helper()
	if err := s.Append(context.Background(), first, es, ns); err != nil {
		t.Fatalf("Append(first %d, %d entries, %d nodes): %v", first, len(es), len(ns), err)
	}
}

func checkSize(t *testing.T, s ledger.Storage, want uint64) {
	t.Helper()
	if n, err := s.Size(context.Background()); err != nil || n != want {
		t.Errorf("Size() = %d, %v; want %d", n, err, want)
	}
}

func checkEntries(t *testing.T, s ledger.Storage, want [][]byte) {
	t.Helper()
	for i, w := range want {
		got, err := s.Entry(context.Background(), uint64(i))
		if err != nil || !bytes.Equal(got, w) {
			t.Errorf("Entry(%d) = %q, %v; want %q", i, got, err, w)
		}
	}
}

func checkHashes(t *testing.T, s ledger.Storage, want []ledger.Node) {
	t.Helper()
	ids := make([]compact.NodeID, len(want))
	for i, n := range want {
		ids[i] = n.ID
	}
	got, err := s.Hashes(context.Background(), ids)
	if err != nil {
		t.Errorf("Hashes(%v): %v", ids, err)
		return
	}
	if len(got) != len(want) {
		t.Errorf("Hashes(%v) returned %d hashes; want %d", ids, len(got), len(want))
		return
	}
	for i, n := range want {
		if !bytes.Equal(got[i], n.Hash) {
			t.Errorf("Hashes(%v)[%d] = %x; want %x", ids, i, got[i], n.Hash)
		}
	}
}

func testEmpty(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	checkSize(t, s, 0)
	if e, err := s.Entry(ctx, 0); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Entry(0) on empty storage = %q, %v; want ErrNotFound", e, err)
	}
	if hs, err := s.Hashes(ctx, nil); err != nil || len(hs) != 0 {
		t.Errorf("Hashes(no ids) = %x, %v; want none", hs, err)
	}
	if cs, err := s.Checkpoints(ctx); err != nil || len(cs) != 0 {
		t.Errorf("Checkpoints() on empty storage = %q, %v; want none", cs, err)
	}
}

func testAppendBatches(t *testing.T, s ledger.Storage) {
	want := entries(0, 7)
	n1 := []ledger.Node{node(0, 0, "a"), node(0, 1, "a"), node(1, 0, "a")}
	n2 := []ledger.Node{node(0, 2, "b")}
	n3 := []ledger.Node{node(0, 3, "c"), node(1, 1, "c"), node(2, 0, "c"), node(0, 4, "c"),
		node(0, 5, "c"), node(1, 2, "c"), node(0, 6, "c")}

	mustAppend(t, s, 0, want[:2], n1)
	checkSize(t, s, 2)
	mustAppend(t, s, 2, want[2:3], n2)
	checkSize(t, s, 3)
	mustAppend(t, s, 3, want[3:], n3)
	checkSize(t, s, 7)

	checkEntries(t, s, want)
	all := append(append(append([]ledger.Node{}, n1...), n2...), n3...)
	checkHashes(t, s, all)
	// Hashes answers in the order asked, repeats included.
	checkHashes(t, s, []ledger.Node{n3[2], n1[0], n3[6], n1[0], n2[0]})
}

func testStaleFirst(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	if err := s.Append(ctx, 1, entries(0, 1), nil); !errors.Is(err, ledger.ErrConflict) {
		t.Errorf("Append(first 1) on empty storage error = %v; want ErrConflict", err)
	}
	mustAppend(t, s, 0, entries(0, 3), []ledger.Node{node(0, 0, "a")})
	for _, first := range []uint64{0, 2, 4, math.MaxInt64, math.MaxUint64} {
		if err := s.Append(ctx, first, entries(10, 11), nil); !errors.Is(err, ledger.ErrConflict) {
			t.Errorf("Append(first %d) at size 3 error = %v; want ErrConflict", first, err)
		}
	}
	mustAppend(t, s, 3, entries(3, 4), nil)
	checkSize(t, s, 4)
	checkEntries(t, s, entries(0, 4))
}

// testConflictStoresNothing checks that a refused append leaves no entry and
// no node behind, and overwrites neither.
func testConflictStoresNothing(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	kept := []ledger.Node{node(0, 0, "kept"), node(0, 1, "kept"), node(1, 0, "kept")}
	mustAppend(t, s, 0, entries(0, 2), kept)

	bad := [][]byte{[]byte("forged 0"), []byte("forged 1"), []byte("forged 2")}
	badNodes := []ledger.Node{node(0, 0, "forged"), node(1, 0, "forged"), node(0, 2, "forged"), node(5, 9, "forged")}
	for _, first := range []uint64{0, 1, 3} {
		if err := s.Append(ctx, first, bad, badNodes); !errors.Is(err, ledger.ErrConflict) {
			t.Fatalf("Append(first %d) at size 2 error = %v; want ErrConflict", first, err)
		}
	}
	checkSize(t, s, 2)
	checkEntries(t, s, entries(0, 2))
	checkHashes(t, s, kept)
	for _, n := range badNodes[2:] {
		if h, err := s.Hashes(ctx, []compact.NodeID{n.ID}); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Hashes(%v) after refused append = %x, %v; want ErrNotFound", n.ID, h, err)
		}
	}
	if e, err := s.Entry(ctx, 2); !errors.Is(err, ledger.ErrNotFound) {
		t.Errorf("Entry(2) after refused append = %q, %v; want ErrNotFound", e, err)
	}
}

// testConcurrentAppends races appenders at the same first: exactly one may
// win, or the log would fork.
func testConcurrentAppends(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	mustAppend(t, s, 0, entries(0, 1), []ledger.Node{node(0, 0, "base")})
	const racers = 8
	errs := make([]error, racers)
	var wg sync.WaitGroup
	for r := range racers {
		wg.Go(func() {
			tag := fmt.Sprintf("racer %d", r)
			errs[r] = s.Append(ctx, 1, [][]byte{[]byte(tag), []byte(tag + " again")},
				[]ledger.Node{node(0, 1, tag), node(0, 2, tag), node(1, 0, tag)})
		})
	}
	wg.Wait()
	winner := -1
	for r, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("racers %d and %d both appended at 1", winner, r)
		case err == nil:
			winner = r
		case !errors.Is(err, ledger.ErrConflict):
			t.Errorf("racer %d: Append error = %v; want nil or ErrConflict", r, err)
		}
	}
	if winner < 0 {
		t.Fatal("no racer appended")
	}
	tag := fmt.Sprintf("racer %d", winner)
	checkSize(t, s, 3)
	checkEntries(t, s, [][]byte{entry(0), []byte(tag), []byte(tag + " again")})
	checkHashes(t, s, []ledger.Node{node(0, 0, "base"), node(0, 1, tag), node(0, 2, tag), node(1, 0, tag)})
}

// testKeepsCopies checks that the storage keeps the bytes it was given, not
// the caller's slices, and hands out bytes the caller may change.
func testKeepsCopies(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	e := []byte("entry")
	n := node(0, 0, "a")
	h := append([]byte(nil), n.Hash...)
	c := []byte("checkpoint")
	mustAppend(t, s, 0, [][]byte{e}, []ledger.Node{n})
	if err := s.AddCheckpoint(ctx, c); err != nil {
		t.Fatalf("AddCheckpoint: %v", err)
	}
	e[0], n.Hash[0], c[0] = 'X', n.Hash[0]^0xff, 'X'

	got, err := s.Entry(ctx, 0)
	if err != nil || string(got) != "entry" {
		t.Fatalf("Entry(0) after changing the appended slice = %q, %v; want %q", got, err, "entry")
	}
	got[0] = 'Y'
	checkEntries(t, s, [][]byte{[]byte("entry")})

	hs, err := s.Hashes(ctx, []compact.NodeID{n.ID})
	if err != nil || len(hs) != 1 || !bytes.Equal(hs[0], h) {
		t.Fatalf("Hashes after changing the appended hash = %x, %v; want %x", hs, err, h)
	}
	hs[0][0] ^= 0xff
	checkHashes(t, s, []ledger.Node{{ID: n.ID, Hash: h}})

	cs, err := s.Checkpoints(ctx)
	if err != nil || len(cs) != 1 || string(cs[0]) != "checkpoint" {
		t.Fatalf("Checkpoints after changing the added slice = %q, %v; want [checkpoint]", cs, err)
	}
	cs[0][0] = 'Y'
	if cs, err := s.Checkpoints(ctx); err != nil || len(cs) != 1 || string(cs[0]) != "checkpoint" {
		t.Errorf("Checkpoints after changing a returned slice = %q, %v; want [checkpoint]", cs, err)
	}
}

func testCheckpoints(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	latest, hasLatest := s.(interface {
		LatestCheckpoint(ctx context.Context) ([]byte, error)
	})
	if hasLatest {
		if c, err := latest.LatestCheckpoint(ctx); err != nil || c != nil {
			t.Errorf("LatestCheckpoint() on an empty log = %q, %v; want nil", c, err)
		}
	}
	var want [][]byte
	for i := range 12 {
		c := fmt.Appendf(nil, "tearline.example/log\n%d\nroot%02d=\n\n— sig %d\n", i, i, i)
		if i == 5 {
			c = append(c, 0, 0xff, '\n') // bytes, not text
		}
		if err := s.AddCheckpoint(ctx, c); err != nil {
			t.Fatalf("AddCheckpoint(%d): %v", i, err)
		}
		want = append(want, c)
		// Checkpoints are independent of the log's entries.
		if i == 3 {
			mustAppend(t, s, 0, entries(0, 2), nil)
		}
	}
	// The same bytes twice are two checkpoints.
	if err := s.AddCheckpoint(ctx, want[0]); err != nil {
		t.Fatalf("AddCheckpoint(repeat): %v", err)
	}
	want = append(want, want[0])
	got, err := s.Checkpoints(ctx)
	if err != nil {
		t.Fatalf("Checkpoints: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("Checkpoints() returned %d; want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Errorf("Checkpoints()[%d] = %q; want %q", i, got[i], want[i])
		}
	}
	if hasLatest {
		last := fmt.Appendf(nil, "tearline.example/log\n99\nroot99=\n\n— sig 99\n")
		if err := s.AddCheckpoint(ctx, last); err != nil {
			t.Fatalf("AddCheckpoint(last): %v", err)
		}
		if c, err := latest.LatestCheckpoint(ctx); err != nil || !bytes.Equal(c, last) {
			t.Errorf("LatestCheckpoint() = %q, %v; want %q, the one stored last", c, err, last)
		}
	}
}

func testNotFound(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	present := []ledger.Node{node(0, 0, "a"), node(0, 1, "a"), node(1, 0, "a")}
	mustAppend(t, s, 0, entries(0, 2), present)
	for _, i := range []uint64{2, 3, 1 << 40, math.MaxInt64, math.MaxInt64 + 1, math.MaxUint64} {
		if e, err := s.Entry(ctx, i); !errors.Is(err, ledger.ErrNotFound) {
			t.Errorf("Entry(%d) at size 2 = %q, %v; want ErrNotFound", i, e, err)
		}
	}
	missing := []compact.NodeID{
		compact.NewNodeID(0, 2), compact.NewNodeID(1, 1), compact.NewNodeID(2, 0),
		compact.NewNodeID(0, math.MaxInt64), compact.NewNodeID(0, math.MaxUint64), compact.NewNodeID(63, 0),
	}
	for _, id := range missing {
		// A missing id fails the whole call, wherever it stands.
		for _, ids := range [][]compact.NodeID{{id}, {present[0].ID, id}, {id, present[2].ID, present[1].ID}} {
			if hs, err := s.Hashes(ctx, ids); !errors.Is(err, ledger.ErrNotFound) {
				t.Errorf("Hashes(%v) = %x, %v; want ErrNotFound", ids, hs, err)
			}
		}
	}
}

// testLogRoundTrip drives a ledger.Log over the storage and checks its roots
// against a plain recursive RFC 6962 computation over the entries read back,
// and its proofs with the verifiers.
func testLogRoundTrip(t *testing.T, s ledger.Storage) {
	ctx := context.Background()
	l := ledger.New(s)
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	kinds := []ledger.Kind{ledger.KindObjectIngested, ledger.KindLabelChanged, ledger.KindReleaseDecided, ledger.KindEnvelopeSent}
	var (
		events []ledger.Event
		roots  = map[uint64][32]byte{}
	)
	for b, n := range []int{1, 1, 3, 2, 8, 1, 5, 11} { // sizes 1 2 5 7 15 16 21 32
		var batch []ledger.Event
		for range n {
			i := len(events) + len(batch)
			batch = append(batch, ledger.Event{
				Kind:     kinds[i%len(kinds)],
				Time:     t0.Add(time.Duration(i) * time.Second),
				Actor:    fmt.Sprintf("analyst-%d@gbr", i%3),
				Subjects: []string{fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i)},
			})
		}
		first, err := l.Append(ctx, batch...)
		if err != nil {
			t.Fatalf("batch %d: Log.Append: %v", b, err)
		}
		if first != uint64(len(events)) {
			t.Errorf("batch %d: Log.Append returned first %d; want %d", b, first, len(events))
		}
		events = append(events, batch...)
		size := uint64(len(events))
		checkSize(t, s, size)
		root, err := l.Root(ctx, size)
		if err != nil {
			t.Fatalf("Root(%d): %v", size, err)
		}
		roots[size] = root
	}

	size := uint64(len(events))
	var leaves [][32]byte
	for i, e := range events {
		got, err := s.Entry(ctx, uint64(i))
		if err != nil {
			t.Fatalf("Entry(%d): %v", i, err)
		}
		want, err := e.Encode()
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("Entry(%d) = %s; want %s", i, got, want)
		}
		leaves = append(leaves, ledger.LeafHash(got))
	}
	for m, root := range roots {
		if want := referenceRoot(leaves[:m]); root != want {
			t.Errorf("Root(%d) = %x; want %x", m, root, want)
		}
	}
	for i := range size {
		for _, m := range []uint64{i + 1, size} {
			p, err := l.InclusionProof(ctx, i, m)
			if err != nil {
				t.Fatalf("InclusionProof(%d, %d): %v", i, m, err)
			}
			e, _ := s.Entry(ctx, i)
			if err := ledger.VerifyInclusion(e, i, m, referenceRoot(leaves[:m]), p); err != nil {
				t.Errorf("VerifyInclusion(%d, %d): %v", i, m, err)
			}
		}
	}
	for m, root := range roots {
		p, err := l.ConsistencyProof(ctx, m, size)
		if err != nil {
			t.Fatalf("ConsistencyProof(%d, %d): %v", m, size, err)
		}
		if err := ledger.VerifyConsistency(m, size, root, roots[size], p); err != nil {
			t.Errorf("VerifyConsistency(%d, %d): %v", m, size, err)
		}
	}

	// A second Log over the same storage, as after a restart, carries on.
	l2 := ledger.New(s)
	if first, err := l2.Append(ctx, events[0]); err != nil || first != size {
		t.Fatalf("Append through a new Log = %d, %v; want %d", first, err, size)
	}
	e, _ := events[0].Encode()
	leaves = append(leaves, ledger.LeafHash(e))
	if root, err := l2.Root(ctx, size+1); err != nil || root != referenceRoot(leaves) {
		t.Errorf("Root(%d) through a new Log = %x, %v; want %x", size+1, root, err, referenceRoot(leaves))
	}
}

// referenceRoot is the RFC 6962 Merkle tree hash, computed the slow, obvious
// way.
func referenceRoot(leaves [][32]byte) [32]byte {
	switch len(leaves) {
	case 0:
		return ledger.EmptyRoot()
	case 1:
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	l, r := referenceRoot(leaves[:k]), referenceRoot(leaves[k:])
	return sha256.Sum256(append(append([]byte{1}, l[:]...), r[:]...))
}
