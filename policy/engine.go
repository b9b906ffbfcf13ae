package policy

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/tearline/tearline"
)

// Engine decides releases. It compiles a registry and a set of agreements
// once: partner and community codes are interned to small integers, so
// that an agreement's parties and a label's REL TO, EYES ONLY and DISPLAY
// ONLY lists are bitsets; each partner knows the communities it was ever
// in, with the dates; agreements are indexed by the partners that can be
// their parties; every classification level is interned with its rank, and
// each agreement's ceilings and equivalences are tables by policy and rank.
// A decision compiles the object's labels into pooled scratch space, checks
// the rules that hold whatever the agreement once per variant and the rest
// once per covering agreement, and allocates nothing when the object
// itself is allowed; reasons are written out only when it is not.
//
// An Engine is immutable and safe for concurrent use. When the registry or
// the agreements change, build a new one.
type Engine struct {
	sch schemes

	codes    map[string]int32 // partner and community codes
	partners []enginePartner  // by code; communities have no entry
	words    int              // bitset width

	agreements []engineAgreement
	byPartner  [][]int32 // partner code -> agreements it can be a party to, ascending
	// domestic is the holder's own rules, for its local users; its index in
	// agreements, alone, is what a domestic decision looks at.
	domestic []int32

	policies map[string]int32 // policies named by some agreement
	// levels holds every canonical level of every known scheme.
	levels map[classKey]levelInfo

	scratch sync.Pool // *scratch

	// exercise is the exercise this engine's node plays in: the
	// exercise of a request that names none.
	exercise string
}

// NewExerciseEngine is NewEngine for a node that plays in exercise: its
// requests are releases within that exercise unless they name another.
// Material of that exercise can then be released (to the registry's
// partners, which for an exercise node should be its participants only);
// material of any other exercise still cannot.
func NewExerciseEngine(reg *Registry, agreements []tearline.Agreement, exercise string) (*Engine, error) {
	if exercise == "" {
		return nil, errors.New("policy: an exercise engine needs the exercise's name")
	}
	e, err := newEngine(reg, agreements, defaultSchemes())
	if err != nil {
		return nil, err
	}
	e.exercise = exercise
	return e, nil
}

type enginePartner struct {
	code        string
	nationality string
	member      []membership // communities it was ever a member of
}

type membership struct {
	comm  int32
	spans []tearline.Membership
}

func (m *membership) at(t time.Time) bool {
	for i := range m.spans {
		if m.spans[i].Member(t) {
			return true
		}
	}
	return false
}

type classKey struct{ policy, level string }

type levelInfo struct {
	rank         int
	unclassified bool
	policy       int32 // in Engine.policies; -1 when no agreement names it
}

type bitset []uint64

func (b bitset) has(i int32) bool { return i >= 0 && b[i>>6]&(1<<(uint(i)&63)) != 0 }
func (b bitset) set(i int32)      { b[i>>6] |= 1 << (uint(i) & 63) }

// ceiling verdicts, by label policy and rank.
const (
	ceilForeign uint8 = iota // no ceiling applies: no mapped equivalent
	ceilOK
	ceilAbove
)

type mapped struct {
	policy string
	level  string
	rank   int
}

type engineAgreement struct {
	// home marks the domestic rules: no ceiling, no equivalences, no
	// agreement purposes, personal-data rules or third-party rule.
	home    bool
	a       tearline.Agreement
	ref     string // id@version
	allow   []tearline.Reason
	parties bitset
	// ceil[policy][rank] and eq[policy][rank] are indexed by
	// Engine.policies; eq lists what the level stands for in other
	// policies.
	ceil [][]uint8
	eq   [][][]mapped
}

// NewEngine compiles a registry and agreements into an Engine, with the
// label package's classification schemes. Every agreement must pass
// ValidateAgreement against reg. When several agreements cover a release,
// the one that gives the mildest verdict decides; on a tie, the one listed
// first.
func NewEngine(reg *Registry, agreements []tearline.Agreement) (*Engine, error) {
	return newEngine(reg, agreements, defaultSchemes())
}

