package label

import (
	"crypto/sha1"
	_ "embed"
	"encoding/hex"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// ExtensionID is the id of the Tearline label extension, whose definition
// ExtensionDefinition returns.
const ExtensionID = "extension-definition--1547c323-422d-4fd9-a827-01c268ce8103"

// The marking extensions of other bodies that FromObject reads.
const (
	tlp2ExtensionID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d" // FIRST TLP 2.0
	iepExtensionID  = "extension-definition--762e2e97-ee51-43e5-a9ea-165fbb862c4a" // FIRST IEP 2.0
	acsExtensionID  = "extension-definition--3a65884d-005a-4290-8335-cb2d778a83ce" // US AIS ACS 3.0
)

// markingCreated is the created timestamp of every marking definition
// ToMarkings writes: marking definitions are immutable, and a fixed value
// keeps their content, hence their ids, the same on every node.
const markingCreated = "2026-11-25T00:00:00.000Z"

var (
	//go:embed extension-definition.json
	extensionDefinition []byte
	//go:embed identity.json
	identity []byte
	//go:embed label.schema.json
	schema []byte
)

// ExtensionDefinition returns the STIX extension-definition object of the
// Tearline label extension, to publish with content that uses it.
func ExtensionDefinition() []byte { return slices.Clone(extensionDefinition) }

// Identity returns the STIX identity of the Tearline project, which the
// extension definition names as its creator.
func Identity() []byte { return slices.Clone(identity) }

// Schema returns the JSON Schema of the extension's properties.
func Schema() []byte { return slices.Clone(schema) }

// TLP 1.0 marking definitions, predefined by STIX 2.1 (7.2.1.4). WHITE is
// read as TLP 2.0 CLEAR.
var tlp1IDs = map[string]tearline.TLP{
	"marking-definition--613f2e26-407d-48c7-9eca-b8e91df99dc9": tearline.TLPClear,
	"marking-definition--34098fce-860f-48ae-8e50-ebd3cc5e41da": tearline.TLPGreen,
	"marking-definition--f88d31f6-486f-44da-b317-01333bde0b82": tearline.TLPAmber,
	"marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed": tearline.TLPRed,
}

// TLP 2.0 marking definitions, with the ids FIRST fixed.
var tlp2IDs = map[tearline.TLP]string{
	tearline.TLPClear:       "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
	tearline.TLPGreen:       "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
	tearline.TLPAmber:       "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
	tearline.TLPAmberStrict: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
	tearline.TLPRed:         "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}

// TLPMarkingID returns the id of the TLP 2.0 marking definition of t.
func TLPMarkingID(t tearline.TLP) (string, bool) {
	id, ok := tlp2IDs[t]
	return id, ok
}

// Builtin reports whether id is a marking definition that every node knows
// without being given it: the TLP 1.0 and 2.0 ones.
func Builtin(id string) bool {
	if _, ok := tlp1IDs[id]; ok {
		return true
	}
	for _, v := range tlp2IDs {
		if v == id {
			return true
		}
	}
	return false
}

func tlpValue(t tearline.TLP) string { return strings.ToLower(tlpName(t)) }

// Resolver finds marking definitions by id: those a bundle carries, those
// the node has stored. It returns false for an id it does not know.
type Resolver interface {
	MarkingDefinition(id string) (*stix.Value, bool)
}

// Definitions is a Resolver over marking definitions held in memory.
type Definitions map[string]*stix.Value

var _ Resolver = Definitions(nil)

// MarkingDefinition returns the definition with the given id.
func (d Definitions) MarkingDefinition(id string) (*stix.Value, bool) {
	v, ok := d[id]
	return v, ok
}

// Add parses, validates and adds a marking definition.
func (d Definitions) Add(data []byte) error {
	obj, v, err := stix.Parse(data)
	if err != nil {
		return err
	}
	if obj.Type != "marking-definition" {
		return invalid("marking-definition", "%s is a %s, not a marking definition", obj.ID, obj.Type)
	}
	d[obj.ID] = v
	return nil
}

// FromObject returns the label that an object's object_marking_refs give
// it, merged from every marking:
//
//   - TLP 1.0 (the predefined ids; WHITE read as CLEAR) and TLP 2.0 (the
//     FIRST ids, or any definition with the TLP 2.0 extension): TLP.
//   - The Tearline extension: the label it carries.
//   - FIRST IEP 2.0: IEP, and TLP from its tlp.
//   - US AIS ACS 3.0: see acsLabel.
//   - Statement markings (copyright, terms of use) are for people and are
//     not part of the label.
//
// Every other marking is an error: an id defs cannot resolve
// (unknown-marking-definition), an extension this package does not know
// (unknown-marking-extension), a malformed definition (marking-definition).
// Markings that disagree are an error (tlp-conflict, marking-conflict, or the
// Validate rule their combination breaks, such as relto-with-noforn). The
// caller decides what to do with the object; it MUST NOT treat an error as
// "unlabelled".
//
// An object without markings (or with statements only) has the zero
// label, which no policy releases. Granular markings are read by Portions.
func FromObject(obj *stix.Value, defs Resolver) (tearline.Label, error) {
	refs, err := markingRefs(obj, "object_marking_refs")
	if err != nil {
		return tearline.Label{}, err
	}
	var m merger
	for _, ref := range refs {
		l, err := markingLabel(ref, defs)
		if err != nil {
			return tearline.Label{}, err
		}
		if err := m.add(l, ref); err != nil {
			return tearline.Label{}, err
		}
	}
	return m.result()
}

// Portions returns the labels that the object's granular markings give to
// its parts, keyed by selector ("description", "kill_chain_phases.0"). A
// portion's label is what its granular markings say; the object's own
// label (FromObject) applies to it as well, so a portion's effective label
// is the roll-up of both. Language markings (lang) are not labels and are
// skipped. Errors are as for FromObject.
func Portions(obj *stix.Value, defs Resolver) (map[string]tearline.Label, error) {
	gm, ok := obj.Get("granular_markings")
	if !ok {
		return nil, nil
	}
	if gm.Kind != stix.Array {
		return nil, invalid("granular-marking", "granular_markings must be a list")
	}
	merged := map[string]*merger{}
	var order []string
	for i := range gm.Arr {
		g := &gm.Arr[i]
		path := "granular_markings[" + strconv.Itoa(i) + "]"
		if g.Kind != stix.Object {
			return nil, invalid("granular-marking", "%s must be an object", path)
		}
		ref, hasRef := g.Get("marking_ref")
		if !hasRef {
			if _, lang := g.Get("lang"); lang {
				continue
			}
			return nil, invalid("granular-marking", "%s has neither marking_ref nor lang", path)
		}
		if ref.Kind != stix.String {
			return nil, invalid("granular-marking", "%s.marking_ref must be a string", path)
		}
		sels, ok := g.Get("selectors")
		if !ok || sels.Kind != stix.Array || len(sels.Arr) == 0 {
			return nil, invalid("granular-marking", "%s needs a list of selectors", path)
		}
		l, err := markingLabel(ref.Str, defs)
		if err != nil {
			return nil, err
		}
		for j := range sels.Arr {
			if sels.Arr[j].Kind != stix.String || sels.Arr[j].Str == "" {
				return nil, invalid("granular-marking", "%s.selectors[%d] must be a selector string", path, j)
			}
			sel := sels.Arr[j].Str
			m, ok := merged[sel]
			if !ok {
				m = &merger{}
				merged[sel] = m
				order = append(order, sel)
			}
			if err := m.add(l, ref.Str); err != nil {
				return nil, fmt.Errorf("selector %q: %w", sel, err)
			}
		}
	}
	out := map[string]tearline.Label{}
	for _, sel := range order {
		l, err := merged[sel].result()
		if err != nil {
			return nil, fmt.Errorf("selector %q: %w", sel, err)
		}
		if isEmpty(l) {
			continue
		}
		out[sel] = l
	}
	return out, nil
}

func markingRefs(obj *stix.Value, prop string) ([]string, error) {
	if obj == nil || obj.Kind != stix.Object {
		return nil, invalid("marking-definition", "a STIX object must be a JSON object")
	}
	v, ok := obj.Get(prop)
	if !ok {
		return nil, nil
	}
	if v.Kind != stix.Array {
		return nil, invalid("marking-definition", "%s must be a list of marking-definition ids", prop)
	}
	refs := make([]string, len(v.Arr))
	for i := range v.Arr {
		if v.Arr[i].Kind != stix.String {
			return nil, invalid("marking-definition", "%s[%d] must be a marking-definition id", prop, i)
		}
		refs[i] = v.Arr[i].Str
	}
	return refs, nil
}

// markingLabel returns the label one marking definition gives.
func markingLabel(id string, defs Resolver) (tearline.Label, error) {
	if t, ok := tlp1IDs[id]; ok {
		return tearline.Label{TLP: t}, nil
	}
	for t, tid := range tlp2IDs {
		if tid == id {
			return tearline.Label{TLP: t}, nil
		}
	}
	var def *stix.Value
	ok := false
	if defs != nil {
		def, ok = defs.MarkingDefinition(id)
	}
	if !ok || def == nil {
		return tearline.Label{}, invalid("unknown-marking-definition", "marking definition %s is not known", id)
	}
	if t, _ := def.Get("type"); t == nil || t.Kind != stix.String || t.Str != "marking-definition" {
		return tearline.Label{}, invalid("marking-definition", "%s does not resolve to a marking definition", id)
	}
	if got, _ := def.Get("id"); got == nil || got.Kind != stix.String || got.Str != id {
		return tearline.Label{}, invalid("marking-definition", "the definition found for %s has another id", id)
	}
	var m merger
	known := false
	if dt, ok := def.Get("definition_type"); ok {
		if dt.Kind != stix.String {
			return tearline.Label{}, invalid("marking-definition", "%s: definition_type must be a string", id)
		}
		switch dt.Str {
		case "statement":
			known = true // for people; not part of the label
		case "tlp":
			return tearline.Label{}, invalid("marking-definition", "%s: a TLP 1.0 marking must use the id STIX predefines for its colour", id)
		default:
			return tearline.Label{}, invalid("unknown-marking-extension", "%s: definition type %q is not known", id, dt.Str)
		}
	}
	if ext, ok := def.Get("extensions"); ok {
		if ext.Kind != stix.Object {
			return tearline.Label{}, invalid("marking-definition", "%s: extensions must be a dictionary", id)
		}
		for i := range ext.Obj {
			key, v := ext.Obj[i].Key, &ext.Obj[i].Value
			path := id + " extensions." + key
			var l tearline.Label
			var err error
			switch key {
			case tlp2ExtensionID:
				l, err = tlp2Label(v, path)
			case ExtensionID:
				l, err = decodeLabel(v, path)
			case iepExtensionID:
				l, err = iepLabel(v, path)
			case acsExtensionID:
				l, err = acsLabel(v, path)
			default:
				return tearline.Label{}, invalid("unknown-marking-extension", "%s: extension %s is not one this node understands", id, key)
			}
			if err != nil {
				return tearline.Label{}, err
			}
			if err := m.add(l, id); err != nil {
				return tearline.Label{}, err
			}
			known = true
		}
	}
	if !known {
		return tearline.Label{}, invalid("marking-definition", "%s has neither a definition nor an extension", id)
	}
	return m.l, nil
}

func tlp2Label(v *stix.Value, path string) (tearline.Label, error) {
	o, err := fields(v, path, "extension_type", "tlp_2_0")
	if err != nil {
		return tearline.Label{}, err
	}
	r := o.reader()
	t := r.colour("tlp_2_0", tlp2Colours, "unknown-tlp")
	if r.err == nil && t == tearline.TLPNone {
		return tearline.Label{}, o.bad("tlp_2_0", "a TLP 2.0 colour")
	}
	return tearline.Label{TLP: t}, r.err
}

// merger combines the labels of the markings on one object (or portion).
// All markings apply at once, so two that set the same field differently
// contradict each other; restrictions accumulate.
type merger struct {
	l tearline.Label
}

func (m *merger) add(x tearline.Label, from string) error {
	x = Normalize(x)
	l := &m.l
	conflict := func(field string) error {
		if field == "TLP" {
			return invalid("tlp-conflict", "marking %s gives a different TLP from another marking on the object", from)
		}
		return invalid("marking-conflict", "marking %s gives a different %s from another marking on the object", from, field)
	}
	if x.Policy != "" {
		if l.Policy != "" && (l.Policy != x.Policy || l.Classification != x.Classification) {
			return conflict("classification")
		}
		l.Policy, l.Classification = x.Policy, x.Classification
	}
	for _, c := range x.Categories {
		i := slices.IndexFunc(l.Categories, func(o tearline.Category) bool { return o.Name == c.Name })
		switch {
		case i < 0:
			l.Categories = append(l.Categories, c)
		case l.Categories[i].Type != c.Type || l.Categories[i].Narrowing != c.Narrowing:
			return conflict("category " + c.Name)
		case c.Type == tearline.Permissive:
			if !slices.Equal(l.Categories[i].Values, c.Values) {
				return conflict("category " + c.Name)
			}
		default:
			l.Categories[i].Values = normCodes(append(slices.Clone(l.Categories[i].Values), c.Values...))
		}
	}
	l.NoForn = l.NoForn || x.NoForn
	l.ORCON = l.ORCON || x.ORCON
	l.RelIDO = l.RelIDO || x.RelIDO
	l.FOUO = l.FOUO || x.FOUO
	l.PersonalData = l.PersonalData || x.PersonalData
	l.Handling = append(l.Handling, x.Handling...)
	l.Originators = append(l.Originators, x.Originators...)
	for _, f := range []struct {
		name     string
		dst, src *[]string
	}{{"DISPLAY ONLY", &l.DisplayOnly, &x.DisplayOnly}, {"EYES ONLY", &l.EyesOnly, &x.EyesOnly}, {"purposes", &l.Purposes, &x.Purposes}} {
		if len(*f.src) == 0 {
			continue
		}
		if len(*f.dst) > 0 && !slices.Equal(*f.dst, *f.src) {
			return conflict(f.name)
		}
		*f.dst = *f.src
	}
	if x.IEP != nil {
		if l.IEP != nil && *l.IEP != *x.IEP {
			return conflict("IEP policy")
		}
		l.IEP = x.IEP
	}
	errs := []error{
		same(&l.TLP, x.TLP, func() error { return conflict("TLP") }),
		same(&l.PAP, x.PAP, func() error { return conflict("PAP") }),
		same(&l.H3Text, x.H3Text, func() error { return conflict("H3 text") }),
		same(&l.Regime, x.Regime, func() error { return conflict("personal data regime") }),
		same(&l.RetainUntil, x.RetainUntil, func() error { return conflict("retention date") }),
		same(&l.Expires, x.Expires, func() error { return conflict("expiry date") }),
		same(&l.ReviewBy, x.ReviewBy, func() error { return conflict("review date") }),
		same(&l.Successor, x.Successor, func() error { return conflict("successor") }),
		same(&l.Reliability, x.Reliability, func() error { return conflict("source reliability") }),
		same(&l.Credibility, x.Credibility, func() error { return conflict("information credibility") }),
		same(&l.Exercise, x.Exercise, func() error { return conflict("exercise") }),
	}
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// same sets *dst to src unless src is zero; a different non-zero *dst is
// a conflict.
func same[T comparable](dst *T, src T, conflict func() error) error {
	var zero T
	switch {
	case src == zero:
	case *dst == zero:
		*dst = src
	case *dst != src:
		return conflict()
	}
	return nil
}

// result validates the merged label; an empty one is the zero label.
func (m *merger) result() (tearline.Label, error) {
	l := Normalize(m.l)
	if isEmpty(l) {
		return tearline.Label{}, nil
	}
	if err := Validate(l); err != nil {
		return tearline.Label{}, err
	}
	return l, nil
}

func isEmpty(l tearline.Label) bool {
	return checkNotEmpty(Normalize(l)) != nil
}

// ToMarkings returns the marking definitions that carry l, as canonical
// JSON (RFC 8785), and the ids to put in an object's object_marking_refs:
// the FIRST TLP 2.0 marking for l's TLP, and, for anything else l holds, a
// marking definition with the Tearline extension carrying the whole label
// (its TLP included). Its id is a UUIDv5 over its content, so the same
// label has the same marking id on every node. l must be valid.
func ToMarkings(l tearline.Label) (defs [][]byte, refs []string, err error) {
	if err := Validate(l); err != nil {
		return nil, nil, err
	}
	n := Normalize(l)
	if n.TLP != tearline.TLPNone {
		def, err := tlp2Definition(n.TLP)
		if err != nil {
			return nil, nil, err
		}
		defs = append(defs, def)
		refs = append(refs, tlp2IDs[n.TLP])
	}
	rest := n
	rest.TLP = tearline.TLPNone
	if !isEmpty(rest) {
		def, id, err := tearlineDefinition(n)
		if err != nil {
			return nil, nil, err
		}
		defs = append(defs, def)
		refs = append(refs, id)
	}
	return defs, refs, nil
}

// tlp2Definition returns the FIRST TLP 2.0 marking definition of t.
func tlp2Definition(t tearline.TLP) ([]byte, error) {
	def := stix.Value{Kind: stix.Object, Obj: []stix.Member{
		{Key: "type", Value: jstr("marking-definition")},
		{Key: "spec_version", Value: jstr("2.1")},
		{Key: "id", Value: jstr(tlp2IDs[t])},
		{Key: "created", Value: jstr("2022-10-01T00:00:00.000Z")},
		{Key: "name", Value: jstr("TLP:" + tlpName(t))},
		{Key: "extensions", Value: jobject(stix.Member{Key: tlp2ExtensionID, Value: jobject(
			stix.Member{Key: "extension_type", Value: jstr("property-extension")},
			stix.Member{Key: "tlp_2_0", Value: jstr(tlpValue(t))},
		)})},
	}}
	return stix.AppendCanonical(nil, &def)
}

// tearlineDefinition returns the marking definition that carries l with
// the Tearline extension, and its id.
func tearlineDefinition(l tearline.Label) ([]byte, string, error) {
	def := stix.Value{Kind: stix.Object, Obj: []stix.Member{
		{Key: "type", Value: jstr("marking-definition")},
		{Key: "spec_version", Value: jstr("2.1")},
		{Key: "created", Value: jstr(markingCreated)},
		{Key: "name", Value: jstr(Format(l))},
		{Key: "extensions", Value: jobject(stix.Member{Key: ExtensionID, Value: encodeLabel(l)})},
	}}
	content, err := stix.AppendCanonical(nil, &def)
	if err != nil {
		return nil, "", err
	}
	id := "marking-definition--" + uuidV5(extensionNamespace, content)
	def.Obj = append(def.Obj, stix.Member{Key: "id", Value: jstr(id)})
	out, err := stix.AppendCanonical(nil, &def)
	return out, id, err
}

// extensionNamespace is the UUIDv5 namespace of Tearline marking ids: the
// UUID of the extension definition.
var extensionNamespace = func() [16]byte {
	var ns [16]byte
	u := strings.ReplaceAll(strings.TrimPrefix(ExtensionID, "extension-definition--"), "-", "")
	if _, err := hex.Decode(ns[:], []byte(u)); err != nil {
		panic(err)
	}
	return ns
}()

// uuidV5 computes an RFC 9562 name-based (SHA-1) UUID.
func uuidV5(ns [16]byte, name []byte) string {
	h := sha1.New()
	h.Write(ns[:])
	h.Write(name)
	var u [16]byte
	copy(u[:], h.Sum(nil))
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:], u[10:])
	return string(b[:])
}

// JSON value builders.

func jstr(s string) stix.Value { return stix.Value{Kind: stix.String, Str: s} }

func jbool(b bool) stix.Value { return stix.Value{Kind: stix.Bool, Bool: b} }

func jint(n int) stix.Value { return stix.Value{Kind: stix.Number, Str: strconv.Itoa(n)} }

func jstrs(ss []string) stix.Value {
	v := stix.Value{Kind: stix.Array, Arr: make([]stix.Value, len(ss))}
	for i, s := range ss {
		v.Arr[i] = jstr(s)
	}
	return v
}

func jobject(members ...stix.Member) stix.Value {
	return stix.Value{Kind: stix.Object, Obj: members}
}

func jtime(t time.Time) stix.Value { return jstr(stix.FormatTimestamp(t)) }
