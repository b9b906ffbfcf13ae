package label

import (
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tearline/tearline"
)

// The banner syntax.
//
// A banner is a list of parts separated by "//", as in ISM/CAPCO markings:
//
//	SECRET//REL TO USA, GBR, FVEY//TLP:AMBER
//
// A leading "//" is allowed (CAPCO writes foreign classifications so:
// //GBR SECRET//REL TO USA, GBR), and, as in CAPCO, controls of one group
// may be separated by a single "/" (SECRET//ORCON/NOFORN). Key words are
// read in any case and any spacing; Format writes the canonical form, one
// part per "//", in this order:
//
//	EXERCISE name                  exercise material (name kept as written)
//	classification                 SECRET, TOP SECRET, UNCLASSIFIED (USA, bare, as CAPCO writes them);
//	                               NATO UNCLASSIFIED ... COSMIC TOP SECRET (also NU, NR, NC, NS, CTS, and
//	                               "NATO SECRET ATOMAL"); RESTREINT UE/EU RESTRICTED ... TRES SECRET UE/EU TOP SECRET
//	                               (also EU SECRET, SECRET UE ...); any other scheme as POLICY LEVEL:
//	                               GBR OFFICIAL-SENSITIVE (or UK ...), FRA SECRET (or FR ...), DEU GEHEIM ...
//	ATOMAL                         the restrictive category Additional Sensitivity: ATOMAL
//	RESTRICTIVE name: V1, V2       any other restrictive STANAG 4774 category
//	FOUO                           (FOR OFFICIAL USE ONLY)
//	ORCON                          (OC, ORIGINATOR CONTROLLED)
//	NOFORN                         (NF, NOT RELEASABLE TO FOREIGN NATIONALS)
//	REL TO USA, GBR, FVEY          (REL, RELEASABLE TO, AUTHORIZED FOR RELEASE TO); USA first, then
//	                               trigraphs, then tetragraphs, then other codes, each alphabetically
//	RELIDO
//	DISPLAY ONLY FRA, DEU          (DISPLAYONLY)
//	EYES ONLY USA, GBR             (also the older USA/GBR EYES ONLY)
//	PERMISSIVE name: V1, V2        other permissive categories; NARROWING for narrowing ones
//	                               ("Only"), INFORMATIVE for informative ones
//	H0, H1, H2, H3 text            Europol SIENA handling codes, each its own part; H3 keeps its text as written
//	TLP:AMBER+STRICT               TLP 2.0: CLEAR (or WHITE), GREEN, AMBER, AMBER+STRICT, RED
//	PAP:GREEN                      CLEAR (or WHITE), GREEN, AMBER, RED
//	IEP:ENCRYPT=MUST,ACTIONS=CONTACT-FOR-INSTRUCTION,NOTIFY=MAY,TLP=AMBER,ATTRIBUTION=MUST,RESALE=MAY,START=2025-01-01,END=2025-12-31
//	                               FIRST IEP 2.0, each item optional (IEP alone: a policy with no field set);
//	                               NOTIFY and RESALE default to MUST-NOT, ATTRIBUTION to MAY
//	ORIGINATOR GBR, FRA            (ORIG)
//	PURPOSE counter-terrorism      purposes, written in lower case
//	PERSONAL DATA GDPR             personal data, with its legal regime if known
//	GRADE B2                       Admiralty source reliability A-F and information credibility 1-6
//	EXPIRES 2025-06-30             dates as 2025-06-30 or 2025-06-30T12:00:00Z
//	RETAIN UNTIL 2026-01-01
//	REVIEW BY 2025-03-01
//	SUPERSEDED BY marking-definition--...
//
// PROPIN and the SCI control systems are refused (unsupported-marking,
// unknown-marking): the node would not enforce them.

// maxBanner bounds the banners Parse reads.
const maxBanner = 8192

// Parse reads a banner marking (see the syntax above), normalises and
// validates it. Errors are *RuleError. For every label l that Parse
// returns, Parse(Format(l)) returns l.
func Parse(banner string) (tearline.Label, error) {
	l, err := parseBanner(banner)
	if err != nil {
		return tearline.Label{}, err
	}
	if err := Validate(l); err != nil {
		return tearline.Label{}, err
	}
	return Normalize(l), nil
}

