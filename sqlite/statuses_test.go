package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// TestStatusesRideWithObjects: a status waiting to be written commits
// with the next write of objects, in the same transaction; with none
// under way, PutStatus writes its own.
func TestStatusesRideWithObjects(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	expires := time.Now().Add(time.Hour)

	// Alone: one transaction of its own.
	before := s.writer.ended.Load()
	if err := s.PutStatus(ctx, "alone", []byte(`{"n":1}`), expires); err != nil {
		t.Fatal(err)
	}
	if n := s.writer.ended.Load() - before; n != 1 {
		t.Errorf("PutStatus alone ran %d write transactions; want 1", n)
	}

	// Waiting when objects are written: in their transaction.
	p := &pendingStatus{id: "riding", body: []byte(`{"n":2}`), expires: expires.UnixMicro(), done: make(chan struct{})}
	s.statuses.add(p)
	before = s.writer.ended.Load()
	o := &tearline.Object{ID: "url--00000000-0000-4000-8000-000000000001", Type: "url", SpecVersion: "2.1", Hash: [32]byte{1}, JSON: []byte(`{"n":1}`)}
	if _, err := s.PutObjects(ctx, "c", []*tearline.Object{o}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	default:
		t.Fatal("the waiting status was not written with the objects")
	}
	if n := s.writer.ended.Load() - before; n != 1 {
		t.Errorf("the objects and the waiting status took %d write transactions; want 1", n)
	}
	for id, want := range map[string]string{"alone": `{"n":1}`, "riding": `{"n":2}`} {
		body, err := s.Status(ctx, id)
		if err != nil || string(body) != want {
			t.Errorf("Status(%s) = %s, %v; want %s", id, body, err, want)
		}
	}
	if len(s.statuses.take()) != 0 {
		t.Error("statuses left waiting")
	}
}

// TestStatusesUnderConcurrentWrites: posts from many clients at once,
// objects then status, each status readable once PutStatus returns.
func TestStatusesUnderConcurrentWrites(t *testing.T) {
	ctx := context.Background()
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	var wg sync.WaitGroup
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				n := c*100 + i
				o := &tearline.Object{ID: fmt.Sprintf("url--00000000-0000-4000-8000-%012d", n), Type: "url", SpecVersion: "2.1",
					Hash: [32]byte{byte(c), byte(i)}, JSON: fmt.Appendf(nil, `{"n":%d}`, n)}
				if _, err := s.PutObjects(ctx, "c", []*tearline.Object{o}); err != nil {
					t.Error(err)
					return
				}
				id := fmt.Sprintf("status-%d", n)
				if err := s.PutStatus(ctx, id, fmt.Appendf(nil, `{"n":%d}`, n), time.Now().Add(time.Hour)); err != nil {
					t.Error(err)
					return
				}
				if body, err := s.Status(ctx, id); err != nil || string(body) != fmt.Sprintf(`{"n":%d}`, n) {
					t.Errorf("Status(%s) = %s, %v right after PutStatus", id, body, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(s.statuses.take()) != 0 {
		t.Error("statuses left waiting")
	}
}

// TestStatusCancelled: a status whose caller gives up waiting is not
// left in the queue.
func TestStatusCancelled(t *testing.T) {
	s := openWithCollection(t, filepath.Join(t.TempDir(), "node.db"))
	defer s.Close()
	s.writer.lock <- struct{}{} // a write under way
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.PutStatus(ctx, "given-up", []byte(`{}`), time.Now().Add(time.Hour)); err == nil {
		t.Error("PutStatus with its context ended = nil; want an error")
	}
	<-s.writer.lock
	if n := len(s.statuses.take()); n != 0 {
		t.Errorf("%d statuses left waiting after their caller gave up", n)
	}
}
