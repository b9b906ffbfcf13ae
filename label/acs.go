package label

import (
	"slices"
	"strconv"
	"strings"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// iepExtensionKeys are the properties of a FIRST IEP 2.0 marking
// (cti-stix-common-objects, iep-marking-definition-762).
var iepExtensionKeys = slices.Concat(iepKeys, []string{"extension_type", "iep_id", "iep_version", "description", "name"})

// iepLabel reads a FIRST IEP 2.0 marking: its policy fields become
// Label.IEP, and its tlp the label's TLP as well. The identification
// fields (iep_id, name, description) are not part of the label.
func iepLabel(v *stix.Value, path string) (tearline.Label, error) {
	o, err := fields(v, path, iepExtensionKeys...)
	if err != nil {
		return tearline.Label{}, err
	}
	if et, _, err := o.str("extension_type"); err != nil || et != "property-extension" {
		return tearline.Label{}, o.bad("extension_type", `"property-extension"`)
	}
	for _, key := range []string{"encrypt_in_transit", "permitted_actions", "affected_party_notifications", "tlp", "provider_attribution", "unmodified_resale"} {
		if _, ok := o.get(key); !ok {
			return tearline.Label{}, o.bad(key, "present: IEP 2.0 requires it")
		}
	}
	if ver, ok := o.get("iep_version"); ok {
		if ver.Kind != stix.Number && ver.Kind != stix.String || ver.Str != "2" && ver.Str != "2.0" {
			return tearline.Label{}, o.bad("iep_version", "2.0: only IEP 2.0 is read")
		}
	}
	iep, err := decodeIEP(o)
	if err != nil {
		return tearline.Label{}, err
	}
	return tearline.Label{IEP: &iep, TLP: iep.TLP}, nil
}

// The category names under which ACS 3.0 control-set values are kept.
const (
	acsCaveat        = "ACS Caveat"
	acsSensitivity   = "ACS Sensitivity"
	acsSCI           = "SCI Controls"
	acsLogical       = "ACS Logical Authority Category"
	acsDetermination = "ACS Formal Determination"
	acsShareability  = "ACS Shareability"
	acsEntity        = "ACS Entity"
	acsOrganizations = "ACS Permitted Organizations"
)

var acsKeys = []string{
	"extension_type", "identifier", "name", "create_date_time", "responsible_entity_custodian",
	"responsible_entity_originator", "authority_reference", "policy_reference", "original_classification",
	"derivative_classification", "declassification", "resource_disposition", "public_release",
	"access_privilege", "further_sharing", "control_set",
}

var acsControlSetKeys = []string{
	"classification", "sci_controls", "logical_authority_category", "formal_determination", "caveat",
	"sensitivity", "shareability", "entity", "permitted_nationalities", "permitted_organizations",
}

var acsClassifications = map[string]string{"U": "UNCLASSIFIED", "C": "CONFIDENTIAL", "S": "SECRET", "TS": "TOP SECRET"}

// acsActions are the ACS 3.0 privilege actions, "ALL" aside.
var acsActions = []string{"DSPLY", "IDSRC", "TENOT", "NETDEF", "LEGAL", "INTEL", "TEARLINE", "OPACTION", "REQUEST", "ANONYMOUSACCESS", "CISAUSES"}

// acsLabel reads a US AIS ACS 3.0 marking (cti-stix-common-objects,
// acs-marking-definition-3a6). The mapping keeps every restriction and
// drops only permissions, so that what cannot be expressed fails closed:
//
//   - control_set.classification U, C, S, TS: policy USA, UNCLASSIFIED to
//     TOP SECRET.
//   - control_set.formal_determination: NF is NOFORN, FOUO is FOUO,
//     PII-NECESSARY-TO-UNDERSTAND-THREAT marks personal data; PUBREL, AIS,
//     NO-PII-PRESENT and INFORMATION-DIRECTLY-RELATED-TO-CYBERSECURITY-THREAT
//     are kept in the informative category "ACS Formal Determination"
//     (PUBREL is a permission, and is not acted on); any other value is an
//     error.
//   - control_set.caveat, sensitivity, sci_controls and
//     logical_authority_category: restrictive categories "ACS Caveat", "ACS
//     Sensitivity", "SCI Controls", "ACS Logical Authority Category" (a
//     recipient must hold every value); caveat POSSIBLEPII and sensitivity
//     PII also mark personal data.
//   - control_set.permitted_nationalities: REL TO (ALL: no REL TO);
//     permitted_organizations, shareability, entity: the permissive
//     categories "ACS Permitted Organizations", "ACS Shareability", "ACS
//     Entity".
//   - access_privilege, with policy_reference's privdefault (deny when
//     absent): the actions permitted to everyone become the purposes
//     "acs:netdef", "acs:intel" ... (all of them: no purpose restriction;
//     none: the single purpose NoPurpose). A permit scoped to some
//     nationalities, organisations, shareability or entities only is not
//     counted; a deny of any scope removes the action.
//   - further_sharing, with sharedefault (deny when absent): unless sharing
//     is permitted by default and no rule denies it, H2 (no onward
//     dissemination without the provider's permission).
//   - responsible_entity_originator: an originator.
//   - resource_disposition.disposition_date: RetainUntil.
//   - identifier, name, create_date_time, responsible_entity_custodian,
//     authority_reference, original_classification,
//     derivative_classification, declassification and public_release are
//     not part of the label (they record authority, or loosen).
func acsLabel(v *stix.Value, path string) (tearline.Label, error) {
	var l tearline.Label
	o, err := fields(v, path, acsKeys...)
	if err != nil {
		return l, err
	}
	if et, _, err := o.str("extension_type"); err != nil || et != "property-extension" {
		return l, o.bad("extension_type", `"property-extension"`)
	}
	csv, ok := o.get("control_set")
	if !ok {
		return l, o.bad("control_set", "present: ACS 3.0 requires it")
	}
	cs, err := fields(csv, path+".control_set", acsControlSetKeys...)
	if err != nil {
		return l, err
	}
	r := cs.reader()
	level, ok := acsClassifications[r.str("classification")]
	if r.err != nil {
		return l, r.err
	}
	if !ok {
		return l, cs.bad("classification", "U, C, S or TS")
	}
	l.Policy, l.Classification = "USA", level

	addCategory := func(typ tearline.CategoryType, name string, values []string) {
		if len(values) > 0 {
			l.Categories = append(l.Categories, tearline.Category{Type: typ, Name: name, Values: values})
		}
	}
	var informative []string
	for _, d := range r.strs("formal_determination") {
		switch d {
		case "NF":
			l.NoForn = true
		case "FOUO":
			l.FOUO = true
		case "PII-NECESSARY-TO-UNDERSTAND-THREAT":
			l.PersonalData = true
		case "PUBREL", "AIS", "NO-PII-PRESENT", "INFORMATION-DIRECTLY-RELATED-TO-CYBERSECURITY-THREAT":
			informative = append(informative, d)
		default:
			return l, cs.bad("formal_determination", "an ACS 3.0 formal determination, not "+strconv.Quote(d))
		}
	}
	addCategory(tearline.Informative, acsDetermination, informative)
	caveats := r.strs("caveat")
	sensitivity := r.strs("sensitivity")
	l.PersonalData = l.PersonalData || slices.Contains(caveats, "POSSIBLEPII") || slices.Contains(sensitivity, "PII")
	addCategory(tearline.Restrictive, acsCaveat, caveats)
	addCategory(tearline.Restrictive, acsSensitivity, sensitivity)
	addCategory(tearline.Restrictive, acsSCI, r.strs("sci_controls"))
	addCategory(tearline.Restrictive, acsLogical, r.strs("logical_authority_category"))
	if nat := r.strs("permitted_nationalities"); !slices.Contains(nat, "ALL") {
		addCategory(tearline.Permissive, tearline.CategoryRelTo, nat)
	}
	addCategory(tearline.Permissive, acsOrganizations, r.strs("permitted_organizations"))
	addCategory(tearline.Permissive, acsShareability, r.strs("shareability"))
	addCategory(tearline.Permissive, acsEntity, r.strs("entity"))
	if r.err != nil {
		return l, r.err
	}

	privDefault, shareDefault, err := acsDefaults(o)
	if err != nil {
		return l, err
	}
	purposes, err := acsPurposes(o, privDefault)
	if err != nil {
		return l, err
	}
	l.Purposes = purposes
	restricted, err := acsSharingRestricted(o, shareDefault)
	if err != nil {
		return l, err
	}
	if restricted {
		l.Handling = append(l.Handling, tearline.H2)
	}

	tr := o.reader()
	if orig := tr.str("responsible_entity_originator"); orig != "" {
		l.Originators = []string{orig}
	}
	if rd, ok := o.get("resource_disposition"); ok {
		ro, err := fields(rd, path+".resource_disposition", "disposition_date", "disposition_process")
		if err != nil {
			return l, err
		}
		rr := ro.reader()
		l.RetainUntil = rr.timestamp("disposition_date")
		rr.str("disposition_process")
		if rr.err != nil {
			return l, rr.err
		}
	}
	return l, tr.err
}

// acsDefaults reads policy_reference's privdefault and sharedefault;
// absent values are deny.
func acsDefaults(o jfields) (privPermit, sharePermit bool, err error) {
	ref, ok, err := o.str("policy_reference")
	if err != nil || !ok {
		return false, false, err
	}
	_, query, found := strings.Cut(strings.TrimSpace(ref), "?")
	if !strings.HasPrefix(ref, "urn:isa:policy:acs:ns:v3.0") || !found {
		return false, false, o.bad("policy_reference", "an ACS 3.0 policy reference (urn:isa:policy:acs:ns:v3.0?privdefault=...&sharedefault=...)")
	}
	for _, kv := range strings.Split(query, "&") {
		k, v, _ := strings.Cut(kv, "=")
		if v != "permit" && v != "deny" {
			return false, false, o.bad("policy_reference", "permit or deny in "+k)
		}
		switch k {
		case "privdefault":
			privPermit = v == "permit"
		case "sharedefault":
			sharePermit = v == "permit"
		default:
			return false, false, o.bad("policy_reference", "privdefault and sharedefault only")
		}
	}
	return privPermit, sharePermit, nil
}

// acsPurposes turns access privileges into purposes (see acsLabel).
func acsPurposes(o jfields, permitByDefault bool) ([]string, error) {
	permitted := map[string]bool{}
	if permitByDefault {
		for _, a := range acsActions {
			permitted[a] = true
		}
	}
	ap, ok := o.get("access_privilege")
	if ok && ap.Kind != stix.Array {
		return nil, o.bad("access_privilege", "a list")
	}
	var denied []string
	if ok {
		for i := range ap.Arr {
			ppath := o.path + ".access_privilege[" + strconv.Itoa(i) + "]"
			po, err := fields(&ap.Arr[i], ppath, "privilege_action", "privilege_scope", "rule_effect")
			if err != nil {
				return nil, err
			}
			r := po.reader()
			action := r.enum("privilege_action", append(slices.Clone(acsActions), "ALL")...)
			effect := r.enum("rule_effect", "permit", "deny")
			if r.err != nil {
				return nil, r.err
			}
			if action == "" || effect == "" {
				return nil, po.bad("privilege_action", "given with a rule_effect")
			}
			actions := []string{action}
			if action == "ALL" {
				actions = acsActions
			}
			everyone, err := acsScopeAll(po)
			if err != nil {
				return nil, err
			}
			for _, a := range actions {
				switch {
				case effect == "deny":
					denied = append(denied, a)
				case everyone:
					permitted[a] = true
				}
			}
		}
	}
	var purposes []string
	for _, a := range acsActions {
		if permitted[a] && !slices.Contains(denied, a) {
			purposes = append(purposes, "acs:"+strings.ToLower(a))
		}
	}
	switch len(purposes) {
	case len(acsActions):
		return nil, nil
	case 0:
		return []string{NoPurpose}, nil
	}
	return purposes, nil
}

// acsScopeAll reports whether a privilege's scope is everyone: each list
// it gives is ["ALL"].
func acsScopeAll(po jfields) (bool, error) {
	sv, ok := po.get("privilege_scope")
	if !ok {
		return false, po.bad("privilege_scope", "present")
	}
	so, err := fields(sv, po.path+".privilege_scope", "permitted_nationalities", "permitted_organizations", "shareability", "entity")
	if err != nil {
		return false, err
	}
	r := so.reader()
	all := len(so.v.Obj) > 0
	for _, m := range so.v.Obj {
		vals := r.strs(m.Key)
		all = all && len(vals) == 1 && vals[0] == "ALL"
	}
	return all, r.err
}

// acsSharingRestricted reports whether further sharing is anything but
// permitted to all.
func acsSharingRestricted(o jfields, permitByDefault bool) (bool, error) {
	fs, ok := o.get("further_sharing")
	if !ok {
		return !permitByDefault, nil
	}
	if fs.Kind != stix.Array {
		return true, o.bad("further_sharing", "a list")
	}
	restricted := !permitByDefault
	for i := range fs.Arr {
		fo, err := fields(&fs.Arr[i], o.path+".further_sharing["+strconv.Itoa(i)+"]", "sharing_scope", "rule_effect")
		if err != nil {
			return true, err
		}
		r := fo.reader()
		r.strs("sharing_scope")
		if r.enum("rule_effect", "permit", "deny") == "deny" {
			restricted = true
		}
		if r.err != nil {
			return true, r.err
		}
	}
	return restricted, nil
}
