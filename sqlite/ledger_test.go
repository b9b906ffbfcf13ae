package sqlite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/ledger/storagetest"
	"github.com/tearline/tearline/storetest"
)

// TestLedgerContract runs the contract every ledger.Storage meets, each
// subtest on a database file of its own.
func TestLedgerContract(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ledger.Storage {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "ledger.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s.Ledger()
	})
}

// TestLedgerSurvivesRestart checks that the log is in the file, not in the
// Store, and that a second Store on the same file sees appends and conflicts.
func TestLedgerSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if err := s.Ledger().Append(ctx, 0, [][]byte{[]byte("a"), []byte("b")}, nil); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := s.Ledger().AddCheckpoint(ctx, []byte("cp")); err != nil {
		t.Fatalf("AddCheckpoint: %v", err)
	}
	other, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer other.Close()
	if err := other.Ledger().Append(ctx, 0, [][]byte{[]byte("fork")}, nil); !errors.Is(err, ledger.ErrConflict) {
		t.Errorf("Append at 0 through a second Store error = %v; want ErrConflict", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	s, err = Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()
	l := s.Ledger()
	if n, err := l.Size(ctx); err != nil || n != 2 {
		t.Errorf("Size after reopen = %d, %v; want 2", n, err)
	}
	if e, err := l.Entry(ctx, 1); err != nil || string(e) != "b" {
		t.Errorf("Entry(1) after reopen = %q, %v; want %q", e, err, "b")
	}
	if cs, err := l.Checkpoints(ctx); err != nil || len(cs) != 1 || string(cs[0]) != "cp" {
		t.Errorf("Checkpoints after reopen = %q, %v; want [cp]", cs, err)
	}
}

func TestAuditedWrites(t *testing.T) {
	storetest.RunAudited(t, func(t *testing.T) (tearline.ObjectStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s, s.Ledger()
	})
}

func TestReleases(t *testing.T) {
	storetest.RunReleases(t, func(t *testing.T) (storetest.ReleaseStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s, s.Ledger()
	})
}

func TestUsers(t *testing.T) {
	storetest.RunUsers(t, func(t *testing.T) storetest.UserStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestLabelChanges(t *testing.T) {
	storetest.RunLabelChanges(t, func(t *testing.T) (storetest.ReleaseStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s, s.Ledger()
	})
}

// TestLedgerTreeMigration: a log written with the tree in ledger_nodes,
// keyed by level and index, reads the same after migration 12 moved it to
// ledger_tree: it verifies, and gives the same roots and proofs.
func TestLedgerTreeMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	l := ledger.New(s.Ledger())
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range 77 {
		ev := ledger.Event{Kind: ledger.KindObjectViewed, Time: at.Add(time.Duration(i) * time.Second), Actor: "FRA", Subjects: []string{fmt.Sprint("o", i)}}
		if _, err := l.Append(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	root, err := l.Root(ctx, 77)
	if err != nil {
		t.Fatal(err)
	}
	proof, err := l.InclusionProof(ctx, 40, 77)
	if err != nil {
		t.Fatal(err)
	}
	// Back to the layout before migration 12, as an older build wrote it.
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE ledger_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID;
		INSERT INTO ledger_nodes SELECT key & 63, (((key >> 6) + 1) >> (key & 63)) - 1, hash FROM ledger_tree;
		DROP TABLE ledger_tree;
		DELETE FROM schema_migrations WHERE version = 12`); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.db.QueryRowContext(ctx, `SELECT count(*) FROM ledger_nodes WHERE level = 4 AND idx = 3`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the old layout has %d rows for node 4/3, %v; want 1", n, err)
	}
	s.Close()
	if s, err = Open(ctx, path); err != nil {
		t.Fatalf("Open, migrating: %v", err)
	}
	defer s.Close()
	l = ledger.New(s.Ledger())
	if err := ledger.Verify(ctx, s.Ledger()); err != nil {
		t.Errorf("Verify after migration: %v", err)
	}
	if got, err := l.Root(ctx, 77); err != nil || got != root {
		t.Errorf("Root(77) after migration = %x, %v; want %x", got, err, root)
	}
	got, err := l.InclusionProof(ctx, 40, 77)
	if err != nil || len(got) != len(proof) {
		t.Fatalf("InclusionProof(40, 77) after migration = %x, %v; want %x", got, err, proof)
	}
	for i := range got {
		if !bytes.Equal(got[i], proof[i]) {
			t.Errorf("InclusionProof(40, 77)[%d] after migration = %x; want %x", i, got[i], proof[i])
		}
	}
}
