package analytics

import (
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"sync/atomic"
	"time"
)

// Sighting is one observation of a value by this node that is not a
// stored STIX object: a log line, a sensor hit, an entry of a list checked
// with tearline match.
type Sighting struct {
	Observable Observable `json:"observable"`
	// Source says where it was seen: "access.log:17", "sensor-3".
	Source string `json:"source"`
	// At is when it was seen; the zero time means now.
	At time.Time `json:"at"`
	// Count is how many times; 0 means once.
	Count int `json:"count"`
}

// AlertKind is what raised an alert.
type AlertKind string

// The kinds of alert.
const (
	// AlertMatch: a local sighting matched indicators.
	AlertMatch AlertKind = "match"
	// AlertRise: the sightings of an observable, a campaign or a
	// partner's indicators rose unusually (see RiseDetector).
	AlertRise AlertKind = "rise"
)

// Alert is what the node tells a viewer about a sighting or a rise. Every
// part of it is computed over what that viewer may see.
type Alert struct {
	// ID identifies the alert for this viewer: the same sighting and
	// reports give the same ID, so receivers can drop repeats.
	ID     string    `json:"id"`
	Kind   AlertKind `json:"kind"`
	Raised time.Time `json:"raised"`
	Viewer string    `json:"viewer"`
	// Sighting is what was seen (AlertMatch); SightingObject the id of
	// the STIX sighting, when it was one.
	Sighting       *Sighting `json:"sighting,omitempty"`
	SightingObject string    `json:"sighting_object,omitempty"`
	// Findings are the viewer's visible indicators that the sighting
	// matched, per observable, each with its provenance (originator,
	// label), match kind, corroboration and confidence with its inputs.
	Findings []Finding `json:"findings,omitempty"`
	// Actions is the strictest of the findings' permitted actions: act
	// beyond it only after checking with the originators concerned.
	Actions Actions `json:"actions"`
	// Rise is the detector's test (AlertRise).
	Rise *Rise `json:"rise,omitempty"`
}

// Rise says what rose.
type Rise struct {
	// Scope is "observable", "campaign" or "partner".
	Scope string `json:"scope"`
	// Subject is the observable, the campaign's name or the partner's
	// code; Object the campaign's id.
	Subject string   `json:"subject"`
	Object  string   `json:"object,omitempty"`
	Test    RiseTest `json:"test"`
}

// The scopes of a rise.
const (
	ScopeObservable = "observable"
	ScopeCampaign   = "campaign"
	ScopePartner    = "partner"
)

