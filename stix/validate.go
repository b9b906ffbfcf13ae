package stix

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// Problem is one rule an object breaks.
type Problem struct {
	// Rule names the rule broken, in a stable kebab-case form that tests and
	// operators can rely on (for example "timestamp-precision").
	Rule string
	// Path is the JSON path within the object, such as
	// "$.kill_chain_phases[0].phase_name".
	Path string
	Msg  string
}

func (p Problem) String() string {
	return fmt.Sprintf("%s at %s: %s", p.Rule, p.Path, p.Msg)
}

// checker accumulates problems while walking one object.
type checker struct {
	problems []Problem
	path     []byte // where the checker is, after "$"
}

// add records a problem at rel, a path relative to the value being checked
// ("$" for the value itself, "$.name" for its member).
func (c *checker) add(rule, rel, format string, args ...any) {
	path := "$" + string(c.path) + strings.TrimPrefix(rel, "$")
	c.problems = append(c.problems, Problem{Rule: rule, Path: path, Msg: fmt.Sprintf(format, args...)})
}

// enter descends into member key of the value being checked; leave(n)
// returns to where enter was called, n being what enter returned. The path
// is only turned into a string when a problem is found.
func (c *checker) enter(key string) int {
	n := len(c.path)
	c.path = append(c.path, '.')
	c.path = append(c.path, key...)
	return n
}

func (c *checker) enterIndex(i int) int {
	n := len(c.path)
	c.path = append(c.path, '[')
	c.path = strconv.AppendInt(c.path, int64(i), 10)
	c.path = append(c.path, ']')
	return n
}

func (c *checker) leave(n int) { c.path = c.path[:n] }

// class is the STIX family an object type belongs to.
type class uint8

const (
	classSDO class = iota + 1
	classSRO
	classSCO
	classMeta // marking-definition, language-content, extension-definition
)

// propKind is how a property's value must look.
type propKind uint8

const (
	kString propKind = iota + 1
	kTimestamp
	kInteger
	kFloat
	kBoolean
	kIdentifier
	kBinary
	kHex
	kHashes
	kDict
	kList
	kObject // an embedded object with its own spec
	kKillChain
	kExternalRef
	kAny
)

// prop describes one property.
type prop struct {
	kind  propKind
	elem  *prop    // for kList
	refs  []string // for kIdentifier: allowed target types; nil means any
	enum  []string // for kString: closed vocabulary (the spec's MUST enums)
	min   float64
	max   float64
	bound bool // min/max apply
	sub   *objSpec
}

// objSpec describes an object, a type's or an embedded one's.
type objSpec struct {
	required []string
	props    map[string]*prop
	// extra checks rules that span several properties.
	extra func(c *checker, v *Value)
}

// typeSpec describes a STIX object type.
type typeSpec struct {
	class class
	spec  objSpec
	// idContrib lists the properties that make up a cyber-observable's
	// deterministic UUIDv5 identifier, in the spec's order.
	idContrib []string
}

// Constructors keep the type tables readable.
var (
	pString    = &prop{kind: kString}
	pTimestamp = &prop{kind: kTimestamp}
	pInteger   = &prop{kind: kInteger}
	pFloat     = &prop{kind: kFloat}
	pBoolean   = &prop{kind: kBoolean}
	pBinary    = &prop{kind: kBinary}
	pHex       = &prop{kind: kHex}
	pHashes    = &prop{kind: kHashes}
	pDict      = &prop{kind: kDict}
	pStrings   = listOf(pString)
	pKillChain = &prop{kind: kList, elem: &prop{kind: kKillChain}}
	pExtRefs   = &prop{kind: kList, elem: &prop{kind: kExternalRef}}
)

func ref(types ...string) *prop     { return &prop{kind: kIdentifier, refs: types} }
func refs(types ...string) *prop    { return listOf(ref(types...)) }
func listOf(p *prop) *prop          { return &prop{kind: kList, elem: p} }
func enum(values ...string) *prop   { return &prop{kind: kString, enum: values} }
func object(spec *objSpec) *prop    { return &prop{kind: kObject, sub: spec} }
func intRange(lo, hi float64) *prop { return &prop{kind: kInteger, min: lo, max: hi, bound: true} }
func floatRange(lo, hi float64) *prop {
	return &prop{kind: kFloat, min: lo, max: hi, bound: true}
}

