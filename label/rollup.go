package label

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// Expander expands community codes (FVEY, NATO, a group users define) to
// their members, so that release lists can be intersected. Members returns
// nil for a code that is not a community or that it does not know; such a
// code then only matches itself, which can narrow a roll-up but never widen
// it. The policy package supplies membership as of the relevant time.
type Expander interface {
	Members(code string) []string
}

// Mapper finds the level of policy that is equivalent to a classification
// of another policy, as agreements declare (tearline.Equivalence).
type Mapper interface {
	Equivalent(from tearline.Classification, policy string) (level string, ok bool)
}

// Communities is a fixed Expander: community code to member codes.
type Communities map[string][]string

var _ Expander = Communities(nil)

// Members returns the members of code, or nil.
func (c Communities) Members(code string) []string { return c[code] }

// KnownCommunities returns the communities whose membership is settled
// and undated: FVEY (USA GBR CAN AUS NZL), ACGU (USA GBR CAN AUS) and TEYE
// (USA GBR CAN). NATO and user-defined communities have dated membership
// and come from the node's partner registry instead.
func KnownCommunities() Communities {
	return Communities{
		"FVEY": {"USA", "GBR", "CAN", "AUS", "NZL"},
		"ACGU": {"USA", "GBR", "CAN", "AUS"},
		"TEYE": {"USA", "GBR", "CAN"},
	}
}

// Equivalences is a Mapper over a list of declared equivalences, read in
// both directions.
type Equivalences []tearline.Equivalence

var _ Mapper = Equivalences(nil)

// Equivalent returns the level of policy declared equivalent to from.
func (e Equivalences) Equivalent(from tearline.Classification, policy string) (string, bool) {
	for _, eq := range e {
		if eq.From.Policy == from.Policy && eq.To.Policy == policy && sameLevel(from.Policy, eq.From.Level, from.Level) {
			return eq.To.Level, true
		}
		if eq.To.Policy == from.Policy && eq.From.Policy == policy && sameLevel(from.Policy, eq.To.Level, from.Level) {
			return eq.From.Level, true
		}
	}
	return "", false
}

func sameLevel(policy, a, b string) bool {
	s, ok := LookupScheme(policy)
	if !ok {
		return false
	}
	ra, oka := s.Rank(a)
	rb, okb := s.Rank(b)
	return oka && okb && ra == rb
}

// Roller rolls labels up with a given view of communities and
// equivalences. The zero Roller uses KnownCommunities and no equivalences.
type Roller struct {
	// Communities expands community codes; nil means KnownCommunities().
	Communities Expander
	// Equivalences relates levels of different policies; nil means that
	// parts classified under different policies cannot be combined.
	Equivalences Mapper
}

// RollUp combines labels with the zero Roller.
func RollUp(parts ...tearline.Label) (tearline.Label, error) {
	return Roller{}.RollUp(parts...)
}

