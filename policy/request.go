package policy

import (
	"time"

	"github.com/tearline/tearline"
)

// Request is one release question: may Recipient have Subject, to do
// Action with it, for Purpose, at Time?
type Request struct {
	Subject   *Subject
	Recipient *tearline.Recipient
	Action    tearline.Action
	// Purpose is what the recipient will use the information for, in the
	// vocabulary of the agreements and labels ("counter-terrorism",
	// PurposeCombatingCrime, PurposeJudicial, ...). Empty satisfies no
	// purpose restriction.
	Purpose string
	// Time is when the release would happen. The decision never reads the
	// clock.
	Time time.Time
	// Exercise names the exercise the release happens in; empty for a
	// real-world release. Material marked for an exercise is released only
	// within that exercise.
	Exercise string
}

// Subject is an object as a release decision sees it: its label, its
// sanitised variants and where it came from.
type Subject struct {
	ID      string
	Type    string   // the STIX type, for agreement scopes
	Topics  []string // for agreement scopes
	Created time.Time

	Label tearline.Label
	// Verified reports that the label's binding signature (STANAG 4778)
	// verified against the content.
	Verified bool
	// Recalled: the originator withdrew the object; no variant of it is
	// released.
	Recalled bool
	// Variants are the object's tearlines, richest first; each is a
	// separate object with its own, broader label. The object itself is
	// tried before them.
	Variants []Variant

	// Holder is this node's partner code: who would release.
	Holder string
	// HolderOrganisation is the holder's organisation, for TLP
	// AMBER+STRICT; empty matches nobody.
	HolderOrganisation string
	// Originators are the originators recorded in the provenance chain. A
	// decision uses them together with the label's Originators; when both
	// are empty, the holder is the originator.
	Originators []string
	// Consents are the originators' recorded consents to pass this object
	// on.
	Consents []Consent
}

// Variant is a tearline: a sanitised version of an object, released more
// widely.
type Variant struct {
	ID       string
	Label    tearline.Label
	Verified bool // as Subject.Verified
}

// Consent records that an originator consented to Recipient receiving
// Object (the object, which covers its tearlines, or one tearline).
type Consent struct {
	Originator string
	Recipient  string
	Object     string
	// Expires ends the consent; zero means it does not lapse.
	Expires time.Time
}

// AgreementDomestic is the Decision.Agreement of a decision about a local
// user of the holder's own nation: no sharing agreement is involved; the
// user's clearance, nationality and the label decide.
const AgreementDomestic = "domestic"

// Purposes that Europol handling codes refer to.
const (
	// PurposeCombatingCrime is the only purpose that material under
	// handling code H0 may be used for.
	PurposeCombatingCrime = "combating-crime"
	// PurposeJudicial is use in judicial proceedings, which handling code
	// H1 subjects to the provider's consent.
	PurposeJudicial = "judicial-proceedings"
)

// Reason codes. They are stable: tests, tools and audit queries rely on
// them. Each names one rule of the decision; a decision lists its reasons
// in the order of the rules below.
const (
	// Allowed: the release is allowed; the text names the agreement.
	ReasonAllowed = "allowed"

	// The request itself (the decision is a denial).
	ReasonInvalidAction    = "invalid-action"
	ReasonUnknownHolder    = "unknown-holder"
	ReasonUnknownRecipient = "unknown-recipient"

	// 1. The label can be trusted and understood (each a denial).
	ReasonUnverified            = "binding-unverified"
	ReasonUnknownPolicy         = "unknown-policy"
	ReasonUnknownClassification = "unknown-classification"
	ReasonInvalidLabel          = "invalid-label" // conflicting markings
	ReasonUnknownOriginator     = "unknown-originator"

	// 2. The object is current (each a denial).
	ReasonRecalled        = "recalled"
	ReasonSuperseded      = "superseded"
	ReasonExpired         = "expired"
	ReasonRetentionPassed = "retention-passed" // the label's retain-until date
	ReasonExercise        = "exercise"

	// 3. An agreement covers the release.
	ReasonNoAgreement         = "no-agreement"
	ReasonAgreementNotInForce = "agreement-not-in-force"
	ReasonAgreementExpired    = "agreement-expired"
	ReasonOutOfScope          = "out-of-scope"
	ReasonForeignPolicy       = "foreign-policy" // needs a person
	ReasonAboveCeiling        = "above-ceiling"

	// 4. Clearance and categories.
	ReasonNoClearance           = "no-clearance"
	ReasonClassificationNotHeld = "classification-not-held"
	ReasonRelTo                 = "rel-to"
	ReasonOnly                  = "category-only" // a narrowing category
	ReasonRestrictive           = "category-restrictive"
	ReasonPermissive            = "category-permissive"
	ReasonEmptyCategory         = "category-empty" // needs a person

	// 5. Dissemination controls and handling codes.
	ReasonNoForn      = "noforn"
	ReasonEyesOnly    = "eyes-only"
	ReasonDisplayOnly = "display-only"
	ReasonORCON       = "orcon"       // needs consent
	ReasonH2          = "handling-h2" // needs consent
	ReasonRelIDO      = "relido"      // needs a person
	ReasonH3          = "handling-h3" // needs a person

	// 6. TLP, relative to the holder.
	ReasonTLPRed = "tlp-red" // needs a person
	ReasonTLP    = "tlp"

	// 7. Purpose and personal data.
	ReasonPurpose      = "purpose"
	ReasonH0           = "handling-h0"
	ReasonH1           = "handling-h1" // needs consent
	ReasonAgreementUse = "purpose-agreement"
	ReasonPersonalData = "personal-data"
	ReasonRetention    = "retention" // the agreement's retention period

	// Onward sharing by a holder that is not the originator.
	ReasonOnward     = "onward"      // needs consent
	ReasonThirdParty = "third-party" // needs consent
)
