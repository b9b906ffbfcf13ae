// Package stix parses, validates and canonicalises STIX 2.1 content.
//
// It owns the STIX data model as the rest of the node sees it: which object
// types exist, what each must hold, how an object version is identified,
// hashed (RFC 8785 canonical JSON, SHA-256) and how cyber-observables get
// their deterministic identifiers. It reads untrusted input and MUST NOT
// panic or accept what the specification forbids. It knows nothing of
// storage, labels or partners.
package stix

import (
	"fmt"
	"strings"
	"time"

	"github.com/tearline/tearline"
)

// ObjectError reports why an object was rejected: the rules it breaks, where,
// and which object it was.
type ObjectError struct {
	// Index is the object's position in its input, from 0; -1 when unknown.
	Index int
	// ID is the object's id when it could be read.
	ID       string
	Problems []Problem
}

func (e *ObjectError) Error() string {
	var b strings.Builder
	if e.Index >= 0 {
		fmt.Fprintf(&b, "object %d", e.Index)
	} else {
		b.WriteString("object")
	}
	if e.ID != "" {
		fmt.Fprintf(&b, " (%s)", e.ID)
	}
	b.WriteString(": ")
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %s [%s]", p.Path, p.Msg, p.Rule)
	}
	return b.String()
}

// Rules lists the rules broken, in order.
func (e *ObjectError) Rules() []string {
	r := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		r[i] = p.Rule
	}
	return r
}

// Unwrap lets callers test for tearline.ErrInvalid.
func (e *ObjectError) Unwrap() error { return tearline.ErrInvalid }

// Parse parses and validates one STIX object from its JSON text and returns
// it ready to store: compacted JSON as received, canonical content hash,
// identity and version. The returned Value is the parsed tree, for callers
// that need to look inside (labels, observables).
//
// Parse keeps data rather than copying it: the Object's JSON (when data has
// no insignificant whitespace), its id and type, and the Value's strings
// share its memory. The caller MUST NOT modify data afterwards.
func Parse(data []byte) (*tearline.Object, *Value, error) {
	v, spaced, err := parseJSON(data)
	if err != nil {
		return nil, nil, &ObjectError{Index: -1, Problems: []Problem{{Rule: "json-syntax", Path: "$", Msg: err.Error()}}}
	}
	obj, err := FromValue(&v)
	if err != nil {
		return nil, nil, err
	}
	if spaced {
		obj.JSON = Compact(make([]byte, 0, len(data)), data)
	} else {
		obj.JSON = data[:len(data):len(data)]
	}
	return obj, &v, nil
}

// FromValue validates a parsed object and computes its identity, version and
// hash. The caller sets JSON.
func FromValue(v *Value) (*tearline.Object, error) {
	problems := Validate(v)
	id := ""
	if idv, ok := v.Get("id"); ok && idv.Kind == String {
		id = idv.Str
	}
	if len(problems) > 0 {
		return nil, &ObjectError{Index: -1, ID: id, Problems: problems}
	}
	typ, _ := v.Get("type")
	obj := &tearline.Object{ID: id, Type: typ.Str, SpecVersion: "2.1"}
	if sv, ok := v.Get("spec_version"); ok && sv.Kind == String {
		obj.SpecVersion = sv.Str
	}
	obj.Version = versionOf(v)
	h, err := Hash(v)
	if err != nil {
		return nil, &ObjectError{Index: -1, ID: id, Problems: []Problem{{Rule: "canonical-form", Path: "$", Msg: err.Error()}}}
	}
	obj.Hash = h
	return obj, nil
}

// versionOf returns modified, else created, else the zero time.
func versionOf(v *Value) time.Time {
	for _, name := range []string{"modified", "created"} {
		if t, ok := v.Get(name); ok && t.Kind == String {
			if ts, _, err := ParseTimestamp(t.Str); err == nil {
				return ts
			}
		}
	}
	return time.Time{}
}

