package main

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/taxii"
)

// viewFlushInterval bounds how long a read waits to be written to the
// audit log; viewBatch how many object ids one object-viewed entry names.
var (
	viewFlushInterval = time.Second
	viewBatch         = 1000
)

// taxiiAudit records TAXII reads and deletions in the node's audit log.
// Deletions are recorded before the caller gets its answer. Reads are
// gathered and written every viewFlushInterval, per caller and collection,
// so that a busy feed costs one append a second instead of one per page;
// a crash can lose at most the reads of the last interval, never a
// deletion. A full queue makes readers wait rather than go unrecorded.
type taxiiAudit struct {
	log    *ledger.Log
	logger *slog.Logger
	views  chan viewed
	stop   chan struct{}
	done   chan struct{}
	once   sync.Once
}

type viewed struct {
	actor, collection string
	ids               []string
}

var _ taxii.Audit = (*taxiiAudit)(nil)

// newTaxiiAudit starts the recorder; Close flushes and stops it. It
// returns nil when the store keeps no audit log.
func newTaxiiAudit(s store, logger *slog.Logger) *taxiiAudit {
	st, err := nodeLedger(s)
	if err != nil {
		return nil
	}
	a := &taxiiAudit{log: ledger.New(st), logger: logger, views: make(chan viewed, 256), stop: make(chan struct{}), done: make(chan struct{})}
	go a.run()
	return a
}

func actorOf(p taxii.Principal) string {
	switch p.Kind {
	case taxii.Partner:
		return "partner " + p.ID
	case taxii.Local:
		return "user " + p.ID
	}
	return p.Kind.String()
}

// Served queues the ids served for the next flush.
func (a *taxiiAudit) Served(_ context.Context, p taxii.Principal, c tearline.Collection, objs []tearline.StoredObject) {
	ids := make([]string, len(objs))
	for i := range objs {
		ids[i] = objs[i].ID
	}
	// The content was written: it is recorded even if the caller has gone.
	select {
	case a.views <- viewed{actor: actorOf(p), collection: c.ID, ids: ids}:
	case <-a.stop:
		a.append(context.Background(), viewEvents(actorOf(p), c.ID, ids))
	}
}

// Deleted records a deletion at once.
func (a *taxiiAudit) Deleted(ctx context.Context, p taxii.Principal, c tearline.Collection, objs []tearline.StoredObject) error {
	var subjects []string
	for i := range objs {
		subjects = append(subjects, objs[i].ID+"@"+objs[i].EffectiveVersion().UTC().Format(time.RFC3339Nano))
	}
	return a.append(ctx, []ledger.Event{{Kind: ledger.KindObjectDeleted, Time: time.Now().UTC(), Actor: actorOf(p),
		Subjects: subjects, Details: map[string]string{"collection": c.ID, "versions": strconv.Itoa(len(objs))}}})
}

func viewEvents(actor, collection string, ids []string) []ledger.Event {
	var evs []ledger.Event
	now := time.Now().UTC()
	for start := 0; start < len(ids); start += viewBatch {
		part := ids[start:min(start+viewBatch, len(ids))]
		evs = append(evs, ledger.Event{Kind: ledger.KindObjectViewed, Time: now, Actor: actor, Subjects: part,
			Details: map[string]string{"collection": collection, "objects": strconv.Itoa(len(part))}})
	}
	return evs
}

func (a *taxiiAudit) append(ctx context.Context, evs []ledger.Event) error {
	if len(evs) == 0 {
		return nil
	}
	var err error
	for try := 0; try < 5; try++ {
		if _, err = a.log.Append(ctx, evs...); !errors.Is(err, ledger.ErrConflict) {
			break
		}
	}
	if err != nil {
		a.logger.Error("audit log: TAXII reads", "err", err)
	}
	return err
}

func (a *taxiiAudit) run() {
	defer close(a.done)
	type key struct{ actor, collection string }
	pending := map[key][]string{}
	n := 0
	flush := func() {
		var evs []ledger.Event
		for k, ids := range pending {
			evs = append(evs, viewEvents(k.actor, k.collection, ids)...)
		}
		a.append(context.Background(), evs)
		clear(pending)
		n = 0
	}
	t := time.NewTicker(viewFlushInterval)
	defer t.Stop()
	for {
		select {
		case v := <-a.views:
			k := key{v.actor, v.collection}
			pending[k] = append(pending[k], v.ids...)
			if n += len(v.ids); n >= 10*viewBatch {
				flush()
			}
		case <-t.C:
			flush()
		case <-a.stop:
			for {
				select {
				case v := <-a.views:
					k := key{v.actor, v.collection}
					pending[k] = append(pending[k], v.ids...)
				default:
					flush()
					return
				}
			}
		}
	}
}

// auditOf is a as the taxii.Config.Audit field: nil when there is none.
func (a *taxiiAudit) taxii() taxii.Audit {
	if a == nil {
		return nil
	}
	return a
}

// Close writes what is pending and stops the recorder.
func (a *taxiiAudit) Close() {
	if a == nil {
		return
	}
	a.once.Do(func() {
		close(a.stop)
		<-a.done
	})
}
