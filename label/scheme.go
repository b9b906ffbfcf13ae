package label

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/tearline/tearline"
)

// Scheme is a classification scheme: a policy identifier and its ordered
// levels, each with its national name and the aliases people write.
//
// The built-in schemes (see builtinSchemes) cover NATO, the EU, the Five Eyes
// nations and a few European and Asian partners; RegisterScheme adds the
// custom schemes a node's config declares. A Scheme returned by
// LookupScheme is shared: callers MUST NOT modify it.
type Scheme struct {
	// Policy is the policy identifier carried in tearline.Label.Policy:
	// "NATO", "EU", or an ISO 3166 alpha-3 trigraph for a national scheme.
	// It is also the prefix a banner writes before a national level
	// ("GBR OFFICIAL-SENSITIVE").
	Policy string
	// Name says what the scheme is, for people.
	Name string
	// Prefixes are other prefixes a banner may use for the policy ("UK"
	// for GBR, "FR" for FRA). Banners are always written with Policy.
	Prefixes []string
	// Bare schemes are written without a prefix: their level names identify
	// them (NATO SECRET, SECRET UE/EU SECRET), or, for USA, the CAPCO
	// convention makes a bare level a US classification. Only built-in
	// schemes are bare.
	Bare bool
	// Scale lists the levels, lowest first.
	Scale []Level

	// index maps every normalised level name and alias to its rank; it is
	// built when the scheme is registered.
	index map[string]int
}

// Level is one classification level of a scheme.
type Level struct {
	// Name is the canonical name, in upper case as banners write it.
	Name string
	// Aliases are other names accepted for the level: abbreviations,
	// spellings without accents, names from before a reform.
	Aliases []string
	// Unclassified marks a level that is not a classification (US
	// UNCLASSIFIED, NATO UNCLASSIFIED): ORCON is not allowed on it and FOUO
	// is allowed only on it.
	Unclassified bool
}

// Rank returns the position of level in the scheme, 0 being the lowest. It
// accepts canonical names and aliases, in any case. An unknown level, or a
// nil scheme, is not ok: callers MUST treat that as a denial.
func (s *Scheme) Rank(level string) (int, bool) {
	if s == nil {
		return 0, false
	}
	if s.index != nil {
		if r, ok := s.index[level]; ok {
			return r, true
		}
		r, ok := s.index[normText(level)]
		return r, ok
	}
	key := normText(level)
	for i, l := range s.Scale {
		if normText(l.Name) == key {
			return i, true
		}
		for _, a := range l.Aliases {
			if normText(a) == key {
				return i, true
			}
		}
	}
	return 0, false
}

// Levels returns the canonical level names, lowest first.
func (s *Scheme) Levels() []string {
	if s == nil {
		return nil
	}
	names := make([]string, len(s.Scale))
	for i, l := range s.Scale {
		names[i] = l.Name
	}
	return names
}

// Canonical returns the canonical name of level (which may be an alias).
func (s *Scheme) Canonical(level string) (string, bool) {
	r, ok := s.Rank(level)
	if !ok {
		return "", false
	}
	return s.Scale[r].Name, true
}

// Unclassified reports whether level is a known level of the scheme that is
// marked unclassified.
func (s *Scheme) Unclassified(level string) bool {
	r, ok := s.Rank(level)
	return ok && s.Scale[r].Unclassified
}

// registry holds the schemes known to this process: the built-in ones and
// those registered from config.
var registry = struct {
	sync.RWMutex
	schemes  map[string]*Scheme // by Policy
	prefixes map[string]*Scheme // Policy and Prefixes, for banners
	bare     map[string]bareLevel
}{
	schemes:  map[string]*Scheme{},
	prefixes: map[string]*Scheme{},
	bare:     map[string]bareLevel{},
}

// bareLevel is a level of a bare scheme, found from its name alone.
type bareLevel struct {
	scheme *Scheme
	rank   int
}

func init() {
	for _, s := range builtinSchemes() {
		if err := register(s, true); err != nil {
			panic("label: built-in scheme " + s.Policy + ": " + err.Error())
		}
	}
}

// LookupScheme returns the scheme whose policy identifier is exactly policy.
// An unknown policy is not ok: callers MUST treat that as a denial.
func LookupScheme(policy string) (*Scheme, bool) {
	registry.RLock()
	defer registry.RUnlock()
	s, ok := registry.schemes[policy]
	return s, ok
}

// Schemes returns every known scheme, ordered by policy identifier.
func Schemes() []*Scheme {
	registry.RLock()
	defer registry.RUnlock()
	out := make([]*Scheme, 0, len(registry.schemes))
	for _, s := range registry.schemes {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Policy < out[j].Policy })
	return out
}

// RegisterScheme adds a custom classification scheme, as a node's config
// declares it. Level names are stored in upper case. It refuses (with an
// error wrapping tearline.ErrExists) to redefine a built-in scheme, or to
// give a registered policy a different definition; registering the same
// definition again is allowed. It refuses (tearline.ErrInvalid) a scheme
// whose policy, prefixes or level names are malformed, reserved, or clash
// with those of another scheme.
func RegisterScheme(s *Scheme) error {
	if s == nil {
		return fmt.Errorf("register scheme: nil scheme: %w", tearline.ErrInvalid)
	}
	return register(s, false)
}