func newEngine(reg *Registry, agreements []tearline.Agreement, sch schemes) (*Engine, error) {
	if sch == nil {
		return nil, errors.New("policy: no classification schemes")
	}
	e := &Engine{sch: sch, codes: make(map[string]int32), policies: make(map[string]int32)}
	ps, cs := reg.Partners(), reg.Communities()
	for _, p := range ps {
		e.codes[p.Code] = int32(len(e.partners))
		e.partners = append(e.partners, enginePartner{code: p.Code, nationality: p.Nationality})
	}
	for _, c := range cs {
		e.codes[c.Code] = int32(len(e.codes))
	}
	e.words = (len(e.codes) + 63) / 64
	for _, c := range cs {
		ci := e.codes[c.Code]
		for _, m := range c.Members {
			p := &e.partners[e.codes[m.Partner]]
			j := slices.IndexFunc(p.member, func(x membership) bool { return x.comm == ci })
			if j < 0 {
				p.member = append(p.member, membership{comm: ci})
				j = len(p.member) - 1
			}
			p.member[j].spans = append(p.member[j].spans, m)
		}
	}

	for i := range agreements {
		if err := validateAgreement(&agreements[i], reg, sch); err != nil {
			return nil, fmt.Errorf("agreement %d: %w", i, err)
		}
		for _, c := range agreements[i].Ceilings {
			e.policy(c.Policy)
		}
		for _, q := range agreements[i].Equivalences {
			e.policy(q.From.Policy)
			e.policy(q.To.Policy)
		}
	}
	e.levels = make(map[classKey]levelInfo)
	for _, p := range sch.policies() {
		pi, ok := e.policies[p]
		if !ok {
			pi = -1
		}
		for r, lvl := range sch.levels(p) {
			e.levels[classKey{p, lvl}] = levelInfo{rank: r, unclassified: sch.unclassified(p, lvl), policy: pi}
		}
	}
	e.byPartner = make([][]int32, len(e.partners))
	for i := range agreements {
		ea := e.compileAgreement(&agreements[i])
		e.agreements = append(e.agreements, ea)
		for pi := range e.partners {
			p := &e.partners[pi]
			can := ea.parties.has(int32(pi))
			for _, m := range p.member {
				can = can || ea.parties.has(m.comm)
			}
			if can {
				e.byPartner[pi] = append(e.byPartner[pi], int32(i))
			}
		}
	}
	e.domestic = []int32{int32(len(e.agreements))}
	e.agreements = append(e.agreements, engineAgreement{home: true, a: tearline.Agreement{ID: AgreementDomestic, Title: "the node's own rules for its users"},
		ref: AgreementDomestic, allow: []tearline.Reason{{Code: ReasonAllowed,
			Text: "allowed: a user of the holder's own nation, cleared for it; no sharing agreement is involved"}}})
	e.scratch.New = func() any { return new(scratch) }
	return e, nil
}

func (e *Engine) policy(p string) int32 {
	if i, ok := e.policies[p]; ok {
		return i
	}
	i := int32(len(e.policies))
	e.policies[p] = i
	return i
}

func (e *Engine) compileAgreement(a *tearline.Agreement) engineAgreement {
	ea := engineAgreement{a: *a, ref: fmt.Sprintf("%s@%d", a.ID, a.Version), parties: make(bitset, e.words)}
	ea.allow = []tearline.Reason{{Code: ReasonAllowed, Text: fmt.Sprintf("allowed under %s (%s)", a.Title, ea.ref)}}
	for _, p := range a.Parties {
		ea.parties.set(e.codes[p])
	}
	ea.ceil = make([][]uint8, len(e.policies))
	ea.eq = make([][][]mapped, len(e.policies))
	for p, pi := range e.policies {
		levels := e.sch.levels(p)
		ea.ceil[pi] = make([]uint8, len(levels))
		ea.eq[pi] = make([][]mapped, len(levels))
		for r, lvl := range levels {
			from := tearline.Classification{Policy: p, Level: lvl}
			for _, q := range a.Equivalences {
				// An equivalence reads both ways; the first that maps
				// onto a policy is the one used.
				to := q.To
				switch from {
				case q.From:
				case q.To:
					to = q.From
				default:
					continue
				}
				if !slices.ContainsFunc(ea.eq[pi][r], func(m mapped) bool { return m.policy == to.Policy }) {
					rt, _ := e.sch.rank(to.Policy, to.Level)
					ea.eq[pi][r] = append(ea.eq[pi][r], mapped{policy: to.Policy, level: to.Level, rank: rt})
				}
			}
			verdict := ceilForeign
			for _, c := range a.Ceilings {
				rank, ok := r, c.Policy == p
				if !ok {
					for _, m := range ea.eq[pi][r] {
						if m.policy == c.Policy {
							rank, ok = m.rank, true
						}
					}
				}
				if !ok {
					continue
				}
				max, _ := e.sch.rank(c.Policy, c.Level)
				if rank > max {
					verdict = ceilAbove
				} else if verdict == ceilForeign {
					verdict = ceilOK
				}
			}
			ea.ceil[pi][r] = verdict
		}
	}
	return ea
}

