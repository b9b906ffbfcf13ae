package policy

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline"
)

type decideCase struct {
	name string
	edit func(r *Request)
	want tearline.Outcome
	// code must be among the decision's reason codes.
	code string
	// consent, variant: the decision's ConsentFrom and Variant.
	consent []string
	variant string
	// text, when set, must appear in the reason with code (checked on the
	// engine, whose words are the product).
	text string
}

func (c decideCase) String() string { return c.name }

func codes(d tearline.Decision) []string {
	out := make([]string, len(d.Reasons))
	for i, r := range d.Reasons {
		out[i] = r.Code
	}
	return out
}

func fmtDecision(d tearline.Decision) string {
	s := fmt.Sprintf("%v %v", d.Outcome, codes(d))
	if d.Variant != "" {
		s += " variant=" + d.Variant
	}
	if len(d.ConsentFrom) > 0 {
		s += fmt.Sprintf(" consent=%v", d.ConsentFrom)
	}
	return s
}

func lab(edit func(l *tearline.Label)) func(r *Request) {
	return func(r *Request) { edit(&r.Subject.Label) }
}

// fromUSA makes the object US information, held by the UK.
func fromUSA(r *Request) {
	r.Subject.Label.Policy, r.Subject.Label.Classification = "USA", "SECRET"
	r.Subject.Label.Originators = []string{"USA"}
}

func all(edits ...func(r *Request)) func(r *Request) {
	return func(r *Request) {
		for _, e := range edits {
			e(r)
		}
	}
}

func to(rc *tearline.Recipient) func(r *Request) {
	return func(r *Request) { r.Recipient = rc }
}

