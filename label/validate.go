package label

import (
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// Validate checks that l is a well-formed, consistent label and returns a
// *RuleError naming the first rule it breaks (unwrapping to
// tearline.ErrInvalid), or nil. It checks l's normal form (see Normalize),
// so aliases and lower-case codes are accepted; store the normal form.
//
// The rules, by name:
//
//   - empty-label: the label marks nothing.
//   - missing-policy, unknown-policy, missing-classification,
//     unknown-classification: the classification is incomplete or not a
//     level of a known scheme (fail closed: see LookupScheme).
//   - control-without-classification: dissemination controls and
//     categories belong to a classification.
//   - relto-with-noforn, eyes-with-noforn, eyes-with-relto,
//     eyes-without-list, display-only-with-relido, display-only-with-noforn,
//     display-only-without-list, relido-with-noforn: contradictory or
//     incomplete ISM dissemination controls.
//   - orcon-on-unclassified, fouo-on-classified.
//   - invalid-code, category-name, category-value, category-type,
//     category-without-values, category-conflict, relto-category: malformed
//     codes and categories.
//   - unknown-handling-code, h3-without-text, h3-text-without-h3,
//     invalid-text: SIENA handling codes and free text.
//   - unknown-tlp, unknown-pap; iep-encrypt-in-transit,
//     iep-permitted-actions, iep-attribution, iep-dates, iep-tlp-mismatch.
//   - invalid-purpose, purpose-none-with-others, regime-without-personal-data,
//     invalid-regime.
//   - reliability-range (A-F), credibility-range (1-6), grading-incomplete.
//   - invalid-date, invalid-successor.
func Validate(l tearline.Label) error {
	// A list present but empty is only visible before normalisation.
	if l.DisplayOnly != nil && len(l.DisplayOnly) == 0 {
		return invalid("display-only-without-list", "DISPLAY ONLY needs the codes of those who may be shown the information")
	}
	if l.EyesOnly != nil && len(l.EyesOnly) == 0 {
		return invalid("eyes-without-list", "EYES ONLY needs the codes of those who may see the information")
	}
	n := Normalize(l)
	for _, check := range []func(tearline.Label) error{
		checkNotEmpty, checkClassification, checkCodes, checkCategories,
		checkControls, checkHandling, checkProtocols, checkPurposes,
		checkGrading, checkDates,
	} {
		if err := check(n); err != nil {
			return err
		}
	}
	return nil
}

func checkNotEmpty(l tearline.Label) error {
	if l.Policy == "" && l.Classification == "" && len(l.Categories) == 0 &&
		!l.NoForn && !l.ORCON && !l.RelIDO && len(l.DisplayOnly) == 0 && len(l.EyesOnly) == 0 && !l.FOUO &&
		len(l.Handling) == 0 && l.H3Text == "" && l.TLP == tearline.TLPNone && l.PAP == tearline.TLPNone && l.IEP == nil &&
		len(l.Purposes) == 0 && !l.PersonalData && l.Regime == "" &&
		l.RetainUntil.IsZero() && l.Expires.IsZero() && l.ReviewBy.IsZero() && l.Successor == "" &&
		len(l.Originators) == 0 && l.Reliability == 0 && l.Credibility == 0 && l.Exercise == "" {
		return invalid("empty-label", "the label marks nothing")
	}
	return nil
}

func checkClassification(l tearline.Label) error {
	switch {
	case l.Policy == "" && l.Classification != "":
		return invalid("missing-policy", "classification %q has no policy (scheme)", l.Classification)
	case l.Policy == "":
		if l.NoForn || l.ORCON || l.RelIDO || len(l.DisplayOnly) > 0 || len(l.EyesOnly) > 0 || l.FOUO || len(l.Categories) > 0 {
			return invalid("control-without-classification", "dissemination controls and categories need a classification")
		}
		return nil
	}
	s, ok := LookupScheme(l.Policy)
	if !ok {
		return invalid("unknown-policy", "%q is not a known classification policy", l.Policy)
	}
	if l.Classification == "" {
		return invalid("missing-classification", "policy %s has no classification level", l.Policy)
	}
	if _, ok := s.Rank(l.Classification); !ok {
		return invalid("unknown-classification", "%q is not a level of %s (%s)", l.Classification, s.Policy, strings.Join(s.Levels(), ", "))
	}
	return nil
}

func checkCodes(l tearline.Label) error {
	for _, list := range []struct {
		name  string
		codes []string
	}{{"DISPLAY ONLY", l.DisplayOnly}, {"EYES ONLY", l.EyesOnly}, {"ORIGINATOR", l.Originators}} {
		for _, c := range list.codes {
			if !validCode(c) {
				return invalid("invalid-code", "%s: %q is not a partner, community or organisation code", list.name, c)
			}
		}
	}
	return nil
}

func checkCategories(l tearline.Label) error {
	seen := map[string]tearline.Category{}
	for _, c := range l.Categories {
		if c.Type < tearline.Restrictive || c.Type > tearline.Informative {
			return invalid("category-type", "category %q has an unknown type %d", c.Name, c.Type)
		}
		if c.Narrowing && c.Type != tearline.Permissive {
			return invalid("category-type", "category %q: only a permissive category can be narrowing", c.Name)
		}
		if msg := checkCategoryName(c.Name); msg != "" {
			return invalid("category-name", "category %q: %s", c.Name, msg)
		}
		if prev, dup := seen[c.Name]; dup && (prev.Type != c.Type || prev.Narrowing != c.Narrowing) {
			return invalid("category-conflict", "category %q is given two types", c.Name)
		}
		seen[c.Name] = c
		if c.Name == tearline.CategoryRelTo && (c.Type != tearline.Permissive || c.Narrowing) {
			return invalid("relto-category", "%q must be a permissive, expanding category", c.Name)
		}
		if len(c.Values) == 0 {
			if c.Name == tearline.CategoryRelTo {
				return invalid("category-without-values", "REL TO has no codes: nobody may receive the information")
			}
			return invalid("category-without-values", "category %q has no values", c.Name)
		}
		for _, v := range c.Values {
			if c.Name == tearline.CategoryRelTo && !validCode(v) {
				return invalid("invalid-code", "REL TO: %q is not a partner, community or organisation code", v)
			}
			if msg := checkValue(v); msg != "" {
				return invalid("category-value", "category %q: value %q: %s", c.Name, v, msg)
			}
		}
	}
	return nil
}

func checkCategoryName(name string) string {
	switch {
	case name == "":
		return "empty name"
	case strings.ContainsAny(name, ":,"):
		return "a category name cannot contain ':' or ','"
	case badText(name):
		return `a category name cannot contain "//" or control characters, or end with "/"`
	}
	return ""
}

func checkValue(v string) string {
	switch {
	case v == "":
		return "empty value"
	case strings.Contains(v, ","):
		return "a value cannot contain ','"
	case badText(v):
		return `a value cannot contain "//" or control characters, or end with "/"`
	}
	return ""
}

func checkControls(l tearline.Label) error {
	relTo := hasCategory(l, tearline.CategoryRelTo)
	switch {
	case relTo && l.NoForn:
		return invalid("relto-with-noforn", "REL TO and NOFORN contradict each other: NOFORN forbids any foreign release")
	case len(l.EyesOnly) > 0 && l.NoForn:
		return invalid("eyes-with-noforn", "EYES ONLY and NOFORN contradict each other")
	case len(l.EyesOnly) > 0 && relTo:
		return invalid("eyes-with-relto", "EYES ONLY and REL TO are two release lists for the same information")
	case len(l.DisplayOnly) > 0 && l.RelIDO:
		return invalid("display-only-with-relido", "DISPLAY ONLY and RELIDO cannot be combined")
	case len(l.DisplayOnly) > 0 && l.NoForn:
		return invalid("display-only-with-noforn", "DISPLAY ONLY and NOFORN contradict each other")
	case l.RelIDO && l.NoForn:
		return invalid("relido-with-noforn", "RELIDO and NOFORN contradict each other")
	}
	if l.Policy == "" {
		return nil
	}
	s, _ := LookupScheme(l.Policy)
	unclassified := s.Unclassified(l.Classification)
	if l.ORCON && unclassified {
		return invalid("orcon-on-unclassified", "ORCON cannot mark %s information", l.Classification)
	}
	if l.FOUO && !unclassified {
		return invalid("fouo-on-classified", "FOUO cannot mark %s %s information", l.Policy, l.Classification)
	}
	return nil
}

func hasCategory(l tearline.Label, name string) bool {
	for _, c := range l.Categories {
		if c.Name == name {
			return true
		}
	}
	return false
}

func checkHandling(l tearline.Label) error {
	h3 := false
	for _, h := range l.Handling {
		if h < tearline.H0 || h > tearline.H3 {
			return invalid("unknown-handling-code", "handling code %d is not one of H0 to H3", h)
		}
		h3 = h3 || h == tearline.H3
	}
	switch {
	case h3 && l.H3Text == "":
		return invalid("h3-without-text", "H3 needs the text of its restrictions")
	case !h3 && l.H3Text != "":
		return invalid("h3-text-without-h3", "H3 text is given without the H3 code")
	}
	for _, t := range []struct{ what, text string }{{"H3 text", l.H3Text}, {"exercise name", l.Exercise}} {
		if badText(t.text) {
			return invalid("invalid-text", "%s %q contains \"//\", control characters or ends with \"/\"", t.what, t.text)
		}
	}
	return nil
}

var permittedActions = []string{
	"none", "contact-for-instruction", "internally-visible-actions",
	"externally-visible-indirect-actions", "externally-visible-direct-actions",
}

func checkProtocols(l tearline.Label) error {
	if l.TLP > tearline.TLPRed {
		return invalid("unknown-tlp", "TLP value %d is not a TLP 2.0 colour", l.TLP)
	}
	if l.PAP > tearline.TLPRed || l.PAP == tearline.TLPAmberStrict {
		return invalid("unknown-pap", "PAP has no colour %s", tlpName(l.PAP))
	}
	iep := l.IEP
	if iep == nil {
		return nil
	}
	switch {
	case iep.EncryptInTransit != "" && iep.EncryptInTransit != "must" && iep.EncryptInTransit != "may":
		return invalid("iep-encrypt-in-transit", "IEP encrypt_in_transit %q is neither must nor may", iep.EncryptInTransit)
	case iep.PermittedActions != "" && !slices.Contains(permittedActions, iep.PermittedActions):
		return invalid("iep-permitted-actions", "IEP permitted_actions %q is not an IEP 2.0 value", iep.PermittedActions)
	case iep.TLP > tearline.TLPRed:
		return invalid("unknown-tlp", "IEP TLP value %d is not a TLP 2.0 colour", iep.TLP)
	case iep.Attribution && iep.NoAttribution:
		return invalid("iep-attribution", "IEP provider attribution cannot be both must and must-not")
	case !iep.StartDate.IsZero() && !iep.EndDate.IsZero() && iep.EndDate.Before(iep.StartDate):
		return invalid("iep-dates", "IEP end date %s is before its start date %s", formatTime(iep.EndDate), formatTime(iep.StartDate))
	case iep.TLP != tearline.TLPNone && l.TLP != tearline.TLPNone && iep.TLP != l.TLP:
		return invalid("iep-tlp-mismatch", "the IEP policy says TLP:%s but the label TLP:%s", tlpName(iep.TLP), tlpName(l.TLP))
	}
	return nil
}

func checkPurposes(l tearline.Label) error {
	for _, p := range l.Purposes {
		if p == "" || strings.ContainsAny(p, ",") || badText(p) {
			return invalid("invalid-purpose", "purpose %q must be a short phrase without commas, \"//\" or control characters", p)
		}
	}
	if len(l.Purposes) > 1 && slices.Contains(l.Purposes, NoPurpose) {
		return invalid("purpose-none-with-others", "purpose %q cannot be combined with other purposes", NoPurpose)
	}
	if l.Regime != "" && !l.PersonalData {
		return invalid("regime-without-personal-data", "legal regime %s is given but the label does not mark personal data", l.Regime)
	}
	if l.Regime != "" && !validCode(l.Regime) {
		return invalid("invalid-regime", "%q is not a regime code", l.Regime)
	}
	return nil
}

func checkGrading(l tearline.Label) error {
	if l.Reliability != 0 && (l.Reliability < 'A' || l.Reliability > 'F') {
		return invalid("reliability-range", "source reliability %q is outside A-F", string(rune(l.Reliability)))
	}
	if l.Credibility != 0 && (l.Credibility < 1 || l.Credibility > 6) {
		return invalid("credibility-range", "information credibility %d is outside 1-6", l.Credibility)
	}
	if (l.Reliability == 0) != (l.Credibility == 0) {
		return invalid("grading-incomplete", "a grading needs both a reliability letter and a credibility digit")
	}
	return nil
}

func checkDates(l tearline.Label) error {
	type dated struct {
		what string
		t    time.Time
	}
	dates := []dated{{"expiry", l.Expires}, {"retention", l.RetainUntil}, {"review", l.ReviewBy}}
	if l.IEP != nil {
		dates = append(dates, dated{"IEP start", l.IEP.StartDate}, dated{"IEP end", l.IEP.EndDate})
	}
	for _, d := range dates {
		if !d.t.IsZero() && (d.t.Year() < 1 || d.t.Year() > 9999) {
			return invalid("invalid-date", "%s date is outside the years 1 to 9999", d.what)
		}
	}
	if l.Successor != "" && !isMarkingID(l.Successor) {
		return invalid("invalid-successor", "successor %q is not a marking-definition id", l.Successor)
	}
	return nil
}

// badText reports whether free text cannot stand in a banner part: it
// holds the "//" separator or control characters, or ends with "/" (which
// would run into the separator after it).
func badText(s string) bool {
	return strings.Contains(s, "//") || strings.HasSuffix(s, "/") || !printable(s)
}

// isMarkingID reports whether s is marking-definition--UUID, the UUID in
// lower-case hexadecimal.
func isMarkingID(s string) bool {
	u, ok := strings.CutPrefix(s, "marking-definition--")
	if !ok || len(u) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := u[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
