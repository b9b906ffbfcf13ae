// Package policy decides releases: who the partners and communities are
// (Registry), what the sharing agreements say (agreements as YAML files,
// ParseAgreement, ValidateAgreement) and whether a recipient may have an
// object, for a purpose, now (Engine).
//
// The package owns the release rules of DOMAIN.md and nothing else: it
// MUST NOT store, transport or log anything, and it never reads the clock;
// the caller passes the time of every decision. Every decision fails
// closed: an unknown partner, community, policy, classification, marking
// or agreement is a denial with its reason, never a default allow.
//
// The rules are implemented twice. Engine is the fast one that nodes use:
// codes interned to small integers, labels' release lists and agreements'
// parties compiled to bitsets, agreements indexed by party, ceilings and
// equivalences tabulated by policy and rank. A naive reference model, written straight from the
// rules, lives in reference_test.go; a property test checks over millions
// of random cases that the two agree and that Engine never allows what the
// reference denies.
package policy
