package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestRecall runs the recall storage contract, each subtest on a database
// file of its own.
func TestRecall(t *testing.T) {
	storetest.RunRecall(t, func(t *testing.T) (storetest.RecallStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}
