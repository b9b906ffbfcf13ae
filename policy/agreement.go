package policy

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/tearline/tearline"
)

// Agreement files
//
// An agreement is written as one YAML document (see examples/ and
// agreement.schema.json):
//
//	id: fvey-cti                  # required; letters, digits, '.', '_', '-'
//	version: 3                    # required; a whole number from 1
//	title: Five Eyes CTI sharing  # required
//	parties: [USA, GBR, CAN, AUS, NZL]   # partner or community codes
//	valid_from: 2024-01-01        # required; a date or an RFC 3339 time (UTC)
//	valid_until: 2029-01-01       # optional; absent: open-ended
//	review_by: 2026-01-01         # optional
//	scope:                        # optional; absent or empty lists: everything
//	  types: [indicator, report]  #   STIX object types
//	  topics: [cyber]             #   every topic of an object must be listed
//	ceilings:                     # required; highest level per policy
//	  USA: TOP SECRET
//	  GBR: TOP SECRET
//	equivalences:                 # optional; each row lists equal levels
//	  - {GBR: SECRET, FRA: SECRET}
//	third_party_rule: true        # required: say true or false
//	purposes: [counter-terrorism] # optional; absent: any purpose
//	retention: 5y                 # optional; <n>h, <n>d, <n>w, <n>y (365 days)
//	personal_data_regimes: [LED]  # optional; absent: no personal data
//	onward_approvers: [releasing-officer]   # optional
//
// Unknown keys, anchors, aliases, tags and multiple documents are
// rejected: an agreement is a legal text, and what it says must be exactly
// what is written.

// Problem is one thing wrong with an agreement.
type Problem struct {
	// Line is the line in the YAML text, from 1; 0 when the agreement was
	// not read from text.
	Line int
	// Field is where in the agreement: "valid_until", "ceilings.USA",
	// "parties[2]", "equivalences[0].FRA".
	Field string
	// Msg says what is wrong and what to do about it.
	Msg string
}

