package pattern

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"math"
	"strconv"
	"time"
)

// Pattern is a parsed STIX pattern.
type Pattern struct {
	Expr ObservationExpr
}

// String returns the normalised pattern: single spaces between tokens,
// "=" and "!=" for "==" and "<>", quotes only where a path needs them,
// and only the parentheses the tree needs.
func (p *Pattern) String() string {
	return string(appendObservation(nil, p.Expr))
}

// Comparisons returns every comparison of the pattern, in the order they
// are written. The comparisons are the tree's own: callers MUST NOT
// modify them.
func (p *Pattern) Comparisons() []*Comparison {
	var out []*Comparison
	var obs func(ObservationExpr)
	var cmp func(ComparisonExpr)
	cmp = func(e ComparisonExpr) {
		switch e := e.(type) {
		case *Comparison:
			out = append(out, e)
		case *BooleanExpr:
			for _, o := range e.Operands {
				cmp(o)
			}
		}
	}
	obs = func(e ObservationExpr) {
		switch e := e.(type) {
		case *Observation:
			cmp(e.Expr)
		case *CompoundObservation:
			for _, o := range e.Operands {
				obs(o)
			}
		case *QualifiedObservation:
			obs(e.Expr)
		}
	}
	obs(p.Expr)
	return out
}

// ObservationExpr is an observation expression: *Observation,
// *CompoundObservation or *QualifiedObservation.
type ObservationExpr interface {
	String() string
	observation()
}

// ComparisonExpr is a comparison expression, what square brackets hold:
// *Comparison or *BooleanExpr.
type ComparisonExpr interface {
	String() string
	comparison()
}

// Combinator joins expressions. Comparison expressions are joined with
// And and Or, observation expressions with And, Or and FollowedBy. And
// binds tightest and FollowedBy loosest.
type Combinator uint8

// The combinators, from the tightest binding to the loosest.
const (
	And Combinator = iota + 1
	Or
	FollowedBy
)

// String returns the combinator as a pattern writes it: AND, OR or
// FOLLOWEDBY.
func (c Combinator) String() string {
	switch c {
	case And:
		return "AND"
	case Or:
		return "OR"
	case FollowedBy:
		return "FOLLOWEDBY"
	}
	return "Combinator(" + strconv.Itoa(int(c)) + ")"
}

// Observation is a comparison expression in square brackets: what one
// observed object must satisfy.
type Observation struct {
	Expr ComparisonExpr
}

// CompoundObservation joins two or more observation expressions with one
// combinator.
type CompoundObservation struct {
	Op       Combinator
	Operands []ObservationExpr
}

// QualifiedObservation is an observation expression followed by one or
// more qualifiers, in the order written. Parse never puts two qualifiers
// of one kind in the same list.
type QualifiedObservation struct {
	Expr       ObservationExpr
	Qualifiers []Qualifier
}

// BooleanExpr joins two or more comparison expressions with And or Or.
type BooleanExpr struct {
	Op       Combinator
	Operands []ComparisonExpr
}

// Comparison compares the property at Path with a constant, or tests that
// it exists.
type Comparison struct {
	Path Path
	// Negated is set by NOT: "file:name NOT = 'x'", "NOT EXISTS file:name".
	Negated bool
	Op      Operator
	// Value is the constant compared with: a Set for In, a String for
	// Like, Matches, IsSubset and IsSuperset, no constant (Kind 0) for
	// Exists.
	Value Constant
}

func (*Observation) observation()          {}
func (*CompoundObservation) observation()  {}
func (*QualifiedObservation) observation() {}
func (*BooleanExpr) comparison()           {}
func (*Comparison) comparison()            {}

// String returns the observation expression as a normalised pattern.
func (o *Observation) String() string { return string(appendObservation(nil, o)) }

// String returns the observation expression as a normalised pattern.
func (o *CompoundObservation) String() string { return string(appendObservation(nil, o)) }

