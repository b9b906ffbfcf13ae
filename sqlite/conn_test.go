package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tearline/tearline"
)

// TestConnectionSettings checks the settings of every connection, not
// only the first: they are made per connection (the DSN and the connect
// hook), and a store holds several.
func TestConnectionSettings(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	want := map[string]string{
		"journal_mode":       "wal",
		"synchronous":        "2", // FULL
		"foreign_keys":       "1",
		"busy_timeout":       "10000",
		"cache_size":         "-65536",
		"wal_autocheckpoint": "16384",
		"temp_store":         "2", // MEMORY
	}
	// Connections held at once are distinct.
	for i := range 3 {
		c, err := s.db.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		for pragma, v := range want {
			var got string
			if err := c.QueryRowContext(ctx, "PRAGMA "+pragma).Scan(&got); err != nil {
				t.Fatalf("connection %d: PRAGMA %s: %v", i, pragma, err)
			}
			if got != v {
				t.Errorf("connection %d: %s = %s, want %s", i, pragma, got, v)
			}
		}
	}
}

// TestWritesShareOneConnection checks that write transactions run on one
// connection while reads take others, that a broken writers' connection
// is replaced without losing the write, and that Close gives every
// connection back.
func TestWritesShareOneConnection(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	closed := false
	defer func() {
		if !closed {
			s.Close()
		}
	}()
	n := 0
	put := func() {
		t.Helper()
		o := &tearline.Object{ID: fmt.Sprintf("url--00000000-0000-4000-8000-%012d", n), Type: "url", SpecVersion: "2.1",
			Hash: [32]byte{byte(n)}, JSON: fmt.Appendf(nil, `{"n":%d}`, n)}
		n++
		res, err := s.PutObjects(ctx, "c", []*tearline.Object{o})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Status != tearline.Added {
			t.Fatalf("object %d: %v, want added", n-1, res[0].Status)
		}
	}
	count := func() int {
		t.Helper()
		page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Objects)
	}

	put()
	first := s.writer.conn
	if first == nil {
		t.Fatal("no writers' connection after a write")
	}
	// Reads hold other connections while writes go on; the writers'
	// connection is the same throughout.
	held, err := s.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		put()
		if got := count(); got != n {
			t.Fatalf("read %d objects, want %d", got, n)
		}
		if s.writer.conn != first {
			t.Fatal("a write ran on another connection")
		}
	}
	held.Close()

	// A broken connection is replaced by the next write, which succeeds.
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	put()
	if s.writer.conn == first || s.writer.conn == nil {
		t.Fatal("the closed writers' connection was not replaced")
	}
	if got := count(); got != n {
		t.Fatalf("read %d objects after the new connection, want %d", got, n)
	}

	closed = true
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if open := s.db.Stats().OpenConnections; open != 0 {
		t.Fatalf("%d connections still open after Close", open)
	}
}
