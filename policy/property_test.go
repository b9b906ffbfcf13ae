package policy

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

var (
	propertyCases = flag.Int("policy.cases", 1_000_000, "random cases for TestEngineMatchesReference")
	propertySeed  = flag.Uint64("policy.seed", 20250301, "seed for TestEngineMatchesReference")
	propertyCase  = flag.Int("policy.case", -1, "run only this case of TestEngineMatchesReference, and print it")
)

// TestEngineMatchesReference: over random labels, recipients, agreement
// sets and times, the engine returns the reference's decision (outcome,
// variant, consent, agreement and reason codes), and in particular never
// allows what the reference does not. The cases derive from the seed and
// their index alone, so any failure reproduces with -policy.case.
func TestEngineMatchesReference(t *testing.T) {
	n := *propertyCases
	if testing.Short() {
		n = min(n, 100_000)
	}
	w := newWorld(t, *propertySeed)

	var (
		next     atomic.Int64
		mu       sync.Mutex
		failures []string
		outcomes [tearline.NeedsPerson + 1]atomic.Int64
		allowVar atomic.Int64
	)
	check := func(i int) {
		req, set := w.request(i)
		got, want := w.engines[set].Decide(req), w.refs[set].Decide(req)
		if v := w.engines[set].Verdict(req); v != got.Outcome {
			mu.Lock()
			failures = append(failures, fmt.Sprintf("case %d (agreement set %d): engine Verdict = %s; Decide = %s", i, set, v, got.Outcome))
			mu.Unlock()
		}
		outcomes[want.Outcome].Add(1)
		if want.Outcome == tearline.AllowVariant {
			allowVar.Add(1)
		}
		if sameDecision(got, want) {
			return
		}
		allowed := func(d tearline.Decision) bool {
			return d.Outcome == tearline.Allow || d.Outcome == tearline.AllowVariant
		}
		what := "differs from"
		if allowed(got) && !allowed(want) {
			what = "ALLOWS WHAT IS DENIED BY"
		}
		mu.Lock()
		defer mu.Unlock()
		failures = append(failures, fmt.Sprintf("case %d (agreement set %d): engine Decide = %s; %s the reference's %s",
			i, set, fmtDecision(got), what, fmtDecision(want)))
	}

	if *propertyCase >= 0 {
		req, set := w.request(*propertyCase)
		t.Logf("agreements: %+v", w.sets[set])
		t.Logf("subject: %+v", *req.Subject)
		t.Logf("recipient: %+v; action %d purpose %q time %s exercise %q", *req.Recipient, req.Action, req.Purpose, req.Time, req.Exercise)
		t.Logf("engine:    %+v", w.engines[set].Decide(req))
		t.Logf("reference: %+v", w.refs[set].Decide(req))
		check(*propertyCase)
	} else {
		var wg sync.WaitGroup
		for range runtime.GOMAXPROCS(0) {
			wg.Go(func() {
				for {
					i := int(next.Add(1)) - 1
					if i >= n {
						return
					}
					check(i)
				}
			})
		}
		wg.Wait()
	}

	slices.Sort(failures)
	for i, f := range failures {
		if i == 20 {
			t.Errorf("... and %d more", len(failures)-20)
			break
		}
		t.Error(f)
	}
	if len(failures) > 0 {
		t.Logf("rerun one case with: go test ./policy -run TestEngineMatchesReference -policy.case=N -v")
	}
	if *propertyCase >= 0 {
		return
	}
	// The generator must exercise every outcome, or this test proves little.
	total := int64(n)
	for o := tearline.Deny; o <= tearline.NeedsPerson; o++ {
		c := outcomes[o].Load()
		t.Logf("%-14v %7d (%4.1f%%)", o, c, 100*float64(c)/float64(total))
		if c < total/200 {
			t.Errorf("the reference decided %v in only %d of %d cases; the generator must cover every outcome", o, c, total)
		}
	}
}

// world is the random universe of the property test: a registry, sets of
// agreements, and the engines and references over them.
type world struct {
	reg     *Registry
	sch     schemes
	sets    [][]tearline.Agreement
	engines []*Engine
	refs    []*Reference
}