var decideCases = []decideCase{
	{name: "allow own report to a FVEY partner", edit: func(*Request) {}, want: tearline.Allow, code: ReasonAllowed},
	{name: "allow under an equivalence (GBR SECRET = USA SECRET)", edit: to(partner("USA", clearance("USA", "SECRET"))), want: tearline.Allow, code: ReasonAllowed},

	// The request.
	{name: "unknown recipient", edit: to(partner("ATL", usaSecret)), want: tearline.Deny, code: ReasonUnknownRecipient},
	{name: "community as recipient", edit: to(partner("FVEY", usaSecret)), want: tearline.Deny, code: ReasonUnknownRecipient},
	{name: "unknown holder", edit: func(r *Request) { r.Subject.Holder = "XXX" }, want: tearline.Deny, code: ReasonUnknownHolder},
	{name: "invalid action", edit: func(r *Request) { r.Action = 0 }, want: tearline.Deny, code: ReasonInvalidAction},

	// 1. The label.
	{name: "binding not verified", edit: func(r *Request) { r.Subject.Verified = false }, want: tearline.Deny, code: ReasonUnverified},
	{name: "no label at all", edit: lab(func(l *tearline.Label) { *l = tearline.Label{} }), want: tearline.Deny, code: ReasonUnknownPolicy},
	{name: "unknown policy", edit: lab(func(l *tearline.Label) { l.Policy = "ATLANTIS" }), want: tearline.Deny, code: ReasonUnknownPolicy},
	{name: "unknown classification", edit: lab(func(l *tearline.Label) { l.Classification = "SEKRIT" }), want: tearline.Deny, code: ReasonUnknownClassification},
	{name: "alias instead of canonical level", edit: lab(func(l *tearline.Label) { l.Classification = "secret" }), want: tearline.Deny, code: ReasonUnknownClassification},
	{name: "conflicting markings: REL TO with NOFORN", edit: lab(func(l *tearline.Label) { l.NoForn = true }), want: tearline.Deny, code: ReasonInvalidLabel, text: "relto-with-noforn"},
	{name: "conflicting markings: DISPLAY ONLY with RELIDO", edit: lab(func(l *tearline.Label) { l.DisplayOnly = []string{"FRA"}; l.RelIDO = true }), want: tearline.Deny, code: ReasonInvalidLabel, text: "display-only-with-relido"},
	{name: "conflicting markings: ORCON on unclassified", edit: lab(func(l *tearline.Label) { l.Policy, l.Classification, l.ORCON = "USA", "UNCLASSIFIED", true }), want: tearline.Deny, code: ReasonInvalidLabel, text: "orcon-on-unclassified"},
	{name: "conflicting markings: FOUO on classified", edit: lab(func(l *tearline.Label) { l.FOUO = true }), want: tearline.Deny, code: ReasonInvalidLabel},
	{name: "unknown TLP colour", edit: lab(func(l *tearline.Label) { l.TLP = 9 }), want: tearline.Deny, code: ReasonInvalidLabel},
	{name: "unknown handling code", edit: lab(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{7} }), want: tearline.Deny, code: ReasonInvalidLabel},
	{name: "unknown originator", edit: func(r *Request) { r.Subject.Originators = []string{"SPECTRE"} }, want: tearline.Deny, code: ReasonUnknownOriginator},

	// 2. Current.
	{name: "recalled", edit: func(r *Request) { r.Subject.Recalled = true }, want: tearline.Deny, code: ReasonRecalled},
	{name: "superseded", edit: lab(func(l *tearline.Label) { l.Successor = "marking-definition--00000000-0000-4000-8000-000000000001" }), want: tearline.Deny, code: ReasonSuperseded},
	{name: "expired", edit: lab(func(l *tearline.Label) { l.Expires = date("2025-01-01") }), want: tearline.Deny, code: ReasonExpired},
	{name: "expires later", edit: lab(func(l *tearline.Label) { l.Expires = date("2026-01-01") }), want: tearline.Allow, code: ReasonAllowed},
	{name: "past the label's retention", edit: lab(func(l *tearline.Label) { l.RetainUntil = date("2025-02-01") }), want: tearline.Deny, code: ReasonRetentionPassed},
	{name: "exercise material released for real", edit: lab(func(l *tearline.Label) { l.Exercise = "STEADFAST" }), want: tearline.Deny, code: ReasonExercise},
	{name: "exercise material in another exercise", edit: all(lab(func(l *tearline.Label) { l.Exercise = "STEADFAST" }), func(r *Request) { r.Exercise = "LOCKED SHIELDS" }), want: tearline.Deny, code: ReasonExercise},
	{name: "exercise material within its exercise", edit: all(lab(func(l *tearline.Label) { l.Exercise = "STEADFAST" }), func(r *Request) { r.Exercise = "STEADFAST" }), want: tearline.Allow, code: ReasonAllowed},

	// 3. Agreements.
	{name: "no agreement with the recipient", edit: all(to(partner("JPN", clearance("GBR", "SECRET"))), lab(func(l *tearline.Label) { l.Categories = nil })), want: tearline.Deny, code: ReasonAgreementExpired},
	{name: "agreement not yet in force", edit: all(to(partner("JPN", clearance("GBR", "SECRET"))), lab(func(l *tearline.Label) { l.Categories = nil }), func(r *Request) { r.Time = date("2019-06-01"); r.Subject.Created = date("2019-01-01") }), want: tearline.Deny, code: ReasonAgreementNotInForce},
	{name: "agreement in force then", edit: all(to(partner("JPN", clearance("GBR", "SECRET"))), lab(func(l *tearline.Label) { l.Categories = nil }), func(r *Request) { r.Time = date("2024-06-02") }), want: tearline.Allow, code: ReasonAllowed},
	{name: "no agreement names the parties", edit: all(to(partner("EUROPOL", gbrSecret)), func(r *Request) { r.Subject.Holder = "JPN" }, lab(func(l *tearline.Label) { l.Categories = nil })), want: tearline.Deny, code: ReasonNoAgreement},
	{name: "out of the agreement's scope", edit: all(to(&tearline.Recipient{Code: "EUROPOL", Clearances: []tearline.Clearance{gbrSecret}}), func(r *Request) { r.Subject.Topics = []string{"cyber"} }, lab(func(l *tearline.Label) { l.Categories = nil; l.Classification = "OFFICIAL" })), want: tearline.Deny, code: ReasonOutOfScope},
	{name: "above the ceiling", edit: all(to(partner("FRA", fraSecret)), lab(func(l *tearline.Label) {
		l.Classification = "TOP SECRET"
		l.Categories = []tearline.Category{relTo("FRA", "GBR")}
	})), want: tearline.Deny, code: ReasonAboveCeiling},
	{name: "bilateral equivalence GBR SECRET = FRA SECRET", edit: all(to(partner("FRA", fraSecret)), lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("FRA", "GBR")} })), want: tearline.Allow, code: ReasonAllowed},
	{name: "foreign policy with no equivalent", edit: all(
		to(partner("DEU", deuGeheim, clearance("EU", "SECRET UE/EU SECRET"))),
		func(r *Request) { r.Subject.Holder = "FRA" },
		lab(func(l *tearline.Label) {
			l.Policy, l.Classification, l.Originators = "EU", "SECRET UE/EU SECRET", []string{"FRA"}
			l.Categories = []tearline.Category{relTo("DEU", "FRA")}
		})), want: tearline.NeedsPerson, code: ReasonForeignPolicy},

	// 4. Clearance and categories.
	{name: "no clearance", edit: to(partner("USA")), want: tearline.Deny, code: ReasonNoClearance},
	{name: "no clearance that maps", edit: to(partner("USA", clearance("AUS", "SECRET"))), want: tearline.Deny, code: ReasonNoClearance},
	{name: "classification not held", edit: to(partner("USA", clearance("USA", "UNCLASSIFIED", "CONFIDENTIAL"))), want: tearline.Deny, code: ReasonClassificationNotHeld},
	{name: "not in REL TO", edit: to(partner("FRA", fraSecret)), want: tearline.Deny, code: ReasonRelTo, text: "FRA is not in REL TO USA, GBR, FVEY"},
	{name: "unknown tetragraph matches nobody", edit: all(to(partner("FRA", fraSecret)), lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("GBR", "ZZZZ")} })), want: tearline.Deny, code: ReasonRelTo, text: "ZZZZ is not a known partner or community"},
	{name: "unknown tetragraph beside a known code", edit: lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "GBR", "ZZZZ")} }), want: tearline.Allow, code: ReasonAllowed},
	{name: "NATO epoch: joined after the object was created", edit: all(natoReport, to(partner("FIN", natoNS)), func(r *Request) { r.Subject.Created = date("2022-05-01") }), want: tearline.Deny, code: ReasonRelTo, text: "FIN was not a member of NATO when this was created"},
	{name: "NATO epoch: created after joining", edit: all(natoReport, to(partner("FIN", natoNS)), func(r *Request) { r.Subject.Created = date("2023-06-01") }), want: tearline.Allow, code: ReasonAllowed},
	{name: "NATO epoch: Sweden a day early", edit: all(natoReport, to(partner("SWE", natoNS)), func(r *Request) { r.Subject.Created = date("2024-03-06") }), want: tearline.Deny, code: ReasonRelTo},
	{name: "NATO epoch: Sweden on the day", edit: all(natoReport, to(partner("SWE", natoNS)), func(r *Request) { r.Subject.Created = date("2024-03-07") }), want: tearline.Allow, code: ReasonAllowed},
	{name: "community member before leaving", edit: all(ctgReport, to(partner("DEU", deuGeheim)), func(r *Request) { r.Time = date("2024-12-01") }), want: tearline.Allow, code: ReasonAllowed},
	{name: "community member after leaving", edit: all(ctgReport, to(partner("DEU", deuGeheim))), want: tearline.Deny, code: ReasonRelTo, text: "no longer a member of CTG"},
	{name: "joined the community after the object was created", edit: all(ctgReport, to(partner("NLD", clearance("NATO", "NATO SECRET")))), want: tearline.Deny, code: ReasonRelTo},
	{name: "narrowing Only category excludes", edit: all(natoReport, to(partner("FRA", natoNS)), lab(func(l *tearline.Label) { l.Categories = append(l.Categories, only("GBR", "USA")) })), want: tearline.Deny, code: ReasonOnly},
	{name: "narrowing Only category includes", edit: all(natoReport, to(partner("USA", natoNS)), lab(func(l *tearline.Label) { l.Categories = append(l.Categories, only("GBR", "USA")) })), want: tearline.Allow, code: ReasonAllowed},
	{name: "empty roll-up intersection", edit: lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo()} }), want: tearline.NeedsPerson, code: ReasonEmptyCategory},
	{name: "restrictive category not held", edit: all(natoReport, to(partner("USA", natoNS)), lab(func(l *tearline.Label) { l.Categories = append(l.Categories, atomal) })), want: tearline.Deny, code: ReasonRestrictive},
	{name: "restrictive category held", edit: all(natoReport, to(partner("USA", atomalCleared)), lab(func(l *tearline.Label) { l.Categories = append(l.Categories, atomal) })), want: tearline.Allow, code: ReasonAllowed},
	{name: "permissive category not held", edit: lab(func(l *tearline.Label) { l.Categories = append(l.Categories, mission) }), want: tearline.Deny, code: ReasonPermissive},
	{name: "informative category ignored", edit: lab(func(l *tearline.Label) {
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Informative, Name: "Note", Values: []string{"X"}})
	}), want: tearline.Allow, code: ReasonAllowed},

	// 5. Dissemination controls.
	{name: "NOFORN to a foreign partner", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories, l.NoForn = nil, true }), func(r *Request) { r.Subject.Holder = "USA" }, to(partner("GBR", gbrSecret))), want: tearline.Deny, code: ReasonNoForn},
	{name: "NOFORN to the originator's nationals", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories, l.NoForn = nil, true }), func(r *Request) { r.Subject.Holder = "USA" }, to(&tearline.Recipient{Code: "USA", Nationality: "USA", User: "analyst", Clearances: []tearline.Clearance{usaSecret}})), want: tearline.Allow, code: ReasonAllowed},
	{name: "NOFORN to someone claiming another nationality", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories, l.NoForn = nil, true }), func(r *Request) { r.Subject.Holder = "USA" }, to(&tearline.Recipient{Code: "GBR", Nationality: "USA", Clearances: []tearline.Clearance{gbrSecret}})), want: tearline.Deny, code: ReasonNoForn},
	{name: "EYES ONLY excludes", edit: all(lab(func(l *tearline.Label) { l.Categories, l.EyesOnly = nil, []string{"USA", "GBR"} }), to(partner("CAN", canSecret))), want: tearline.Deny, code: ReasonEyesOnly},
	{name: "ORCON without consent", edit: all(orconToCAN), want: tearline.NeedsConsent, code: ReasonORCON, consent: []string{"USA"}},
	{name: "ORCON with consent", edit: all(orconToCAN, consent("USA", "CAN", "report--1", "")), want: tearline.Allow, code: ReasonAllowed},
	{name: "ORCON with expired consent", edit: all(orconToCAN, consent("USA", "CAN", "report--1", "2025-01-01")), want: tearline.NeedsConsent, code: ReasonORCON, consent: []string{"USA"}},
	{name: "ORCON with consent for another recipient", edit: all(orconToCAN, consent("USA", "AUS", "report--1", "")), want: tearline.NeedsConsent, code: ReasonORCON, consent: []string{"USA"}},
	{name: "ORCON at the originator", edit: all(lab(func(l *tearline.Label) { l.ORCON = true })), want: tearline.Allow, code: ReasonAllowed},
	{name: "ORCON from two originators, one consented", edit: all(fromUSA, lab(func(l *tearline.Label) {
		l.ORCON = true
		l.Originators = []string{"USA", "CAN"}
		l.Categories = []tearline.Category{relTo("USA", "AUS", "CAN", "GBR")}
	}), to(partner("AUS", clearance("USA", "SECRET"))), consent("USA", "AUS", "report--1", "")), want: tearline.NeedsConsent, code: ReasonORCON, consent: []string{"CAN"}},
	{name: "H2 without consent", edit: policeCase(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{tearline.H2} }), want: tearline.NeedsConsent, code: ReasonH2, consent: []string{"FRA"}},
	{name: "H2 with consent", edit: all(policeCase(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{tearline.H2} }), consent("FRA", "NLD", "report--1", "")), want: tearline.Allow, code: ReasonAllowed},
	{name: "DISPLAY ONLY: disclose", edit: displayCase(tearline.Disclose), want: tearline.Allow, code: ReasonAllowed},
	{name: "DISPLAY ONLY: no copy", edit: displayCase(tearline.Release), want: tearline.Deny, code: ReasonDisplayOnly},
	{name: "DISPLAY ONLY: no onward sharing", edit: displayCase(tearline.Onward), want: tearline.Deny, code: ReasonDisplayOnly},
	{name: "DISPLAY ONLY: REL TO partner gets a copy", edit: all(displayCase(tearline.Release), to(partner("GBR", gbrSecret))), want: tearline.Allow, code: ReasonAllowed},
	{name: "DISPLAY ONLY: not on the display list", edit: all(displayCase(tearline.Disclose), to(partner("DEU", deuGeheim))), want: tearline.Deny, code: ReasonDisplayOnly},
	{name: "RELIDO needs a person", edit: lab(func(l *tearline.Label) { l.RelIDO = true }), want: tearline.NeedsPerson, code: ReasonRelIDO},
	{name: "H3 free text needs a person", edit: lab(func(l *tearline.Label) {
		l.Handling, l.H3Text = []tearline.HandlingCode{tearline.H3}, "only for the counter-terrorism unit"
	}), want: tearline.NeedsPerson, code: ReasonH3, text: "only for the counter-terrorism unit"},

	// 6. TLP.
	{name: "TLP:RED needs a person", edit: lab(func(l *tearline.Label) { l.TLP = tearline.TLPRed }), want: tearline.NeedsPerson, code: ReasonTLPRed},
	{name: "TLP:RED through IEP", edit: lab(func(l *tearline.Label) { l.IEP = &tearline.IEP{TLP: tearline.TLPRed} }), want: tearline.NeedsPerson, code: ReasonTLPRed},
	{name: "TLP:AMBER from the originator", edit: lab(func(l *tearline.Label) { l.TLP = tearline.TLPAmber }), want: tearline.Allow, code: ReasonAllowed},
	{name: "TLP:AMBER passed on to another partner", edit: all(fromUSA, tlp(tearline.TLPAmber), to(partner("CAN", canSecret))), want: tearline.Deny, code: ReasonTLP},
	{name: "TLP:AMBER to the holder's own users", edit: all(fromUSA, tlp(tearline.TLPAmber), to(gbrUser("GBR-DEFENCE"))), want: tearline.Allow, code: ReasonAllowed},
	{name: "TLP:AMBER+STRICT to another organisation", edit: all(fromUSA, tlp(tearline.TLPAmberStrict), to(gbrUser("GBR-DEFENCE"))), want: tearline.Deny, code: ReasonTLP},
	{name: "TLP:AMBER+STRICT within the organisation", edit: all(fromUSA, tlp(tearline.TLPAmberStrict), to(gbrUser("GBR-NLO"))), want: tearline.Allow, code: ReasonAllowed},
	{name: "TLP:GREEN within a community", edit: all(fromUSA, tlp(tearline.TLPGreen), to(partner("CAN", canSecret))), want: tearline.Allow, code: ReasonAllowed},

	// Local users: decided by the same rules, under the holder's own rules
	// instead of an agreement when they are of the holder's nation.
	{name: "local user cleared for the level", edit: to(gbrUser("GBR-NLO")), want: tearline.Allow, code: ReasonAllowed, text: "user of the holder's own nation"},
	{name: "local user not cleared for the level", edit: to(localUser("GBR", clearance("GBR", "OFFICIAL"))), want: tearline.Deny, code: ReasonClassificationNotHeld},
	{name: "local user without a clearance", edit: to(localUser("GBR")), want: tearline.Deny, code: ReasonNoClearance, text: "a.analyst (GBR-NLO, GBR)"},
	{name: "local user sees foreign material at its national equivalent", edit: all(fromUSA, to(gbrUser("GBR-NLO"))), want: tearline.Allow, code: ReasonAllowed},
	{name: "local user: ORCON needs no consent inside the holder", edit: all(fromUSA, lab(func(l *tearline.Label) { l.ORCON = true }), to(gbrUser("GBR-NLO"))), want: tearline.Allow, code: ReasonAllowed},
	{name: "local user: onward sharing does not apply", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "GBR")} }), to(gbrUser("GBR-NLO"))), want: tearline.Allow, code: ReasonAllowed},
	{name: "local user: H1 in judicial proceedings still needs the provider", edit: all(policeCase(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{tearline.H1} }), func(r *Request) {
		r.Recipient = localUser(r.Subject.Holder, deuGeheim, clearance("FRA", "DIFFUSION RESTREINTE"))
		r.Purpose = PurposeJudicial
	}), want: tearline.NeedsConsent, code: ReasonH1, consent: []string{"FRA"}},
	{name: "local user outside REL TO", edit: all(lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "CAN")} }), to(gbrUser("GBR-NLO"))), want: tearline.Deny, code: ReasonRelTo},
	{name: "local user: NOFORN from another nation", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories, l.NoForn = nil, true }), to(gbrUser("GBR-NLO"))), want: tearline.Deny, code: ReasonNoForn},
	{name: "local user: restrictive category not held", edit: all(lab(func(l *tearline.Label) {
		l.Categories = append(l.Categories, tearline.Category{Type: tearline.Restrictive, Name: "Compartment", Values: []string{"HYDRA"}})
	}), to(gbrUser("GBR-NLO"))), want: tearline.Deny, code: ReasonRestrictive},
	{name: "local user: TLP:RED needs a person", edit: all(tlp(tearline.TLPRed), to(gbrUser("GBR-NLO"))), want: tearline.NeedsPerson, code: ReasonTLPRed},
	{name: "foreign liaison officer is decided under the agreements", edit: to(localUser("FRA", fraSecret)), want: tearline.Deny, code: ReasonRelTo},

	// 7. Purpose and personal data.
	{name: "purpose not allowed by the label", edit: lab(func(l *tearline.Label) { l.Purposes = []string{"defence"} }), want: tearline.Deny, code: ReasonPurpose},
	{name: "purpose allowed by the label", edit: lab(func(l *tearline.Label) { l.Purposes = []string{"counter-terrorism"} }), want: tearline.Allow, code: ReasonAllowed},
	{name: "purpose not allowed by the agreement", edit: all(natoReport, to(partner("DEU", natoNS)), func(r *Request) { r.Purpose = "trade" }), want: tearline.Deny, code: ReasonAgreementUse},
	{name: "H0 outside combating crime", edit: all(policeCase(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{tearline.H0} }), func(r *Request) { r.Purpose = PurposeJudicial }), want: tearline.Deny, code: ReasonH0},
	{name: "H0 for combating crime", edit: all(policeCase(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{tearline.H0} }), consent("FRA", "NLD", "report--1", "")), want: tearline.Allow, code: ReasonAllowed},
	{name: "H1 in judicial proceedings", edit: all(policeCase(func(l *tearline.Label) { l.Handling = []tearline.HandlingCode{tearline.H1} }), func(r *Request) { r.Purpose = PurposeJudicial }), want: tearline.NeedsConsent, code: ReasonH1, consent: []string{"FRA"}},
	{name: "personal data under the agreement's regime", edit: all(policeCase(func(l *tearline.Label) { l.PersonalData, l.Regime = true, "LED" }), consent("FRA", "NLD", "report--1", "")), want: tearline.Allow, code: ReasonAllowed},
	{name: "personal data without a legal basis", edit: policeCase(func(l *tearline.Label) { l.PersonalData, l.Regime = true, "GDPR" }), want: tearline.Deny, code: ReasonPersonalData},
	{name: "personal data under an agreement without regimes", edit: lab(func(l *tearline.Label) { l.PersonalData, l.Regime = true, "LED" }), want: tearline.Deny, code: ReasonPersonalData},
	{name: "personal data past the agreement's retention", edit: all(policeCase(func(l *tearline.Label) { l.PersonalData, l.Regime = true, "LED" }), func(r *Request) {
		r.Subject.Created = date("2019-06-01")
		r.Recipient = &tearline.Recipient{Code: "EUROPOL", Clearances: []tearline.Clearance{clearance("FRA", "DIFFUSION RESTREINTE")}}
	}), want: tearline.Deny, code: ReasonRetention},

	// Onward sharing.
	{name: "onward without pre-authorisation", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories = nil }), to(partner("CAN", canSecret))), want: tearline.NeedsConsent, code: ReasonOnward, consent: []string{"USA"}},
	{name: "onward with consent", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories = nil }), to(partner("CAN", canSecret)), consent("USA", "CAN", "report--1", "")), want: tearline.Allow, code: ReasonAllowed},
	{name: "onward pre-authorised by REL TO", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "CAN", "GBR")} }), to(partner("CAN", canSecret))), want: tearline.Allow, code: ReasonAllowed},
	{name: "onward back to the originator", edit: all(fromUSA, lab(func(l *tearline.Label) { l.Categories = nil })), want: tearline.Allow, code: ReasonAllowed},
	{name: "onward under the third-party rule", edit: policeCase(func(*tearline.Label) {}), want: tearline.NeedsConsent, code: ReasonThirdParty, consent: []string{"FRA"}},

	// Variants.
	{name: "tearline released when the full report is not", edit: all(to(partner("CAN", canSecret)), lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "GBR")} }), tearlineVariant), want: tearline.AllowVariant, code: ReasonRelTo, variant: "report--1-tearline"},
	{name: "every variant denied", edit: all(to(partner("FRA", fraSecret)), tearlineVariant), want: tearline.Deny, code: ReasonRelTo},
	{name: "tearline needs consent", edit: all(fromUSA, to(partner("CAN", canSecret)), lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "GBR")} }), tearlineVariant, func(r *Request) {
		r.Subject.Variants[0].Label.ORCON = true
		r.Subject.Variants[0].Label.Originators = []string{"USA"}
	}), want: tearline.NeedsConsent, code: ReasonORCON, consent: []string{"USA"}, variant: "report--1-tearline"},
	{name: "unverified tearline", edit: all(to(partner("CAN", canSecret)), lab(func(l *tearline.Label) { l.Categories = []tearline.Category{relTo("USA", "GBR")} }), tearlineVariant, func(r *Request) { r.Subject.Variants[0].Verified = false }), want: tearline.Deny, code: ReasonUnverified},
	{name: "recall covers the tearlines", edit: all(tearlineVariant, func(r *Request) { r.Subject.Recalled = true }), want: tearline.Deny, code: ReasonRecalled},
}

