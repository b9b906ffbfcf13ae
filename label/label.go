// Package label reads, writes, checks and combines releasability labels
// (tearline.Label): the banner markings people type and read, the STIX 2.1
// marking definitions that carry labels between nodes and tools (TLP 1.0 and
// 2.0, FIRST IEP 2.0, US AIS ACS 3.0 and Tearline's own extension), the
// classification schemes of NATO, the EU and partner nations, and the
// roll-up of the labels of parts into the label of a whole.
//
// It owns what a label means and when it is well formed. It MUST NOT decide
// releases (package policy does, with agreements, partners and time) and
// it knows nothing of storage or transport. Everything it reads comes from
// outside: anything it does not understand is an error, never a default.
package label

import (
	"cmp"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tearline/tearline"
)

// RuleError reports a label, banner or marking that breaks a rule: which
// rule (a stable kebab-case name such as "relto-with-noforn"), what was
// wrong and what to do about it.
//
// Errors from Parse, Validate, FromObject and Portions unwrap to
// tearline.ErrInvalid; those from RollUp unwrap to ErrNeedsPerson.
type RuleError struct {
	Rule string
	Msg  string
	// Fix says what the person who wrote the label should do.
	Fix string
	err error
}

func (e *RuleError) Error() string {
	return e.Msg + " [" + e.Rule + "]"
}

// Unwrap returns tearline.ErrInvalid or ErrNeedsPerson.
func (e *RuleError) Unwrap() error { return e.err }

// ErrNeedsPerson is wrapped by every RollUp error: labels that cannot be
// combined mechanically need a releasing officer's decision.
var ErrNeedsPerson = errors.New("needs a person")

// ErrEmptyRelease is wrapped by an *EmptyReleaseError: a roll-up left a
// permissive category (REL TO, another expanding or narrowing category, or
// the purposes) with no value at all.
var ErrEmptyRelease = errors.New("empty release intersection")

// invalid returns a RuleError for a malformed or contradictory label.
func invalid(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Msg: fmt.Sprintf(format, args...), Fix: fixes[rule], err: tearline.ErrInvalid}
}

// needsPerson returns a RuleError for labels that RollUp cannot combine.
func needsPerson(rule, format string, args ...any) *RuleError {
	return &RuleError{Rule: rule, Msg: fmt.Sprintf(format, args...), Fix: fixes[rule], err: ErrNeedsPerson}
}

