package client

import (
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// An envelope is most of what a client reads, a megabyte or more per page.
// encoding/json reads one twice (a validity scan, then the decode) and
// copies every object; parseEnvelope reads it once, checking it is JSON as
// it goes, and hands out the objects as slices of the body. It accepts
// exactly what encoding/json accepts into the same struct (the fuzz target
// holds the two to that), with the same result.

// maxNesting is encoding/json's bound on nesting, kept so that both read
// the same documents.
const maxNesting = 10000

// scanner is a validating reader of one JSON text in b.
type scanner struct {
	b     []byte
	i     int
	depth int
}

// syntaxError says where the text stops being JSON.
func (s *scanner) syntaxError(what string) error {
	if s.i >= len(s.b) {
		return fmt.Errorf("unexpected end of JSON input (%s)", what)
	}
	return fmt.Errorf("invalid character %q at byte %d (%s)", s.b[s.i], s.i, what)
}

func (s *scanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// value reads one value starting at s.i (no leading space).
func (s *scanner) value() error {
	if s.i >= len(s.b) {
		return s.syntaxError("looking for a value")
	}
	switch c := s.b[s.i]; {
	case c == '{':
		return s.object(nil)
	case c == '[':
		return s.array(nil)
	case c == '"':
		_, err := s.str()
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

func (s *scanner) literal(lit string) error {
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

func (s *scanner) digits() int {
	n := 0
	for s.i < len(s.b) && s.b[s.i] >= '0' && s.b[s.i] <= '9' {
		s.i++
		n++
	}
	return n
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() error {
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

// str reads a string and returns its text with the quotes; plain reports
// that it holds no escape.
func (s *scanner) str() (raw []byte, err error) {
	start := s.i
	s.i++ // the opening quote
	for s.i < len(s.b) {
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

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func (s *scanner) enter() error {
	s.depth++
	if s.depth > maxNesting {
		return fmt.Errorf("exceeded max depth of %d at byte %d", maxNesting, s.i)
	}
	return nil
}

// object reads an object; member, when not nil, is called with each key's
// raw text (quotes included) with s.i at the start of its value, and must
// read the value.
func (s *scanner) object(member func(key []byte) error) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == '}' {
		s.i++
		s.depth--
		return nil
	}
	for {
		if s.i >= len(s.b) || s.b[s.i] != '"' {
			return s.syntaxError("looking for beginning of object key string")
		}
		key, err := s.str()
		if err != nil {
			return err
		}
		s.ws()
		if s.i >= len(s.b) || s.b[s.i] != ':' {
			return s.syntaxError("after object key")
		}
		s.i++
		s.ws()
		if member != nil {
			err = member(key)
		} else {
			err = s.value()
		}
		if err != nil {
			return err
		}
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			s.ws()
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

// array reads an array; elem, when not nil, is given the raw text of each
// element.
func (s *scanner) array(elem func(raw []byte)) error {
	if err := s.enter(); err != nil {
		return err
	}
	s.i++ // [
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == ']' {
		s.i++
		s.depth--
		return nil
	}
	for {
		start := s.i
		if err := s.value(); err != nil {
			return err
		}
		if elem != nil {
			elem(s.b[start:s.i:s.i])
		}
		s.ws()
		if s.i < len(s.b) && s.b[s.i] == ',' {
			s.i++
			s.ws()
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

// unquote returns the text of a string read by str, as encoding/json
// decodes it into a Go string.
func unquote(raw []byte) (string, error) {
	inner := raw[1 : len(raw)-1]
	if !strings.ContainsRune(string(inner), '\\') && utf8.Valid(inner) {
		return string(inner), nil
	}
	var v string
	err := json.Unmarshal(raw, &v)
	return v, err
}

// kind names the JSON type of the value starting at c.
func kind(c byte) string {
	switch c {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}

// parseEnvelope reads an envelope resource.
func parseEnvelope(body []byte) (*Envelope, error) {
	s := &scanner{b: body}
	s.ws()
	if s.i >= len(s.b) || s.b[s.i] != '{' {
		return nil, fmt.Errorf("the body is not a JSON object (want an envelope resource)")
	}
	env := &Envelope{}
	// encoding/json keeps reading after a value of the wrong type and
	// reports the first such error at the end; so does this.
	var typeErr error
	wrongType := func(prop, want string) {
		if typeErr == nil {
			typeErr = fmt.Errorf("envelope resource: property %s is a JSON %s; want %s", prop, strings.TrimPrefix(strings.TrimPrefix(kind(s.b[s.i]), "a "), "an "), want)
		}
	}
	err := s.object(func(rawKey []byte) error {
		key, err := unquote(rawKey)
		if err != nil {
			return err
		}
		if s.i >= len(s.b) {
			return s.value() // the error
		}
		switch {
		case strings.EqualFold(key, "more"):
			switch s.b[s.i] {
			case 't':
				env.More = true
			case 'f':
				env.More = false
			case 'n':
			default:
				wrongType("more", "a boolean")
			}
			return s.value()
		case strings.EqualFold(key, "next"):
			switch s.b[s.i] {
			case '"':
				raw, err := s.str()
				if err != nil {
					return err
				}
				if env.Next, err = unquote(raw); err != nil {
					return err
				}
				return nil
			case 'n':
			default:
				wrongType("next", "a string")
			}
			return s.value()
		case strings.EqualFold(key, "objects"):
			switch s.b[s.i] {
			case '[':
				env.Objects = env.Objects[:0]
				if env.Objects == nil {
					env.Objects = []json.RawMessage{}
				}
				return s.array(func(raw []byte) { env.Objects = append(env.Objects, raw) })
			case 'n':
				env.Objects = nil
			default:
				wrongType("objects", "a list")
			}
			return s.value()
		}
		return s.value()
	})
	if err != nil {
		return nil, fmt.Errorf("envelope resource: %w", err)
	}
	s.ws()
	if s.i != len(s.b) {
		return nil, fmt.Errorf("envelope resource: %w", s.syntaxError("after top-level value"))
	}
	if typeErr != nil {
		return nil, typeErr
	}
	return env, nil
}
