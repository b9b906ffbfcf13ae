package label

import (
	"maps"
	"slices"
	"strconv"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// The properties of the Tearline extension, as label.schema.json defines
// them.
var extensionKeys = []string{
	"extension_type", "policy", "classification", "categories", "noforn", "orcon", "relido", "fouo",
	"display_only", "eyes_only", "handling", "h3_text", "tlp", "pap", "iep", "purposes",
	"personal_data", "regime", "retain_until", "expires", "review_by", "successor", "originators",
	"reliability", "credibility", "exercise",
}

var iepKeys = []string{
	"encrypt_in_transit", "permitted_actions", "affected_party_notifications", "tlp",
	"provider_attribution", "unmodified_resale", "start_date", "end_date",
}

var categoryTypes = map[string]tearline.CategoryType{
	"restrictive": tearline.Restrictive, "permissive": tearline.Permissive, "informative": tearline.Informative,
}

// encodeLabel writes the properties of the Tearline extension for a
// normalised label; zero fields are left out, so a label has one form.
func encodeLabel(l tearline.Label) stix.Value {
	var m []stix.Member
	put := func(key string, v stix.Value) { m = append(m, stix.Member{Key: key, Value: v}) }
	putStrs := func(key string, ss []string) {
		if len(ss) > 0 {
			put(key, jstrs(ss))
		}
	}
	putStr := func(key, s string) {
		if s != "" {
			put(key, jstr(s))
		}
	}
	putTrue := func(key string, b bool) {
		if b {
			put(key, jbool(true))
		}
	}
	putTime := func(key string, t time.Time) {
		if !t.IsZero() {
			put(key, jtime(t))
		}
	}
	put("extension_type", jstr("property-extension"))
	putStr("policy", l.Policy)
	putStr("classification", l.Classification)
	if len(l.Categories) > 0 {
		cats := stix.Value{Kind: stix.Array}
		for _, c := range l.Categories {
			typ := "informative"
			switch c.Type {
			case tearline.Restrictive:
				typ = "restrictive"
			case tearline.Permissive:
				typ = "permissive"
			}
			cm := []stix.Member{{Key: "type", Value: jstr(typ)}, {Key: "name", Value: jstr(c.Name)}, {Key: "values", Value: jstrs(c.Values)}}
			if c.Narrowing {
				cm = append(cm, stix.Member{Key: "narrowing", Value: jbool(true)})
			}
			cats.Arr = append(cats.Arr, jobject(cm...))
		}
		put("categories", cats)
	}
	putTrue("noforn", l.NoForn)
	putTrue("orcon", l.ORCON)
	putTrue("relido", l.RelIDO)
	putTrue("fouo", l.FOUO)
	putStrs("display_only", l.DisplayOnly)
	putStrs("eyes_only", l.EyesOnly)
	if len(l.Handling) > 0 {
		var hs []string
		for _, h := range l.Handling {
			hs = append(hs, "H"+strconv.Itoa(int(h)-int(tearline.H0)))
		}
		put("handling", jstrs(hs))
	}
	putStr("h3_text", l.H3Text)
	if l.TLP != tearline.TLPNone {
		put("tlp", jstr(tlpValue(l.TLP)))
	}
	if l.PAP != tearline.TLPNone {
		put("pap", jstr(tlpValue(l.PAP)))
	}
	if l.IEP != nil {
		var im []stix.Member
		iput := func(key, s string) {
			if s != "" {
				im = append(im, stix.Member{Key: key, Value: jstr(s)})
			}
		}
		iep := l.IEP
		iput("encrypt_in_transit", iep.EncryptInTransit)
		iput("permitted_actions", iep.PermittedActions)
		if iep.AffectedPartyNotify {
			iput("affected_party_notifications", "may")
		}
		if iep.TLP != tearline.TLPNone {
			iput("tlp", tlpValue(iep.TLP))
		}
		switch {
		case iep.Attribution:
			iput("provider_attribution", "must")
		case iep.NoAttribution:
			iput("provider_attribution", "must-not")
		}
		if iep.UnmodifiedResale {
			iput("unmodified_resale", "may")
		}
		if !iep.StartDate.IsZero() {
			iput("start_date", stix.FormatTimestamp(iep.StartDate))
		}
		if !iep.EndDate.IsZero() {
			iput("end_date", stix.FormatTimestamp(iep.EndDate))
		}
		put("iep", jobject(im...))
	}
	putStrs("purposes", l.Purposes)
	putTrue("personal_data", l.PersonalData)
	putStr("regime", l.Regime)
	putTime("retain_until", l.RetainUntil)
	putTime("expires", l.Expires)
	putTime("review_by", l.ReviewBy)
	putStr("successor", l.Successor)
	putStrs("originators", l.Originators)
	if l.Reliability != 0 {
		put("reliability", jstr(string(rune(l.Reliability))))
	}
	if l.Credibility != 0 {
		put("credibility", jint(l.Credibility))
	}
	putStr("exercise", l.Exercise)
	return jobject(m...)
}

// decodeLabel reads the properties of the Tearline extension. It accepts
// nothing the schema does not define.
func decodeLabel(v *stix.Value, path string) (tearline.Label, error) {
	var l tearline.Label
	o, err := fields(v, path, extensionKeys...)
	if err != nil {
		return l, err
	}
	if et, ok, err := o.str("extension_type"); err != nil || !ok || et != "property-extension" {
		return l, o.bad("extension_type", `"property-extension"`)
	}
	r := o.reader()
	l.Policy = r.str("policy")
	l.Classification = r.str("classification")
	if cats, ok := o.get("categories"); ok {
		if cats.Kind != stix.Array {
			return l, o.bad("categories", "a list of categories")
		}
		for i := range cats.Arr {
			cpath := o.path + ".categories[" + strconv.Itoa(i) + "]"
			co, err := fields(&cats.Arr[i], cpath, "type", "name", "values", "narrowing")
			if err != nil {
				return l, err
			}
			cr := co.reader()
			typ, known := categoryTypes[cr.str("type")]
			c := tearline.Category{Type: typ, Name: cr.str("name"), Values: cr.strs("values"), Narrowing: cr.boolean("narrowing")}
			if cr.err != nil {
				return l, cr.err
			}
			if !known {
				return l, invalid("category-type", "%s.type must be restrictive, permissive or informative", cpath)
			}
			l.Categories = append(l.Categories, c)
		}
	}
	l.NoForn = r.boolean("noforn")
	l.ORCON = r.boolean("orcon")
	l.RelIDO = r.boolean("relido")
	l.FOUO = r.boolean("fouo")
	l.DisplayOnly = r.strs("display_only")
	l.EyesOnly = r.strs("eyes_only")
	for _, h := range r.strs("handling") {
		code, ok := map[string]tearline.HandlingCode{"H0": tearline.H0, "H1": tearline.H1, "H2": tearline.H2, "H3": tearline.H3}[h]
		if !ok {
			return l, invalid("unknown-handling-code", "%s.handling: %q is not H0, H1, H2 or H3", o.path, h)
		}
		l.Handling = append(l.Handling, code)
	}
	l.H3Text = r.str("h3_text")
	l.TLP = r.colour("tlp", tlp2Colours, "unknown-tlp")
	l.PAP = r.colour("pap", papColours, "unknown-pap")
	if iv, ok := o.get("iep"); ok {
		io, err := fields(iv, o.path+".iep", iepKeys...)
		if err != nil {
			return l, err
		}
		iep, err := decodeIEP(io)
		if err != nil {
			return l, err
		}
		l.IEP = &iep
	}
	l.Purposes = r.strs("purposes")
	l.PersonalData = r.boolean("personal_data")
	l.Regime = r.str("regime")
	l.RetainUntil = r.timestamp("retain_until")
	l.Expires = r.timestamp("expires")
	l.ReviewBy = r.timestamp("review_by")
	l.Successor = r.str("successor")
	l.Originators = r.strs("originators")
	if rel := r.str("reliability"); rel != "" {
		if len(rel) != 1 {
			return l, invalid("reliability-range", "%s.reliability %q is not a letter A-F", o.path, rel)
		}
		l.Reliability = rel[0]
	}
	l.Credibility = r.integer("credibility")
	l.Exercise = r.str("exercise")
	return l, r.err
}

// decodeIEP reads IEP 2.0 policy fields, with the IEP 2.0 extension's
// values: may/must-not for the permissions, may/must/must-not for
// attribution.
func decodeIEP(o jfields) (tearline.IEP, error) {
	r := o.reader()
	iep := tearline.IEP{
		EncryptInTransit:    r.enum("encrypt_in_transit", "must", "may"),
		PermittedActions:    r.enum("permitted_actions", permittedActions...),
		AffectedPartyNotify: r.enum("affected_party_notifications", "may", "must-not") == "may",
		TLP:                 r.colour("tlp", iepColours, "unknown-tlp"),
		UnmodifiedResale:    r.enum("unmodified_resale", "may", "must-not") == "may",
		StartDate:           r.timestamp("start_date"),
		EndDate:             r.timestamp("end_date"),
	}
	switch r.enum("provider_attribution", "may", "must", "must-not") {
	case "must":
		iep.Attribution = true
	case "must-not":
		iep.NoAttribution = true
	}
	return iep, r.err
}

// jfields is a JSON object read strictly: every member must be known.
type jfields struct {
	v    *stix.Value
	path string
}

func fields(v *stix.Value, path string, allowed ...string) (jfields, error) {
	if v.Kind != stix.Object {
		return jfields{}, invalid("marking-definition", "%s must be an object, not %s", path, v.Kind)
	}
	for _, m := range v.Obj {
		if !slices.Contains(allowed, m.Key) {
			return jfields{}, invalid("marking-definition", "%s: property %q is not known", path, m.Key)
		}
	}
	return jfields{v: v, path: path}, nil
}

func (o jfields) get(key string) (*stix.Value, bool) { return o.v.Get(key) }

func (o jfields) bad(key, want string) error {
	return invalid("marking-definition", "%s.%s must be %s", o.path, key, want)
}

func (o jfields) str(key string) (string, bool, error) {
	v, ok := o.v.Get(key)
	if !ok {
		return "", false, nil
	}
	if v.Kind != stix.String {
		return "", true, o.bad(key, "a string")
	}
	return v.Str, true, nil
}

func (o jfields) reader() *jreader { return &jreader{o: o} }

// jreader reads typed members of a jfields, keeping the first error.
type jreader struct {
	o   jfields
	err error
}

func (r *jreader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
}

func (r *jreader) str(key string) string {
	s, _, err := r.o.str(key)
	r.fail(err)
	return s
}

func (r *jreader) boolean(key string) bool {
	v, ok := r.o.v.Get(key)
	if !ok {
		return false
	}
	if v.Kind != stix.Bool {
		r.fail(r.o.bad(key, "true or false"))
	}
	return v.Bool
}

func (r *jreader) strs(key string) []string {
	v, ok := r.o.v.Get(key)
	if !ok {
		return nil
	}
	if v.Kind != stix.Array {
		r.fail(r.o.bad(key, "a list of strings"))
		return nil
	}
	out := make([]string, 0, len(v.Arr))
	for _, e := range v.Arr {
		if e.Kind != stix.String {
			r.fail(r.o.bad(key, "a list of strings"))
			return nil
		}
		out = append(out, e.Str)
	}
	return out
}

func (r *jreader) integer(key string) int {
	v, ok := r.o.v.Get(key)
	if !ok {
		return 0
	}
	n, err := strconv.Atoi(v.Str)
	if v.Kind != stix.Number || err != nil {
		r.fail(r.o.bad(key, "an integer"))
		return 0
	}
	return n
}

func (r *jreader) timestamp(key string) time.Time {
	s, ok, err := r.o.str(key)
	if err != nil || !ok {
		r.fail(err)
		return time.Time{}
	}
	t, _, err := stix.ParseTimestamp(s)
	if err != nil {
		r.fail(r.o.bad(key, "a STIX timestamp (2025-06-30T12:00:00.000Z)"))
	}
	return t
}

func (r *jreader) enum(key string, values ...string) string {
	s, ok, err := r.o.str(key)
	if err != nil {
		r.fail(err)
		return ""
	}
	if ok && !slices.Contains(values, s) {
		r.fail(r.o.bad(key, "one of "+quoteList(values)))
		return ""
	}
	return s
}

// colour reads a TLP colour from the given vocabulary; rule names what an
// unknown one breaks.
func (r *jreader) colour(key string, colours map[string]tearline.TLP, rule string) tearline.TLP {
	s, ok, err := r.o.str(key)
	if err != nil || !ok {
		r.fail(err)
		return tearline.TLPNone
	}
	t, known := colours[s]
	if !known {
		r.fail(invalid(rule, "%s.%s %q is not one of %s", r.o.path, key, s, quoteList(slices.Sorted(maps.Keys(colours)))))
	}
	return t
}

// The colour vocabularies: TLP 2.0, PAP, and IEP 2.0 (whose tlp property
// still has TLP 1.0's white).
var (
	tlp2Colours = map[string]tearline.TLP{
		"clear": tearline.TLPClear, "green": tearline.TLPGreen, "amber": tearline.TLPAmber,
		"amber+strict": tearline.TLPAmberStrict, "red": tearline.TLPRed,
	}
	papColours = map[string]tearline.TLP{
		"clear": tearline.TLPClear, "green": tearline.TLPGreen, "amber": tearline.TLPAmber, "red": tearline.TLPRed,
	}
	iepColours = map[string]tearline.TLP{
		"white": tearline.TLPClear, "clear": tearline.TLPClear, "green": tearline.TLPGreen,
		"amber": tearline.TLPAmber, "amber+strict": tearline.TLPAmberStrict, "red": tearline.TLPRed,
	}
)

func quoteList(values []string) string {
	out := ""
	for i, v := range values {
		if i > 0 {
			out += ", "
		}
		out += strconv.Quote(v)
	}
	return out
}
