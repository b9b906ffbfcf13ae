package analytics

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// Store is what a Corpus reads of the node's store: the object versions of
// every collection, page by page, and the release class of each (package
// release), from which the Corpus learns its label, its originator and
// who may see it. Both stores implement it.
type Store interface {
	Collections(ctx context.Context) ([]tearline.Collection, error)
	Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error)
	ReleaseSubjects(ctx context.Context, ids []int64) (map[int64][]byte, error)
	ReleaseOf(ctx context.Context, collection, id string, version time.Time) (int64, []tearline.ClassRelease, error)
}

// Options tune a Corpus. The zero Options are the defaults.
type Options struct {
	// PageSize is how many object versions Build reads per page; 0 means
	// 1,000.
	PageSize int
	// Now is the clock for ages, alerts and sightings without a time;
	// nil means time.Now.
	Now func() time.Time
	// HalfLife gives the confidence half-life of a kind of observable; nil
	// means HalfLifeFor.
	HalfLife func(Kind) time.Duration
	// Detector configures the early-warning detector (see DetectorConfig).
	Detector DetectorConfig
	// MaxEvents bounds the sightings recorded with Record that the corpus
	// keeps for the detector; the oldest go first. 0 means 1,048,576.
	MaxEvents int
}

// HalfLifeFor is the default confidence half-life of each kind of
// observable (see docs/confidence.md): addresses and URLs are reassigned
// or cleaned within weeks, domains live for months, mailboxes and names on
// a host longer, and a hash names the same file for ever (ten years stands
// for that, so that very old reports still sink below fresh ones).
func HalfLifeFor(k Kind) time.Duration {
	const day = 24 * time.Hour
	switch k {
	case KindIPv4, KindIPv6, KindURL:
		return 30 * day
	case KindDomain:
		return 90 * day
	case KindEmail, KindASN:
		return 180 * day
	case KindFileName, KindMutex, KindRegistryKey, KindMAC:
		return 365 * day
	}
	if k.IsHash() {
		return 3650 * day
	}
	return DefaultHalfLife
}

// noDoc stands for "no document": a sighting that is not a stored object.
const noDoc = ^uint32(0)

// corpusTypes are the object types the Corpus keeps: what carries
// observables (indicators and cyber-observables), what links them
// (relationships, observed-data), what is sighted and the entities that
// sightings and suggestions are about. Every other type costs a store
// round trip per object and gives nothing here.
var corpusTypes = func() []string {
	t := []string{"indicator", "relationship", "sighting", "observed-data", "campaign", "threat-actor", "intrusion-set", "malware"}
	for sco := range scoValues {
		t = append(t, sco)
	}
	slices.Sort(t)
	return t
}()

// entityTypes are the types entity resolution compares.
var entityTypes = map[string]bool{"threat-actor": true, "intrusion-set": true, "malware": true}

// Corpus is the node's early-warning state: an Index of the observables in
// the stored indicators and cyber-observables, with what each document's
// release class says (its originator, label, source grading, permitted
// actions), the relationships, sightings and entities around them, and
// the sightings recorded for the early-warning detector.
//
// Every answer is for a View and computed over the documents that view
// may see: matches, corroboration, confidence, rates, suggestions. No
// answer carries a document number: the numbers are dense, so a gap
// between two visible ones would tell a viewer that something hidden lies
// between them. Objects appear by their STIX id and version.
//
// Each object is one document, its newest version: a newer version
// replaces the older one, keeping its number; a revoked version takes the
// object out of every answer. Objects without a release class are kept
// out of every view: the node has not decided who may see them.
//
// A Corpus is safe for concurrent use: queries run in parallel; Apply,
// Record and Forget are serialised.
type Corpus struct {
	store Store
	opts  Options

	classMu        sync.Mutex
	classes        []*classInfo // by class number; append only
	classByID      map[int64]int32
	classBySubject map[string]int32

	mu        sync.RWMutex
	ix        *Index
	docs      []docInfo
	byID      map[string]uint32
	links     map[string][]uint32 // object id -> relationships naming it
	sightings map[uint32]bool     // live sighting documents
	entities  map[uint32]bool     // live threat actors, intrusion sets, malware
	events    []sightEvent        // recorded sightings, oldest first
	subs      map[*Subscription]bool
	stats     BuildStats
}

// classInfo is what the corpus keeps of one release class.
type classInfo struct {
	id      int64
	subject *policy.Subject // nil when the class cannot be read: nobody sees it
	// originator is the partner that vouches for the class's objects (see
	// originatorOf).
	originator string
	own        bool // this node's own information
	banner     string
	actions    Actions
}

