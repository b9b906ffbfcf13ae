package postgres

import (
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestRecall runs the recall storage contract, each subtest on a database
// of its own.
func TestRecall(t *testing.T) {
	storetest.RunRecall(t, func(t *testing.T) (storetest.RecallStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}
