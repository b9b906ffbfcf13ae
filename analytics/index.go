package analytics

import (
	"cmp"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"

	"github.com/tearline/tearline"
)

// MatchKind says how a stored observable matched a query. As a set of bits
// it also says which kinds of match a query asks for.
type MatchKind uint8

// The kinds of match.
const (
	// MatchExact: the stored observable is the query's.
	MatchExact MatchKind = 1 << iota
	// MatchCIDR: a stored prefix contains the queried address or prefix,
	// or lies within the queried prefix.
	MatchCIDR
	// MatchDomainSuffix: a stored domain is a parent of the queried one
	// (a sighting of a.b.example.com matches a report of example.com). A
	// stored single label (a top-level domain such as "com") matches only
	// exactly: without the Public Suffix List the index cannot tell a
	// registrable domain from a public suffix, and a report of "com"
	// matching every sighting beneath it would bury the real matches.
	MatchDomainSuffix
	// MatchSubdomain: a stored domain lies under the queried one (a query
	// for example.com finds a report of a.b.example.com). Only on request:
	// a report of a subdomain says nothing about its parent's other names.
	MatchSubdomain
)

// DefaultMatches is what a query with no match kinds (0) asks for.
const DefaultMatches = MatchExact | MatchCIDR | MatchDomainSuffix