var (
	partnerPool   = []string{"USA", "GBR", "CAN", "AUS", "NZL", "FRA", "DEU", "NLD", "FIN", "SWE", "JPN", "EUROPOL"}
	communityPool = []string{"FVEY", "ACGU", "NATO", "CTG", "TEYE"}
	policyPool    = []string{"GBR", "USA", "NATO", "FRA", "DEU", "CAN", "EU"}
	typePool      = []string{"report", "indicator", "identity"}
	topicPool     = []string{"terrorism", "crime", "cyber"}
	purposePool   = []string{"counter-terrorism", "defence", PurposeCombatingCrime, PurposeJudicial}
	regimePool    = []string{"LED", "GDPR"}
	epoch         = date("2018-01-01")
)

func newWorld(t testing.TB, seed uint64) *world {
	t.Helper()
	w := &world{reg: testRegistry(t), sch: defaultSchemes()}
	r := rand.New(rand.NewPCG(seed, 0))
	for len(w.sets) < 48 {
		var set []tearline.Agreement
		for len(set) < 1+r.IntN(4) {
			a := w.agreement(r, len(set))
			if err := validateAgreement(&a, w.reg, w.sch); err != nil {
				t.Fatalf("generated agreement is invalid: %v", err)
			}
			set = append(set, a)
		}
		e, err := newEngine(w.reg, set, w.sch)
		if err != nil {
			t.Fatal(err)
		}
		w.sets = append(w.sets, set)
		w.engines = append(w.engines, e)
		w.refs = append(w.refs, newReference(w.reg, set, w.sch))
	}
	return w
}

func pick[T any](r *rand.Rand, pool []T) T { return pool[r.IntN(len(pool))] }

