package analytics

import (
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
	"github.com/tearline/tearline/stix/pattern"
)

// patternOperators maps the parser's operators to the spelling a
// Comparison carries. EXISTS names no value and has no Operator constant
// of its own: positive() refuses it like any other shape test.
var patternOperators = map[pattern.Operator]Operator{
	pattern.Equal: OpEqual, pattern.NotEqual: OpNotEqual,
	pattern.Less: OpLess, pattern.LessOrEqual: OpLessEqual,
	pattern.Greater: OpGreater, pattern.GreaterOrEqual: OpGreaterEqual,
	pattern.In: OpIn, pattern.Like: OpLike, pattern.Matches: OpMatches,
	pattern.IsSubset: OpIsSubset, pattern.IsSuperset: OpIsSuperset,
	pattern.Exists: Operator("EXISTS"),
}

// ComparisonsOf returns the comparisons of a parsed STIX pattern in the
// form FromComparisons reads, in the order they are written: path steps
// unquoted (a list index as its decimal text or "*"), the constant or the
// members of an IN set as text. Strings are given as written (escapes
// removed); integers and floats in decimal; booleans as true or false;
// timestamps in RFC 3339; binary and hex constants as lower-case
// hexadecimal, so that a hash written as h'...' or b'...' names the same
// hash as its string form.
func ComparisonsOf(p *pattern.Pattern) []Comparison {
	if p == nil {
		return nil
	}
	cs := p.Comparisons()
	out := make([]Comparison, 0, len(cs))
	for _, c := range cs {
		steps := make([]string, len(c.Path.Steps))
		for i, s := range c.Path.Steps {
			switch s.Kind {
			case pattern.KeyStep:
				steps[i] = s.Key
			case pattern.IndexStep:
				steps[i] = strconv.Itoa(s.Index)
			default:
				steps[i] = "*"
			}
		}
		op, ok := patternOperators[c.Op]
		if !ok {
			op = Operator(c.Op.String())
		}
		var values []string
		for _, v := range c.Value.Values() {
			values = append(values, constantText(v))
		}
		out = append(out, Comparison{ObjectType: c.Path.ObjectType, Path: steps, Operator: op, Negated: c.Negated, Values: values})
	}
	return out
}

func constantText(c pattern.Constant) string {
	switch c.Kind {
	case pattern.String:
		return c.Str
	case pattern.Integer:
		return strconv.FormatInt(c.Int, 10)
	case pattern.Float:
		return strconv.FormatFloat(c.Float, 'g', -1, 64)
	case pattern.Boolean:
		return strconv.FormatBool(c.Bool)
	case pattern.Timestamp:
		return stix.FormatTimestamp(c.Time)
	case pattern.Binary, pattern.Hex:
		return hex.EncodeToString(c.Bytes)
	}
	return c.String()
}

// FromPattern parses a STIX 2.1 pattern and returns the observables it
// names (see FromComparisons). A pattern that does not parse is an error
// wrapping the parser's *pattern.SyntaxError, which says where; values
// that cannot be read are reported as by FromComparisons, with the
// observables that could be read still returned.
func FromPattern(s string) ([]Observable, error) {
	p, err := pattern.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("analytics: %w: %w", err, tearline.ErrInvalid)
	}
	return FromComparisons(ComparisonsOf(p))
}