func parseBanner(banner string) (tearline.Label, error) {
	if len(banner) > maxBanner {
		return tearline.Label{}, invalid("malformed-banner", "the banner is longer than %d bytes", maxBanner)
	}
	if !utf8.ValidString(banner) {
		return tearline.Label{}, invalid("malformed-banner", "the banner is not valid UTF-8")
	}
	for _, r := range banner {
		if r < 0x20 && r != '\t' && r != '\n' && r != '\r' || r == 0x7f || r >= 0x80 && r < 0xa0 {
			return tearline.Label{}, invalid("malformed-banner", "the banner contains the control character %U", r)
		}
	}
	s := strings.TrimSpace(banner)
	if s == "" {
		return tearline.Label{}, invalid("empty-label", "the banner is empty")
	}
	s = strings.TrimPrefix(s, "//")
	p := &bannerParser{seen: map[string]bool{}}
	for _, seg := range strings.Split(s, "//") {
		seg = strings.TrimSpace(seg)
		if seg == "" {
			return tearline.Label{}, invalid("malformed-banner", "%q has an empty part between \"//\" separators", banner)
		}
		ok, err := p.segment(seg)
		if err != nil {
			return tearline.Label{}, err
		}
		if ok {
			continue
		}
		// CAPCO separates the controls of one group with a single "/".
		if strings.Contains(seg, "/") {
			all := true
			for _, part := range strings.Split(seg, "/") {
				part = strings.TrimSpace(part)
				if part == "" {
					all = false
					break
				}
				ok, err := p.segment(part)
				if err != nil {
					return tearline.Label{}, err
				}
				if !ok {
					all = false
					break
				}
			}
			if all {
				continue
			}
		}
		if normText(seg) == "PROPIN" || normText(seg) == "CAUTION-PROPRIETARY INFORMATION INVOLVED" {
			return tearline.Label{}, invalid("unsupported-marking", "PROPIN is not supported: this node would not enforce it")
		}
		return tearline.Label{}, invalid("unknown-marking", "%q is not a marking this node knows", seg)
	}
	return p.l, nil
}

// bannerParser accumulates the label of a banner, part by part.
type bannerParser struct {
	l    tearline.Label
	seen map[string]bool // markings already read, to refuse repeats
}

// once records that the marking named what was read, or fails if it was
// read before.
func (p *bannerParser) once(what string) error {
	if p.seen[what] {
		return invalid("duplicate-marking", "%s is given twice", what)
	}
	p.seen[what] = true
	return nil
}

// segment reads one part of a banner. It reports false, with no error,
// when the part is not a marking it knows.
func (p *bannerParser) segment(seg string) (bool, error) {
	u := normText(seg)
	switch u {
	case "NOFORN", "NF", "NOT RELEASABLE TO FOREIGN NATIONALS":
		p.l.NoForn = true
		return true, p.once("NOFORN")
	case "ORCON", "OC", "ORIGINATOR CONTROLLED":
		p.l.ORCON = true
		return true, p.once("ORCON")
	case "RELIDO":
		p.l.RelIDO = true
		return true, p.once("RELIDO")
	case "FOUO", "FOR OFFICIAL USE ONLY":
		p.l.FOUO = true
		return true, p.once("FOUO")
	case "H0", "H1", "H2":
		p.l.Handling = append(p.l.Handling, tearline.H0+tearline.HandlingCode(u[1]-'0'))
		return true, p.once(u)
	case "H3":
		return true, invalid("h3-without-text", "H3 needs the text of its restrictions")
	case "ATOMAL":
		return true, p.atomal()
	case "PERSONAL DATA":
		p.l.PersonalData = true
		return true, p.once("PERSONAL DATA")
	case "DISPLAY ONLY", "DISPLAYONLY":
		return true, invalid("display-only-without-list", "DISPLAY ONLY needs the codes of those who may be shown the information")
	case "EYES ONLY":
		return true, invalid("eyes-without-list", "EYES ONLY needs the codes of those who may see the information")
	}
	if rest, ok := cutCode(u, "TLP"); ok {
		t, ok := tlpColours[rest]
		if !ok {
			return true, invalid("unknown-tlp", "%q is not a TLP 2.0 colour", rest)
		}
		p.l.TLP = t
		return true, p.once("TLP")
	}
	if rest, ok := cutCode(u, "PAP"); ok {
		t, ok := tlpColours[rest]
		if !ok || t == tearline.TLPAmberStrict {
			return true, invalid("unknown-pap", "%q is not a PAP colour", rest)
		}
		p.l.PAP = t
		return true, p.once("PAP")
	}
	if rest, ok := cutCode(u, "IEP"); ok || u == "IEP" {
		return true, p.iep(rest)
	}
	for _, kw := range keywords {
		if rest, ok := cutPhrase(seg, kw.phrase); ok {
			return true, kw.read(p, rest)
		}
	}
	if head, ok := strings.CutSuffix(u, " EYES ONLY"); ok && strings.Contains(head, "/") {
		return true, p.eyes(strings.ReplaceAll(head, "/", ","))
	}
	return p.classification(u)
}

