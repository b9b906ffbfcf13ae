package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// Reference is the naive reference model of the release decision: every
// rule of DOMAIN.md written out in the most direct way, with no indexes,
// no compilation and no shortcuts. It is slow on purpose; it exists so that
// the property test can check Engine against it. It assumes its agreements
// passed ValidateAgreement.
//
// The procedure, for each variant from the richest (the object itself) to
// the most sanitised:
//
//   - the label must be trustworthy and understood (binding verified,
//     known policy and level, no conflicting markings, known originators),
//     else the variant is denied for that alone;
//   - then every rule is checked in order against every agreement that
//     covers the release, and the agreement that gives the mildest verdict
//     (allow < needs consent < needs a person < deny; the first listed on a
//     tie) decides the variant; with no covering agreement, the rules that
//     need one are skipped and the variant is denied;
//   - a variant's verdict is the most severe of its reasons.
//
// The decision is the first variant allowed; else the first that needs
// consent or a person; else a denial with every variant's reasons.
type Reference struct {
	reg        *Registry
	agreements []tearline.Agreement
	schemes    schemes
}

// refReason is a reason with the verdict it implies and, for consent, whose
// consent is missing.
type refReason struct {
	tearline.Reason
	outcome tearline.Outcome // Deny, NeedsPerson or NeedsConsent
	consent []string
}

type refVerdict struct {
	outcome   tearline.Outcome
	reasons   []refReason
	agreement *tearline.Agreement
}

func severity(o tearline.Outcome) int {
	switch o {
	case tearline.Allow, tearline.AllowVariant:
		return 0
	case tearline.NeedsConsent:
		return 1
	case tearline.NeedsPerson:
		return 2
	}
	return 3
}

func (ref *Reference) Decide(req *Request) tearline.Decision {
	s, rc := req.Subject, req.Recipient
	var fatal []tearline.Reason
	if req.Action != tearline.Release && req.Action != tearline.Disclose && req.Action != tearline.Onward {
		fatal = append(fatal, tearline.Reason{Code: ReasonInvalidAction, Text: "unknown action"})
	}
	if _, ok := ref.reg.Partner(s.Holder); !ok {
		fatal = append(fatal, tearline.Reason{Code: ReasonUnknownHolder, Text: "unknown holder " + s.Holder})
	}
	if _, ok := ref.reg.Partner(rc.Code); !ok {
		fatal = append(fatal, tearline.Reason{Code: ReasonUnknownRecipient, Text: "unknown recipient " + rc.Code})
	}
	if len(fatal) > 0 {
		return tearline.Decision{Outcome: tearline.Deny, Reasons: fatal}
	}

	variants := append([]Variant{{ID: s.ID, Label: s.Label, Verified: s.Verified}}, s.Variants...)
	verdicts := make([]refVerdict, len(variants))
	for i := range variants {
		verdicts[i] = ref.variant(req, &variants[i])
	}

	reasonsUpTo := func(n int) []tearline.Reason {
		var out []tearline.Reason
		for i := 0; i < n && i < len(variants); i++ {
			for _, r := range verdicts[i].reasons {
				if len(variants) > 1 {
					r.Text = variants[i].ID + ": " + r.Text
				}
				out = append(out, r.Reason)
			}
		}
		return out
	}
	ref_ := func(a *tearline.Agreement) string {
		switch a {
		case nil:
			return ""
		case &domesticAgreement:
			return AgreementDomestic
		}
		return fmt.Sprintf("%s@%d", a.ID, a.Version)
	}
	for i, v := range verdicts {
		if v.outcome == tearline.Allow {
			d := tearline.Decision{Outcome: tearline.Allow, Agreement: ref_(v.agreement)}
			if i > 0 {
				d.Outcome, d.Variant = tearline.AllowVariant, variants[i].ID
			}
			d.Reasons = append(reasonsUpTo(i), tearline.Reason{Code: ReasonAllowed, Text: "allowed under " + d.Agreement})
			return d
		}
	}
	for i, v := range verdicts {
		if v.outcome == tearline.NeedsConsent || v.outcome == tearline.NeedsPerson {
			d := tearline.Decision{Outcome: v.outcome, Agreement: ref_(v.agreement), Reasons: reasonsUpTo(i + 1)}
			if i > 0 {
				d.Variant = variants[i].ID
			}
			if v.outcome == tearline.NeedsConsent {
				for _, r := range v.reasons {
					for _, o := range r.consent {
						if !slices.Contains(d.ConsentFrom, o) {
							d.ConsentFrom = append(d.ConsentFrom, o)
						}
					}
				}
				slices.Sort(d.ConsentFrom)
			}
			return d
		}
	}
	return tearline.Decision{Outcome: tearline.Deny, Agreement: ref_(verdicts[0].agreement), Reasons: reasonsUpTo(len(variants))}
}

