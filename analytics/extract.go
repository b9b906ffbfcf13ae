package analytics

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/tearline/tearline/stix"
)

// Operator is a STIX 2.1 pattern comparison operator, as written in a
// pattern.
type Operator string

// The STIX 2.1 comparison operators.
const (
	OpEqual        Operator = "="
	OpNotEqual     Operator = "!="
	OpGreater      Operator = ">"
	OpLess         Operator = "<"
	OpGreaterEqual Operator = ">="
	OpLessEqual    Operator = "<="
	OpIn           Operator = "IN"
	OpLike         Operator = "LIKE"
	OpMatches      Operator = "MATCHES"
	OpIsSubset     Operator = "ISSUBSET"
	OpIsSuperset   Operator = "ISSUPERSET"
)

// Comparison is one comparison expression of an indicator's STIX pattern,
// as a pattern parser hands it over: [ObjectType:Path Operator Values].
//
// Path holds the object path's steps with their quotes removed:
// file:hashes.'SHA-256' is {"hashes", "SHA-256"}, and
// email-message:to_refs[*].value is {"to_refs", "*", "value"} (a list
// index is "*" or its decimal text). Values holds the constant or, for IN,
// each member of the set: strings unquoted, numbers as their decimal text.
type Comparison struct {
	ObjectType string
	Path       []string
	Operator   Operator
	// Negated is true for a comparison under NOT.
	Negated bool
	Values  []string
}