// Validate checks a parsed object against STIX 2.1 and returns every problem
// found; none means the object is valid.
func Validate(v *Value) []Problem {
	c := &checker{}
	if v.Kind != Object {
		c.add("object-type", "$", "a STIX object must be a JSON object, not %s", v.Kind)
		return c.problems
	}
	tv, ok := v.Get("type")
	if !ok || tv.Kind != String {
		c.add("required-property", "$.type", "required property \"type\" is missing or not a string")
		return c.problems
	}
	typ := tv.Str
	if typ == "bundle" {
		c.add("object-type", "$.type", "a bundle cannot be stored as an object; import its objects")
		return c.problems
	}
	if !validTypeName(typ, 3) {
		c.add("type-name", "$.type", "%q is not a valid type name (3 to 250 characters of a-z, 0-9 and -)", typ)
		return c.problems
	}
	idv, ok := v.Get("id")
	if !ok || idv.Kind != String {
		c.add("required-property", "$.id", "required property \"id\" is missing or not a string")
	} else if idType, ok := checkIdentifier(c, "$.id", idv.Str); ok && idType != typ {
		c.add("identifier-type", "$.id", "id %q does not start with the object's type %q", idv.Str, typ)
	}

	spec, known := types[typ]
	if known {
		c.object(&spec.spec, v, true)
	} else {
		checkCustomObject(c, v)
	}
	if !known || spec.class != classSCO {
		checkCreatedModified(c, v, known && spec.class == classMeta && typ == "marking-definition")
	}
	checkExtensions(c, typ, v)
	checkSelectors(c, v)
	return c.problems
}

// checkCreatedModified applies the common timestamp rules of domain,
// relationship and meta objects: millisecond precision, modified >= created.
func checkCreatedModified(c *checker, v *Value, noModified bool) {
	var created, modified time.Time
	for _, name := range []string{"created", "modified"} {
		tv, ok := v.Get(name)
		if !ok || tv.Kind != String {
			continue
		}
		t, digits, err := ParseTimestamp(tv.Str)
		if err != nil {
			continue // reported by the property check
		}
		if digits < 3 {
			c.add("timestamp-precision", "$."+name, "%s %q must be precise to at least the millisecond (e.g. 2024-01-02T03:04:05.000Z)", name, tv.Str)
		}
		if name == "created" {
			created = t
		} else {
			modified = t
		}
	}
	if noModified {
		if _, ok := v.Get("modified"); ok {
			c.add("property-not-allowed", "$.modified", "marking definitions are not versioned and have no modified property")
		}
	}
	if !created.IsZero() && !modified.IsZero() && modified.Before(created) {
		c.add("modified-before-created", "$.modified", "modified must not be earlier than created")
	}
}

// checkCustomObject validates an object of a type STIX does not define. Its
// content is the producer's; only the common properties it carries are
// checked, so that they mean what the spec says they mean.
func checkCustomObject(c *checker, v *Value) {
	_, hasCreated := v.Get("created")
	common := sdoCommon
	if !hasCreated {
		common = scoCommon
	}
	spec := &objSpec{props: common}
	c.object(spec, v, true)
	if hasCreated {
		if _, ok := v.Get("modified"); !ok {
			c.add("required-property", "$.modified", "a custom domain object with created must also have modified")
		}
		if _, ok := v.Get("spec_version"); !ok {
			c.add("required-property", "$.spec_version", "a custom domain object must have spec_version")
		}
	}
}

// KnownType reports whether typ is an object type that STIX 2.1 defines.
func KnownType(typ string) bool {
	_, ok := types[typ]
	return ok
}

// TypeNames lists every object type STIX 2.1 defines.
func TypeNames() []string {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	return names
}

// IsObservable reports whether typ is a STIX 2.1 cyber-observable type.
func IsObservable(typ string) bool {
	t, ok := types[typ]
	return ok && t.class == classSCO
}