// String returns the observation expression as a normalised pattern.
func (o *QualifiedObservation) String() string { return string(appendObservation(nil, o)) }

// String returns the comparison expression as it is written inside
// square brackets, normalised.
func (e *BooleanExpr) String() string { return string(appendComparison(nil, e)) }

// String returns the comparison as it is written inside square
// brackets, normalised.
func (c *Comparison) String() string { return string(appendComparison(nil, c)) }

// Operator is a comparison operator.
type Operator uint8

// The comparison operators.
const (
	Equal Operator = iota + 1
	NotEqual
	Less
	LessOrEqual
	Greater
	GreaterOrEqual
	In
	Like
	Matches
	IsSubset
	IsSuperset
	Exists
)

var operatorNames = [...]string{
	Equal: "=", NotEqual: "!=", Less: "<", LessOrEqual: "<=", Greater: ">", GreaterOrEqual: ">=",
	In: "IN", Like: "LIKE", Matches: "MATCHES", IsSubset: "ISSUBSET", IsSuperset: "ISSUPERSET", Exists: "EXISTS",
}

// String returns the operator as a pattern writes it.
func (o Operator) String() string {
	if int(o) < len(operatorNames) && operatorNames[o] != "" {
		return operatorNames[o]
	}
	return "Operator(" + strconv.Itoa(int(o)) + ")"
}

// Path is an object path: an object type and the steps to one of its
// properties, such as file:hashes.'SHA-256' or
// email-message:body_multipart[*].body_raw_ref.name.
type Path struct {
	ObjectType string
	// Steps holds at least one step, and the first is a KeyStep.
	Steps []Step
}

// StepKind says what a path step selects.
type StepKind uint8

// The path steps.
const (
	KeyStep      StepKind = iota // .name or .'quoted-key'
	IndexStep                    // [n]
	AnyIndexStep                 // [*]
)

// Step is one step of an object path.
type Step struct {
	Kind StepKind
	// Key is the property name or dictionary key of a KeyStep.
	Key string
	// Index is the list index of an IndexStep.
	Index int
}

// String returns the path as a pattern writes it: "file:hashes.'SHA-256'".
func (p Path) String() string {
	b := append([]byte(p.ObjectType), ':')
	return string(p.appendSteps(b))
}

// Property returns the path without its object type: "hashes.'SHA-256'",
// "value", "body_multipart[*].body_raw_ref.name". Keys that are not bare
// identifiers are quoted, as in a pattern, so the result is unambiguous.
func (p Path) Property() string {
	return string(p.appendSteps(nil))
}

func (p Path) appendSteps(b []byte) []byte {
	for i, s := range p.Steps {
		switch s.Kind {
		case KeyStep:
			if i > 0 {
				b = append(b, '.')
			}
			if bareKey(s.Key) {
				b = append(b, s.Key...)
			} else {
				b = appendQuoted(b, s.Key)
			}
		case IndexStep:
			b = append(b, '[')
			b = strconv.AppendInt(b, int64(s.Index), 10)
			b = append(b, ']')
		case AnyIndexStep:
			b = append(b, "[*]"...)
		}
	}
	return b
}

// bareKey reports whether a key can be written without quotes: an
// identifier without hyphens that is not a reserved word.
func bareKey(s string) bool {
	if s == "" || reserved(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(isLetter(c) || c == '_' || i > 0 && isDigit(c)) {
			return false
		}
	}
	return true
}

// QualifierKind says which qualifier a Qualifier is.
type QualifierKind uint8

// The qualifiers.
const (
	Within    QualifierKind = iota + 1 // WITHIN n SECONDS
	Repeats                            // REPEATS n TIMES
	StartStop                          // START t'...' STOP t'...'
)

