package mailbox

import (
	"context"
	"errors"
	"time"

	"github.com/tearline/tearline/ledger"
)

// RequestBox says on which side of a consent request a node stands: the
// originator keeps the requests it was sent in its inbox, the holder that
// asked keeps them in its outbox.
type RequestBox string

// The two boxes of consent requests.
const (
	RequestInbox  RequestBox = "inbox"
	RequestOutbox RequestBox = "outbox"
)

// RequestState is where a consent request stands.
type RequestState string

// The states of a consent request. A request is decided once: pending,
// then approved or denied.
const (
	RequestPending  RequestState = "pending"
	RequestApproved RequestState = "approved"
	RequestDenied   RequestState = "denied"
)

// Request is a holder's request to an object's originator for consent to
// pass the object (Version, or every version when zero) to Recipient.
type Request struct {
	Box        RequestBox
	ID         string
	Requester  string
	Originator string
	Recipient  string
	Object     string
	Version    time.Time
	Note       string
	Created    time.Time

	State RequestState
	// Decided is when the originator decided; Reason is the reason it gave
	// for a denial.
	Decided time.Time
	Reason  string
	// Record is the originator's signed answer: the consent record of an
	// approval, or the signed denial.
	Record []byte
	// Delivered is when the other side acknowledged: for the inbox, that
	// the answer reached the requester; for the outbox, that the request
	// reached the originator. Zero while it has not; DeliveryError is the
	// last failure.
	Delivered     time.Time
	DeliveryError string
}

// Answer is an originator's decision on a request.
type Answer struct {
	State  RequestState // RequestApproved or RequestDenied
	At     time.Time
	Reason string
	Record []byte
}

// Errors of a RequestStore.
var (
	// ErrRequestExists: the box already holds another request with that id.
	ErrRequestExists = errors.New("a different request with this id exists")
	// ErrRequestDecided: the request was decided before, otherwise.
	ErrRequestDecided = errors.New("the request was already decided")
)

// RequestStore keeps a node's consent requests, both boxes, each change
// with its audit entries in the same transaction.
type RequestStore interface {
	// PutRequest keeps a new request in its box (r.Box) with ev. Keeping
	// the same request again changes nothing and appends nothing; another
	// request under the same id in the same box is ErrRequestExists.
	PutRequest(ctx context.Context, r Request, ev ledger.Event) error
	// GetRequest returns the request id of box, or an error wrapping
	// tearline.ErrNotFound.
	GetRequest(ctx context.Context, box RequestBox, id string) (Request, error)
	// Requests returns the requests of box, oldest first (then by id).
	Requests(ctx context.Context, box RequestBox) ([]Request, error)
	// DecideRequest records the answer to a pending request, with evs.
	// Recording the same answer again changes nothing and appends
	// nothing; any other answer to a decided request is
	// ErrRequestDecided.
	DecideRequest(ctx context.Context, box RequestBox, id string, a Answer, evs []ledger.Event) error
	// SetDelivered records an attempt to deliver request id of box to the
	// other side (see Request.Delivered): its time when it arrived (errMsg
	// empty), else the error.
	SetDelivered(ctx context.Context, box RequestBox, id string, at time.Time, errMsg string) error
}
