package policy

import "github.com/tearline/tearline/label"

// schemes answers what the engine and the agreement validator need to know
// about classification schemes. It is a dependency rather than direct calls
// into the label package so that tests can use small schemes of their own.
type schemes interface {
	// rank returns the rank of level in policy, 0 being the lowest, when
	// policy is a known scheme and level is one of its canonical level
	// names, spelled exactly: labels and agreements carry canonical names,
	// and anything else is unknown.
	rank(policy, level string) (int, bool)
	// levels returns the canonical levels of policy, lowest first, or nil
	// when the policy is unknown.
	levels(policy string) []string
	// unclassified reports whether level is a level of policy that is not
	// a classification (US UNCLASSIFIED, NATO UNCLASSIFIED).
	unclassified(policy, level string) bool
	// canonical returns the canonical name of a level written as people
	// write it (an alias, another case).
	canonical(policy, level string) (string, bool)
	// policies lists the known policies.
	policies() []string
}

// schemeTable is a snapshot of classification schemes, indexed for exact
// look-ups without locks.
type schemeTable map[string]*schemeEntry

type schemeEntry struct {
	scheme *label.Scheme
	levels []string
	rank   map[string]int
}

var _ schemes = schemeTable(nil)

func newSchemeTable(ss []*label.Scheme) schemeTable {
	t := make(schemeTable, len(ss))
	for _, s := range ss {
		e := &schemeEntry{scheme: s, levels: s.Levels(), rank: make(map[string]int, len(s.Scale))}
		for i, l := range e.levels {
			e.rank[l] = i
		}
		t[s.Policy] = e
	}
	return t
}

// defaultSchemes snapshots the label package's schemes: the built-in ones
// and those the node's config registered.
func defaultSchemes() schemes { return newSchemeTable(label.Schemes()) }

func (t schemeTable) rank(policy, level string) (int, bool) {
	e, ok := t[policy]
	if !ok {
		return 0, false
	}
	r, ok := e.rank[level]
	return r, ok
}

func (t schemeTable) levels(policy string) []string {
	if e, ok := t[policy]; ok {
		return e.levels
	}
	return nil
}

func (t schemeTable) unclassified(policy, level string) bool {
	e, ok := t[policy]
	if !ok {
		return false
	}
	r, ok := e.rank[level]
	return ok && e.scheme.Scale[r].Unclassified
}

func (t schemeTable) policies() []string {
	ps := make([]string, 0, len(t))
	for p := range t {
		ps = append(ps, p)
	}
	return ps
}

func (t schemeTable) canonical(policy, level string) (string, bool) {
	e, ok := t[policy]
	if !ok {
		return "", false
	}
	return e.scheme.Canonical(level)
}