func (m MatchKind) String() string {
	var parts []string
	for _, x := range []struct {
		k    MatchKind
		name string
	}{{MatchExact, "exact"}, {MatchCIDR, "cidr"}, {MatchDomainSuffix, "domain-suffix"}, {MatchSubdomain, "subdomain"}} {
		if m&x.k != 0 {
			parts = append(parts, x.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "|")
}

// Match is one stored observable of one document that matched a query.
type Match struct {
	Doc        uint32
	Originator string
	Kind       MatchKind
	// Stored is what the document reported: the query itself for an exact
	// match, the containing or contained prefix, the parent or child
	// domain otherwise.
	Stored Observable
}

// Correlation is what the viewer's visible documents say about one
// observable.
type Correlation struct {
	Observable Observable
	// Matches are sorted by document, then match kind, then stored
	// observable.
	Matches []Match
	// Originators are the independent originators of the matches, sorted:
	// see Corroboration.
	Originators []string
	// Corroboration is len(Originators).
	Corroboration int
}

// Corroboration returns the number of independent originators among
// matches.
//
// Two originators are independent when their partner codes differ: the
// partner code is the unit that vouches for a report, so two reports by one
// partner count once however many documents, versions or collections carry
// them. This cannot see a common upstream source behind two partners; the
// confidence formula caps what corroboration can add for that reason (see
// Assess).
func Corroboration(matches []Match) int { return len(Originators(matches)) }

// Originators returns the distinct originators of matches, sorted.
func Originators(matches []Match) []string {
	var out []string
	for _, m := range matches {
		if !slices.Contains(out, m.Originator) {
			out = append(out, m.Originator)
		}
	}
	slices.Sort(out)
	return out
}

// Index correlates observables across documents. It holds, per distinct
// observable, the list of documents that report it (postings): a document
// as a small integer chosen by the caller (the store's number for an object
// version) and its originator, interned. No pairwise table of correlations
// is kept: matches are found at query time, so memory grows with the
// number of observables reported, not with the number of pairs: in the
// benchmark mix, under 200 bytes of heap per observable reported. Partner
// codes are interned for the life of the index (there are few).
//
// Lookups by kind:
//
//   - addresses and prefixes: a path-compressed binary trie per family;
//     finding every stored prefix that contains a queried address, or that
//     a queried prefix contains, walks at most 33 (IPv4) or 129 (IPv6)
//     nodes plus the matches;
//   - domain names: a tree of labels (see domainTree) giving exact, parent
//     (suffix) and, on request, subdomain matches in one map lookup per
//     label;
//   - every other kind: a hash map from the canonical value.
//
// Locking: an Index is safe for concurrent use. Queries take a read lock
// and run in parallel with each other; Add and Remove take the write lock,
// so writers are serialised and wait for running queries (one writer at a
// time is the intended use: the goroutine that follows the store). A
// query's Visibility runs under the read lock (see Visibility). Create an
// Index with New; the zero Index is not ready for use.
type Index struct {
	mu sync.RWMutex

	values   []value // by value id; values[0] is unused
	freeVals []uint32
	exact    map[Observable]uint32 // kinds other than addresses and domains
	v4, v6   trie
	domains  domainTree

	docs     map[uint32][]uint32 // document -> its value ids, in observable order
	partners []string            // by partner id
	partner  map[string]uint32
	postings int
}

// value is one distinct observable and the documents that report it. A
// stored value always has at least one posting: the first is held inline
// because most observables are reported once, which saves an allocation
// and a cache miss per lookup.
type value struct {
	obs   Observable
	first posting   // the lowest document
	more  []posting // the others, sorted by doc
}

// add inserts a posting for a document the value has none for.
func (v *value) add(p posting, isNew bool) {
	switch {
	case isNew:
		v.first = p
	case p.doc < v.first.doc:
		v.more = slices.Insert(v.more, 0, v.first)
		v.first = p
	case len(v.more) == 0 || v.more[len(v.more)-1].doc < p.doc:
		v.more = append(v.more, p)
	default:
		at, _ := slices.BinarySearchFunc(v.more, p.doc, comparePostingDoc)
		v.more = slices.Insert(v.more, at, p)
	}
}

// remove drops doc's posting and reports whether postings remain.
func (v *value) remove(doc uint32) bool {
	if v.first.doc == doc {
		if len(v.more) == 0 {
			return false
		}
		v.first = v.more[0]
		v.more = slices.Delete(v.more, 0, 1)
	} else if at, ok := slices.BinarySearchFunc(v.more, doc, comparePostingDoc); ok {
		v.more = slices.Delete(v.more, at, at+1)
	}
	if len(v.more) == 0 {
		v.more = nil
	}
	return true
}

func comparePostingDoc(p posting, doc uint32) int { return cmp.Compare(p.doc, doc) }

type posting struct {
	doc  uint32
	orig uint32 // partner id
}

// New returns an empty Index.
func New() *Index {
	return &Index{
		values:  make([]value, 1),
		exact:   make(map[Observable]uint32),
		domains: newDomainTree(),
		docs:    make(map[uint32][]uint32),
		partner: make(map[string]uint32),
	}
}

const maxPartnerLen = 64

// Add indexes the observables of document doc, reported by originator (a
// partner code). Each observable is normalised again, so hand-built values
// match their canonical forms; duplicates count once. If any observable is
// invalid, or doc is already indexed, nothing is added and the error says
// which (a document's observables are added once: Remove it to index it
// again).
//
// originator is the partner that vouches for the document: for a derived
// product, the partner that produced it. It is the unit of independence
// (see Corroboration).
func (ix *Index) Add(doc uint32, originator string, obs []Observable) error {
	if originator == "" || len(originator) > maxPartnerLen {
		return fmt.Errorf("analytics: document %d: originator %q is not a partner code of 1 to %d bytes; pass the code of the partner that reported it: %w",
			doc, shown(originator), maxPartnerLen, tearline.ErrInvalid)
	}
	canon := make([]query, 0, len(obs))
	var errs []error
	for i, o := range obs {
		q, err := prepare(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("observable %d: %w", i, err))
			continue
		}
		canon = append(canon, q.full())
	}
	if len(errs) > 0 {
		return fmt.Errorf("analytics: document %d not indexed: %w", doc, errors.Join(errs...))
	}
	slices.SortFunc(canon, func(a, b query) int { return compareObservables(a.obs, b.obs) })
	canon = slices.CompactFunc(canon, func(a, b query) bool { return a.obs == b.obs })

	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.docs[doc]; ok {
		return fmt.Errorf("analytics: document %d is already indexed; Remove it before adding it again: %w", doc, tearline.ErrExists)
	}
	orig, ok := ix.partner[originator]
	if !ok {
		orig = uint32(len(ix.partners))
		originator = strings.Clone(originator)
		ix.partners = append(ix.partners, originator)
		ix.partner[originator] = orig
	}
	vals := make([]uint32, len(canon))
	for i, q := range canon {
		id, isNew := ix.intern(q)
		ix.values[id].add(posting{doc: doc, orig: orig}, isNew)
		vals[i] = id
	}
	ix.docs[doc] = vals
	ix.postings += len(vals)
	return nil
}

// Remove drops document doc from the index and reports whether it was
// there. Observables no other document reports are forgotten.
func (ix *Index) Remove(doc uint32) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	vals, ok := ix.docs[doc]
	if !ok {
		return false
	}
	for _, id := range vals {
		if !ix.values[id].remove(doc) {
			ix.destroy(id)
		}
	}
	delete(ix.docs, doc)
	ix.postings -= len(vals)
	return true
}

