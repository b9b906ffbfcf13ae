package pattern

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a token. Keywords are identifiers: the parser
// recognises them by their text, which lets it say "keywords are upper
// case" when it meets "within".
type tokKind uint8

const (
	tEOF     tokKind = iota
	tInvalid         // a character the language has no use for
	tIdent           // letters, digits, _ and -, not starting with a digit or -
	tString
	tInt
	tFloat
	tTimestamp
	tBinary
	tHex
	tLParen
	tRParen
	tLBrack
	tRBrack
	tComma
	tColon
	tDot
	tStar
	tEq
	tNeq
	tLt
	tLe
	tGt
	tGe
)

// token is one token of the pattern. Literals are decoded by the lexer, so
// that a malformed one is reported where it is.
type token struct {
	kind tokKind
	pos  int    // byte offset of the first character
	text string // the source text
	str  string // tString: the value, escapes removed
	time time.Time
	b    []byte // tBinary, tHex: the decoded bytes
}

// keywords of the language. LAST is reserved by the grammar but unused.
var keywords = map[string]bool{
	"AND": true, "OR": true, "NOT": true, "FOLLOWEDBY": true, "LIKE": true, "MATCHES": true,
	"ISSUPERSET": true, "ISSUBSET": true, "EXISTS": true, "LAST": true, "IN": true,
	"START": true, "STOP": true, "SECONDS": true, "WITHIN": true, "REPEATS": true, "TIMES": true,
}

// reserved reports whether an identifier is a keyword or a boolean, which
// the grammar's lexer never reads as an identifier.
func reserved(s string) bool { return keywords[s] || s == "true" || s == "false" }

type lexer struct {
	src string
	pos int
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func (l *lexer) errorf(off int, format string, args ...any) *SyntaxError {
	return newError(l.src, off, fmt.Sprintf(format, args...))
}

// next returns the next token, skipping whitespace and comments.
func (l *lexer) next() (token, error) {
	if err := l.skip(); err != nil {
		return token{}, err
	}
	src, start := l.src, l.pos
	if start >= len(src) {
		return token{kind: tEOF, pos: start}, nil
	}
	tok := func(k tokKind, n int) (token, error) {
		l.pos += n
		return token{kind: k, pos: start, text: src[start:l.pos]}, nil
	}
	c := src[start]
	at := func(i int) byte {
		if start+i < len(src) {
			return src[start+i]
		}
		return 0
	}
	switch c {
	case '(':
		return tok(tLParen, 1)
	case ')':
		return tok(tRParen, 1)
	case '[':
		return tok(tLBrack, 1)
	case ']':
		return tok(tRBrack, 1)
	case ',':
		return tok(tComma, 1)
	case ':':
		return tok(tColon, 1)
	case '*':
		return tok(tStar, 1)
	case '=':
		if at(1) == '=' {
			return tok(tEq, 2)
		}
		return tok(tEq, 1)
	case '!':
		if at(1) == '=' {
			return tok(tNeq, 2)
		}
		return tok(tInvalid, 1)
	case '<':
		switch at(1) {
		case '=':
			return tok(tLe, 2)
		case '>':
			return tok(tNeq, 2)
		}
		return tok(tLt, 1)
	case '>':
		if at(1) == '=' {
			return tok(tGe, 2)
		}
		return tok(tGt, 1)
	case '\'':
		return l.string()
	case '.':
		if isDigit(at(1)) {
			return l.number()
		}
		return tok(tDot, 1)
	case '+', '-':
		if isDigit(at(1)) || at(1) == '.' && isDigit(at(2)) {
			return l.number()
		}
		return tok(tInvalid, 1)
	}
	switch {
	case isDigit(c):
		return l.number()
	case isLetter(c) || c == '_':
		n := 1
		for start+n < len(src) {
			d := src[start+n]
			if !(isLetter(d) || isDigit(d) || d == '_' || d == '-') {
				break
			}
			n++
		}
		if n == 1 && at(1) == '\'' && (c == 't' || c == 'b' || c == 'h') {
			return l.prefixed(c)
		}
		return tok(tIdent, n)
	}
	_, n := utf8.DecodeRuneInString(src[start:])
	return tok(tInvalid, n)
}

// skip moves past whitespace and comments, the grammar's WS, COMMENT and
// LINE_COMMENT.
func (l *lexer) skip() error {
	src := l.src
	for l.pos < len(src) {
		c := src[l.pos]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f':
			l.pos++
		case c == '/' && l.pos+1 < len(src) && src[l.pos+1] == '*':
			end := strings.Index(src[l.pos+2:], "*/")
			if end < 0 {
				return l.errorf(l.pos, "comment started here is not closed with */")
			}
			l.pos += 2 + end + 2
		case c == '/' && l.pos+1 < len(src) && src[l.pos+1] == '/':
			end := strings.IndexAny(src[l.pos:], "\r\n")
			if end < 0 {
				l.pos = len(src)
			} else {
				l.pos += end
			}
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRuneInString(src[l.pos:])
			if !unicodeSpace(r) {
				return nil
			}
			l.pos += n
		default:
			return nil
		}
	}
	return nil
}