// keywords are the banner parts that start with a phrase, longest first
// where one phrase starts another.
var keywords = []struct {
	phrase string
	read   func(p *bannerParser, rest string) error
}{
	{"AUTHORIZED FOR RELEASE TO", (*bannerParser).relTo},
	{"RELEASABLE TO", (*bannerParser).relTo},
	{"REL TO", (*bannerParser).relTo},
	{"REL", (*bannerParser).relTo},
	{"DISPLAY ONLY", (*bannerParser).displayOnly},
	{"DISPLAYONLY", (*bannerParser).displayOnly},
	{"EYES ONLY", (*bannerParser).eyes},
	{"H3", (*bannerParser).h3},
	{"RESTRICTIVE", categoryReader(tearline.Restrictive, false)},
	{"PERMISSIVE", categoryReader(tearline.Permissive, false)},
	{"NARROWING", categoryReader(tearline.Permissive, true)},
	{"INFORMATIVE", categoryReader(tearline.Informative, false)},
	{"ORIGINATOR", (*bannerParser).originators},
	{"ORIG", (*bannerParser).originators},
	{"PURPOSE", (*bannerParser).purposes},
	{"PERSONAL DATA", (*bannerParser).personalData},
	{"GRADE", (*bannerParser).grade},
	{"EXPIRES", dateReader("EXPIRES", func(l *tearline.Label) *time.Time { return &l.Expires })},
	{"RETAIN UNTIL", dateReader("RETAIN UNTIL", func(l *tearline.Label) *time.Time { return &l.RetainUntil })},
	{"REVIEW BY", dateReader("REVIEW BY", func(l *tearline.Label) *time.Time { return &l.ReviewBy })},
	{"SUPERSEDED BY", (*bannerParser).successor},
	{"EXERCISE", (*bannerParser).exercise},
}

var tlpColours = map[string]tearline.TLP{
	"CLEAR": tearline.TLPClear, "WHITE": tearline.TLPClear, "GREEN": tearline.TLPGreen,
	"AMBER": tearline.TLPAmber, "AMBER+STRICT": tearline.TLPAmberStrict, "RED": tearline.TLPRed,
}

func (p *bannerParser) relTo(rest string) error {
	codes, err := codeList("REL TO", rest, "malformed-list")
	if err != nil {
		return err
	}
	p.l.Categories = append(p.l.Categories, tearline.Category{Type: tearline.Permissive, Name: tearline.CategoryRelTo, Values: codes})
	return p.once("REL TO")
}

func (p *bannerParser) displayOnly(rest string) error {
	codes, err := codeList("DISPLAY ONLY", rest, "display-only-without-list")
	if err != nil {
		return err
	}
	p.l.DisplayOnly = codes
	return p.once("DISPLAY ONLY")
}

