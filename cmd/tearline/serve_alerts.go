package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/analytics/webhook"
	"github.com/tearline/tearline/node"
)

// Early warning while the node serves: the analytics corpus is built from
// the store in the background, then kept current by polling the store,
// so that every ingest path (import, TAXII POST, federation, the console)
// reaches it without a hook in any of them.
var (
	// alertPollInterval is how often the store is asked for versions
	// added since the last one seen.
	alertPollInterval = time.Second
	// alertSweepInterval is how often every collection is listed to find
	// the objects deleted or recalled since the last sweep.
	alertSweepInterval = time.Minute
	// alertViewInterval is how often a webhook's viewer record is read
	// again; the view is rebuilt when it changed, and at least every
	// alertViewLifetime, since decisions depend on the time.
	alertViewInterval = time.Minute
	alertViewLifetime = time.Hour
)

// alertPage bounds the versions read per query while polling and sweeping.
const alertPage = 1000

// alertServices finds the early warning of a store: the console, built
// by the users' server from the same store, reads it there. A store is
// served by at most one alertService at a time.
var alertServices sync.Map // store -> *alertService

// alertService is the node's early warning while it serves.
type alertService struct {
	store  store
	as     analytics.Store
	users  tearline.UserStore // nil when the store keeps no users
	rel    *releasing
	logger *slog.Logger

	ready  chan struct{} // closed when the corpus is built
	corpus *analytics.Corpus
	failed error // why the corpus could not be built; set before ready closes
	// feeding counts the webhooks with an open subscription.
	feeding atomic.Int32
}

// errAlertsStarting says the corpus is still being built.
var errAlertsStarting = errors.New("early warning is still reading the store")

// startAlerts starts the node's early warning on the store and returns
// the function that stops it and waits for it. A store that the corpus
// cannot read (see analytics.Store) gets none, and says so in the log.
func startAlerts(ctx context.Context, n *node.Node, s store, logger *slog.Logger) (stop func()) {
	as, ok := s.(analytics.Store)
	if !ok {
		logger.Warn("early warning off: the store keeps no release classes")
		return func() {}
	}
	rel, err := nodeReleasing(n)
	if err != nil {
		logger.Error("early warning off: agreements", "err", err)
		return func() {}
	}
	a := &alertService{store: s, as: as, rel: rel, logger: logger, ready: make(chan struct{})}
	if us, err := userStoreOf(s); err == nil {
		a.users = us
	}
	if _, loaded := alertServices.LoadOrStore(s, a); loaded {
		logger.Error("early warning: already running on this store")
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { a.run(ctx) })
	for i, w := range n.Config.Alerts.Webhooks {
		sender, err := newAlertSender(w)
		if err != nil {
			// Fail closed: an endpoint without its secret receives
			// nothing, and the operator is told which entry to fix.
			logger.Error("early warning: webhook not started", "entry", fmt.Sprintf("alerts.webhooks[%d]", i), "viewer", w.Viewer, "err", err)
			continue
		}
		wg.Go(func() { sender.Run(ctx) })
		wg.Go(func() { a.feed(ctx, sender, w.Viewer) })
	}
	return func() {
		cancel()
		wg.Wait()
		alertServices.CompareAndDelete(s, a)
	}
}

// newAlertSender makes the sender of one webhook entry, with the secret
// from the environment variable the entry names.
func newAlertSender(w node.WebhookConfig) (*webhook.Sender, error) {
	secret := os.Getenv(w.SecretEnv)
	if secret == "" {
		return nil, fmt.Errorf("environment variable %s is not set; it must hold the signing secret (at least %d bytes)", w.SecretEnv, webhook.MinSecretLen)
	}
	return webhook.New(webhook.Config{URL: w.URL, Secret: []byte(secret)})
}

// alertServiceOf returns the early warning running on s, or nil.
func alertServiceOf(s store) *alertService {
	if v, ok := alertServices.Load(s); ok {
		return v.(*alertService)
	}
	return nil
}

