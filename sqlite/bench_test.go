package sqlite

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/synth"
)

// synthObjects parses n synthetic objects (seed 1).
func synthObjects(b *testing.B, n int) []*tearline.Object {
	b.Helper()
	var data bytes.Buffer
	synth.New(1).WriteJSONLines(&data, n)
	objs := make([]*tearline.Object, 0, n)
	for _, line := range bytes.Split(bytes.TrimSpace(data.Bytes()), []byte("\n")) {
		o, _, err := stix.Parse(line)
		if err != nil {
			b.Fatal(err)
		}
		objs = append(objs, o)
	}
	return objs
}

// BenchmarkPutObjects measures the store alone: batches of 10,000 parsed
// synthetic objects written with durable commits.
func BenchmarkPutObjects(b *testing.B) {
	putAll(b, synthObjects(b, 50000), 10000)
}

// BenchmarkPutObjectsEnvelopes measures the store alone as a TAXII POST
// uses it: one durable transaction per 1,000 objects, into a collection
// that grows to TEARLINE_BENCH_OBJECTS objects (200,000 unless set). It is
// the ceiling of 'tearline bench taxii' POST, which adds parsing,
// labelling, HTTP and TLS (and its load generator) on the same CPUs.
func BenchmarkPutObjectsEnvelopes(b *testing.B) {
	const envelope = 1000
	n := 200000
	if v := os.Getenv("TEARLINE_BENCH_OBJECTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < envelope {
			b.Fatalf("TEARLINE_BENCH_OBJECTS=%q: want a number of objects of at least %d", v, envelope)
		}
	}
	objs := synthObjects(b, n/envelope*envelope)
	for _, o := range objs {
		// Classified, as a node classifies what it stores.
		o.ReleaseClass = []byte(`{"bench":1}`)
	}
	putAll(b, objs, envelope)
}

// putAll writes objs into a fresh store, batch objects per transaction, at
// each iteration, and reports objects/s; only the writes are timed.
func putAll(b *testing.B, objs []*tearline.Object, batch int) {
	b.Helper()
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s := openWithCollection(b, filepath.Join(b.TempDir(), "bench.db"))
		b.StartTimer()
		for i := 0; i < len(objs); i += batch {
			if _, err := s.PutObjects(ctx, "c", objs[i:min(i+batch, len(objs))]); err != nil {
				b.Fatal(err)
			}
		}
		b.StopTimer()
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(len(objs)*b.N)/b.Elapsed().Seconds(), "objects/s")
}

// BenchmarkObjectsPage reads a 200,000-object collection in pages of
// 1,000 following the cursor, as a TAXII client pages through it: the
// store's share of a GET.
func BenchmarkObjectsPage(b *testing.B) {
	const n = 200000
	objs := synthObjects(b, n)
	ctx := context.Background()
	s := openWithCollection(b, filepath.Join(b.TempDir(), "bench.db"))
	defer s.Close()
	for i := 0; i < n; i += 10000 {
		if _, err := s.PutObjects(ctx, "c", objs[i:i+10000]); err != nil {
			b.Fatal(err)
		}
	}
	pages := 0
	b.ResetTimer()
	for b.Loop() {
		q := tearline.ObjectQuery{Collection: "c", Limit: 1000, Version: tearline.VersionFilter{All: true}}
		for {
			pg, err := s.Objects(ctx, q)
			if err != nil {
				b.Fatal(err)
			}
			pages++
			if !pg.More {
				break
			}
			q.After = pg.Objects[len(pg.Objects)-1].DateAdded
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(pages), "µs/page")
}

// BenchmarkLedgerAppend appends audit events in batches of 1,000, each
// batch one durable transaction, as `tearline bench ledger` does.
func BenchmarkLedgerAppend(b *testing.B) {
	ctx := context.Background()
	s, err := Open(ctx, filepath.Join(b.TempDir(), "node.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	log := ledger.New(s.Ledger())
	events := make([]ledger.Event, 1000)
	now := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	for i := range events {
		events[i] = ledger.Event{Kind: ledger.KindObjectViewed, Time: now, Actor: "FRA",
			Subjects: []string{fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)}}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := log.Append(ctx, events...); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*len(events))/b.Elapsed().Seconds(), "appends/s")
}
