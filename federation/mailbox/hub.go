package mailbox

import (
	"context"
	"errors"
	"time"
)

// HubBatch is one batch a hub holds for a recipient: an envelope sealed by
// the sender to the recipient alone (empty when the sender withheld every
// entry of the range), the range it covers in the sender's outbox for the
// recipient, and the sender's signature over both (RangeSeal). A hub
// cannot open the envelope nor change any of this without the recipient
// noticing.
type HubBatch struct {
	Sender, Recipient string
	// After and Through bound the range, (After, Through]; Head is the
	// sender's newest sequence number for the recipient; Withheld counts
	// the entries of the range not sent.
	After, Through, Head uint64
	Withheld             int
	Envelope             []byte
	// RangeSeal is the sender's signature over the range and the
	// envelope's hash, as the sender encoded it; opaque to the hub.
	RangeSeal []byte
	Stored    time.Time
}

// HubPosition is how far a hub holds one sender's stream to one recipient:
// the last sequence number deposited, and the last the recipient
// acknowledged having applied.
type HubPosition struct {
	Sender, Recipient string
	Through, Acked    uint64
}

// ErrHubRange is returned by HubStore.HubDeposit for a batch that does not
// start where the hub's copy of the stream ends, and by HubNext when no
// batch starts where the recipient asks.
var ErrHubRange = errors.New("the batch does not continue the stream the hub holds")

// HubStore is the mailbox of a hub node: sealed batches held from their
// senders until their recipients have applied them.
type HubStore interface {
	// HubPosition returns the position of the stream from sender to
	// recipient; zero for a stream never seen.
	HubPosition(ctx context.Context, sender, recipient string) (HubPosition, error)
	// HubDeposit keeps b if b.After is the stream's Through, and moves
	// Through to b.Through; otherwise it keeps nothing and returns an error
	// wrapping ErrHubRange. It returns the stream's position afterwards.
	HubDeposit(ctx context.Context, b HubBatch) (HubPosition, error)
	// HubNext records that the recipient applied the stream through acked
	// (never past what was deposited, never backwards), removes the
	// batches it covers, and returns the batch that starts at after: nil
	// when after is the stream's Through (nothing more), an error wrapping
	// ErrHubRange when no batch starts there.
	HubNext(ctx context.Context, sender, recipient string, after, acked uint64) (*HubBatch, HubPosition, error)
	HubMessages
}

// HubMessage is one message a member leaves at a hub for another: a
// recall notice, an acknowledgement, or a recipient's answer to one,
// sealed to the recipient (Body is ciphertext) and signed by the sender
// (Seal, over the parties, Kind, ID and Body). Opaque to the hub.
type HubMessage struct {
	Sender, Recipient string
	// ID is the sender's name for the message, unique per recipient; a
	// message posted again under its ID is kept once.
	ID     string
	Kind   string
	Body   []byte
	Seal   []byte
	Stored time.Time
}

// ErrHubFull is returned by HubStore.HubPost when the hub already holds
// as many messages from the sender to the recipient as it keeps.
var ErrHubFull = errors.New("the hub holds as many messages for the recipient as it keeps")

// HubMessages are the messages a hub holds for its members, each until its
// recipient takes it.
type HubMessages interface {
	// HubPost keeps m unless the hub holds a message of the same sender,
	// recipient and ID already (added is then false); it refuses, with an
	// error wrapping ErrHubFull, a message that would make more than limit
	// from the sender to the recipient.
	HubPost(ctx context.Context, m HubMessage, limit int) (added bool, err error)
	// HubInbox returns, oldest first, at most limit of the messages held
	// for recipient.
	HubInbox(ctx context.Context, recipient string, limit int) ([]HubMessage, error)
	// HubTake removes the message; taking one the hub does not hold is not
	// an error.
	HubTake(ctx context.Context, recipient, sender, id string) error
}
