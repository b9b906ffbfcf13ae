package stix_test

import (
	"bytes"
	"testing"

	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/synth"
)

// BenchmarkParse parses synthetic objects as ingest does: JSON, checks,
// hash.
func BenchmarkParse(b *testing.B) {
	var data bytes.Buffer
	if err := synth.New(1).WriteJSONLines(&data, 10000); err != nil {
		b.Fatal(err)
	}
	lines := bytes.Split(bytes.TrimSpace(data.Bytes()), []byte("\n"))
	b.SetBytes(int64(data.Len() / len(lines)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if _, _, err := stix.Parse(lines[i%len(lines)]); err != nil {
			b.Fatal(err)
		}
	}
}