// The compiled forms of a decision's inputs, in scratch space reused
// through a sync.Pool.
type scratch struct {
	variants []cvariant
	cats     []ccat
	bits     []uint64
	origs    []int32
}

type cvariant struct {
	id       string
	label    *tearline.Label
	verified bool
	fatal    bool
	// others: an originator other than the holder and the recipient;
	// missing: one of them has not consented to this release.
	others, missing bool
	// useMissing: a local user's decision, where missing is false, would
	// otherwise have had missing set.
	useMissing bool
	policy     int32 // in Engine.policies, -1 when no agreement names it
	rank       int
	origs      []int32
	// nationality shared by every originator, "" when they differ
	nationality string
	cats        []ccat
	relTo       int // REL TO categories
	eyes        bitset
	display     bitset
	h0, h1, h2  bool
	h3          bool
	tlp         tearline.TLP
}

const (
	catInformative uint8 = iota
	catRelTo
	catOnly // narrowing
	catRestrictive
	catPermissive
)

type ccat struct {
	kind uint8
	bits bitset // for catRelTo and catOnly
	c    *tearline.Category
}

// ctx is one decision being made.
type ctx struct {
	e    *Engine
	req  *Request
	s    *Subject
	rc   *tearline.Recipient
	r    int32 // recipient code
	h    int32 // holder code
	nat  string
	sc   *scratch
	memR []membership
	// home: the recipient is a local user of the holder's own nation, decided
	// under the domestic rules rather than an agreement.
	home bool
}

func (sc *scratch) bitset(words int) bitset {
	n := len(sc.bits)
	if cap(sc.bits)-n < words {
		// A new array; bitsets handed out earlier keep the old one.
		sc.bits = make([]uint64, 0, 2*cap(sc.bits)+words)
		n = 0
	}
	sc.bits = sc.bits[:n+words]
	b := bitset(sc.bits[n : n+words : n+words])
	clear(b)
	return b
}

func (e *Engine) codeSet(sc *scratch, values []string) bitset {
	b := sc.bitset(e.words)
	for _, v := range values {
		if i, ok := e.codes[v]; ok {
			b.set(i)
		}
	}
	return b
}

// Decide answers req, following DOMAIN.md's procedure. It tries the object
// itself, then its tearlines in order, and releases the first that passes
// every rule: Allow for the object, AllowVariant (naming the tearline)
// otherwise. When none passes, the first that only needs consent or a
// person's decision gives the outcome (NeedsConsent names the originators
// in ConsentFrom); else the release is denied, with the reasons of every
// variant. Each variant is judged under every agreement that covers it
// (holder, recipient and originators parties at req.Time, in force, in
// scope); the agreement with the mildest verdict decides and is named in
// Agreement, the first listed on a tie.
//
// The returned Decision's Reasons MUST NOT be modified: an allow shares
// them between decisions.
func (e *Engine) Decide(req *Request) tearline.Decision {
	sc := e.scratch.Get().(*scratch)
	d := e.decide(req, sc)
	// Drop the pointers into req, so that the pool does not keep it alive.
	clear(sc.variants)
	clear(sc.cats)
	sc.variants = sc.variants[:0]
	sc.cats = sc.cats[:0]
	sc.bits = sc.bits[:0]
	sc.origs = sc.origs[:0]
	e.scratch.Put(sc)
	return d
}