func register(in *Scheme, builtin bool) error {
	s, err := prepare(in, builtin)
	if err != nil {
		return fmt.Errorf("register scheme %q: %w", in.Policy, err)
	}
	registry.Lock()
	defer registry.Unlock()
	if old, ok := registry.schemes[s.Policy]; ok {
		if _, isBuiltin := builtinPolicies[s.Policy]; isBuiltin && !builtin {
			return fmt.Errorf("register scheme %q: a built-in scheme cannot be redefined: %w", s.Policy, tearline.ErrExists)
		}
		if sameScheme(old, s) {
			return nil
		}
		return fmt.Errorf("register scheme %q: already registered with a different definition: %w", s.Policy, tearline.ErrExists)
	}
	for _, p := range append([]string{s.Policy}, s.Prefixes...) {
		if other, ok := registry.prefixes[p]; ok {
			return fmt.Errorf("register scheme %q: prefix %q is already used by %s: %w", s.Policy, p, other.Policy, tearline.ErrInvalid)
		}
	}
	if s.Bare {
		for key := range s.index {
			if other, ok := registry.bare[key]; ok {
				return fmt.Errorf("register scheme %q: level %q is already a level of %s: %w", s.Policy, key, other.scheme.Policy, tearline.ErrInvalid)
			}
		}
	}
	registry.schemes[s.Policy] = s
	for _, p := range append([]string{s.Policy}, s.Prefixes...) {
		registry.prefixes[p] = s
	}
	if s.Bare {
		for key, r := range s.index {
			registry.bare[key] = bareLevel{scheme: s, rank: r}
		}
	}
	return nil
}

// prepare checks a scheme and returns the copy to register, with its
// names normalised and its index built.
func prepare(in *Scheme, builtin bool) (*Scheme, error) {
	s := &Scheme{
		Policy:   in.Policy,
		Name:     strings.TrimSpace(in.Name),
		Prefixes: slices.Clone(in.Prefixes),
		Bare:     in.Bare,
		Scale:    make([]Level, len(in.Scale)),
		index:    map[string]int{},
	}
	if !validPolicyCode(s.Policy) {
		return nil, fmt.Errorf("policy must be 2 to 32 upper-case letters, digits or hyphens, starting with a letter: %w", tearline.ErrInvalid)
	}
	if s.Bare && !builtin {
		return nil, fmt.Errorf("only built-in schemes may be written without a prefix: %w", tearline.ErrInvalid)
	}
	for _, p := range append([]string{s.Policy}, s.Prefixes...) {
		if !validPolicyCode(p) {
			return nil, fmt.Errorf("prefix %q must be 2 to 32 upper-case letters, digits or hyphens: %w", p, tearline.ErrInvalid)
		}
		if _, reserved := reservedWords[p]; reserved {
			return nil, fmt.Errorf("%q is a banner keyword and cannot name a policy: %w", p, tearline.ErrInvalid)
		}
	}
	if s.Name == "" {
		return nil, fmt.Errorf("the scheme needs a name: %w", tearline.ErrInvalid)
	}
	if len(in.Scale) == 0 {
		return nil, fmt.Errorf("the scheme needs at least one level: %w", tearline.ErrInvalid)
	}
	for i, l := range in.Scale {
		out := Level{Name: normText(l.Name), Unclassified: l.Unclassified}
		for _, name := range append([]string{l.Name}, l.Aliases...) {
			key := normText(name)
			if msg := checkLevelName(key); msg != "" {
				return nil, fmt.Errorf("level %q: %s: %w", name, msg, tearline.ErrInvalid)
			}
			if r, dup := s.index[key]; dup {
				return nil, fmt.Errorf("level name %q is used twice (levels %d and %d): %w", name, r, i, tearline.ErrInvalid)
			}
			s.index[key] = i
			if name != l.Name {
				out.Aliases = append(out.Aliases, key)
			}
		}
		s.Scale[i] = out
	}
	return s, nil
}

func sameScheme(a, b *Scheme) bool {
	if a.Policy != b.Policy || a.Name != b.Name || a.Bare != b.Bare ||
		!slices.Equal(a.Prefixes, b.Prefixes) || len(a.Scale) != len(b.Scale) {
		return false
	}
	for i := range a.Scale {
		x, y := a.Scale[i], b.Scale[i]
		if x.Name != y.Name || x.Unclassified != y.Unclassified || !slices.Equal(x.Aliases, y.Aliases) {
			return false
		}
	}
	return true
}

// checkLevelName returns why a normalised level name cannot be used in a
// banner, or "".
func checkLevelName(s string) string {
	switch {
	case s == "":
		return "empty name"
	case strings.Contains(s, "//") || strings.HasPrefix(s, "/") || strings.HasSuffix(s, "/"):
		return `a level name cannot contain "//", the banner separator, nor start or end with "/"`
	case strings.ContainsAny(s, ","):
		return "a level name cannot contain a comma"
	case !printable(s):
		return "a level name cannot contain control characters"
	}
	return ""
}

func validPolicyCode(s string) bool {
	if len(s) < 2 || len(s) > 32 || s[0] < 'A' || s[0] > 'Z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// lookupPrefix returns the scheme a banner prefix (a policy or one of its
// prefixes) names.
func lookupPrefix(p string) (*Scheme, bool) {
	registry.RLock()
	defer registry.RUnlock()
	s, ok := registry.prefixes[p]
	return s, ok
}

// lookupBare finds a level of a bare scheme from its normalised name.
func lookupBare(name string) (*Scheme, int, bool) {
	registry.RLock()
	defer registry.RUnlock()
	b, ok := registry.bare[name]
	return b.scheme, b.rank, ok
}

// normText upper-cases s and collapses its runs of white space to single
// spaces, the form in which level names and keywords are compared.
func normText(s string) string {
	if collapsed(s) && !hasLower(s) {
		return s
	}
	return strings.Join(strings.Fields(strings.ToUpper(s)), " ")
}

func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			return true
		}
	}
	return false
}
