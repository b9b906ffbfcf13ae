package label

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline"
)

func mustParse(t *testing.T, banner string) tearline.Label {
	t.Helper()
	l, err := Parse(banner)
	if err != nil {
		t.Fatalf("Parse(%q) = %v", banner, err)
	}
	return l
}

var natoEquivalences = Equivalences{
	{From: tearline.Classification{Policy: "GBR", Level: "SECRET"}, To: tearline.Classification{Policy: "NATO", Level: "NATO SECRET"}},
	{From: tearline.Classification{Policy: "GBR", Level: "TOP SECRET"}, To: tearline.Classification{Policy: "NATO", Level: "COSMIC TOP SECRET"}},
	{From: tearline.Classification{Policy: "FRA", Level: "SECRET DÉFENSE"}, To: tearline.Classification{Policy: "GBR", Level: "SECRET"}},
}

func TestRollUp(t *testing.T) {
	nato := Communities{"NATO": {"USA", "GBR", "FRA", "DEU", "CAN", "NLD", "ITA", "ESP"}}
	cases := []struct {
		name   string
		roller Roller
		parts  []string
		want   string // the rolled-up banner
		rule   string // or the rule that stops the roll-up
		empty  []string
	}{
		{name: "highest classification", parts: []string{"SECRET", "TOP SECRET", "CONFIDENTIAL"}, want: "TOP SECRET"},
		{name: "one part", parts: []string{"nato secret//rel to gbr, usa"}, want: "NATO SECRET//REL TO USA, GBR"},
		{name: "REL TO intersection through FVEY", parts: []string{"SECRET//REL TO USA, FVEY", "SECRET//REL TO USA, GBR, FRA"}, want: "SECRET//REL TO USA, GBR"},
		{name: "FVEY in every part stays FVEY", parts: []string{"SECRET//REL TO USA, FVEY", "SECRET//REL TO USA, FVEY, FRA"}, want: "SECRET//REL TO USA, FVEY"},
		{name: "FVEY within ACGU lists", parts: []string{"SECRET//REL TO USA, ACGU", "SECRET//REL TO USA, FVEY"}, want: "SECRET//REL TO USA, AUS, CAN, GBR"},
		{name: "unknown community only matches itself", parts: []string{"SECRET//REL TO USA, CTWG", "SECRET//REL TO USA, GBR, CTWG"}, want: "SECRET//REL TO USA, CTWG"},
		{name: "communities from the caller", roller: Roller{Communities: nato}, parts: []string{"NATO SECRET//REL TO NATO", "NATO SECRET//REL TO GBR, FRA, AUS"}, want: "NATO SECRET//REL TO FRA, GBR"},
		{name: "empty REL TO intersection", parts: []string{"SECRET//REL TO USA, GBR", "SECRET//REL TO FRA"}, rule: "empty", empty: []string{tearline.CategoryRelTo}},
		{name: "classified part without REL TO", parts: []string{"SECRET//REL TO USA, GBR", "SECRET"}, rule: "empty", empty: []string{tearline.CategoryRelTo}},
		{name: "no REL TO anywhere", parts: []string{"SECRET", "CONFIDENTIAL//ORCON"}, want: "SECRET//ORCON"},
		{name: "NOFORN wins over REL TO", parts: []string{"SECRET//NOFORN", "SECRET//REL TO USA, GBR//RELIDO", "SECRET//DISPLAY ONLY FRA"}, want: "SECRET//NOFORN"},
		{name: "TLP-only part leaves REL TO alone", parts: []string{"TLP:GREEN", "SECRET//REL TO USA, GBR"}, want: "SECRET//REL TO USA, GBR//TLP:GREEN"},
		{name: "EYES ONLY intersected", parts: []string{"SECRET//EYES ONLY USA, GBR", "SECRET//EYES ONLY GBR, USA, CAN"}, want: "SECRET//EYES ONLY USA, GBR"},
		{name: "EYES ONLY read as a release list", parts: []string{"SECRET//EYES ONLY USA, GBR", "SECRET//REL TO USA, GBR, CAN"}, want: "SECRET//EYES ONLY USA, GBR"},
		{name: "DISPLAY ONLY kept for those every part may show", parts: []string{"SECRET//REL TO USA, GBR, FRA", "SECRET//REL TO USA, GBR//DISPLAY ONLY FRA, DEU"}, want: "SECRET//REL TO USA, GBR//DISPLAY ONLY FRA"},
		{name: "DISPLAY ONLY dropped when a part cannot show", parts: []string{"SECRET//REL TO USA", "SECRET//REL TO USA//DISPLAY ONLY FRA"}, want: "SECRET//REL TO USA"},
		{name: "RELIDO only if every part", parts: []string{"SECRET//REL TO USA, GBR//RELIDO", "SECRET//REL TO USA, GBR"}, want: "SECRET//REL TO USA, GBR"},
		{name: "RELIDO in every part", parts: []string{"SECRET//RELIDO", "CONFIDENTIAL//RELIDO", "TLP:AMBER"}, want: "SECRET//RELIDO//TLP:AMBER"},
		{name: "FOUO dropped on a classified whole", parts: []string{"UNCLASSIFIED//FOUO", "CONFIDENTIAL"}, want: "CONFIDENTIAL"},
		{name: "FOUO kept on an unclassified whole", parts: []string{"UNCLASSIFIED//FOUO", "UNCLASSIFIED"}, want: "UNCLASSIFIED//FOUO"},
		{name: "restrictive categories united", parts: []string{"NATO SECRET//ATOMAL", "NATO RESTRICTED//RESTRICTIVE Additional Sensitivity: BOHEMIA"}, want: "NATO SECRET//RESTRICTIVE Additional Sensitivity: ATOMAL, BOHEMIA"},
		{name: "narrowing category missing counts as all", parts: []string{"NATO SECRET//NARROWING Only: NATO, EU", "NATO SECRET"}, want: "NATO SECRET//NARROWING Only: NATO, EU"},
		{name: "narrowing category intersected", parts: []string{"NATO SECRET//NARROWING Only: NATO, EU", "NATO CONFIDENTIAL//NARROWING Only: EU"}, want: "NATO SECRET//NARROWING Only: EU"},
		{name: "narrowing category emptied", parts: []string{"NATO SECRET//NARROWING Only: NATO", "NATO CONFIDENTIAL//NARROWING Only: EU"}, rule: "empty", empty: []string{"Only"}},
		{name: "expanding category missing counts as none", parts: []string{"NATO SECRET//PERMISSIVE Mission: ISAF", "NATO SECRET"}, rule: "empty", empty: []string{"Mission"}},
		{name: "informative categories united", parts: []string{"SECRET//INFORMATIVE Note: A", "SECRET//INFORMATIVE Note: B"}, want: "SECRET//INFORMATIVE Note: A, B"},
		{name: "category types differ", parts: []string{"SECRET//INFORMATIVE Mission: A", "SECRET//RESTRICTIVE Mission: A"}, rule: "category-types-differ"},
		{name: "controls, handling and originators united", parts: []string{"GBR SECRET//ORCON//H2//ORIGINATOR GBR", "FRA SECRET//H3 no court use//H0//ORIGINATOR FRA"},
			roller: Roller{Equivalences: natoEquivalences}, want: "GBR SECRET//ORCON//H0//H2//H3 no court use//ORIGINATOR FRA, GBR"},
		{name: "H3 texts joined", parts: []string{"H3 no court use", "H3 CT unit only", "H3 no court use"}, want: "H3 no court use; CT unit only"},
		{name: "strictest TLP and PAP", parts: []string{"TLP:AMBER//PAP:GREEN", "TLP:AMBER+STRICT", "TLP:CLEAR//PAP:AMBER"}, want: "TLP:AMBER+STRICT//PAP:AMBER"},
		{name: "strictest IEP fields", parts: []string{
			"IEP:ENCRYPT=MAY,ACTIONS=EXTERNALLY-VISIBLE-DIRECT-ACTIONS,NOTIFY=MAY,TLP=GREEN,RESALE=MAY,START=2025-01-01,END=2026-01-01",
			"IEP:ENCRYPT=MUST,ACTIONS=INTERNALLY-VISIBLE-ACTIONS,TLP=AMBER,ATTRIBUTION=MUST,START=2025-03-01,END=2025-12-01",
		}, want: "TLP:AMBER//IEP:ENCRYPT=MUST,ACTIONS=INTERNALLY-VISIBLE-ACTIONS,TLP=AMBER,ATTRIBUTION=MUST,START=2025-03-01,END=2025-12-01"},
		{name: "IEP permissions kept when all give them", parts: []string{"IEP:NOTIFY=MAY,RESALE=MAY,ENCRYPT=MAY", "IEP:NOTIFY=MAY,RESALE=MAY"}, want: "IEP:ENCRYPT=MAY,NOTIFY=MAY,RESALE=MAY"},
		{name: "IEP attribution must and must-not", parts: []string{"IEP:ATTRIBUTION=MUST", "IEP:ATTRIBUTION=MUST-NOT"}, rule: "iep-attribution"},
		{name: "purposes intersected", parts: []string{"TLP:GREEN//PURPOSE intel, law enforcement", "PURPOSE law enforcement, prosecution", "TLP:AMBER"}, want: "TLP:AMBER//PURPOSE law enforcement"},
		{name: "purposes emptied", parts: []string{"TLP:GREEN//PURPOSE intel", "TLP:GREEN//PURPOSE prosecution"}, rule: "empty", empty: []string{"Purpose"}},
		{name: "earliest dates", parts: []string{"TLP:GREEN//EXPIRES 2027-01-01//RETAIN UNTIL 2030-01-01", "TLP:GREEN//EXPIRES 2026-06-30//REVIEW BY 2026-01-01", "TLP:GREEN//SUPERSEDED BY marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
			want: "TLP:GREEN//EXPIRES 2026-06-30//RETAIN UNTIL 2030-01-01//REVIEW BY 2026-01-01"},
		{name: "personal data and regime", parts: []string{"TLP:GREEN//PERSONAL DATA", "TLP:GREEN//PERSONAL DATA LED"}, want: "TLP:GREEN//PERSONAL DATA LED"},
		{name: "two regimes", parts: []string{"PERSONAL DATA GDPR", "PERSONAL DATA LED"}, rule: "personal-data-regimes"},
		{name: "grading kept when shared", parts: []string{"TLP:GREEN//GRADE B2", "TLP:AMBER//GRADE B2"}, want: "TLP:AMBER//GRADE B2"},
		{name: "grading dropped when it differs", parts: []string{"TLP:GREEN//GRADE B2", "TLP:AMBER//GRADE A1"}, want: "TLP:AMBER"},
		{name: "exercise spreads", parts: []string{"EXERCISE Blue Flag//TLP:GREEN", "TLP:AMBER"}, want: "EXERCISE Blue Flag//TLP:AMBER"},
		{name: "two exercises", parts: []string{"EXERCISE Blue Flag//TLP:GREEN", "EXERCISE Red Flag//TLP:GREEN"}, rule: "exercise-mixed"},
		{name: "policies without equivalence", parts: []string{"NATO SECRET", "GBR SECRET"}, rule: "classification-policies-unordered"},
		{name: "policies mapped to the first", roller: Roller{Equivalences: natoEquivalences}, parts: []string{"NATO SECRET//REL TO GBR", "GBR TOP SECRET//REL TO GBR"}, want: "COSMIC TOP SECRET//REL TO GBR"},
		{name: "policies mapped to the second", roller: Roller{Equivalences: natoEquivalences}, parts: []string{"FRA SECRET", "GBR SECRET", "NATO SECRET"}, want: "GBR SECRET"},
		{name: "no common policy", roller: Roller{Equivalences: natoEquivalences}, parts: []string{"DEU GEHEIM", "NATO SECRET"}, rule: "classification-policies-unordered"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var parts []tearline.Label
			for _, b := range c.parts {
				parts = append(parts, mustParse(t, b))
			}
			got, err := c.roller.RollUp(parts...)
			switch c.rule {
			case "":
				if err != nil {
					t.Fatalf("RollUp(%q) = %v; want %q", c.parts, err, c.want)
				}
				if f := Format(got); f != c.want {
					t.Errorf("RollUp(%q) = %q; want %q", c.parts, f, c.want)
				}
				if err := Validate(got); err != nil {
					t.Errorf("Validate(RollUp(%q)) = %v", c.parts, err)
				}
				if !reflect.DeepEqual(got, Normalize(got)) {
					t.Errorf("RollUp(%q) = %+v is not normalised", c.parts, got)
				}
			case "empty":
				var ee *EmptyReleaseError
				if !errors.As(err, &ee) || !errors.Is(err, ErrEmptyRelease) || !errors.Is(err, ErrNeedsPerson) {
					t.Fatalf("RollUp(%q) = %q, %v; want an *EmptyReleaseError", c.parts, Format(got), err)
				}
				if !slices.Equal(ee.Categories, c.empty) {
					t.Errorf("RollUp(%q) emptied %q; want %q", c.parts, ee.Categories, c.empty)
				}
				// A caller that ignores the error must still deny: the label
				// is invalid, or allows no purpose.
				if Validate(got) == nil && !slices.Equal(got.Purposes, []string{NoPurpose}) {
					t.Errorf("RollUp(%q) = %q with an empty release is usable", c.parts, Format(got))
				}
			default:
				var re *RuleError
				if !errors.As(err, &re) || re.Rule != c.rule || !errors.Is(err, ErrNeedsPerson) {
					t.Fatalf("RollUp(%q) = %q, %v; want rule %s needing a person", c.parts, Format(got), err, c.rule)
				}
			}
		})
	}
}