// fixes says, per rule, what to do. Rules without an entry have their
// remedy in the message.
var fixes = map[string]string{
	"empty-label":                    "give at least a classification (e.g. SECRET, NATO RESTRICTED, GBR OFFICIAL), a TLP colour (TLP:AMBER) or a handling code (H0-H3)",
	"malformed-banner":               `separate the parts of a banner with "//", e.g. SECRET//REL TO USA, GBR//TLP:AMBER`,
	"unknown-marking":                "check the spelling; 'tearline label check --help' lists what a banner may hold",
	"unsupported-marking":            "this marking is not supported yet; mark the information without it only if its owner agrees, otherwise do not import it",
	"duplicate-marking":              "write each marking once",
	"malformed-list":                 "write codes separated by commas: REL TO USA, GBR, FVEY",
	"malformed-value":                "see the banner syntax in 'tearline label check --help'",
	"unknown-policy":                 "use a known scheme (see 'tearline label schemes') or declare the scheme in the node's config",
	"missing-policy":                 "give the classification with its scheme, e.g. GBR SECRET or NATO SECRET",
	"missing-classification":         "give a level of the scheme (see 'tearline label schemes')",
	"unknown-classification":         "use a level of the scheme (see 'tearline label schemes POLICY')",
	"control-without-classification": "add the classification the control applies to, e.g. SECRET//NOFORN",
	"relto-with-noforn":              "keep NOFORN and remove REL TO, or remove NOFORN if the originator allows the release",
	"eyes-with-noforn":               "keep NOFORN and remove EYES ONLY, or remove NOFORN",
	"eyes-with-relto":                "use REL TO alone (EYES ONLY is the older form of the same control)",
	"eyes-without-list":              "name who may see it: EYES ONLY USA, GBR",
	"display-only-with-relido":       "use DISPLAY ONLY (disclosure without a copy) or RELIDO (release by a disclosure official), not both",
	"display-only-with-noforn":       "keep NOFORN and remove DISPLAY ONLY, or remove NOFORN",
	"display-only-without-list":      "name who may be shown it: DISPLAY ONLY FRA, DEU",
	"relido-with-noforn":             "keep NOFORN and remove RELIDO, or remove NOFORN",
	"orcon-on-unclassified":          "ORCON applies to classified information; use H2 (no dissemination without the provider's permission) on unclassified information",
	"fouo-on-classified":             "FOUO marks unclassified information only; remove it",
	"invalid-code":                   "use ISO 3166 trigraphs (GBR), tetragraphs (FVEY) or organisation codes (EUROPOL), in capitals",
	"category-name":                  "name the category without colons, commas or //",
	"category-value":                 `write category values without commas, "//" or control characters, not ending in "/"`,
	"category-type":                  "use RESTRICTIVE, PERMISSIVE, NARROWING or INFORMATIVE",
	"category-without-values":        "give at least one value, or remove the category",
	"category-conflict":              "a category has one type; rename one of them",
	"relto-category":                 "REL TO is a permissive, expanding category",
	"unknown-handling-code":          "use H0, H1, H2 or H3 text",
	"h3-without-text":                "write the restriction after H3: H3 only for the counter-terrorism unit",
	"h3-text-without-h3":             "add H3, or remove the text",
	"invalid-text":                   `remove "//" and control characters from the text`,
	"unknown-tlp":                    "use TLP:CLEAR, TLP:GREEN, TLP:AMBER, TLP:AMBER+STRICT or TLP:RED",
	"unknown-pap":                    "use PAP:CLEAR, PAP:GREEN, PAP:AMBER or PAP:RED",
	"iep-encrypt-in-transit":         "use ENCRYPT=MUST or ENCRYPT=MAY",
	"iep-permitted-actions":          "use NONE, CONTACT-FOR-INSTRUCTION, INTERNALLY-VISIBLE-ACTIONS, EXTERNALLY-VISIBLE-INDIRECT-ACTIONS or EXTERNALLY-VISIBLE-DIRECT-ACTIONS",
	"iep-attribution":                "attribution is MUST, MAY (the default) or MUST-NOT, one of them",
	"iep-dates":                      "the IEP end date must not be before its start date",
	"iep-tlp-mismatch":               "give the same TLP colour in the IEP policy and in the label",
	"invalid-purpose":                "write purposes as short words separated by commas: PURPOSE counter-terrorism, law-enforcement",
	"purpose-none-with-others":       `"none" means no purpose is allowed; remove it or the other purposes`,
	"regime-without-personal-data":   "mark PERSONAL DATA, or remove the regime",
	"invalid-regime":                 "name the regime with a code, e.g. PERSONAL DATA GDPR",
	"reliability-range":              "source reliability is a letter A (completely reliable) to F (cannot be judged)",
	"credibility-range":              "information credibility is a digit 1 (confirmed) to 6 (cannot be judged)",
	"grading-incomplete":             "grade with both a reliability letter and a credibility digit, e.g. GRADE B2",
	"invalid-date":                   "write dates as 2025-06-30 or 2025-06-30T12:00:00Z, between the years 1 and 9999",
	"invalid-successor":              "name the successor by its marking-definition id",
	"unknown-marking-definition":     "import the marking definition first, or ask the sender for it",
	"unknown-marking-extension":      "this node does not understand the marking; ask the sender for a TLP, IEP, ACS or Tearline marking",
	"marking-definition":             "the marking definition is malformed; ask the sender to correct it",
	"marking-conflict":               "the object carries markings that disagree; ask the sender which applies",
	"tlp-conflict":                   "the object carries two different TLP markings; ask the sender which applies",
	"granular-marking":               "each granular marking needs a marking_ref and selectors",
	"classification-policies-unordered": "a releasing officer must say how the schemes compare (an agreement's equivalences), " +
		"or classify the product in one scheme",
	"personal-data-regimes": "a releasing officer must decide which legal regime the product falls under",
	"exercise-mixed":        "material of two exercises cannot be combined; keep each exercise's products apart",
	"category-types-differ": "the parts use one category name with different types; a person must decide which applies",
	"no-parts":              "give at least one label to combine",
}

