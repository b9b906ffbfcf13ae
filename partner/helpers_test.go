package partner

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/tearline/tearline/node"
)

// testTime is when the test nodes are made; cards are issued later.
var testTime = time.Date(2026, 1, 2, 15, 4, 5, 0, time.UTC)

// newNode makes a node with partner code code in a fresh directory.
func newNode(t testing.TB, code string, seed byte) *node.Node {
	t.Helper()
	dir := filepath.Join(t.TempDir(), code)
	n, err := node.Init(dir, node.InitOptions{
		Partner: code, Name: "Test node " + code,
		Rand: rand.NewChaCha8([32]byte{seed}),
		Now:  func() time.Time { return testTime },
	})
	if err != nil {
		t.Fatalf("node.Init(%s) = %v", code, err)
	}
	return n
}

// card returns the signed card of n, issued at testTime plus after.
func card(t testing.TB, n *node.Node, after time.Duration) (*Card, []byte) {
	t.Helper()
	c, data, err := NodeCard(n, []string{"https://" + n.Config.Node.Partner + ".example:8443"}, testTime.Add(after))
	if err != nil {
		t.Fatalf("NodeCard(%s) = %v", n.Config.Node.Partner, err)
	}
	return c, data
}

func fingerprint(t testing.TB, c *Card) string {
	t.Helper()
	fp, err := c.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	return fp.String()
}
