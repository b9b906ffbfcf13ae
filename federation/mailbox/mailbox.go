// Package mailbox holds the durable state of federation links that a store
// keeps for package federation: the outbox of each partner (object versions
// to send, numbered per partner), the inbox cursor of each sender (how far
// its outbox has been applied here), the provenance of what was received,
// and the link errors operators see.
//
// The types live in a package of their own, importing only the domain and
// the audit log, so that the store adapters (sqlite, postgres) and their
// contract tests (storetest) can speak them without depending on the
// federation service. This package holds data and contracts only; it MUST
// NOT read a database or the network.
package mailbox

import (
	"errors"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ledger"
)

// Releasable reports whether an outcome puts an object version in a
// partner's outbox: an allowed release, or a tearline of it. Whether the
// version itself is sent is decided again when it is sent.
func Releasable(o tearline.Outcome) bool {
	return o == tearline.Allow || o == tearline.AllowVariant
}

// Entry is one outbox entry as read for sending.
type Entry struct {
	// Seq numbers the entry in its partner's outbox, from 1, without gaps.
	Seq uint64
	// Collection is the id of the collection holding the version.
	Collection string
	// Object is the object version; nil when it was deleted after it was
	// queued, and then nothing is sent for the entry.
	Object *tearline.StoredObject
	// Outcome is the release of the version's class to the partner at the
	// time of reading, Deny when there is none: the decision that a sender
	// MUST check before anything leaves.
	Outcome tearline.Outcome
	// Variant is the tearline released instead (AllowVariant).
	Variant string
	// Echo reports that the partner sent this very version to this node:
	// it holds it, and sending it back would only cost the link.
	Echo bool
}

// Page is a run of a partner's outbox entries, in sequence order.
type Page struct {
	Entries []Entry
	// Through is the sequence number of the last entry the page covers;
	// the after asked for when the page is empty.
	Through uint64
	// Head is the partner's newest sequence number when the page was read.
	Head uint64
}

// Head is the outbox of one partner, as the sending node sees its link.
type Head struct {
	Partner string
	// Last is the newest sequence number handed out; Acked the newest the
	// partner acknowledged having applied.
	Last, Acked uint64
	// Sent is when a batch was last served to the partner; zero never.
	Sent time.Time
}

// Lag is how many entries the partner has yet to apply.
func (h Head) Lag() uint64 {
	if h.Acked >= h.Last {
		return 0
	}
	return h.Last - h.Acked
}

// Cursor is how far the outbox of one sender has been applied here.
type Cursor struct {
	Sender string
	// Through is the sender's sequence number applied last; everything up
	// to it was applied exactly once.
	Through uint64
	// SenderHead is the sender's newest sequence number for this node when
	// it was last heard from.
	SenderHead uint64
	// Received is when a batch was last applied; zero never.
	Received time.Time
}

// Lag is how many of the sender's entries are known and not yet applied.
func (c Cursor) Lag() uint64 {
	if c.Through >= c.SenderHead {
		return 0
	}
	return c.SenderHead - c.Through
}

// Direction names one side of a link.
type Direction string

// The two sides of a link with a partner.
const (
	Send    Direction = "send"
	Receive Direction = "receive"
)

// LinkError is the last error of one side of a link.
type LinkError struct {
	Partner   string
	Direction Direction
	Message   string
	At        time.Time
}

// Links is the link state a store keeps.
type Links struct {
	Out    []Head      // sorted by partner
	In     []Cursor    // sorted by sender
	Errors []LinkError // sorted by partner, then direction
}

// Provenance is where one received object version came from.
type Provenance struct {
	ObjectID string
	// Hash identifies the version (Object.Hash).
	Hash [32]byte
	// Originators are the originators of the information as received: the
	// label's, else the sender.
	Originators []string
	// Proof is the object's inclusion proof in the signed batch
	// (envelope.Proof.AppendBinary), which with the batch's header and
	// signature verifies it again later.
	Proof []byte
	// Chain is the provenance the sender carried for the version: the
	// hops by which it reached the sender, the source's first, as the
	// federation package encodes them; nil when there was none.
	Chain []byte
}

// Origin is the stored provenance of one received object version: who
// sent it in which batch, with what it takes to verify it again (see
// envelope.VerifyObject).
type Origin struct {
	Hash        [32]byte
	Sender      string
	Originators []string
	// Through names the batch: the sender's last sequence number in it.
	Through  uint64
	Received time.Time
	// Header and Signature are the batch's; Proof the version's inclusion
	// proof in it.
	Header, Signature, Proof []byte
	// Chain is Provenance.Chain as stored: nil for a version received
	// from its source, or stored before chains were kept.
	Chain []byte
}

// Delivery is one batch of a sender's outbox being applied: the objects
// come with it in the same call, and the store MUST commit them, the cursor,
// the batch and provenance records and the audit entries together, or
// nothing.
type Delivery struct {
	Sender string
	// After and Through bound the sender's sequence numbers the batch
	// covers: (After, Through]. The store MUST refuse the delivery with
	// ErrDelivered when its cursor for the sender is at or past Through,
	// and with ErrOutOfOrder when it is anywhere else than After.
	After, Through uint64
	// SenderHead is the sender's newest sequence number for this node.
	SenderHead uint64
	Received   time.Time
	// Header and Signature are the envelope's signed header and signature
	// block; both nil when the batch had nothing to send (every entry in
	// the range was withheld).
	Header, Signature []byte
	// Provenance of the objects; rows are kept for those stored or already
	// present, matched on id and hash.
	Provenance []Provenance
	// Record returns the audit entries of the delivery, given the results
	// of the objects' write (nil when there were none). It runs inside the
	// store's transaction and MUST NOT block. When the batch had an
	// envelope (Header set), the store creates the batch's receipt
	// (BatchReceipt, RoleRecipient) in the same transaction, with the
	// index of the first entry as this node's side.
	Record func(results []tearline.PutResult) []ledger.Event
}

// Errors a store returns for a delivery that does not follow its cursor.
var (
	// ErrDelivered: the batch was applied before; nothing was done.
	ErrDelivered = errors.New("batch already applied")
	// ErrOutOfOrder: the batch does not start where the cursor stands.
	ErrOutOfOrder = errors.New("batch out of order")
)
