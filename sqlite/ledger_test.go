package sqlite

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

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