// RollUp returns the label of a whole made of parts labelled parts (a
// bundle, a report, a derived product), by the rules of ADatP-4774.1 and the
// ISM banner:
//
//   - classification: the highest. Parts under different policies are first
//     mapped to a common one with Equivalences, trying the policies in the
//     order the parts give them; with no common policy the result is an
//     error (rule classification-policies-unordered).
//   - restrictive and informative categories, NOFORN, ORCON, FOUO (kept only
//     on an unclassified result), handling codes, originators, personal data:
//     the union.
//   - expanding permissive categories (REL TO, with EYES ONLY read as REL
//     TO): the intersection over the classified parts, communities expanded
//     to their members first; a classified part without the category counts
//     as releasable to no one by it. RELIDO stays only if every classified
//     part has it. DISPLAY ONLY keeps those every classified part may show
//     it to (its DISPLAY ONLY or release list) and who are not in the
//     release list. NOFORN in the result removes REL TO, EYES ONLY, DISPLAY
//     ONLY and RELIDO.
//   - narrowing permissive categories ("Only"): the intersection over the
//     parts that have them; a part without one counts as all values.
//   - TLP, PAP and each IEP field: the strictest; purposes: the
//     intersection over the parts that restrict them; expiry, retention and
//     review dates: the earliest; grading: kept only if every part has the
//     same; successor: none.
//
// Errors: an invalid part gives its *RuleError (tearline.ErrInvalid).
// Parts that cannot be combined mechanically give a *RuleError wrapping
// ErrNeedsPerson. A category (or the purposes) left empty gives an
// *EmptyReleaseError (ErrEmptyRelease and ErrNeedsPerson) together with the
// rolled-up label, so the person deciding can see it; that label MUST NOT
// be applied without their decision.
func (r Roller) RollUp(parts ...tearline.Label) (tearline.Label, error) {
	if len(parts) == 0 {
		return tearline.Label{}, needsPerson("no-parts", "there are no labels to combine")
	}
	ps := make([]tearline.Label, len(parts))
	for i, p := range parts {
		if err := Validate(p); err != nil {
			return tearline.Label{}, fmt.Errorf("part %d: %w", i, err)
		}
		ps[i] = Normalize(p)
	}
	x := r.Communities
	if x == nil {
		x = KnownCommunities()
	}
	u := rollup{parts: ps, x: x}
	for _, p := range ps {
		if p.Policy != "" {
			u.classified = append(u.classified, p)
		}
	}

	var out tearline.Label
	var err error
	if out.Policy, out.Classification, err = r.classification(ps); err != nil {
		return tearline.Label{}, err
	}
	if err := u.categories(&out); err != nil {
		return tearline.Label{}, err
	}
	u.controls(&out)
	u.handling(&out)
	if err := u.protocols(&out); err != nil {
		return tearline.Label{}, err
	}
	if err := u.rest(&out); err != nil {
		return tearline.Label{}, err
	}

	out = Normalize(out)
	// Check the result without the emptied categories, which cannot be
	// valid and are reported below.
	check := out
	check.Categories = slices.DeleteFunc(slices.Clone(out.Categories), func(c tearline.Category) bool { return len(c.Values) == 0 })
	if err := Validate(check); err != nil {
		return tearline.Label{}, fmt.Errorf("rolled-up label: %w", err)
	}
	if len(u.emptied) > 0 {
		return out, &EmptyReleaseError{Categories: u.emptied}
	}
	return out, nil
}

// classification returns the highest classification of the parts, in the
// first policy that every classified part maps to.
func (r Roller) classification(parts []tearline.Label) (policy, level string, err error) {
	var policies []string
	for _, p := range parts {
		if p.Policy != "" && !slices.Contains(policies, p.Policy) {
			policies = append(policies, p.Policy)
		}
	}
	if len(policies) == 0 {
		return "", "", nil
	}
target:
	for _, target := range policies {
		s, _ := LookupScheme(target)
		best := -1
		for _, p := range parts {
			if p.Policy == "" {
				continue
			}
			lvl := p.Classification
			if p.Policy != target {
				if r.Equivalences == nil {
					continue target
				}
				m, ok := r.Equivalences.Equivalent(tearline.Classification{Policy: p.Policy, Level: p.Classification}, target)
				if !ok {
					continue target
				}
				lvl = m
			}
			rank, ok := s.Rank(lvl)
			if !ok {
				continue target
			}
			best = max(best, rank)
		}
		return target, s.Scale[best].Name, nil
	}
	return "", "", needsPerson("classification-policies-unordered",
		"the parts are classified under %s, and no equivalence maps them all to one of these policies", strings.Join(policies, ", "))
}

// rollup holds the state of one roll-up.
type rollup struct {
	parts      []tearline.Label // normalised
	classified []tearline.Label // the parts with a policy
	x          Expander
	emptied    []string // permissive categories left with no value
}

func (u *rollup) categories(out *tearline.Label) error {
	// Every category name, with its type, in order of appearance.
	var kinds []tearline.Category
	for _, p := range u.parts {
		for _, c := range p.Categories {
			i := slices.IndexFunc(kinds, func(k tearline.Category) bool { return k.Name == c.Name })
			if i < 0 {
				kinds = append(kinds, tearline.Category{Type: c.Type, Name: c.Name, Narrowing: c.Narrowing})
				continue
			}
			if kinds[i].Type != c.Type || kinds[i].Narrowing != c.Narrowing {
				return needsPerson("category-types-differ", "category %q is %s in one part and %s in another",
					c.Name, categoryKind(kinds[i]), categoryKind(c))
			}
		}
	}
	for _, k := range kinds {
		switch {
		case k.Name == tearline.CategoryRelTo:
			// With EYES ONLY, in controls.
		case k.Type == tearline.Permissive && k.Narrowing:
			var lists [][]string
			for _, p := range u.parts {
				if vals, ok := categoryValues(p, k.Name); ok {
					lists = append(lists, vals)
				}
			}
			u.addPermissive(out, k, u.intersect(lists))
		case k.Type == tearline.Permissive:
			var lists [][]string
			for _, p := range u.classified {
				vals, _ := categoryValues(p, k.Name)
				lists = append(lists, vals)
			}
			u.addPermissive(out, k, u.intersect(lists))
		default:
			c := tearline.Category{Type: k.Type, Name: k.Name}
			for _, p := range u.parts {
				vals, _ := categoryValues(p, k.Name)
				c.Values = append(c.Values, vals...)
			}
			out.Categories = append(out.Categories, c)
		}
	}
	return nil
}