// TestRollUpEmptyRelease: the emptied label is returned, REL TO present
// with no values, so that nobody holds a value of it.
func TestRollUpEmptyRelease(t *testing.T) {
	got, err := RollUp(mustParse(t, "SECRET//REL TO USA, GBR//ORCON"), mustParse(t, "CONFIDENTIAL//REL TO FRA, DEU"))
	if !errors.Is(err, ErrEmptyRelease) {
		t.Fatalf("RollUp = %v; want ErrEmptyRelease", err)
	}
	if got.Classification != "SECRET" || !got.ORCON {
		t.Errorf("RollUp = %+v; want the rest of the roll-up kept (SECRET, ORCON)", got)
	}
	vals, ok := categoryValues(got, tearline.CategoryRelTo)
	if !ok || vals == nil || len(vals) != 0 {
		t.Errorf("RollUp REL TO = %q, present %v; want present with no values", vals, ok)
	}
	if !strings.Contains(err.Error(), tearline.CategoryRelTo) {
		t.Errorf("error %q does not name the category", err)
	}
	var rerr *RuleError
	if err := Validate(got); !errors.As(err, &rerr) || rerr.Rule != "category-without-values" {
		t.Errorf("Validate(emptied label) = %v; want category-without-values", err)
	}
}

func TestRollUpErrors(t *testing.T) {
	if _, err := RollUp(); !errors.Is(err, ErrNeedsPerson) {
		t.Errorf("RollUp() = %v; want ErrNeedsPerson", err)
	}
	_, err := RollUp(secret(), tearline.Label{Policy: "USA", Classification: "SECRET", NoForn: true, Categories: []tearline.Category{relTo("GBR")}})
	var re *RuleError
	if !errors.As(err, &re) || re.Rule != "relto-with-noforn" || !errors.Is(err, tearline.ErrInvalid) || !strings.Contains(err.Error(), "part 1") {
		t.Errorf("RollUp(valid, invalid) = %v; want part 1's relto-with-noforn", err)
	}
}