// String returns the qualifier's keyword; StartStop is START.
func (k QualifierKind) String() string {
	switch k {
	case Within:
		return "WITHIN"
	case Repeats:
		return "REPEATS"
	case StartStop:
		return "START"
	}
	return "QualifierKind(" + strconv.Itoa(int(k)) + ")"
}

// Qualifier restricts the observations that may match the observation
// expression it follows.
type Qualifier struct {
	Kind QualifierKind
	// Seconds is the window of a Within qualifier, greater than 0.
	Seconds float64
	// Times is the count of a Repeats qualifier, greater than 0.
	Times int64
	// Start and Stop bound a StartStop qualifier, in UTC; Start is
	// before Stop.
	Start, Stop time.Time
}

// String returns the qualifier as a pattern writes it.
func (q Qualifier) String() string { return string(appendQualifier(nil, q)) }

// Kind is the type of a constant.
type Kind uint8

// The kinds of constant. A Comparison with Op Exists has no constant, and
// its Value.Kind is 0.
const (
	String    Kind = iota + 1 // 'text'
	Integer                   // 42, -7
	Float                     // 7.0, -.5
	Boolean                   // true, false
	Timestamp                 // t'2016-06-01T00:00:00Z'
	Binary                    // b'base64'
	Hex                       // h'ffd8'
	Set                       // ('a', 'b'), only after IN
)

var kindNames = [...]string{
	String: "string", Integer: "integer", Float: "float", Boolean: "boolean",
	Timestamp: "timestamp", Binary: "binary", Hex: "hex", Set: "set",
}

