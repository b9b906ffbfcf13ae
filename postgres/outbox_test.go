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

// TestReceipts runs the receipts contract.
func TestReceipts(t *testing.T) {
	storetest.RunReceipts(t, func(t *testing.T) (storetest.ReceiptStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}
