package policy

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// explainer collects the reasons of one variant's verdict, in words.
type explainer struct {
	reasons []tearline.Reason
	prefix  string    // the variant's id, when there are several
	consent *[]string // originators whose consent is missing
}

func (x *explainer) add(code, format string, args ...any) {
	x.reasons = append(x.reasons, tearline.Reason{Code: code, Text: x.prefix + fmt.Sprintf(format, args...)})
}

// Which rules to check: those that do not depend on the agreement, those
// that do, or all of them in order.
const (
	partIndependent = 1 << iota
	partAgreement
	partAll = partIndependent | partAgreement
)

// rules checks every rule from step 2 on for variant v, in the order of
// DOMAIN.md, and returns the verdict. The fast path calls it without an
// explainer, once for the rules that hold whatever the agreement and once
// per covering agreement for the rest, and stops at the first denial; the
// explanation calls it for every rule with x, and gets every reason. With a
// nil agreement (none covers the release), the rules that need one are
// skipped.
func (c *ctx) rules(v *cvariant, a *engineAgreement, x *explainer, part int) uint8 {
	l, s, rc, t := v.label, c.s, c.rc, c.req.Time
	indep, dep := part&partIndependent != 0, part&partAgreement != 0 && a != nil
	sev := sevAllow
	fail := func(level uint8) bool {
		// Reports whether to stop: a denial ends the fast path.
		sev = max(sev, level)
		return x == nil && level == sevDeny
	}

	if indep {
		// 2. The object is current.
		if s.Recalled {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonRecalled, "the object has been recalled; none of it may be released")
		}
		if l.Successor != "" {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonSuperseded, "the label has been superseded by %s; decide on the successor", l.Successor)
		}
		if !l.Expires.IsZero() && !t.Before(l.Expires) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonExpired, "the information expired on %s and is never released after that", day(l.Expires))
		}
		if !l.RetainUntil.IsZero() && !t.Before(l.RetainUntil) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonRetentionPassed, "the information was to be kept only until %s; it must be deleted, not released", day(l.RetainUntil))
		}
		exercise := c.req.Exercise
		if exercise == "" {
			exercise = c.e.exercise
		}
		if l.Exercise != "" && l.Exercise != exercise {
			if fail(sevDeny) {
				return sev
			}
			where := "a real-world release"
			if exercise != "" {
				where = "a release in exercise " + exercise
			}
			x.add(ReasonExercise, "this is EXERCISE material of %s and never leaves it; this is %s", l.Exercise, where)
		}
	}

	// 3. Agreement: ceiling after equivalence mapping.
	if dep && !a.home {
		verdict := ceilForeign
		if v.policy >= 0 {
			verdict = a.ceil[v.policy][v.rank]
		}
		switch verdict {
		case ceilForeign:
			fail(sevPerson)
			if x != nil {
				x.add(ReasonForeignPolicy, "%s has no equivalent under %s (%s); a releasing officer must decide how it maps",
					classText(l.Policy, l.Classification), a.a.Title, a.ref)
			}
		case ceilAbove:
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonAboveCeiling, "%s is above what %s (%s) allows: %s",
				classText(l.Policy, l.Classification), a.a.Title, a.ref, ceilingsText(a))
		}
	} else if x != nil && part == partAll && a == nil {
		c.coverageReason(v, x)
		sev = sevDeny
	}

	// 4. Clearance, selected under the agreement's equivalences.
	// The recipient's clearance under the label's policy, else the first
	// under a policy the agreement maps the label's level onto; its levels
	// are canonical names, compared exactly.
	var cl *tearline.Clearance
	if dep {
		level := l.Classification
		for i := range rc.Clearances {
			if rc.Clearances[i].Policy == l.Policy {
				cl = &rc.Clearances[i]
				break
			}
		}
		if cl == nil && v.policy >= 0 && a.home {
			// A user's clearance is national: foreign material is held at
			// the national equivalent that the holder's agreements in
			// force set, in the order they are listed.
		home:
			for _, ai := range c.e.byPartner[c.h] {
				ha := &c.e.agreements[ai]
				if !ha.a.Active(t) || !c.e.partyAt(ha.parties, c.h, t) {
					continue
				}
				for i := range rc.Clearances {
					for _, m := range ha.eq[v.policy][v.rank] {
						if m.policy == rc.Clearances[i].Policy {
							cl, level = &rc.Clearances[i], m.level
							break home
						}
					}
				}
			}
		}
		if cl == nil && v.policy >= 0 && !a.home {
		find:
			for i := range rc.Clearances {
				for _, m := range a.eq[v.policy][v.rank] {
					if m.policy == rc.Clearances[i].Policy {
						cl, level = &rc.Clearances[i], m.level
						break find
					}
				}
			}
		}
		if cl == nil {
			if fail(sevDeny) {
				return sev
			}
			if a.home {
				x.add(ReasonNoClearance, "%s holds no clearance under the %s policy or one that the holder's agreements map it to", recipientText(rc), l.Policy)
			} else {
				x.add(ReasonNoClearance, "%s holds no clearance under the %s policy or one that %s maps it to", rc.Code, l.Policy, a.ref)
			}
		} else if !slices.Contains(cl.Levels, level) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonClassificationNotHeld, "%s's %s clearance does not include %s (it holds %s)",
				recipientText(rc), cl.Policy, level, strings.Join(cl.Levels, ", "))
		}
	}
	displayTo := c.req.Action == tearline.Disclose && v.display != nil && c.holds(v.display)
	for i := range v.cats {
		cat := &v.cats[i]
		switch cat.kind {
		case catInformative:
		case catRelTo, catOnly:
			if !indep {
				continue
			}
			if len(cat.c.Values) == 0 {
				fail(sevPerson)
				if x != nil {
					x.add(ReasonEmptyCategory, "%s lists no one (an empty intersection when labels were combined); a releasing officer must decide", categoryName(cat.c))
				}
				continue
			}
			if c.holds(cat.bits) || cat.kind == catRelTo && displayTo {
				continue
			}
			if fail(sevDeny) {
				return sev
			}
			code := ReasonRelTo
			if cat.kind == catOnly {
				code = ReasonOnly
			}
			x.add(code, "%s is not in %s %s%s", rc.Code, categoryName(cat.c), strings.Join(cat.c.Values, ", "), c.whyNot(cat.c.Values))
		default:
			if !dep || cl == nil {
				continue
			}
			held := cl.Categories[cat.c.Name]
			if cat.kind == catPermissive && len(cat.c.Values) == 0 {
				fail(sevPerson)
				if x != nil {
					x.add(ReasonEmptyCategory, "%s lists no value (an empty intersection when labels were combined); a releasing officer must decide", cat.c.Name)
				}
				continue
			}
			if cat.kind == catRestrictive {
				for _, val := range cat.c.Values {
					if !slices.Contains(held, val) {
						if fail(sevDeny) {
							return sev
						}
						x.add(ReasonRestrictive, "%s does not hold %s (%s), which the label requires", rc.Code, val, cat.c.Name)
						break
					}
				}
				continue
			}
			if !slices.ContainsFunc(cat.c.Values, func(val string) bool { return slices.Contains(held, val) }) {
				if fail(sevDeny) {
					return sev
				}
				x.add(ReasonPermissive, "%s holds none of %s: %s", rc.Code, cat.c.Name, strings.Join(cat.c.Values, ", "))
			}
		}
	}

	// 5. Dissemination controls.
	national := c.nat != "" && v.nationality == c.nat
	preAuthorised := v.relTo > 0
	for i := range v.cats {
		if v.cats[i].kind == catRelTo && !c.holds(v.cats[i].bits) {
			preAuthorised = false
		}
	}
	if indep {
		if l.NoForn && !national {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonNoForn, "NOFORN: releasable only to nationals of %s; %s is not", c.originatorList(v), rc.Code)
		}
		if v.eyes != nil && !c.holds(v.eyes) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonEyesOnly, "%s is not in %s EYES ONLY", rc.Code, strings.Join(l.EyesOnly, ", "))
		}
		if v.display != nil && !national && !preAuthorised {
			if c.req.Action != tearline.Disclose {
				if fail(sevDeny) {
					return sev
				}
				x.add(ReasonDisplayOnly, "DISPLAY ONLY %s: it may be shown but never given as a copy, exported or passed on", strings.Join(l.DisplayOnly, ", "))
			} else if !c.holds(v.display) {
				if fail(sevDeny) {
					return sev
				}
				x.add(ReasonDisplayOnly, "%s is not in DISPLAY ONLY %s", rc.Code, strings.Join(l.DisplayOnly, ", "))
			}
		}
		if l.ORCON && v.missing {
			fail(sevConsent)
			if x != nil {
				x.add(ReasonORCON, "ORCON: the originator controls dissemination; %s needs the consent of %s", rc.Code, c.missing(v, x))
			}
		}
		if v.h2 && v.missing {
			fail(sevConsent)
			if x != nil {
				x.add(ReasonH2, "handling code H2: not to be disseminated without the permission of %s", c.missing(v, x))
			}
		}
		if l.RelIDO {
			fail(sevPerson)
			if x != nil {
				x.add(ReasonRelIDO, "RELIDO: releasable only by a designated disclosure official's decision")
			}
		}
		if v.h3 {
			fail(sevPerson)
			if x != nil {
				x.add(ReasonH3, "handling code H3: other restrictions apply (%q); a person must read them and decide", l.H3Text)
			}
		}

		// 6. TLP, relative to the holder.
		if v.tlp == tearline.TLPRed {
			fail(sevPerson)
			if x != nil {
				x.add(ReasonTLPRed, "TLP:RED: for the named recipients only; a person must decide whether %s is one", rc.Code)
			}
		} else if v.others && !c.tlpAllows(v.tlp) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonTLP, "%s: %s received it from %s and may pass it only %s; %s is not",
				tlpName(v.tlp), s.Holder, c.originatorList(v), tlpScope(v.tlp), recipientText(rc))
		}

		// 7. Purpose.
		if len(l.Purposes) > 0 && !slices.Contains(l.Purposes, c.req.Purpose) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonPurpose, "the purpose %q is not one the label allows: %s", c.req.Purpose, strings.Join(l.Purposes, ", "))
		}
		if v.h0 && c.req.Purpose != PurposeCombatingCrime {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonH0, "handling code H0: only for preventing and combating crime (purpose %q), not %q", PurposeCombatingCrime, c.req.Purpose)
		}
		if v.h1 && c.req.Purpose == PurposeJudicial && (v.missing || v.useMissing) {
			fail(sevConsent)
			if x != nil {
				x.add(ReasonH1, "handling code H1: use in judicial proceedings needs the permission of %s", c.missing(v, x))
			}
		}
	}
	if dep && !a.home {
		if len(a.a.Purposes) > 0 && !slices.Contains(a.a.Purposes, c.req.Purpose) {
			if fail(sevDeny) {
				return sev
			}
			x.add(ReasonAgreementUse, "the purpose %q is not one %s (%s) allows: %s", c.req.Purpose, a.a.Title, a.ref, strings.Join(a.a.Purposes, ", "))
		}
		// 7. Personal data.
		if l.PersonalData {
			if l.Regime == "" || !slices.Contains(a.a.PersonalDataRegimes, l.Regime) {
				if fail(sevDeny) {
					return sev
				}
				regime := l.Regime
				if regime == "" {
					regime = "an unnamed regime"
				}
				x.add(ReasonPersonalData, "personal data collected under %s has no legal basis under %s (%s)", regime, a.a.Title, a.ref)
			}
			if a.a.Retention > 0 && !t.Before(s.Created.Add(a.a.Retention)) {
				if fail(sevDeny) {
					return sev
				}
				x.add(ReasonRetention, "personal data created on %s is past the %s retention period of %s", day(s.Created), a.ref, periodText(a.a.Retention))
			}
		}
	}

	// Onward sharing by a holder that is not the originator.
	if v.missing {
		if !preAuthorised {
			if indep {
				fail(sevConsent)
				if x != nil {
					x.add(ReasonOnward, "%s is not the originator: passing it to %s needs the label to authorise %s, or the consent of %s",
						s.Holder, rc.Code, rc.Code, c.missing(v, x))
				}
			}
		} else if dep && a.a.ThirdPartyRule {
			fail(sevConsent)
			if x != nil {
				x.add(ReasonThirdParty, "%s (%s) applies the third-party rule: passing %s's information to %s needs its consent",
					a.a.Title, a.ref, c.missing(v, x), rc.Code)
			}
		}
	}
	return sev
}