// String returns the kind's name: "string", "integer", ...
func (k Kind) String() string {
	if int(k) < len(kindNames) && kindNames[k] != "" {
		return kindNames[k]
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Constant is a literal value of a pattern. Only the field for its Kind
// is set.
type Constant struct {
	Kind  Kind
	Str   string    // String: the text, escapes removed
	Int   int64     // Integer
	Float float64   // Float
	Bool  bool      // Boolean
	Time  time.Time // Timestamp, in UTC
	Bytes []byte    // Binary and Hex: the decoded bytes
	Set   []Constant
}

// String returns the constant as a pattern writes it.
func (c Constant) String() string { return string(appendConstant(nil, c)) }

// Values returns the constants a comparison tests against: the elements
// of a Set, nothing for no constant, else the constant itself.
func (c Constant) Values() []Constant {
	switch c.Kind {
	case Set:
		return c.Set
	case 0:
		return nil
	}
	return []Constant{c}
}

// appendObservation prints e. Operands are parenthesised when they bind no
// tighter than the combinator joining them: a nested compound of the same
// combinator only comes from parentheses, so printing them keeps the tree.
func appendObservation(b []byte, e ObservationExpr) []byte {
	switch e := e.(type) {
	case *Observation:
		b = append(b, '[')
		b = appendComparison(b, e.Expr)
		return append(b, ']')
	case *CompoundObservation:
		for i, o := range e.Operands {
			if i > 0 {
				b = append(b, ' ')
				b = append(b, e.Op.String()...)
				b = append(b, ' ')
			}
			inner, ok := o.(*CompoundObservation)
			if ok && inner.Op >= e.Op {
				b = append(b, '(')
				b = appendObservation(b, o)
				b = append(b, ')')
			} else {
				b = appendObservation(b, o)
			}
		}
		return b
	case *QualifiedObservation:
		if _, ok := e.Expr.(*Observation); ok {
			b = appendObservation(b, e.Expr)
		} else {
			b = append(b, '(')
			b = appendObservation(b, e.Expr)
			b = append(b, ')')
		}
		for _, q := range e.Qualifiers {
			b = append(b, ' ')
			b = appendQualifier(b, q)
		}
		return b
	}
	return b
}

func appendComparison(b []byte, e ComparisonExpr) []byte {
	switch e := e.(type) {
	case *Comparison:
		if e.Op == Exists {
			if e.Negated {
				b = append(b, "NOT "...)
			}
			b = append(b, "EXISTS "...)
			b = append(b, e.Path.ObjectType...)
			b = append(b, ':')
			return e.Path.appendSteps(b)
		}
		b = append(b, e.Path.ObjectType...)
		b = append(b, ':')
		b = e.Path.appendSteps(b)
		if e.Negated {
			b = append(b, " NOT"...)
		}
		b = append(b, ' ')
		b = append(b, e.Op.String()...)
		b = append(b, ' ')
		return appendConstant(b, e.Value)
	case *BooleanExpr:
		for i, o := range e.Operands {
			if i > 0 {
				b = append(b, ' ')
				b = append(b, e.Op.String()...)
				b = append(b, ' ')
			}
			inner, ok := o.(*BooleanExpr)
			if ok && inner.Op >= e.Op {
				b = append(b, '(')
				b = appendComparison(b, o)
				b = append(b, ')')
			} else {
				b = appendComparison(b, o)
			}
		}
	}
	return b
}

func appendQualifier(b []byte, q Qualifier) []byte {
	switch q.Kind {
	case Within:
		b = append(b, "WITHIN "...)
		b = appendSeconds(b, q.Seconds)
		return append(b, " SECONDS"...)
	case Repeats:
		b = append(b, "REPEATS "...)
		b = strconv.AppendInt(b, q.Times, 10)
		return append(b, " TIMES"...)
	case StartStop:
		b = append(b, "START "...)
		b = appendTimestamp(b, q.Start)
		b = append(b, " STOP "...)
		return appendTimestamp(b, q.Stop)
	}
	return b
}

// appendSeconds writes a whole number of seconds as an integer, and
// anything else as a float with a point, so that it reads back the same.
func appendSeconds(b []byte, s float64) []byte {
	if s == math.Trunc(s) && math.Abs(s) < 1<<53 {
		return strconv.AppendInt(b, int64(s), 10)
	}
	return appendFloat(b, s)
}

// appendFloat writes f so that it reads back as a float: the language
// has no exponents, and "7" would read back as an integer.
func appendFloat(b []byte, f float64) []byte {
	n := len(b)
	b = strconv.AppendFloat(b, f, 'f', -1, 64)
	if bytes.IndexByte(b[n:], '.') < 0 {
		b = append(b, ".0"...)
	}
	return b
}

func appendTimestamp(b []byte, t time.Time) []byte {
	b = append(b, "t'"...)
	b = t.UTC().AppendFormat(b, "2006-01-02T15:04:05.999999999Z")
	return append(b, '\'')
}

func appendConstant(b []byte, c Constant) []byte {
	switch c.Kind {
	case String:
		return appendQuoted(b, c.Str)
	case Integer:
		return strconv.AppendInt(b, c.Int, 10)
	case Float:
		return appendFloat(b, c.Float)
	case Boolean:
		return strconv.AppendBool(b, c.Bool)
	case Timestamp:
		return appendTimestamp(b, c.Time)
	case Binary:
		b = append(b, "b'"...)
		b = base64.StdEncoding.AppendEncode(b, c.Bytes)
		return append(b, '\'')
	case Hex:
		b = append(b, "h'"...)
		b = hex.AppendEncode(b, c.Bytes)
		return append(b, '\'')
	case Set:
		b = append(b, '(')
		for i, e := range c.Set {
			if i > 0 {
				b = append(b, ", "...)
			}
			b = appendConstant(b, e)
		}
		return append(b, ')')
	}
	return b
}

// appendQuoted writes s as a string constant: in single quotes, with
// quotes and backslashes escaped by a backslash, the only two escapes
// the language has.
func appendQuoted(b []byte, s string) []byte {
	b = append(b, '\'')
	for i := 0; i < len(s); i++ {
		if s[i] == '\'' || s[i] == '\\' {
			b = append(b, '\\')
		}
		b = append(b, s[i])
	}
	return append(b, '\'')
}
