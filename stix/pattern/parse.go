package pattern

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Parse parses a STIX 2.1 pattern and checks the rules the specification
// sets beyond its grammar. Every error it returns is a *SyntaxError.
//
// Keywords are upper case and booleans lower case, as in the grammar.
// Comments (/* */ and //) are skipped. "==" and "<>" are read as "=" and
// "!=".
func Parse(s string) (*Pattern, error) {
	if len(s) > MaxLength {
		e := newError(s, MaxLength, fmt.Sprintf("the pattern is %d bytes; the limit is %d", len(s), MaxLength))
		e.Err = ErrTooLong
		return nil, e
	}
	if !utf8.ValidString(s) {
		i := 0
		for i < len(s) {
			r, n := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && n == 1 {
				break
			}
			i += n
		}
		return nil, newError(s, i, "the pattern is not valid UTF-8")
	}
	p := &parser{lex: lexer{src: s}}
	if err := p.advance(); err != nil {
		return nil, err
	}
	if p.tok.kind == tEOF {
		return nil, p.errorf(p.tok.pos, "the pattern is empty; expected an observation expression such as [ipv4-addr:value = '198.51.100.1']")
	}
	e, err := p.observations(0)
	if err != nil {
		return nil, err
	}
	if p.tok.kind != tEOF {
		return nil, p.unexpected("AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or end of pattern")
	}
	return &Pattern{Expr: e}, nil
}

// parser is a recursive-descent parser with one token of lookahead. Each
// level of parentheses or brackets costs a bounded number of stack
// frames, and depth counts the levels, so MaxDepth bounds the stack.
type parser struct {
	lex   lexer
	tok   token
	depth int
}

func (p *parser) advance() error {
	t, err := p.lex.next()
	if err != nil {
		return err
	}
	p.tok = t
	return nil
}

func (p *parser) keyword(k string) bool { return p.tok.kind == tIdent && p.tok.text == k }

func (p *parser) errorf(off int, format string, args ...any) *SyntaxError {
	return newError(p.lex.src, off, fmt.Sprintf(format, args...))
}

// unexpected reports that the current token is not what was wanted.
func (p *parser) unexpected(want string) *SyntaxError {
	return p.errorf(p.tok.pos, "expected %s, found %s", want, describe(p.tok))
}

// describe names a token in an error message.
func describe(t token) string {
	switch t.kind {
	case tEOF:
		return "end of pattern"
	case tIdent:
		if keywords[t.text] {
			return t.text
		}
		s := strconv.Quote(clip(t.text))
		if up := strings.ToUpper(t.text); up != t.text && keywords[up] {
			s += " (keywords are upper case: " + up + ")"
		} else if low := strings.ToLower(t.text); low != t.text && (low == "true" || low == "false") {
			s += " (booleans are lower case: " + low + ")"
		}
		return s
	case tString:
		return "string " + clip(t.text)
	case tInt, tFloat:
		return "number " + clip(t.text)
	case tTimestamp:
		return "timestamp " + t.text
	case tBinary:
		return "binary constant " + clip(t.text)
	case tHex:
		return "hex constant " + clip(t.text)
	case tInvalid:
		return "character " + strconv.Quote(t.text)
	}
	return strconv.Quote(t.text)
}

// enter counts one more level of nesting, opened at offset open.
func (p *parser) enter(open int) error {
	p.depth++
	if p.depth > MaxDepth {
		e := p.errorf(open, "parentheses and brackets nest more than %d deep", MaxDepth)
		e.Err = ErrTooDeep
		return e
	}
	return nil
}

// observationLevels lists the observation combinators from the loosest
// binding to the tightest.
var observationLevels = [...]Combinator{FollowedBy, Or, And}

