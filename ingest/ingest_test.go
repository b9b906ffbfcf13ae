package ingest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path/filepath"
	"strings"
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

// resultStore stores nothing and reports every object with its status:
// resultStore(tearline.Added) measures the parsing side of the pipeline
// alone.
type resultStore tearline.PutStatus

func (st resultStore) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	res := make([]tearline.PutResult, len(objs))
	for i := range res {
		res[i].Status = tearline.PutStatus(st)
	}
	return res, nil
}

func BenchmarkStreamParseOnly(b *testing.B) {
	const n = 50000
	var data bytes.Buffer
	synth.New(1).WriteJSONLines(&data, n)
	b.SetBytes(int64(data.Len()))
	for b.Loop() {
		sum, err := Stream(context.Background(), resultStore(tearline.Added), bytes.NewReader(data.Bytes()), Options{Collection: "c", BatchSize: 10000})
		if err != nil || sum.Added != n {
			b.Fatalf("Stream = %+v, %v", sum, err)
		}
	}
	b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "objects/s")
}

const (
	goodIdentity = `{"type":"identity","spec_version":"2.1","id":"identity--311b2d2d-f010-4473-83ec-1edf84858f4c","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Liaison"}`
	badTimestamp = `{"type":"identity","spec_version":"2.1","id":"identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f","created":"2024-01-01T00:00:00Z","modified":"2024-01-01T00:00:00.000Z","name":"X"}`
	// changed is goodIdentity with other content at the same version.
	changed = `{"type":"identity","spec_version":"2.1","id":"identity--311b2d2d-f010-4473-83ec-1edf84858f4c","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"Renamed"}`
)

// TestStreamReportsEveryObject checks that each object read is counted
// exactly once and that rejections come in input order with their rule.
func TestStreamReportsEveryObject(t *testing.T) {
	s := newStore(t)
	input := goodIdentity + "\n" + badTimestamp + "\n" + goodIdentity + "\n" + changed + "\n" + `[1]` + "\n"
	var rejected []Rejection
	sum, err := Stream(context.Background(), s, strings.NewReader(input), Options{Collection: "c", BatchSize: 2,
		Reject: func(r Rejection) { rejected = append(rejected, r) }})
	// The last line is not an object: the input cannot be read past it.
	if err == nil || !strings.Contains(err.Error(), "expected a STIX bundle or object") {
		t.Fatalf("Stream error = %v; want the input error", err)
	}
	want := Summary{Read: 4, Added: 1, Present: 1, Rejected: 2}
	sum.Elapsed = 0
	if sum != want {
		t.Errorf("Stream summary = %+v; want %+v", sum, want)
	}
	if len(rejected) != 2 || rejected[0].Index != 1 || rejected[0].Rule != "timestamp-precision" ||
		rejected[1].Index != 3 || rejected[1].Rule != ErrConflictRule || rejected[1].ID != "identity--311b2d2d-f010-4473-83ec-1edf84858f4c" {
		t.Errorf("rejections = %+v; want index 1 timestamp-precision, index 3 %s", rejected, ErrConflictRule)
	}
	if n, _ := s.Count(context.Background(), "c"); n != 1 {
		t.Errorf("store holds %d objects; want 1", n)
	}
}

func TestStreamKeepsInputOrder(t *testing.T) {
	s := newStore(t)
	var data bytes.Buffer
	synth.New(5).WriteJSONLines(&data, 3000)
	lines := strings.Split(strings.TrimSpace(data.String()), "\n")
	sum, err := Stream(context.Background(), s, &data, Options{Collection: "c", BatchSize: 500, Workers: 4})
	if err != nil || sum.Added != 3000 {
		t.Fatalf("Stream = %+v, %v", sum, err)
	}
	p, err := s.Objects(context.Background(), tearline.ObjectQuery{Collection: "c", Version: tearline.VersionFilter{All: true}})
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range p.Objects {
		if string(o.JSON) != lines[i] {
			t.Fatalf("object %d in date_added order is not input line %d", i, i)
		}
	}
}

// failingStore fails the second batch.
type failingStore struct {
	*sqlite.Store
	calls int
}

func (f *failingStore) PutObjects(ctx context.Context, c string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	f.calls++
	if f.calls == 2 {
		return nil, errors.New("disk full")
	}
	return f.Store.PutObjects(ctx, c, objs)
}

func TestStreamStopsOnStoreError(t *testing.T) {
	s := &failingStore{Store: newStore(t)}
	var data bytes.Buffer
	synth.New(6).WriteJSONLines(&data, 1000)
	sum, err := Stream(context.Background(), s, &data, Options{Collection: "c", BatchSize: 100})
	if err == nil || !strings.Contains(err.Error(), "disk full") || !strings.Contains(err.Error(), "objects 100 to 199") {
		t.Fatalf("Stream error = %v; want the store's error naming the batch", err)
	}
	if sum.Added != 100 || sum.Read != 100 {
		t.Errorf("summary after the failure = %+v; want the first batch only", sum)
	}
}

