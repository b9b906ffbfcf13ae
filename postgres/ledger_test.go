package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/ledger/storagetest"
	"github.com/tearline/tearline/storetest"
)

// TestLedgerContract runs the contract every ledger.Storage meets, each
// subtest on a database of its own.
func TestLedgerContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ledger.Storage {
		return openStore(t).Ledger()
	})
}

// TestLedgerConcurrentStores appends through two Stores, as two replicas
// would, each with its own ledger.Log: every append either commits at the
// size it read or is refused with ErrConflict, and the log grows without
// forks or gaps.
func TestLedgerConcurrentStores(t *testing.T) {
	db := newDatabase(t)
	replicas := []*Store{openStoreAt(t, db), openStoreAt(t, db)}
	ctx := context.Background()
	const writers, appends = 6, 15
	var (
		mu        sync.Mutex
		committed = map[uint64]string{}
		errs      []error
		wg        sync.WaitGroup
	)
	for w := range writers {
		wg.Go(func() {
			l := ledger.New(replicas[w%2].Ledger())
			for a := 0; a < appends; {
				e := ledger.Event{Kind: ledger.KindObjectViewed, Time: time.Date(2026, 3, 1, 12, 0, a, 0, time.UTC), Actor: fmt.Sprintf("w%d-%d", w, a)}
				first, err := l.Append(ctx, e)
				if errors.Is(err, ledger.ErrConflict) {
					continue // another replica appended first; retry
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				} else if prev, dup := committed[first]; dup {
					errs = append(errs, fmt.Errorf("index %d given to %s and %s", first, prev, e.Actor))
				} else {
					committed[first] = e.Actor
				}
				mu.Unlock()
				if err != nil {
					return
				}
				a++
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}
	const total = writers * appends
	l := ledger.New(replicas[0].Ledger())
	if n, err := l.Size(ctx); err != nil || n != total || len(committed) != total {
		t.Fatalf("Size = %d, %v with %d appends committed; want %d", n, err, len(committed), total)
	}
	for i := range uint64(total) {
		b, err := l.Entry(ctx, i)
		if err != nil {
			t.Fatalf("Entry(%d): %v", i, err)
		}
		e, err := ledger.DecodeEvent(b)
		if err != nil || e.Actor != committed[i] {
			t.Errorf("Entry(%d) actor = %q, %v; want %q", i, e.Actor, err, committed[i])
		}
	}
	root, err := l.Root(ctx, total)
	if err != nil {
		t.Fatalf("Root: %v", err)
	}
	for _, i := range []uint64{0, total / 2, total - 1} {
		p, err := l.InclusionProof(ctx, i, total)
		if err != nil {
			t.Fatalf("InclusionProof(%d): %v", i, err)
		}
		b, _ := l.Entry(ctx, i)
		if err := ledger.VerifyInclusion(b, i, total, root, p); err != nil {
			t.Errorf("VerifyInclusion(%d): %v", i, err)
		}
	}
}

func TestAuditedWrites(t *testing.T) {
	storetest.RunAudited(t, func(t *testing.T) (tearline.ObjectStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}

func TestReleases(t *testing.T) {
	storetest.RunReleases(t, func(t *testing.T) (storetest.ReleaseStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}

func TestUsers(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) storetest.UserStore { return openStore(t) })
}

func TestLabelChanges(t *testing.T) {
	storetest.RunLabelChanges(t, func(t *testing.T) (storetest.ReleaseStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}
