package stix

import (
	"crypto/sha256"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Canonicalize returns the RFC 8785 (JSON Canonicalization Scheme) form of
// the JSON document data.
func Canonicalize(data []byte) ([]byte, error) {
	v, err := ParseJSON(data)
	if err != nil {
		return nil, err
	}
	return AppendCanonical(nil, &v)
}

// Hash is the SHA-256 of a value's canonical form: the content hash of an
// object version, identical on every node.
func Hash(v *Value) ([32]byte, error) {
	c, err := AppendCanonical(make([]byte, 0, 1024), v)
	if err != nil {
		return [32]byte{}, err
	}
	return sha256.Sum256(c), nil
}

// AppendCanonical appends the RFC 8785 canonical serialisation of v to dst:
// object members sorted by the UTF-16 code units of their names, strings
// escaped minimally, numbers written as ECMAScript writes an IEEE 754 double.
func AppendCanonical(dst []byte, v *Value) ([]byte, error) {
	switch v.Kind {
	case Null:
		return append(dst, "null"...), nil
	case Bool:
		if v.Bool {
			return append(dst, "true"...), nil
		}
		return append(dst, "false"...), nil
	case Number:
		return appendCanonicalNumber(dst, v.Str)
	case String:
		return appendCanonicalString(dst, v.Str), nil
	case Array:
		dst = append(dst, '[')
		for i := range v.Arr {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = AppendCanonical(dst, &v.Arr[i]); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case Object:
		var order [16]int
		idx := order[:0]
		for i := range v.Obj {
			idx = append(idx, i)
		}
		if !sortedUTF16(v.Obj) {
			slices.SortFunc(idx, func(a, b int) int { return compareUTF16(v.Obj[a].Key, v.Obj[b].Key) })
		}
		dst = append(dst, '{')
		for n, i := range idx {
			if n > 0 {
				dst = append(dst, ',')
			}
			dst = appendCanonicalString(dst, v.Obj[i].Key)
			dst = append(dst, ':')
			var err error
			if dst, err = AppendCanonical(dst, &v.Obj[i].Value); err != nil {
				return nil, err
			}
		}
		return append(dst, '}'), nil
	}
	return nil, fmt.Errorf("canonicalize: invalid value kind %d", v.Kind)
}

func sortedUTF16(m []Member) bool {
	for i := 1; i < len(m); i++ {
		if compareUTF16(m[i-1].Key, m[i].Key) > 0 {
			return false
		}
	}
	return true
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// requires. UTF-8 byte order equals code point order, which differs from
// UTF-16 order only for supplementary characters against U+E000..U+FFFF.
func compareUTF16(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		if a[i] == b[i] {
			continue
		}
		if a[i] < utf8.RuneSelf && b[i] < utf8.RuneSelf {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
		// Back up to the start of the differing runes and compare units.
		for i > 0 && !utf8.RuneStart(a[i]) {
			i--
		}
		ra, _ := utf8.DecodeRuneInString(a[i:])
		rb, _ := utf8.DecodeRuneInString(b[i:])
		ua, ub := firstUnit(ra), firstUnit(rb)
		if ua != ub {
			if ua < ub {
				return -1
			}
			return 1
		}
		// Same leading surrogate: the code points order the trailing one.
		if ra < rb {
			return -1
		}
		return 1
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func firstUnit(r rune) rune {
	if r >= 0x10000 {
		hi, _ := utf16.EncodeRune(r)
		return hi
	}
	return r
}

const hexDigits = "0123456789abcdef"

func appendCanonicalString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' {
			continue
		}
		dst = append(dst, s[start:i]...)
		switch c {
		case '"':
			dst = append(dst, '\\', '"')
		case '\\':
			dst = append(dst, '\\', '\\')
		case '\b':
			dst = append(dst, '\\', 'b')
		case '\f':
			dst = append(dst, '\\', 'f')
		case '\n':
			dst = append(dst, '\\', 'n')
		case '\r':
			dst = append(dst, '\\', 'r')
		case '\t':
			dst = append(dst, '\\', 't')
		default:
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		}
		start = i + 1
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// appendCanonicalNumber writes a JSON number literal as ECMAScript's
// Number.prototype.toString writes the double it denotes.
func appendCanonicalNumber(dst []byte, lit string) ([]byte, error) {
	if isPlainInteger(lit) {
		if lit == "-0" {
			return append(dst, '0'), nil
		}
		return append(dst, lit...), nil
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return nil, fmt.Errorf("canonicalize: number %s is not representable as an IEEE 754 double", lit)
	}
	return AppendESNumber(dst, f), nil
}

// isPlainInteger reports whether lit is an integer literal short enough to
// be exact in a double, whose ECMAScript form is the literal itself.
func isPlainInteger(lit string) bool {
	if len(lit) == 0 || len(lit) > 15 {
		return false
	}
	s := lit
	if s[0] == '-' {
		s = s[1:]
	}
	if len(s) == 0 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// AppendESNumber appends f formatted by the ECMAScript Number::toString
// algorithm (ECMA-262, 7.1.12.1), which RFC 8785 adopts.
func AppendESNumber(dst []byte, f float64) []byte {
	if f == 0 {
		return append(dst, '0')
	}
	if f < 0 {
		dst = append(dst, '-')
		f = -f
	}
	// Shortest round-tripping digits and the decimal exponent.
	var buf [32]byte
	e := strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	// e looks like "d.ddddde±XX" or "de±XX".
	var digits []byte
	i := 0
	for ; i < len(e) && e[i] != 'e'; i++ {
		if e[i] != '.' {
			digits = append(digits, e[i])
		}
	}
	exp, _ := strconv.Atoi(string(e[i+1:]))
	k := len(digits)
	n := exp + 1 // position of the decimal point relative to the digits
	switch {
	case k <= n && n <= 21:
		dst = append(dst, digits...)
		for j := 0; j < n-k; j++ {
			dst = append(dst, '0')
		}
	case 0 < n && n <= 21:
		dst = append(dst, digits[:n]...)
		dst = append(dst, '.')
		dst = append(dst, digits[n:]...)
	case -6 < n && n <= 0:
		dst = append(dst, '0', '.')
		for j := 0; j < -n; j++ {
			dst = append(dst, '0')
		}
		dst = append(dst, digits...)
	default:
		dst = append(dst, digits[0])
		if k > 1 {
			dst = append(dst, '.')
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, 'e')
		if n-1 >= 0 {
			dst = append(dst, '+')
		}
		dst = strconv.AppendInt(dst, int64(n-1), 10)
	}
	return dst
}
