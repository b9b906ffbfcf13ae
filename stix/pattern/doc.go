// Package pattern parses the STIX 2.1 patterning language (STIX 2.1,
// section 9), the language of an indicator whose pattern_type is "stix".
//
// It owns the syntax and the static rules of a pattern: the grammar of the
// OASIS STIXPattern.g4, operator precedence, the forms of constants, object
// path syntax and the validity rules of qualifiers (positive WITHIN and
// REPEATS values, real UTC timestamps, START before STOP). It reads
// untrusted input: Parse MUST NOT panic, MUST refuse a pattern longer than
// MaxLength or nested deeper than MaxDepth, and reports every refusal as a
// *SyntaxError that says where, what was expected and what was found.
//
// It does not evaluate patterns against observed data, check that a
// property exists on an object type, or validate MATCHES expressions (they
// are PCRE, which Go's regexp cannot check faithfully). It MUST NOT import
// package stix, which imports it to validate indicators.
//
// # Precedence
//
// Inside square brackets AND binds tighter than OR. Between observation
// expressions AND binds tighter than OR, which binds tighter than
// FOLLOWEDBY; qualifiers (WITHIN, REPEATS, START ... STOP) bind tighter
// than all three and apply to the observation expression just before them.
// Parentheses override both. So
//
//	[a:x = 1] OR [a:x = 2] AND [a:x = 3] WITHIN 5 SECONDS
//
// is [a:x = 1] OR ([a:x = 2] AND ([a:x = 3] WITHIN 5 SECONDS)).
//
// # The tree
//
// Parse returns a *Pattern whose Expr is a tree of ObservationExpr nodes
// (*Observation, *CompoundObservation, *QualifiedObservation); each
// *Observation holds a tree of ComparisonExpr nodes (*Comparison,
// *BooleanExpr). Chains of one operator written without parentheses
// become one node with several operands; parentheses that change nothing
// leave no trace. String prints the tree back as a normalised pattern,
// with only the parentheses the tree needs, which parses to an equal tree.
//
// # Observables
//
// Pattern.Comparisons lists every comparison, left to right, which is what
// correlation needs: for each, Path.ObjectType ("ipv4-addr"),
// Path.Property() ("value", "hashes.'SHA-256'"), Op, Negated and Value.
// A positive equality on a string (Op == Equal, !Negated,
// Value.Kind == String) names an observable directly; see the example of
// Pattern.Comparisons.
package pattern