// compileConsent sets v.others and v.missing: whether the variant has
// originators other than the holder and the recipient, and whether one of
// them has not consented to this release.
//
// The holder's own users are the holder: showing them what it holds passes
// nothing on, so no consent is missing for them; useMissing keeps what the
// holder itself may not do without consent (H1).
func (c *ctx) compileConsent(v *cvariant) {
	for _, o := range v.origs {
		if o == c.h || o == c.r {
			continue
		}
		v.others = true
		if !c.consented(v, o) {
			v.missing = true
			break
		}
	}
	if c.home && v.missing {
		v.missing, v.useMissing = false, true
	}
}

func (c *ctx) consented(v *cvariant, o int32) bool {
	code, t := c.e.partners[o].code, c.req.Time
	for i := range c.s.Consents {
		k := &c.s.Consents[i]
		if k.Originator == code && k.Recipient == c.rc.Code && (k.Object == v.id || k.Object == c.s.ID) &&
			(k.Expires.IsZero() || t.Before(k.Expires)) {
			return true
		}
	}
	return false
}

// missing lists the originators whose consent is missing, and records them
// in the explainer.
func (c *ctx) missing(v *cvariant, x *explainer) string {
	var codes []string
	for _, o := range v.origs {
		if o != c.h && o != c.r && !c.consented(v, o) {
			codes = append(codes, c.e.partners[o].code)
		}
	}
	if x.consent != nil {
		*x.consent = append(*x.consent, codes...)
	}
	return strings.Join(codes, ", ")
}