// observations parses observation expressions joined by the combinator
// of level and tighter ones. A chain of one combinator becomes one node.
func (p *parser) observations(level int) (ObservationExpr, error) {
	if level == len(observationLevels) {
		return p.qualified()
	}
	op := observationLevels[level]
	first, err := p.observations(level + 1)
	if err != nil || !p.keyword(op.String()) {
		return first, err
	}
	operands := []ObservationExpr{first}
	for p.keyword(op.String()) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.observations(level + 1)
		if err != nil {
			return nil, err
		}
		operands = append(operands, e)
	}
	return &CompoundObservation{Op: op, Operands: operands}, nil
}

// qualified parses an observation expression and the qualifiers after it.
func (p *parser) qualified() (ObservationExpr, error) {
	e, err := p.primaryObservation()
	if err != nil {
		return nil, err
	}
	var quals []Qualifier
	for {
		var kind QualifierKind
		switch {
		case p.keyword("WITHIN"):
			kind = Within
		case p.keyword("REPEATS"):
			kind = Repeats
		case p.keyword("START"):
			kind = StartStop
		default:
			if quals == nil {
				return e, nil
			}
			return &QualifiedObservation{Expr: e, Qualifiers: quals}, nil
		}
		// The OASIS validator refuses two qualifiers of one kind on the
		// same expression: "WITHIN 5 SECONDS WITHIN 6 SECONDS" says two
		// different things at once.
		for _, q := range quals {
			if q.Kind == kind {
				return nil, p.errorf(p.tok.pos, "a second %s qualifier on the same observation expression; "+
					"keep one, or put the qualified expression in parentheses to qualify it again", kind)
			}
		}
		q, err := p.qualifier(kind)
		if err != nil {
			return nil, err
		}
		quals = append(quals, q)
	}
}

// qualifier parses one qualifier; the current token is its keyword.
func (p *parser) qualifier(kind QualifierKind) (Qualifier, error) {
	if err := p.advance(); err != nil {
		return Qualifier{}, err
	}
	t := p.tok
	q := Qualifier{Kind: kind}
	switch kind {
	case Within:
		if t.kind != tInt && t.kind != tFloat {
			return q, p.unexpected("a number of seconds after WITHIN")
		}
		s, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return q, p.errorf(t.pos, "WITHIN %s is out of range", clip(t.text))
		}
		if s <= 0 {
			return q, p.errorf(t.pos, "WITHIN needs a number of seconds greater than 0, found %s", t.text)
		}
		q.Seconds = s
		if err := p.advance(); err != nil {
			return q, err
		}
		if !p.keyword("SECONDS") {
			return q, p.unexpected("SECONDS after WITHIN " + clip(t.text))
		}
	case Repeats:
		if t.kind == tFloat {
			return q, p.errorf(t.pos, "REPEATS needs a whole number of times greater than 0, found %s", clip(t.text))
		}
		if t.kind != tInt {
			return q, p.unexpected("a number of times after REPEATS")
		}
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return q, p.errorf(t.pos, "REPEATS %s does not fit in 64 bits", clip(t.text))
		}
		if n <= 0 {
			return q, p.errorf(t.pos, "REPEATS needs a whole number of times greater than 0, found %s", t.text)
		}
		q.Times = n
		if err := p.advance(); err != nil {
			return q, err
		}
		if !p.keyword("TIMES") {
			return q, p.unexpected("TIMES after REPEATS " + t.text)
		}
	case StartStop:
		if t.kind != tTimestamp {
			return q, p.timestampWanted("START")
		}
		if err := p.advance(); err != nil {
			return q, err
		}
		if !p.keyword("STOP") {
			return q, p.unexpected("STOP after START " + t.text)
		}
		if err := p.advance(); err != nil {
			return q, err
		}
		stop := p.tok
		if stop.kind != tTimestamp {
			return q, p.timestampWanted("STOP")
		}
		if !stop.time.After(t.time) {
			return q, p.errorf(stop.pos, "STOP %s must be later than START %s", stop.text, t.text)
		}
		q.Start, q.Stop = t.time, stop.time
	}
	return q, p.advance()
}

