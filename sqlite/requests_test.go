package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestRequests runs the consent request storage contract.
func TestRequests(t *testing.T) {
	storetest.RunRequests(t, func(t *testing.T) (storetest.RequestStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}
