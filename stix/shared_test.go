package stix

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// sharedData is the public STIX 2.1 corpus kept beside the repository.
const sharedData = "../../shared/data/stix"

func sharedFiles(t testing.TB) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedData, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("public STIX corpus not found at %s", sharedData)
	}
	return files
}

// TestPublicCorpus reads every object of the public corpus (MITRE ATT&CK,
// MVT indicator bundles, OASIS examples): all are valid STIX 2.1 and must be
// accepted, and each must survive a parse of its own compacted form with the
// same hash.
func TestPublicCorpus(t *testing.T) {
	total := 0
	for _, name := range sharedFiles(t) {
		f, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(f)
		for {
			raw, i, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("%s: object %d: %v", name, i, err)
			}
			obj, _, err := Parse(raw)
			if err != nil {
				var oe *ObjectError
				errors.As(err, &oe)
				t.Errorf("%s: object %d: %v", filepath.Base(name), i, err)
				continue
			}
			again, _, err := Parse(obj.JSON)
			if err != nil || again.Hash != obj.Hash {
				t.Errorf("%s: object %d: compacted form parses to a different hash (%v)", name, i, err)
			}
			total++
		}
		f.Close()
	}
	if total < 5000 {
		t.Errorf("read %d objects from the public corpus; want at least 5000", total)
	}
}
