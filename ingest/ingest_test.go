package ingest

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/synth"
)

func newStore(t testing.TB) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	if _, err := s.CreateCollection(context.Background(), tearline.Collection{Alias: "c"}); err != nil {
		t.Fatal(err)
	}
	return s
}

func BenchmarkStreamSQLite(b *testing.B) {
	const n = 50000
	var data bytes.Buffer
	synth.New(1).WriteJSONLines(&data, n)
	b.SetBytes(int64(data.Len()))
	for b.Loop() {
		b.StopTimer()
		s := newStore(b)
		b.StartTimer()
		sum, err := Stream(context.Background(), s, bytes.NewReader(data.Bytes()), Options{Collection: "c", BatchSize: 10000})
		if err != nil || sum.Added != n {
			b.Fatalf("Stream = %+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// nullStore accepts everything without storing, to measure the parsing side
// of the pipeline alone.
type nullStore struct{}

func (nullStore) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	res := make([]tearline.PutResult, len(objs))
	for i := range res {
		res[i].Status = tearline.Added
	}
	return res, nil
}

func BenchmarkStreamParseOnly(b *testing.B) {
	const n = 50000
	var data bytes.Buffer
	synth.New(1).WriteJSONLines(&data, n)
	b.SetBytes(int64(data.Len()))
	for b.Loop() {
		sum, err := Stream(context.Background(), nullStore{}, bytes.NewReader(data.Bytes()), Options{Collection: "c", BatchSize: 10000})
		if err != nil || sum.Added != n {
			b.Fatalf("Stream = %+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}