// built returns the corpus once built: errAlertsStarting before, and the
// build's error if it failed.
func (a *alertService) built() (*analytics.Corpus, error) {
	select {
	case <-a.ready:
		if a.failed != nil {
			return nil, a.failed
		}
		return a.corpus, nil
	default:
		return nil, errAlertsStarting
	}
}

// viewFor returns the corpus and a view of it for local user u, deciding
// as the users' TAXII does, at now. A disabled user sees nothing.
func (a *alertService) viewFor(u *tearline.User, now time.Time) (*analytics.Corpus, *analytics.View, error) {
	c, err := a.built()
	if err != nil {
		return nil, nil, err
	}
	if u.Disabled {
		return nil, nil, fmt.Errorf("user %s is disabled: %w", u.Name, tearline.ErrNotFound)
	}
	d, err := analytics.LocalUserDecider(a.rel.engine, access.Recipient(u), now)
	if err != nil {
		return nil, nil, err
	}
	v, err := c.NewView(u.Name, d)
	if err != nil {
		return nil, nil, err
	}
	return c, v, nil
}

// run builds the corpus, then keeps it current until ctx ends.
//
// New versions: every alertPollInterval, each collection is asked for the
// versions added after the newest one seen in it (DateAdded increases
// across the whole node), and they are given to Corpus.Apply, which
// publishes the alerts of new sightings to the subscribers.
//
// Deletions and recalls leave no version behind to poll for, so every
// alertSweepInterval each collection is listed and the objects listed in
// the previous sweep, or applied since, that are gone are given to
// Corpus.Forget. A sweep happens before the build, so that the objects
// the build reads are known to the next one. An object of which only
// the newest versions are deleted is not noticed: the corpus keeps the
// newest version it saw until the object is gone or a newer one arrives.
func (a *alertService) run(ctx context.Context) {
	present, marks, err := a.sweep(ctx)
	if err == nil {
		var c *analytics.Corpus
		c, err = analytics.Build(ctx, a.as, analytics.Options{})
		if err == nil {
			st := c.Stats()
			a.logger.Info("early warning ready", "documents", st.Documents, "indexed", st.Indexed, "problems", st.Problems, "elapsed", st.Elapsed.String())
		}
		a.corpus = c
	}
	if err != nil {
		a.failed = fmt.Errorf("early warning: %w", err)
		if ctx.Err() == nil {
			a.logger.Error("early warning off", "err", err)
		}
	}
	close(a.ready)
	if a.failed != nil {
		return
	}
	poll := time.NewTicker(alertPollInterval)
	defer poll.Stop()
	lastSweep := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-poll.C:
		}
		if err := a.poll(ctx, marks, present); err != nil && ctx.Err() == nil {
			a.logger.Error("early warning: poll", "err", err)
		}
		if time.Since(lastSweep) < alertSweepInterval {
			continue
		}
		lastSweep = time.Now()
		now, _, err := a.sweep(ctx)
		if err != nil {
			if ctx.Err() == nil {
				a.logger.Error("early warning: sweep", "err", err)
			}
			continue
		}
		var gone []string
		for id := range present {
			if !now[id] {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			slices.Sort(gone)
			a.corpus.Forget(gone...)
			a.logger.Info("early warning: objects gone from the store", "count", len(gone))
		}
		present = now
	}
}

// sweep lists the ids of the objects in every collection, and the newest
// DateAdded of each collection.
func (a *alertService) sweep(ctx context.Context) (map[string]bool, map[string]time.Time, error) {
	colls, err := a.store.Collections(ctx)
	if err != nil {
		return nil, nil, err
	}
	ids := map[string]bool{}
	marks := map[string]time.Time{}
	for _, coll := range colls {
		q := tearline.ObjectQuery{Collection: coll.ID, Limit: alertPage}
		for {
			page, err := a.store.Objects(ctx, q)
			if err != nil {
				return nil, nil, fmt.Errorf("collection %s: %w", coll.Alias, err)
			}
			for i := range page.Objects {
				ids[page.Objects[i].ID] = true
			}
			if len(page.Objects) == 0 {
				break
			}
			q.After = page.Objects[len(page.Objects)-1].DateAdded
			marks[coll.ID] = q.After
			if !page.More {
				break
			}
		}
	}
	return ids, marks, nil
}

