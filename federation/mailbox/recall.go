package mailbox

import (
	"context"
	"errors"
	"time"

	"github.com/tearline/tearline/ledger"
)

// Recall is a recall notice as a store keeps it: the originator withdraws
// the object version Object/Hash (Version is its version, for people).
// Record is the notice exactly as the originator's node signed it (see
// federation.SignRecall); it travels to every holder, which verifies it
// again against the originator's pinned key.
type Recall struct {
	Notice     string
	Originator string
	Object     string
	Version    time.Time
	Hash       [32]byte
	Reason     string
	Issued     time.Time
	Record     []byte
}

// Kinds of recall messages a node delivers to partners.
const (
	// RecallNotice: a notice, to a partner that received the version from
	// this node.
	RecallNotice = "notice"
	// RecallAck: this node's signed acknowledgement, to the originator.
	RecallAck = "ack"
)

// RecallMessage is one recall message queued for a partner: delivered
// with retries until the partner takes it (or refuses it for good).
type RecallMessage struct {
	ID       int64
	Partner  string
	Kind     string
	Notice   string
	Body     []byte
	Attempts int
}

// RecallTarget is one partner of a recall, as its originator sees it.
type RecallTarget struct {
	Partner string
	// Delivered is when the notice reached the partner directly; zero
	// when it has not (yet), or when the partner holds it second-hand.
	Delivered time.Time
	// Error is the last delivery error, or why the partner refused it.
	Error string
	// Acknowledged is when the partner's signed acknowledgement arrived;
	// zero when it has not.
	Acknowledged time.Time
	// Purged is how many versions the partner says it purged.
	Purged int
	// Record is the signed acknowledgement as received.
	Record []byte
}

// RecallStatus is a recall as its originator follows it.
type RecallStatus struct {
	Recall
	Targets []RecallTarget // sorted by partner
}

// Tombstone is what a node keeps of a purged object version.
type Tombstone struct {
	Object     string
	Version    time.Time
	Hash       [32]byte
	RecalledBy string
	Reason     string
	Notice     string
	// Recalled is when the originator issued the recall; Purged when this
	// node purged the version.
	Recalled, Purged time.Time
}

// ErrRecallKnown: the notice was applied here before; nothing was done.
var ErrRecallKnown = errors.New("recall notice already applied")

// ErrUnknownRecall: no recall of this node has that notice id.
var ErrUnknownRecall = errors.New("no such recall")

// RecallStore keeps recalls, purges what they name and queues their
// messages. Every method that changes something appends its audit
// entries in the same transaction.
type RecallStore interface {
	// IssueRecall is the originator's recall: it keeps r, deletes every
	// stored version with r.Object and r.Hash (in every collection),
	// keeps a tombstone, queues r.Record for every partner that was sent
	// the version or has it queued, and appends events(targets). It
	// returns the partners, sorted. A notice id used before is refused
	// with ErrRecallKnown.
	IssueRecall(ctx context.Context, r Recall, events func(targets []string) []ledger.Event) ([]string, error)
	// ApplyRecall is a holder's: as IssueRecall, but the notice is
	// passed on to the partners this node sent the version to or has it
	// queued for, except the originator, from and self; then ack, given
	// the versions purged and those partners, returns the signed
	// acknowledgement, queued for the originator, and the audit entries.
	// A notice applied before is refused with ErrRecallKnown.
	ApplyRecall(ctx context.Context, r Recall, from, self string, ack func(purged int, forwarded []string) ([]byte, []ledger.Event, error)) (int, []string, error)
	// RecallMessages returns up to limit messages not yet delivered,
	// oldest first.
	RecallMessages(ctx context.Context, limit int) ([]RecallMessage, error)
	// RecallSent records an attempt to deliver message id: delivered when
	// failure is empty; otherwise the failure is kept and, when final,
	// the message is not tried again.
	RecallSent(ctx context.Context, id int64, at time.Time, failure string, final bool) error
	// RecordRecallAck keeps holder's signed acknowledgement of notice,
	// adds the partners it passed the notice on to as awaited, and
	// appends ev; ErrUnknownRecall when this node issued no such notice.
	// Keeping the same record again (an acknowledgement delivered twice)
	// changes nothing and appends nothing.
	RecordRecallAck(ctx context.Context, notice, holder string, purged int, forwarded []string, record []byte, at time.Time, ev ledger.Event) error
	// Recalls returns the recalls this node issued of object (all of them
	// when object is empty), oldest first, with their partners.
	Recalls(ctx context.Context, object string) ([]RecallStatus, error)
	// Tombstones returns what is kept of object's purged versions.
	Tombstones(ctx context.Context, object string) ([]Tombstone, error)
}
