package pattern

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// sharedData is the public STIX 2.1 corpus kept beside the repository
// (MITRE ATT&CK, MVT indicator bundles, OASIS examples).
const sharedData = "../../../shared/data/stix"

// indicatorFields are what this test reads of an object.
type indicatorFields struct {
	Type        string `json:"type"`
	PatternType string `json:"pattern_type"`
	Pattern     string `json:"pattern"`
}

// corpusPatterns returns the STIX patterns of every indicator in the
// public corpus, by file.
func corpusPatterns(t testing.TB) map[string][]string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(sharedData, "*", "*.json"))
	if err != nil || len(files) == 0 {
		t.Skipf("public STIX corpus not found at %s", sharedData)
	}
	out := map[string][]string{}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			indicatorFields
			Objects []indicatorFields `json:"objects"`
		}
		if err := json.Unmarshal(data, &doc); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		rel, err := filepath.Rel(sharedData, file)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range append(doc.Objects, doc.indicatorFields) {
			if o.Type == "indicator" && o.PatternType == "stix" {
				out[rel] = append(out[rel], o.Pattern)
			}
		}
	}
	return out
}

// TestPublicCorpusPatterns parses every STIX pattern of the public
// corpus: all must be accepted and survive a round trip.
func TestPublicCorpusPatterns(t *testing.T) {
	total, parsed := 0, 0
	perDir := map[string]int{}
	for file, patterns := range corpusPatterns(t) {
		for _, s := range patterns {
			total++
			p, err := Parse(s)
			if err != nil {
				t.Errorf("%s: Parse(%q) = %v", file, s, err)
				continue
			}
			again, err := Parse(p.String())
			if err != nil || !reflect.DeepEqual(again, p) {
				t.Errorf("%s: Parse(%q) does not survive a round trip through %q (%v)", file, s, p.String(), err)
				continue
			}
			parsed++
			perDir[filepath.Dir(file)]++
		}
	}
	t.Logf("parsed %d of %d indicator patterns (by folder: %v)", parsed, total, perDir)
	if total < 1000 {
		t.Errorf("found %d indicator patterns in %s; want at least 1000", total, sharedData)
	}
}
