package tearline

import "time"

// Partner is a nation or agency that shares with this node: usually a node
// of its own, identified by an ISO 3166 alpha-3 trigraph or an organisation
// code.
type Partner struct {
	Code        string // GBR, FRA, or an organisation code such as EUROPOL
	Name        string
	Nationality string // trigraph of the partner's nation (itself for a nation)
	OrgType     string // "national-service", "international-organisation", "law-enforcement", ...
}

// Membership is a partner's membership of a community over an interval.
// Until is the zero time while the membership lasts.
type Membership struct {
	Partner     string
	From, Until time.Time
}

// Member reports whether the membership covers t.
func (m Membership) Member(t time.Time) bool {
	return !t.Before(m.From) && (m.Until.IsZero() || t.Before(m.Until))
}

// Community is a named group of partners (a tetragraph such as FVEY or
// NATO, or one that users define). Membership has dates: a partner that
// joins later does not receive older material by virtue of joining.
type Community struct {
	Code    string
	Name    string
	Members []Membership
}

// Classification is a level of a classification policy.
type Classification struct {
	Policy string
	Level  string
}

// Equivalence maps a level of one policy onto a level of another, as an
// agreement declares (e.g. GBR SECRET = FRA SECRET DEFENSE).
type Equivalence struct {
	From, To Classification
}

// Agreement is a sharing arrangement that says who may share what with
// whom. Agreements are versioned; a decision names the version it used.
type Agreement struct {
	ID      string
	Version int
	Title   string

	// Parties are partner or community codes.
	Parties []string

	ValidFrom  time.Time
	ValidUntil time.Time // zero: open-ended
	ReviewBy   time.Time

	// Scope: object types and topics (labels) covered; empty means all.
	Types  []string
	Topics []string

	// Ceilings are the highest classification releasable, per policy.
	Ceilings     []Classification
	Equivalences []Equivalence

	// ThirdPartyRule: what a party receives may not be passed to a third
	// party without the originator's consent.
	ThirdPartyRule bool
	// Purposes the shared information may be used for; empty: any.
	Purposes []string
	// Retention is how long a recipient may keep what it receives; zero:
	// the label decides.
	Retention time.Duration
	// PersonalDataRegimes are the legal regimes under which personal data
	// may be shared under this agreement; empty: no personal data.
	PersonalDataRegimes []string
	// OnwardApprovers are the roles that may approve onward release.
	OnwardApprovers []string
}

// Active reports whether the agreement is in force at t.
func (a *Agreement) Active(t time.Time) bool {
	return !t.Before(a.ValidFrom) && (a.ValidUntil.IsZero() || t.Before(a.ValidUntil))
}

// Clearance is what a recipient holds under one policy: the levels it may
// see and the category values it holds.
type Clearance struct {
	Policy     string
	Levels     []string
	Categories map[string][]string // category name -> values held
}

// Recipient is who a decision is about: a partner node, or a local user
// (decided exactly like a partner).
type Recipient struct {
	// Code is the partner code (for a user, the user's nation or
	// organisation code); Nationality the trigraph of its nation.
	Code        string
	Nationality string
	// User is the local user's name, empty for a partner.
	User       string
	Clearances []Clearance
	// Organisation is the recipient's organisation, for TLP AMBER+STRICT.
	Organisation string
}

// Action is what the recipient would do with the object.
type Action uint8

const (
	// Release: the recipient receives and keeps a copy.
	Release Action = iota + 1
	// Disclose: the recipient may view it, without keeping a copy.
	Disclose
	// Onward: a holder that is not the originator passes it on.
	Onward
)

// Outcome is the verdict of a release decision.
type Outcome uint8

const (
	Deny Outcome = iota + 1
	Allow
	// AllowVariant: a sanitised variant (a tearline) may be released.
	AllowVariant
	// NeedsConsent: the originators named in the decision must consent.
	NeedsConsent
	// NeedsPerson: a releasing officer must decide.
	NeedsPerson
)

func (o Outcome) String() string {
	switch o {
	case Deny:
		return "deny"
	case Allow:
		return "allow"
	case AllowVariant:
		return "allow variant"
	case NeedsConsent:
		return "needs consent"
	case NeedsPerson:
		return "needs a person"
	}
	return "unknown"
}

// Reason explains one step of a decision. Code is stable for tests and
// tools; Text is written for a liaison officer.
type Reason struct {
	Code string
	Text string
}

// Decision is the answer to "may this recipient have this object, for this
// purpose, now?", with every reason.
type Decision struct {
	Outcome Outcome
	// Variant is the id of the tearline variant released (AllowVariant).
	Variant string
	// ConsentFrom lists the originators whose consent is needed.
	ConsentFrom []string
	// Agreement is the deciding agreement ("id@version"), when one applies.
	Agreement string
	Reasons   []Reason
}