func (c *ctx) originatorList(v *cvariant) string {
	codes := make([]string, len(v.origs))
	for i, o := range v.origs {
		codes[i] = c.e.partners[o].code
	}
	return strings.Join(codes, ", ")
}

func (c *ctx) tlpAllows(tlp tearline.TLP) bool {
	rc, s := c.rc, c.s
	switch tlp {
	case tearline.TLPAmberStrict:
		return c.r == c.h && rc.Organisation != "" && rc.Organisation == s.HolderOrganisation
	case tearline.TLPAmber:
		return c.r == c.h
	case tearline.TLPGreen:
		if c.r == c.h {
			return true
		}
		t := c.req.Time
		for i := range c.memR {
			m := &c.memR[i]
			if !m.at(t) {
				continue
			}
			for j := range c.e.partners[c.h].member {
				hm := &c.e.partners[c.h].member[j]
				if hm.comm == m.comm && hm.at(t) {
					return true
				}
			}
		}
		return false
	}
	return true
}

func tlpName(t tearline.TLP) string {
	return [...]string{"no TLP", "TLP:CLEAR", "TLP:GREEN", "TLP:AMBER", "TLP:AMBER+STRICT", "TLP:RED"}[t]
}

func tlpScope(t tearline.TLP) string {
	switch t {
	case tearline.TLPAmberStrict:
		return "within its own organisation"
	case tearline.TLPAmber:
		return "within its own organisation and to its clients"
	case tearline.TLPGreen:
		return "within a community it belongs to"
	}
	return "to anyone"
}

