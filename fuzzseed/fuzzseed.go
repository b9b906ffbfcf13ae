// Package fuzzseed holds the project's rule for fuzz targets: every target
// has a committed seed corpus. It is imported by tests only.
package fuzzseed

import (
	"os"
	"path/filepath"
	"testing"
)

// Require fails a fuzz test whose committed seed corpus,
// testdata/fuzz/<FuzzName>, is missing or empty: without seeds the fuzzer
// starts blind and plain `go test` exercises nothing.
func Require(f *testing.F) {
	f.Helper()
	dir := filepath.Join("testdata", "fuzz", f.Name())
	entries, err := os.ReadDir(dir)
	if err != nil {
		f.Fatalf("seed corpus %s: %v; a fuzz test needs committed seeds", dir, err)
	}
	for _, e := range entries {
		if e.Type().IsRegular() {
			return
		}
	}
	f.Fatalf("seed corpus %s is empty; a fuzz test needs committed seeds", dir)
}
