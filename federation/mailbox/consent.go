package mailbox

import (
	"context"
	"time"

	"github.com/tearline/tearline/ledger"
)

// Consent is an originator's signed consent, kept by the holder it was
// given to: the holder may pass Object (Version, or every version when
// zero) to Recipient until Expires. Record is the signed record exactly as
// the originator's node issued it (see federation.SignedConsent); it
// travels with the object to Recipient, which verifies it again against
// the originator's pinned key. The other fields are read from the record
// and let a store find it.
type Consent struct {
	Request    string
	Originator string
	Holder     string
	Recipient  string
	Object     string
	Version    time.Time
	Expires    time.Time
	Record     []byte
}

// ConsentStore keeps the consents a node was given and reclassifies the
// object versions they cover.
type ConsentStore interface {
	// PutConsent keeps c (replacing a consent with the same request) and
	// appends ev to the audit log in the same transaction.
	PutConsent(ctx context.Context, c Consent, ev ledger.Event) error
	// ConsentsFor returns the consents kept for passing any of objectIDs
	// to recipient (to anyone when recipient is empty), sorted by object,
	// then request.
	ConsentsFor(ctx context.Context, recipient string, objectIDs []string) ([]Consent, error)
	// SetClass gives the version of object id in collection (every version
	// when version is zero) the release class given, and returns how many
	// versions it changed. The new class is undecided until the release
	// sets are updated.
	SetClass(ctx context.Context, collection, id string, version time.Time, class []byte) (int, error)
}
