package federation

import (
	"context"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/tearline/tearline/postgres"
)

// TestFederationWithPostgres links a node on SQLite with a node on
// PostgreSQL, both ways, restarting the PostgreSQL one mid-stream: each
// holds what the other released to it, once, and both audit logs verify.
// Without PostgreSQL binaries it skips, unless TEARLINE_REQUIRE_POSTGRES=1.
func TestFederationWithPostgres(t *testing.T) {
	dir, err := os.MkdirTemp("", "tearline-federation-postgres-")
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

	const fromGBR, fromUSA = 600, 60
	tn := newNet(t, "GBR")
	usa := tn.addNode("USA", cluster.URL())
	gbr := tn.nodes["GBR"]
	tn.tune = func(c *Config) { c.MaxBatch = 50 }
	gbr.publish(bulk(t, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", 1, fromGBR))
	usa.publish(bulk(t, "SECRET//REL TO USA, GBR, FVEY", "cyber", 10001, fromUSA))
	tn.startAll()
	eventually(t, 60*time.Second, func() (bool, string) {
		c, err := usa.store.InboxCursor(context.Background(), "GBR")
		return err == nil && c.Through > 0, "USA applied nothing"
	})
	usa.stop()
	usa.mu.Lock()
	usa.store.Close()
	usa.mu.Unlock()
	tn.openStore(usa)
	tn.start(usa)
	tn.waitSettled(120 * time.Second)

	held := usa.held()
	for i := 1; i <= fromGBR; i++ {
		if held[matrixID(i)] != 1 {
			t.Fatalf("USA (PostgreSQL) holds %d versions of %s; want 1", held[matrixID(i)], matrixID(i))
		}
	}
	if len(held) != fromGBR+fromUSA {
		t.Errorf("USA holds %d objects; want %d", len(held), fromGBR+fromUSA)
	}
	if g := gbr.held(); len(g) != fromGBR+fromUSA {
		t.Errorf("GBR holds %d objects; want its %d and USA's %d", len(g), fromGBR, fromUSA)
	}
	gbr.verifyLedger()
	usa.verifyLedger()
}