// docInfo is one stored object as the corpus keeps it.
type docInfo struct {
	id      string
	version time.Time
	typ     string
	class   int32 // class number, -1 when the object has none
	live    bool
	indexed bool

	confidence int       // STIX confidence or ConfidenceUnknown
	observed   time.Time // when the information was last known true

	// campaigns and entities
	name    string
	aliases []string
	// relationships
	relType, source, target string
	// sightings
	sightingOf   string
	observedData []string
	count        int
	seen         time.Time
	// observed-data
	refs []string
}

// BuildStats describe what the corpus holds. They count documents no
// viewer's filter has been applied to: operators' figures, which MUST NOT
// be shown to a viewer.
type BuildStats struct {
	Read         int // object versions read
	Documents    int // objects kept (newest versions)
	Indexed      int // documents with observables
	Unclassified int // objects without a release class, seen by nobody
	Problems     int // values or properties that could not be read
	// FirstProblems are the first problems met, each naming the object.
	FirstProblems []string
	Index         Stats
	Elapsed       time.Duration
}

const maxProblems = 20

// newCorpus returns an empty corpus over store; Build fills it.
func newCorpus(s Store, opts Options) *Corpus {
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.HalfLife == nil {
		opts.HalfLife = HalfLifeFor
	}
	if opts.MaxEvents <= 0 {
		opts.MaxEvents = 1 << 20
	}
	opts.Detector = opts.Detector.withDefaults()
	return &Corpus{
		store: s, opts: opts,
		classByID: make(map[int64]int32), classBySubject: make(map[string]int32),
		ix: New(), byID: make(map[string]uint32), links: make(map[string][]uint32),
		sightings: make(map[uint32]bool), entities: make(map[uint32]bool), subs: make(map[*Subscription]bool),
	}
}

// Build reads every collection of the store, page by page, and returns the
// corpus of its objects. It fails on a store error or an invalid detector
// configuration; an object it cannot read is counted in the stats'
// Problems and kept out, never a reason to stop.
//
// Each page costs one more query, for the release classes it meets first:
// the class is the only record of who sent an object, and so of its
// originator and of who may see it, that survives import.
func Build(ctx context.Context, s Store, opts Options) (*Corpus, error) {
	if err := opts.Detector.withDefaults().validate(); err != nil {
		return nil, err
	}
	start := time.Now()
	c := newCorpus(s, opts)
	colls, err := s.Collections(ctx)
	if err != nil {
		return nil, fmt.Errorf("analytics: build: collections: %w", err)
	}
	for _, coll := range colls {
		q := tearline.ObjectQuery{Collection: coll.ID, Types: corpusTypes, Limit: c.opts.PageSize}
		for {
			page, err := s.Objects(ctx, q)
			if err != nil {
				return nil, fmt.Errorf("analytics: build: collection %s: %w", coll.Alias, err)
			}
			if err := c.apply(ctx, coll.ID, page.Objects, false); err != nil {
				return nil, err
			}
			if !page.More || len(page.Objects) == 0 {
				break
			}
			q.After = page.Objects[len(page.Objects)-1].DateAdded
		}
	}
	c.mu.Lock()
	c.stats.Elapsed = time.Since(start)
	c.mu.Unlock()
	return c, nil
}

// Stats returns what the corpus holds (see BuildStats).
func (c *Corpus) Stats() BuildStats {
	c.mu.RLock()
	defer c.mu.RUnlock()
	s := c.stats
	s.FirstProblems = slices.Clone(s.FirstProblems)
	s.Index = c.ix.Stats()
	return s
}

// Apply brings the corpus up to date with object versions just committed
// to collection: the ingest path calls it after each batch, with the
// objects as written (their ReleaseClass set, as ingest sets it) or as a
// store page returned them (their Class set). Newer versions replace
// older ones, revoked versions leave every answer, and each new sighting
// is matched and published to the subscribers (see Subscribe). It fails
// only on a store error.
func (c *Corpus) Apply(ctx context.Context, collection string, objs []tearline.StoredObject) error {
	return c.apply(ctx, collection, objs, true)
}

// pending is an object read and ready to enter the corpus.
type pending struct {
	doc docInfo
	obs []Observable
}

