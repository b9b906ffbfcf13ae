package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

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
		"wal_autocheckpoint": "65536",
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

// TestCheckpointer checks that the background checkpoints run after
// writes, and that a checkpoint made while writes go on copies the whole
// WAL, so that the next write starts the WAL over instead of growing it.
func TestCheckpointer(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	if err := s.checkpoints.stop(); err != nil {
		t.Fatal(err)
	}
	s.checkpoints = startCheckpointer(s.db, s.writer, 10*time.Millisecond)

	n := 0
	put := func(count int) {
		t.Helper()
		var objs []*tearline.Object
		for range count {
			objs = append(objs, &tearline.Object{ID: fmt.Sprintf("url--00000000-0000-4000-8000-%012d", n), Type: "url", SpecVersion: "2.1",
				Hash: [32]byte{byte(n), byte(n >> 8), byte(n >> 16)}, JSON: fmt.Appendf(nil, `{"n":%d,"pad":"%0200d"}`, n, n)})
			n++
		}
		if _, err := s.PutObjects(ctx, "c", objs); err != nil {
			t.Fatal(err)
		}
	}
	// walFrames is how many frames the WAL holds (a checkpoint with
	// nothing left to copy reports them).
	walFrames := func() int {
		t.Helper()
		var busy, frames, copied int
		if err := s.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
			t.Fatal(err)
		}
		return frames
	}

	put(1)
	for deadline := time.Now().Add(time.Minute); s.checkpoints.completed() == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no checkpoint a minute after a write")
		}
	}
	if err := s.checkpoints.stop(); err != nil {
		t.Fatal(err)
	}
	s.checkpoints = nil

	// A write lands between the checkpoint's two steps, as writes go on
	// during the first; the second copies it.
	put(2000)
	big := walFrames()
	c := &checkpointer{db: s.db, w: s.writer, quit: make(chan struct{}), between: func() { put(500) }}
	whole, err := c.checkpoint(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !whole {
		t.Error("the checkpoint left part of the WAL")
	}
	put(1)
	if small := walFrames(); small >= big/4 {
		t.Errorf("the WAL holds %d frames after a write of one object, %d before the checkpoint: it was not started over", small, big)
	}
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: "c", Limit: n + 1})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Objects) != n {
		t.Fatalf("read %d objects, wrote %d", len(page.Objects), n)
	}
}