func (u *rollup) addPermissive(out *tearline.Label, k tearline.Category, values []string) {
	if len(values) == 0 {
		u.emptied = append(u.emptied, k.Name)
		values = []string{}
	}
	out.Categories = append(out.Categories, tearline.Category{Type: k.Type, Name: k.Name, Narrowing: k.Narrowing, Values: values})
}

func categoryKind(c tearline.Category) string {
	switch {
	case c.Type == tearline.Restrictive:
		return "restrictive"
	case c.Type == tearline.Permissive && c.Narrowing:
		return "narrowing"
	case c.Type == tearline.Permissive:
		return "permissive"
	}
	return "informative"
}

func categoryValues(l tearline.Label, name string) ([]string, bool) {
	for _, c := range l.Categories {
		if c.Name == name {
			return c.Values, true
		}
	}
	return nil, false
}

// controls combines the ISM dissemination controls and the release lists.
func (u *rollup) controls(out *tearline.Label) {
	for _, p := range u.parts {
		out.NoForn = out.NoForn || p.NoForn
		out.ORCON = out.ORCON || p.ORCON
		out.FOUO = out.FOUO || p.FOUO
	}
	if out.FOUO && out.Policy != "" {
		if s, _ := LookupScheme(out.Policy); !s.Unclassified(out.Classification) {
			out.FOUO = false // FOUO marks unclassified information only
		}
	}
	if out.NoForn || len(u.classified) == 0 {
		return
	}
	out.RelIDO = true
	var release, display [][]string
	anyRelease, anyEyes, anyDisplay := false, false, false
	for _, p := range u.classified {
		out.RelIDO = out.RelIDO && p.RelIDO
		rel, hasRel := categoryValues(p, tearline.CategoryRelTo)
		rel = append(slices.Clone(rel), p.EyesOnly...)
		anyRelease = anyRelease || hasRel || len(p.EyesOnly) > 0
		anyEyes = anyEyes || len(p.EyesOnly) > 0
		anyDisplay = anyDisplay || len(p.DisplayOnly) > 0
		release = append(release, rel)
		display = append(display, append(slices.Clone(rel), p.DisplayOnly...))
	}
	var rel []string
	if anyRelease {
		rel = u.intersect(release)
		switch {
		case len(rel) == 0:
			u.addPermissive(out, tearline.Category{Type: tearline.Permissive, Name: tearline.CategoryRelTo}, nil)
		case anyEyes:
			out.EyesOnly = rel
		default:
			out.Categories = append(out.Categories, tearline.Category{Type: tearline.Permissive, Name: tearline.CategoryRelTo, Values: rel})
		}
	}
	if anyDisplay {
		released := u.expand(rel)
		for _, c := range u.intersect(display) {
			if !released[c] {
				out.DisplayOnly = append(out.DisplayOnly, c)
			}
		}
	}
	if len(out.DisplayOnly) > 0 {
		out.RelIDO = false // DISPLAY ONLY is the stricter of the two
	}
}

// expand returns codes with every community among them expanded to its
// members, recursively.
func (u *rollup) expand(codes []string) map[string]bool {
	set := map[string]bool{}
	var visit func(c string)
	visit = func(c string) {
		if set[c] {
			return
		}
		set[c] = true
		for _, m := range u.x.Members(c) {
			visit(strings.ToUpper(m))
		}
	}
	for _, c := range codes {
		visit(c)
	}
	return set
}

// intersect returns the codes in every list once communities are expanded,
// written compactly: a community that every list includes stands for its
// members.
func (u *rollup) intersect(lists [][]string) []string {
	if len(lists) == 0 {
		return nil
	}
	sets := make([]map[string]bool, len(lists))
	for i, l := range lists {
		sets[i] = u.expand(l)
	}
	var common []string
	for c := range sets[0] {
		in := true
		for _, s := range sets[1:] {
			in = in && s[c]
		}
		if in {
			common = append(common, c)
		}
	}
	// Drop what a kept community covers, unless every list names it
	// (REL TO USA, FVEY stays so) or membership loops back.
	covered := map[string]bool{}
	for _, c := range common {
		if len(u.x.Members(c)) == 0 {
			continue
		}
		for m := range u.expand([]string{c}) {
			if m != c && !u.expand([]string{m})[c] && !inEvery(lists, m) {
				covered[m] = true
			}
		}
	}
	out := slices.DeleteFunc(common, func(c string) bool { return covered[c] })
	SortCodes(out)
	return out
}

