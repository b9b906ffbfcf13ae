package policy

import (
	"fmt"
	"slices"
	"time"

	"github.com/tearline/tearline"
)

// Registry holds the partners and communities a node knows. A code that is
// not in the registry is unknown, and an unknown code never matches
// anything: it grants no releasability, covers no agreement party and
// expands to nobody.
//
// A Registry is built once (NewRegistry, Builtin, then Add calls) and then
// shared read-only; it is not safe for concurrent modification. An Engine
// compiles a snapshot of it, so changes after NewEngine need a new Engine.
type Registry struct {
	partners    map[string]tearline.Partner
	communities map[string]tearline.Community
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry {
	return &Registry{
		partners:    make(map[string]tearline.Partner),
		communities: make(map[string]tearline.Community),
	}
}

// AddPartner adds a partner. Its code must be well formed and not already
// used by a partner or a community. A nation's Nationality is its own code;
// an organisation without one is nobody's national (NOFORN never matches it).
func (r *Registry) AddPartner(p tearline.Partner) error {
	if !validCode(p.Code) {
		return fmt.Errorf("partner %q: code must be 2 to 32 upper-case letters, digits, '-' or '_', starting with a letter: %w", p.Code, tearline.ErrInvalid)
	}
	if r.Known(p.Code) {
		return fmt.Errorf("partner %s: %w", p.Code, tearline.ErrExists)
	}
	if p.Nationality != "" && !validCode(p.Nationality) {
		return fmt.Errorf("partner %s: nationality %q is not a code: %w", p.Code, p.Nationality, tearline.ErrInvalid)
	}
	r.partners[p.Code] = p
	return nil
}

// AddCommunity adds a community. Its code must be well formed and unused,
// every member must be a known partner, and each membership interval must
// end after it starts; a partner may have several intervals (it left and
// rejoined) but they must not overlap.
func (r *Registry) AddCommunity(c tearline.Community) error {
	if !validCode(c.Code) {
		return fmt.Errorf("community %q: code must be 2 to 32 upper-case letters, digits, '-' or '_', starting with a letter: %w", c.Code, tearline.ErrInvalid)
	}
	if r.Known(c.Code) {
		return fmt.Errorf("community %s: %w", c.Code, tearline.ErrExists)
	}
	byPartner := make(map[string][]tearline.Membership)
	for i, m := range c.Members {
		if _, ok := r.partners[m.Partner]; !ok {
			return fmt.Errorf("community %s: member %d: %q is not a known partner; add it first: %w", c.Code, i, m.Partner, tearline.ErrInvalid)
		}
		if !m.Until.IsZero() && !m.Until.After(m.From) {
			return fmt.Errorf("community %s: member %s: membership ends (%s) before it starts (%s): %w",
				c.Code, m.Partner, day(m.Until), day(m.From), tearline.ErrInvalid)
		}
		for _, o := range byPartner[m.Partner] {
			if overlap(o, m) {
				return fmt.Errorf("community %s: member %s: membership intervals overlap: %w", c.Code, m.Partner, tearline.ErrInvalid)
			}
		}
		byPartner[m.Partner] = append(byPartner[m.Partner], m)
	}
	c.Members = slices.Clone(c.Members)
	r.communities[c.Code] = c
	return nil
}

func overlap(a, b tearline.Membership) bool {
	// Each interval is [From, Until) with a zero Until meaning open-ended.
	aEndsBeforeB := !a.Until.IsZero() && !a.Until.After(b.From)
	bEndsBeforeA := !b.Until.IsZero() && !b.Until.After(a.From)
	return !aEndsBeforeB && !bEndsBeforeA
}

// Partner returns the partner with the given code.
func (r *Registry) Partner(code string) (tearline.Partner, bool) {
	p, ok := r.partners[code]
	return p, ok
}

// Community returns the community with the given code.
func (r *Registry) Community(code string) (tearline.Community, bool) {
	c, ok := r.communities[code]
	if ok {
		c.Members = slices.Clone(c.Members)
	}
	return c, ok
}

// Known reports whether code names a partner or a community.
func (r *Registry) Known(code string) bool {
	_, p := r.partners[code]
	_, c := r.communities[code]
	return p || c
}

// Partners returns every partner, sorted by code.
func (r *Registry) Partners() []tearline.Partner {
	ps := make([]tearline.Partner, 0, len(r.partners))
	for _, p := range r.partners {
		ps = append(ps, p)
	}
	slices.SortFunc(ps, func(a, b tearline.Partner) int { return compareStrings(a.Code, b.Code) })
	return ps
}

// Communities returns every community, sorted by code.
func (r *Registry) Communities() []tearline.Community {
	cs := make([]tearline.Community, 0, len(r.communities))
	for _, c := range r.communities {
		c.Members = slices.Clone(c.Members)
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b tearline.Community) int { return compareStrings(a.Code, b.Code) })
	return cs
}

// MemberAt reports whether partner is covered by code at t: code is the
// partner itself, or a community the partner is a member of at t. Unknown
// codes, and communities used as the partner, are never covered.
func (r *Registry) MemberAt(partner, code string, t time.Time) bool {
	if _, ok := r.partners[partner]; !ok {
		return false
	}
	if code == partner {
		return true
	}
	c, ok := r.communities[code]
	if !ok {
		return false
	}
	for _, m := range c.Members {
		if m.Partner == partner && m.Member(t) {
			return true
		}
	}
	return false
}