// ParseTimestamp parses a STIX timestamp: RFC 3339 in UTC with the Z
// designator and an optional fraction of a second of at most nanosecond
// precision. It returns the time and the number of fractional digits.
func ParseTimestamp(s string) (time.Time, int, error) {
	bad := func() (time.Time, int, error) {
		return time.Time{}, 0, fmt.Errorf("%q is not a STIX timestamp (YYYY-MM-DDTHH:MM:SS[.sss]Z, in UTC)", s)
	}
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return bad()
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			c := s[i]
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(0, 4)
	month, ok2 := num(5, 7)
	day, ok3 := num(8, 10)
	hour, ok4 := num(11, 13)
	minute, ok5 := num(14, 16)
	sec, ok6 := num(17, 19)
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return bad()
	}
	digits, nanos := 0, 0
	switch rest := s[19 : len(s)-1]; {
	case rest == "":
	case rest[0] == '.' && len(rest) > 1:
		digits = len(rest) - 1
		if digits > 9 {
			return time.Time{}, digits, fmt.Errorf("%q has more than nanosecond precision", s)
		}
		f, ok := num(20, len(s)-1)
		if !ok {
			return bad()
		}
		nanos = f
		for i := digits; i < 9; i++ {
			nanos *= 10
		}
	default:
		return bad()
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(month, year) || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, digits, fmt.Errorf("%q is not a valid date and time", s)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC), digits, nil
}

func daysIn(month, year int) int {
	switch month {
	case 2:
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	case 4, 6, 9, 11:
		return 30
	}
	return 31
}

