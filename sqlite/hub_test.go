package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/storetest"
)

// TestHub runs the hub mailbox contract, each subtest on a database file
// of its own.
func TestHub(t *testing.T) {
	storetest.RunHub(t, func(t *testing.T) mailbox.HubStore {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "hub.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}