// apply enters objects; publish is false for Build's store pages, which
// carry their class ids and have no subscribers to tell.
func (c *Corpus) apply(ctx context.Context, collection string, objs []tearline.StoredObject, publish bool) error {
	var ready []pending
	var problems []string
	unclassified := 0
	if err := c.loadClasses(ctx, objs); err != nil {
		return err
	}
	for i := range objs {
		so := &objs[i]
		if _, ok := slices.BinarySearch(corpusTypes, so.Type); !ok {
			continue
		}
		p, probs := readDoc(so)
		problems = append(problems, probs...)
		if p == nil {
			continue
		}
		cl, err := c.classOf(ctx, collection, so, !publish)
		switch {
		case errors.Is(err, errClassMissing):
			problems = append(problems, err.Error())
			cl = -1
		case errors.Is(err, tearline.ErrNotFound):
			continue // deleted since the page was read
		case err != nil:
			return err
		}
		if cl < 0 {
			unclassified++
		}
		p.doc.class = cl
		ready = append(ready, *p)
	}
	// Sightings last, so that a batch holding an indicator and its
	// sighting alerts on the sighting.
	slices.SortStableFunc(ready, func(a, b pending) int {
		return cmpBool(a.doc.typ == "sighting", b.doc.typ == "sighting")
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	c.stats.Read += len(objs)
	c.stats.Unclassified += unclassified
	for _, pr := range problems {
		c.problem(pr)
	}
	for i := range ready {
		c.put(&ready[i], publish)
	}
	return nil
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

func (c *Corpus) problem(p string) {
	c.stats.Problems++
	if len(c.stats.FirstProblems) < maxProblems {
		c.stats.FirstProblems = append(c.stats.FirstProblems, p)
	}
}

// Forget takes the objects with these ids out of the corpus, as when they
// are deleted or recalled from the store.
func (c *Corpus) Forget(ids ...string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range ids {
		n, ok := c.byID[id]
		if !ok || !c.docs[n].live {
			continue
		}
		c.retire(n)
		c.docs[n].live = false
		c.stats.Documents--
	}
}

// put enters one object under the write lock.
func (c *Corpus) put(p *pending, publish bool) {
	n, exists := c.byID[p.doc.id]
	if exists {
		old := &c.docs[n]
		if !p.doc.version.After(old.version) {
			return // an older or the same version
		}
		if publish && old.live && old.typ == "sighting" {
			c.publishSighting(n, -1)
		}
		if old.live {
			c.retire(n)
			c.stats.Documents--
		}
		c.docs[n] = p.doc
	} else {
		if len(c.docs) >= int(noDoc) {
			c.problem(p.doc.id + ": the corpus is full (2^32-1 documents); not kept")
			return
		}
		n = uint32(len(c.docs))
		c.docs = append(c.docs, p.doc)
		c.byID[p.doc.id] = n
	}
	d := &c.docs[n]
	if !d.live {
		return
	}
	c.stats.Documents++
	if len(p.obs) > 0 {
		if err := c.ix.Add(n, c.originatorOfDoc(d), p.obs); err != nil {
			c.problem(fmt.Sprintf("%s: %v", d.id, err))
		} else {
			d.indexed = true
			c.stats.Indexed++
		}
	}
	switch {
	case d.typ == "relationship":
		c.links[d.source] = append(c.links[d.source], n)
		if d.target != d.source {
			c.links[d.target] = append(c.links[d.target], n)
		}
	case d.typ == "sighting":
		c.sightings[n] = true
		if publish {
			c.publishSighting(n, 1)
		}
	case entityTypes[d.typ]:
		c.entities[n] = true
	}
}

// retire takes live document n out of the index and the link tables,
// before it is replaced or forgotten.
func (c *Corpus) retire(n uint32) {
	d := &c.docs[n]
	if d.indexed {
		c.ix.Remove(n)
		d.indexed = false
		c.stats.Indexed--
	}
	unlink := func(id string) {
		l := slices.DeleteFunc(c.links[id], func(x uint32) bool { return x == n })
		if len(l) == 0 {
			delete(c.links, id)
		} else {
			c.links[id] = l
		}
	}
	if d.typ == "relationship" {
		unlink(d.source)
		unlink(d.target)
	}
	delete(c.sightings, n)
	delete(c.entities, n)
}

// originatorOfDoc returns the originator of a document: its class's.
// Documents without a class are never indexed, so the placeholder is
// never seen.
func (c *Corpus) originatorOfDoc(d *docInfo) string {
	if cl := c.class(d.class); cl != nil && cl.originator != "" {
		return cl.originator
	}
	return "unclassified"
}

// class returns class number n, or nil for -1.
func (c *Corpus) class(n int32) *classInfo {
	if n < 0 {
		return nil
	}
	c.classMu.Lock()
	defer c.classMu.Unlock()
	if int(n) >= len(c.classes) {
		return nil
	}
	return c.classes[n]
}

func (c *Corpus) classSnapshot() []*classInfo {
	c.classMu.Lock()
	defer c.classMu.Unlock()
	return c.classes
}

// classOf returns the class number of a stored object version, -1 when it
// has none. A version read from a store page (fromStore) carries its class
// id, 0 when it has none; one handed over by the ingest path carries its
// class's subject; failing both, the store is asked.
func (c *Corpus) classOf(ctx context.Context, collection string, so *tearline.StoredObject, fromStore bool) (int32, error) {
	id := so.Class
	if id == 0 && fromStore {
		return -1, nil // the store says: not classified
	}
	if id == 0 && len(so.ReleaseClass) > 0 {
		if n, ok := c.lookupSubject(so.ReleaseClass); ok {
			return n, nil
		}
		// A class not met yet: its id comes from the store.
	}
	if id == 0 {
		var err error
		if id, _, err = c.store.ReleaseOf(ctx, collection, so.ID, so.Version); err != nil {
			return -1, fmt.Errorf("analytics: release class of %s: %w", so.ID, err)
		}
		if id == 0 {
			return -1, nil
		}
	}
	if n, ok := c.lookupID(id); ok {
		return n, nil
	}
	if err := c.loadClassIDs(ctx, []int64{id}); err != nil {
		return -1, err
	}
	if n, ok := c.lookupID(id); ok {
		return n, nil
	}
	return -1, fmt.Errorf("%s: release class %d is not in the store; the object is kept out of every view: %w", so.ID, id, errClassMissing)
}

// errClassMissing marks an object whose class the store does not hold: a
// problem to count, not a reason to stop.
var errClassMissing = errors.New("release class missing")

func (c *Corpus) lookupSubject(subject []byte) (int32, bool) {
	c.classMu.Lock()
	defer c.classMu.Unlock()
	n, ok := c.classBySubject[string(subject)]
	return n, ok
}

func (c *Corpus) lookupID(id int64) (int32, bool) {
	c.classMu.Lock()
	defer c.classMu.Unlock()
	n, ok := c.classByID[id]
	return n, ok
}

// loadClasses learns, in one query, the classes of a page of objects that
// it does not know yet.
func (c *Corpus) loadClasses(ctx context.Context, objs []tearline.StoredObject) error {
	var missing []int64
	c.classMu.Lock()
	for i := range objs {
		if id := objs[i].Class; id != 0 && !slices.Contains(missing, id) {
			if _, ok := c.classByID[id]; !ok {
				missing = append(missing, id)
			}
		}
	}
	c.classMu.Unlock()
	if len(missing) == 0 {
		return nil
	}
	return c.loadClassIDs(ctx, missing)
}

func (c *Corpus) loadClassIDs(ctx context.Context, ids []int64) error {
	subjects, err := c.store.ReleaseSubjects(ctx, ids)
	if err != nil {
		return fmt.Errorf("analytics: release classes: %w", err)
	}
	c.classMu.Lock()
	defer c.classMu.Unlock()
	for _, id := range ids {
		if data, ok := subjects[id]; ok {
			c.intern(id, data)
		}
	}
	return nil
}

// intern adds class id unless known; the caller holds classMu.
func (c *Corpus) intern(id int64, subject []byte) {
	if _, ok := c.classByID[id]; ok {
		return
	}
	n := int32(len(c.classes))
	c.classes = append(c.classes, newClassInfo(id, subject))
	c.classByID[id] = n
	c.classBySubject[string(subject)] = n
}

func newClassInfo(id int64, data []byte) *classInfo {
	ci := &classInfo{id: id}
	s, err := release.Subject(data)
	if err != nil {
		// Unreadable (a class of another version of the node): nobody
		// sees its objects until they are classified again.
		ci.banner = "unreadable release class"
		ci.actions = actionsFor(tearline.Label{}, false)
		return ci
	}
	ci.subject = s
	ci.originator = originatorOf(s)
	ci.own = ci.originator == s.Holder
	if s.Label.Policy == "" && s.Label.TLP == tearline.TLPNone {
		ci.banner = "no label"
	} else {
		ci.banner = label.Format(s.Label)
	}
	ci.actions = actionsFor(s.Label, ci.own)
	return ci
}

// originatorOf returns the partner that vouches for the objects of a
// class, the unit of independence in corroboration:
//
//   - the one originator its label names;
//   - for a derived product whose label names several, the partner that
//     produced it: the partner that sent it when a partner did, else this
//     node when the label names it, else the first named;
//   - without originators in the label, the partner that sent it;
//   - otherwise this node (the holder), whose own information it is.
func originatorOf(s *policy.Subject) string {
	lo := s.Label.Originators
	switch {
	case len(lo) == 1:
		return lo[0]
	case len(lo) > 1:
		for _, o := range s.Originators {
			if slices.Contains(lo, o) {
				return o
			}
		}
		if slices.Contains(lo, s.Holder) {
			return s.Holder
		}
		return lo[0]
	case len(s.Originators) > 0:
		return s.Originators[0]
	}
	return s.Holder
}

// readDoc reads what the corpus keeps of a stored object, or nil when the
// object is not one to keep. Problems are returned as words naming the
// object; the object is still kept with what could be read, unless its
// identity itself is unreadable.
func readDoc(so *tearline.StoredObject) (*pending, []string) {
	v, err := stix.ParseJSON(so.JSON)
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: stored JSON: %v", so.ID, err)}
	}
	var probs []string
	p := &pending{doc: docInfo{id: so.ID, version: so.EffectiveVersion(), typ: so.Type, live: true, confidence: ConfidenceUnknown}}
	d := &p.doc
	if r, ok := v.Get("revoked"); ok && r.Kind == stix.Bool && r.Bool {
		d.live = false
		return p, nil
	}
	if conf, err := STIXConfidence(&v); err != nil {
		probs = append(probs, fmt.Sprintf("%s: %v", so.ID, err))
	} else {
		d.confidence = conf
	}
	d.observed = latest(timeOf(&v, "modified"), timeOf(&v, "created"))
	switch {
	case so.Type == "indicator":
		d.observed = latest(d.observed, timeOf(&v, "valid_from"))
		if pt := str(&v, "pattern_type"); pt == "stix" {
			obs, err := FromPattern(str(&v, "pattern"))
			if err != nil && !onlyUnsupported(err) {
				probs = append(probs, fmt.Sprintf("%s: $.pattern: %v", so.ID, shownErr(err)))
			}
			p.obs = obs
		}
	case so.Type == "relationship":
		d.relType, d.source, d.target = str(&v, "relationship_type"), str(&v, "source_ref"), str(&v, "target_ref")
	case so.Type == "sighting":
		d.sightingOf = str(&v, "sighting_of_ref")
		d.observedData = strs(&v, "observed_data_refs")
		d.count = 1
		if n, ok := v.Get("count"); ok && n.Kind == stix.Number {
			if k, err := strconv.Atoi(n.Str); err == nil && k >= 0 {
				d.count = k
			} else {
				probs = append(probs, fmt.Sprintf("%s: $.count %s is not a count from 0 to 999999999", so.ID, shown(n.Str)))
			}
		}
		d.seen = firstSet(timeOf(&v, "last_seen"), timeOf(&v, "first_seen"), timeOf(&v, "created"))
		d.observed = latest(d.observed, d.seen)
	case so.Type == "observed-data":
		d.refs = strs(&v, "object_refs")
		d.observed = latest(d.observed, timeOf(&v, "last_observed"))
	case so.Type == "campaign" || entityTypes[so.Type]:
		d.name = str(&v, "name")
		d.aliases = strs(&v, "aliases")
	default: // a cyber-observable
		if d.observed.IsZero() {
			d.observed = so.DateAdded
		}
		obs, err := FromSCO(&v)
		if err != nil && !onlyUnsupported(err) {
			probs = append(probs, fmt.Sprintf("%s: %v", so.ID, shownErr(err)))
		}
		p.obs = obs
	}
	return p, probs
}

// onlyUnsupported reports whether every error joined in err is about a
// kind the index does not handle: not a fault of the object.
func onlyUnsupported(err error) bool {
	var list []error
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	} else {
		list = []error{err}
	}
	for _, e := range list {
		if !errors.Is(e, ErrUnsupported) {
			return false
		}
	}
	return true
}

// shownErr bounds an error message built from outside input.
func shownErr(err error) string {
	s := err.Error()
	if len(s) > 4*maxShown {
		s = s[:4*maxShown] + "..."
	}
	return s
}

func str(v *stix.Value, key string) string {
	if x, ok := v.Get(key); ok && x.Kind == stix.String {
		return x.Str
	}
	return ""
}

func strs(v *stix.Value, key string) []string {
	x, ok := v.Get(key)
	if !ok || x.Kind != stix.Array {
		return nil
	}
	var out []string
	for _, e := range x.Arr {
		if e.Kind == stix.String {
			out = append(out, e.Str)
		}
	}
	return out
}

func timeOf(v *stix.Value, key string) time.Time {
	s := str(v, key)
	if s == "" {
		return time.Time{}
	}
	t, _, err := stix.ParseTimestamp(s)
	if err != nil {
		return time.Time{}
	}
	return t
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

func firstSet(ts ...time.Time) time.Time {
	for _, t := range ts {
		if !t.IsZero() {
			return t
		}
	}
	return time.Time{}
}