func TestStreamCancelled(t *testing.T) {
	s := newStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	go func() {
		pw.Write([]byte(goodIdentity + "\n"))
		cancel()
		// The writer blocks until the reader is abandoned.
	}()
	_, err := Stream(ctx, s, pr, Options{Collection: "c"})
	pw.Close()
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Stream after cancel = %v; want context.Canceled", err)
	}
}

func TestSynthIsDeterministicAndValid(t *testing.T) {
	var a, b bytes.Buffer
	synth.New(9).WriteJSONLines(&a, 2000)
	synth.New(9).WriteJSONLines(&b, 2000)
	if !bytes.Equal(a.Bytes(), b.Bytes()) {
		t.Fatal("two generators with the same seed wrote different objects")
	}
	var c bytes.Buffer
	synth.New(10).WriteJSONLines(&c, 2000)
	if bytes.Equal(a.Bytes(), c.Bytes()) {
		t.Fatal("different seeds wrote the same objects")
	}
	sum, err := Stream(context.Background(), resultStore(tearline.Added), &a, Options{Collection: "c"})
	if err != nil || sum.Rejected != 0 || sum.Read != 2000 {
		t.Errorf("synthetic objects: %+v, %v; want 2000 read, none rejected", sum, err)
	}
}

// TestStreamReadsLabels rejects an object whose markings conflict, with
// the label rule, and keeps one that refers to a marking definition the
// node does not hold.
func TestStreamReadsLabels(t *testing.T) {
	s := newStore(t)
	const (
		green = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"
		red   = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1"
	)
	obj := func(id string, refs ...string) string {
		return `{"type":"identity","spec_version":"2.1","id":"` + id + `","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"X","object_marking_refs":["` + strings.Join(refs, `","`) + `"]}` + "\n"
	}
	input := obj("identity--11111111-1111-4111-8111-111111111111", green, red) +
		obj("identity--22222222-2222-4222-8222-222222222222", "marking-definition--99999999-9999-4999-8999-999999999999") +
		obj("identity--33333333-3333-4333-8333-333333333333", green)
	var rejected []Rejection
	sum, err := Stream(context.Background(), s, strings.NewReader(input), Options{Collection: "c",
		Reject: func(r Rejection) { rejected = append(rejected, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Added != 2 || sum.Rejected != 1 || len(rejected) != 1 || rejected[0].Index != 0 || rejected[0].Rule != "tlp-conflict" {
		t.Errorf("Stream = %+v, rejections %+v; want object 0 rejected for tlp-conflict, the others added", sum, rejected)
	}
}

// TestStreamElements reads objects given already split, as TAXII POST
// gives an envelope's elements: each is stored or rejected under its own
// index, as the decoder treats a bundle's elements.
func TestStreamElements(t *testing.T) {
	s := newStore(t)
	big := `{"type":"identity","spec_version":"2.1","id":"identity--44444444-4444-4444-8444-444444444444","created":"2024-01-01T00:00:00.000Z","modified":"2024-01-01T00:00:00.000Z","name":"` + strings.Repeat("x", 300) + `"}`
	elems := [][]byte{[]byte(goodIdentity), []byte(`42`), []byte(big), []byte(` ["a"]`)}
	var rejected []Rejection
	sum, err := Stream(context.Background(), s, nil, Options{Collection: "c", Elements: elems, MaxObjectSize: 300,
		Reject: func(r Rejection) { rejected = append(rejected, r) }})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Read != 4 || sum.Added != 1 || sum.Rejected != 3 {
		t.Fatalf("Stream = %+v; want 4 read, 1 added, 3 rejected", sum)
	}
	want := []struct {
		index int
		rule  string
	}{{1, "object-type"}, {2, "object-too-large"}, {3, "object-type"}}
	if len(rejected) != len(want) {
		t.Fatalf("rejections %+v; want %v", rejected, want)
	}
	for i, w := range want {
		if rejected[i].Index != w.index || rejected[i].Rule != w.rule {
			t.Errorf("rejection %d = %d %s; want %d %s", i, rejected[i].Index, rejected[i].Rule, w.index, w.rule)
		}
	}
}

// TestStreamReportsRecalled: a version the store refuses as recalled is
// a rejection under its own rule, not an object added.
func TestStreamReportsRecalled(t *testing.T) {
	var rejected []Rejection
	sum, err := Stream(context.Background(), resultStore(tearline.Recalled), strings.NewReader(goodIdentity+"\n"), Options{Collection: "c",
		Reject: func(r Rejection) { rejected = append(rejected, r) }})
	if err != nil {
		t.Fatal(err)
	}
	sum.Elapsed = 0
	if want := (Summary{Read: 1, Rejected: 1}); sum != want {
		t.Errorf("Stream summary = %+v; want %+v", sum, want)
	}
	if len(rejected) != 1 || rejected[0].Rule != ErrRecalledRule || rejected[0].ID != "identity--311b2d2d-f010-4473-83ec-1edf84858f4c" {
		t.Errorf("rejections = %+v; want one under rule %s", rejected, ErrRecalledRule)
	}
}
