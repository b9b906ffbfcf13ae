package analytics

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strings"
	"unicode"
)

// Entity is a threat actor, intrusion set or malware as a viewer sees it.
type Entity struct {
	Object     string   `json:"object"`
	Type       string   `json:"type"`
	Name       string   `json:"name"`
	Aliases    []string `json:"aliases,omitempty"`
	Originator string   `json:"originator"`
	Label      string   `json:"label"`
}

// Suggestion proposes that two entities reported by different partners
// may be the same, with the evidence. It is for an analyst to confirm or
// reject: the corpus never merges entities.
type Suggestion struct {
	A Entity `json:"a"`
	B Entity `json:"b"`
	// Shared counts the observables that indicators of both entities
	// report (through visible "indicates" relationships), and
	// SharedObservables lists the first MaxSharedShown of them.
	Shared            int          `json:"shared"`
	SharedObservables []Observable `json:"shared_observables,omitempty"`
	// Overlap is Shared over the smaller entity's observable count.
	Overlap float64 `json:"observable_overlap"`
	// NameSimilarity is the best Jaro-Winkler similarity between a name or
	// alias of A and one of B, after normalisation (see NormaliseName);
	// Names are that pair as the partners wrote them.
	NameSimilarity float64   `json:"name_similarity"`
	Names          [2]string `json:"names"`
	// Score combines the two (see Suggestions), from 0 to 1.
	Score float64 `json:"score"`
	// Evidence says in words why the pair is suggested.
	Evidence []string `json:"evidence"`
}

// MaxSharedShown bounds Suggestion.SharedObservables.
const MaxSharedShown = 20

// ResolveOptions tune Suggestions; zero fields take the defaults.
type ResolveOptions struct {
	// MinScore is the lowest score suggested; default 0.5.
	MinScore float64
	// MinNameSimilarity is the name similarity below which names count
	// for nothing; default 0.88, which "Fancy Bear" and "Fancy Bears"
	// pass and "Sandworm" and "Sandman" do not.
	MinNameSimilarity float64
}

// maxEntitiesPerKey keeps one observable or name fragment shared by very
// many entities (a sinkhole address, the trigram "gro") from turning the
// candidate search into a comparison of every pair.
const maxEntitiesPerKey = 200

// Suggestions returns the pairs of visible entities (threat actors,
// intrusion sets, malware) from different originators that may be the
// same, best first. Threat actors and intrusion sets are compared with
// each other (partners model groups either way); malware only with
// malware. The evidence is the observables their visible indicators share
// and the similarity of their names and aliases:
//
//	O = (shared / min(|A|, |B|)) × (1 - 2^-shared)    observable evidence
//	N = name similarity, or 0 below MinNameSimilarity
//	score = 1 - (1 - O)(1 - N)
//
// The factor 1 - 2^-shared halves the weight of a single shared value (a
// shared hosting address is weak evidence) and approaches 1 as more are
// shared. Only pairs that share an observable or a name fragment are
// compared, so the cost grows with the candidates, not with the square of
// the entities.
func (c *Corpus) Suggestions(v *View, opts ResolveOptions) ([]Suggestion, error) {
	if v == nil || v.c != c {
		return nil, ErrNoDecider
	}
	if opts.MinScore == 0 {
		opts.MinScore = 0.5
	}
	if opts.MinNameSimilarity == 0 {
		opts.MinNameSimilarity = 0.88
	}
	c.mu.RLock()
	defer c.mu.RUnlock()
	vis := v.visibility()

	type entity struct {
		e     Entity
		names []string // normalised, parallel to raw
		raw   []string
		obs   map[Observable]bool
	}
	var ents []entity
	for n := range c.entities {
		if !vis(n) {
			continue
		}
		d := &c.docs[n]
		en := entity{e: Entity{Object: d.id, Type: d.typ, Name: d.name, Aliases: d.aliases, Originator: c.originatorOfDoc(d)}, obs: map[Observable]bool{}}
		if cl := c.class(d.class); cl != nil {
			en.e.Label = cl.banner
		}
		for _, raw := range append([]string{d.name}, d.aliases...) {
			if nn := NormaliseName(raw); nn != "" && !slices.Contains(en.names, nn) {
				en.names = append(en.names, nn)
				en.raw = append(en.raw, raw)
			}
		}
		for _, r := range c.links[d.id] {
			rd := &c.docs[r]
			if !vis(r) || rd.relType != "indicates" || rd.target != d.id {
				continue
			}
			src, ok := c.byID[rd.source]
			if !ok || !vis(src) || c.docs[src].typ != "indicator" || !c.docs[src].indexed {
				continue
			}
			obs, err := c.ix.Observables(src, vis)
			if err != nil {
				continue
			}
			for _, o := range obs {
				en.obs[o] = true
			}
		}
		ents = append(ents, en)
	}
	slices.SortFunc(ents, func(a, b entity) int { return cmp.Compare(a.e.Object, b.e.Object) })

	type pair struct{ i, j int }
	cand := map[pair]bool{}
	addPairs := func(members []int) {
		if len(members) < 2 || len(members) > maxEntitiesPerKey {
			return
		}
		for x := 0; x < len(members); x++ {
			for y := x + 1; y < len(members); y++ {
				cand[pair{members[x], members[y]}] = true
			}
		}
	}
	byObs := map[Observable][]int{}
	byGram := map[string][]int{}
	for i, en := range ents {
		for o := range en.obs {
			byObs[o] = append(byObs[o], i)
		}
		var grams []string
		for _, nn := range en.names {
			for _, g := range trigrams(nn) {
				if !slices.Contains(grams, g) {
					grams = append(grams, g)
				}
			}
		}
		for _, g := range grams {
			byGram[g] = append(byGram[g], i)
		}
	}
	for _, m := range byObs {
		addPairs(m)
	}
	for _, m := range byGram {
		addPairs(m)
	}

	var out []Suggestion
	for p := range cand {
		a, b := &ents[p.i], &ents[p.j]
		if a.e.Originator == b.e.Originator || !comparableTypes(a.e.Type, b.e.Type) {
			continue
		}
		s := Suggestion{A: a.e, B: b.e}
		for o := range a.obs {
			if b.obs[o] {
				s.Shared++
				s.SharedObservables = append(s.SharedObservables, o)
			}
		}
		slices.SortFunc(s.SharedObservables, compareObservables)
		if len(s.SharedObservables) > MaxSharedShown {
			s.SharedObservables = s.SharedObservables[:MaxSharedShown]
		}
		obsScore := 0.0
		if s.Shared > 0 {
			s.Overlap = float64(s.Shared) / float64(min(len(a.obs), len(b.obs)))
			obsScore = s.Overlap * (1 - math.Exp2(-float64(s.Shared)))
		}
		for x, an := range a.names {
			for y, bn := range b.names {
				if sim := JaroWinkler(an, bn); sim > s.NameSimilarity {
					s.NameSimilarity, s.Names = sim, [2]string{a.raw[x], b.raw[y]}
				}
			}
		}
		nameScore := 0.0
		if s.NameSimilarity >= opts.MinNameSimilarity {
			nameScore = s.NameSimilarity
		}
		s.Score = round6(1 - (1-obsScore)*(1-nameScore))
		s.NameSimilarity, s.Overlap = round6(s.NameSimilarity), round6(s.Overlap)
		if s.Score < opts.MinScore {
			continue
		}
		if s.Shared > 0 {
			s.Evidence = append(s.Evidence, fmt.Sprintf("their indicators share %d observable(s): %d%% of the smaller set", s.Shared, int(math.Round(100*s.Overlap))))
		}
		if nameScore > 0 {
			s.Evidence = append(s.Evidence, fmt.Sprintf("names %q and %q are %.0f%% similar", s.Names[0], s.Names[1], 100*s.NameSimilarity))
		}
		out = append(out, s)
	}
	slices.SortFunc(out, func(x, y Suggestion) int {
		if c := cmp.Compare(y.Score, x.Score); c != 0 {
			return c
		}
		if c := cmp.Compare(x.A.Object, y.A.Object); c != 0 {
			return c
		}
		return cmp.Compare(x.B.Object, y.B.Object)
	})
	return out, nil
}

