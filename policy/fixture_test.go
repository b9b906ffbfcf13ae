package policy

import (
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// The fixture: the built-in registry plus a user-defined counter-terrorism
// group, and a set of agreements in the shapes partners use.

func date(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func testRegistry(t testing.TB) *Registry {
	t.Helper()
	reg := Builtin()
	// CTG: DEU left at the end of 2024, NLD joined in 2025.
	err := reg.AddCommunity(tearline.Community{Code: "CTG", Name: "Counter-terrorism group", Members: []tearline.Membership{
		{Partner: "GBR", From: date("2010-01-01")},
		{Partner: "FRA", From: date("2010-01-01")},
		{Partner: "DEU", From: date("2010-01-01"), Until: date("2025-01-01")},
		{Partner: "NLD", From: date("2025-01-01")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

func eq(pairs ...string) []tearline.Equivalence {
	var out []tearline.Equivalence
	for i := 0; i+3 < len(pairs); i += 4 {
		out = append(out, tearline.Equivalence{
			From: tearline.Classification{Policy: pairs[i], Level: pairs[i+1]},
			To:   tearline.Classification{Policy: pairs[i+2], Level: pairs[i+3]},
		})
	}
	return out
}

func testAgreements() []tearline.Agreement {
	return []tearline.Agreement{
		{
			ID: "fvey", Version: 3, Title: "Five Eyes intelligence sharing",
			Parties:   []string{"FVEY"},
			ValidFrom: date("2020-01-01"),
			Ceilings: []tearline.Classification{
				{Policy: "USA", Level: "TOP SECRET"}, {Policy: "GBR", Level: "TOP SECRET"},
				{Policy: "CAN", Level: "TOP SECRET"}, {Policy: "AUS", Level: "TOP SECRET"}, {Policy: "NZL", Level: "TOP SECRET"},
			},
			Equivalences: eq(
				"GBR", "SECRET", "USA", "SECRET",
				"GBR", "TOP SECRET", "USA", "TOP SECRET",
				"GBR", "OFFICIAL-SENSITIVE", "USA", "CONFIDENTIAL",
				"CAN", "SECRET", "USA", "SECRET",
				"CAN", "SECRET", "GBR", "SECRET",
				"CAN", "CONFIDENTIAL", "GBR", "OFFICIAL-SENSITIVE",
				"CAN", "CONFIDENTIAL", "USA", "CONFIDENTIAL",
			),
		},
		{
			ID: "nato", Version: 2, Title: "NATO information sharing",
			Parties:   []string{"NATO"},
			ValidFrom: date("1949-04-04"),
			Ceilings:  []tearline.Classification{{Policy: "NATO", Level: "NATO SECRET"}},
			Equivalences: eq(
				"NATO", "NATO SECRET", "GBR", "SECRET",
				"NATO", "NATO SECRET", "USA", "SECRET",
				"NATO", "NATO SECRET", "FRA", "SECRET",
				"NATO", "NATO SECRET", "DEU", "GEHEIM",
				"NATO", "NATO RESTRICTED", "FRA", "DIFFUSION RESTREINTE",
				"NATO", "COSMIC TOP SECRET", "GBR", "TOP SECRET",
				"GBR", "SECRET", "FRA", "SECRET",
				"USA", "SECRET", "FRA", "SECRET",
				"GBR", "SECRET", "DEU", "GEHEIM",
			),
			Purposes: []string{"defence", "counter-terrorism"},
		},
		{
			ID: "gbr-fra", Version: 1, Title: "UK-France security agreement",
			Parties:        []string{"GBR", "FRA"},
			ValidFrom:      date("2008-03-27"),
			Ceilings:       []tearline.Classification{{Policy: "GBR", Level: "SECRET"}, {Policy: "FRA", Level: "SECRET"}},
			Equivalences:   eq("GBR", "SECRET", "FRA", "SECRET", "GBR", "OFFICIAL-SENSITIVE", "FRA", "DIFFUSION RESTREINTE"),
			ThirdPartyRule: true,
		},
		{
			ID: "gbr-jpn", Version: 1, Title: "UK-Japan information security agreement",
			Parties:    []string{"GBR", "JPN"},
			ValidFrom:  date("2020-01-01"),
			ValidUntil: date("2025-01-01"),
			Ceilings:   []tearline.Classification{{Policy: "GBR", Level: "SECRET"}},
		},
		{
			ID: "police", Version: 1, Title: "Police cooperation",
			Parties:             []string{"GBR", "FRA", "DEU", "NLD", "EUROPOL"},
			ValidFrom:           date("2019-01-01"),
			Types:               []string{"indicator", "report", "identity"},
			Topics:              []string{"crime", "terrorism"},
			Ceilings:            []tearline.Classification{{Policy: "GBR", Level: "OFFICIAL-SENSITIVE"}, {Policy: "FRA", Level: "DIFFUSION RESTREINTE"}},
			Equivalences:        eq("GBR", "OFFICIAL-SENSITIVE", "FRA", "DIFFUSION RESTREINTE"),
			ThirdPartyRule:      true,
			Purposes:            []string{PurposeCombatingCrime, PurposeJudicial},
			Retention:           5 * 365 * 24 * time.Hour,
			PersonalDataRegimes: []string{"LED"},
		},
	}
}

// deciders returns the engine and the reference over the fixture.
func deciders(t testing.TB) (*Engine, *Reference) {
	t.Helper()
	reg, ags := testRegistry(t), testAgreements()
	sch := defaultSchemes()
	e, err := newEngine(reg, ags, sch)
	if err != nil {
		t.Fatal(err)
	}
	return e, newReference(reg, ags, sch)
}

func relTo(codes ...string) tearline.Category {
	return tearline.Category{Type: tearline.Permissive, Name: tearline.CategoryRelTo, Values: codes}
}

func clearance(policy string, levels ...string) tearline.Clearance {
	return tearline.Clearance{Policy: policy, Levels: levels}
}

func partner(code string, cs ...tearline.Clearance) *tearline.Recipient {
	return &tearline.Recipient{Code: code, Nationality: code, Clearances: cs}
}

var (
	decisionTime = date("2025-03-01")
	createdTime  = date("2024-06-01")

	usaSecret = clearance("USA", "UNCLASSIFIED", "CONFIDENTIAL", "SECRET")
	gbrSecret = clearance("GBR", "OFFICIAL", "OFFICIAL-SENSITIVE", "SECRET")
	fraSecret = clearance("FRA", "DIFFUSION RESTREINTE", "SECRET")
	deuGeheim = clearance("DEU", "VS-NUR FÜR DEN DIENSTGEBRAUCH", "VS-VERTRAULICH", "GEHEIM")
	canSecret = clearance("CAN", "UNCLASSIFIED", "CONFIDENTIAL", "SECRET")
	natoNS    = clearance("NATO", "NATO UNCLASSIFIED", "NATO RESTRICTED", "NATO CONFIDENTIAL", "NATO SECRET")
)

// baseRequest: the UK releases its own SECRET report, REL TO USA, GBR,
// FVEY, to the US under the Five Eyes agreement.
func baseRequest() *Request {
	return &Request{
		Subject: &Subject{
			ID: "report--1", Type: "report", Topics: []string{"terrorism"}, Created: createdTime,
			Label: tearline.Label{
				Policy: "GBR", Classification: "SECRET",
				Categories:  []tearline.Category{relTo("USA", "GBR", "FVEY")},
				Originators: []string{"GBR"},
			},
			Verified:           true,
			Holder:             "GBR",
			HolderOrganisation: "GBR-NLO",
		},
		Recipient: partner("USA", usaSecret),
		Action:    tearline.Release,
		Purpose:   "counter-terrorism",
		Time:      decisionTime,
	}
}
