package analytics

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/policy"
)

// A Decider says whether one viewer may see the object versions of a
// release class (see package release): the release engine's answer, never
// this package's. Sees receives the class's store id and the decision
// subject the class encodes; it MUST NOT call back into the Corpus, and
// it is called once per class and view, so it may be as slow as a
// decision.
type Decider interface {
	Sees(class int64, subject *policy.Subject) bool
}

// LocalUserDecider decides for a local user of the node (a recipient with
// User set, as policy decides it: a user of the holder's nation under the
// node's own rules, a foreign liaison officer under the agreements), at
// time at. A user views what it sees without keeping a copy, so the
// decision is for tearline.Disclose: DISPLAY ONLY material is shown to
// those it may be displayed to. Only an Allow counts: a class the user
// may see only through a tearline variant is hidden, the variant being
// an object of its own.
func LocalUserDecider(e *policy.Engine, rc *tearline.Recipient, at time.Time) (Decider, error) {
	if e == nil || rc == nil || rc.User == "" {
		return nil, fmt.Errorf("analytics: a local user's view needs the release engine and a recipient with User set: %w", tearline.ErrInvalid)
	}
	if at.IsZero() {
		return nil, fmt.Errorf("analytics: a local user's view needs the time of its decisions: %w", tearline.ErrInvalid)
	}
	return &userDecider{e: e, rc: rc, at: at}, nil
}

type userDecider struct {
	e  *policy.Engine
	rc *tearline.Recipient
	at time.Time
}

func (d *userDecider) Sees(_ int64, s *policy.Subject) bool {
	return s != nil && d.e.Verdict(&policy.Request{Subject: s, Recipient: d.rc, Action: tearline.Disclose, Time: d.at}) == tearline.Allow
}

// ReleaseLister is what a partner's view reads of the release store.
type ReleaseLister interface {
	Releases(ctx context.Context) ([]tearline.ClassRelease, error)
}

// PartnerDecider decides for a partner from the node's materialised
// release sets: the partner sees the classes released to it outright
// (tearline.Allow) when the sets were read, and nothing else. A class
// decided later, or never, is hidden until a new decider is made: the
// release sets are the one record of what a partner may have, and a view
// must not run ahead of them.
func PartnerDecider(ctx context.Context, rs ReleaseLister, partner string) (Decider, error) {
	if partner == "" {
		return nil, fmt.Errorf("analytics: a partner's view needs the partner's code: %w", tearline.ErrInvalid)
	}
	all, err := rs.Releases(ctx)
	if err != nil {
		return nil, fmt.Errorf("analytics: release sets for %s: %w", partner, err)
	}
	d := &partnerDecider{allowed: make(map[int64]bool)}
	for _, r := range all {
		if r.Partner == partner && r.Outcome == tearline.Allow {
			d.allowed[r.Class] = true
		}
	}
	return d, nil
}

type partnerDecider struct{ allowed map[int64]bool }

func (d *partnerDecider) Sees(class int64, _ *policy.Subject) bool { return d.allowed[class] }

// View is one viewer's window on a Corpus: every answer the Corpus gives
// through it is computed over the documents the viewer's Decider lets it
// see, and nothing else. Decisions are made once per release class, when
// a query first meets the class, and kept for the life of the view; make
// a new view when agreements, release sets or the viewer's clearances
// change. A View is safe for concurrent use.
type View struct {
	c    *Corpus
	name string
	d    Decider

	mu   sync.Mutex
	seen []bool // by class number
}

// ErrNoDecider is returned by NewView without a Decider: the Corpus
// refuses to guess what a viewer may see.
var ErrNoDecider = errors.New("analytics: a view needs a Decider; see LocalUserDecider and PartnerDecider")

// NewView returns a view of the corpus for the viewer named name (shown in
// the alerts it receives), deciding with d.
func (c *Corpus) NewView(name string, d Decider) (*View, error) {
	if d == nil {
		return nil, ErrNoDecider
	}
	return &View{c: c, name: name, d: d}, nil
}

// Name returns the viewer's name.
func (v *View) Name() string { return v.name }

// visibility returns the viewer's Visibility over the corpus's documents.
// The caller MUST hold the corpus lock (read or write) for as long as it
// uses the result: the function reads the document table without locking.
func (v *View) visibility() Visibility {
	classes := v.c.classSnapshot()
	v.mu.Lock()
	for i := len(v.seen); i < len(classes); i++ {
		cl := classes[i]
		v.seen = append(v.seen, cl.subject != nil && v.d.Sees(cl.id, cl.subject))
	}
	seen := v.seen
	v.mu.Unlock()
	docs := v.c.docs
	return func(d uint32) bool {
		if int(d) >= len(docs) {
			return false
		}
		x := &docs[d]
		return x.live && x.class >= 0 && int(x.class) < len(seen) && seen[x.class]
	}
}
