package partner

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/node"
)

var updateSeeds = flag.Bool("update-seeds", false, "rewrite the seed corpus in testdata/fuzz/FuzzParse")

// FuzzParse: Parse never panics, and a card it accepts is signed by its own
// key, re-encodes to the same canonical bytes, and parses again to the same
// fingerprint.
func FuzzParse(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if !c.SignedBy(c.SigningKey.ID, c.SigningKey.Public) {
			t.Fatalf("Parse accepted a card not signed by its own key: %q", data)
		}
		fp, err := c.Fingerprint()
		if err != nil {
			t.Fatalf("Fingerprint of an accepted card: %v", err)
		}
		canon, err := c.Canonical()
		if err != nil {
			t.Fatal(err)
		}
		again, err := Parse(bytes.Replace(data, []byte("\n"), []byte("\n "), -1))
		if err == nil {
			fp2, _ := again.Fingerprint()
			if fp2 != fp {
				t.Fatalf("reformatted card has fingerprint %v; want %v", fp2, fp)
			}
		}
		if len(canon) == 0 {
			t.Fatal("empty canonical bytes")
		}
	})
}

// TestWriteSeeds rewrites the seed corpus with -update-seeds.
func TestWriteSeeds(t *testing.T) {
	if !*updateSeeds {
		t.Skip("run with -update-seeds to rewrite the seed corpus")
	}
	gbr := newNode(t, "GBR", 1)
	_, plain := card(t, gbr, time.Hour)
	if _, err := gbr.RotateKey(node.KindSigning, node.RotateOptions{Now: func() time.Time { return testTime.Add(2 * time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	old := gbr.Keys()[2].ID
	if _, err := gbr.RotateKey(node.KindSigning, node.RotateOptions{Now: func() time.Time { return testTime.Add(3 * time.Hour) }}); err != nil {
		t.Fatal(err)
	}
	if _, err := gbr.RevokeKey(old, "test", testTime.Add(4*time.Hour)); err != nil {
		t.Fatal(err)
	}
	_, rotated := card(t, gbr, 5*time.Hour)
	seeds := map[string][]byte{
		"card":          plain,
		"rotation-card": rotated,
		"tampered":      bytes.Replace(plain, []byte("Test node"), []byte("Test nodf"), 1),
		"duplicate":     bytes.Replace(plain, []byte(`"card": {`), []byte(`"card": {"partner": "FRA",`), 1),
		"http-endpoint": bytes.Replace(plain, []byte("https://"), []byte("http://"), 1),
		"truncated":     plain[:len(plain)/3],
		"not-json":      []byte("-----BEGIN TEARLINE PUBLIC KEY-----\n"),
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range seeds {
		content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
