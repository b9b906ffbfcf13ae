package postgres

import (
	"testing"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/storetest"
)

// TestHub runs the hub mailbox contract, each subtest on a database of its
// own.
func TestHub(t *testing.T) {
	storetest.RunHub(t, func(t *testing.T) mailbox.HubStore { return openStore(t) })
}