func verdictOf(rs []refReason, a *tearline.Agreement) refVerdict {
	v := refVerdict{outcome: tearline.Allow, reasons: rs, agreement: a}
	for _, r := range rs {
		if severity(r.outcome) > severity(v.outcome) {
			v.outcome = r.outcome
		}
	}
	return v
}

// originators are the variant's label originators and the provenance
// chain's, in that order, without repeats; the holder when there are none.
func (ref *Reference) originators(s *Subject, l *tearline.Label) []string {
	var out []string
	for _, o := range append(slices.Clone(l.Originators), s.Originators...) {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		out = []string{s.Holder}
	}
	return out
}

func (ref *Reference) variant(req *Request, v *Variant) refVerdict {
	l := &v.Label
	var rs []refReason
	deny := func(code, format string, args ...any) {
		rs = append(rs, refReason{Reason: tearline.Reason{Code: code, Text: fmt.Sprintf(format, args...)}, outcome: tearline.Deny})
	}
	if !v.Verified {
		deny(ReasonUnverified, "binding not verified")
	}
	if ref.schemes.levels(l.Policy) == nil {
		deny(ReasonUnknownPolicy, "unknown policy %q", l.Policy)
	} else if _, ok := ref.schemes.rank(l.Policy, l.Classification); !ok {
		deny(ReasonUnknownClassification, "unknown level %q", l.Classification)
	}
	if broken := ref.conflicts(l); len(broken) > 0 {
		deny(ReasonInvalidLabel, "invalid label: %s", strings.Join(broken, "; "))
	}
	origs := ref.originators(req.Subject, l)
	for _, o := range origs {
		if _, ok := ref.reg.Partner(o); !ok {
			deny(ReasonUnknownOriginator, "unknown originator %s", o)
			break
		}
	}
	if len(rs) > 0 {
		return verdictOf(rs, nil)
	}

	if domestic(req) {
		// The holder's own users: no agreement is needed, and the rules
		// that an agreement would set do not apply.
		return verdictOf(ref.rules(req, v, origs, &domesticAgreement, nil), &domesticAgreement)
	}
	var best *refVerdict
	bestStage, bestStageReason := -1, refReason{}
	for i := range ref.agreements {
		a := &ref.agreements[i]
		stage, why := ref.coverage(req, a, origs)
		if stage < 3 {
			if stage > bestStage {
				bestStage, bestStageReason = stage, why
			}
			continue
		}
		vd := verdictOf(ref.rules(req, v, origs, a, nil), a)
		if best == nil || severity(vd.outcome) < severity(best.outcome) {
			best = &vd
		}
	}
	if best != nil {
		return *best
	}
	if bestStage < 1 {
		bestStageReason = refReason{Reason: tearline.Reason{Code: ReasonNoAgreement, Text: "no agreement"}, outcome: tearline.Deny}
	}
	return verdictOf(ref.rules(req, v, origs, nil, &bestStageReason), nil)
}

// domesticAgreement stands for the holder's own rules in a domestic
// decision: a local user of the holder's nation.
var domesticAgreement = tearline.Agreement{ID: "domestic"}

func domestic(req *Request) bool {
	return req.Recipient.User != "" && req.Recipient.Code == req.Subject.Holder
}