// Verdict returns the Outcome that Decide returns for req, without the
// reasons, the deciding agreement or the consents: for views and release
// sets, which need only the answer, at the cost of an allow whatever the
// outcome.
func (e *Engine) Verdict(req *Request) tearline.Outcome {
	sc := e.scratch.Get().(*scratch)
	o := e.verdict(req, sc)
	clear(sc.variants)
	clear(sc.cats)
	sc.variants = sc.variants[:0]
	sc.cats = sc.cats[:0]
	sc.bits = sc.bits[:0]
	sc.origs = sc.origs[:0]
	e.scratch.Put(sc)
	return o
}

func (e *Engine) verdict(req *Request, sc *scratch) tearline.Outcome {
	c := &ctx{e: e, req: req, s: req.Subject, rc: req.Recipient, sc: sc, r: -1, h: -1}
	if !e.prepare(c) {
		return tearline.Deny
	}
	// As decide: the first variant allowed wins; otherwise the first
	// escalation, in variant order; otherwise a denial.
	escalation := tearline.Outcome(0)
	for i := range sc.variants {
		sev, _ := c.variant(&sc.variants[i])
		switch {
		case sev == sevAllow && i == 0:
			return tearline.Allow
		case sev == sevAllow:
			return tearline.AllowVariant
		case (sev == sevConsent || sev == sevPerson) && escalation == 0:
			escalation = outcomeOf(sev)
		}
	}
	if escalation != 0 {
		return escalation
	}
	return tearline.Deny
}

// prepare interns the request's codes and compiles its variants into c's
// scratch; it reports false when the request cannot be decided at all (a
// denial). c is filled in place, so that it stays on the caller's stack.
func (e *Engine) prepare(c *ctx) bool {
	req, s, rc, sc := c.req, c.s, c.rc, c.sc
	if i, ok := e.codes[s.Holder]; ok && int(i) < len(e.partners) {
		c.h = i
	}
	if i, ok := e.codes[rc.Code]; ok && int(i) < len(e.partners) {
		c.r = i
	}
	if req.Action < tearline.Release || req.Action > tearline.Onward || c.h < 0 || c.r < 0 {
		return false
	}
	c.memR = e.partners[c.r].member
	c.home = rc.User != "" && c.r == c.h
	c.nat = rc.Nationality
	if reg := e.partners[c.r].nationality; c.nat == "" {
		c.nat = reg
	} else if reg != "" && reg != c.nat {
		c.nat = ""
	}

	n := 1 + len(s.Variants)
	if cap(sc.variants) < n {
		sc.variants = make([]cvariant, n)
	}
	sc.variants = sc.variants[:n]
	e.compile(c, &sc.variants[0], s.ID, &s.Label, s.Verified)
	for i := range s.Variants {
		e.compile(c, &sc.variants[i+1], s.Variants[i].ID, &s.Variants[i].Label, s.Variants[i].Verified)
	}
	return true
}

func (e *Engine) decide(req *Request, sc *scratch) tearline.Decision {
	c := &ctx{e: e, req: req, s: req.Subject, rc: req.Recipient, sc: sc, r: -1, h: -1}
	if !e.prepare(c) {
		return c.fatal()
	}
	n := len(sc.variants)

	// The first variant allowed wins; remember each one's verdict and
	// deciding agreement for the explanation otherwise.
	var sevs [8]uint8
	var ags [8]int32
	var sevMore []uint8
	var agMore []int32
	if n > len(sevs) {
		sevMore, agMore = make([]uint8, n), make([]int32, n)
	}
	for i := range sc.variants {
		sev, ag := c.variant(&sc.variants[i])
		if sev == sevAllow {
			return c.allowed(i, ag)
		}
		if i < len(sevs) {
			sevs[i], ags[i] = sev, ag
		} else {
			sevMore[i], agMore[i] = sev, ag
		}
	}
	sev := func(i int) (uint8, int32) {
		if i < len(sevs) {
			return sevs[i], ags[i]
		}
		return sevMore[i], agMore[i]
	}
	for i := range sc.variants {
		if v, ag := sev(i); v == sevConsent || v == sevPerson {
			return c.escalate(i, v, ag)
		}
	}
	_, ag0 := sev(0)
	d := tearline.Decision{Outcome: tearline.Deny, Agreement: e.agreementRef(ag0)}
	for i := range sc.variants {
		_, ag := sev(i)
		d.Reasons = c.explain(d.Reasons, i, ag, nil)
	}
	return d
}

