package taxii

import (
	"compress/flate"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/sqlite"
)

func kvStatusStore(t *testing.T) (*KVStatusStore, *sqlite.Store) {
	t.Helper()
	kv, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "node.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kv.Close() })
	return NewKVStatusStore(kv, time.Hour, nil), kv
}

// TestKVStatusStoreRoundTrip: a status of 1,000 objects comes back as it
// was put, every field the JSON form leaves out included, and is kept
// compressed.
func TestKVStatusStoreRoundTrip(t *testing.T) {
	ctx := context.Background()
	store, kv := kvStatusStore(t)
	st := Status{ID: "6b0bd6e1-5f2a-4b9e-9d6c-3a8f2b1c0d4e", Status: "complete", RequestTimestamp: time.Date(2026, 11, 26, 5, 0, 0, 123456000, time.UTC),
		TotalCount: 1001, SuccessCount: 1000, FailureCount: 1,
		Owner: Principal{ID: "CAN", Kind: Partner}, Collection: "collection--x"}
	for i := range 1000 {
		st.Successes = append(st.Successes, StatusDetail{ID: fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i), Version: "2026-05-29T11:41:04.881000Z"})
	}
	st.Failures = []StatusDetail{{ID: "indicator--bad", Version: "2026-01-01T00:00:00.000Z", Message: "object 1000: duplicate-version"}}
	if err := store.Put(ctx, st); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !got.RequestTimestamp.Equal(st.RequestTimestamp) {
		t.Errorf("request timestamp %v; want %v", got.RequestTimestamp, st.RequestTimestamp)
	}
	got.RequestTimestamp = st.RequestTimestamp
	if !reflect.DeepEqual(got, st) {
		t.Errorf("Get = %+v; want %+v", got, st)
	}
	body, err := kv.Status(ctx, st.ID)
	if err != nil {
		t.Fatal(err)
	}
	if body[0] != deflatedStatus || len(body) > 40000 {
		t.Errorf("stored body of %d bytes starting %q; want it compressed, under 40,000 bytes", len(body), body[:1])
	}
}

// TestKVStatusStorePlainBodies: statuses stored before they were
// compressed still read; a damaged one is an error.
func TestKVStatusStorePlainBodies(t *testing.T) {
	ctx := context.Background()
	store, kv := kvStatusStore(t)
	plain := `{"id":"s1","status":"complete","total_count":1,"success_count":1,"successes":[{"id":"indicator--a","version":"2026-01-01T00:00:00.000Z"}],"failure_count":0,"pending_count":0,"requested":"2026-11-26T05:00:00Z","owner_id":"CAN","owner_kind":1,"collection":"c"}`
	if err := kv.PutStatus(ctx, "s1", []byte(plain), time.Now().Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, err := store.Get(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Owner.ID != "CAN" || got.Collection != "c" || len(got.Successes) != 1 || got.Successes[0].ID != "indicator--a" {
		t.Errorf("Get(plain) = %+v", got)
	}
	for name, body := range map[string][]byte{
		"truncated": {deflatedStatus, 0x4a, 0x4c},
		"not JSON":  append([]byte{deflatedStatus}, deflate(t, "not json")...),
	} {
		if err := kv.PutStatus(ctx, name, body, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		if _, err := store.Get(ctx, name); err == nil || !strings.Contains(err.Error(), "stored body") {
			t.Errorf("Get(%s) error = %v; want a stored body error", name, err)
		}
	}
	if _, err := store.Get(ctx, "missing"); !errors.Is(err, tearline.ErrNotFound) {
		t.Errorf("Get(missing) = %v; want not found", err)
	}
}

func deflate(t *testing.T, s string) []byte {
	t.Helper()
	w := statusDeflaters.Get().(*flate.Writer)
	defer statusDeflaters.Put(w)
	var b strings.Builder
	w.Reset(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return []byte(b.String())
}