func (ref *Reference) partyTo(a *tearline.Agreement, code string, t time.Time) bool {
	for _, p := range a.Parties {
		if ref.reg.MemberAt(code, p, t) {
			return true
		}
	}
	return false
}

// coverage returns how far agreement a gets in covering the release: 0 the
// parties are not all in it, 1 it is not in force, 2 out of scope, 3 covers.
func (ref *Reference) coverage(req *Request, a *tearline.Agreement, origs []string) (int, refReason) {
	t, s := req.Time, req.Subject
	party := func(x string) bool {
		for _, p := range a.Parties {
			if ref.reg.MemberAt(x, p, t) {
				return true
			}
		}
		return false
	}
	deny := func(code string) refReason {
		return refReason{Reason: tearline.Reason{Code: code, Text: code + " " + a.ID}, outcome: tearline.Deny}
	}
	everyone := append([]string{s.Holder, req.Recipient.Code}, origs...)
	for _, x := range everyone {
		if !party(x) {
			return 0, deny(ReasonNoAgreement)
		}
	}
	if t.Before(a.ValidFrom) {
		return 1, deny(ReasonAgreementNotInForce)
	}
	if !a.ValidUntil.IsZero() && !t.Before(a.ValidUntil) {
		return 1, deny(ReasonAgreementExpired)
	}
	if len(a.Types) > 0 && !slices.Contains(a.Types, s.Type) {
		return 2, deny(ReasonOutOfScope)
	}
	if len(a.Topics) > 0 {
		if len(s.Topics) == 0 {
			return 2, deny(ReasonOutOfScope)
		}
		for _, topic := range s.Topics {
			if !slices.Contains(a.Topics, topic) {
				return 2, deny(ReasonOutOfScope)
			}
		}
	}
	return 3, refReason{}
}

// conflicts lists the marking rules the label breaks: contradictory
// controls and markings the model does not know. An empty category is not
// one: it is an empty roll-up intersection, which needs a person.
func (ref *Reference) conflicts(l *tearline.Label) []string {
	var broken []string
	relTo := false
	for _, c := range l.Categories {
		if c.Name == tearline.CategoryRelTo {
			relTo = true
		}
	}
	rule := func(broke bool, name string) {
		if broke {
			broken = append(broken, name)
		}
	}
	rule(relTo && l.NoForn, "relto-with-noforn")
	rule(len(l.EyesOnly) > 0 && l.NoForn, "eyes-with-noforn")
	rule(len(l.EyesOnly) > 0 && relTo, "eyes-with-relto")
	rule(len(l.DisplayOnly) > 0 && l.RelIDO, "display-only-with-relido")
	rule(len(l.DisplayOnly) > 0 && l.NoForn, "display-only-with-noforn")
	rule(l.RelIDO && l.NoForn, "relido-with-noforn")
	_, known := ref.schemes.rank(l.Policy, l.Classification)
	rule(known && l.ORCON && ref.schemes.unclassified(l.Policy, l.Classification), "orcon-on-unclassified")
	rule(known && l.FOUO && !ref.schemes.unclassified(l.Policy, l.Classification), "fouo-on-classified")
	badType, badRelTo := false, false
	for _, c := range l.Categories {
		if c.Type != tearline.Restrictive && c.Type != tearline.Permissive && c.Type != tearline.Informative {
			badType = true
		}
		if c.Narrowing && c.Type != tearline.Permissive {
			badType = true
		}
		if c.Name == tearline.CategoryRelTo && (c.Type != tearline.Permissive || c.Narrowing) {
			badRelTo = true
		}
	}
	rule(badType, "category-type")
	rule(badRelTo, "relto-category")
	badHandling := false
	for _, h := range l.Handling {
		if h != tearline.H0 && h != tearline.H1 && h != tearline.H2 && h != tearline.H3 {
			badHandling = true
		}
	}
	rule(badHandling, "unknown-handling-code")
	rule(l.TLP > tearline.TLPRed || l.IEP != nil && l.IEP.TLP > tearline.TLPRed, "unknown-tlp")
	rule(l.PAP > tearline.TLPRed || l.PAP == tearline.TLPAmberStrict, "unknown-pap")
	rule(l.IEP != nil && l.IEP.TLP != tearline.TLPNone && l.TLP != tearline.TLPNone && l.IEP.TLP != l.TLP, "iep-tlp-mismatch")
	return broken
}