func some(r *rand.Rand, pool []string, max int) []string {
	var out []string
	for range r.IntN(max + 1) {
		if v := pick(r, pool); !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

func randTime(r *rand.Rand) time.Time {
	return epoch.Add(time.Duration(r.Int64N(int64(9 * 365 * 24 * time.Hour))))
}

func (w *world) level(r *rand.Rand, policy string) string {
	levels := w.sch.levels(policy)
	return levels[r.IntN(len(levels))]
}

func (w *world) agreement(r *rand.Rand, i int) tearline.Agreement {
	a := tearline.Agreement{ID: fmt.Sprintf("a%d", i), Version: 1 + r.IntN(3), Title: fmt.Sprintf("agreement %d", i)}
	if r.IntN(3) == 0 {
		a.Parties = []string{pick(r, communityPool)}
	}
	for len(a.Parties) < 2 || r.IntN(2) == 0 && len(a.Parties) < 6 {
		if p := pick(r, append(partnerPool, communityPool...)); !slices.Contains(a.Parties, p) {
			a.Parties = append(a.Parties, p)
		}
	}
	a.ValidFrom = epoch.Add(-time.Duration(r.IntN(3*365)) * 24 * time.Hour)
	if r.IntN(3) == 0 {
		a.ValidFrom = randTime(r)
	}
	if r.IntN(3) == 0 {
		a.ValidUntil = a.ValidFrom.Add(time.Duration(1+r.IntN(8*365)) * 24 * time.Hour)
	}
	if r.IntN(4) == 0 {
		a.Types = some(r, typePool, 2)
	}
	if r.IntN(4) == 0 {
		a.Topics = some(r, topicPool, 2)
	}
	for _, p := range some(r, policyPool, 4) {
		a.Ceilings = append(a.Ceilings, tearline.Classification{Policy: p, Level: w.level(r, p)})
	}
	if len(a.Ceilings) == 0 {
		a.Ceilings = []tearline.Classification{{Policy: "GBR", Level: "SECRET"}}
	}
	// Equivalences that keep the order of the levels: level k of one
	// policy with level k+shift of another, for a few policy pairs.
	for range r.IntN(4) {
		p, q := pick(r, policyPool), pick(r, policyPool)
		if p == q || slices.ContainsFunc(a.Equivalences, func(e tearline.Equivalence) bool {
			return e.From.Policy == p && e.To.Policy == q || e.From.Policy == q && e.To.Policy == p
		}) {
			continue
		}
		lp, lq := w.sch.levels(p), w.sch.levels(q)
		shift := r.IntN(3) - 1
		for k := range lp {
			if k+shift >= 0 && k+shift < len(lq) && r.IntN(4) > 0 {
				a.Equivalences = append(a.Equivalences, tearline.Equivalence{
					From: tearline.Classification{Policy: p, Level: lp[k]},
					To:   tearline.Classification{Policy: q, Level: lq[k+shift]},
				})
			}
		}
	}
	a.ThirdPartyRule = r.IntN(2) == 0
	if r.IntN(3) == 0 {
		a.Purposes = some(r, purposePool, 3)
	}
	if r.IntN(3) == 0 {
		a.Retention = time.Duration(1+r.IntN(6*365)) * 24 * time.Hour
	}
	if r.IntN(2) == 0 {
		a.PersonalDataRegimes = some(r, regimePool, 2)
	}
	return a
}

// codes a label may name: mostly real, sometimes unknown.
func (w *world) code(r *rand.Rand) string {
	switch n := r.IntN(40); {
	case n == 0:
		return "ZZZZ"
	case n < 12:
		return pick(r, communityPool)
	}
	return pick(r, partnerPool)
}

func (w *world) codes(r *rand.Rand, max int) []string {
	var out []string
	for range r.IntN(max + 1) {
		if c := w.code(r); !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	return out
}

func chance(r *rand.Rand, percent int) bool { return r.IntN(100) < percent }

// label makes a random label. noise (0-100) scales the chance of every
// marking that restricts a release.
func (w *world) label(r *rand.Rand, recipient string, created, t time.Time, noise int) tearline.Label {
	chance := func(r *rand.Rand, percent int) bool { return r.IntN(10000) < percent*noise }
	var l tearline.Label
	switch n := r.IntN(100); {
	case n == 0 && noise == 100:
		l.Policy, l.Classification = "ATLANTIS", "SECRET"
	case n == 1 && noise == 100:
		l.Policy, l.Classification = "GBR", "SEKRIT"
	default:
		l.Policy = pick(r, policyPool)
		l.Classification = w.level(r, l.Policy)
	}
	if r.IntN(100) < 70 {
		values := w.codes(r, 4)
		if r.IntN(100) < 60 || noise < 100 && r.IntN(100) < 80 {
			values = append(values, recipient) // releasable to the recipient
		}
		if chance(r, 3) {
			values = nil // an empty roll-up intersection
		}
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Permissive, Name: tearline.CategoryRelTo, Values: values})
	}
	if chance(r, 8) {
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Permissive, Name: "Only", Narrowing: true, Values: w.codes(r, 3)})
	}
	if chance(r, 8) {
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Restrictive, Name: "Additional Sensitivity", Values: []string{"ATOMAL"}})
	}
	if chance(r, 8) {
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Permissive, Name: "Mission", Values: some(r, []string{"OP-A", "OP-B"}, 2)})
	}
	if chance(r, 4) {
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Informative, Name: "Note", Values: []string{"X"}})
	}
	if chance(r, 1) {
		l.Categories = append(l.Categories, tearline.Category{Type: 9, Name: "Odd", Values: []string{"X"}})
	}
	l.NoForn = chance(r, 6)
	l.ORCON = chance(r, 12)
	l.RelIDO = chance(r, 4)
	l.FOUO = chance(r, 2)
	if chance(r, 8) {
		l.DisplayOnly = w.codes(r, 2)
		if chance(r, 50) {
			l.DisplayOnly = append(l.DisplayOnly, recipient)
		}
	}
	if chance(r, 4) {
		l.EyesOnly = append(w.codes(r, 2), recipient)
	}
	for h := tearline.H0; h <= tearline.H3; h++ {
		if chance(r, 5) {
			l.Handling = append(l.Handling, h)
		}
	}
	if chance(r, 1) {
		l.Handling = append(l.Handling, 7)
	}
	if slices.Contains(l.Handling, tearline.H3) {
		l.H3Text = "only for the unit"
	}
	if r.IntN(100) < 40 {
		l.TLP = tearline.TLP(r.IntN(3))
	}
	if chance(r, 30) {
		l.TLP = tearline.TLP(r.IntN(6))
	}
	if chance(r, 1) {
		l.TLP = 8
	}
	if chance(r, 5) {
		l.PAP = tearline.TLP(r.IntN(6))
	}
	if chance(r, 4) {
		l.IEP = &tearline.IEP{TLP: tearline.TLP(r.IntN(6))}
	}
	if chance(r, 15) {
		l.Purposes = some(r, purposePool, 2)
	}
	if chance(r, 12) {
		l.PersonalData = true
		l.Regime = pick(r, append(regimePool, ""))
	}
	if chance(r, 8) {
		l.RetainUntil = t.Add(time.Duration(r.IntN(200)-100) * 24 * time.Hour)
	}
	if chance(r, 8) {
		l.Expires = t.Add(time.Duration(r.IntN(200)-100) * 24 * time.Hour)
	}
	if chance(r, 2) {
		l.Successor = "marking-definition--00000000-0000-4000-8000-000000000001"
	}
	if r.IntN(100) < 50 {
		l.Originators = some(r, partnerPool, 2)
	}
	if chance(r, 1) {
		l.Originators = append(l.Originators, "SPECTRE")
	}
	if chance(r, 4) {
		l.Exercise = "STEADFAST"
	}
	return l
}

