package mailbox

import "time"

// Role is a node's part in a batch: it sent it, or received it.
type Role string

// The roles a receipt is kept for.
const (
	RoleSender    Role = "sender"
	RoleRecipient Role = "recipient"
)

// Valid reports whether r is one of the roles above.
func (r Role) Valid() bool { return r == RoleSender || r == RoleRecipient }

// Other is the partner's role in the same batch.
func (r Role) Other() Role {
	if r == RoleSender {
		return RoleRecipient
	}
	return RoleSender
}

// BatchReceipt is a node's proof that a partner logged a batch between
// them: the sender keeps the recipient's "envelope-received" entry, the
// recipient the sender's "envelope-sent" entry, each with its inclusion
// proof against a checkpoint signed by the partner.
//
// A store creates the receipt, with this node's own side (Index), in the
// transaction that appends that entry; the partner's side is filled in
// later, once fetched and verified (SetReceipt), or Failure says why the
// partner's answer was refused.
type BatchReceipt struct {
	Partner string
	// Role is this node's part in the batch.
	Role Role
	// Through names the batch: the sender's last sequence number in it.
	Through uint64
	// Index is the leaf index of this node's own audit entry of the batch
	// (the first, when it took several).
	Index    uint64
	Recorded time.Time

	// The partner's side, set together once verified: its entry of the
	// batch at PartnerIndex, the signed checkpoint it is included in and
	// the inclusion proof (RFC 6962 audit path) against that checkpoint.
	PartnerIndex uint64
	PartnerEntry []byte
	Checkpoint   []byte
	Proof        [][]byte
	Verified     time.Time

	// Failure, if set, is why the partner's answer did not verify; an
	// alert was raised for it. A failed receipt is not asked for again.
	Failure string
}

// Pending reports whether the partner's side is still to be fetched.
func (r *BatchReceipt) Pending() bool { return r.Verified.IsZero() && r.Failure == "" }

// ReceiptQuery selects receipts.
type ReceiptQuery struct {
	// Partner, if set, selects the receipts of batches with that partner.
	Partner string
	// Role, if set, selects the receipts of batches in which this node
	// had that role.
	Role Role
	// From, if set, selects the batches through From or later.
	From uint64
	// Pending selects only the receipts whose partner side is still to be
	// fetched.
	Pending bool
	// Limit, if positive, caps the receipts returned.
	Limit int
}