func (e *Engine) agreementRef(ag int32) string {
	if ag < 0 {
		return ""
	}
	return e.agreements[ag].ref
}

// compile fills v from a label.
func (e *Engine) compile(c *ctx, v *cvariant, id string, l *tearline.Label, verified bool) {
	sc, s := c.sc, c.s
	*v = cvariant{id: id, label: l, verified: verified, policy: -1}
	info, ok := e.levels[classKey{l.Policy, l.Classification}]
	v.rank, v.policy = info.rank, info.policy
	v.fatal = !verified || !ok || conflicts(l, info, ok) != 0

	start := len(sc.origs)
	add := func(code string) {
		i, ok := e.codes[code]
		if !ok || int(i) >= len(e.partners) {
			v.fatal = true
			i = -1
		}
		if !slices.Contains(sc.origs[start:], i) || i < 0 {
			sc.origs = append(sc.origs, i)
		}
	}
	for _, o := range l.Originators {
		add(o)
	}
	for _, o := range s.Originators {
		add(o)
	}
	if len(sc.origs) == start {
		sc.origs = append(sc.origs, c.h)
	}
	v.origs = sc.origs[start:len(sc.origs):len(sc.origs)]
	if v.fatal {
		return
	}
	v.nationality = e.partners[v.origs[0]].nationality
	for _, o := range v.origs[1:] {
		if e.partners[o].nationality != v.nationality {
			v.nationality = ""
		}
	}

	cs := len(sc.cats)
	for i := range l.Categories {
		cat := &l.Categories[i]
		cc := ccat{c: cat}
		switch {
		case cat.Type == tearline.Informative:
			cc.kind = catInformative
		case cat.Name == tearline.CategoryRelTo:
			cc.kind, cc.bits = catRelTo, e.codeSet(sc, cat.Values)
			v.relTo++
		case cat.Narrowing:
			cc.kind, cc.bits = catOnly, e.codeSet(sc, cat.Values)
		case cat.Type == tearline.Restrictive:
			cc.kind = catRestrictive
		default:
			cc.kind = catPermissive
		}
		sc.cats = append(sc.cats, cc)
	}
	v.cats = sc.cats[cs:len(sc.cats):len(sc.cats)]
	if len(l.EyesOnly) > 0 {
		v.eyes = e.codeSet(sc, l.EyesOnly)
	}
	if len(l.DisplayOnly) > 0 {
		v.display = e.codeSet(sc, l.DisplayOnly)
	}
	for _, h := range l.Handling {
		switch h {
		case tearline.H0:
			v.h0 = true
		case tearline.H1:
			v.h1 = true
		case tearline.H2:
			v.h2 = true
		case tearline.H3:
			v.h3 = true
		}
	}
	v.tlp = l.TLP
	if l.IEP != nil && l.IEP.TLP > v.tlp {
		v.tlp = l.IEP.TLP
	}
	c.compileConsent(v)
}

// Conflicting markings, as bits: the rules a label breaks, named as the
// label package names them. Ingest rejects such labels; the engine denies
// them in case one got through. An empty category is not among them: it is
// what rolling labels up with an empty intersection leaves, and it needs a
// person rather than a denial.
const (
	conflictRelToNoForn = 1 << iota
	conflictEyesNoForn
	conflictEyesRelTo
	conflictDisplayRelIDO
	conflictDisplayNoForn
	conflictRelIDONoForn
	conflictORCONUnclassified
	conflictFOUOClassified
	conflictCategoryType
	conflictRelToCategory
	conflictHandling
	conflictTLP
	conflictPAP
	conflictIEPTLP
)

