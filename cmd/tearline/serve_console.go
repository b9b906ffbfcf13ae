package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/web"
)

// mountConsole serves the analyst's console (package web) under /console/
// on the users' mux, reading the node through the same store, users and
// release engine as the users' TAXII. A console that cannot be built is
// logged and answers 503, without keeping TAXII from serving.
func mountConsole(mux *http.ServeMux, n *node.Node, s store, us tearline.UserStore, rel *releasing, logger *slog.Logger) {
	c, err := newConsole(n, s, us, rel, logger)
	if err != nil {
		logger.Error("console unavailable", "err", err)
		mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "the console is unavailable on this node; see its log", http.StatusServiceUnavailable)
		})
		return
	}
	c.Mount(mux)
}

func newConsole(n *node.Node, s store, us tearline.UserStore, rel *releasing, logger *slog.Logger) (*web.Server, error) {
	objects, ok := s.(web.Objects)
	if !ok {
		return nil, errors.New("this store keeps no release sets")
	}
	holder := n.Config.Node.Partner
	cfg := web.Config{
		Node:       web.NodeInfo{Partner: holder, Name: n.Config.Node.Name},
		Users:      us,
		Objects:    objects,
		Decider:    &consoleDecider{store: s, rel: rel, holder: holder, classes: newClassDecider(s)},
		Publisher:  &consolePublisher{store: s, rel: rel},
		Agreements: consoleAgreements{rel: rel, store: s},
		// The agreements page previews changes as 'tearline agreement add
		// --dry-run' does.
		AgreementImpact: consoleAgreements{rel: rel, store: s},
		Partners:        consolePartners{pins: partner.NewStore(n.Dir, holder)},
		Exercises:       consoleExercises{speed: consoleExerciseSpeed},
		Logger:          logger,
	}
	if alertServiceOf(s) != nil {
		// serve starts early warning before it builds the users' server.
		cfg.Alerts = consoleAlerts{store: s}
	}
	if ls, ok := s.(federation.LinkStore); ok {
		cfg.Links = consoleLinks{store: ls}
	}
	switch w, err := nodeWorkflow(n, s, rel); {
	case err == nil:
		// As 'tearline release approve' answers: directly, or through
		// the partner's hub.
		cfg.Requests = web.WorkflowRequests(w)
	case !errors.Is(err, errNoRequests):
		return nil, err
	}
	if st, err := nodeLedger(s); err == nil {
		var keys []ed25519.PublicKey
		for _, k := range n.Keys() {
			if k.Kind == node.KindSigning && k.Status != node.StatusRevoked {
				keys = append(keys, k.Signing)
			}
		}
		cfg.Audit = &consoleAudit{Log: ledger.New(st), st: st, verifiers: ledger.NewVerifiers(logOrigin(n), keys...)}
	}
	return web.New(cfg)
}

// consoleDecider decides for the console as userVisibility does for the
// users' TAXII: stored versions by their release class, read once and
// kept, and versions without a class this node can read from their own
// JSON and markings.
type consoleDecider struct {
	store   store
	rel     *releasing
	holder  string
	classes *classDecider
}

var _ web.Decider = (*consoleDecider)(nil)