// poll applies the versions added to each collection after its mark, and
// moves the marks on. Versions the build already read are applied again
// harmlessly: Apply keeps an object's newest version and ignores the same
// one twice.
func (a *alertService) poll(ctx context.Context, marks map[string]time.Time, present map[string]bool) error {
	colls, err := a.store.Collections(ctx)
	if err != nil {
		return err
	}
	for _, coll := range colls {
		for {
			page, err := a.store.Objects(ctx, tearline.ObjectQuery{Collection: coll.ID, AddedAfter: marks[coll.ID], Limit: alertPage})
			if err != nil {
				return fmt.Errorf("collection %s: %w", coll.Alias, err)
			}
			if len(page.Objects) == 0 {
				break
			}
			if err := a.corpus.Apply(ctx, coll.ID, page.Objects); err != nil {
				return fmt.Errorf("collection %s: %w", coll.Alias, err)
			}
			for i := range page.Objects {
				present[page.Objects[i].ID] = true
			}
			marks[coll.ID] = page.Objects[len(page.Objects)-1].DateAdded
			if !page.More {
				break
			}
		}
	}
	return nil
}

// feed forwards to sender the alerts of viewer's view until ctx ends.
// The viewer's record is read every alertViewInterval; the subscription
// is replaced when the record changed (clearances, nationality, disabled)
// or is older than alertViewLifetime, and closed while the user is
// missing or disabled: the endpoint then receives nothing. The new
// subscription opens before the old one closes, so an alert raised
// meanwhile may be delivered twice, with the same delivery id.
func (a *alertService) feed(ctx context.Context, sender *webhook.Sender, viewer string) {
	// fwd is the open subscription and its forwarder.
	type fwd struct {
		sub    *analytics.Subscription
		cancel context.CancelFunc
		done   chan struct{}
	}
	var (
		sub    *fwd
		record *tearline.User
		since  time.Time
	)
	closeSub := func() {
		if sub == nil {
			return
		}
		sub.sub.Close()
		sub.cancel()
		<-sub.done
		sub = nil
		a.feeding.Add(-1)
	}
	defer closeSub()
	select {
	case <-ctx.Done():
		return
	case <-a.ready:
	}
	if a.users == nil {
		a.logger.Error("early warning: webhook off: the store keeps no users", "viewer", viewer)
		return
	}
	t := time.NewTicker(alertViewInterval)
	defer t.Stop()
	for {
		u, err := a.users.User(ctx, viewer)
		switch {
		case errors.Is(err, tearline.ErrNotFound) || err == nil && u.Disabled:
			if sub != nil || record == nil {
				a.logger.Warn("early warning: webhook viewer missing or disabled; nothing is delivered", "viewer", viewer)
			}
			closeSub()
			record = &tearline.User{}
		case err != nil:
			if ctx.Err() == nil {
				a.logger.Error("early warning: webhook viewer", "viewer", viewer, "err", err)
			}
		case sub == nil || !reflect.DeepEqual(*record, u) || time.Since(since) > alertViewLifetime:
			c, v, err := a.viewFor(&u, time.Now().UTC())
			if err == nil {
				var next *analytics.Subscription
				if next, err = c.Subscribe(v, 256); err == nil {
					closeSub()
					fctx, cancel := context.WithCancel(ctx)
					f := &fwd{sub: next, cancel: cancel, done: make(chan struct{})}
					go func() { defer close(f.done); sender.Forward(fctx, next) }()
					sub, record, since = f, &u, time.Now()
					a.feeding.Add(1)
				}
			}
			if err != nil {
				// Fail closed: without a view of its own the endpoint
				// receives nothing.
				closeSub()
				a.logger.Error("early warning: webhook view", "viewer", viewer, "err", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