func (w *world) clearance(r *rand.Rand) tearline.Clearance {
	p := pick(r, policyPool)
	levels := w.sch.levels(p)
	c := tearline.Clearance{Policy: p}
	top := r.IntN(len(levels))
	for k := 0; k <= top; k++ {
		if chance(r, 90) {
			c.Levels = append(c.Levels, levels[k])
		}
	}
	if chance(r, 20) {
		c.Categories = map[string][]string{"Additional Sensitivity": {"ATOMAL"}, "Mission": some(r, []string{"OP-A", "OP-B"}, 2)}
	}
	return c
}

// request returns case i and the agreement set it is decided under. Half
// the cases are aligned with an agreement of the set (parties, dates,
// scope, ceiling, clearance) and carry few restrictive markings, so that
// allows and the rules that only bite once everything else passes are
// exercised as much as denials.
func (w *world) request(i int) (*Request, int) {
	r := rand.New(rand.NewPCG(*propertySeed, uint64(i)+1))
	set := r.IntN(len(w.sets))
	if r.IntN(2) == 0 {
		if req := w.aligned(r, i, w.sets[set]); req != nil {
			return req, set
		}
	}

	rc := &tearline.Recipient{Code: pick(r, partnerPool)}
	switch n := r.IntN(100); {
	case n == 0:
		rc.Code = "ATL"
	case n == 1:
		rc.Code = "NATO"
	}
	rc.Nationality = w.reg.Nationality(rc.Code)
	if chance(r, 5) {
		rc.Nationality = pick(r, partnerPool)
	}
	if chance(r, 15) {
		rc.User, rc.Organisation = "user", pick(r, []string{"ORG-A", "ORG-B", ""})
	}
	for range 1 + r.IntN(3) {
		rc.Clearances = append(rc.Clearances, w.clearance(r))
	}
	if chance(r, 5) {
		rc.Clearances = nil
	}

	t := randTime(r)
	created := t.Add(-time.Duration(r.IntN(5*365)) * 24 * time.Hour)
	s := &Subject{
		ID: fmt.Sprintf("report--%d", i), Type: pick(r, typePool), Topics: some(r, topicPool, 2), Created: created,
		Label:    w.label(r, rc.Code, created, t, 100),
		Verified: !chance(r, 3),
		Recalled: chance(r, 2),
		Holder:   pick(r, partnerPool),
	}
	if chance(r, 40) {
		s.Holder = rc.Code
	}
	if chance(r, 1) {
		s.Holder = "XXX"
	}
	s.HolderOrganisation = pick(r, []string{"ORG-A", "ORG-B", ""})
	if chance(r, 30) {
		s.Originators = some(r, partnerPool, 2)
	}
	for range r.IntN(3) {
		v := Variant{ID: fmt.Sprintf("%s-v%d", s.ID, len(s.Variants)), Label: w.label(r, rc.Code, created, t, 100), Verified: !chance(r, 3)}
		s.Variants = append(s.Variants, v)
	}
	w.consents(r, s, rc.Code, t)
	req := &Request{
		Subject: s, Recipient: rc,
		Action:  tearline.Action(1 + r.IntN(3)),
		Purpose: pick(r, append(purposePool, "")),
		Time:    t,
	}
	if chance(r, 1) {
		req.Action = 0
	}
	if chance(r, 5) {
		req.Exercise = "STEADFAST"
	}
	return req, set
}