func (d *consoleDecider) Subjects(ctx context.Context, collection string, objs []tearline.StoredObject) ([]*policy.Subject, error) {
	byClass, err := d.classes.load(ctx, objs)
	if err != nil {
		return nil, err
	}
	out := make([]*policy.Subject, len(objs))
	defs := label.Definitions{}
	for i := range objs {
		if sub := byClass[objs[i].Class]; sub != nil {
			out[i] = sub
			continue
		}
		obj, v, err := stix.Parse(objs[i].JSON)
		if err != nil {
			// A stored version this node cannot read is shown to nobody.
			continue
		}
		if out[i], _, err = parsedSubject(ctx, d.store, collection, obj, v, d.holder, defs); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (d *consoleDecider) NewSubject(obj *tearline.Object, v *stix.Value, l tearline.Label) *policy.Subject {
	return newSubject(obj, v, d.holder, l)
}

func (d *consoleDecider) Decide(req *policy.Request) tearline.Decision {
	return d.rel.engine.Decide(req)
}

func (d *consoleDecider) Partners(at time.Time) []string { return d.rel.Partners(at) }

func (d *consoleDecider) Recipient(code string, at time.Time) *tearline.Recipient {
	return d.rel.recipient(code, at)
}

func (d *consoleDecider) Communities() []string {
	var out []string
	for _, c := range d.rel.Registry.Communities() {
		out = append(out, c.Code)
	}
	return out
}

// consolePublisher publishes as 'tearline import --banner' does: the
// label's marking definitions are stored first, then the objects, each
// given the label's markings and its release class by the one ingest
// path; the release sets are then brought up to date and the publication
// recorded in the audit log with the user who made it.
type consolePublisher struct {
	store store
	rel   *releasing
}

var _ web.Publisher = (*consolePublisher)(nil)

func (p *consolePublisher) Publish(ctx context.Context, pub web.Publication) (web.PublishResult, error) {
	var res web.PublishResult
	defs, refs, err := label.ToMarkings(pub.Label)
	if err != nil {
		return res, fmt.Errorf("publish: label: %w", err)
	}
	var marks bytes.Buffer
	for _, d := range defs {
		marks.Write(d)
		marks.WriteByte('\n')
	}
	// The definitions go in a run of their own so that the counts and
	// indices reported are those of what the user pasted.
	var refused error
	if _, err := ingest.Stream(ctx, p.store, &marks, ingest.Options{Collection: pub.Collection,
		Reject: func(rej ingest.Rejection) { refused = errors.Join(refused, rej.Err) }}); err != nil {
		return res, fmt.Errorf("publish: marking definitions: %w", err)
	}
	if refused != nil {
		return res, fmt.Errorf("publish: marking definitions: %w", refused)
	}
	sum, err := ingest.Stream(ctx, p.store, bytes.NewReader(pub.Content), ingest.Options{
		Collection: pub.Collection,
		Markings:   refs,
		Classify:   p.rel.classifier(),
		Reject: func(rej ingest.Rejection) {
			res.Rejections = append(res.Rejections, web.Rejection{Index: rej.Index, ID: rej.ID, Rule: rej.Rule, Message: rej.Error()})
		},
	})
	res.Read, res.Added, res.Present = sum.Read, sum.Added, sum.Present
	if err != nil {
		return res, fmt.Errorf("publish: %w", err)
	}
	rs, err := releaseStoreOf(p.store)
	if err != nil {
		return res, err
	}
	now := time.Now().UTC()
	if _, err := release.Update(ctx, rs, p.rel.Releaser, now, pub.Actor+" (console)"); err != nil {
		return res, fmt.Errorf("publish: release sets: %w", err)
	}
	return res, p.record(ctx, pub, now, res)
}

// record appends who published what, under which label, to the audit log.
func (p *consolePublisher) record(ctx context.Context, pub web.Publication, now time.Time, res web.PublishResult) error {
	st, err := nodeLedger(p.store)
	if err != nil {
		return err
	}
	var ids []string
	dec := stix.NewDecoder(bytes.NewReader(pub.Content))
	for {
		raw, _, err := dec.Next()
		if err == io.EOF || err != nil && !isObjectError(err) {
			break
		}
		if err != nil {
			continue
		}
		if obj, _, err := stix.Parse(bytes.Clone(raw)); err == nil && !slices.Contains(ids, obj.ID) {
			ids = append(ids, obj.ID)
		}
	}
	log := ledger.New(st)
	for start := 0; start < len(ids); start += 1000 {
		ev := ledger.Event{Kind: ledger.KindObjectIngested, Time: now, Actor: pub.Actor, Subjects: ids[start:min(start+1000, len(ids))],
			Details: map[string]string{"via": "console", "collection": pub.Collection, "label": label.Format(pub.Label),
				"added": strconv.Itoa(res.Added), "present": strconv.Itoa(res.Present), "rejected": strconv.Itoa(len(res.Rejections))}}
		for try := 0; ; try++ {
			_, err = log.Append(ctx, ev)
			if !errors.Is(err, ledger.ErrConflict) || try == 4 {
				break
			}
		}
		if err != nil {
			return fmt.Errorf("publish: audit log: %w", err)
		}
	}
	return nil
}

func isObjectError(err error) bool {
	var oe *stix.ObjectError
	return errors.As(err, &oe)
}

// consoleAudit reads the node's audit log and its newest checkpoint.
type consoleAudit struct {
	*ledger.Log
	st        ledger.Storage
	verifiers []note.Verifier
}

var _ web.Audit = (*consoleAudit)(nil)

// checkpointsExamined bounds how many of the newest stored checkpoints
// are opened to find the largest: cosigned copies of older checkpoints
// are stored after the node's own, so the newest is among the last few.
const checkpointsExamined = 64

func (a *consoleAudit) NewestCheckpoint(ctx context.Context) (ledger.Checkpoint, []byte, error) {
	cps, err := a.st.Checkpoints(ctx)
	if err != nil {
		return ledger.Checkpoint{}, nil, err
	}
	var best ledger.Checkpoint
	var signed []byte
	for i := len(cps) - 1; i >= 0 && i >= len(cps)-checkpointsExamined; i-- {
		cp, _, err := ledger.OpenCheckpoint(cps[i], a.verifiers...)
		if err != nil {
			// Not signed by a key of this node as it is now (a revoked
			// key): not a checkpoint to prove against.
			continue
		}
		if signed == nil || cp.Size > best.Size {
			best, signed = cp, cps[i]
		}
	}
	if signed == nil {
		return ledger.Checkpoint{}, nil, fmt.Errorf("no checkpoint signed by this node's keys: %w", tearline.ErrNotFound)
	}
	return best, signed, nil
}

// consoleAgreements are the agreements the console's decisions use.
type consoleAgreements struct {
	rel   *releasing
	store store
}

var _ web.AgreementImpact = consoleAgreements{}

// PreviewAgreement computes the impact of adding an agreement text to the
// agreements serve decides with, as 'tearline agreement add --dry-run'
// does, without storing or applying anything.
func (a consoleAgreements) PreviewAgreement(ctx context.Context, text []byte) (tearline.Agreement, release.Impact, error) {
	ag, err := policy.ParseAgreement(text)
	if err != nil {
		return ag, release.Impact{}, fmt.Errorf("%w: %v", web.ErrAgreementText, err)
	}
	if err := policy.ValidateAgreement(ag, a.rel.Registry); err != nil {
		return ag, release.Impact{}, fmt.Errorf("%w: %v", web.ErrAgreementText, err)
	}
	list := slices.Clone(a.rel.Agreements)
	found := false
	for i := range list {
		if list[i].ID != ag.ID {
			continue
		}
		if ag.Version <= list[i].Version {
			return ag, release.Impact{}, fmt.Errorf("%w: the node decides with %s@v%d already, and an agreement version is never rewritten: give the changed text version %d",
				web.ErrAgreementText, ag.ID, list[i].Version, list[i].Version+1)
		}
		list[i], found = ag, true
	}
	if !found {
		list = append(list, ag)
	}
	rel, err := newReleasing(a.rel.Registry, list, a.rel.Holder)
	if err != nil {
		return ag, release.Impact{}, fmt.Errorf("%w: %v", web.ErrAgreementText, err)
	}
	rs, err := releaseStoreOf(a.store)
	if err != nil {
		return ag, release.Impact{}, err
	}
	plan, err := release.Compute(ctx, rs, rel.Releaser, release.Options{All: true, At: time.Now().UTC(),
		Actor: a.rel.Holder + " console preview", Cause: fmt.Sprintf("agreement %s@v%d previewed", ag.ID, ag.Version)})
	if err != nil {
		return ag, release.Impact{}, fmt.Errorf("release sets: %w", err)
	}
	return ag, plan.Impact, nil
}

func (a consoleAgreements) Agreements(context.Context) ([]tearline.Agreement, error) {
	return slices.Clone(a.rel.Agreements), nil
}

// consolePartners lists the pinned partner cards.
type consolePartners struct{ pins *partner.Store }

func (p consolePartners) PartnerCards(context.Context) ([]web.PartnerCard, error) {
	pinned, err := p.pins.List()
	if err != nil {
		return nil, err
	}
	out := make([]web.PartnerCard, 0, len(pinned))
	for _, pc := range pinned {
		c := pc.Card
		out = append(out, web.PartnerCard{Code: c.Partner, Name: c.Name, Fingerprint: pc.Fingerprint.String(),
			SigningKeyID: c.SigningKey.ID, HPKEKeyID: c.HPKEKey.ID, TLSCertificateSHA256: c.TLSCertificateSHA256,
			Endpoints: c.Endpoints, Issued: c.Issued})
	}
	return out, nil
}

// consoleAlerts reads the early warning that serve runs on the store (see
// serve_alerts.go), each answer for the signed-in user's view. It is
// looked up on every request, since the console is built before the
// corpus is; without early warning on the store, the console says it is
// starting.
type consoleAlerts struct{ store store }

var _ web.Alerts = consoleAlerts{}

func (c consoleAlerts) view(u *tearline.User) (*analytics.Corpus, *analytics.View, error) {
	a := alertServiceOf(c.store)
	if a == nil {
		return nil, nil, web.ErrAlertsStarting
	}
	corpus, v, err := a.viewFor(u, time.Now().UTC())
	if errors.Is(err, errAlertsStarting) {
		return nil, nil, web.ErrAlertsStarting
	}
	return corpus, v, err
}

func (c consoleAlerts) Recent(_ context.Context, u *tearline.User, limit int) ([]analytics.Alert, error) {
	corpus, v, err := c.view(u)
	if err != nil {
		return nil, err
	}
	out, err := corpus.SightingAlerts(v)
	if err != nil {
		return nil, err
	}
	rises, err := corpus.Rises(v, time.Time{})
	if err != nil {
		return nil, err
	}
	out = append(out, rises...)
	slices.SortStableFunc(out, func(a, b analytics.Alert) int { return alertTime(&b).Compare(alertTime(&a)) })
	return out[:min(len(out), limit)], nil
}

// alertTime is when what an alert is about happened: the sighting, or
// the alert's raising for a rise.
func alertTime(a *analytics.Alert) time.Time {
	if a.Sighting != nil {
		return a.Sighting.At
	}
	return a.Raised
}

func (c consoleAlerts) Subscribe(_ context.Context, u *tearline.User) (*analytics.Subscription, error) {
	corpus, v, err := c.view(u)
	if err != nil {
		return nil, err
	}
	return corpus.Subscribe(v, 64)
}

// consoleLinks reads the federation link states the store keeps.
type consoleLinks struct{ store federation.LinkStore }

var _ web.Links = consoleLinks{}

func (l consoleLinks) LinkStates(ctx context.Context) ([]web.LinkState, error) {
	states, err := federation.States(ctx, l.store)
	if err != nil {
		return nil, err
	}
	out := make([]web.LinkState, 0, len(states))
	for _, st := range states {
		ls := web.LinkState{Partner: st.Partner, ToSend: st.OutLag, ToReceive: st.InLag, LastServed: st.LastServed, LastReceived: st.LastReceived}
		switch {
		case st.SendError != "" && (st.ReceiveError == "" || st.SendErrorAt.After(st.ReceiveErrorAt)):
			ls.Error, ls.ErrorAt = "sending: "+st.SendError, st.SendErrorAt
		case st.ReceiveError != "":
			ls.Error, ls.ErrorAt = "receiving: "+st.ReceiveError, st.ReceiveErrorAt
		}
		out = append(out, ls)
	}
	return out, nil
}