// EmptyReleaseError reports that rolling labels up left permissive
// categories with no value: nobody may receive the product unless a person
// decides otherwise. RollUp returns it with the rolled-up label, in which
// each such category is present with no values (for the purposes: the
// single purpose NoPurpose), so that a caller that ignores the error still
// denies.
type EmptyReleaseError struct {
	// Categories names the emptied categories: tearline.CategoryRelTo, other
	// category names, "Purpose".
	Categories []string
}

func (e *EmptyReleaseError) Error() string {
	return "no recipient is left in " + strings.Join(e.Categories, ", ") + " after combining the parts: a person must decide the release"
}

// Unwrap lets callers test for both ErrEmptyRelease and ErrNeedsPerson.
func (e *EmptyReleaseError) Unwrap() []error { return []error{ErrEmptyRelease, ErrNeedsPerson} }

// NoPurpose is the purpose no agreement grants: a label whose only purpose
// it is may be used for nothing without a person's decision. ACS markings
// that deny every action and roll-ups with no common purpose produce it.
const NoPurpose = "none"

// Normalize returns l in canonical form: policy and classification by their
// canonical names, codes in upper case and in banner order (USA first, then
// trigraphs, then tetragraphs, then longer codes, each alphabetically),
// categories merged and sorted, handling codes sorted, purposes in lower
// case and sorted, duplicates removed, white space collapsed, times in UTC,
// empty lists nil, and the IEP policy's TLP colour copied to the label when
// the label has none. Parse, FromObject and RollUp return normalised labels;
// two labels mean the same iff their normal forms are equal (see Equal).
func Normalize(l tearline.Label) tearline.Label {
	n := l
	n.Policy = strings.TrimSpace(strings.ToUpper(l.Policy))
	if s, ok := lookupPrefix(n.Policy); ok {
		n.Policy = s.Policy
	}
	n.Classification = normText(l.Classification)
	if s, ok := LookupScheme(n.Policy); ok {
		if c, ok := s.Canonical(n.Classification); ok {
			n.Classification = c
		}
	}
	n.Categories = normCategories(l.Categories)
	n.DisplayOnly = normCodes(l.DisplayOnly)
	n.EyesOnly = normCodes(l.EyesOnly)
	n.Originators = normCodes(l.Originators)
	n.Handling = nil
	if len(l.Handling) > 0 {
		n.Handling = slices.Clone(l.Handling)
		slices.Sort(n.Handling)
		n.Handling = slices.Compact(n.Handling)
	}
	n.H3Text = collapse(l.H3Text)
	if l.IEP != nil {
		iep := *l.IEP
		iep.EncryptInTransit = strings.ToLower(strings.TrimSpace(iep.EncryptInTransit))
		iep.PermittedActions = strings.ToLower(strings.TrimSpace(iep.PermittedActions))
		iep.StartDate = iep.StartDate.UTC()
		iep.EndDate = iep.EndDate.UTC()
		n.IEP = &iep
		// The IEP policy's colour is the label's when the label has none,
		// so that whoever reads Label.TLP sees it.
		if n.TLP == tearline.TLPNone {
			n.TLP = iep.TLP
		}
	}
	n.Purposes = nil
	for _, p := range l.Purposes {
		n.Purposes = append(n.Purposes, strings.ToLower(collapse(p)))
	}
	slices.Sort(n.Purposes)
	n.Purposes = slices.Compact(n.Purposes)
	n.Regime = strings.ToUpper(strings.TrimSpace(l.Regime))
	n.RetainUntil = l.RetainUntil.UTC()
	n.Expires = l.Expires.UTC()
	n.ReviewBy = l.ReviewBy.UTC()
	n.Successor = strings.TrimSpace(l.Successor)
	if l.Reliability >= 'a' && l.Reliability <= 'z' {
		n.Reliability = l.Reliability - 'a' + 'A'
	}
	n.Exercise = collapse(l.Exercise)
	return n
}