func compareObservables(a, b Observable) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return strings.Compare(a.Value, b.Value)
}

func (ix *Index) trieFor(k Kind) *trie {
	if k == KindIPv4 {
		return &ix.v4
	}
	return &ix.v6
}

// intern returns the value id of observable q, storing it first if it is
// new (and then reporting true). A new value's text is copied, because the caller's string may share
// memory with a much larger document.
func (ix *Index) intern(q query) (uint32, bool) {
	next := uint32(len(ix.values))
	if k := len(ix.freeVals); k > 0 {
		next = ix.freeVals[k-1]
	}
	o := q.obs
	switch o.Kind {
	case KindIPv4, KindIPv6:
		key, n := prefixKey(q.prefix)
		if id := ix.trieFor(o.Kind).insert(key, n, next); id != next {
			return id, false
		}
		o.Value = strings.Clone(o.Value)
	case KindDomain:
		if id := ix.domains.find(o.Value); id != 0 {
			return id, false
		}
		o.Value = strings.Clone(o.Value)
		ix.domains.insert(o.Value, next)
	default:
		if id, ok := ix.exact[o]; ok {
			return id, false
		}
		o.Value = strings.Clone(o.Value)
		ix.exact[o] = next
	}
	if next == uint32(len(ix.values)) {
		ix.values = append(ix.values, value{obs: o})
	} else {
		ix.freeVals = ix.freeVals[:len(ix.freeVals)-1]
		ix.values[next] = value{obs: o}
	}
	return next, true
}

// storedPrefix returns the prefix of a stored address observable. Stored
// values were written by Normalise, so they always parse.
func storedPrefix(o Observable) netip.Prefix { return netip.MustParsePrefix(o.Value) }

func (ix *Index) destroy(id uint32) {
	o := ix.values[id].obs
	switch o.Kind {
	case KindIPv4, KindIPv6:
		key, n := prefixKey(storedPrefix(o))
		ix.trieFor(o.Kind).remove(key, n)
	case KindDomain:
		ix.domains.remove(o.Value)
	default:
		delete(ix.exact, o)
	}
	ix.values[id] = value{}
	ix.freeVals = append(ix.freeVals, id)
}

// query is an observable made ready for lookups.
type query struct {
	obs    Observable // canonical, except Value is empty for addresses
	prefix netip.Prefix
}

func prepare(o Observable) (query, error) {
	if o.Kind == KindIPv4 || o.Kind == KindIPv6 {
		p, err := parseIP(o.Kind, o.Value)
		if err != nil {
			return query{}, err
		}
		return query{obs: Observable{Kind: familyKind(p.Addr())}, prefix: p}, nil
	}
	c, err := Normalise(o.Kind, o.Value)
	if err != nil {
		return query{}, err
	}
	return query{obs: c}, nil
}

// full returns q with the text of an address filled in.
func (q query) full() query {
	if q.prefix.IsValid() {
		q.obs = ipObservable(q.prefix)
	}
	return q
}