// TestRollUpNeverWidens cross-checks the roll-up with a direct reading of
// the rule: every partner the roll-up releases to is released to by every
// classified part, and no restriction of a part is lost.
func TestRollUpNeverWidens(t *testing.T) {
	banners := []string{
		"SECRET//REL TO USA, FVEY", "SECRET//REL TO USA, GBR, FRA", "TOP SECRET//REL TO USA, ACGU", "CONFIDENTIAL//REL TO USA, TEYE, DEU",
		"SECRET//REL TO USA, NZL//ORCON", "SECRET//REL TO USA, AUS, CAN, GBR, NZL//H2", "TLP:AMBER", "SECRET//EYES ONLY USA, GBR",
	}
	x := KnownCommunities()
	members := func(codes []string) map[string]bool {
		m := map[string]bool{}
		for _, c := range codes {
			m[c] = true
			for _, mm := range x.Members(c) {
				m[mm] = true
			}
		}
		return m
	}
	for i := range banners {
		for j := range banners {
			a, b := mustParse(t, banners[i]), mustParse(t, banners[j])
			got, err := RollUp(a, b)
			if err != nil {
				if errors.Is(err, ErrEmptyRelease) {
					continue
				}
				t.Fatalf("RollUp(%q, %q) = %v", banners[i], banners[j], err)
			}
			rel, _ := categoryValues(got, tearline.CategoryRelTo)
			for p := range members(append(rel, got.EyesOnly...)) {
				for _, part := range []tearline.Label{a, b} {
					if part.Policy == "" {
						continue
					}
					pr, _ := categoryValues(part, tearline.CategoryRelTo)
					if !members(append(pr, part.EyesOnly...))[p] {
						t.Errorf("RollUp(%q, %q) = %q releases to %s, which %q does not", banners[i], banners[j], Format(got), p, Format(part))
					}
				}
			}
			for _, part := range []tearline.Label{a, b} {
				if part.ORCON && !got.ORCON || len(part.Handling) > len(got.Handling) || part.TLP > got.TLP {
					t.Errorf("RollUp(%q, %q) = %q loses a restriction of %q", banners[i], banners[j], Format(got), Format(part))
				}
			}
		}
	}
}
