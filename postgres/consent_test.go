package postgres

import (
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestConsent runs the consent storage contract.
func TestConsent(t *testing.T) {
	storetest.RunConsent(t, func(t *testing.T) (storetest.ConsentStore, ledger.Storage) {
		s := openStore(t)
		return s, s.Ledger()
	})
}
