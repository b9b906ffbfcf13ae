// Package jsonscan reads JSON documents in one validating pass, for the
// large ones a node reads most (TAXII envelopes of a thousand objects):
// encoding/json reads such a document twice (a validity scan, then the
// decode) and copies every element, where a Scanner checks the text is JSON
// as it goes and hands out elements as slices of it. A Scanner accepts
// exactly the texts encoding/json accepts (its users' fuzz targets hold
// them to that), nesting bound included.
package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// MaxNesting is encoding/json's bound on nesting, kept so that both read
// the same documents.
const MaxNesting = 10000

// Scanner is a validating reader of one JSON text. Its methods read from
// the current position, which must not be on space unless they say so.
type Scanner struct {
	b     []byte
	i     int
	depth int
}

// New returns a Scanner at the start of b.
func New(b []byte) *Scanner { return &Scanner{b: b} }

// Peek returns the byte at the current position; false at the end.
func (s *Scanner) Peek() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	return s.b[s.i], true
}

// End checks that only space follows the current position.
func (s *Scanner) End() error {
	s.WS()
	if s.i != len(s.b) {
		return s.syntaxError("after top-level value")
	}
	return nil
}

// syntaxError says where the text stops being JSON.
func (s *Scanner) syntaxError(what string) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("unexpected end of JSON input (%s)", what)
	}
	return fmt.Errorf("invalid character %q at byte %d (%s)", s.b[s.i], s.i, what)
}

func (s *Scanner) WS() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// Value reads one value.
func (s *Scanner) Value() error {
	if s.i >= len(s.b) {
		return s.syntaxError("looking for a value")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.Object(nil)
	case c == '[':
		return s.Array(nil)
	case c == '"':
		_, err := s.Str()
		return err
	case c == '-' || c >= '0' && c <= '9':
		return s.number()
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	}
	return s.syntaxError("looking for a value")
}

func (s *Scanner) literal(lit string) error {
	if !strings.HasPrefix(string(s.b[s.i:min(len(s.b), s.i+len(lit))]), lit) {
		// Point at the first byte that differs.
		for j := 0; j < len(lit) && s.i < len(s.b) && s.b[s.i] == lit[j]; j++ {
			s.i++
		}
		return s.syntaxError("in literal " + lit)
	}
	s.i += len(lit)
	return nil
}

func (s *Scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *Scanner) number() error {
	if s.b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(s.b) && s.b[s.i] == '0':
		s.i++
	case s.digits() == 0:
		return s.syntaxError("in numeric literal")
	}
	if s.i < len(s.b) && s.b[s.i] == '.' {
		s.i++
		if s.digits() == 0 {
			return s.syntaxError("after decimal point in numeric literal")
		}
	}
	if s.i < len(s.b) && (s.b[s.i] == 'e' || s.b[s.i] == 'E') {
		s.i++
		if s.i < len(s.b) && (s.b[s.i] == '+' || s.b[s.i] == '-') {
			s.i++
		}
		if s.digits() == 0 {
			return s.syntaxError("in exponent of numeric literal")
		}
	}
	return nil
}

// Str reads a string and returns its text, quotes included.
func (s *Scanner) Str() (raw []byte, err error) {
	start := s.i
	s.i++ // the opening quote
	for s.i < len(s.b) {
		// Eight bytes at a time while none of them ends the string,
		// starts an escape or is a control character: most of a STIX
		// object is plain text.
		for s.i+8 <= len(s.b) && PlainWord(binary.LittleEndian.Uint64(s.b[s.i:])) {
			s.i += 8
		}
		if s.i >= len(s.b) {
			break
		}
		switch c := s.b[s.i]; {
		case c == '"':
			s.i++
			return s.b[start:s.i], nil
		case c == '\\':
			s.i++
			if s.i >= len(s.b) {
				return nil, s.syntaxError("in string escape code")
			}
			switch s.b[s.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				s.i++
			case 'u':
				s.i++
				for range 4 {
					if s.i >= len(s.b) || !isHex(s.b[s.i]) {
						return nil, s.syntaxError(`in \u hexadecimal character escape`)
					}
					s.i++
				}
			default:
				return nil, s.syntaxError("in string escape code")
			}
		case c < 0x20:
			return nil, s.syntaxError("in string literal")
		default:
			s.i++
		}
	}
	return nil, s.syntaxError("in string literal")
}

// PlainWord reports whether none of the eight bytes of x is a quote, a
// backslash or below 0x20 (the classic test for a zero byte, applied to x
// with the quote's and the backslash's bits flipped, and for bytes below
// 0x20; exact, with no false positives or negatives).
func PlainWord(x uint64) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	hasZero := func(v uint64) uint64 { return (v - ones) & ^v & highs }
	below := (x - 0x20*ones) & ^x & highs
	return hasZero(x^('"'*ones))|hasZero(x^('\\'*ones))|below == 0
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *Scanner) enter() error {
	s.depth++
	if s.depth > MaxNesting {
		return fmt.Errorf("exceeded max depth of %d at byte %d", MaxNesting, s.i)
	}
	return nil
}

// Object reads an object; member, when not nil, is called with each key's
// text (quotes included, see Unquote) with the position at the start of its
// value, and must read the value.
func (s *Scanner) Object(member func(key []byte) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // {
	s.WS()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntaxError("looking for beginning of object key string")
		}
		key, err := s.Str()
		if err != nil {
			return err
		}
		s.WS()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntaxError("after object key")
		}
		s.i++
		s.WS()
		if member != nil {
			err = member(key)
		} else {
			err = s.Value()
		}
		if err != nil {
			return err
		}
		s.WS()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			s.WS()
			continue
		}
		if s.i < len(s.b) && s.b[s.i] == '}' {
			s.i++
			s.depth--
			return nil
		}
		return s.syntaxError("after object key:value pair")
	}
}

// Array reads an array; elem, when not nil, is given the text of each
// element, a slice of the document.
func (s *Scanner) Array(elem func(raw []byte)) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // [
	s.WS()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		start := s.i
		if err := s.Value(); err != nil {
			return err
		}
		if elem != nil {
			elem(s.b[start:s.i:s.i])
		}
		s.WS()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			s.WS()
			continue
		}
		if s.i < len(s.b) && s.b[s.i] == ']' {
			s.i++
			s.depth--
			return nil
		}
		return s.syntaxError("after array element")
	}
}

// Unquote returns the text of a string read by Str, as encoding/json
// decodes it into a Go string.
func Unquote(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	if !strings.ContainsRune(string(inner), '\\') && utf8.Valid(inner) {
		return string(inner), nil
	}
	var v string
	err := json.Unmarshal(raw, &v)
	return v, err
}
