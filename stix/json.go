package stix

import (
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"

	"github.com/tearline/tearline/internal/jsonscan"
)

// Kind is the JSON type of a Value.
type Kind uint8

// The JSON types.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

func (k Kind) String() string {
	switch k {
	case Null:
		return "null"
	case Bool:
		return "boolean"
	case Number:
		return "number"
	case String:
		return "string"
	case Array:
		return "array"
	case Object:
		return "object"
	}
	return "invalid"
}

// Value is a parsed JSON value. Objects keep their members in the order they
// were read; numbers keep their literal text, so nothing is lost between what
// a partner sent and what the node stores and serves back.
type Value struct {
	Kind Kind
	// Str is the decoded string for String and the literal for Number.
	Str  string
	Bool bool
	Arr  []Value
	Obj  []Member
}

// Member is one name/value pair of a JSON object.
type Member struct {
	Key   string
	Value Value
}

// Get returns the member named key of an object value.
func (v *Value) Get(key string) (*Value, bool) {
	if v.Kind != Object {
		return nil, false
	}
	for i := range v.Obj {
		if v.Obj[i].Key == key {
			return &v.Obj[i].Value, true
		}
	}
	return nil, false
}

// Limits applied to untrusted JSON. They protect the node from resource
// exhaustion; a document over a limit is rejected, never truncated.
const (
	MaxDepth = 64
)

// SyntaxError reports malformed JSON with the byte offset where it was found.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// ParseJSON parses one JSON document strictly (RFC 8259 and the I-JSON
// profile of RFC 7493 that RFC 8785 canonicalisation needs): valid UTF-8, no
// duplicate member names, no lone surrogates, numbers within float64 range,
// nothing but whitespace after the value.
//
// The strings of the returned Value may share memory with data: data MUST
// NOT be modified while the Value is in use.
func ParseJSON(data []byte) (Value, error) {
	v, _, err := parseJSON(data)
	return v, err
}

// parseJSON is ParseJSON that also reports whether the text held any
// whitespace outside strings.
func parseJSON(data []byte) (Value, bool, error) {
	sc := scratchPool.Get().(*scratch)
	p := parser{data: data, members: sc.members[:0], elems: sc.elems[:0]}
	defer func() {
		// What a failed parse left on the stacks is cleared too: a
		// pooled stack keeps no value alive.
		clear(p.members)
		clear(p.elems)
		// The stacks of an unusually large document are let go.
		if cap(p.members) <= maxScratch && cap(p.elems) <= maxScratch {
			sc.members, sc.elems = p.members[:0], p.elems[:0]
			scratchPool.Put(sc)
		}
	}()
	p.skipSpace()
	v, err := p.value(0)
	if err != nil {
		return Value{}, false, err
	}
	p.skipSpace()
	if p.pos != len(p.data) {
		return Value{}, false, p.errorf("unexpected %q after the JSON value", p.data[p.pos])
	}
	return v, p.spaced, nil
}

type parser struct {
	data   []byte
	pos    int
	spaced bool // whitespace was skipped somewhere

	// members and elems are stacks of the members and elements of the
	// objects and arrays being read: each is copied out once complete,
	// into a slice of its exact length, instead of growing one of its own.
	members []Member
	elems   []Value
}

// scratch are a parser's stacks, kept from one parse to the next.
type scratch struct {
	members []Member
	elems   []Value
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxScratch is the most members, or elements, a pooled stack keeps room
// for.
const maxScratch = 4096

func (p *parser) errorf(format string, args ...any) error {
	return &SyntaxError{Offset: p.pos, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) skipSpace() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
			p.spaced = true
		default:
			return
		}
	}
}

func (p *parser) value(depth int) (Value, error) {
	if p.pos >= len(p.data) {
		return Value{}, p.errorf("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{':
		if depth >= MaxDepth {
			return Value{}, p.errorf("nesting deeper than %d levels", MaxDepth)
		}
		return p.object(depth)
	case c == '[':
		if depth >= MaxDepth {
			return Value{}, p.errorf("nesting deeper than %d levels", MaxDepth)
		}
		return p.array(depth)
	case c == '"':
		s, err := p.string()
		return Value{Kind: String, Str: s}, err
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true", Value{Kind: Bool, Bool: true})
	case c == 'f':
		return p.literal("false", Value{Kind: Bool})
	case c == 'n':
		return p.literal("null", Value{Kind: Null})
	default:
		return Value{}, p.errorf("unexpected %q where a value was expected", c)
	}
}

func (p *parser) literal(word string, v Value) (Value, error) {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return Value{}, p.errorf("invalid literal, expected %s", word)
	}
	p.pos += len(word)
	return v, nil
}

func (p *parser) object(depth int) (Value, error) {
	p.pos++ // {
	v := Value{Kind: Object}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		v.Obj = []Member{}
		return v, nil
	}
	base := len(p.members)
	for {
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return Value{}, p.errorf("expected a member name in double quotes")
		}
		keyAt := p.pos
		key, err := p.string()
		if err != nil {
			return Value{}, err
		}
		for i := range p.members[base:] {
			if p.members[base+i].Key == key {
				return Value{}, &SyntaxError{Offset: keyAt, Msg: fmt.Sprintf("duplicate member name %q", key)}
			}
		}
		p.skipSpace()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return Value{}, p.errorf("expected ':' after member name %q", key)
		}
		p.pos++
		p.skipSpace()
		mv, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		p.members = append(p.members, Member{Key: key, Value: mv})
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("unexpected end of input in object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			v.Obj = slices.Clone(p.members[base:])
			clear(p.members[base:])
			p.members = p.members[:base]
			return v, nil
		default:
			return Value{}, p.errorf("expected ',' or '}' in object, found %q", p.data[p.pos])
		}
	}
}

