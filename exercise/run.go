package exercise

import (
	"bytes"
	"context"
	"crypto/sha1"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// ErrUnsupported is returned by a Federation for an inject it cannot play.
// The scorecard lists such injects; the expectations that needed them are
// missed, never met by default.
var ErrUnsupported = errors.New("not supported by this federation")

// Object is what an exercise publishes.
type Object struct {
	ID      string // a STIX id, derived from the scenario and the object's name
	Type    string
	Name    string
	Banner  string // the label; the runner adds the EXERCISE marking
	Pattern string
}

// Federation is the federation an exercise runs on: real nodes, each with
// its own store, keys and listener, linked by the federation protocol.
type Federation interface {
	// Publish stores obj at nation's node with its label, as the nation's
	// own information, for the federation to carry.
	Publish(ctx context.Context, nation string, obj Object) error
	// Holds reports whether nation's node holds object id.
	Holds(ctx context.Context, nation, id string) (bool, error)
	// Decide decides, on holder's node and now, releasing id to recipient.
	Decide(ctx context.Context, holder, id, recipient string) (tearline.Decision, error)
	Sight(ctx context.Context, nation, id string) error
	// Request asks the originator of id to let holder pass it to to, and
	// returns the request's id.
	Request(ctx context.Context, holder, id, to string) (string, error)
	Approve(ctx context.Context, originator, request string) error
	Deny(ctx context.Context, originator, request string) error
	Recall(ctx context.Context, originator, id string) error
	AddAgreement(ctx context.Context, holders []string, a Agreement) error
	Join(ctx context.Context, nation, community string) error
	Partition(ctx context.Context, a, b string) error
	Heal(ctx context.Context, a, b string) error
	// Kill and Restart stop and start a nation's node or a hub.
	Kill(ctx context.Context, node string) error
	Restart(ctx context.Context, node string) error
	// RotateKey replaces nation's current key of the kind given ("signing"
	// or "hpke") while the exercise runs, and has its partners accept the
	// new key as the project's procedure says. It returns what was done,
	// step by step, for the scorecard's timeline.
	RotateKey(ctx context.Context, nation, kind string) (string, error)
	// Relayed returns how far, by sequence number of from's stream to to,
	// the hub holds an acknowledgement by to of batches it relayed: 0 if
	// it relayed nothing that was acknowledged.
	Relayed(ctx context.Context, hub, from, to string) (uint64, error)
	// HubStorage returns the raw bytes of every file in which the hub
	// keeps its state (its database and journal files), by file name.
	HubStorage(ctx context.Context, hub string) (map[string][]byte, error)
}

// ObjectID is the STIX id an exercise gives the object name of scenario
// id: the same on every run, distinct across scenarios.
func ObjectID(scenario, typ, name string) string {
	h := sha1.Sum([]byte("tearline exercise\x00" + scenario + "\x00" + name))
	h[6] = h[6]&0x0f | 0x50
	h[8] = h[8]&0x3f | 0x80
	return fmt.Sprintf("%s--%x-%x-%x-%x-%x", typ, h[0:4], h[4:6], h[6:8], h[8:10], h[10:16])
}

// Options say how to run.
type Options struct {
	// Speed is how many scenario seconds pass per real second (60 plays an
	// hour in a minute). 0 means 60.
	Speed float64
	// Poll is how often holdings are checked, in real time. 0 means 25 ms.
	Poll time.Duration
	// Grace is how long, in real time, the runner waits after the last
	// inject for expectations still open. 0 means 30 s.
	Grace time.Duration
	// Progress, if set, is told of every inject as it is played.
	Progress func(Event)
}

// Run plays the scenario's timeline on f with an accelerated clock, watches
// every node for the scenario's objects, and scores the expectations. It
// returns the scorecard even when injects fail: a failed inject is part of
// the result. It returns an error only when the run could not be scored
// (the context ended).
func Run(ctx context.Context, sc *Scenario, f Federation, opts Options) (*Scorecard, error) {
	if opts.Speed <= 0 {
		opts.Speed = 60
	}
	if opts.Poll <= 0 {
		opts.Poll = 25 * time.Millisecond
	}
	if opts.Grace <= 0 {
		opts.Grace = 30 * time.Second
	}
	r := &runner{sc: sc, f: f, opts: opts, ids: map[string]string{}, types: map[string]string{},
		published: map[string]time.Duration{}, publisher: map[string]string{}, requests: map[string]string{},
		held: map[[2]string]time.Duration{}}
	card := &Scorecard{Scenario: sc.ID, Title: sc.Title, Exercise: sc.Exercise, Speed: opts.Speed, Nations: sc.NationCodes(), HubNodes: sc.HubCodes()}
	r.card = card
	for _, p := range sc.Objects() {
		r.ids[p.Object] = ObjectID(sc.ID, p.Type, p.Object)
		r.types[p.Object] = p.Type
		r.publisher[p.Object] = p.By
	}
	r.start = time.Now()
	for i := range sc.Timeline {
		in := &sc.Timeline[i]
		if err := r.waitUntil(ctx, in.At.D()); err != nil {
			return nil, err
		}
		ev := r.play(ctx, i, in)
		card.Events = append(card.Events, ev)
		if opts.Progress != nil {
			opts.Progress(ev)
		}
		if err := r.observe(ctx); err != nil {
			return nil, err
		}
	}
	// Wait for open expectations, within their deadlines and the grace.
	end := time.Now().Add(opts.Grace)
	for time.Now().Before(end) && !r.settled(ctx) {
		if err := sleep(ctx, opts.Poll); err != nil {
			return nil, err
		}
		if err := r.observe(ctx); err != nil {
			return nil, err
		}
	}
	card.Duration = r.now()
	r.score(ctx)
	return card, nil
}

type runner struct {
	sc    *Scenario
	f     Federation
	opts  Options
	card  *Scorecard
	start time.Time

	ids, types, publisher map[string]string        // object name -> id, type, publisher
	published             map[string]time.Duration // object name -> scenario time published
	requests              map[string]string        // request name -> id
	held                  map[[2]string]time.Duration
	outages               []outage
	recalled              map[string]bool
}

type outage struct {
	what       string // "GBR-FRA" link or "DEU" node
	start, end time.Duration
	open       bool
}

// now is the scenario time elapsed.
func (r *runner) now() time.Duration {
	return time.Duration(float64(time.Since(r.start)) * r.opts.Speed)
}

func (r *runner) real(d time.Duration) time.Duration { return time.Duration(float64(d) / r.opts.Speed) }

func (r *runner) waitUntil(ctx context.Context, at time.Duration) error {
	for {
		left := r.real(at - r.now())
		if left <= 0 {
			return nil
		}
		if err := sleep(ctx, min(left, r.opts.Poll)); err != nil {
			return err
		}
		if err := r.observe(ctx); err != nil {
			return err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// play runs one inject.
func (r *runner) play(ctx context.Context, i int, in *Inject) Event {
	ev := Event{Index: i, At: in.At.D(), Played: r.now(), Note: in.Note}
	var err error
	switch {
	case in.Publish != nil:
		p := in.Publish
		ev.Kind, ev.Nation, ev.Detail = "publish", p.By, fmt.Sprintf("%s %q (%s)", p.Object, p.Name, p.Banner)
		err = r.f.Publish(ctx, p.By, Object{ID: r.ids[p.Object], Type: p.Type, Name: p.Name, Banner: p.Banner, Pattern: p.Pattern})
		if err == nil {
			r.published[p.Object] = r.now()
			r.held[[2]string{p.By, p.Object}] = r.now()
		}
	case in.Sight != nil:
		ev.Kind, ev.Nation, ev.Detail = "sight", in.Sight.By, in.Sight.Object
		err = r.f.Sight(ctx, in.Sight.By, r.ids[in.Sight.Object])
	case in.Request != nil:
		q := in.Request
		ev.Kind, ev.Nation, ev.Detail = "request", q.By, fmt.Sprintf("%s to %s (%s)", q.Object, q.To, q.Name)
		// A holder asks about what it holds: wait, within the grace, for
		// the object to reach it if it is still on its way.
		if err = r.waitHeld(ctx, q.By, q.Object); err == nil {
			var id string
			if id, err = r.f.Request(ctx, q.By, r.ids[q.Object], q.To); err == nil {
				r.requests[q.Name] = id
			}
		}
	case in.Approve != nil:
		ev.Kind, ev.Nation, ev.Detail = "approve", in.Approve.By, in.Approve.Request
		err = r.decision(ctx, in.Approve, r.f.Approve)
	case in.Deny != nil:
		ev.Kind, ev.Nation, ev.Detail = "deny", in.Deny.By, in.Deny.Request
		err = r.decision(ctx, in.Deny, r.f.Deny)
	case in.Recall != nil:
		ev.Kind, ev.Nation, ev.Detail = "recall", in.Recall.By, in.Recall.Object
		err = r.f.Recall(ctx, in.Recall.By, r.ids[in.Recall.Object])
		if err == nil {
			if r.recalled == nil {
				r.recalled = map[string]bool{}
			}
			r.recalled[in.Recall.Object] = true
		}
	case in.Agreement != nil:
		ev.Kind, ev.Detail = "agreement", in.Agreement.Example
		err = r.f.AddAgreement(ctx, in.Agreement.Holders, *in.Agreement)
	case in.Join != nil:
		ev.Kind, ev.Nation, ev.Detail = "join", in.Join.Nation, in.Join.Community
		err = r.f.Join(ctx, in.Join.Nation, in.Join.Community)
	case in.Partition != nil:
		a, b := in.Partition.Between[0], in.Partition.Between[1]
		ev.Kind, ev.Detail = "partition", a+"-"+b
		if err = r.f.Partition(ctx, a, b); err == nil {
			r.outages = append(r.outages, outage{what: a + "-" + b, start: r.now(), open: true})
		}
	case in.Heal != nil:
		a, b := in.Heal.Between[0], in.Heal.Between[1]
		ev.Kind, ev.Detail = "heal", a+"-"+b
		if err = r.f.Heal(ctx, a, b); err == nil {
			r.close(a+"-"+b, b+"-"+a)
		}
	case in.Kill != nil:
		ev.Kind, ev.Nation = "kill", in.Kill.Node
		if err = r.f.Kill(ctx, in.Kill.Node); err == nil {
			r.outages = append(r.outages, outage{what: in.Kill.Node, start: r.now(), open: true})
		}
	case in.Restart != nil:
		ev.Kind, ev.Nation = "restart", in.Restart.Node
		if err = r.f.Restart(ctx, in.Restart.Node); err == nil {
			r.close(in.Restart.Node)
		}
	case in.RotateKey != nil:
		ev.Kind, ev.Nation = "rotate-key", in.RotateKey.Node
		ev.Detail = in.RotateKey.Key + " key"
		var done string
		if done, err = r.f.RotateKey(ctx, in.RotateKey.Node, in.RotateKey.Key); done != "" {
			ev.Detail = in.RotateKey.Key + " key: " + done
		}
	}
	if err != nil {
		ev.Error = err.Error()
		ev.Unsupported = errors.Is(err, ErrUnsupported)
	}
	return ev
}

// waitHeld waits until nation's node holds the named object, for at most
// the grace period.
func (r *runner) waitHeld(ctx context.Context, nation, name string) error {
	end := time.Now().Add(r.opts.Grace)
	for {
		held, err := r.f.Holds(ctx, nation, r.ids[name])
		if err == nil && held {
			return nil
		}
		if time.Now().After(end) {
			if err == nil {
				err = fmt.Errorf("%s does not hold %s", nation, name)
			}
			return err
		}
		if err := sleep(ctx, r.opts.Poll); err != nil {
			return err
		}
		if err := r.observe(ctx); err != nil {
			return err
		}
	}
}

func (r *runner) decision(ctx context.Context, d *Decision, do func(context.Context, string, string) error) error {
	id, ok := r.requests[d.Request]
	if !ok {
		return fmt.Errorf("request %s was not made (its inject failed)", d.Request)
	}
	return do(ctx, d.By, id)
}

func (r *runner) close(names ...string) {
	for i := range r.outages {
		if r.outages[i].open && slices.Contains(names, r.outages[i].what) {
			r.outages[i].open, r.outages[i].end = false, r.now()
		}
	}
}

// observe records, for every published object and every node, when the
// node first holds it.
func (r *runner) observe(ctx context.Context) error {
	for name := range r.published {
		for _, n := range r.sc.Nations {
			k := [2]string{n.Code, name}
			if _, seen := r.held[k]; seen {
				continue
			}
			ok, err := r.f.Holds(ctx, n.Code, r.ids[name])
			if ctx.Err() != nil {
				return ctx.Err()
			}
			if err != nil {
				// A node that is down holds nothing for now.
				continue
			}
			if ok {
				r.held[k] = r.now()
			}
		}
	}
	return nil
}

// settled reports that every receive expectation is met or past its
// deadline, and that no node a recalled object must be purged from still
// holds it (the notices travel after the recall inject; the grace bounds
// the wait).
func (r *runner) settled(ctx context.Context) bool {
	for _, e := range r.sc.Expect {
		if e.Purged == nil || !r.recalled[e.Purged.Object] {
			continue
		}
		if held, err := r.f.Holds(ctx, e.Purged.Node, r.ids[e.Purged.Object]); err == nil && held {
			return false
		}
	}
	for _, e := range r.sc.Expect {
		if e.Relayed == nil {
			continue
		}
		if n, err := r.f.Relayed(ctx, e.Relayed.Hub, e.Relayed.From, e.Relayed.To); err != nil || n == 0 {
			return false
		}
	}
	for _, e := range r.sc.Expect {
		if e.Receive == nil {
			continue
		}
		pub, ok := r.published[e.Receive.Object]
		if !ok {
			continue
		}
		if _, held := r.held[[2]string{e.Receive.Node, e.Receive.Object}]; held {
			continue
		}
		if r.now() < pub+e.Receive.Within.D() {
			return false
		}
	}
	return true
}

// score checks every expectation, the policy violations and the links.
func (r *runner) score(ctx context.Context) {
	c := r.card
	for i, e := range r.sc.Expect {
		res := Result{Index: i}
		switch {
		case e.Receive != nil:
			h := e.Receive
			res.Kind, res.Nation, res.Object = "receive", h.Node, h.Object
			pub, published := r.published[h.Object]
			at, held := r.held[[2]string{h.Node, h.Object}]
			switch {
			case !published:
				res.Why = h.Object + " was never published (its inject failed)"
			case !held:
				res.Why = fmt.Sprintf("%s never arrived at %s", h.Object, h.Node)
			case at-pub > h.Within.D():
				res.Why = fmt.Sprintf("%s arrived at %s after %s; expected within %s", h.Object, h.Node, round(at-pub), h.Within.D())
			default:
				res.Met, res.Why = true, fmt.Sprintf("arrived after %s", round(at-pub))
			}
		case e.Never != nil:
			h := e.Never
			res.Kind, res.Nation, res.Object = "never", h.Node, h.Object
			if at, held := r.held[[2]string{h.Node, h.Object}]; held {
				res.Why = fmt.Sprintf("%s reached %s at %s", h.Object, h.Node, round(at))
				c.Violations = append(c.Violations, fmt.Sprintf("%s holds %s, which it must never receive", h.Node, h.Object))
			} else {
				res.Met, res.Why = true, "never arrived"
			}
		case e.Purged != nil:
			h := e.Purged
			res.Kind, res.Nation, res.Object = "purged", h.Node, h.Object
			ok, err := r.f.Holds(ctx, h.Node, r.ids[h.Object])
			switch {
			case err != nil:
				res.Why = "could not check: " + err.Error()
			case ok:
				res.Why = fmt.Sprintf("%s still holds %s after its recall", h.Node, h.Object)
			default:
				res.Met, res.Why = true, "purged"
			}
		case e.Relayed != nil:
			h := e.Relayed
			res.Kind, res.Nation, res.Object = "relayed", h.To, h.Hub+": "+h.From+"→"+h.To
			n, err := r.f.Relayed(ctx, h.Hub, h.From, h.To)
			switch {
			case err != nil:
				res.Why = "could not check: " + err.Error()
			case n == 0:
				res.Why = fmt.Sprintf("%s relayed nothing from %s that %s acknowledged", h.Hub, h.From, h.To)
			default:
				res.Met, res.Why = true, fmt.Sprintf("%s acknowledged %s's stream through %d at %s", h.To, h.From, n, h.Hub)
			}
		case e.Person != nil || e.Consent != nil:
			rel, kind, want := e.Person, "person", tearline.NeedsPerson
			if rel == nil {
				rel, kind, want = e.Consent, "consent", tearline.NeedsConsent
			}
			res.Kind, res.Nation, res.Object = kind, rel.To, rel.Object
			d, err := r.f.Decide(ctx, rel.Holder, r.ids[rel.Object], rel.To)
			switch {
			case err != nil:
				res.Why = "could not decide: " + err.Error()
			case d.Outcome != want:
				res.Why = fmt.Sprintf("%s to %s is %s, not %s%s", rel.Object, rel.To, d.Outcome, want, reasonText(d))
			case kind == "consent" && rel.From != "" && !slices.Contains(d.ConsentFrom, rel.From):
				res.Why = fmt.Sprintf("consent is needed from %v, not %s", d.ConsentFrom, rel.From)
			default:
				res.Met, res.Why = true, fmt.Sprintf("%s%s", d.Outcome, reasonText(d))
			}
			if err == nil && d.Outcome == tearline.NeedsPerson {
				c.NeededPerson = append(c.NeededPerson, fmt.Sprintf("%s: %s to %s", rel.Holder, rel.Object, rel.To))
			}
		}
		c.Results = append(c.Results, res)
		if res.Met {
			c.Met++
		} else {
			c.Missed++
		}
	}
	// Every arrival anywhere must be one its originator's engine allows.
	for k, at := range r.held {
		node, name := k[0], k[1]
		origin := r.publisher[name]
		if node == origin || r.recalled[name] {
			continue
		}
		d, err := r.f.Decide(ctx, origin, r.ids[name], node)
		if err == nil && d.Outcome != tearline.Allow && d.Outcome != tearline.AllowVariant && !r.expected(node, name) {
			c.Violations = append(c.Violations, fmt.Sprintf("%s holds %s (arrived at %s) though %s's release engine says %s%s",
				node, name, round(at), origin, d.Outcome, reasonText(d)))
		}
	}
	r.checkHubs(ctx)
	sort.Strings(c.Violations)
	c.Violations = slices.Compact(c.Violations)
	// Time to share, per link.
	links := map[string][]time.Duration{}
	for k, at := range r.held {
		origin := r.publisher[k[1]]
		if k[0] == origin {
			continue
		}
		links[origin+"→"+k[0]] = append(links[origin+"→"+k[0]], at-r.published[k[1]])
	}
	for l, ds := range links {
		slices.Sort(ds)
		c.Links = append(c.Links, LinkTime{Link: l, Objects: len(ds), Median: round(ds[len(ds)/2]), Max: round(ds[len(ds)-1])})
	}
	sort.Slice(c.Links, func(i, j int) bool { return c.Links[i].Link < c.Links[j].Link })
	for _, o := range r.outages {
		end := o.end
		if o.open {
			end = c.Duration
		}
		c.Outages = append(c.Outages, Outage{What: o.what, Start: round(o.start), End: round(end), Open: o.open})
	}
	for k, at := range r.held {
		c.Arrivals = append(c.Arrivals, Arrival{Nation: k[0], Object: k[1], At: round(at), Origin: k[0] == r.publisher[k[1]]})
	}
	sort.Slice(c.Arrivals, func(i, j int) bool {
		if c.Arrivals[i].At != c.Arrivals[j].At {
			return c.Arrivals[i].At < c.Arrivals[j].At
		}
		return c.Arrivals[i].Nation+c.Arrivals[i].Object < c.Arrivals[j].Nation+c.Arrivals[j].Object
	})
}

// expected reports that a receive expectation names this arrival: the
// scenario says it must arrive (with consent given during the exercise,
// say), so the final decision alone does not make it a violation.
func (r *runner) expected(node, name string) bool {
	for _, e := range r.sc.Expect {
		if e.Receive != nil && e.Receive.Node == node && e.Receive.Object == name {
			return true
		}
	}
	return false
}

func reasonText(d tearline.Decision) string {
	if len(d.Reasons) == 0 {
		return ""
	}
	return " (" + d.Reasons[0].Code + ")"
}

func round(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

// checkHubs reads each hub's stored files as raw bytes and looks for the
// exercise's material in the clear: each object's id, and its name and
// pattern when they are long enough not to occur by chance. A hub holds
// only sealed batches; anything found, or a store that cannot be read, is
// a policy violation.
func (r *runner) checkHubs(ctx context.Context) {
	c := r.card
	type secret struct{ what, text string }
	var secrets []secret
	for _, p := range r.sc.Objects() {
		if _, ok := r.published[p.Object]; !ok {
			continue
		}
		id := r.ids[p.Object]
		secrets = append(secrets, secret{p.Object + "'s id", id[strings.Index(id, "--")+2:]})
		for _, t := range []secret{{p.Object + "'s name", p.Name}, {p.Object + "'s pattern", p.Pattern}} {
			if len(t.text) >= minSecret {
				secrets = append(secrets, t)
			}
		}
	}
	for _, hub := range r.sc.HubCodes() {
		hc := HubCheck{Hub: hub, Searched: len(secrets)}
		files, err := r.f.HubStorage(ctx, hub)
		switch {
		case err != nil:
			hc.Error = err.Error()
		case len(files) == 0:
			hc.Error = "no stored files found"
		}
		if hc.Error != "" {
			c.Violations = append(c.Violations, fmt.Sprintf("%s's store could not be checked for material in the clear: %s", hub, hc.Error))
		}
		for _, name := range slices.Sorted(maps.Keys(files)) {
			data := files[name]
			hc.Files, hc.Bytes = hc.Files+1, hc.Bytes+int64(len(data))
			for _, s := range secrets {
				if bytes.Contains(data, []byte(s.text)) {
					hc.Leaks = append(hc.Leaks, fmt.Sprintf("%s in %s", s.what, name))
					c.Violations = append(c.Violations, fmt.Sprintf("hub %s holds %s in the clear (%s)", hub, s.what, name))
				}
			}
		}
		c.HubChecks = append(c.HubChecks, hc)
	}
}

// minSecret is the shortest name or pattern checkHubs looks for: shorter
// text may occur in a database file by chance.
const minSecret = 8