// holds reports whether the recipient holds one of values: its own code,
// or a community it was a member of both when the object was created and
// now.
func (ref *Reference) holds(req *Request, values []string) bool {
	for _, v := range values {
		if ref.reg.MemberAt(req.Recipient.Code, v, req.Subject.Created) && ref.reg.MemberAt(req.Recipient.Code, v, req.Time) {
			return true
		}
	}
	return false
}

func (ref *Reference) recipientNationality(rc *tearline.Recipient) string {
	registered := ref.reg.Nationality(rc.Code)
	if rc.Nationality == "" {
		return registered
	}
	if registered != "" && registered != rc.Nationality {
		return ""
	}
	return rc.Nationality
}

// mapLevel returns the level of policy to that the label's level stands
// for under agreement a: an equivalence reads both ways, and the first one
// listed that relates the two applies.
func mapLevel(a *tearline.Agreement, from tearline.Classification, to string) (string, bool) {
	if from.Policy == to {
		return from.Level, true
	}
	if a == nil {
		return "", false
	}
	for _, e := range a.Equivalences {
		if e.From == from && e.To.Policy == to {
			return e.To.Level, true
		}
		if e.To == from && e.From.Policy == to {
			return e.From.Level, true
		}
	}
	return "", false
}

// rules checks every rule from step 2 on, in order, under agreement a; with
// a nil, the rules that need an agreement are skipped and coverage is the
// reason none applies.
func (ref *Reference) rules(req *Request, v *Variant, origs []string, a *tearline.Agreement, coverage *refReason) []refReason {
	s, rc, l, t := req.Subject, req.Recipient, &v.Label, req.Time
	var rs []refReason
	add := func(outcome tearline.Outcome, code, format string, args ...any) {
		rs = append(rs, refReason{Reason: tearline.Reason{Code: code, Text: fmt.Sprintf(format, args...)}, outcome: outcome})
	}
	deny := func(code, format string, args ...any) { add(tearline.Deny, code, format, args...) }
	person := func(code, format string, args ...any) { add(tearline.NeedsPerson, code, format, args...) }

	// The originators whose rights are at stake: not the holder (it is
	// releasing) and not the recipient (it is getting its own back).
	var others []string
	for _, o := range origs {
		if o != s.Holder && o != rc.Code {
			others = append(others, o)
		}
	}
	var missing, useMissing []string
	for _, o := range others {
		consented := false
		for _, c := range s.Consents {
			if c.Originator == o && c.Recipient == rc.Code && (c.Object == v.ID || c.Object == s.ID) &&
				(c.Expires.IsZero() || t.Before(c.Expires)) {
				consented = true
			}
		}
		if !consented {
			missing = append(missing, o)
		}
	}
	// The holder's own users are the holder: showing them what it holds
	// passes nothing on, so no originator's consent is at stake, except
	// for what the holder itself may not do without it (H1).
	useMissing = missing
	home := a == &domesticAgreement
	if home {
		missing = nil
	}
	needConsent := func(code string) {
		rs = append(rs, refReason{Reason: tearline.Reason{Code: code, Text: code + " from " + strings.Join(useMissing, ", ")},
			outcome: tearline.NeedsConsent, consent: slices.Clone(useMissing)})
	}

	// 2. Current.
	if s.Recalled {
		deny(ReasonRecalled, "recalled")
	}
	if l.Successor != "" {
		deny(ReasonSuperseded, "superseded by %s", l.Successor)
	}
	if !l.Expires.IsZero() && !t.Before(l.Expires) {
		deny(ReasonExpired, "expired")
	}
	if !l.RetainUntil.IsZero() && !t.Before(l.RetainUntil) {
		deny(ReasonRetentionPassed, "past retention")
	}
	if l.Exercise != "" && l.Exercise != req.Exercise {
		deny(ReasonExercise, "exercise %s", l.Exercise)
	}

	// 3. Agreement and ceiling.
	if a == nil {
		rs = append(rs, *coverage)
	} else if !home {
		applicable, above := 0, false
		for _, c := range a.Ceilings {
			lvl, ok := mapLevel(a, tearline.Classification{Policy: l.Policy, Level: l.Classification}, c.Policy)
			if !ok {
				continue
			}
			applicable++
			r, _ := ref.schemes.rank(c.Policy, lvl)
			max, _ := ref.schemes.rank(c.Policy, c.Level)
			if r > max {
				above = true
			}
		}
		if applicable == 0 {
			person(ReasonForeignPolicy, "policy %s has no equivalent under %s", l.Policy, a.ID)
		} else if above {
			deny(ReasonAboveCeiling, "above the ceiling of %s", a.ID)
		}
	}

	// 4. Clearance (needs an agreement for equivalences) and categories.
	var clearance *tearline.Clearance
	var clearedLevel string
	if a != nil {
		label := tearline.Classification{Policy: l.Policy, Level: l.Classification}
		for i := range rc.Clearances {
			if rc.Clearances[i].Policy == l.Policy {
				clearance, clearedLevel = &rc.Clearances[i], l.Classification
				break
			}
		}
		if clearance == nil && home {
			// National equivalents from the holder's agreements in force.
		homeEq:
			for i := range ref.agreements {
				ha := &ref.agreements[i]
				if !ha.Active(t) || !ref.partyTo(ha, s.Holder, t) {
					continue
				}
				for j := range rc.Clearances {
					if lvl, ok := mapLevel(ha, label, rc.Clearances[j].Policy); ok {
						clearance, clearedLevel = &rc.Clearances[j], lvl
						break homeEq
					}
				}
			}
		}
		if clearance == nil && !home {
			for i := range rc.Clearances {
				if lvl, ok := mapLevel(a, label, rc.Clearances[i].Policy); ok {
					clearance, clearedLevel = &rc.Clearances[i], lvl
					break
				}
			}
		}
		if clearance == nil {
			deny(ReasonNoClearance, "no clearance")
		} else if !slices.Contains(clearance.Levels, clearedLevel) {
			deny(ReasonClassificationNotHeld, "%s not held", clearedLevel)
		}
	}
	displayTo := req.Action == tearline.Disclose && len(l.DisplayOnly) > 0 && ref.holds(req, l.DisplayOnly)
	for _, c := range l.Categories {
		nationality := c.Name == tearline.CategoryRelTo || c.Narrowing
		switch {
		case c.Type == tearline.Informative:
		case nationality && len(c.Values) == 0:
			person(ReasonEmptyCategory, "%s is empty", c.Name)
		case c.Name == tearline.CategoryRelTo:
			if !ref.holds(req, c.Values) && !displayTo {
				deny(ReasonRelTo, "%s is not in REL TO %s", rc.Code, strings.Join(c.Values, ", "))
			}
		case c.Narrowing:
			if !ref.holds(req, c.Values) {
				deny(ReasonOnly, "%s is not in %s", rc.Code, c.Name)
			}
		case clearance == nil:
		case len(c.Values) == 0 && c.Type == tearline.Permissive:
			person(ReasonEmptyCategory, "%s is empty", c.Name)
		case c.Type == tearline.Restrictive:
			for _, val := range c.Values {
				if !slices.Contains(clearance.Categories[c.Name], val) {
					deny(ReasonRestrictive, "%s %s not held", c.Name, val)
					break
				}
			}
		case c.Type == tearline.Permissive:
			held := false
			for _, val := range c.Values {
				if slices.Contains(clearance.Categories[c.Name], val) {
					held = true
				}
			}
			if !held {
				deny(ReasonPermissive, "no value of %s held", c.Name)
			}
		}
	}

	// 5. Dissemination controls.
	nat := ref.recipientNationality(rc)
	national := nat != ""
	for _, o := range origs {
		if ref.reg.Nationality(o) != nat {
			national = false
		}
	}
	if l.NoForn && !national {
		deny(ReasonNoForn, "NOFORN")
	}
	if len(l.EyesOnly) > 0 && !ref.holds(req, l.EyesOnly) {
		deny(ReasonEyesOnly, "EYES ONLY")
	}
	relTo, preAuthorised := 0, true
	for _, c := range l.Categories {
		if c.Name == tearline.CategoryRelTo {
			relTo++
			if !ref.holds(req, c.Values) {
				preAuthorised = false
			}
		}
	}
	preAuthorised = preAuthorised && relTo > 0
	if len(l.DisplayOnly) > 0 && !national && !preAuthorised {
		if req.Action != tearline.Disclose {
			deny(ReasonDisplayOnly, "display only, no copy")
		} else if !ref.holds(req, l.DisplayOnly) {
			deny(ReasonDisplayOnly, "not in DISPLAY ONLY")
		}
	}
	if l.ORCON && len(missing) > 0 {
		needConsent(ReasonORCON)
	}
	if slices.Contains(l.Handling, tearline.H2) && len(missing) > 0 {
		needConsent(ReasonH2)
	}
	if l.RelIDO {
		person(ReasonRelIDO, "RELIDO")
	}
	if slices.Contains(l.Handling, tearline.H3) {
		person(ReasonH3, "H3: %s", l.H3Text)
	}

	// 6. TLP, relative to the holder.
	tlp := l.TLP
	if l.IEP != nil && l.IEP.TLP > tlp {
		tlp = l.IEP.TLP
	}
	if tlp == tearline.TLPRed {
		person(ReasonTLPRed, "TLP:RED")
	} else if len(others) > 0 {
		ok := true
		switch tlp {
		case tearline.TLPAmberStrict:
			ok = rc.Code == s.Holder && rc.Organisation != "" && rc.Organisation == s.HolderOrganisation
		case tearline.TLPAmber:
			ok = rc.Code == s.Holder
		case tearline.TLPGreen:
			ok = rc.Code == s.Holder
			for _, c := range ref.reg.Communities() {
				if ref.reg.MemberAt(rc.Code, c.Code, t) && ref.reg.MemberAt(s.Holder, c.Code, t) {
					ok = true
				}
			}
		}
		if !ok {
			deny(ReasonTLP, "TLP")
		}
	}

	// 7. Purpose.
	if len(l.Purposes) > 0 && !slices.Contains(l.Purposes, req.Purpose) {
		deny(ReasonPurpose, "purpose")
	}
	if slices.Contains(l.Handling, tearline.H0) && req.Purpose != PurposeCombatingCrime {
		deny(ReasonH0, "H0")
	}
	if slices.Contains(l.Handling, tearline.H1) && req.Purpose == PurposeJudicial && len(useMissing) > 0 {
		needConsent(ReasonH1)
	}
	if a != nil && len(a.Purposes) > 0 && !slices.Contains(a.Purposes, req.Purpose) {
		deny(ReasonAgreementUse, "purpose not in agreement")
	}

	// 7. Personal data.
	if a != nil && !home && l.PersonalData {
		if l.Regime == "" || !slices.Contains(a.PersonalDataRegimes, l.Regime) {
			deny(ReasonPersonalData, "personal data")
		}
		if a.Retention > 0 && !t.Before(s.Created.Add(a.Retention)) {
			deny(ReasonRetention, "retention")
		}
	}

	// Onward sharing.
	if len(missing) > 0 {
		if !preAuthorised {
			needConsent(ReasonOnward)
		} else if a != nil && a.ThirdPartyRule {
			needConsent(ReasonThirdParty)
		}
	}
	return rs
}

// newReference returns a Reference over a registry, agreements and
// schemes.
func newReference(reg *Registry, agreements []tearline.Agreement, sch schemes) *Reference {
	return &Reference{reg: reg, agreements: agreements, schemes: sch}
}