func alertID(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func matchAlert(viewer string, s *Sighting, object string, findings []Finding, now time.Time) Alert {
	a := Alert{Kind: AlertMatch, Raised: now, Viewer: viewer, Sighting: s, SightingObject: object, Findings: findings}
	parts := []string{viewer, string(AlertMatch), s.Source, s.Observable.String(), object, s.At.UTC().Format(time.RFC3339Nano)}
	for _, f := range findings {
		a.Actions = strictest(a.Actions, f.Actions)
		for _, r := range f.Reports {
			parts = append(parts, r.Object, r.Version.UTC().Format(time.RFC3339Nano))
		}
	}
	a.ID = alertID(parts...)
	return a
}

// Match returns the alert sighting s raises for the viewer: the visible
// indicators that report its value, by the default match kinds, with
// their corroboration and confidence as of the sighting's time (now when
// it has none). It records nothing (see Record) and reports false when no
// visible indicator matches. It returns a *ValueError for an invalid
// observable.
func (c *Corpus) Match(v *View, s Sighting) (Alert, bool, error) {
	if v == nil || v.c != c {
		return Alert{}, false, ErrNoDecider
	}
	q, err := prepare(s.Observable)
	if err != nil {
		return Alert{}, false, err
	}
	s.Observable = q.full().obs
	now := c.opts.Now()
	if s.At.IsZero() {
		s.At = now
	}
	if s.Count <= 0 {
		s.Count = 1
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	a, ok := c.valueAlert(v.name, v.visibility(), &s, now)
	return a, ok, nil
}

// valueAlert is Match under the lock.
func (c *Corpus) valueAlert(viewer string, vis Visibility, s *Sighting, now time.Time) (Alert, bool) {
	m, err := c.ix.Lookup(nil, s.Observable, vis, DefaultMatches)
	if err != nil {
		return Alert{}, false // s.Observable is canonical: Lookup cannot refuse it
	}
	f := c.finding(s.Observable, m, true, s.At)
	if len(f.Reports) == 0 {
		return Alert{}, false
	}
	return matchAlert(viewer, s, "", []Finding{f}, now), true
}

// eventHit is one indicator a recorded sighting matched, and the value it
// reports; the zero Observable stands for all of the indicator's values.
type eventHit struct {
	doc uint32
	obs Observable
}

// sightEvent is a sighting recorded with Record.
type sightEvent struct {
	at    time.Time
	count int
	hits  []eventHit
}

// Record counts sighting s, which this node observed itself (a log feed, a
// sensor), towards the early-warning detector, and publishes to each
// subscriber the match alert and the rises it causes for that
// subscriber's viewer. A sighting that matches no indicator is not kept:
// a rate is only measured for what some report names. It reports whether
// s was kept, and returns a *ValueError for an invalid observable.
//
// The corpus keeps up to Options.MaxEvents recorded sightings, dropping
// the oldest recorded first.
func (c *Corpus) Record(s Sighting) (bool, error) {
	q, err := prepare(s.Observable)
	if err != nil {
		return false, err
	}
	s.Observable = q.full().obs
	now := c.opts.Now()
	if s.At.IsZero() {
		s.At = now
	}
	if s.Count <= 0 {
		s.Count = 1
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	docs := c.docs
	live := func(d uint32) bool { return int(d) < len(docs) && docs[d].live && docs[d].typ == "indicator" }
	m, err := c.ix.Lookup(nil, s.Observable, live, DefaultMatches)
	if err != nil {
		return false, err
	}
	if len(m) == 0 {
		return false, nil
	}
	ev := sightEvent{at: s.At, count: s.Count}
	for _, x := range m {
		ev.hits = append(ev.hits, eventHit{doc: x.Doc, obs: x.Stored})
	}
	if len(c.events) >= c.opts.MaxEvents {
		drop := max(len(c.events)/4, 1)
		c.events = append(c.events[:0:0], c.events[drop:]...)
	}
	c.events = append(c.events, ev)
	for sub := range c.subs {
		vis := sub.view.visibility()
		if a, ok := c.valueAlert(sub.view.name, vis, &s, now); ok {
			sub.send(a)
		}
		keys := c.eventKeys(vis, noDoc, ev.hits)
		sub.count(c, vis, keys, s.At, s.Count, now)
	}
	return true, nil
}

// rateKey names a series of the detector: its scope and the observable,
// campaign id or partner code.
func rateKey(scope, subject string) string { return scope + " " + subject }

// eventKeys returns the detector keys a sighting counts towards for a
// viewer: a stored sighting (doc) or recorded hits. Only what the viewer
// sees gives a key: the sighting object itself, the indicators, the
// relationships to campaigns and the campaigns.
func (c *Corpus) eventKeys(vis Visibility, doc uint32, hits []eventHit) []string {
	if doc != noDoc {
		if !vis(doc) {
			return nil
		}
		target, ok := c.byID[c.docs[doc].sightingOf]
		if !ok || !vis(target) {
			return nil
		}
		hits = []eventHit{{doc: target}}
	}
	var keys []string
	add := func(k string) {
		if !slices.Contains(keys, k) {
			keys = append(keys, k)
		}
	}
	for _, h := range hits {
		if !vis(h.doc) {
			continue
		}
		d := &c.docs[h.doc]
		add(rateKey(ScopePartner, c.originatorOfDoc(d)))
		if d.typ == "campaign" {
			add(rateKey(ScopeCampaign, d.id))
			continue
		}
		if d.typ != "indicator" {
			continue
		}
		if h.obs.Kind != 0 {
			add(rateKey(ScopeObservable, h.obs.String()))
		} else if obs, err := c.ix.Observables(h.doc, vis); err == nil {
			for _, o := range obs {
				add(rateKey(ScopeObservable, o.String()))
			}
		}
		for _, cp := range c.campaignsOf(vis, h.doc) {
			add(rateKey(ScopeCampaign, c.docs[cp].id))
		}
	}
	return keys
}

// campaignsOf returns the visible campaigns that visible relationships
// (indicates, related-to) link indicator n to.
func (c *Corpus) campaignsOf(vis Visibility, n uint32) []uint32 {
	id := c.docs[n].id
	var out []uint32
	for _, r := range c.links[id] {
		rd := &c.docs[r]
		if !vis(r) || rd.relType != "indicates" && rd.relType != "related-to" {
			continue
		}
		other := rd.target
		if other == id {
			other = rd.source
		}
		if m, ok := c.byID[other]; ok && c.docs[m].typ == "campaign" && vis(m) && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	return out
}

// riseAlert turns a rising test into an alert for the viewer. The caller
// holds the lock and has checked that the key came from visible objects.
func (c *Corpus) riseAlert(viewer string, t RiseTest, now time.Time) Alert {
	scope, subject, _ := strings.Cut(t.Key, " ")
	r := &Rise{Scope: scope, Subject: subject, Test: t}
	if scope == ScopeCampaign {
		r.Object = subject
		if n, ok := c.byID[subject]; ok && c.docs[n].name != "" {
			r.Subject = c.docs[n].name
		}
	}
	return Alert{Kind: AlertRise, Raised: now, Viewer: viewer, Rise: r,
		ID: alertID(viewer, string(AlertRise), t.Key, t.Bucket.Format(time.RFC3339))}
}

// detectorFor builds a detector of every sighting the viewer can see.
func (c *Corpus) detectorFor(vis Visibility) *RiseDetector {
	det := newRiseDetector(c.opts.Detector)
	for n := range c.sightings {
		d := &c.docs[n]
		for _, k := range c.eventKeys(vis, n, nil) {
			det.Add(k, d.seen, d.count)
		}
	}
	for _, ev := range c.events {
		for _, k := range c.eventKeys(vis, noDoc, ev.hits) {
			det.Add(k, ev.at, ev.count)
		}
	}
	return det
}

// Rises tests every series of sightings the viewer can see (per
// observable, campaign and partner) at time now (the zero time means the
// corpus's clock) and returns an alert for each unusual rise, the least
// likely first. The counts, history and expected rates are the viewer's:
// sightings and links it may not see count for nothing.
func (c *Corpus) Rises(v *View, now time.Time) ([]Alert, error) {
	if v == nil || v.c != c {
		return nil, ErrNoDecider
	}
	if now.IsZero() {
		now = c.opts.Now()
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	det := c.detectorFor(v.visibility())
	var out []Alert
	for _, k := range det.Keys() {
		if t := det.Test(k, now); t.Rising {
			out = append(out, c.riseAlert(v.name, t, now))
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if x := cmp.Compare(a.Rise.Test.PValue, b.Rise.Test.PValue); x != 0 {
			return x
		}
		return cmp.Compare(a.Rise.Test.Key, b.Rise.Test.Key)
	})
	return out, nil
}

// SightingAlerts returns the match alerts of the node's own stored STIX
// sightings that the viewer can see, newest sighting first.
func (c *Corpus) SightingAlerts(v *View) ([]Alert, error) {
	if v == nil || v.c != c {
		return nil, ErrNoDecider
	}
	now := c.opts.Now()
	c.mu.RLock()
	defer c.mu.RUnlock()
	vis := v.visibility()
	var out []Alert
	for n := range c.sightings {
		if a, ok := c.sightingAlert(v.name, vis, n, now); ok {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(a, b Alert) int {
		if x := b.Sighting.At.Compare(a.Sighting.At); x != 0 {
			return x
		}
		return cmp.Compare(a.SightingObject, b.SightingObject)
	})
	return out, nil
}

// sightingAlert is the match alert of the node's own stored sighting n for
// a viewer: the sighted indicator's observables, and the values of the
// observed data it cites, each with the visible indicators reporting it.
func (c *Corpus) sightingAlert(viewer string, vis Visibility, n uint32, now time.Time) (Alert, bool) {
	sd := &c.docs[n]
	if !vis(n) {
		return Alert{}, false
	}
	if cl := c.class(sd.class); cl == nil || !cl.own {
		return Alert{}, false // a partner's sighting: counted, not alerted on
	}
	s := &Sighting{Source: sd.id, At: sd.seen, Count: sd.count}
	var findings []Finding
	addFinding := func(o Observable, m []Match) {
		if slices.ContainsFunc(findings, func(f Finding) bool { return f.Observable == o }) {
			return
		}
		if f := c.finding(o, m, true, sd.seen); len(f.Reports) > 0 {
			findings = append(findings, f)
		}
	}
	if t, ok := c.byID[sd.sightingOf]; ok && vis(t) && c.docs[t].indexed {
		if cs, err := c.ix.CorrelateDocument(t, vis, DefaultMatches); err == nil {
			for _, cr := range cs {
				addFinding(cr.Observable, cr.Matches)
			}
		}
	}
	for _, odID := range sd.observedData {
		od, ok := c.byID[odID]
		if !ok || !vis(od) || c.docs[od].typ != "observed-data" {
			continue
		}
		for _, ref := range c.docs[od].refs {
			sco, ok := c.byID[ref]
			if !ok || !vis(sco) || !c.docs[sco].indexed {
				continue
			}
			obs, err := c.ix.Observables(sco, vis)
			if err != nil {
				continue
			}
			for _, o := range obs {
				if m, err := c.ix.Lookup(nil, o, vis, DefaultMatches); err == nil {
					addFinding(o, m)
				}
			}
		}
	}
	if len(findings) == 0 {
		return Alert{}, false
	}
	if len(findings) == 1 {
		s.Observable = findings[0].Observable
	}
	return matchAlert(viewer, s, sd.id, findings, now), true
}

// Subscription is a live stream of one viewer's alerts: the match alerts
// of the node's own new sightings (stored STIX sightings given to Apply,
// and those given to Record) and the rises they cause. The web console
// reads C; a webhook sender forwards it.
//
// Delivery never blocks the ingest path: when C's buffer is full the
// alert is dropped and counted (Dropped), so that a stalled reader costs
// its own alerts only.
type Subscription struct {
	// C carries the alerts; it is closed by Close.
	C <-chan Alert

	ch      chan Alert
	corpus  *Corpus
	view    *View
	det     *RiseDetector
	raised  map[string]int64 // key -> bucket of its last rise alert
	dropped atomic.Uint64
	closed  bool
}

// Subscribe opens a live stream of the viewer's alerts, with room for
// buffer alerts (at least 1). The stream's detector starts from every
// sighting the viewer can see.
func (c *Corpus) Subscribe(v *View, buffer int) (*Subscription, error) {
	if v == nil || v.c != c {
		return nil, ErrNoDecider
	}
	buffer = max(buffer, 1)
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan Alert, buffer)
	s := &Subscription{C: ch, ch: ch, corpus: c, view: v, raised: make(map[string]int64)}
	s.det = c.detectorFor(v.visibility())
	c.subs[s] = true
	return s, nil
}

// Close ends the stream and closes C. It is safe to call more than once.
func (s *Subscription) Close() {
	c := s.corpus
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	delete(c.subs, s)
	close(s.ch)
}

// Dropped returns how many alerts were dropped because C was full.
func (s *Subscription) Dropped() uint64 { return s.dropped.Load() }

func (s *Subscription) send(a Alert) {
	select {
	case s.ch <- a:
	default:
		s.dropped.Add(1)
	}
}

// count adds a sighting's keys to the subscription's detector and sends a
// rise alert for each key that rises in a bucket it has not risen in yet.
// A negative n takes a sighting back and raises nothing.
func (s *Subscription) count(c *Corpus, vis Visibility, keys []string, at time.Time, n int, now time.Time) {
	for _, k := range keys {
		s.det.Add(k, at, n)
	}
	if n <= 0 {
		return
	}
	for _, k := range keys {
		t := s.det.Test(k, now)
		if !t.Rising {
			continue
		}
		b := t.Bucket.UnixNano()
		if last, ok := s.raised[k]; ok && last >= b {
			continue
		}
		s.raised[k] = b
		s.send(c.riseAlert(s.view.name, t, now))
	}
}

// publishSighting tells the subscribers about stored sighting n: sign +1
// when it arrives (its match alert, if it is the node's own, and its
// count), -1 when a newer version is about to replace it (its count taken
// back). The caller holds the write lock.
func (c *Corpus) publishSighting(n uint32, sign int) {
	if len(c.subs) == 0 {
		return
	}
	now := c.opts.Now()
	d := &c.docs[n]
	for sub := range c.subs {
		vis := sub.view.visibility()
		if sign > 0 {
			if a, ok := c.sightingAlert(sub.view.name, vis, n, now); ok {
				sub.send(a)
			}
		}
		sub.count(c, vis, c.eventKeys(vis, n, nil), d.seen, sign*d.count, now)
	}
}
