package sqlite

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/synth"
)

// BenchmarkPutObjects measures the store alone: batches of 10,000 parsed
// synthetic objects written with durable commits.
func BenchmarkPutObjects(b *testing.B) {
	const n, batch = 50000, 10000
	var data bytes.Buffer
	synth.New(1).WriteJSONLines(&data, n)
	var objs []*tearline.Object
	for _, line := range bytes.Split(bytes.TrimSpace(data.Bytes()), []byte("\n")) {
		o, _, err := stix.Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		objs = append(objs, o)
	}
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s, err := Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
		if err != nil {
			b.Fatal(err)
		}
		s.CreateCollection(ctx, tearline.Collection{Alias: "c"})
		b.StartTimer()
		for i := 0; i < n; i += batch {
			if _, err := s.PutObjects(ctx, "c", objs[i:i+batch]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}