func (w *world) consents(r *rand.Rand, s *Subject, recipient string, t time.Time) {
	for range r.IntN(3) {
		k := Consent{Originator: pick(r, partnerPool), Recipient: recipient, Object: s.ID}
		if chance(r, 20) {
			k.Recipient = pick(r, partnerPool)
		}
		if chance(r, 20) && len(s.Variants) > 0 {
			k.Object = s.Variants[0].ID
		}
		if chance(r, 30) {
			k.Expires = t.Add(time.Duration(r.IntN(20)-10) * 24 * time.Hour)
		}
		s.Consents = append(s.Consents, k)
	}
}

// aligned makes a case that one agreement of set covers, or nil.
func (w *world) aligned(r *rand.Rand, i int, set []tearline.Agreement) *Request {
	a := pick(r, set)
	end := a.ValidUntil
	if end.IsZero() {
		end = a.ValidFrom.Add(6 * 365 * 24 * time.Hour)
	}
	t := a.ValidFrom.Add(time.Duration(r.Int64N(int64(end.Sub(a.ValidFrom)))))
	var members []string
	for _, p := range a.Parties {
		for _, m := range w.reg.Expand(p, t) {
			if !slices.Contains(members, m) {
				members = append(members, m)
			}
		}
	}
	if len(members) == 0 {
		return nil
	}
	created := t.Add(-time.Duration(r.IntN(3*365)) * 24 * time.Hour)
	rc := &tearline.Recipient{Code: pick(r, members)}
	rc.Nationality = w.reg.Nationality(rc.Code)
	if r.IntN(100) < 15 {
		rc.User, rc.Organisation = "user", pick(r, []string{"ORG-A", "ORG-B"})
	}
	s := &Subject{ID: fmt.Sprintf("report--%d", i), Created: created, Verified: true, Holder: pick(r, members)}
	if rc.User != "" && r.IntN(2) == 0 {
		s.Holder = rc.Code // a local user of the holder's own nation
	}
	s.HolderOrganisation = pick(r, []string{"ORG-A", "ORG-B"})
	s.Type = pick(r, typePool)
	if len(a.Types) > 0 {
		s.Type = pick(r, a.Types)
	}
	s.Topics = some(r, topicPool, 1)
	if len(a.Topics) > 0 {
		s.Topics = []string{pick(r, a.Topics)}
	}

	c := pick(r, a.Ceilings)
	s.Label = w.label(r, rc.Code, created, t, 15)
	ceiling, _ := w.sch.rank(c.Policy, c.Level)
	s.Label.Policy, s.Label.Classification = c.Policy, w.sch.levels(c.Policy)[r.IntN(ceiling+1)]
	if r.IntN(100) < 70 {
		s.Label.Originators = nil
		if r.IntN(100) < 30 {
			s.Label.Originators = []string{pick(r, members)}
		}
	}
	rc.Clearances = []tearline.Clearance{{Policy: c.Policy, Levels: w.sch.levels(c.Policy)}}
	if r.IntN(100) < 30 {
		rc.Clearances = append([]tearline.Clearance{w.clearance(r)}, rc.Clearances...)
	}
	for range r.IntN(2) {
		v := Variant{ID: fmt.Sprintf("%s-v%d", s.ID, len(s.Variants)), Label: w.label(r, rc.Code, created, t, 15), Verified: true}
		v.Label.Policy, v.Label.Classification = s.Label.Policy, s.Label.Classification
		s.Variants = append(s.Variants, v)
	}
	w.consents(r, s, rc.Code, t)
	req := &Request{Subject: s, Recipient: rc, Action: tearline.Action(1 + r.IntN(3)), Time: t}
	if len(a.Purposes) > 0 {
		req.Purpose = pick(r, a.Purposes)
	} else if r.IntN(2) == 0 {
		req.Purpose = pick(r, purposePool)
	}
	return req
}