// Equal reports whether a and b are the same label once normalised.
func Equal(a, b tearline.Label) bool {
	return reflect.DeepEqual(Normalize(a), Normalize(b))
}

// normCategories merges categories of the same type, name and narrowing,
// normalises their values and sorts them: by type (restrictive,
// permissive, informative), then name.
func normCategories(cs []tearline.Category) []tearline.Category {
	var out []tearline.Category
	for _, c := range cs {
		c.Name = collapse(c.Name)
		if strings.EqualFold(c.Name, tearline.CategoryRelTo) {
			c.Name = tearline.CategoryRelTo
		}
		i := slices.IndexFunc(out, func(o tearline.Category) bool {
			return o.Type == c.Type && o.Name == c.Name && o.Narrowing == c.Narrowing
		})
		if i < 0 {
			out = append(out, tearline.Category{Type: c.Type, Name: c.Name, Narrowing: c.Narrowing, Values: slices.Clone(c.Values)})
			continue
		}
		out[i].Values = append(out[i].Values, c.Values...)
	}
	for i := range out {
		out[i].Values = normCodes(out[i].Values)
		if out[i].Values == nil {
			// A category present with no values (an emptied REL TO) stays
			// distinct from an absent one.
			out[i].Values = []string{}
		}
	}
	slices.SortStableFunc(out, func(a, b tearline.Category) int {
		if c := cmp.Compare(a.Type, b.Type); c != 0 {
			return c
		}
		if a.Narrowing != b.Narrowing {
			if a.Narrowing {
				return 1
			}
			return -1
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// normCodes upper-cases, trims, deduplicates and orders a list of codes;
// an empty list is nil.
func normCodes(codes []string) []string {
	if len(codes) == 0 {
		return nil
	}
	out := make([]string, 0, len(codes))
	for _, c := range codes {
		out = append(out, collapse(strings.ToUpper(c)))
	}
	SortCodes(out)
	return slices.Compact(out)
}

// SortCodes orders partner and community codes as banners list them: USA
// first, then trigraphs alphabetically, then tetragraphs, then longer or
// shorter codes (organisations), each alphabetically.
func SortCodes(codes []string) {
	slices.SortFunc(codes, compareCodes)
}

func compareCodes(a, b string) int {
	if c := cmp.Compare(codeClass(a), codeClass(b)); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

func codeClass(c string) int {
	switch {
	case c == "USA":
		return 0
	case len(c) == 3:
		return 1
	case len(c) == 4:
		return 2
	}
	return 3
}

// validCode reports whether s can be a partner, community or organisation
// code: 2 to 32 upper-case letters, digits, '.', '-' or '_', starting with
// a letter or digit.
func validCode(s string) bool {
	if len(s) < 2 || len(s) > 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case (c == '.' || c == '-' || c == '_') && i > 0:
		default:
			return false
		}
	}
	return true
}

// collapse trims s and collapses its runs of white space to single spaces.
func collapse(s string) string {
	if collapsed(s) {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

// collapsed reports whether s is ASCII with single spaces between words and
// none around them: what collapse returns unchanged, found without
// allocating.
func collapsed(s string) bool {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf, c == '\t', c == '\n', c == '\v', c == '\f', c == '\r':
			return false
		case c == ' ' && (i == 0 || i == len(s)-1 || s[i+1] == ' '):
			return false
		}
	}
	return true
}

// printable reports whether s is valid UTF-8 without control characters.
func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return false
		}
	}
	return true
}