var conflictRules = []string{
	"relto-with-noforn",
	"eyes-with-noforn",
	"eyes-with-relto",
	"display-only-with-relido",
	"display-only-with-noforn",
	"relido-with-noforn",
	"orcon-on-unclassified",
	"fouo-on-classified",
	"category-type",
	"relto-category",
	"unknown-handling-code",
	"unknown-tlp",
	"unknown-pap",
	"iep-tlp-mismatch",
}

// conflicts returns the marking rules l breaks; level describes its
// classification when known.
func conflicts(l *tearline.Label, level levelInfo, known bool) uint32 {
	var bad uint32
	relTo := false
	for i := range l.Categories {
		c := &l.Categories[i]
		if c.Type < tearline.Restrictive || c.Type > tearline.Informative || c.Narrowing && c.Type != tearline.Permissive {
			bad |= conflictCategoryType
		}
		if c.Name == tearline.CategoryRelTo {
			relTo = true
			if c.Type != tearline.Permissive || c.Narrowing {
				bad |= conflictRelToCategory
			}
		}
	}
	if relTo && l.NoForn {
		bad |= conflictRelToNoForn
	}
	if len(l.EyesOnly) > 0 && l.NoForn {
		bad |= conflictEyesNoForn
	}
	if len(l.EyesOnly) > 0 && relTo {
		bad |= conflictEyesRelTo
	}
	if len(l.DisplayOnly) > 0 && l.RelIDO {
		bad |= conflictDisplayRelIDO
	}
	if len(l.DisplayOnly) > 0 && l.NoForn {
		bad |= conflictDisplayNoForn
	}
	if l.RelIDO && l.NoForn {
		bad |= conflictRelIDONoForn
	}
	if known {
		if l.ORCON && level.unclassified {
			bad |= conflictORCONUnclassified
		}
		if l.FOUO && !level.unclassified {
			bad |= conflictFOUOClassified
		}
	}
	for _, h := range l.Handling {
		if h < tearline.H0 || h > tearline.H3 {
			bad |= conflictHandling
		}
	}
	if l.TLP > tearline.TLPRed || l.IEP != nil && l.IEP.TLP > tearline.TLPRed {
		bad |= conflictTLP
	}
	if l.PAP > tearline.TLPRed || l.PAP == tearline.TLPAmberStrict {
		bad |= conflictPAP
	}
	if l.IEP != nil && l.IEP.TLP != tearline.TLPNone && l.TLP != tearline.TLPNone && l.IEP.TLP != l.TLP {
		bad |= conflictIEPTLP
	}
	return bad
}

// Verdict severities: the mildest agreement wins, the most severe reason
// decides a variant.
const (
	sevAllow uint8 = iota
	sevConsent
	sevPerson
	sevDeny
)

func outcomeOf(sev uint8) tearline.Outcome {
	return [...]tearline.Outcome{tearline.Allow, tearline.NeedsConsent, tearline.NeedsPerson, tearline.Deny}[sev]
}

// partyAt reports whether partner p is covered by bits at t: listed, or a
// member at t of a listed community.
func (e *Engine) partyAt(bits bitset, p int32, t time.Time) bool {
	if bits.has(p) {
		return true
	}
	for i := range e.partners[p].member {
		m := &e.partners[p].member[i]
		if bits.has(m.comm) && m.at(t) {
			return true
		}
	}
	return false
}

// holds reports whether the recipient holds one of bits: its own code, or
// a community it was a member of both when the object was created and at
// the time of the decision (the membership-epoch rule).
func (c *ctx) holds(bits bitset) bool {
	if bits.has(c.r) {
		return true
	}
	for i := range c.memR {
		m := &c.memR[i]
		if bits.has(m.comm) && m.at(c.s.Created) && m.at(c.req.Time) {
			return true
		}
	}
	return false
}

// coverage: how far agreement a gets in covering the release.
const (
	stageParties = iota // not every party is in it
	stageInForce        // not in force
	stageScope          // out of scope
	stageCovers
)

// candidates are the agreements that may cover the release.
func (c *ctx) candidates() []int32 {
	if c.home {
		return c.e.domestic
	}
	return c.e.byPartner[c.r]
}