func categoryName(c *tearline.Category) string {
	if c.Name == tearline.CategoryRelTo {
		return "REL TO"
	}
	return c.Name
}

// whyNot explains, for a liaison officer, why the communities in values
// do not cover the recipient: unknown codes, or membership that does not
// cover both the object's creation and now.
func (c *ctx) whyNot(values []string) string {
	var b strings.Builder
	created, t, rc := c.s.Created, c.req.Time, c.rc.Code
	for _, v := range values {
		i, ok := c.e.codes[v]
		switch {
		case !ok:
			fmt.Fprintf(&b, "; %s is not a known partner or community and grants nothing", v)
		case int(i) < len(c.e.partners):
		default:
			for j := range c.memR {
				m := &c.memR[j]
				if m.comm != i {
					continue
				}
				nowIn, thenIn := m.at(t), m.at(created)
				switch {
				case nowIn && !thenIn:
					fmt.Fprintf(&b, "; %s was not a member of %s when this was created (%s), and joining later does not give access to older material", rc, v, day(created))
				case !nowIn:
					fmt.Fprintf(&b, "; %s is no longer a member of %s", rc, v)
				}
			}
		}
	}
	return b.String()
}

func ceilingsText(a *engineAgreement) string {
	parts := make([]string, len(a.a.Ceilings))
	for i, c := range a.a.Ceilings {
		parts[i] = classText(c.Policy, c.Level)
	}
	return strings.Join(parts, ", ")
}

// coverageReason explains why no agreement covers the release: the
// agreement that came closest, or that none names every party.
func (c *ctx) coverageReason(v *cvariant, x *explainer) {
	best, bestAg := -1, int32(-1)
	for _, ai := range c.e.byPartner[c.r] {
		if st := c.coverage(v, &c.e.agreements[ai]); st > best && st < stageCovers {
			best, bestAg = st, ai
		}
	}
	if best < stageInForce {
		x.add(ReasonNoAgreement, "no agreement in force makes %s (holder), %s (recipient) and %s (originator) parties together",
			c.s.Holder, c.rc.Code, c.originatorList(v))
		return
	}
	a := &c.e.agreements[bestAg]
	t := c.req.Time
	switch {
	case best == stageInForce && t.Before(a.a.ValidFrom):
		x.add(ReasonAgreementNotInForce, "%s (%s) comes into force on %s", a.a.Title, a.ref, day(a.a.ValidFrom))
	case best == stageInForce:
		x.add(ReasonAgreementExpired, "%s (%s) expired on %s; nothing new is released under it", a.a.Title, a.ref, day(a.a.ValidUntil))
	default:
		x.add(ReasonOutOfScope, "a %s on %s is outside the scope of %s (%s): types %s, topics %s",
			c.s.Type, orNone(c.s.Topics), a.a.Title, a.ref, orAll(a.a.Types), orAll(a.a.Topics))
	}
}