// Lookup appends to dst the matches of observable o among the documents
// vis accepts, for the match kinds asked (0 means DefaultMatches), and
// returns the extended slice. The matches it appends are sorted as in
// Correlation. It normalises o first and returns a *ValueError if o is
// invalid, and ErrNoVisibility if vis is nil.
//
// Lookup allocates nothing but the growth of dst, for the hot path of
// checking a stream of sightings.
func (ix *Index) Lookup(dst []Match, o Observable, vis Visibility, kinds MatchKind) ([]Match, error) {
	if vis == nil {
		return dst, ErrNoVisibility
	}
	q, err := prepare(o)
	if err != nil {
		return dst, err
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return ix.lookupLocked(dst, q, vis, kinds), nil
}

func (ix *Index) lookupLocked(dst []Match, q query, vis Visibility, kinds MatchKind) []Match {
	if kinds == 0 {
		kinds = DefaultMatches
	}
	var buf [16]hit
	hits := buf[:0]
	switch q.obs.Kind {
	case KindIPv4, KindIPv6:
		key, n := prefixKey(q.prefix)
		hits = ix.trieFor(q.obs.Kind).lookup(hits, key, n, kinds&MatchExact != 0, kinds&MatchCIDR != 0)
	case KindDomain:
		if kinds&MatchExact != 0 {
			if v := ix.domains.find(q.obs.Value); v != 0 {
				hits = append(hits, hit{v, MatchExact})
			}
		}
		if kinds&MatchDomainSuffix != 0 {
			hits = ix.domains.suffixes(hits, q.obs.Value)
		}
		if kinds&MatchSubdomain != 0 {
			hits = ix.domains.subdomains(hits, q.obs.Value)
		}
	default:
		if kinds&MatchExact != 0 {
			if v, ok := ix.exact[q.obs]; ok {
				hits = append(hits, hit{v, MatchExact})
			}
		}
	}
	start := len(dst)
	for _, h := range hits {
		v := &ix.values[h.val]
		if vis(v.first.doc) {
			dst = append(dst, Match{Doc: v.first.doc, Originator: ix.partners[v.first.orig], Kind: h.kind, Stored: v.obs})
		}
		for _, p := range v.more {
			if vis(p.doc) {
				dst = append(dst, Match{Doc: p.doc, Originator: ix.partners[p.orig], Kind: h.kind, Stored: v.obs})
			}
		}
	}
	if len(dst)-start > 1 {
		slices.SortFunc(dst[start:], compareMatches)
	}
	return dst
}

func compareMatches(a, b Match) int {
	if c := cmp.Compare(a.Doc, b.Doc); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return compareObservables(a.Stored, b.Stored)
}

// Correlate returns what the documents vis accepts say about observable
// o: the matches of the kinds asked (0 means DefaultMatches) and their
// corroboration. Errors are as for Lookup.
func (ix *Index) Correlate(o Observable, vis Visibility, kinds MatchKind) (Correlation, error) {
	if vis == nil {
		return Correlation{}, ErrNoVisibility
	}
	q, err := prepare(o)
	if err != nil {
		return Correlation{}, err
	}
	ix.mu.RLock()
	m := ix.lookupLocked(nil, q, vis, kinds)
	ix.mu.RUnlock()
	return correlation(q.full().obs, m), nil
}

func correlation(o Observable, m []Match) Correlation {
	orig := Originators(m)
	return Correlation{Observable: o, Matches: m, Originators: orig, Corroboration: len(orig)}
}

// CorrelateDocument returns a Correlation for each observable of document
// doc, in the order of its observables (by kind, then value). The matches
// include doc itself, so that a document's own originator counts towards
// its corroboration like any other.
//
// A document that is not indexed and one the viewer may not see give the
// same error, unwrapping to tearline.ErrNotFound, so that a viewer cannot
// learn that a hidden document exists.
func (ix *Index) CorrelateDocument(doc uint32, vis Visibility, kinds MatchKind) ([]Correlation, error) {
	if vis == nil {
		return nil, ErrNoVisibility
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	vals, ok := ix.docs[doc]
	if !ok || !vis(doc) {
		return nil, fmt.Errorf("analytics: document %d: %w", doc, tearline.ErrNotFound)
	}
	out := make([]Correlation, 0, len(vals))
	for _, id := range vals {
		o := ix.values[id].obs
		q := query{obs: o}
		if o.Kind == KindIPv4 || o.Kind == KindIPv6 {
			q.prefix = storedPrefix(o)
		}
		out = append(out, correlation(o, ix.lookupLocked(nil, q, vis, kinds)))
	}
	return out, nil
}

// Observables returns document doc's observables, canonical and sorted, if
// the viewer may see it; the error is as for CorrelateDocument.
func (ix *Index) Observables(doc uint32, vis Visibility) ([]Observable, error) {
	if vis == nil {
		return nil, ErrNoVisibility
	}
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	vals, ok := ix.docs[doc]
	if !ok || !vis(doc) {
		return nil, fmt.Errorf("analytics: document %d: %w", doc, tearline.ErrNotFound)
	}
	out := make([]Observable, len(vals))
	for i, id := range vals {
		out[i] = ix.values[id].obs
	}
	return out, nil
}

// Stats describes the whole index, for operators' metrics. It counts
// documents no viewer filter has been applied to: it MUST NOT be shown to
// a viewer.
type Stats struct {
	Documents   int
	Observables int // distinct observables
	Postings    int // (document, observable) pairs
	Partners    int
	TrieNodes   int // IPv4 and IPv6
	DomainNodes int
}

// Stats returns the index's sizes.
func (ix *Index) Stats() Stats {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return Stats{
		Documents:   len(ix.docs),
		Observables: len(ix.values) - 1 - len(ix.freeVals),
		Postings:    ix.postings,
		Partners:    len(ix.partners),
		TrieNodes:   ix.v4.size() + ix.v6.size(),
		DomainNodes: ix.domains.size(),
	}
}