func (p *bannerParser) eyes(rest string) error {
	codes, err := codeList("EYES ONLY", rest, "eyes-without-list")
	if err != nil {
		return err
	}
	p.l.EyesOnly = codes
	return p.once("EYES ONLY")
}

func (p *bannerParser) originators(rest string) error {
	codes, err := codeList("ORIGINATOR", rest, "malformed-list")
	if err != nil {
		return err
	}
	p.l.Originators = codes
	return p.once("ORIGINATOR")
}

// codeList reads "USA, GBR, FVEY"; emptyRule is the rule broken by an
// empty list.
func codeList(what, rest, emptyRule string) ([]string, error) {
	if strings.TrimSpace(rest) == "" {
		return nil, invalid(emptyRule, "%s needs at least one code", what)
	}
	var codes []string
	for _, item := range strings.Split(rest, ",") {
		c := strings.ToUpper(collapse(item))
		if c == "" {
			return nil, invalid("malformed-list", "%s %q has an empty item", what, rest)
		}
		if !validCode(c) {
			return nil, invalid("invalid-code", "%s: %q is not a partner, community or organisation code", what, c)
		}
		codes = append(codes, c)
	}
	return codes, nil
}

func (p *bannerParser) h3(rest string) error {
	p.l.Handling = append(p.l.Handling, tearline.H3)
	p.l.H3Text = collapse(rest)
	return p.once("H3")
}

func (p *bannerParser) atomal() error {
	p.l.Categories = append(p.l.Categories, atomalCategory())
	return p.once("category " + strings.ToUpper(atomalName))
}

// atomalName is the NATO category that ATOMAL belongs to.
const atomalName = "Additional Sensitivity"

func atomalCategory() tearline.Category {
	return tearline.Category{Type: tearline.Restrictive, Name: atomalName, Values: []string{"ATOMAL"}}
}

func categoryReader(typ tearline.CategoryType, narrowing bool) func(*bannerParser, string) error {
	return func(p *bannerParser, rest string) error {
		name, vals, ok := strings.Cut(rest, ":")
		name = collapse(name)
		if !ok || name == "" {
			return invalid("malformed-value", "a category is written TYPE Name: VALUE, VALUE (not %q)", rest)
		}
		if strings.EqualFold(name, tearline.CategoryRelTo) && typ == tearline.Permissive && !narrowing {
			return p.relTo(vals)
		}
		if strings.TrimSpace(vals) == "" {
			return invalid("category-without-values", "category %q has no values", name)
		}
		var values []string
		for _, v := range strings.Split(vals, ",") {
			v = strings.ToUpper(collapse(v))
			if v == "" {
				return invalid("malformed-list", "category %q has an empty value", name)
			}
			values = append(values, v)
		}
		p.l.Categories = append(p.l.Categories, tearline.Category{Type: typ, Name: name, Values: values, Narrowing: narrowing})
		return p.once("category " + strings.ToUpper(name))
	}
}

func (p *bannerParser) purposes(rest string) error {
	if strings.TrimSpace(rest) == "" {
		return invalid("malformed-list", "PURPOSE needs at least one purpose")
	}
	for _, item := range strings.Split(rest, ",") {
		v := strings.ToLower(collapse(item))
		if v == "" {
			return invalid("malformed-list", "PURPOSE %q has an empty item", rest)
		}
		p.l.Purposes = append(p.l.Purposes, v)
	}
	return p.once("PURPOSE")
}

func (p *bannerParser) personalData(rest string) error {
	p.l.PersonalData = true
	p.l.Regime = strings.ToUpper(collapse(rest))
	return p.once("PERSONAL DATA")
}

func (p *bannerParser) grade(rest string) error {
	g := strings.TrimSpace(rest)
	if len(g) < 2 || len(g) > 3 || !isASCIILetter(g[0]) {
		return invalid("malformed-value", "GRADE is a reliability letter and a credibility digit, e.g. GRADE B2 (not %q)", rest)
	}
	n, err := strconv.Atoi(g[1:])
	if err != nil || g[1] < '0' || g[1] > '9' {
		return invalid("malformed-value", "GRADE is a reliability letter and a credibility digit, e.g. GRADE B2 (not %q)", rest)
	}
	if n == 0 {
		return invalid("credibility-range", "information credibility 0 is outside 1-6")
	}
	p.l.Reliability = g[0] &^ 0x20 // upper case
	p.l.Credibility = n
	return p.once("GRADE")
}