func inEvery(lists [][]string, code string) bool {
	for _, l := range lists {
		if !slices.Contains(l, code) {
			return false
		}
	}
	return true
}

func (u *rollup) handling(out *tearline.Label) {
	var texts []string
	for _, p := range u.parts {
		out.Handling = append(out.Handling, p.Handling...)
		if p.H3Text != "" && !slices.Contains(texts, p.H3Text) {
			texts = append(texts, p.H3Text)
		}
		out.Originators = append(out.Originators, p.Originators...)
	}
	out.H3Text = strings.Join(texts, "; ")
}

// protocols takes the strictest TLP, PAP and IEP fields.
func (u *rollup) protocols(out *tearline.Label) error {
	for _, p := range u.parts {
		out.TLP = max(out.TLP, p.TLP)
		out.PAP = max(out.PAP, p.PAP)
		if p.IEP == nil {
			continue
		}
		if out.IEP == nil {
			iep := *p.IEP
			out.IEP = &iep
			continue
		}
		a, b := out.IEP, p.IEP
		if a.EncryptInTransit != "must" && b.EncryptInTransit != "" {
			a.EncryptInTransit = b.EncryptInTransit
		}
		if b.PermittedActions != "" && (a.PermittedActions == "" ||
			slices.Index(permittedActions, b.PermittedActions) < slices.Index(permittedActions, a.PermittedActions)) {
			a.PermittedActions = b.PermittedActions
		}
		a.AffectedPartyNotify = a.AffectedPartyNotify && b.AffectedPartyNotify
		a.TLP = max(a.TLP, b.TLP)
		a.Attribution = a.Attribution || b.Attribution
		a.NoAttribution = a.NoAttribution || b.NoAttribution
		a.UnmodifiedResale = a.UnmodifiedResale && b.UnmodifiedResale
		if b.StartDate.After(a.StartDate) {
			a.StartDate = b.StartDate
		}
		a.EndDate = earliest(a.EndDate, b.EndDate)
	}
	if out.IEP != nil {
		if out.IEP.Attribution && out.IEP.NoAttribution {
			return needsPerson("iep-attribution", "one part's IEP policy requires naming the provider and another's forbids it")
		}
		if out.IEP.TLP != tearline.TLPNone && out.TLP != tearline.TLPNone {
			t := max(out.IEP.TLP, out.TLP)
			out.IEP.TLP, out.TLP = t, t
		}
	}
	return nil
}

// rest combines purposes, personal data, dates, grading and exercise.
func (u *rollup) rest(out *tearline.Label) error {
	restricted := false
	for _, p := range u.parts {
		if len(p.Purposes) == 0 {
			continue
		}
		if !restricted {
			out.Purposes, restricted = slices.Clone(p.Purposes), true
			continue
		}
		out.Purposes = slices.DeleteFunc(out.Purposes, func(x string) bool { return !slices.Contains(p.Purposes, x) })
	}
	if restricted && len(out.Purposes) == 0 {
		u.emptied = append(u.emptied, "Purpose")
		out.Purposes = []string{NoPurpose}
	}

	graded := true
	for _, p := range u.parts {
		out.PersonalData = out.PersonalData || p.PersonalData
		if p.Regime != "" {
			if out.Regime != "" && out.Regime != p.Regime {
				return needsPerson("personal-data-regimes", "the parts hold personal data under %s and %s", out.Regime, p.Regime)
			}
			out.Regime = p.Regime
		}
		out.Expires = earliest(out.Expires, p.Expires)
		out.RetainUntil = earliest(out.RetainUntil, p.RetainUntil)
		out.ReviewBy = earliest(out.ReviewBy, p.ReviewBy)
		if p.Exercise != "" {
			if out.Exercise != "" && out.Exercise != p.Exercise {
				return needsPerson("exercise-mixed", "the parts belong to exercises %q and %q", out.Exercise, p.Exercise)
			}
			out.Exercise = p.Exercise
		}
		graded = graded && p.Reliability == u.parts[0].Reliability && p.Credibility == u.parts[0].Credibility
	}
	if graded {
		out.Reliability, out.Credibility = u.parts[0].Reliability, u.parts[0].Credibility
	}
	return nil
}

// earliest returns the earlier of two times, a zero time meaning none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}