func (p *parser) timestampWanted(after string) *SyntaxError {
	e := p.unexpected("a timestamp t'...' after " + after)
	if p.tok.kind == tString {
		e.Msg += "; timestamps are written t'YYYY-MM-DDTHH:MM:SSZ'"
	}
	return e
}

// primaryObservation parses [comparisons] or (observations).
func (p *parser) primaryObservation() (ObservationExpr, error) {
	open := p.tok.pos
	switch p.tok.kind {
	case tLBrack:
		if err := p.enter(open); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.comparisons(0)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRBrack {
			return nil, p.unexpected(fmt.Sprintf(`"]" to close the observation expression started at offset %d`, open))
		}
		p.depth--
		return &Observation{Expr: c}, p.advance()
	case tLParen:
		if err := p.enter(open); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.observations(0)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.unexpected(fmt.Sprintf(`")" to close the parenthesis opened at offset %d`, open))
		}
		p.depth--
		return e, p.advance()
	}
	e := p.unexpected(`"[" or "(" to start an observation expression`)
	if p.tok.kind == tIdent && !reserved(p.tok.text) {
		e.Msg += "; comparisons go inside square brackets, as in [file:name = 'a.exe']"
	}
	return nil, e
}

// comparisonLevels lists the boolean combinators from the loosest binding
// to the tightest.
var comparisonLevels = [...]Combinator{Or, And}

func (p *parser) comparisons(level int) (ComparisonExpr, error) {
	if level == len(comparisonLevels) {
		return p.primaryComparison()
	}
	op := comparisonLevels[level]
	first, err := p.comparisons(level + 1)
	if err != nil || !p.keyword(op.String()) {
		return first, err
	}
	operands := []ComparisonExpr{first}
	for p.keyword(op.String()) {
		if err := p.advance(); err != nil {
			return nil, err
		}
		e, err := p.comparisons(level + 1)
		if err != nil {
			return nil, err
		}
		operands = append(operands, e)
	}
	return &BooleanExpr{Op: op, Operands: operands}, nil
}