func (c Comparison) String() string {
	var b strings.Builder
	b.WriteString(c.ObjectType)
	b.WriteByte(':')
	for i, s := range c.Path {
		if s == "*" || allDigits(s) && s != "" {
			b.WriteString("[" + s + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		if strings.ContainsAny(s, "-. ") {
			b.WriteString("'" + s + "'")
		} else {
			b.WriteString(s)
		}
	}
	return b.String()
}

// ExtractError locates a value that could not be read as an observable:
// the object (its id, or the comparison's position) and the property path.
// It unwraps to the *ValueError or other cause.
type ExtractError struct {
	Where string // "comparison 2" (its index in the list) or the object id
	Path  string // "ipv4-addr:value" or "$.hashes.SHA-256"
	Err   error
}

func (e *ExtractError) Error() string { return fmt.Sprintf("%s, %s: %v", e.Where, e.Path, e.Err) }

// Unwrap returns the cause.
func (e *ExtractError) Unwrap() error { return e.Err }

// addressKind stands for "whatever address the value is": the
// network-traffic src_ref and dst_ref may point at an ipv4-addr, ipv6-addr,
// mac-addr or domain-name, which a pattern does not say. It is never the
// kind of an observable.
const addressKind = kindEnd

// comparisonKinds maps the object paths that name a matchable value to the
// observable kind. Hash paths are handled apart.
var comparisonKinds = map[string]Kind{
	"ipv4-addr:value":                KindIPv4,
	"ipv6-addr:value":                KindIPv6,
	"domain-name:value":              KindDomain,
	"url:value":                      KindURL,
	"artifact:url":                   KindURL,
	"email-addr:value":               KindEmail,
	"email-message:from_ref.value":   KindEmail,
	"email-message:sender_ref.value": KindEmail,
	"email-message:to_refs.*.value":  KindEmail,
	"email-message:cc_refs.*.value":  KindEmail,
	"email-message:bcc_refs.*.value": KindEmail,
	"file:name":                      KindFileName,
	"mac-addr:value":                 KindMAC,
	"autonomous-system:number":       KindASN,
	"mutex:name":                     KindMutex,
	"windows-registry-key:key":       KindRegistryKey,
	"network-traffic:src_ref.value":  addressKind,
	"network-traffic:dst_ref.value":  addressKind,
	"process:image_ref.name":         KindFileName,
}

// hashPaths are the paths of hashes dictionaries: the step after one is
// the algorithm.
var hashPaths = map[string]bool{
	"file:hashes":              true,
	"artifact:hashes":          true,
	"x509-certificate:hashes":  true,
	"process:image_ref.hashes": true,
	"file:content_ref.hashes":  true,
}

// comparisonKind returns the kind a comparison's path names, or false
// when it names nothing this package correlates.
func comparisonKind(c Comparison) (Kind, bool, error) {
	steps := make([]string, len(c.Path))
	for i, s := range c.Path {
		if s == "*" || s != "" && allDigits(s) {
			s = "*"
		}
		steps[i] = s
	}
	key := c.ObjectType + ":" + strings.Join(steps, ".")
	if len(steps) >= 2 && hashPaths[c.ObjectType+":"+strings.Join(steps[:len(steps)-1], ".")] {
		alg := steps[len(steps)-1]
		k, ok := HashKind(alg)
		if !ok {
			return 0, false, unsupportedHash(alg, strings.Join(c.Values, ", "))
		}
		return k, true, nil
	}
	k, ok := comparisonKinds[key]
	return k, ok, nil
}

// positive reports whether a comparison asserts that its values are
// present: =, IN, and ISSUBSET (an address within a prefix, which names the
// prefix), none of them negated. Every other operator either excludes the
// values (!=, NOT), compares order (<, >), or matches by shape (LIKE,
// MATCHES, ISSUPERSET) and so names no value an analyst could look up.
func positive(c Comparison) bool {
	if c.Negated {
		return false
	}
	switch c.Operator {
	case OpEqual, OpIn:
		return true
	case OpIsSubset:
		return true // only meaningful for addresses; see FromComparisons
	}
	return false
}

// FromComparisons returns the observables an indicator names: the values of
// its positive comparisons (=, IN, and ISSUBSET on addresses; see positive)
// on the paths of a matchable value. It reads them whatever the boolean
// structure of the pattern around them: an indicator "names" every value it
// asserts somewhere, and correlation asks which documents name the same
// value, not whether their patterns would fire together.
//
// The paths read: ipv4-addr:value, ipv6-addr:value, domain-name:value,
// url:value, artifact:url, email-addr:value, the email-message from, sender,
// to, cc and bcc refs' value, file:name, process:image_ref.name, the hashes
// of file, artifact, x509-certificate, process:image_ref and
// file:content_ref, mac-addr:value, autonomous-system:number, mutex:name,
// windows-registry-key:key, and network-traffic:src_ref.value and
// dst_ref.value (read as an IP address, a MAC address or a domain name,
// whichever the value is). Comparisons on other paths name nothing and are
// skipped. A URL also yields its host (see Observable.Host).
//
// The result is in first-seen order without duplicates. Values that cannot
// be read are reported together in the error (each an *ExtractError) while
// the others are still returned, so one bad value does not hide the rest.
func FromComparisons(cs []Comparison) ([]Observable, error) {
	var out []Observable
	var errs []error
	for i, c := range cs {
		if !positive(c) {
			continue
		}
		k, ok, err := comparisonKind(c)
		if err != nil {
			errs = append(errs, &ExtractError{Where: fmt.Sprintf("comparison %d", i), Path: shown(c.String()), Err: err})
			continue
		}
		if !ok {
			continue
		}
		if c.Operator == OpIsSubset && k != KindIPv4 && k != KindIPv6 {
			continue
		}
		for _, v := range c.Values {
			o, err := readValue(k, v)
			if err != nil {
				errs = append(errs, &ExtractError{Where: fmt.Sprintf("comparison %d", i), Path: shown(c.String()), Err: err})
				continue
			}
			out = appendObservable(out, o)
		}
	}
	return out, errors.Join(errs...)
}

// readValue normalises v as kind k, taking an addressKind value for the
// address it looks like.
func readValue(k Kind, v string) (Observable, error) {
	if k != addressKind {
		return Normalise(k, v)
	}
	s := trimSpace(v)
	if p, err := netip.ParsePrefix(s); err == nil {
		return Normalise(familyKind(p.Addr()), s)
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return Normalise(familyKind(a), s)
	}
	if _, err := net.ParseMAC(s); err == nil {
		return Normalise(KindMAC, s)
	}
	return Normalise(KindDomain, s)
}

func familyKind(a netip.Addr) Kind {
	if a.Is4() || a.Is4In6() {
		return KindIPv4
	}
	return KindIPv6
}

// appendObservable appends o, and a URL's host, unless already present.
func appendObservable(out []Observable, o Observable) []Observable {
	if !slices.Contains(out, o) {
		out = append(out, o)
	}
	if h, ok := o.Host(); ok && !slices.Contains(out, h) {
		out = append(out, h)
	}
	return out
}

// scoValues lists, per cyber-observable type, the properties that hold a
// matchable value and their kind. "hashes" is read as a dictionary of
// hashes by algorithm.
var scoValues = map[string][]struct {
	prop string
	kind Kind
}{
	"ipv4-addr":            {{"value", KindIPv4}},
	"ipv6-addr":            {{"value", KindIPv6}},
	"domain-name":          {{"value", KindDomain}},
	"url":                  {{"value", KindURL}},
	"email-addr":           {{"value", KindEmail}},
	"mac-addr":             {{"value", KindMAC}},
	"autonomous-system":    {{"number", KindASN}},
	"mutex":                {{"name", KindMutex}},
	"windows-registry-key": {{"key", KindRegistryKey}},
	"file":                 {{"name", KindFileName}, {"hashes", 0}},
	"artifact":             {{"url", KindURL}, {"hashes", 0}},
	"x509-certificate":     {{"hashes", 0}},
}

// FromSCO returns the observables a STIX cyber-observable object carries,
// from its parsed JSON (see stix.Parse): the value of ipv4-addr, ipv6-addr,
// domain-name, url, email-addr and mac-addr, the number of an
// autonomous-system, the name of a mutex, the key of a
// windows-registry-key, the name and hashes of a file, the url and hashes
// of an artifact and the hashes of an x509-certificate. Other types carry
// no value that identifies them on their own (a process, a network-traffic
// flow) and yield nothing; their references point at SCOs that do.
//
// As with FromComparisons, values that cannot be read are reported in the
// error, each an *ExtractError with the object's id and JSON path, and the
// rest are returned.
func FromSCO(v *stix.Value) ([]Observable, error) {
	if v == nil || v.Kind != stix.Object {
		return nil, &ExtractError{Where: "object", Path: "$", Err: errors.New("not a JSON object")}
	}
	where := "object"
	if id, ok := v.Get("id"); ok && id.Kind == stix.String && id.Str != "" {
		where = shown(id.Str)
	}
	t, ok := v.Get("type")
	if !ok || t.Kind != stix.String {
		return nil, &ExtractError{Where: where, Path: "$.type", Err: errors.New("missing or not a string; a STIX object names its type")}
	}
	var out []Observable
	var errs []error
	fail := func(path string, err error) {
		errs = append(errs, &ExtractError{Where: where, Path: shown(path), Err: err})
	}
	for _, p := range scoValues[t.Str] {
		pv, ok := v.Get(p.prop)
		if !ok {
			continue
		}
		path := "$." + p.prop
		if p.prop == "hashes" {
			if pv.Kind != stix.Object {
				fail(path, fmt.Errorf("is a %s; hashes is a dictionary of algorithm to hash", pv.Kind))
				continue
			}
			for _, m := range pv.Obj {
				hp := shown(path + "." + m.Key)
				if m.Value.Kind != stix.String {
					fail(hp, fmt.Errorf("is a %s; a hash is a string", m.Value.Kind))
					continue
				}
				o, err := NormaliseHash(m.Key, m.Value.Str)
				if err != nil {
					fail(hp, err)
					continue
				}
				out = appendObservable(out, o)
			}
			continue
		}
		var s string
		switch {
		case pv.Kind == stix.String && p.kind != KindASN:
			s = pv.Str
		case pv.Kind == stix.Number && p.kind == KindASN:
			if _, err := strconv.ParseUint(pv.Str, 10, 32); err != nil {
				fail(path, fmt.Errorf("%s is not an autonomous system number from 0 to 4294967295", pv.Str))
				continue
			}
			s = pv.Str
		default:
			fail(path, fmt.Errorf("is a %s, which a %s value cannot be", pv.Kind, p.kind))
			continue
		}
		o, err := Normalise(p.kind, s)
		if err != nil {
			fail(path, err)
			continue
		}
		out = appendObservable(out, o)
	}
	return out, errors.Join(errs...)
}