// unicodeSpace reports whether r is one of the non-ASCII whitespace
// characters the grammar skips.
func unicodeSpace(r rune) bool {
	switch r {
	case 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200A
}

// string reads a string constant. Only \' and \\ are escapes; any other
// backslash is an error, as in the grammar.
func (l *lexer) string() (token, error) {
	src, start := l.src, l.pos
	var buf []byte // nil until the first escape
	from := start + 1
	for i := start + 1; i < len(src); i++ {
		switch src[i] {
		case '\'':
			l.pos = i + 1
			t := token{kind: tString, pos: start, text: src[start:l.pos]}
			if buf == nil {
				t.str = src[start+1 : i]
			} else {
				t.str = string(append(buf, src[from:i]...))
			}
			return t, nil
		case '\\':
			if i+1 >= len(src) {
				return token{}, l.errorf(start, "string is not closed with '")
			}
			if e := src[i+1]; e != '\'' && e != '\\' {
				r, _ := utf8.DecodeRuneInString(src[i+1:])
				what := fmt.Sprintf(`\%c`, r)
				if !unicode.IsPrint(r) {
					what = fmt.Sprintf("a backslash before %U", r)
				}
				return token{}, l.errorf(i, `invalid escape %s in a string: only \' and \\ are escapes; write \\ for a backslash`, what)
			}
			buf = append(buf, src[from:i]...)
			buf = append(buf, src[i+1])
			i++
			from = i + 1
		}
	}
	return token{}, l.errorf(start, "string is not closed with '")
}

// number reads an integer or a float: [+-]? digits, or [+-]? digits? '.'
// digits. A point not followed by a digit ends an integer.
func (l *lexer) number() (token, error) {
	src, start := l.src, l.pos
	i := start
	if src[i] == '+' || src[i] == '-' {
		i++
	}
	digits := i
	for i < len(src) && isDigit(src[i]) {
		i++
	}
	kind := tInt
	if i+1 < len(src) && src[i] == '.' && isDigit(src[i+1]) {
		kind = tFloat
		i++
		for i < len(src) && isDigit(src[i]) {
			i++
		}
	} else if i-digits > 1 && src[digits] == '0' {
		// The grammar allows leading zeros in floats but not integers.
		return token{}, l.errorf(start, "integer %s has a leading zero", src[start:i])
	}
	l.pos = i
	return token{kind: kind, pos: start, text: src[start:i]}, nil
}

// prefixed reads t'...', b'...' or h'...'.
func (l *lexer) prefixed(prefix byte) (token, error) {
	src, start := l.src, l.pos
	end := strings.IndexByte(src[start+2:], '\'')
	if end < 0 {
		return token{}, l.errorf(start, "%c'... is not closed with '", prefix)
	}
	body := src[start+2 : start+2+end]
	l.pos = start + 2 + end + 1
	t := token{pos: start, text: src[start:l.pos]}
	switch prefix {
	case 't':
		tm, err := parseTimestamp(body)
		if err != nil {
			return token{}, l.errorf(start, "%s is not a STIX timestamp: %v", clip(t.text), err)
		}
		t.kind, t.time = tTimestamp, tm
	case 'b':
		if !validBase64(body) {
			return token{}, l.errorf(start, "%s is not a binary constant: it must be non-empty base64 with padding (A-Z, a-z, 0-9, +, /, =)", clip(t.text))
		}
		b, err := base64.StdEncoding.DecodeString(body)
		if err != nil {
			return token{}, l.errorf(start, "%s is not a binary constant: %v", clip(t.text), err)
		}
		t.kind, t.b = tBinary, b
	case 'h':
		b, err := hex.DecodeString(body)
		if err != nil {
			return token{}, l.errorf(start, "%s is not a hex constant: it must be pairs of hexadecimal digits", clip(t.text))
		}
		t.kind, t.b = tHex, b
	}
	return t, nil
}

// validBase64 checks the grammar's BinaryLiteral: groups of four base64
// characters, the last of which may end in "=" or "==", at least one
// group.
func validBase64(s string) bool {
	if len(s) == 0 || len(s)%4 != 0 {
		return false
	}
	pad := 0
	switch {
	case strings.HasSuffix(s, "=="):
		pad = 2
	case strings.HasSuffix(s, "="):
		pad = 1
	}
	for i := 0; i < len(s)-pad; i++ {
		c := s[i]
		if !(isLetter(c) || isDigit(c) || c == '+' || c == '/') {
			return false
		}
	}
	return true
}

// parseTimestamp parses a STIX timestamp: YYYY-MM-DDTHH:MM:SS[.s+]Z, in
// UTC, at most nanosecond precision. Leap seconds are refused, as the
// stix package refuses them in properties: a time.Time cannot hold one.
func parseTimestamp(s string) (time.Time, error) {
	const form = "YYYY-MM-DDTHH:MM:SS[.fraction]Z, in UTC"
	if len(s) < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, fmt.Errorf("want %s", form)
	}
	num := func(a, b int) (int, bool) {
		n := 0
		for i := a; i < b; i++ {
			if !isDigit(s[i]) {
				return 0, false
			}
			n = n*10 + int(s[i]-'0')
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
		return time.Time{}, fmt.Errorf("want %s", form)
	}
	nanos := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' || len(frac) == 1 {
			return time.Time{}, fmt.Errorf("want %s", form)
		}
		digits := len(frac) - 1
		if digits > 9 {
			return time.Time{}, fmt.Errorf("%d fractional digits; at most 9 (nanoseconds)", digits)
		}
		f, ok := num(20, len(s)-1)
		if !ok {
			return time.Time{}, fmt.Errorf("want %s", form)
		}
		nanos = f
		for i := digits; i < 9; i++ {
			nanos *= 10
		}
	}
	switch {
	case month < 1 || month > 12:
		return time.Time{}, fmt.Errorf("month %02d does not exist", month)
	case day < 1 || day > daysIn(month, year):
		return time.Time{}, fmt.Errorf("day %02d does not exist in %04d-%02d", day, year, month)
	case hour > 23 || minute > 59:
		return time.Time{}, fmt.Errorf("time %02d:%02d does not exist", hour, minute)
	case sec == 60:
		return time.Time{}, fmt.Errorf("leap seconds are not accepted")
	case sec > 59:
		return time.Time{}, fmt.Errorf("second %02d does not exist", sec)
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nanos, time.UTC), nil
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

// clip shortens text quoted in an error message.
func clip(s string) string {
	const max = 40
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
