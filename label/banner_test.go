package label

import (
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

func relTo(codes ...string) tearline.Category {
	return tearline.Category{Type: tearline.Permissive, Name: tearline.CategoryRelTo, Values: codes}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t, err = time.Parse(time.DateOnly, s)
	}
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// bannerCases are banners Parse accepts: the label each means and its
// canonical form.
var bannerCases = []struct {
	in    string
	want  tearline.Label
	canon string // "" when in is already canonical
}{
	// ISM / CAPCO.
	{"SECRET//REL TO USA, GBR, FVEY", tearline.Label{Policy: "USA", Classification: "SECRET", Categories: []tearline.Category{relTo("USA", "GBR", "FVEY")}}, ""},
	{"TOP SECRET//NOFORN", tearline.Label{Policy: "USA", Classification: "TOP SECRET", NoForn: true}, ""},
	{"TOP SECRET//NF", tearline.Label{Policy: "USA", Classification: "TOP SECRET", NoForn: true}, "TOP SECRET//NOFORN"},
	{"UNCLASSIFIED//FOUO", tearline.Label{Policy: "USA", Classification: "UNCLASSIFIED", FOUO: true}, ""},
	{"UNCLASSIFIED//FOR OFFICIAL USE ONLY", tearline.Label{Policy: "USA", Classification: "UNCLASSIFIED", FOUO: true}, "UNCLASSIFIED//FOUO"},
	{"SECRET//ORCON//REL TO USA, GBR", tearline.Label{Policy: "USA", Classification: "SECRET", ORCON: true, Categories: []tearline.Category{relTo("USA", "GBR")}}, ""},
	{"SECRET//OC//REL USA, GBR", tearline.Label{Policy: "USA", Classification: "SECRET", ORCON: true, Categories: []tearline.Category{relTo("USA", "GBR")}}, "SECRET//ORCON//REL TO USA, GBR"},
	{"SECRET//ORCON/NOFORN", tearline.Label{Policy: "USA", Classification: "SECRET", ORCON: true, NoForn: true}, "SECRET//ORCON//NOFORN"},
	{"SECRET//RELIDO", tearline.Label{Policy: "USA", Classification: "SECRET", RelIDO: true}, ""},
	{"SECRET//REL TO USA, GBR//RELIDO", tearline.Label{Policy: "USA", Classification: "SECRET", RelIDO: true, Categories: []tearline.Category{relTo("USA", "GBR")}}, ""},
	{"SECRET//DISPLAY ONLY FRA", tearline.Label{Policy: "USA", Classification: "SECRET", DisplayOnly: []string{"FRA"}}, ""},
	{"SECRET//REL TO USA, GBR//DISPLAY ONLY FRA, DEU", tearline.Label{Policy: "USA", Classification: "SECRET", DisplayOnly: []string{"DEU", "FRA"}, Categories: []tearline.Category{relTo("USA", "GBR")}}, "SECRET//REL TO USA, GBR//DISPLAY ONLY DEU, FRA"},
	{"SECRET//EYES ONLY USA, GBR", tearline.Label{Policy: "USA", Classification: "SECRET", EyesOnly: []string{"USA", "GBR"}}, ""},
	{"SECRET//USA/GBR EYES ONLY", tearline.Label{Policy: "USA", Classification: "SECRET", EyesOnly: []string{"USA", "GBR"}}, "SECRET//EYES ONLY USA, GBR"},
	{"CONFIDENTIAL//REL TO NATO, FVEY, NZL, GBR, USA, AUS, ACGU, EUROPOL", tearline.Label{Policy: "USA", Classification: "CONFIDENTIAL",
		Categories: []tearline.Category{relTo("USA", "AUS", "GBR", "NZL", "ACGU", "FVEY", "NATO", "EUROPOL")}}, "CONFIDENTIAL//REL TO USA, AUS, GBR, NZL, ACGU, FVEY, NATO, EUROPOL"},
	{"secret // rel to usa,gbr", tearline.Label{Policy: "USA", Classification: "SECRET", Categories: []tearline.Category{relTo("USA", "GBR")}}, "SECRET//REL TO USA, GBR"},
	{"US SECRET//AUTHORIZED FOR RELEASE TO GBR", tearline.Label{Policy: "USA", Classification: "SECRET", Categories: []tearline.Category{relTo("GBR")}}, "SECRET//REL TO GBR"},
	{"//GBR SECRET//REL TO USA, GBR", tearline.Label{Policy: "GBR", Classification: "SECRET", Categories: []tearline.Category{relTo("USA", "GBR")}}, "GBR SECRET//REL TO USA, GBR"},
	{"SECRET//REL TO USA, GBR//TLP:AMBER", tearline.Label{Policy: "USA", Classification: "SECRET", TLP: tearline.TLPAmber, Categories: []tearline.Category{relTo("USA", "GBR")}}, ""},

	// NATO and the EU.
	{"NATO SECRET//RELEASABLE TO AUS, NZL", tearline.Label{Policy: "NATO", Classification: "NATO SECRET", Categories: []tearline.Category{relTo("AUS", "NZL")}}, "NATO SECRET//REL TO AUS, NZL"},
	{"NATO RESTRICTED", tearline.Label{Policy: "NATO", Classification: "NATO RESTRICTED"}, ""},
	{"NATO UNCLASSIFIED", tearline.Label{Policy: "NATO", Classification: "NATO UNCLASSIFIED"}, ""},
	{"COSMIC TOP SECRET", tearline.Label{Policy: "NATO", Classification: "COSMIC TOP SECRET"}, ""},
	{"NS//REL TO FVEY", tearline.Label{Policy: "NATO", Classification: "NATO SECRET", Categories: []tearline.Category{relTo("FVEY")}}, "NATO SECRET//REL TO FVEY"},
	{"COSMIC TOP SECRET ATOMAL", tearline.Label{Policy: "NATO", Classification: "COSMIC TOP SECRET", Categories: []tearline.Category{atomalCategory()}}, "COSMIC TOP SECRET//ATOMAL"},
	{"NATO SECRET//RESTRICTIVE Additional Sensitivity: BOHEMIA, ATOMAL", tearline.Label{Policy: "NATO", Classification: "NATO SECRET",
		Categories: []tearline.Category{{Type: tearline.Restrictive, Name: "Additional Sensitivity", Values: []string{"ATOMAL", "BOHEMIA"}}}}, "NATO SECRET//RESTRICTIVE Additional Sensitivity: ATOMAL, BOHEMIA"},
	{"NATO SECRET//NARROWING Only: NATO//INFORMATIVE Caveat: exercise data", tearline.Label{Policy: "NATO", Classification: "NATO SECRET",
		Categories: []tearline.Category{
			{Type: tearline.Permissive, Name: "Only", Values: []string{"NATO"}, Narrowing: true},
			{Type: tearline.Informative, Name: "Caveat", Values: []string{"EXERCISE DATA"}},
		}}, "NATO SECRET//NARROWING Only: NATO//INFORMATIVE Caveat: EXERCISE DATA"},
	{"NATO SECRET//PERMISSIVE Releasable To: GBR", tearline.Label{Policy: "NATO", Classification: "NATO SECRET", Categories: []tearline.Category{relTo("GBR")}}, "NATO SECRET//REL TO GBR"},
	{"RESTREINT UE/EU RESTRICTED", tearline.Label{Policy: "EU", Classification: "RESTREINT UE/EU RESTRICTED"}, ""},
	{"EU SECRET", tearline.Label{Policy: "EU", Classification: "SECRET UE/EU SECRET"}, "SECRET UE/EU SECRET"},
	{"CONFIDENTIEL UE", tearline.Label{Policy: "EU", Classification: "CONFIDENTIEL UE/EU CONFIDENTIAL"}, "CONFIDENTIEL UE/EU CONFIDENTIAL"},
	{"TRÈS SECRET UE/EU TOP SECRET", tearline.Label{Policy: "EU", Classification: "TRES SECRET UE/EU TOP SECRET"}, "TRES SECRET UE/EU TOP SECRET"},

	// National schemes.
	{"UK OFFICIAL-SENSITIVE", tearline.Label{Policy: "GBR", Classification: "OFFICIAL-SENSITIVE"}, "GBR OFFICIAL-SENSITIVE"},
	{"GBR OFFICIAL SENSITIVE", tearline.Label{Policy: "GBR", Classification: "OFFICIAL-SENSITIVE"}, "GBR OFFICIAL-SENSITIVE"},
	{"FR SECRET", tearline.Label{Policy: "FRA", Classification: "SECRET"}, "FRA SECRET"},
	{"FRA SECRET DÉFENSE", tearline.Label{Policy: "FRA", Classification: "SECRET"}, "FRA SECRET"},
	{"FRA DIFFUSION RESTREINTE", tearline.Label{Policy: "FRA", Classification: "DIFFUSION RESTREINTE"}, ""},
	{"DE VS-NFD", tearline.Label{Policy: "DEU", Classification: "VS-NUR FÜR DEN DIENSTGEBRAUCH"}, "DEU VS-NUR FÜR DEN DIENSTGEBRAUCH"},
	{"DEU STRENG GEHEIM", tearline.Label{Policy: "DEU", Classification: "STRENG GEHEIM"}, ""},
	{"AUS OFFICIAL:SENSITIVE", tearline.Label{Policy: "AUS", Classification: "OFFICIAL: SENSITIVE"}, "AUS OFFICIAL: SENSITIVE"},
	{"NZ IN-CONFIDENCE", tearline.Label{Policy: "NZL", Classification: "IN-CONFIDENCE"}, "NZL IN-CONFIDENCE"},
	{"CAN SECRET//REL TO CAN, USA", tearline.Label{Policy: "CAN", Classification: "SECRET", Categories: []tearline.Category{relTo("USA", "CAN")}}, "CAN SECRET//REL TO USA, CAN"},
	{"NLD STG. GEHEIM", tearline.Label{Policy: "NLD", Classification: "STG. GEHEIM"}, ""},
	{"IT RISERVATISSIMO", tearline.Label{Policy: "ITA", Classification: "RISERVATISSIMO"}, "ITA RISERVATISSIMO"},
	{"ES DIFUSIÓN LIMITADA", tearline.Label{Policy: "ESP", Classification: "DIFUSION LIMITADA"}, "ESP DIFUSION LIMITADA"},
	{"JPN 極秘", tearline.Label{Policy: "JPN", Classification: "GOKUHI"}, "JPN GOKUHI"},

	// TLP, PAP, IEP.
	{"TLP:AMBER+STRICT", tearline.Label{TLP: tearline.TLPAmberStrict}, ""},
	{"TLP:CLEAR", tearline.Label{TLP: tearline.TLPClear}, ""},
	{"TLP:WHITE", tearline.Label{TLP: tearline.TLPClear}, "TLP:CLEAR"},
	{"tlp: green", tearline.Label{TLP: tearline.TLPGreen}, "TLP:GREEN"},
	{"TLP:RED", tearline.Label{TLP: tearline.TLPRed}, ""},
	{"TLP:AMBER//PAP:GREEN", tearline.Label{TLP: tearline.TLPAmber, PAP: tearline.TLPGreen}, ""},
	{"PAP:WHITE", tearline.Label{PAP: tearline.TLPClear}, "PAP:CLEAR"},
	{"IEP", tearline.Label{IEP: &tearline.IEP{}}, ""},
	{"IEP:TLP=RED", tearline.Label{TLP: tearline.TLPRed, IEP: &tearline.IEP{TLP: tearline.TLPRed}}, "TLP:RED//IEP:TLP=RED"},
	{"TLP:AMBER//IEP:ENCRYPT=MUST,ACTIONS=NONE,NOTIFY=MAY,TLP=AMBER,ATTRIBUTION=MUST-NOT,RESALE=MAY,START=2025-01-01,END=2025-12-31T12:00:00Z",
		tearline.Label{TLP: tearline.TLPAmber, IEP: &tearline.IEP{EncryptInTransit: "must", PermittedActions: "none", AffectedPartyNotify: true,
			TLP: tearline.TLPAmber, NoAttribution: true, UnmodifiedResale: true, StartDate: date("2025-01-01"), EndDate: date("2025-12-31T12:00:00Z")}}, ""},
	{"IEP: actions=contact-for-instruction, attribution=must, notify=must-not", tearline.Label{IEP: &tearline.IEP{PermittedActions: "contact-for-instruction", Attribution: true}},
		"IEP:ACTIONS=CONTACT-FOR-INSTRUCTION,ATTRIBUTION=MUST"},

	// SIENA handling codes.
	{"H0", tearline.Label{Handling: []tearline.HandlingCode{tearline.H0}}, ""},
	{"H2//H1", tearline.Label{Handling: []tearline.HandlingCode{tearline.H1, tearline.H2}}, "H1//H2"},
	{"EU RESTRICTED//H2//H3 Only for the  CT unit; not before 1 May", tearline.Label{Policy: "EU", Classification: "RESTREINT UE/EU RESTRICTED",
		Handling: []tearline.HandlingCode{tearline.H2, tearline.H3}, H3Text: "Only for the CT unit; not before 1 May"},
		"RESTREINT UE/EU RESTRICTED//H2//H3 Only for the CT unit; not before 1 May"},

	// Provenance, purposes, grading, dates, exercise.
	{"EXERCISE Blue Flag 25//GBR SECRET//ORCON//REL TO USA, GBR//H2//TLP:AMBER//PAP:GREEN//ORIGINATOR GBR, FRA//PURPOSE Counter-Terrorism, law enforcement//PERSONAL DATA gdpr//GRADE b2//EXPIRES 2026-06-30//RETAIN UNTIL 2027-01-01//REVIEW BY 2026-03-01T12:00:00+01:00//SUPERSEDED BY marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
		tearline.Label{Exercise: "Blue Flag 25", Policy: "GBR", Classification: "SECRET", ORCON: true, Categories: []tearline.Category{relTo("USA", "GBR")},
			Handling: []tearline.HandlingCode{tearline.H2}, TLP: tearline.TLPAmber, PAP: tearline.TLPGreen, Originators: []string{"FRA", "GBR"},
			Purposes: []string{"counter-terrorism", "law enforcement"}, PersonalData: true, Regime: "GDPR", Reliability: 'B', Credibility: 2,
			Expires: date("2026-06-30"), RetainUntil: date("2027-01-01"), ReviewBy: date("2026-03-01T11:00:00Z"),
			Successor: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
		"EXERCISE Blue Flag 25//GBR SECRET//ORCON//REL TO USA, GBR//H2//TLP:AMBER//PAP:GREEN//ORIGINATOR FRA, GBR//PURPOSE counter-terrorism, law enforcement//PERSONAL DATA GDPR//GRADE B2//EXPIRES 2026-06-30//RETAIN UNTIL 2027-01-01//REVIEW BY 2026-03-01T11:00:00Z//SUPERSEDED BY marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421"},
	{"PERSONAL DATA//H0", tearline.Label{PersonalData: true, Handling: []tearline.HandlingCode{tearline.H0}}, "H0//PERSONAL DATA"},
	{"TLP:GREEN//EXPIRES 2026-01-02T03:04:05.123456789Z", tearline.Label{TLP: tearline.TLPGreen, Expires: date("2026-01-02T03:04:05.123456789Z")}, ""},
}

func TestParse(t *testing.T) {
	for _, c := range bannerCases {
		t.Run(c.in, func(t *testing.T) {
			got, err := Parse(c.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v; want %+v", c.in, err, c.want)
			}
			if want := Normalize(c.want); !reflect.DeepEqual(got, want) {
				t.Errorf("Parse(%q) = %+v; want %+v", c.in, got, want)
			}
			canon := c.canon
			if canon == "" {
				canon = c.in
			}
			if f := Format(got); f != canon {
				t.Errorf("Format(Parse(%q)) = %q; want %q", c.in, f, canon)
			}
		})
	}
}

// TestRoundTrip: Parse(Format(l)) is the normal form of every valid label,
// and Format(Parse(b)) is a fixed point.
func TestRoundTrip(t *testing.T) {
	labels := []tearline.Label{
		{Policy: "usa", Classification: "secret", Categories: []tearline.Category{relTo("fvey", "gbr", "usa", "gbr")}},
		{Policy: "UK", Classification: "official sensitive", TLP: tearline.TLPAmberStrict},
		{Policy: "NATO", Classification: "NC", Categories: []tearline.Category{
			{Type: tearline.Restrictive, Name: "Additional  Sensitivity", Values: []string{"ATOMAL"}},
			{Type: tearline.Informative, Name: "Note", Values: []string{"a/b"}},
		}},
		{Handling: []tearline.HandlingCode{tearline.H3, tearline.H0, tearline.H3}, H3Text: "  keep out:  see annex B/2 ", TLP: tearline.TLPRed},
		{IEP: &tearline.IEP{EncryptInTransit: "MAY", StartDate: time.Date(2025, 1, 1, 1, 0, 0, 0, time.FixedZone("CET", 3600))}},
		{Exercise: "Steadfast, Jupiter", Policy: "NATO", Classification: "NATO RESTRICTED", ReviewBy: time.Date(2030, 5, 6, 7, 8, 9, 10, time.UTC)},
		{Reliability: 'f', Credibility: 6, TLP: tearline.TLPClear, Purposes: []string{"Intel", "intel", NoPurpose + "x"}},
	}
	for _, l := range labels {
		if err := Validate(l); err != nil {
			t.Fatalf("Validate(%+v) = %v; want a valid test label", l, err)
		}
		b := Format(l)
		got, err := Parse(b)
		if err != nil {
			t.Errorf("Parse(Format(%+v) = %q) = %v", l, b, err)
			continue
		}
		if want := Normalize(l); !reflect.DeepEqual(got, want) {
			t.Errorf("Parse(Format(l) = %q) = %+v; want %+v", b, got, want)
		}
		if again := Format(got); again != b {
			t.Errorf("Format(Parse(%q)) = %q; want it unchanged", b, again)
		}
	}
	for _, c := range bannerCases {
		l, err := Parse(c.in)
		if err != nil {
			continue // reported by TestParse
		}
		again, err := Parse(Format(l))
		if err != nil || !reflect.DeepEqual(again, l) {
			t.Errorf("Parse(Format(Parse(%q))) = %+v, %v; want %+v", c.in, again, err, l)
		}
	}
}

// bannerErrors are banners Parse refuses, with the rule each breaks.
var bannerErrors = []struct{ in, rule string }{
	{"", "empty-label"},
	{"   ", "empty-label"},
	{"SECRET//REL TO USA, GBR//NOFORN", "relto-with-noforn"},
	{"SECRET//NF//REL USA", "relto-with-noforn"},
	{"SECRET//EYES ONLY USA, GBR//NOFORN", "eyes-with-noforn"},
	{"SECRET//EYES ONLY GBR//REL TO USA, GBR", "eyes-with-relto"},
	{"SECRET//EYES ONLY", "eyes-without-list"},
	{"SECRET//DISPLAY ONLY FRA//RELIDO", "display-only-with-relido"},
	{"SECRET//DISPLAY ONLY FRA//NOFORN", "display-only-with-noforn"},
	{"SECRET//DISPLAY ONLY", "display-only-without-list"},
	{"SECRET//RELIDO//NOFORN", "relido-with-noforn"},
	{"UNCLASSIFIED//ORCON", "orcon-on-unclassified"},
	{"NATO UNCLASSIFIED//OC", "orcon-on-unclassified"},
	{"SECRET//FOUO", "fouo-on-classified"},
	{"NOFORN", "control-without-classification"},
	{"REL TO USA, GBR//TLP:AMBER", "control-without-classification"},
	{"GBR CONFIDENTIAL", "unknown-classification"},
	{"DEU GEHEIMST", "unknown-classification"},
	{"XYZ SECRET", "unknown-marking"},
	{"SECRET//SI", "unknown-marking"},
	{"SECRET//H4", "unknown-marking"},
	{"SECRET//PROPIN", "unsupported-marking"},
	{"SECRET//NOFORN//NF", "duplicate-marking"},
	{"SECRET//TOP SECRET", "duplicate-marking"},
	{"TLP:RED//TLP:AMBER", "duplicate-marking"},
	{"H2//H2", "duplicate-marking"},
	{"NATO SECRET ATOMAL//ATOMAL", "duplicate-marking"},
	{"NATO SECRET//RESTRICTIVE Foo: A//PERMISSIVE foo: B", "duplicate-marking"},
	{"SECRET////NOFORN", "malformed-banner"},
	{"SECRET//", "malformed-banner"},
	{"SECRET\x00//NOFORN", "malformed-banner"},
	{"SECRET//REL TO", "malformed-list"},
	{"SECRET//REL TO USA,,GBR", "malformed-list"},
	{"SECRET//REL TO U$A", "invalid-code"},
	{"SECRET//REL TO USA GBR", "invalid-code"},
	{"H3", "h3-without-text"},
	{"TLP:PURPLE", "unknown-tlp"},
	{"PAP:AMBER+STRICT", "unknown-pap"},
	{"IEP:ENCRYPT=SOMETIMES", "iep-encrypt-in-transit"},
	{"IEP:ACTIONS=EVERYTHING", "iep-permitted-actions"},
	{"IEP:TLP=BLUE", "unknown-tlp"},
	{"IEP:START=2025-02-01,END=2025-01-01", "iep-dates"},
	{"IEP:NOTIFY", "malformed-value"},
	{"TLP:AMBER//IEP:TLP=RED", "iep-tlp-mismatch"},
	{"PURPOSE none, intel", "purpose-none-with-others"},
	{"PURPOSE intel,", "malformed-list"},
	{"GRADE G2", "reliability-range"},
	{"GRADE B7", "credibility-range"},
	{"GRADE B0", "credibility-range"},
	{"GRADE 2B", "malformed-value"},
	{"EXPIRES tomorrow", "invalid-date"},
	{"SUPERSEDED BY label-7", "invalid-successor"},
	{"EXERCISE", "malformed-value"},
	{"TLP:AMBER//EXERCISE Blue/", "invalid-text"},
	{"SECRET//RESTRICTIVE Foo", "malformed-value"},
	{"SECRET//RESTRICTIVE Foo:", "category-without-values"},
	{"SECRET//RESTRICTIVE Releasable To: GBR", "relto-category"},
	{"SECRET//NARROWING releasable to: GBR", "relto-category"},
}

func TestParseErrors(t *testing.T) {
	for _, c := range bannerErrors {
		t.Run(c.rule+"/"+c.in, func(t *testing.T) {
			l, err := Parse(c.in)
			var re *RuleError
			if !errors.As(err, &re) {
				t.Fatalf("Parse(%q) = %+v, %v; want a *RuleError for %s", c.in, l, err, c.rule)
			}
			if re.Rule != c.rule {
				t.Errorf("Parse(%q) broke %s (%v); want %s", c.in, re.Rule, err, c.rule)
			}
			if !errors.Is(err, tearline.ErrInvalid) {
				t.Errorf("Parse(%q) = %v; want it to wrap tearline.ErrInvalid", c.in, err)
			}
			if !reflect.DeepEqual(l, tearline.Label{}) {
				t.Errorf("Parse(%q) returned %+v with its error; want the zero label", c.in, l)
			}
		})
	}
}