// orconToCAN: the UK passes US ORCON information, REL TO USA, CAN, GBR, to
// Canada.
func orconToCAN(r *Request) {
	fromUSA(r)
	r.Subject.Label.ORCON = true
	r.Subject.Label.Categories = []tearline.Category{relTo("USA", "CAN", "GBR")}
	r.Recipient = partner("CAN", canSecret)
}

// natoReport: the UK's NATO SECRET report, REL TO NATO.
func natoReport(r *Request) {
	l := &r.Subject.Label
	l.Policy, l.Classification = "NATO", "NATO SECRET"
	l.Categories = []tearline.Category{relTo("NATO")}
}

// ctgReport: the UK's SECRET report REL TO the counter-terrorism group.
func ctgReport(r *Request) {
	r.Subject.Label.Categories = []tearline.Category{relTo("GBR", "CTG")}
}

// policeCase: Germany holds French police information, REL TO DEU, FRA,
// NLD, and passes it to the Netherlands under the police agreement, which
// applies the third-party rule.
func policeCase(edit func(l *tearline.Label)) func(r *Request) {
	return func(r *Request) {
		s := r.Subject
		s.Holder, s.Type, s.Topics = "DEU", "report", []string{"crime"}
		s.Label = tearline.Label{
			Policy: "FRA", Classification: "DIFFUSION RESTREINTE",
			Categories:  []tearline.Category{relTo("DEU", "FRA", "NLD")},
			Originators: []string{"FRA"},
		}
		edit(&s.Label)
		r.Recipient = partner("NLD", clearance("FRA", "DIFFUSION RESTREINTE"))
		r.Purpose = PurposeCombatingCrime
	}
}

