package postgres

import (
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestRequests runs the consent request storage contract.
func TestRequests(t *testing.T) {
	storetest.RunRequests(t, func(t *testing.T) (storetest.RequestStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}