func comparableTypes(a, b string) bool {
	group := func(t string) string {
		if t == "intrusion-set" {
			return "threat-actor"
		}
		return t
	}
	return group(a) == group(b)
}

// nameStopWords are words that name the kind of thing rather than the
// thing: "Lazarus Group" and "Lazarus" are the same name.
var nameStopWords = map[string]bool{"the": true, "group": true, "team": true, "gang": true, "crew": true}

// NormaliseName reduces an entity name for comparison: lower case,
// letters and digits only, the words "the", "group", "team", "gang" and
// "crew" dropped (unless nothing else is left), so that "APT 28",
// "apt-28" and "The APT28 Group" all become "apt28".
func NormaliseName(s string) string {
	if len(s) > maxNameLen {
		s = s[:maxNameLen]
	}
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	var kept []string
	for _, w := range words {
		if !nameStopWords[w] {
			kept = append(kept, w)
		}
	}
	if len(kept) == 0 {
		kept = words
	}
	return strings.Join(kept, "")
}

func trigrams(s string) []string {
	r := []rune("$" + s + "$")
	var out []string
	for i := 0; i+3 <= len(r); i++ {
		out = append(out, string(r[i:i+3]))
	}
	return out
}

// JaroWinkler returns the Jaro-Winkler similarity of a and b, from 0 (no
// likeness) to 1 (equal), comparing characters (runes) with the usual
// prefix scale of 0.1 over at most four characters.
func JaroWinkler(a, b string) float64 {
	if a == b {
		return 1
	}
	ra, rb := []rune(a), []rune(b)
	if len(ra) == 0 || len(rb) == 0 {
		return 0
	}
	window := max(len(ra), len(rb))/2 - 1
	window = max(window, 0)
	ma := make([]bool, len(ra))
	mb := make([]bool, len(rb))
	matches := 0
	for i := range ra {
		lo, hi := max(0, i-window), min(len(rb), i+window+1)
		for j := lo; j < hi; j++ {
			if !mb[j] && ra[i] == rb[j] {
				ma[i], mb[j] = true, true
				matches++
				break
			}
		}
	}
	if matches == 0 {
		return 0
	}
	transpositions, k := 0, 0
	for i := range ra {
		if !ma[i] {
			continue
		}
		for !mb[k] {
			k++
		}
		if ra[i] != rb[k] {
			transpositions++
		}
		k++
	}
	m := float64(matches)
	jaro := (m/float64(len(ra)) + m/float64(len(rb)) + (m-float64(transpositions)/2)/m) / 3
	prefix := 0
	for prefix < min(4, len(ra), len(rb)) && ra[prefix] == rb[prefix] {
		prefix++
	}
	return jaro + float64(prefix)*0.1*(1-jaro)
}