func orNone(s []string) string {
	if len(s) == 0 {
		return "no stated topic"
	}
	return strings.Join(s, ", ")
}

func orAll(s []string) string {
	if len(s) == 0 {
		return "any"
	}
	return strings.Join(s, ", ")
}

// explain appends the reasons of variant i under agreement ag (-1: none
// covers) to rs.
func (c *ctx) explain(rs []tearline.Reason, i int, ag int32, consent *[]string) []tearline.Reason {
	v := &c.sc.variants[i]
	x := &explainer{reasons: rs, consent: consent}
	if len(c.sc.variants) > 1 {
		x.prefix = v.id + ": "
	}
	if v.fatal {
		c.integrity(v, x)
		return x.reasons
	}
	var a *engineAgreement
	if ag >= 0 {
		a = &c.e.agreements[ag]
	}
	c.rules(v, a, x, partAll)
	return x.reasons
}

// integrity explains why a variant's label cannot be used at all.
func (c *ctx) integrity(v *cvariant, x *explainer) {
	l := v.label
	if !v.verified {
		x.add(ReasonUnverified, "the label's binding signature did not verify, so the label cannot be trusted")
	}
	if l.Policy == "" {
		x.add(ReasonUnknownPolicy, "the information has no classification policy; unlabelled information is never released")
	} else if c.e.sch.levels(l.Policy) == nil {
		x.add(ReasonUnknownPolicy, "the label's policy %q is not a known classification policy", l.Policy)
	} else if _, ok := c.e.sch.rank(l.Policy, l.Classification); !ok {
		x.add(ReasonUnknownClassification, "%q is not a level of the %s policy; use one of: %s",
			l.Classification, l.Policy, strings.Join(c.e.sch.levels(l.Policy), ", "))
	}
	info, known := c.e.levels[classKey{l.Policy, l.Classification}]
	if bad := conflicts(l, info, known); bad != 0 {
		var rules []string
		for i, text := range conflictRules {
			if bad&(1<<i) != 0 {
				rules = append(rules, text)
			}
		}
		x.add(ReasonInvalidLabel, "the label breaks marking rules (%s); it should have been rejected when it was received", strings.Join(rules, "; "))
	}
	for _, o := range v.origs {
		if o < 0 {
			x.add(ReasonUnknownOriginator, "an originator of this information is not a known partner: %s", c.unknownOriginators(v))
			break
		}
	}
}

func (c *ctx) unknownOriginators(v *cvariant) string {
	var codes []string
	for _, o := range append(slices.Clone(v.label.Originators), c.s.Originators...) {
		if i, ok := c.e.codes[o]; (!ok || int(i) >= len(c.e.partners)) && !slices.Contains(codes, o) {
			codes = append(codes, o)
		}
	}
	return strings.Join(codes, ", ")
}

// classText writes a classification as people read it: "NATO SECRET",
// "GBR SECRET", not "NATO NATO SECRET".
func classText(policy, level string) string {
	for _, w := range strings.FieldsFunc(level, func(r rune) bool { return r == ' ' || r == '/' }) {
		if w == policy {
			return level
		}
	}
	return policy + " " + level
}

// periodText writes a retention period in years or days when it is whole.
func periodText(d time.Duration) string {
	const dayLen = 24 * time.Hour
	switch {
	case d%(365*dayLen) == 0:
		return fmt.Sprintf("%d years", d/(365*dayLen))
	case d%dayLen == 0:
		return fmt.Sprintf("%d days", d/dayLen)
	}
	return d.String()
}

// recipientText names a recipient: a partner by its code, a user with
// their organisation.
func recipientText(rc *tearline.Recipient) string {
	if rc.User == "" {
		return rc.Code
	}
	org := rc.Organisation
	if org == "" {
		org = "no stated organisation"
	}
	return fmt.Sprintf("%s (%s, %s)", rc.User, org, rc.Code)
}
