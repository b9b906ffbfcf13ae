package postgres

import (
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestOutbox runs the federation state contract, each subtest on a
// database of its own.
func TestOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) (storetest.OutboxStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}