// displayCase: a US report REL TO USA, GBR, DISPLAY ONLY FRA.
func displayCase(action tearline.Action) func(r *Request) {
	return func(r *Request) {
		fromUSA(r)
		r.Subject.Holder = "USA"
		r.Subject.Label.Categories = []tearline.Category{relTo("USA", "GBR")}
		r.Subject.Label.DisplayOnly = []string{"FRA"}
		r.Recipient = partner("FRA", fraSecret)
		r.Action = action
	}
}

func tlp(c tearline.TLP) func(r *Request) {
	return func(r *Request) {
		r.Subject.Label.TLP = c
		r.Subject.Label.Categories = []tearline.Category{relTo("USA", "CAN", "GBR")}
	}
}

// localUser is a user of this node whose nation is code.
func localUser(code string, cl ...tearline.Clearance) *tearline.Recipient {
	return &tearline.Recipient{Code: code, Nationality: code, User: "a.analyst", Organisation: "GBR-NLO", Clearances: cl}
}

func gbrUser(org string) *tearline.Recipient {
	return &tearline.Recipient{Code: "GBR", Nationality: "GBR", User: "j.smith", Organisation: org, Clearances: []tearline.Clearance{gbrSecret}}
}

func consent(originator, recipient, object, expires string) func(r *Request) {
	return func(r *Request) {
		c := Consent{Originator: originator, Recipient: recipient, Object: object}
		if expires != "" {
			c.Expires = date(expires)
		}
		r.Subject.Consents = append(r.Subject.Consents, c)
	}
}

