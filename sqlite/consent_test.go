package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestConsent runs the consent storage contract.
func TestConsent(t *testing.T) {
	storetest.RunConsent(t, func(t *testing.T) (storetest.ConsentStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}
