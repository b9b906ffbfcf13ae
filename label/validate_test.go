package label

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

func secret() tearline.Label { return tearline.Label{Policy: "USA", Classification: "SECRET"} }

func with(l tearline.Label, f func(*tearline.Label)) tearline.Label {
	f(&l)
	return l
}

// validateCases are labels Validate refuses, built directly, with the rule
// each breaks: among them those a banner cannot express.
var validateCases = []struct {
	name string
	l    tearline.Label
	rule string
}{
	{"zero label", tearline.Label{}, "empty-label"},
	{"classification without policy", tearline.Label{Classification: "SECRET"}, "missing-policy"},
	{"unknown policy", tearline.Label{Policy: "XYZ", Classification: "SECRET"}, "unknown-policy"},
	{"policy without classification", tearline.Label{Policy: "GBR"}, "missing-classification"},
	{"unknown level", tearline.Label{Policy: "GBR", Classification: "RESTRICTED"}, "unknown-classification"},
	{"NOFORN without classification", tearline.Label{NoForn: true, TLP: tearline.TLPAmber}, "control-without-classification"},
	{"REL TO with NOFORN", with(secret(), func(l *tearline.Label) { l.NoForn = true; l.Categories = []tearline.Category{relTo("GBR")} }), "relto-with-noforn"},
	{"EYES with NOFORN", with(secret(), func(l *tearline.Label) { l.NoForn = true; l.EyesOnly = []string{"GBR"} }), "eyes-with-noforn"},
	{"EYES with REL TO", with(secret(), func(l *tearline.Label) {
		l.EyesOnly = []string{"GBR"}
		l.Categories = []tearline.Category{relTo("GBR")}
	}), "eyes-with-relto"},
	{"EYES empty list", with(secret(), func(l *tearline.Label) { l.EyesOnly = []string{} }), "eyes-without-list"},
	{"DISPLAY ONLY with RELIDO", with(secret(), func(l *tearline.Label) { l.DisplayOnly = []string{"FRA"}; l.RelIDO = true }), "display-only-with-relido"},
	{"DISPLAY ONLY with NOFORN", with(secret(), func(l *tearline.Label) { l.DisplayOnly = []string{"FRA"}; l.NoForn = true }), "display-only-with-noforn"},
	{"DISPLAY ONLY empty list", with(secret(), func(l *tearline.Label) { l.DisplayOnly = []string{} }), "display-only-without-list"},
	{"RELIDO with NOFORN", with(secret(), func(l *tearline.Label) { l.RelIDO = true; l.NoForn = true }), "relido-with-noforn"},
	{"ORCON on UNCLASSIFIED", tearline.Label{Policy: "USA", Classification: "UNCLASSIFIED", ORCON: true}, "orcon-on-unclassified"},
	{"ORCON on AUS UNOFFICIAL", tearline.Label{Policy: "AUS", Classification: "UNOFFICIAL", ORCON: true}, "orcon-on-unclassified"},
	{"FOUO on GBR OFFICIAL", tearline.Label{Policy: "GBR", Classification: "OFFICIAL", FOUO: true}, "fouo-on-classified"},
	{"bad display code", with(secret(), func(l *tearline.Label) { l.DisplayOnly = []string{"F R A"} }), "invalid-code"},
	{"bad originator", tearline.Label{TLP: tearline.TLPGreen, Originators: []string{"G"}}, "invalid-code"},
	{"bad REL TO code", with(secret(), func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("GBR", "-X")} }), "invalid-code"},
	{"category type 0", with(secret(), func(l *tearline.Label) { l.Categories = []tearline.Category{{Name: "X", Values: []string{"A"}}} }), "category-type"},
	{"narrowing restrictive", with(secret(), func(l *tearline.Label) {
		l.Categories = []tearline.Category{{Type: tearline.Restrictive, Name: "X", Values: []string{"A"}, Narrowing: true}}
	}), "category-type"},
	{"category name with colon", with(secret(), func(l *tearline.Label) {
		l.Categories = []tearline.Category{{Type: tearline.Restrictive, Name: "A:B", Values: []string{"A"}}}
	}), "category-name"},
	{"category value ending in slash", with(secret(), func(l *tearline.Label) {
		l.Categories = []tearline.Category{{Type: tearline.Restrictive, Name: "A", Values: []string{"B/"}}}
	}), "category-value"},
	{"category without values", with(secret(), func(l *tearline.Label) { l.Categories = []tearline.Category{{Type: tearline.Restrictive, Name: "A"}} }), "category-without-values"},
	{"empty REL TO", with(secret(), func(l *tearline.Label) { l.Categories = []tearline.Category{relTo()} }), "category-without-values"},
	{"category with two types", with(secret(), func(l *tearline.Label) {
		l.Categories = []tearline.Category{{Type: tearline.Restrictive, Name: "A", Values: []string{"X"}}, {Type: tearline.Informative, Name: "A", Values: []string{"Y"}}}
	}), "category-conflict"},
	{"restrictive REL TO", with(secret(), func(l *tearline.Label) {
		l.Categories = []tearline.Category{{Type: tearline.Restrictive, Name: tearline.CategoryRelTo, Values: []string{"GBR"}}}
	}), "relto-category"},
	{"handling code 9", tearline.Label{Handling: []tearline.HandlingCode{9}}, "unknown-handling-code"},
	{"handling code 0", tearline.Label{Handling: []tearline.HandlingCode{0}}, "unknown-handling-code"},
	{"H3 without text", tearline.Label{Handling: []tearline.HandlingCode{tearline.H3}}, "h3-without-text"},
	{"H3 text without H3", tearline.Label{Handling: []tearline.HandlingCode{tearline.H2}, H3Text: "x"}, "h3-text-without-h3"},
	{"H3 text with separator", tearline.Label{Handling: []tearline.HandlingCode{tearline.H3}, H3Text: "a//b"}, "invalid-text"},
	{"exercise with control character", tearline.Label{TLP: tearline.TLPRed, Exercise: "a\x07"}, "invalid-text"},
	{"TLP 9", tearline.Label{TLP: 9}, "unknown-tlp"},
	{"PAP AMBER+STRICT", tearline.Label{PAP: tearline.TLPAmberStrict}, "unknown-pap"},
	{"IEP encrypt", tearline.Label{IEP: &tearline.IEP{EncryptInTransit: "never"}}, "iep-encrypt-in-transit"},
	{"IEP actions", tearline.Label{IEP: &tearline.IEP{PermittedActions: "all"}}, "iep-permitted-actions"},
	{"IEP attribution both", tearline.Label{IEP: &tearline.IEP{Attribution: true, NoAttribution: true}}, "iep-attribution"},
	{"IEP dates", tearline.Label{IEP: &tearline.IEP{StartDate: date("2025-02-01"), EndDate: date("2025-01-01")}}, "iep-dates"},
	{"IEP TLP mismatch", tearline.Label{TLP: tearline.TLPGreen, IEP: &tearline.IEP{TLP: tearline.TLPRed}}, "iep-tlp-mismatch"},
	{"purpose with comma", tearline.Label{TLP: tearline.TLPGreen, Purposes: []string{"a,b"}}, "invalid-purpose"},
	{"purpose none with others", tearline.Label{TLP: tearline.TLPGreen, Purposes: []string{"intel", NoPurpose}}, "purpose-none-with-others"},
	{"regime without personal data", tearline.Label{TLP: tearline.TLPGreen, Regime: "GDPR"}, "regime-without-personal-data"},
	{"regime not a code", tearline.Label{PersonalData: true, Regime: "EU GDPR"}, "invalid-regime"},
	{"reliability Z", tearline.Label{TLP: tearline.TLPGreen, Reliability: 'Z', Credibility: 2}, "reliability-range"},
	{"credibility 7", tearline.Label{TLP: tearline.TLPGreen, Reliability: 'B', Credibility: 7}, "credibility-range"},
	{"credibility -1", tearline.Label{TLP: tearline.TLPGreen, Reliability: 'B', Credibility: -1}, "credibility-range"},
	{"reliability alone", tearline.Label{TLP: tearline.TLPGreen, Reliability: 'B'}, "grading-incomplete"},
	{"credibility alone", tearline.Label{TLP: tearline.TLPGreen, Credibility: 3}, "grading-incomplete"},
	{"year 10000", tearline.Label{TLP: tearline.TLPGreen, Expires: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, "invalid-date"},
	{"successor", tearline.Label{TLP: tearline.TLPGreen, Successor: "marking-definition--55D920B0-5e8b-4f79-9ee9-91f868d9b421"}, "invalid-successor"},
}