func dateReader(what string, field func(*tearline.Label) *time.Time) func(*bannerParser, string) error {
	return func(p *bannerParser, rest string) error {
		t, err := parseTime(strings.TrimSpace(rest))
		if err != nil {
			return invalid("invalid-date", "%s %q: %v", what, rest, err)
		}
		*field(&p.l) = t
		return p.once(what)
	}
}

func (p *bannerParser) successor(rest string) error {
	p.l.Successor = strings.TrimSpace(rest)
	return p.once("SUPERSEDED BY")
}

func (p *bannerParser) exercise(rest string) error {
	p.l.Exercise = collapse(rest)
	if p.l.Exercise == "" {
		return invalid("malformed-value", "EXERCISE needs the exercise's name")
	}
	return p.once("EXERCISE")
}

// iep reads the items of an IEP part, after "IEP:".
func (p *bannerParser) iep(items string) error {
	if err := p.once("IEP"); err != nil {
		return err
	}
	iep := &tearline.IEP{}
	p.l.IEP = iep
	if items == "" {
		return nil
	}
	seen := map[string]bool{}
	for _, item := range strings.Split(items, ",") {
		key, val, _ := strings.Cut(item, "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if seen[key] {
			return invalid("duplicate-marking", "IEP %s is given twice", key)
		}
		seen[key] = true
		bad := func() error {
			return invalid("malformed-value", "IEP item %q: see the IEP syntax in 'tearline label check --help'", strings.TrimSpace(item))
		}
		switch key {
		case "ENCRYPT":
			if val != "MUST" && val != "MAY" {
				return invalid("iep-encrypt-in-transit", "IEP ENCRYPT=%s is neither MUST nor MAY", val)
			}
			iep.EncryptInTransit = strings.ToLower(val)
		case "ACTIONS":
			iep.PermittedActions = strings.ToLower(val)
		case "NOTIFY", "RESALE":
			if val != "MAY" && val != "MUST-NOT" {
				return bad()
			}
			if key == "NOTIFY" {
				iep.AffectedPartyNotify = val == "MAY"
			} else {
				iep.UnmodifiedResale = val == "MAY"
			}
		case "ATTRIBUTION":
			switch val {
			case "MUST":
				iep.Attribution = true
			case "MUST-NOT":
				iep.NoAttribution = true
			case "MAY":
			default:
				return bad()
			}
		case "TLP":
			t, ok := tlpColours[val]
			if !ok {
				return invalid("unknown-tlp", "IEP TLP=%s is not a TLP colour", val)
			}
			iep.TLP = t
		case "START", "END":
			t, err := parseTime(val)
			if err != nil {
				return invalid("invalid-date", "IEP %s=%s: %v", key, val, err)
			}
			if key == "START" {
				iep.StartDate = t
			} else {
				iep.EndDate = t
			}
		default:
			return bad()
		}
	}
	return nil
}

// classification reads a classification part (already normalised).
func (p *bannerParser) classification(u string) (bool, error) {
	set := func(s *Scheme, rank int) error {
		p.l.Policy, p.l.Classification = s.Policy, s.Scale[rank].Name
		return p.once("a classification")
	}
	if s, r, ok := lookupBare(u); ok {
		return true, set(s, r)
	}
	// NATO writes ATOMAL after the level: COSMIC TOP SECRET ATOMAL.
	if head, ok := strings.CutSuffix(u, " ATOMAL"); ok {
		if s, r, ok := lookupBare(head); ok && s.Policy == "NATO" {
			if err := set(s, r); err != nil {
				return true, err
			}
			return true, p.atomal()
		}
	}
	prefix, level, ok := strings.Cut(u, " ")
	if !ok {
		return false, nil
	}
	s, ok := lookupPrefix(prefix)
	if !ok {
		return false, nil
	}
	r, ok := s.Rank(level)
	if !ok {
		return true, invalid("unknown-classification", "%q is not a level of %s (%s)", level, s.Policy, strings.Join(s.Levels(), ", "))
	}
	return true, set(s, r)
}

