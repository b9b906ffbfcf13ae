package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/storetest"
)

// TestOutbox runs the federation state contract, each subtest on a
// database file of its own.
func TestOutbox(t *testing.T) {
	storetest.RunOutbox(t, func(t *testing.T) (storetest.OutboxStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}

// TestReceipts runs the receipts contract.
func TestReceipts(t *testing.T) {
	storetest.RunReceipts(t, func(t *testing.T) (storetest.ReceiptStore, ledger.Storage) {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return s, s.Ledger()
	})
}

// TestProvenanceChainMigration: a provenance record stored before
// migration 14 (no chain column) reads after it with no chain, as a
// version received from its source, and a chain is kept for what is
// received afterwards.
func TestProvenanceChainMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "node.db")
	s := openWithCollection(t, path)
	// Back to the schema before migration 14, with a one-hop record as
	// an older build wrote it.
	if _, err := s.db.ExecContext(ctx, `ALTER TABLE provenance DROP COLUMN chain;
		DELETE FROM schema_migrations WHERE version = 14`); err != nil {
		t.Fatal(err)
	}
	js := `{"type":"indicator","id":"indicator--00000000-0000-4000-8000-000000000001","spec_version":"2.1"}`
	a := &tearline.Object{ID: "indicator--00000000-0000-4000-8000-000000000001", Type: "indicator", SpecVersion: "2.1",
		JSON: []byte(js), Hash: sha256.Sum256([]byte(js))}
	if _, err := s.db.ExecContext(ctx, `INSERT INTO received_batches (sender, through, header, signature, received) VALUES ('USA', 1, x'6865', x'7369', 1);
		INSERT INTO provenance (object_id, hash, sender, originators, through, proof) VALUES (?, ?, 'USA', 'GBR', 1, x'01')`, a.ID, a.Hash[:]); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open, migrating: %v", err)
	}
	defer s.Close()
	origins, err := s.Origins(ctx, a.ID)
	if err != nil || len(origins) != 1 || origins[0].Sender != "USA" || !slices.Equal(origins[0].Originators, []string{"GBR"}) ||
		origins[0].Chain != nil || !bytes.Equal(origins[0].Proof, []byte{1}) {
		t.Fatalf("Origins of the old record = %+v, %v; want USA's copy of GBR's, with no chain", origins, err)
	}
	chain := []byte(`[{"from":"GBR","header":"aA==","signature":"","proof":""}]`)
	if _, err := s.Receive(ctx, "c", []*tearline.Object{a}, &mailbox.Delivery{Sender: "CAN", After: 0, Through: 1, SenderHead: 1,
		Received: time.Now(), Header: []byte("header"), Signature: []byte("signature"),
		Provenance: []mailbox.Provenance{{ObjectID: a.ID, Hash: a.Hash, Originators: []string{"GBR"}, Proof: []byte{2}, Chain: chain}}}); err != nil {
		t.Fatal(err)
	}
	origins, err = s.Origins(ctx, a.ID)
	if err != nil || len(origins) != 2 || origins[0].Sender != "CAN" || !bytes.Equal(origins[0].Chain, chain) || origins[1].Chain != nil {
		t.Fatalf("Origins after migration = %+v, %v; want CAN's with its chain, then USA's without", origins, err)
	}
}