func tearlineVariant(r *Request) {
	l := r.Subject.Label
	l.Categories = []tearline.Category{relTo("USA", "GBR", "FVEY")}
	l.Classification = map[string]string{"GBR": "OFFICIAL-SENSITIVE", "USA": "CONFIDENTIAL"}[l.Policy]
	r.Subject.Variants = append(r.Subject.Variants, Variant{ID: "report--1-tearline", Label: l, Verified: true})
}

func only(codes ...string) tearline.Category {
	return tearline.Category{Type: tearline.Permissive, Name: "Releasable Only To", Values: codes, Narrowing: true}
}

var (
	atomal        = tearline.Category{Type: tearline.Restrictive, Name: "Additional Sensitivity", Values: []string{"ATOMAL"}}
	atomalCleared = tearline.Clearance{Policy: "NATO", Levels: natoNS.Levels, Categories: map[string][]string{"Additional Sensitivity": {"ATOMAL"}}}
	mission       = tearline.Category{Type: tearline.Permissive, Name: "Mission", Values: []string{"OP-NORTH"}}
)

func TestDecide(t *testing.T) {
	e, ref := deciders(t)
	for _, c := range decideCases {
		t.Run(c.name, func(t *testing.T) {
			for _, impl := range []struct {
				name   string
				decide func(*Request) tearline.Decision
			}{{"engine", e.Decide}, {"reference", ref.Decide}} {
				req := baseRequest()
				c.edit(req)
				d := impl.decide(req)
				if d.Outcome != c.want || !slices.Contains(codes(d), c.code) ||
					c.consent != nil && !slices.Equal(d.ConsentFrom, c.consent) ||
					d.Variant != c.variant {
					t.Errorf("%s: Decide(%v) = %s; want %v with %s%s%s", impl.name, c, fmtDecision(d), c.want, c.code,
						map[bool]string{true: fmt.Sprintf(" consent=%v", c.consent)}[c.consent != nil],
						map[bool]string{true: " variant=" + c.variant}[c.variant != ""])
				}
				if impl.name == "engine" && c.text != "" {
					found := false
					for _, r := range d.Reasons {
						found = found || r.Code == c.code && strings.Contains(r.Text, c.text)
					}
					if !found {
						t.Errorf("engine: Decide(%v) reasons = %q; want a %s reason saying %q", c, d.Reasons, c.code, c.text)
					}
				}
				if d.Outcome == tearline.Allow || d.Outcome == tearline.AllowVariant {
					if d.Agreement == "" {
						t.Errorf("%s: Decide(%v) allowed with no agreement named", impl.name, c)
					}
				}
			}
		})
	}
}