// Expand returns the partners that code stands for at t, sorted: a partner
// code expands to itself, a community to its members at t, an unknown
// code to nothing.
func (r *Registry) Expand(code string, t time.Time) []string {
	if _, ok := r.partners[code]; ok {
		return []string{code}
	}
	c, ok := r.communities[code]
	if !ok {
		return nil
	}
	var out []string
	for _, m := range c.Members {
		if m.Member(t) && !slices.Contains(out, m.Partner) {
			out = append(out, m.Partner)
		}
	}
	slices.Sort(out)
	return out
}

// Nationality returns the nationality of a known partner. It returns "" for
// an unknown partner or an organisation with no nationality, which is
// nobody's national.
func (r *Registry) Nationality(code string) string {
	p, ok := r.partners[code]
	if !ok {
		return ""
	}
	return p.Nationality
}

func validCode(s string) bool {
	if len(s) < 2 || len(s) > 32 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func day(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// Builtin returns a registry with the built-in partners and communities:
// the NATO nations, Australia, New Zealand and Japan, the organisations
// EUROPOL and INTERPOL, and the communities FVEY, ACGU, TEYE and NATO.
//
// NATO membership carries each nation's real accession date, so that the
// membership-epoch rule holds: material created before a nation joined is
// not releasable to it by virtue of REL TO NATO. The founders are dated
// 4 April 1949, the signature of the North Atlantic Treaty (it entered
// into force on 24 August 1949). FVEY, ACGU and TEYE are marking
// tetragraphs whose membership predates any material a node holds; they
// carry no start date.
func Builtin() *Registry {
	r := NewRegistry()
	for _, n := range builtinNations {
		must(r.AddPartner(tearline.Partner{Code: n.code, Name: n.name, Nationality: n.code, OrgType: "nation"}))
	}
	must(r.AddPartner(tearline.Partner{Code: "EUROPOL", Name: "European Union Agency for Law Enforcement Cooperation", OrgType: "international-organisation"}))
	must(r.AddPartner(tearline.Partner{Code: "INTERPOL", Name: "International Criminal Police Organization", OrgType: "international-organisation"}))

	always := func(codes ...string) []tearline.Membership {
		ms := make([]tearline.Membership, len(codes))
		for i, c := range codes {
			ms[i] = tearline.Membership{Partner: c}
		}
		return ms
	}
	must(r.AddCommunity(tearline.Community{Code: "FVEY", Name: "Five Eyes", Members: always("USA", "GBR", "CAN", "AUS", "NZL")}))
	must(r.AddCommunity(tearline.Community{Code: "ACGU", Name: "Australia, Canada, Great Britain, United States", Members: always("USA", "GBR", "CAN", "AUS")}))
	must(r.AddCommunity(tearline.Community{Code: "TEYE", Name: "Three Eyes", Members: always("USA", "GBR", "CAN")}))

	var nato []tearline.Membership
	for _, n := range builtinNations {
		if n.nato != "" {
			from, err := time.Parse(time.DateOnly, n.nato)
			must(err)
			nato = append(nato, tearline.Membership{Partner: n.code, From: from})
		}
	}
	must(r.AddCommunity(tearline.Community{Code: "NATO", Name: "North Atlantic Treaty Organization", Members: nato}))
	return r
}

func must(err error) {
	if err != nil {
		panic("policy: built-in registry: " + err.Error())
	}
}

// builtinNations: ISO 3166 alpha-3 code, name, and NATO accession date.
var builtinNations = []struct{ code, name, nato string }{
	{"BEL", "Belgium", "1949-04-04"},
	{"CAN", "Canada", "1949-04-04"},
	{"DNK", "Denmark", "1949-04-04"},
	{"FRA", "France", "1949-04-04"},
	{"ISL", "Iceland", "1949-04-04"},
	{"ITA", "Italy", "1949-04-04"},
	{"LUX", "Luxembourg", "1949-04-04"},
	{"NLD", "Netherlands", "1949-04-04"},
	{"NOR", "Norway", "1949-04-04"},
	{"PRT", "Portugal", "1949-04-04"},
	{"GBR", "United Kingdom", "1949-04-04"},
	{"USA", "United States", "1949-04-04"},
	{"GRC", "Greece", "1952-02-18"},
	{"TUR", "Türkiye", "1952-02-18"},
	{"DEU", "Germany", "1955-05-06"},
	{"ESP", "Spain", "1982-05-30"},
	{"CZE", "Czechia", "1999-03-12"},
	{"HUN", "Hungary", "1999-03-12"},
	{"POL", "Poland", "1999-03-12"},
	{"BGR", "Bulgaria", "2004-03-29"},
	{"EST", "Estonia", "2004-03-29"},
	{"LVA", "Latvia", "2004-03-29"},
	{"LTU", "Lithuania", "2004-03-29"},
	{"ROU", "Romania", "2004-03-29"},
	{"SVK", "Slovakia", "2004-03-29"},
	{"SVN", "Slovenia", "2004-03-29"},
	{"ALB", "Albania", "2009-04-01"},
	{"HRV", "Croatia", "2009-04-01"},
	{"MNE", "Montenegro", "2017-06-05"},
	{"MKD", "North Macedonia", "2020-03-27"},
	{"FIN", "Finland", "2023-04-04"},
	{"SWE", "Sweden", "2024-03-07"},
	{"AUS", "Australia", ""},
	{"NZL", "New Zealand", ""},
	{"JPN", "Japan", ""},
}