// cutPhrase reports whether seg starts with the words of phrase (compared
// without regard to ASCII case) followed by white space or its end, and
// returns the rest, trimmed, as written.
func cutPhrase(seg, phrase string) (string, bool) {
	rest := seg
	for phrase != "" {
		var w string
		w, phrase, _ = strings.Cut(phrase, " ")
		for rest != "" && isASCIISpace(rest[0]) {
			rest = rest[1:]
		}
		if len(rest) < len(w) || !asciiEqualFold(rest[:len(w)], w) {
			return "", false
		}
		rest = rest[len(w):]
		if rest != "" && !isASCIISpace(rest[0]) {
			return "", false
		}
	}
	return strings.TrimSpace(rest), true
}

func isASCIISpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// cutCode reads "CODE:rest" or "CODE rest" from a normalised part, for the
// TLP:, PAP: and IEP: forms.
func cutCode(u, code string) (string, bool) {
	rest, ok := strings.CutPrefix(u, code)
	if !ok || rest == "" || rest[0] != ':' && rest[0] != ' ' {
		return "", false
	}
	rest = strings.TrimSpace(rest)
	rest = strings.TrimPrefix(rest, ":")
	return strings.TrimSpace(rest), true
}

func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x >= 'a' && x <= 'z' {
			x -= 'a' - 'A'
		}
		if y >= 'a' && y <= 'z' {
			y -= 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// parseTime reads a date (2025-06-30, midnight UTC) or an RFC 3339 time.
func parseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("not a date (2025-06-30) or time (2025-06-30T12:00:00Z)")
	}
	return t.UTC(), nil
}

// formatTime writes a time as parseTime reads it: the date alone at
// midnight UTC.
func formatTime(t time.Time) string {
	t = t.UTC()
	if t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0 {
		return t.Format(time.DateOnly)
	}
	return t.Format(time.RFC3339Nano)
}

var tlpNames = [...]string{
	tearline.TLPNone: "NONE", tearline.TLPClear: "CLEAR", tearline.TLPGreen: "GREEN",
	tearline.TLPAmber: "AMBER", tearline.TLPAmberStrict: "AMBER+STRICT", tearline.TLPRed: "RED",
}

func tlpName(t tearline.TLP) string {
	if int(t) < len(tlpNames) {
		return tlpNames[t]
	}
	return strconv.Itoa(int(t))
}