func (p Problem) String() string {
	var b strings.Builder
	if p.Line > 0 {
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Field != "" {
		b.WriteString(p.Field)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// AgreementError lists the problems that make an agreement unusable. It
// wraps tearline.ErrInvalid.
type AgreementError struct {
	// ID is the agreement's id when it could be read.
	ID       string
	Problems []Problem
}

func (e *AgreementError) Error() string {
	var b strings.Builder
	b.WriteString("agreement")
	if e.ID != "" {
		fmt.Fprintf(&b, " %s", e.ID)
	}
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.String())
	}
	return b.String()
}

// Unwrap lets callers test for tearline.ErrInvalid.
func (e *AgreementError) Unwrap() error { return tearline.ErrInvalid }

// agreementKeys are the keys of an agreement file, in the order the format
// documents them.
var agreementKeys = []string{
	"id", "version", "title", "parties", "valid_from", "valid_until", "review_by", "scope",
	"ceilings", "equivalences", "third_party_rule", "purposes", "retention",
	"personal_data_regimes", "onward_approvers",
}

// maxAgreementSize bounds what ParseAgreement reads; real agreements are a
// few kilobytes.
const maxAgreementSize = 1 << 20

// ParseAgreement reads an agreement from its YAML text and checks
// everything that does not need the registry: required fields, formats,
// dates in order, and that every policy and level in the ceilings and the
// equivalence table is a known classification. Check the parties with
// ValidateAgreement before using it. Errors are *AgreementError, with the
// line of each problem.
func ParseAgreement(data []byte) (tearline.Agreement, error) {
	return parseAgreement(data, defaultSchemes())
}

func parseAgreement(data []byte, sch schemes) (tearline.Agreement, error) {
	r := &reader{sch: sch}
	a := r.read(data)
	if len(r.problems) == 0 {
		r.problems = append(r.problems, checkAgreement(&a, sch, &r.loc)...)
	}
	if len(r.problems) > 0 {
		return tearline.Agreement{}, &AgreementError{ID: a.ID, Problems: r.problems}
	}
	return a, nil
}

// ValidateAgreement checks an agreement however it was made: what
// ParseAgreement checks, and that every party is known to reg. Its errors
// are *AgreementError without line numbers.
func ValidateAgreement(a tearline.Agreement, reg *Registry) error {
	return validateAgreement(&a, reg, defaultSchemes())
}

func validateAgreement(a *tearline.Agreement, reg *Registry, sch schemes) error {
	ps := checkAgreement(a, sch, nil)
	ps = append(ps, checkParties(a, reg)...)
	if len(ps) > 0 {
		return &AgreementError{ID: a.ID, Problems: ps}
	}
	return nil
}

func checkParties(a *tearline.Agreement, reg *Registry) []Problem {
	var ps []Problem
	communities := 0
	for i, p := range a.Parties {
		switch {
		case reg == nil:
			ps = append(ps, Problem{Field: fmt.Sprintf("parties[%d]", i), Msg: "no registry to check the party against"})
			return ps
		case !reg.Known(p):
			ps = append(ps, Problem{Field: fmt.Sprintf("parties[%d]", i),
				Msg: fmt.Sprintf("%q is not a known partner or community; register it first or correct the code", p)})
		default:
			if _, ok := reg.Community(p); ok {
				communities++
			}
		}
	}
	if len(ps) == 0 && len(a.Parties) < 2 && communities == 0 {
		ps = append(ps, Problem{Field: "parties", Msg: "an agreement needs at least two partners, or a community"})
	}
	return ps
}

// locator tells where in the YAML text a field was, for the problems found
// after reading it.
type locator struct {
	lines map[string]int
	// eqRow is the row of the table that each equivalence came from.
	eqRow []int
}

func (l *locator) line(field string) int {
	if l == nil {
		return 0
	}
	return l.lines[field]
}

// eqField names equivalence i: its row in a file, else its index.
func (l *locator) eqField(i int) string {
	if l != nil && i < len(l.eqRow) {
		return fmt.Sprintf("equivalences[%d]", l.eqRow[i])
	}
	return fmt.Sprintf("equivalences[%d]", i)
}

var (
	idPattern    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	typePattern  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,249}$`)
	durationForm = regexp.MustCompile(`^([0-9]{1,6})([hdwy])$`)
)

// checkAgreement checks what needs no registry. loc, when not nil, says
// where each field was in the text.
func checkAgreement(a *tearline.Agreement, sch schemes, loc *locator) []Problem {
	var ps []Problem
	add := func(field, format string, args ...any) {
		ps = append(ps, Problem{Line: loc.line(field), Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if !idPattern.MatchString(a.ID) {
		add("id", "%q is not an id: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit", a.ID)
	}
	if a.Version < 1 {
		add("version", "must be a whole number from 1; got %d", a.Version)
	}
	if strings.TrimSpace(a.Title) == "" {
		add("title", "is required: give the agreement's name as its parties know it")
	}
	if len(a.Parties) == 0 {
		add("parties", "is required: list the partner and community codes the agreement binds")
	}
	for i, p := range a.Parties {
		f := fmt.Sprintf("parties[%d]", i)
		if !validCode(p) {
			add(f, "%q is not a partner or community code: use upper-case letters and digits, such as GBR or FVEY", p)
		} else if slices.Index(a.Parties, p) < i {
			add(f, "%s is listed twice; remove the duplicate", p)
		}
	}
	if a.ValidFrom.IsZero() {
		add("valid_from", "is required: the date the agreement comes into force, such as 2024-01-01")
	}
	if !a.ValidUntil.IsZero() && !a.ValidUntil.After(a.ValidFrom) {
		add("valid_until", "%s is not after valid_from %s; make valid_until later, or remove it for an open-ended agreement", day(a.ValidUntil), day(a.ValidFrom))
	}
	if !a.ReviewBy.IsZero() {
		if a.ReviewBy.Before(a.ValidFrom) {
			add("review_by", "%s is before valid_from %s; a review falls while the agreement is in force", day(a.ReviewBy), day(a.ValidFrom))
		} else if !a.ValidUntil.IsZero() && a.ReviewBy.After(a.ValidUntil) {
			add("review_by", "%s is after valid_until %s; a review falls while the agreement is in force", day(a.ReviewBy), day(a.ValidUntil))
		}
	}
	for i, t := range a.Types {
		f := fmt.Sprintf("scope.types[%d]", i)
		if !typePattern.MatchString(t) {
			add(f, "%q is not a STIX object type: use lower-case names such as indicator or report", t)
		} else if slices.Index(a.Types, t) < i {
			add(f, "%s is listed twice; remove the duplicate", t)
		}
	}
	checkList(a.Topics, "scope.topics", add)
	checkList(a.Purposes, "purposes", add)
	checkList(a.PersonalDataRegimes, "personal_data_regimes", add)
	checkList(a.OnwardApprovers, "onward_approvers", add)
	if a.Retention < 0 {
		add("retention", "must not be negative")
	}

	if len(a.Ceilings) == 0 {
		add("ceilings", "is required: give the highest level releasable under each classification policy, such as USA: SECRET")
	}
	for i, c := range a.Ceilings {
		f := "ceilings." + c.Policy
		if slices.IndexFunc(a.Ceilings[:i], func(o tearline.Classification) bool { return o.Policy == c.Policy }) >= 0 {
			add(f, "policy %s has two ceilings; keep one", c.Policy)
			continue
		}
		checkLevel(sch, c, f, add)
	}

	// An equivalence reads both ways. Each (policy, level) may stand for at
	// most one level of another policy, and the table must keep the order of
	// the levels, or it would let a lower level stand for a higher one.
	type target struct {
		from     tearline.Classification
		toPolicy string
	}
	type oriented struct{ a, b tearline.Classification }
	seen := make(map[target]string)
	var done []oriented
	for i, e := range a.Equivalences {
		f := loc.eqField(i)
		if e.From.Policy == e.To.Policy {
			add(f, "maps %s onto its own policy; an equivalence relates two different policies", e.From.Policy)
			continue
		}
		okFrom := checkLevel(sch, e.From, f+"."+e.From.Policy, add)
		okTo := checkLevel(sch, e.To, f+"."+e.To.Policy, add)
		dup := false
		for _, d := range [2][2]tearline.Classification{{e.From, e.To}, {e.To, e.From}} {
			k := target{d[0], d[1].Policy}
			if prev, ok := seen[k]; ok && prev != d[1].Level {
				add(f, "%s %s is equated with both %s %s and %s %s; each level may appear in one row only",
					d[0].Policy, d[0].Level, d[1].Policy, prev, d[1].Policy, d[1].Level)
				dup = true
				break
			}
			seen[k] = d[1].Level
		}
		if dup || !okFrom || !okTo || sch == nil {
			continue
		}
		x, y := e.From, e.To
		if x.Policy > y.Policy {
			x, y = y, x
		}
		rx, _ := sch.rank(x.Policy, x.Level)
		ry, _ := sch.rank(y.Policy, y.Level)
		for _, o := range done {
			if o.a.Policy != x.Policy || o.b.Policy != y.Policy {
				continue
			}
			ra, _ := sch.rank(o.a.Policy, o.a.Level)
			rb, _ := sch.rank(o.b.Policy, o.b.Level)
			if ra < rx && rb > ry || ra > rx && rb < ry {
				add(f, "%s %s = %s %s inverts the order of the levels set by %s %s = %s %s; correct the table",
					x.Policy, x.Level, y.Policy, y.Level, o.a.Policy, o.a.Level, o.b.Policy, o.b.Level)
				break
			}
		}
		done = append(done, oriented{x, y})
	}
	return ps
}

func checkList(list []string, field string, add func(string, string, ...any)) {
	for i, s := range list {
		f := fmt.Sprintf("%s[%d]", field, i)
		if strings.TrimSpace(s) == "" || len(s) > 200 {
			add(f, "must be a name of 1 to 200 characters")
		} else if slices.Index(list, s) < i {
			add(f, "%s is listed twice; remove the duplicate", s)
		}
	}
}

func checkLevel(sch schemes, c tearline.Classification, field string, add func(string, string, ...any)) bool {
	if sch == nil {
		return true
	}
	levels := sch.levels(c.Policy)
	if levels == nil {
		add(field, "%q is not a known classification policy; use one of the label package's schemes (NATO, EU, USA, GBR, ...)", c.Policy)
		return false
	}
	if _, ok := sch.rank(c.Policy, c.Level); !ok {
		if canon, ok := sch.canonical(c.Policy, c.Level); ok {
			add(field, "write %q as its canonical name %q", c.Level, canon)
		} else {
			add(field, "%q is not a level of %s; use one of: %s", c.Level, c.Policy, strings.Join(levels, ", "))
		}
		return false
	}
	return true
}

// reader turns the YAML text into an Agreement, recording problems with
// their lines, and the line of each field for the checks that follow.
type reader struct {
	sch      schemes
	problems []Problem
	loc      locator
}

// level reads a classification level, in its canonical name when the
// policy's scheme knows it as an alias ("TRÈS SECRET" for FRA TRES
// SECRET); checkAgreement reports what it does not know.
func (r *reader) level(n ast.Node, policy, field string) (string, bool) {
	lvl, ok := r.text(n, field)
	if ok && r.sch != nil {
		if c, known := r.sch.canonical(policy, lvl); known {
			lvl = c
		}
	}
	return lvl, ok
}

func (r *reader) add(n ast.Node, field, format string, args ...any) {
	r.problems = append(r.problems, Problem{Line: line(n), Field: field, Msg: fmt.Sprintf(format, args...)})
}

func line(n ast.Node) int {
	if n == nil {
		return 0
	}
	if tk := n.GetToken(); tk != nil && tk.Position != nil {
		return tk.Position.Line
	}
	return 0
}

func (r *reader) read(data []byte) tearline.Agreement {
	var a tearline.Agreement
	r.loc.lines = make(map[string]int)
	if len(data) > maxAgreementSize {
		r.add(nil, "", "the file is larger than %d bytes; an agreement is a few kilobytes", maxAgreementSize)
		return a
	}
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) {
			l := 0
			if tk := ye.GetToken(); tk != nil && tk.Position != nil {
				l = tk.Position.Line
			}
			r.problems = append(r.problems, Problem{Line: l, Msg: "not valid YAML: " + ye.GetMessage()})
		} else {
			r.problems = append(r.problems, Problem{Msg: "not valid YAML: " + err.Error()})
		}
		return a
	}
	var docs []ast.Node
	for _, d := range f.Docs {
		if d != nil && d.Body != nil {
			docs = append(docs, d.Body)
		}
	}
	switch {
	case len(docs) == 0:
		r.add(nil, "", "the file is empty; an agreement needs at least id, version, title, parties, valid_from, ceilings and third_party_rule")
		return a
	case len(docs) > 1:
		r.add(docs[1], "", "the file holds %d YAML documents; put each agreement in a file of its own", len(docs))
		return a
	}
	pairs, ok := r.mapping(docs[0], "")
	if !ok {
		return a
	}
	for _, p := range pairs {
		r.loc.lines[p.key] = line(p.keyNode)
		switch p.key {
		case "id":
			a.ID, _ = r.text(p.value, p.key)
		case "version":
			a.Version = r.integer(p.value, p.key)
		case "title":
			a.Title, _ = r.text(p.value, p.key)
		case "parties":
			a.Parties = r.list(p.value, p.key)
		case "valid_from":
			a.ValidFrom = r.time(p.value, p.key)
		case "valid_until":
			a.ValidUntil = r.time(p.value, p.key)
		case "review_by":
			a.ReviewBy = r.time(p.value, p.key)
		case "scope":
			r.scope(p.value, &a)
		case "ceilings":
			a.Ceilings = r.ceilings(p.value)
		case "equivalences":
			a.Equivalences = r.equivalences(p.value)
		case "third_party_rule":
			a.ThirdPartyRule = r.boolean(p.value, p.key)
		case "purposes":
			a.Purposes = r.list(p.value, p.key)
		case "retention":
			a.Retention = r.duration(p.value, p.key)
		case "personal_data_regimes":
			a.PersonalDataRegimes = r.list(p.value, p.key)
		case "onward_approvers":
			a.OnwardApprovers = r.list(p.value, p.key)
		default:
			r.add(p.keyNode, p.key, "unknown key; the keys are %s", strings.Join(agreementKeys, ", "))
		}
	}
	for _, k := range []string{"id", "version", "title", "parties", "valid_from", "ceilings"} {
		if _, ok := r.loc.lines[k]; !ok {
			r.add(nil, k, "is required")
		}
	}
	if _, ok := r.loc.lines["third_party_rule"]; !ok {
		r.add(nil, "third_party_rule", "is required: say true or false, so that the rule is never assumed")
	}
	return a
}

type pair struct {
	key     string
	keyNode ast.Node
	value   ast.Node
}

// plain rejects the YAML features an agreement has no use for, and that
// would make what is enforced differ from what a reader sees.
func (r *reader) plain(n ast.Node, field string) bool {
	switch n.(type) {
	case *ast.AnchorNode, *ast.AliasNode:
		r.add(n, field, "anchors and aliases are not allowed in an agreement; write the value out")
		return false
	case *ast.TagNode:
		r.add(n, field, "tags are not allowed in an agreement; remove the !tag")
		return false
	case *ast.MergeKeyNode:
		r.add(n, field, "merge keys (<<) are not allowed in an agreement; write the keys out")
		return false
	}
	return true
}

func (r *reader) mapping(n ast.Node, field string) ([]pair, bool) {
	if !r.plain(n, field) {
		return nil, false
	}
	var values []*ast.MappingValueNode
	switch m := n.(type) {
	case *ast.MappingNode:
		values = m.Values
	case *ast.MappingValueNode:
		values = []*ast.MappingValueNode{m}
	default:
		where := field
		if where == "" {
			where = "the document"
		}
		r.add(n, field, "%s must be a mapping of keys to values", where)
		return nil, false
	}
	var out []pair
	seen := make(map[string]bool)
	for _, mv := range values {
		if !r.plain(mv.Key, field) {
			continue
		}
		k, ok := mv.Key.(*ast.StringNode)
		if !ok {
			r.add(mv.Key, field, "keys must be plain names")
			continue
		}
		name := k.Value
		if field != "" {
			name = field + "." + k.Value
		}
		if seen[k.Value] {
			r.add(mv.Key, name, "appears twice; keep one")
			continue
		}
		seen[k.Value] = true
		out = append(out, pair{key: k.Value, keyNode: mv.Key, value: mv.Value})
	}
	return out, true
}

func (r *reader) text(n ast.Node, field string) (string, bool) {
	if !r.plain(n, field) {
		return "", false
	}
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		return strings.TrimSuffix(v.Value.Value, "\n"), true
	case *ast.IntegerNode, *ast.FloatNode:
		// A name such as 5G or 2024 reads as a number; keep what is written.
		return n.GetToken().Value, true
	case *ast.NullNode:
		r.add(n, field, "has no value; give one or remove the key")
	default:
		r.add(n, field, "must be text; put it in quotes if it reads as something else")
	}
	return "", false
}

func (r *reader) integer(n ast.Node, field string) int {
	if !r.plain(n, field) {
		return 0
	}
	v, ok := n.(*ast.IntegerNode)
	if !ok {
		r.add(n, field, "must be a whole number such as 3")
		return 0
	}
	i, err := strconv.Atoi(n.GetToken().Value)
	if err != nil || i < 1 || i > 1<<30 {
		r.add(v, field, "must be a whole number from 1, written in decimal; got %s", n.GetToken().Value)
		return 0
	}
	return i
}

func (r *reader) boolean(n ast.Node, field string) bool {
	if !r.plain(n, field) {
		return false
	}
	v, ok := n.(*ast.BoolNode)
	if !ok {
		r.add(n, field, "must be true or false")
		return false
	}
	return v.Value
}

func (r *reader) list(n ast.Node, field string) []string {
	if !r.plain(n, field) {
		return nil
	}
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		r.add(n, field, "must be a list, such as [GBR, FRA] or one '- item' per line")
		return nil
	}
	out := make([]string, 0, len(s.Values))
	for i, e := range s.Values {
		f := fmt.Sprintf("%s[%d]", field, i)
		if t, ok := r.text(e, f); ok {
			r.loc.lines[fmt.Sprintf("%s[%d]", field, len(out))] = line(e)
			out = append(out, t)
		}
	}
	return out
}

func (r *reader) time(n ast.Node, field string) time.Time {
	s, ok := r.text(n, field)
	if !ok {
		return time.Time{}
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC()
	}
	r.add(n, field, "%q is not a date: write 2024-01-31, or a time such as 2024-01-31T12:00:00Z", s)
	return time.Time{}
}

func (r *reader) duration(n ast.Node, field string) time.Duration {
	s, ok := r.text(n, field)
	if !ok {
		return 0
	}
	if m := durationForm.FindStringSubmatch(s); m != nil {
		v, _ := strconv.Atoi(m[1])
		unit := map[string]time.Duration{"h": time.Hour, "d": 24 * time.Hour, "w": 7 * 24 * time.Hour, "y": 365 * 24 * time.Hour}[m[2]]
		if v > 0 && time.Duration(v) <= (1<<62)/unit {
			return time.Duration(v) * unit
		}
	}
	r.add(n, field, "%q is not a retention period: write a positive number and a unit, such as 90d, 26w, 5y (a year is 365 days) or 72h", s)
	return 0
}

func (r *reader) scope(n ast.Node, a *tearline.Agreement) {
	pairs, ok := r.mapping(n, "scope")
	if !ok {
		return
	}
	for _, p := range pairs {
		f := "scope." + p.key
		r.loc.lines[f] = line(p.keyNode)
		switch p.key {
		case "types":
			a.Types = r.list(p.value, f)
		case "topics":
			a.Topics = r.list(p.value, f)
		default:
			r.add(p.keyNode, f, "unknown key; scope has types and topics")
		}
	}
}

func (r *reader) ceilings(n ast.Node) []tearline.Classification {
	pairs, ok := r.mapping(n, "ceilings")
	if !ok {
		return nil
	}
	out := make([]tearline.Classification, 0, len(pairs))
	for _, p := range pairs {
		f := "ceilings." + p.key
		r.loc.lines[f] = line(p.keyNode)
		if lvl, ok := r.level(p.value, p.key, f); ok {
			out = append(out, tearline.Classification{Policy: p.key, Level: lvl})
		}
	}
	slices.SortStableFunc(out, func(a, b tearline.Classification) int { return compareStrings(a.Policy, b.Policy) })
	return out
}

// equivalences reads the table's rows, each a mapping of policy to level,
// and returns an equivalence between every two levels of a row (an
// equivalence reads both ways).
func (r *reader) equivalences(n ast.Node) []tearline.Equivalence {
	if !r.plain(n, "equivalences") {
		return nil
	}
	s, ok := n.(*ast.SequenceNode)
	if !ok {
		r.add(n, "equivalences", "must be a list of rows, each such as {GBR: SECRET, FRA: SECRET}")
		return nil
	}
	var out []tearline.Equivalence
	rowOf := make(map[tearline.Classification]int)
	for i, row := range s.Values {
		f := fmt.Sprintf("equivalences[%d]", i)
		pairs, ok := r.mapping(row, f)
		if !ok {
			continue
		}
		var levels []tearline.Classification
		for _, p := range pairs {
			ff := f + "." + p.key
			r.loc.lines[ff] = line(p.keyNode)
			r.loc.lines[f] = line(row)
			lvl, ok := r.level(p.value, p.key, ff)
			if !ok {
				continue
			}
			c := tearline.Classification{Policy: p.key, Level: lvl}
			if j, dup := rowOf[c]; dup {
				r.add(p.value, ff, "%s %s is already in row %d; each level may appear in one row only", c.Policy, c.Level, j)
				continue
			}
			rowOf[c] = i
			levels = append(levels, c)
		}
		if len(pairs) < 2 {
			r.add(row, f, "a row equates levels of at least two policies, such as {GBR: SECRET, FRA: SECRET}")
			continue
		}
		for j, x := range levels {
			for _, y := range levels[j+1:] {
				out = append(out, tearline.Equivalence{From: x, To: y})
				r.loc.eqRow = append(r.loc.eqRow, i)
			}
		}
	}
	return out
}