// TestDecideReasonsAgree: on every table case the engine gives the
// reference's outcome and exactly its reason codes, in order.
func TestDecideReasonsAgree(t *testing.T) {
	e, ref := deciders(t)
	for _, c := range decideCases {
		req := baseRequest()
		c.edit(req)
		got, want := e.Decide(req), ref.Decide(req)
		if !sameDecision(got, want) {
			t.Errorf("engine Decide(%v) = %s; reference says %s", c, fmtDecision(got), fmtDecision(want))
		}
	}
}

func sameDecision(a, b tearline.Decision) bool {
	return a.Outcome == b.Outcome && a.Variant == b.Variant && a.Agreement == b.Agreement &&
		slices.Equal(a.ConsentFrom, b.ConsentFrom) && slices.Equal(codes(a), codes(b))
}

// TestDecideText: what a liaison officer reads.
func TestDecideText(t *testing.T) {
	e, _ := deciders(t)
	req := baseRequest()
	req.Recipient = partner("FRA", fraSecret)
	d := e.Decide(req)
	want := []tearline.Reason{{Code: ReasonRelTo, Text: "FRA is not in REL TO USA, GBR, FVEY"}}
	if !slices.Equal(d.Reasons, want) || d.Agreement != "nato@2" {
		t.Errorf("Decide(GBR SECRET REL TO USA, GBR, FVEY to FRA) = %v %q %q; want deny %q under nato@2", d.Outcome, d.Reasons, d.Agreement, want)
	}

	req = baseRequest()
	d = e.Decide(req)
	want = []tearline.Reason{{Code: ReasonAllowed, Text: "allowed under Five Eyes intelligence sharing (fvey@3)"}}
	if d.Outcome != tearline.Allow || !slices.Equal(d.Reasons, want) || d.Agreement != "fvey@3" {
		t.Errorf("Decide(base) = %v %q %q; want allow %q", d.Outcome, d.Reasons, d.Agreement, want)
	}
}