// Format writes l as a banner, in canonical form (see the syntax above).
// Format(Parse(b)) is the canonical form of banner b; Parse(Format(l))
// returns the normal form of any valid l. Invalid labels are written as
// well as they can be, and may not parse back.
func Format(l tearline.Label) string {
	l = Normalize(l)
	var segs []string
	add := func(format string, args ...any) { segs = append(segs, fmt.Sprintf(format, args...)) }
	if l.Exercise != "" {
		add("EXERCISE %s", l.Exercise)
	}
	if l.Policy != "" || l.Classification != "" {
		if s, ok := LookupScheme(l.Policy); ok && s.Bare {
			add("%s", l.Classification)
		} else {
			add("%s", strings.TrimSpace(l.Policy+" "+l.Classification))
		}
	}
	isRelTo := func(c tearline.Category) bool {
		return c.Name == tearline.CategoryRelTo && c.Type == tearline.Permissive && !c.Narrowing
	}
	for _, c := range l.Categories {
		if c.Type == tearline.Restrictive {
			add("%s", formatCategory(c))
		}
	}
	if l.FOUO {
		add("FOUO")
	}
	if l.ORCON {
		add("ORCON")
	}
	if l.NoForn {
		add("NOFORN")
	}
	for _, c := range l.Categories {
		if isRelTo(c) {
			add("REL TO %s", strings.Join(c.Values, ", "))
		}
	}
	if l.RelIDO {
		add("RELIDO")
	}
	if len(l.DisplayOnly) > 0 {
		add("DISPLAY ONLY %s", strings.Join(l.DisplayOnly, ", "))
	}
	if len(l.EyesOnly) > 0 {
		add("EYES ONLY %s", strings.Join(l.EyesOnly, ", "))
	}
	for _, c := range l.Categories {
		if c.Type != tearline.Restrictive && !isRelTo(c) {
			add("%s", formatCategory(c))
		}
	}
	for _, h := range l.Handling {
		if h == tearline.H3 {
			add("H3 %s", l.H3Text)
		} else {
			add("H%d", int(h)-int(tearline.H0))
		}
	}
	if l.TLP != tearline.TLPNone {
		add("TLP:%s", tlpName(l.TLP))
	}
	if l.PAP != tearline.TLPNone {
		add("PAP:%s", tlpName(l.PAP))
	}
	if l.IEP != nil {
		add("%s", formatIEP(l.IEP))
	}
	if len(l.Originators) > 0 {
		add("ORIGINATOR %s", strings.Join(l.Originators, ", "))
	}
	if len(l.Purposes) > 0 {
		add("PURPOSE %s", strings.Join(l.Purposes, ", "))
	}
	if l.PersonalData {
		add("%s", strings.TrimSpace("PERSONAL DATA "+l.Regime))
	}
	if l.Reliability != 0 || l.Credibility != 0 {
		add("GRADE %c%d", l.Reliability, l.Credibility)
	}
	if !l.Expires.IsZero() {
		add("EXPIRES %s", formatTime(l.Expires))
	}
	if !l.RetainUntil.IsZero() {
		add("RETAIN UNTIL %s", formatTime(l.RetainUntil))
	}
	if !l.ReviewBy.IsZero() {
		add("REVIEW BY %s", formatTime(l.ReviewBy))
	}
	if l.Successor != "" {
		add("SUPERSEDED BY %s", l.Successor)
	}
	return strings.Join(segs, "//")
}

func formatCategory(c tearline.Category) string {
	if c.Type == tearline.Restrictive && c.Name == atomalName && len(c.Values) == 1 && c.Values[0] == "ATOMAL" {
		return "ATOMAL"
	}
	typ := "CATEGORY"
	switch {
	case c.Type == tearline.Restrictive:
		typ = "RESTRICTIVE"
	case c.Type == tearline.Permissive && c.Narrowing:
		typ = "NARROWING"
	case c.Type == tearline.Permissive:
		typ = "PERMISSIVE"
	case c.Type == tearline.Informative:
		typ = "INFORMATIVE"
	}
	return typ + " " + c.Name + ": " + strings.Join(c.Values, ", ")
}

func formatIEP(iep *tearline.IEP) string {
	var items []string
	if iep.EncryptInTransit != "" {
		items = append(items, "ENCRYPT="+strings.ToUpper(iep.EncryptInTransit))
	}
	if iep.PermittedActions != "" {
		items = append(items, "ACTIONS="+strings.ToUpper(iep.PermittedActions))
	}
	if iep.AffectedPartyNotify {
		items = append(items, "NOTIFY=MAY")
	}
	if iep.TLP != tearline.TLPNone {
		items = append(items, "TLP="+tlpName(iep.TLP))
	}
	if iep.Attribution {
		items = append(items, "ATTRIBUTION=MUST")
	}
	if iep.NoAttribution {
		items = append(items, "ATTRIBUTION=MUST-NOT")
	}
	if iep.UnmodifiedResale {
		items = append(items, "RESALE=MAY")
	}
	if !iep.StartDate.IsZero() {
		items = append(items, "START="+formatTime(iep.StartDate))
	}
	if !iep.EndDate.IsZero() {
		items = append(items, "END="+formatTime(iep.EndDate))
	}
	if len(items) == 0 {
		return "IEP"
	}
	return "IEP:" + strings.Join(items, ",")
}
