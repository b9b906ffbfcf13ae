package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// BenchmarkPutObjects writes batches of 5000 small objects into one
// collection and reports objects per second. Each iteration is one batch, one
// transaction. new and unversioned add fresh objects; present repeats a stored
// batch, the cost of a re-import or of a sync that overlaps.
func BenchmarkPutObjects(b *testing.B) {
	const batchSize = 5000
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	batch := func(n int, versioned bool) []*tearline.Object {
		objs := make([]*tearline.Object, batchSize)
		for i := range objs {
			if versioned {
				objs[i] = indicator(fmt.Sprintf("indicator--%08d-%04d", n, i), base.Add(time.Duration(i)*time.Millisecond), "bench")
			} else {
				objs[i] = observable(fmt.Sprintf("ipv4-addr--%08d-%04d", n, i), fmt.Sprintf("10.%d.%d.%d", n%256, i/256, i%256))
			}
		}
		return objs
	}
	// run puts next(0), next(1)... into a fresh collection, after the
	// objects of stored.
	run := func(b *testing.B, stored []*tearline.Object, next func(n int) []*tearline.Object, want tearline.PutStatus) {
		s := openStore(b)
		c := newCollection(b, s, "bench")
		if len(stored) > 0 {
			put(b, s, c.ID, stored...)
		}
		n := 0
		for b.Loop() {
			b.StopTimer()
			objs := next(n)
			n++
			b.StartTimer()
			res, err := s.PutObjects(context.Background(), c.ID, objs)
			if err != nil {
				b.Fatalf("PutObjects: %v", err)
			}
			if res[0].Status != want {
				b.Fatalf("PutObjects status = %v; want %v", res[0].Status, want)
			}
		}
		b.ReportMetric(float64(n*batchSize)/b.Elapsed().Seconds(), "objects/s")
	}

	b.Run("new", func(b *testing.B) {
		run(b, nil, func(n int) []*tearline.Object { return batch(n, true) }, tearline.Added)
	})
	b.Run("unversioned", func(b *testing.B) {
		run(b, nil, func(n int) []*tearline.Object { return batch(n, false) }, tearline.Added)
	})
	b.Run("present", func(b *testing.B) {
		stored := batch(0, true)
		run(b, stored, func(int) []*tearline.Object { return stored }, tearline.Present)
	})
}
