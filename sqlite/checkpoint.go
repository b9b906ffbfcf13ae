package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"sync"
	"time"
)

// checkpointEvery is how often the checkpointer copies the WAL into the
// database file, if anything was written since it last did. A bulk import
// writes some 20,000 pages of WAL a second: about what SQLite's automatic
// checkpoint copied at a time when it ran every 16,384 pages.
const checkpointEvery = time.Second

// checkpointer copies the WAL into the database file in the background.
//
// SQLite's automatic checkpoint runs in the connection that commits,
// before its COMMIT returns: under the writer lock, so that every write
// waits for it. In a bulk import that was a tenth of a second every forty
// transactions or so, a tenth of the writer's time.
//
// The checkpointer copies in two steps. The first runs without the lock,
// while writes go on. The second takes the lock and copies only what was
// written during the first; with the WAL then wholly in the database, the
// next write starts it over from its beginning, instead of growing it.
type checkpointer struct {
	db    *sql.DB
	w     *writer
	every time.Duration

	quit     chan struct{}
	quitOnce sync.Once
	done     chan struct{}
	// between, if set, runs between the two steps of a checkpoint
	// (tests write there).
	between func()

	mu   sync.Mutex
	runs int   // checkpoints completed
	err  error // the first that failed
}

func startCheckpointer(db *sql.DB, w *writer, every time.Duration) *checkpointer {
	c := &checkpointer{db: db, w: w, every: every, quit: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c
}

func (c *checkpointer) loop() {
	defer close(c.done)
	t := time.NewTicker(c.every)
	defer t.Stop()
	seen := c.w.ended.Load()
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		n := c.w.ended.Load()
		if n == seen {
			continue
		}
		seen = n
		_, err := c.checkpoint(context.Background())
		c.mu.Lock()
		if err == nil {
			c.runs++
		} else if c.err == nil {
			c.err = err
		}
		c.mu.Unlock()
	}
}

// checkpoint copies the WAL into the database file, most of it without
// the writer lock and the rest with it, and reports whether the whole WAL
// was copied. It is not when a reader still reads an older state of the
// database from the WAL.
func (c *checkpointer) checkpoint(ctx context.Context) (whole bool, err error) {
	if _, err := c.passive(ctx); err != nil {
		return false, err
	}
	if c.between != nil {
		c.between()
	}
	select {
	case c.w.lock <- struct{}{}:
	case <-c.quit:
		return false, nil // Close checkpoints the whole WAL itself
	}
	defer func() { <-c.w.lock }()
	return c.passive(ctx)
}

// passive copies what it can of the WAL without waiting (the frames that
// no reader still needs in the WAL), and reports whether that was all.
func (c *checkpointer) passive(ctx context.Context) (whole bool, err error) {
	var busy, frames, copied int
	if err := c.db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		return false, fmt.Errorf("checkpoint: %w", err)
	}
	return busy == 0 && copied == frames, nil
}

// stop ends the checkpoints and returns the first that failed, if any.
// The store's Close checkpoints what remains. It may be called again.
func (c *checkpointer) stop() error {
	if c == nil {
		return nil
	}
	c.quitOnce.Do(func() { close(c.quit) })
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// completed is how many checkpoints have completed.
func (c *checkpointer) completed() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.runs
}
