package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestOutbox runs the federation state contract, each subtest on a
// database file of its own.
func TestOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) (storetest.OutboxStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}

// TestReceipts runs the receipts contract.
func TestReceipts(t *testing.T) {
	storetest.RunReceipts(t, func(t *testing.T) (storetest.ReceiptStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}
