package federation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/postgres"
)

// TestRecallWithPostgres: GBR, on SQLite, recalls an object that USA, on
// PostgreSQL, received. USA verifies the notice, purges the version and
// keeps its tombstone, records the recall and its acknowledgement in its
// audit log, and delivers the acknowledgement, which GBR records; a copy
// of the version sent again is not stored. Without PostgreSQL binaries it
// skips, unless TEARLINE_REQUIRE_POSTGRES=1.
func TestRecallWithPostgres(t *testing.T) {
	dir, err := os.MkdirTemp("", "tearline-recall-postgres-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	// The server may run as another user, which must be able to enter it.
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cluster, err := postgres.StartCluster(ctx, dir)
	if errors.Is(err, postgres.ErrNoBinaries) && os.Getenv("TEARLINE_REQUIRE_POSTGRES") != "1" {
		t.Skipf("no PostgreSQL: %v (TEARLINE_REQUIRE_POSTGRES=1 fails instead)", err)
	}
	if err != nil {
		t.Fatal(err)
	}
	// Stopped once the nodes are: cleanups run last registered first.
	t.Cleanup(func() {
		if err := cluster.Stop(); err != nil {
			t.Error(err)
		}
	})

	tn := newNet(t, "GBR")
	usa := tn.addNode("USA", cluster.URL())
	gbr := tn.nodes["GBR"]
	id := matrixID(44)
	gbr.publish(labelled(t, id, "GBR SECRET//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	tn.startAll()
	eventually(t, 30*time.Second, func() (bool, string) { return usa.held()[id] == 1, "USA does not hold GBR's object" })
	tn.waitSettled(30 * time.Second)

	copyHeld := usa.version(id).Object
	hash := copyHeld.Hash
	if targets := issue(t, gbr, id, "recall--44"); !slices.Equal(targets, []string{"USA"}) {
		t.Fatalf("IssueRecall targets = %v; want [USA]", targets)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Equal(acked, []string{"USA"}), fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	if usa.held()[id] != 0 {
		t.Errorf("USA (PostgreSQL) still holds the recalled object")
	}
	rs := recallStore(t, usa)
	ts, err := rs.Tombstones(context.Background(), id)
	if err != nil || len(ts) != 1 || ts[0].Hash != hash || ts[0].RecalledBy != "GBR" || ts[0].Notice != "recall--44" {
		t.Errorf("USA: Tombstones(%s) = %+v, %v; want GBR's recall--44", id, ts, err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		ms, err := rs.RecallMessages(context.Background(), 10)
		return err == nil && len(ms) == 0, fmt.Sprintf("USA still has recall messages to deliver: %+v, %v", ms, err)
	})
	if !hasEvent(usa.events(ledger.KindRecallIssued), func(e ledger.Event) bool {
		return e.Details["notice"] == "recall--44" && e.Details["from"] == "GBR"
	}) {
		t.Errorf("USA's audit log does not record GBR's notice")
	}
	if !hasEvent(usa.events(ledger.KindRecallAcknowledged), func(e ledger.Event) bool { return e.Details["acknowledgement"] == "sent" }) {
		t.Errorf("USA's audit log does not record its acknowledgement")
	}
	if !hasEvent(gbr.events(ledger.KindRecallAcknowledged), func(e ledger.Event) bool {
		return e.Details["holder"] == "USA" && e.Details["acknowledgement"] == "received"
	}) {
		t.Errorf("GBR's audit log does not record USA's acknowledgement")
	}
	if got, err := recallStore(t, gbr).Recalls(context.Background(), id); err != nil || len(got) != 1 ||
		len(got[0].Targets) != 1 || got[0].Targets[0].Delivered.IsZero() || len(got[0].Targets[0].Record) == 0 {
		t.Errorf("GBR: Recalls(%s) = %+v, %v; want USA delivered and acknowledged, with its signed record", id, got, err)
	}
	// A copy still on its way is not stored again.
	usa.mu.Lock()
	s := usa.store
	usa.mu.Unlock()
	if _, err := s.PutObjects(context.Background(), "default", []*tearline.Object{&copyHeld}); err != nil {
		t.Fatal(err)
	}
	if usa.held()[id] != 0 {
		t.Errorf("USA (PostgreSQL) stored the recalled version again")
	}
	usa.verifyLedger()
	gbr.verifyLedger()
}