func (p *parser) array(depth int) (Value, error) {
	p.pos++ // [
	v := Value{Kind: Array}
	p.skipSpace()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		v.Arr = []Value{}
		return v, nil
	}
	base := len(p.elems)
	for {
		p.skipSpace()
		ev, err := p.value(depth + 1)
		if err != nil {
			return Value{}, err
		}
		p.elems = append(p.elems, ev)
		p.skipSpace()
		if p.pos >= len(p.data) {
			return Value{}, p.errorf("unexpected end of input in array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			v.Arr = slices.Clone(p.elems[base:])
			clear(p.elems[base:])
			p.elems = p.elems[:base]
			return v, nil
		default:
			return Value{}, p.errorf("expected ',' or ']' in array, found %q", p.data[p.pos])
		}
	}
}

// string parses a JSON string starting at the opening quote.
func (p *parser) string() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	// Fast path: no escapes, ASCII or valid UTF-8 checked at the end.
	ascii := true
	for p.pos < len(p.data) {
		// Eight bytes at a time while none ends the string, starts an
		// escape or is a control character.
		for p.pos+8 <= len(p.data) {
			w := binary.LittleEndian.Uint64(p.data[p.pos:])
			if !jsonscan.PlainWord(w) {
				break
			}
			ascii = ascii && w&0x8080808080808080 == 0
			p.pos += 8
		}
		if p.pos >= len(p.data) {
			break
		}
		c := p.data[p.pos]
		if c == '"' {
			s := p.data[start:p.pos]
			if !ascii && !utf8.Valid(s) {
				return "", &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			p.pos++
			if len(s) == 0 {
				return "", nil
			}
			// No escapes: the string is the input's bytes, shared rather
			// than copied (see ParseJSON).
			return unsafe.String(&s[0], len(s)), nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", p.errorf("control character 0x%02x in string (escape it)", c)
		}
		if c >= 0x80 {
			ascii = false
		}
		p.pos++
	}
	if p.pos >= len(p.data) {
		return "", p.errorf("unterminated string")
	}
	// Slow path with escapes.
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return "", &SyntaxError{Offset: start, Msg: "string is not valid UTF-8"}
			}
			p.pos++
			return string(buf), nil
		case c < 0x20:
			return "", p.errorf("control character 0x%02x in string (escape it)", c)
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		// Escape sequence.
		if p.pos+1 >= len(p.data) {
			return "", p.errorf("unterminated escape sequence")
		}
		e := p.data[p.pos+1]
		p.pos += 2
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, err := p.hex4()
			if err != nil {
				return "", err
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || p.pos+6 > len(p.data) || p.data[p.pos] != '\\' || p.data[p.pos+1] != 'u' {
					return "", p.errorf("lone surrogate \\u%04X in string", r)
				}
				p.pos += 2
				r2, err := p.hex4()
				if err != nil {
					return "", err
				}
				dec := utf16.DecodeRune(r, r2)
				if dec == utf8.RuneError {
					return "", p.errorf("invalid surrogate pair \\u%04X\\u%04X in string", r, r2)
				}
				r = dec
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.errorf("invalid escape sequence \\%c", e)
		}
	}
	return "", p.errorf("unterminated string")
}

func (p *parser) hex4() (rune, error) {
	if p.pos+4 > len(p.data) {
		return 0, p.errorf("truncated \\u escape")
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, p.errorf("invalid hex digit %q in \\u escape", c)
		}
	}
	p.pos += 4
	return r, nil
}

func (p *parser) number() (Value, error) {
	start := p.pos
	d := p.data
	if p.pos < len(d) && d[p.pos] == '-' {
		p.pos++
	}
	if p.pos >= len(d) {
		return Value{}, p.errorf("truncated number")
	}
	switch {
	case d[p.pos] == '0':
		p.pos++
	case d[p.pos] >= '1' && d[p.pos] <= '9':
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
	default:
		return Value{}, p.errorf("invalid number")
	}
	simple := true
	if p.pos < len(d) && d[p.pos] == '.' {
		simple = false
		p.pos++
		n := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return Value{}, p.errorf("invalid number: digit expected after '.'")
		}
	}
	if p.pos < len(d) && (d[p.pos] == 'e' || d[p.pos] == 'E') {
		simple = false
		p.pos++
		if p.pos < len(d) && (d[p.pos] == '+' || d[p.pos] == '-') {
			p.pos++
		}
		n := p.pos
		for p.pos < len(d) && d[p.pos] >= '0' && d[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == n {
			return Value{}, p.errorf("invalid number: digit expected in exponent")
		}
	}
	lit := string(d[start:p.pos])
	if !simple || len(lit) > 15 {
		f, err := strconv.ParseFloat(lit, 64)
		if err != nil {
			return Value{}, &SyntaxError{Offset: start, Msg: fmt.Sprintf("number %s is outside the range of an IEEE 754 double", lit)}
		}
		_ = f
	}
	return Value{Kind: Number, Str: lit}, nil
}

// Compact appends to dst the JSON text src with insignificant whitespace
// removed. src MUST be valid JSON (as accepted by ParseJSON); escapes inside
// strings are kept as written.
func Compact(dst, src []byte) []byte {
	inString := false
	start := 0
	for i := 0; i < len(src); i++ {
		c := src[i]
		if inString {
			switch c {
			case '\\':
				i++
			case '"':
				inString = false
			}
			continue
		}
		switch c {
		case '"':
			inString = true
		case ' ', '\t', '\n', '\r':
			dst = append(dst, src[start:i]...)
			start = i + 1
		}
	}
	return append(dst, src[start:]...)
}
