package federation

import (
	"context"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// What the federation needs of the node's store. The SQLite and PostgreSQL
// stores implement each natively; storetest.RunOutbox is their contract.

// MarkingSource finds stored marking definitions (and, through ingest, what
// else it needs to read).
type MarkingSource interface {
	Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error)
}

// OutboxStore is the sending side: each partner's outbox, fed by the
// release sets in the store's own transactions.
type OutboxStore interface {
	MarkingSource
	OutboxHeads(ctx context.Context) ([]mailbox.Head, error)
	OutboxPage(ctx context.Context, partner string, after uint64, limit, maxBytes int) (mailbox.Page, error)
	RecordSent(ctx context.Context, partner string, acked uint64, at time.Time, batch uint64, events []ledger.Event) error
}

// InboxStore is the receiving side: each sender's cursor, advanced with
// the objects of a batch in one transaction.
type InboxStore interface {
	MarkingSource
	InboxCursor(ctx context.Context, sender string) (mailbox.Cursor, error)
	Receive(ctx context.Context, collection string, objs []*tearline.Object, d *mailbox.Delivery) ([]tearline.PutResult, error)
}

// LinkStore keeps what operators see of each link.
type LinkStore interface {
	Links(ctx context.Context) (mailbox.Links, error)
	SetLinkError(ctx context.Context, partner string, dir mailbox.Direction, message string, at time.Time) error
}

// ReceiptStore keeps the receipts of batches (mailbox.BatchReceipt): the
// stores create them with the audit entries of RecordSent and Receive;
// the node fills in the partner's side.
type ReceiptStore interface {
	// Receipt returns the receipt of batch through with partner in which
	// this node had role, or an error wrapping tearline.ErrNotFound.
	Receipt(ctx context.Context, partner string, role mailbox.Role, through uint64) (mailbox.BatchReceipt, error)
	Receipts(ctx context.Context, q mailbox.ReceiptQuery) ([]mailbox.BatchReceipt, error)
	// SetReceipt records the partner's side of a pending receipt, verified
	// or failed, once.
	SetReceipt(ctx context.Context, r *mailbox.BatchReceipt) error
}

// Store is everything a federating node needs of its store.
type Store interface {
	OutboxStore
	InboxStore
	LinkStore
	ReceiptStore
}