// TestDecideAllocations: the allow path allocates nothing.
func TestDecideAllocations(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector makes sync.Pool allocate")
	}
	e, _ := deciders(t)
	req := baseRequest()
	e.Decide(req)
	if n := testing.AllocsPerRun(100, func() { e.Decide(req) }); n != 0 {
		t.Errorf("Decide(allow) allocates %v times; want 0", n)
	}
}

// TestExerciseEngine: a node playing in an exercise releases that
// exercise's material within it, and still nothing of another exercise nor
// real material marked for one.
func TestExerciseEngine(t *testing.T) {
	e, err := NewExerciseEngine(testRegistry(t), testAgreements(), "STEADFAST")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		label, request string
		want           tearline.Outcome
	}{
		{"STEADFAST", "", tearline.Allow},
		{"STEADFAST", "STEADFAST", tearline.Allow},
		{"LOCKED SHIELDS", "", tearline.Deny},
		{"STEADFAST", "LOCKED SHIELDS", tearline.Deny},
	} {
		req := baseRequest()
		req.Subject.Label.Exercise, req.Exercise = c.label, c.request
		if d := e.Decide(req); d.Outcome != c.want {
			t.Errorf("exercise engine: Decide(label %s, request %q) = %s; want %v", c.label, c.request, fmtDecision(d), c.want)
		}
	}
	if _, err := NewExerciseEngine(testRegistry(t), testAgreements(), ""); err == nil {
		t.Error("NewExerciseEngine without a name succeeded")
	}
}
