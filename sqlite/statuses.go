package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"sync"
	"time"
)

// PutStatus keeps a TAXII status resource until expires, and returns once
// it is committed.
//
// A status is written with the next write of objects, if one is under
// way or waiting for the writer lock, or on its own when the lock comes
// to it first. A POST's status follows the write of its objects, and
// while posts come in, another post's objects are nearly always next: one
// commit, and one flush to disk, serve both.
func (s *Store) PutStatus(ctx context.Context, id string, body []byte, expires time.Time) error {
	p := &pendingStatus{id: id, body: body, expires: expires.UnixMicro(), done: make(chan struct{})}
	s.statuses.add(p)
	select {
	case <-p.done:
		return nil
	case s.writer.lock <- struct{}{}:
	case <-ctx.Done():
		s.statuses.remove(p)
		return fmt.Errorf("put status %s: %w", id, ctx.Err())
	}
	select {
	case <-p.done: // written by the write before, which held the lock
		<-s.writer.lock
		return nil
	default:
	}
	tx, done, err := s.writer.beginHeld(ctx)
	if err != nil {
		s.statuses.remove(p)
		return fmt.Errorf("put status %s: %w", id, err)
	}
	defer done()
	ps := s.statuses.take()
	if err := s.writeStatuses(ctx, tx, ps); err != nil {
		s.statuses.putBack(ps, p)
		return fmt.Errorf("put status %s: %w", id, err)
	}
	if err := tx.Commit(); err != nil {
		s.statuses.putBack(ps, p)
		return fmt.Errorf("put status %s: commit: %w", id, err)
	}
	written(ps)
	return nil
}

// pendingStatus is a status waiting to be written.
type pendingStatus struct {
	id      string
	body    []byte
	expires int64 // microseconds
	done    chan struct{}
}

// statusQueue holds the statuses waiting to be written. A write
// transaction takes them all, writes them, and once it has committed
// marks them written (see written); if it fails, it puts them back.
type statusQueue struct {
	mu      sync.Mutex
	pending []*pendingStatus
}

func (q *statusQueue) add(p *pendingStatus) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.pending = append(q.pending, p)
}

// take returns every status waiting, and leaves none.
func (q *statusQueue) take() []*pendingStatus {
	q.mu.Lock()
	defer q.mu.Unlock()
	ps := q.pending
	q.pending = nil
	return ps
}

// putBack returns the statuses of a write that failed to the queue, but
// for the status of the caller, which reports the failure itself.
func (q *statusQueue) putBack(ps []*pendingStatus, caller *pendingStatus) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for _, p := range ps {
		if p != caller {
			q.pending = append(q.pending, p)
		}
	}
}

// remove takes p out of the queue, if it is still there.
func (q *statusQueue) remove(p *pendingStatus) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if i := slices.Index(q.pending, p); i >= 0 {
		q.pending = slices.Delete(q.pending, i, i+1)
	}
}

// written tells the callers of PutStatus that their statuses committed.
func written(ps []*pendingStatus) {
	for _, p := range ps {
		close(p.done)
	}
}

// writeStatuses writes ps within tx, and drops the statuses expired.
func (s *Store) writeStatuses(ctx context.Context, tx *sql.Tx, ps []*pendingStatus) error {
	if len(ps) == 0 {
		return nil
	}
	for _, p := range ps {
		if _, err := tx.ExecContext(ctx, `INSERT INTO taxii_statuses (id, body, expires) VALUES (?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET body = excluded.body, expires = excluded.expires`, p.id, p.body, p.expires); err != nil {
			return fmt.Errorf("status %s: %w", p.id, err)
		}
	}
	// Expired statuses are dropped as new ones arrive.
	if _, err := tx.ExecContext(ctx, `DELETE FROM taxii_statuses WHERE expires <= ?`, s.now().UnixMicro()); err != nil {
		return fmt.Errorf("expire statuses: %w", err)
	}
	return nil
}