func TestValidate(t *testing.T) {
	for _, c := range validateCases {
		t.Run(c.name, func(t *testing.T) {
			err := Validate(c.l)
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Validate(%+v) = %v; want a *RuleError for %s", c.l, err, c.rule)
			}
			if re.Rule != c.rule {
				t.Errorf("Validate(%+v) broke %s (%v); want %s", c.l, re.Rule, err, c.rule)
			}
			if !errors.Is(err, tearline.ErrInvalid) {
				t.Errorf("Validate(%+v) = %v; want it to wrap tearline.ErrInvalid", c.l, err)
			}
		})
	}
}

func TestValidateAccepts(t *testing.T) {
	for _, l := range []tearline.Label{
		secret(),
		{Policy: "usa", Classification: "top secret"}, // normalised before checking
		{TLP: tearline.TLPAmber},
		{Handling: []tearline.HandlingCode{tearline.H3}, H3Text: "only the CT unit"},
		{Policy: "USA", Classification: "UNCLASSIFIED", FOUO: true},
		{Policy: "NATO", Classification: "NATO SECRET", ORCON: true, Categories: []tearline.Category{relTo("GBR")}},
		{TLP: tearline.TLPGreen, Purposes: []string{NoPurpose}},
		{TLP: tearline.TLPRed, IEP: &tearline.IEP{TLP: tearline.TLPRed}},
		{PersonalData: true, Regime: "LED"},
	} {
		if err := Validate(l); err != nil {
			t.Errorf("Validate(%+v) = %v; want nil", l, err)
		}
	}
}

// TestEveryRuleHasAFix: every rule the package can report, found in its
// source, says what to do, so that 'tearline label check' always can.
func TestEveryRuleHasAFix(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`(?:invalid|needsPerson)\("([a-z0-9-]+)"`)
	rules := map[string]bool{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(src), -1) {
			rules[m[1]] = true
		}
	}
	if len(rules) < 40 {
		t.Fatalf("found %d rules in the source; the pattern no longer matches how rules are raised", len(rules))
	}
	for r := range rules {
		if fixes[r] == "" {
			t.Errorf("rule %s has no entry in fixes", r)
		}
	}
	for r := range fixes {
		if !rules[r] {
			t.Errorf("fixes has an entry for %s, which no code raises", r)
		}
	}
}