// FormatTimestamp writes t as a STIX timestamp with millisecond precision or
// finer, as the spec requires for created and modified.
func FormatTimestamp(t time.Time) string {
	t = t.UTC()
	ns := t.Nanosecond()
	switch {
	case ns%1e6 == 0:
		return t.Format("2006-01-02T15:04:05.000Z")
	case ns%1e3 == 0:
		return t.Format("2006-01-02T15:04:05.000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000000Z")
}

// splitIdentifier splits "type--UUID" and checks the shape of both parts:
// a type name of a-z, 0-9 and single hyphens, and a UUID in its 8-4-4-4-12
// hexadecimal form.
func splitIdentifier(id string) (typ, uuid string, ok bool) {
	i := strings.Index(id, "--")
	if i < 1 || len(id)-i-2 != 36 {
		return "", "", false
	}
	typ, uuid = id[:i], id[i+2:]
	if !validTypeName(typ, 1) {
		return "", "", false
	}
	for j := 0; j < 36; j++ {
		c := uuid[j]
		if j == 8 || j == 13 || j == 18 || j == 23 {
			if c != '-' {
				return "", "", false
			}
			continue
		}
		if !isHex(c) {
			return "", "", false
		}
	}
	return typ, uuid, true
}

// validDictionaryKey reports whether s may be a dictionary key (STIX 2.1
// section 3.3): 1 to 250 ASCII letters, digits, underscores and hyphens.
func validDictionaryKey(s string) bool {
	if len(s) < 1 || len(s) > 250 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// evenHex reports whether s is an even number of hexadecimal digits.
func evenHex(s string) bool {
	if len(s)%2 != 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

// validTypeName reports whether s is a type name: at least min and at most
// 250 characters of a-z, 0-9 and hyphens, not starting or ending with a
// hyphen and with no two hyphens in a row.
func validTypeName(s string, min int) bool {
	if len(s) < min || len(s) > 250 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case c == '-':
			if s[i-1] == '-' {
				return false
			}
		default:
			return false
		}
	}
	return true
}

// validPropertyName reports whether s may name a property: 3 to 250
// characters of a-z, A-Z, 0-9 and underscore.
func validPropertyName(s string) bool {
	if len(s) < 3 || len(s) > 250 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// checkIdentifier validates an identifier and returns its type part.
func checkIdentifier(c *checker, path, id string) (string, bool) {
	typ, u, ok := splitIdentifier(id)
	if !ok {
		c.add("identifier-format", path, "%q is not a STIX identifier (object-type--UUID)", id)
		return "", false
	}
	// RFC 4122: variant bits 10xx, version 1 to 5.
	version := u[14]
	variant := u[19] | 0x20 // lower case
	if version < '1' || version > '5' {
		c.add("identifier-uuid-version", path, "%q has UUID version %c; RFC 4122 UUIDs have version 1 to 5 (use version 4, or 5 for cyber-observables)", id, version)
		return typ, false
	}
	if !strings.ContainsRune("89ab", rune(variant)) {
		c.add("identifier-uuid-variant", path, "%q is not an RFC 4122 UUID (variant nibble %c)", id, u[19])
		return typ, false
	}
	return typ, true
}

func (c *checker) value(p *prop, v *Value) {
	switch p.kind {
	case kAny:
	case kString:
		if v.Kind != String {
			c.add("property-type", "$", "must be a string, not %s", v.Kind)
			return
		}
		if p.enum != nil && !contains(p.enum, v.Str) {
			c.add("vocabulary", "$", "%q is not one of %s", v.Str, strings.Join(p.enum, ", "))
		}
	case kTimestamp:
		if v.Kind != String {
			c.add("property-type", "$", "must be a timestamp string, not %s", v.Kind)
			return
		}
		if _, _, err := ParseTimestamp(v.Str); err != nil {
			c.add("timestamp-format", "$", "%v", err)
		}
	case kInteger:
		if v.Kind != Number {
			c.add("property-type", "$", "must be an integer, not %s", v.Kind)
			return
		}
		f, err := strconv.ParseFloat(v.Str, 64)
		if err != nil || f != math.Trunc(f) || strings.ContainsAny(v.Str, ".eE") && f != math.Trunc(f) {
			c.add("property-type", "$", "must be an integer, not %s", v.Str)
			return
		}
		if p.bound && (f < p.min || f > p.max) {
			c.add("value-range", "$", "%s is outside %v..%v", v.Str, p.min, p.max)
		}
	case kFloat:
		if v.Kind != Number {
			c.add("property-type", "$", "must be a number, not %s", v.Kind)
			return
		}
		f, _ := strconv.ParseFloat(v.Str, 64)
		if p.bound && (f < p.min || f > p.max) {
			c.add("value-range", "$", "%s is outside %v..%v", v.Str, p.min, p.max)
		}
	case kBoolean:
		if v.Kind != Bool {
			c.add("property-type", "$", "must be true or false, not %s", v.Kind)
		}
	case kIdentifier:
		if v.Kind != String {
			c.add("property-type", "$", "must be an identifier string, not %s", v.Kind)
			return
		}
		typ, ok := checkIdentifier(c, "$", v.Str)
		if ok && p.refs != nil && !refAllowed(p.refs, typ) {
			c.add("reference-type", "$", "refers to a %s; it must refer to %s", typ, describeRefs(p.refs))
		}
	case kBinary:
		if v.Kind != String {
			c.add("property-type", "$", "must be a base64 string, not %s", v.Kind)
			return
		}
		if !validBase64(v.Str) {
			c.add("binary-format", "$", "is not valid base64")
		}
	case kHex:
		if v.Kind != String {
			c.add("property-type", "$", "must be a hex string, not %s", v.Kind)
			return
		}
		if !evenHex(v.Str) {
			c.add("hex-format", "$", "%q is not an even-length hexadecimal string", v.Str)
		}
	case kHashes:
		c.hashes(v)
	case kDict:
		if v.Kind != Object {
			c.add("property-type", "$", "must be a dictionary (JSON object), not %s", v.Kind)
			return
		}
		for _, m := range v.Obj {
			if !validDictionaryKey(m.Key) {
				c.add("dictionary-key", "$."+m.Key, "dictionary keys must be 1 to 250 characters of a-z, A-Z, 0-9, _ and -")
			}
		}
	case kList:
		if v.Kind != Array {
			c.add("property-type", "$", "must be a list, not %s", v.Kind)
			return
		}
		if len(v.Arr) == 0 {
			// STIX 2.1: lists MUST NOT be empty when present.
			c.add("empty-list", "$", "lists must not be empty; omit the property instead")
			return
		}
		for i := range v.Arr {
			n := c.enterIndex(i)
			c.value(p.elem, &v.Arr[i])
			c.leave(n)
		}
	case kObject:
		if v.Kind != Object {
			c.add("property-type", "$", "must be an object, not %s", v.Kind)
			return
		}
		c.object(p.sub, v, false)
	case kKillChain:
		c.object(killChainSpec, v, false)
	case kExternalRef:
		c.object(externalRefSpec, v, false)
	}
}

// object checks v against spec. With custom set, properties that the spec
// does not name are allowed as custom properties (top level of an object).
func (c *checker) object(spec *objSpec, v *Value, custom bool) {
	if v.Kind != Object {
		c.add("property-type", "$", "must be an object, not %s", v.Kind)
		return
	}
	for _, name := range spec.required {
		if _, ok := v.Get(name); !ok {
			c.add("required-property", "$."+name, "required property %q is missing", name)
		}
	}
	for i := range v.Obj {
		m := &v.Obj[i]
		p, known := spec.props[m.Key]
		if !known {
			if !validPropertyName(m.Key) {
				c.add("property-name", "$."+m.Key, "property names must be 3 to 250 characters of a-z, A-Z, 0-9 and _")
			}
			continue
		}
		n := c.enter(m.Key)
		c.value(p, &m.Value)
		c.leave(n)
	}
	if spec.extra != nil {
		spec.extra(c, v)
	}
}

func (c *checker) hashes(v *Value) {
	if v.Kind != Object {
		c.add("property-type", "$", "must be a dictionary of hashes, not %s", v.Kind)
		return
	}
	if len(v.Obj) == 0 {
		c.add("empty-dictionary", "$", "hashes must hold at least one hash")
	}
	for _, m := range v.Obj {
		p := "$." + m.Key
		if len(m.Key) > 250 {
			c.add("dictionary-key", p, "hash algorithm name longer than 250 characters")
		}
		if m.Value.Kind != String {
			c.add("property-type", p, "hash values must be strings, not %s", m.Value.Kind)
			continue
		}
		if n, ok := hashHexLen[m.Key]; ok {
			if len(m.Value.Str) != n || !evenHex(m.Value.Str) {
				c.add("hash-value", p, "a %s hash is %d hexadecimal digits; got %q", m.Key, n, m.Value.Str)
			}
		}
	}
}

var hashHexLen = map[string]int{
	"MD5": 32, "SHA-1": 40, "SHA-256": 64, "SHA-512": 128,
	"SHA3-256": 64, "SHA3-512": 128,
}

func validBase64(s string) bool {
	if len(s)%4 != 0 {
		return false
	}
	pad := 0
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch {
		case ch >= 'A' && ch <= 'Z', ch >= 'a' && ch <= 'z', ch >= '0' && ch <= '9', ch == '+', ch == '/':
			if pad > 0 {
				return false
			}
		case ch == '=':
			pad++
			if pad > 2 || i < len(s)-2 {
				return false
			}
		default:
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Reference classes usable in ref lists.
const (
	refSDO = "<SDO>"
	refSCO = "<SCO>"
	refAny = "<any>"
)

func refAllowed(allowed []string, typ string) bool {
	for _, a := range allowed {
		switch a {
		case typ, refAny:
			return true
		case refSDO:
			if ts, ok := types[typ]; ok && ts.class == classSDO {
				return true
			}
			if _, ok := types[typ]; !ok && typ != "bundle" {
				return true // a custom object may be an SDO
			}
		case refSCO:
			if ts, ok := types[typ]; ok && ts.class == classSCO {
				return true
			}
			if _, ok := types[typ]; !ok && typ != "bundle" {
				return true
			}
		}
	}
	return false
}

func describeRefs(allowed []string) string {
	var parts []string
	for _, a := range allowed {
		switch a {
		case refSDO:
			parts = append(parts, "a domain object")
		case refSCO:
			parts = append(parts, "a cyber-observable")
		default:
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, " or ")
}

// timeOrder reports a problem when the timestamp at later is before the one
// at earlier (both optional). strict requires later > earlier.
func timeOrder(c *checker, v *Value, earlier, later string, strict bool) {
	a, ok1 := v.Get(earlier)
	b, ok2 := v.Get(later)
	if !ok1 || !ok2 || a.Kind != String || b.Kind != String {
		return
	}
	ta, _, err1 := ParseTimestamp(a.Str)
	tb, _, err2 := ParseTimestamp(b.Str)
	if err1 != nil || err2 != nil {
		return
	}
	if strict && !tb.After(ta) {
		c.add("timestamp-order", "$."+later, "%s (%s) must be later than %s (%s)", later, b.Str, earlier, a.Str)
	} else if tb.Before(ta) {
		c.add("timestamp-order", "$."+later, "%s (%s) must not be earlier than %s (%s)", later, b.Str, earlier, a.Str)
	}
}

// requireOneOf reports when none of names is present.
func requireOneOf(c *checker, v *Value, path string, names ...string) {
	for _, n := range names {
		if _, ok := v.Get(n); ok {
			return
		}
	}
	c.add("required-property", path, "at least one of %s must be present", strings.Join(names, ", "))
}

// mutuallyExclusive reports when more than one of names is present.
func mutuallyExclusive(c *checker, v *Value, path string, names ...string) {
	var present []string
	for _, n := range names {
		if _, ok := v.Get(n); ok {
			present = append(present, n)
		}
	}
	if len(present) > 1 {
		c.add("mutually-exclusive", path, "%s must not be present together", strings.Join(present, " and "))
	}
}

// dependsOn reports when prop is present without each of needs.
func dependsOn(c *checker, v *Value, prop string, needs ...string) {
	if _, ok := v.Get(prop); !ok {
		return
	}
	for _, n := range needs {
		if _, ok := v.Get(n); !ok {
			c.add("dependent-property", "$."+prop, "%s requires %s to be present", prop, n)
		}
	}
}