func (c *ctx) coverage(v *cvariant, a *engineAgreement) int {
	if a.home {
		return stageCovers
	}
	t := c.req.Time
	if !c.e.partyAt(a.parties, c.h, t) || !c.e.partyAt(a.parties, c.r, t) {
		return stageParties
	}
	for _, o := range v.origs {
		if !c.e.partyAt(a.parties, o, t) {
			return stageParties
		}
	}
	if !a.a.Active(t) {
		return stageInForce
	}
	if len(a.a.Types) > 0 && !slices.Contains(a.a.Types, c.s.Type) {
		return stageScope
	}
	if len(a.a.Topics) > 0 {
		if len(c.s.Topics) == 0 {
			return stageScope
		}
		for _, topic := range c.s.Topics {
			if !slices.Contains(a.a.Topics, topic) {
				return stageScope
			}
		}
	}
	return stageCovers
}

// variant decides one variant: its verdict and the agreement that gives
// it, -1 when none covers the release.
func (c *ctx) variant(v *cvariant) (uint8, int32) {
	if v.fatal {
		return sevDeny, -1
	}
	ind := c.rules(v, nil, nil, partIndependent)
	best, bestAg := sevDeny+1, int32(-1)
	for _, ai := range c.candidates() {
		a := &c.e.agreements[ai]
		if c.coverage(v, a) != stageCovers {
			continue
		}
		if ind == sevDeny {
			return sevDeny, ai
		}
		sev := max(ind, c.rules(v, a, nil, partAgreement))
		if sev < best {
			best, bestAg = sev, ai
			if sev == ind {
				// No agreement can do better than the rules that hold
				// whatever the agreement.
				break
			}
		}
	}
	if bestAg < 0 {
		return sevDeny, -1
	}
	return best, bestAg
}

func (c *ctx) allowed(i int, ag int32) tearline.Decision {
	a := &c.e.agreements[ag]
	if i == 0 {
		return tearline.Decision{Outcome: tearline.Allow, Agreement: a.ref, Reasons: a.allow}
	}
	d := tearline.Decision{Outcome: tearline.AllowVariant, Variant: c.sc.variants[i].id, Agreement: a.ref}
	for j := 0; j < i; j++ {
		_, agj := c.variant(&c.sc.variants[j])
		d.Reasons = c.explain(d.Reasons, j, agj, nil)
	}
	d.Reasons = append(d.Reasons, tearline.Reason{Code: ReasonAllowed,
		Text: fmt.Sprintf("the tearline %s is allowed under %s (%s)", c.sc.variants[i].id, a.a.Title, a.ref)})
	return d
}

func (c *ctx) escalate(i int, sev uint8, ag int32) tearline.Decision {
	d := tearline.Decision{Outcome: outcomeOf(sev), Agreement: c.e.agreementRef(ag)}
	if i > 0 {
		d.Variant = c.sc.variants[i].id
	}
	for j := 0; j < i; j++ {
		_, agj := c.variant(&c.sc.variants[j])
		d.Reasons = c.explain(d.Reasons, j, agj, nil)
	}
	var consent []string
	d.Reasons = c.explain(d.Reasons, i, ag, &consent)
	if sev == sevConsent {
		slices.Sort(consent)
		d.ConsentFrom = slices.Compact(consent)
	}
	return d
}

// fatal denies a request that cannot be decided: an unknown action,
// holder or recipient.
func (c *ctx) fatal() tearline.Decision {
	d := tearline.Decision{Outcome: tearline.Deny}
	if c.req.Action < tearline.Release || c.req.Action > tearline.Onward {
		d.Reasons = append(d.Reasons, tearline.Reason{Code: ReasonInvalidAction,
			Text: fmt.Sprintf("action %d is not release, disclose or onward sharing", c.req.Action)})
	}
	if c.h < 0 {
		d.Reasons = append(d.Reasons, tearline.Reason{Code: ReasonUnknownHolder,
			Text: fmt.Sprintf("the holder %q is not a known partner", c.s.Holder)})
	}
	if c.r < 0 {
		d.Reasons = append(d.Reasons, tearline.Reason{Code: ReasonUnknownRecipient,
			Text: fmt.Sprintf("%q is not a known partner; nothing is released to an unknown recipient", c.rc.Code)})
	}
	return d
}