// primaryComparison parses (comparisons), [NOT] EXISTS path, or
// path [NOT] operator constant.
func (p *parser) primaryComparison() (ComparisonExpr, error) {
	switch {
	case p.tok.kind == tLParen:
		open := p.tok.pos
		if err := p.enter(open); err != nil {
			return nil, err
		}
		if err := p.advance(); err != nil {
			return nil, err
		}
		c, err := p.comparisons(0)
		if err != nil {
			return nil, err
		}
		if p.tok.kind != tRParen {
			return nil, p.unexpected(fmt.Sprintf(`")" to close the parenthesis opened at offset %d`, open))
		}
		p.depth--
		return c, p.advance()
	case p.keyword("NOT"), p.keyword("EXISTS"):
		negated := p.keyword("NOT")
		if err := p.advance(); err != nil {
			return nil, err
		}
		if negated {
			if !p.keyword("EXISTS") {
				return nil, p.unexpected("EXISTS after a leading NOT (to negate a comparison, write NOT after the object path: file:name NOT = 'a.exe')")
			}
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		return &Comparison{Path: path, Negated: negated, Op: Exists}, nil
	case p.tok.kind == tIdent && !reserved(p.tok.text):
		path, err := p.path()
		if err != nil {
			return nil, err
		}
		c := &Comparison{Path: path}
		if p.keyword("NOT") {
			c.Negated = true
			if err := p.advance(); err != nil {
				return nil, err
			}
		}
		op, ok := operatorOf(p.tok)
		if !ok {
			after := path.String()
			if c.Negated {
				after = "NOT"
			}
			return nil, p.unexpected("a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after " + clip(after))
		}
		c.Op = op
		opText := p.tok.text
		if err := p.advance(); err != nil {
			return nil, err
		}
		c.Value, err = p.operand(op, opText)
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	return nil, p.unexpected(`an object path such as file:name, EXISTS or "("`)
}

func operatorOf(t token) (Operator, bool) {
	switch t.kind {
	case tEq:
		return Equal, true
	case tNeq:
		return NotEqual, true
	case tLt:
		return Less, true
	case tLe:
		return LessOrEqual, true
	case tGt:
		return Greater, true
	case tGe:
		return GreaterOrEqual, true
	case tIdent:
		switch t.text {
		case "IN":
			return In, true
		case "LIKE":
			return Like, true
		case "MATCHES":
			return Matches, true
		case "ISSUBSET":
			return IsSubset, true
		case "ISSUPERSET":
			return IsSuperset, true
		}
	}
	return 0, false
}

// operand parses what op compares with: a set for IN, a string for the
// string operators, a constant that is not a boolean for the orderings.
func (p *parser) operand(op Operator, opText string) (Constant, error) {
	switch op {
	case In:
		return p.set()
	case Like, Matches, IsSubset, IsSuperset:
		if p.tok.kind != tString {
			return Constant{}, p.unexpected(fmt.Sprintf("a string constant ('...') after %s", op))
		}
		c := Constant{Kind: String, Str: p.tok.str}
		return c, p.advance()
	}
	return p.constant("after "+strconv.Quote(opText), op == Equal || op == NotEqual, false)
}

// set parses (constant, ...) or ().
func (p *parser) set() (Constant, error) {
	if p.tok.kind != tLParen {
		return Constant{}, p.unexpected("a set of constants after IN, such as ('a.exe', 'b.exe')")
	}
	open := p.tok.pos
	if err := p.advance(); err != nil {
		return Constant{}, err
	}
	c := Constant{Kind: Set}
	if p.tok.kind == tRParen {
		return c, p.advance()
	}
	for {
		e, err := p.constant("in a set", true, true)
		if err != nil {
			return Constant{}, err
		}
		c.Set = append(c.Set, e)
		switch p.tok.kind {
		case tComma:
			if err := p.advance(); err != nil {
				return Constant{}, err
			}
		case tRParen:
			return c, p.advance()
		default:
			return Constant{}, p.unexpected(fmt.Sprintf(`"," or ")" to close the set opened at offset %d`, open))
		}
	}
}

// constant parses one constant; where says where it stands, for errors.
func (p *parser) constant(where string, boolOK, inSet bool) (Constant, error) {
	t := p.tok
	var c Constant
	switch t.kind {
	case tString:
		c = Constant{Kind: String, Str: t.str}
	case tInt:
		n, err := strconv.ParseInt(t.text, 10, 64)
		if err != nil {
			return c, p.errorf(t.pos, "integer %s does not fit in 64 bits", clip(t.text))
		}
		c = Constant{Kind: Integer, Int: n}
	case tFloat:
		f, err := strconv.ParseFloat(t.text, 64)
		if err != nil {
			return c, p.errorf(t.pos, "float %s is out of range", clip(t.text))
		}
		c = Constant{Kind: Float, Float: f}
	case tTimestamp:
		c = Constant{Kind: Timestamp, Time: t.time}
	case tBinary:
		c = Constant{Kind: Binary, Bytes: t.b}
	case tHex:
		c = Constant{Kind: Hex, Bytes: t.b}
	case tIdent:
		if t.text != "true" && t.text != "false" {
			e := p.unexpected("a constant " + where)
			if low := strings.ToLower(t.text); !keywords[t.text] && low != "true" && low != "false" {
				e.Msg += "; strings are written in single quotes: '" + clip(t.text) + "'"
			}
			return c, e
		}
		if !boolOK {
			return c, p.errorf(t.pos, "%s cannot be ordered: booleans only go with = and !=", t.text)
		}
		c = Constant{Kind: Boolean, Bool: t.text == "true"}
	case tLParen:
		if inSet {
			return c, p.errorf(t.pos, "sets cannot be nested")
		}
		return c, p.errorf(t.pos, "a set of constants only goes after IN")
	default:
		e := p.unexpected("a constant " + where)
		if t.text == `"` {
			e.Msg += "; strings are written in single quotes"
		}
		return c, e
	}
	return c, p.advance()
}

// path parses an object path; the current token is the object type.
func (p *parser) path() (Path, error) {
	t := p.tok
	if t.kind != tIdent || reserved(t.text) {
		return Path{}, p.unexpected("an object path such as file:name")
	}
	if !validTypeName(t.text) {
		return Path{}, p.errorf(t.pos, "object type %q is not a STIX type name: 3 to 250 characters of a-z, 0-9 and single hyphens, "+
			"not starting or ending with a hyphen", clip(t.text))
	}
	path := Path{ObjectType: t.text}
	if err := p.advance(); err != nil {
		return path, err
	}
	if p.tok.kind != tColon {
		return path, p.unexpected(fmt.Sprintf(`":" after the object type %q`, t.text))
	}
	if err := p.advance(); err != nil {
		return path, err
	}
	key, err := p.key(`a property name after "` + t.text + `:"`)
	if err != nil {
		return path, err
	}
	path.Steps = append(path.Steps, Step{Kind: KeyStep, Key: key})
	for {
		switch p.tok.kind {
		case tDot:
			if err := p.advance(); err != nil {
				return path, err
			}
			key, err := p.key(`a property name or quoted key after "."`)
			if err != nil {
				return path, err
			}
			path.Steps = append(path.Steps, Step{Kind: KeyStep, Key: key})
		case tLBrack:
			if err := p.advance(); err != nil {
				return path, err
			}
			switch p.tok.kind {
			case tStar:
				path.Steps = append(path.Steps, Step{Kind: AnyIndexStep})
			case tInt:
				n, err := strconv.ParseInt(p.tok.text, 10, strconv.IntSize)
				if err != nil {
					return path, p.errorf(p.tok.pos, "list index %s is out of range", clip(p.tok.text))
				}
				path.Steps = append(path.Steps, Step{Kind: IndexStep, Index: int(n)})
			default:
				return path, p.unexpected(`a list index (a whole number or *) after "["`)
			}
			if err := p.advance(); err != nil {
				return path, err
			}
			if p.tok.kind != tRBrack {
				return path, p.unexpected(`"]" to close the list index`)
			}
			if err := p.advance(); err != nil {
				return path, err
			}
		default:
			return path, nil
		}
	}
}

// maxKey is the longest property name or dictionary key STIX allows.
const maxKey = 250

// key parses a property name or a quoted key. Unquoted, it is an
// identifier without hyphens that is not a keyword, as in the grammar;
// quoted, it is what STIX allows a property name or dictionary key to be.
func (p *parser) key(want string) (string, error) {
	t := p.tok
	var key string
	switch t.kind {
	case tIdent:
		key = t.text
		switch {
		case reserved(key):
			return "", p.errorf(t.pos, "%s is a keyword; write it in quotes to use it as a property name: '%s'", key, key)
		case strings.IndexByte(key, '-') >= 0:
			return "", p.errorf(t.pos, "property name %q contains \"-\"; write it in quotes: '%s'", clip(key), clip(key))
		case len(key) > maxKey:
			return "", p.errorf(t.pos, "property name %q is longer than %d characters", clip(key), maxKey)
		}
	case tString:
		key = t.str
		if !validQuotedKey(key) {
			return "", p.errorf(t.pos, "quoted key %s must be 1 to %d characters of a-z, A-Z, 0-9, _ and -", clip(t.text), maxKey)
		}
	default:
		return "", p.unexpected(want)
	}
	return key, p.advance()
}

// validTypeName reports whether s is a STIX type name: 3 to 250
// characters of a-z, 0-9 and hyphens, no hyphen first, last or doubled.
func validTypeName(s string) bool {
	if len(s) < 3 || len(s) > 250 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', isDigit(c):
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

// validQuotedKey reports whether s may be a STIX property name or
// dictionary key: 1 to 250 characters of a-z, A-Z, 0-9, _ and -.
func validQuotedKey(s string) bool {
	if len(s) < 1 || len(s) > maxKey {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || isDigit(c) || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
