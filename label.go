package tearline

import (
	"slices"
	"time"
)

// Label is the confidentiality and handling metadata of a piece of
// information, in the model of NATO STANAG 4774 (a policy, a classification
// and categories) extended with the dissemination controls, handling codes
// and sharing protocols that partners use (ISM/CAPCO, TLP 2.0, IEP 2.0, PAP,
// Europol SIENA handling codes, US AIS ACS 3.0) and with provenance and
// source grading.
//
// The zero Label is not "unclassified, share freely": an object without a
// label has an unknown policy, and releasing it is denied.
type Label struct {
	// Policy names the classification scheme: "NATO", "EU", "USA", "GBR",
	// ... (see the label package's schemes), or a custom scheme declared in
	// the config. Empty means no classification policy is known.
	Policy string
	// Classification is a level of Policy, by its canonical name in that
	// scheme ("SECRET", "NATO RESTRICTED", "OFFICIAL-SENSITIVE").
	Classification string

	// Categories are STANAG 4774 categories: REL TO is the permissive
	// category CategoryRelTo.
	Categories []Category

	// Dissemination controls (ISM / CAPCO).
	NoForn      bool
	ORCON       bool
	RelIDO      bool
	DisplayOnly []string // DISPLAY ONLY to these codes; a copy is never kept
	EyesOnly    []string
	FOUO        bool

	// Handling codes (Europol SIENA): H0 to H3; H3Text is the free text of
	// the other restrictions, which needs a person to read.
	Handling []HandlingCode
	H3Text   string

	TLP TLP
	PAP TLP // PAP uses the TLP colours: CLEAR, GREEN, AMBER, RED
	IEP *IEP

	// Purposes the information may be used for; empty means the label sets
	// no purpose restriction.
	Purposes []string
	// PersonalData marks information about identified or identifiable
	// people; Regime names the legal regime it was collected under.
	PersonalData bool
	Regime       string

	// RetainUntil: the information must be deleted after this time.
	RetainUntil time.Time
	// Expires: the label and the information are no longer valid after it.
	Expires time.Time
	// ReviewBy: the label must be reviewed by this time.
	ReviewBy time.Time
	// Successor is the id of the label (marking) that supersedes this one.
	Successor string

	// Originators are the partners whose information this is; a derived
	// product lists every originator of what it was derived from.
	Originators []string

	// Source grading (Admiralty / NATO AJP-2.1): Reliability 'A'..'F',
	// Credibility 1..6; zero when not graded.
	Reliability byte
	Credibility int

	// Exercise names the exercise this material belongs to; such material is
	// never released outside it.
	Exercise string
}

// CategoryType is how a category takes part in access decisions.
type CategoryType uint8

const (
	// Restrictive: the recipient must hold every value.
	Restrictive CategoryType = iota + 1
	// Permissive: the recipient must hold at least one value.
	Permissive
	// Informative: never used for access decisions.
	Informative
)

// CategoryRelTo is the name of the permissive category that REL TO lists
// are carried in.
const CategoryRelTo = "Releasable To"

// Category is a named STANAG 4774 category with its values.
type Category struct {
	Type   CategoryType
	Name   string
	Values []string
	// Narrowing marks a permissive category that restricts rather than
	// widens ("NATO Only"); when rolled up, a part without it counts as
	// holding every value.
	Narrowing bool
}

// HandlingCode is a Europol SIENA handling code.
type HandlingCode uint8

const (
	H0 HandlingCode = iota + 1 // only for preventing and combating crime
	H1                         // not in judicial proceedings without the provider's permission
	H2                         // not to be disseminated without the provider's permission
	H3                         // other restrictions, in free text
)

// TLP is a Traffic Light Protocol 2.0 colour (also used for PAP).
type TLP uint8

const (
	TLPNone TLP = iota // no TLP marking
	TLPClear
	TLPGreen
	TLPAmber
	TLPAmberStrict
	TLPRed
)

// IEP holds the FIRST Information Exchange Policy 2.0 fields.
type IEP struct {
	EncryptInTransit    string // "must" or "may"
	PermittedActions    string // "none", "contact-for-instruction", "internally-visible-actions", "externally-visible-indirect-actions", "externally-visible-direct-actions"
	AffectedPartyNotify bool
	TLP                 TLP
	Attribution         bool
	UnmodifiedResale    bool
	StartDate, EndDate  time.Time

	// NoAttribution is IEP 2.0 provider_attribution "must-not": recipients
	// must not name the provider when they pass the information on.
	// Attribution is "must"; neither set is "may". Never both.
	NoAttribution bool
}

// Clone returns a copy of l that shares no memory with it: its lists and
// its IEP are copied.
func (l Label) Clone() Label {
	c := l
	if l.Categories != nil {
		c.Categories = make([]Category, len(l.Categories))
		for i, cat := range l.Categories {
			cat.Values = slices.Clone(cat.Values)
			c.Categories[i] = cat
		}
	}
	c.DisplayOnly = slices.Clone(l.DisplayOnly)
	c.EyesOnly = slices.Clone(l.EyesOnly)
	c.Handling = slices.Clone(l.Handling)
	c.Purposes = slices.Clone(l.Purposes)
	c.Originators = slices.Clone(l.Originators)
	if l.IEP != nil {
		iep := *l.IEP
		c.IEP = &iep
	}
	return c
}

// Identical reports whether l and m hold the same values field by field:
// a nil list is not an empty one, times are compared with ==, and an IEP
// by its fields. Identical labels encode alike (encoding/json); labels
// that mean the same but differ so need not be identical.
func (l *Label) Identical(m *Label) bool {
	if l.Policy != m.Policy || l.Classification != m.Classification ||
		l.NoForn != m.NoForn || l.ORCON != m.ORCON || l.RelIDO != m.RelIDO || l.FOUO != m.FOUO ||
		l.H3Text != m.H3Text || l.TLP != m.TLP || l.PAP != m.PAP ||
		l.PersonalData != m.PersonalData || l.Regime != m.Regime ||
		l.RetainUntil != m.RetainUntil || l.Expires != m.Expires || l.ReviewBy != m.ReviewBy ||
		l.Successor != m.Successor || l.Reliability != m.Reliability || l.Credibility != m.Credibility ||
		l.Exercise != m.Exercise {
		return false
	}
	if !identicalLists(l.DisplayOnly, m.DisplayOnly) || !identicalLists(l.EyesOnly, m.EyesOnly) ||
		!identicalLists(l.Handling, m.Handling) || !identicalLists(l.Purposes, m.Purposes) ||
		!identicalLists(l.Originators, m.Originators) {
		return false
	}
	if (l.IEP == nil) != (m.IEP == nil) || l.IEP != nil && *l.IEP != *m.IEP {
		return false
	}
	if (l.Categories == nil) != (m.Categories == nil) || len(l.Categories) != len(m.Categories) {
		return false
	}
	for i := range l.Categories {
		a, b := &l.Categories[i], &m.Categories[i]
		if a.Type != b.Type || a.Name != b.Name || a.Narrowing != b.Narrowing || !identicalLists(a.Values, b.Values) {
			return false
		}
	}
	return true
}

// identicalLists is slices.Equal telling a nil list from an empty one.
func identicalLists[E comparable](a, b []E) bool {
	return (a == nil) == (b == nil) && slices.Equal(a, b)
}
