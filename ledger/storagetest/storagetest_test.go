package storagetest_test

import (
	"testing"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/ledger/storagetest"
)

func TestMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) ledger.Storage { return ledger.NewMemory() })
}
