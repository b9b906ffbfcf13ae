package federation

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// The node-to-node sync API, served by every node under its TLS endpoint
// to pinned partners only (mutual TLS; the caller is the partner whose
// certificate it presents):
//
//	POST /federation/v1/notify    the sender tells the receiver "I have
//	                              entries up to head for you": {"head": N}
//	GET  /federation/v1/batch     the receiver pulls its next batch:
//	                              ?after=N&limit=L&acked=A
//	POST /federation/v1/receipt   the receiver reports what it refused
//	GET  /federation/v1/batch-entry  either side asks for the other's audit
//	                              entry of a batch, with its inclusion
//	                              proof (receipts.go): ?role=R&through=N
//
// A batch answer carries the range it covers in headers, and, unless
// every entry of the range was withheld, one envelope sealed to the
// receiver alone and signed by the sender, whose sequence number is the
// range's last.
const (
	PathNotify  = "/federation/v1/notify"
	PathBatch   = "/federation/v1/batch"
	PathReceipt = "/federation/v1/receipt"

	// HeaderAfter and HeaderThrough bound the outbox sequence numbers a
	// batch covers, (after, through]; HeaderHead is the sender's newest
	// sequence number for the receiver; HeaderWithheld counts the entries
	// of the range that were not sent.
	HeaderAfter    = "Tearline-After"
	HeaderThrough  = "Tearline-Through"
	HeaderHead     = "Tearline-Head"
	HeaderWithheld = "Tearline-Withheld"

	// ContentTypeEnvelope is the media type of a batch's body.
	ContentTypeEnvelope = "application/vnd.tearline.envelope"
)

// Limits on what a node reads from a partner, checked before reading.
const (
	maxNotifyBody  = 1 << 10
	maxReceiptBody = 4 << 20
	// MaxRefusals bounds the refusals one receipt reports.
	MaxRefusals = 100000
	// maxReasonLen bounds the text of one refusal reason.
	maxReasonLen = 1024
	// MaxBatchLimit is the most entries a receiver may ask for at once.
	MaxBatchLimit = 100000
)

// errBadRequest marks a request or answer that breaks the protocol.
var errBadRequest = errors.New("bad federation message")

func protocolError(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errBadRequest, fmt.Sprintf(format, args...))
}

// Notify is the body of a notification.
type Notify struct {
	Head uint64 `json:"head"`
}

// ParseNotify reads a notification body.
func ParseNotify(data []byte) (Notify, error) {
	var n Notify
	if len(data) > maxNotifyBody {
		return n, protocolError("notification of %d bytes; the limit is %d", len(data), maxNotifyBody)
	}
	if err := decodeStrict(data, &n); err != nil {
		return n, protocolError("notification: %v", err)
	}
	return n, nil
}

// BatchQuery is what a receiver asks for.
type BatchQuery struct {
	// After is the receiver's cursor: the batch starts after it.
	After uint64
	// Limit caps the entries of the batch.
	Limit int
	// Acked is the last sequence number the receiver has applied durably;
	// at most After.
	Acked uint64
}

// Encode returns the query string.
func (q BatchQuery) Encode() string {
	v := url.Values{}
	v.Set("after", strconv.FormatUint(q.After, 10))
	v.Set("limit", strconv.Itoa(q.Limit))
	v.Set("acked", strconv.FormatUint(q.Acked, 10))
	return v.Encode()
}

// ParseBatchQuery reads a batch request's query string.
func ParseBatchQuery(raw string) (BatchQuery, error) {
	var q BatchQuery
	v, err := url.ParseQuery(raw)
	if err != nil {
		return q, protocolError("query: %v", err)
	}
	for k := range v {
		if k != "after" && k != "limit" && k != "acked" {
			return q, protocolError("query: unknown parameter %q (after, limit and acked are known)", k)
		}
	}
	num := func(name string) (uint64, error) {
		vals := v[name]
		if len(vals) != 1 {
			return 0, protocolError("query: give %s exactly once", name)
		}
		n, err := strconv.ParseUint(vals[0], 10, 63)
		if err != nil {
			return 0, protocolError("query: %s=%q is not a sequence number", name, vals[0])
		}
		return n, nil
	}
	if q.After, err = num("after"); err != nil {
		return q, err
	}
	if q.Acked, err = num("acked"); err != nil {
		return q, err
	}
	limit, err := num("limit")
	if err != nil {
		return q, err
	}
	if limit == 0 || limit > MaxBatchLimit {
		return q, protocolError("query: limit %d; give 1 to %d", limit, MaxBatchLimit)
	}
	q.Limit = int(limit)
	if q.Acked > q.After {
		return q, protocolError("query: acked %d is past after %d; a node acknowledges only what it applied", q.Acked, q.After)
	}
	return q, nil
}

// BatchHeader is the range a batch answer covers.
type BatchHeader struct {
	After, Through, Head uint64
	Withheld             int
}

// Set writes h into an answer's headers.
func (h BatchHeader) Set(hd http.Header) {
	hd.Set(HeaderAfter, strconv.FormatUint(h.After, 10))
	hd.Set(HeaderThrough, strconv.FormatUint(h.Through, 10))
	hd.Set(HeaderHead, strconv.FormatUint(h.Head, 10))
	hd.Set(HeaderWithheld, strconv.Itoa(h.Withheld))
}

// ParseBatchHeader reads the range of a batch answer and checks that it
// answers a request for after: it starts there, and ends at or before the
// head.
func ParseBatchHeader(hd http.Header, after uint64) (BatchHeader, error) {
	var h BatchHeader
	num := func(name string) (uint64, error) {
		vals := hd.Values(name)
		if len(vals) != 1 {
			return 0, protocolError("answer: header %s given %d times; want once", name, len(vals))
		}
		n, err := strconv.ParseUint(vals[0], 10, 63)
		if err != nil {
			return 0, protocolError("answer: header %s: %q is not a sequence number", name, vals[0])
		}
		return n, nil
	}
	var err error
	if h.After, err = num(HeaderAfter); err != nil {
		return h, err
	}
	if h.Through, err = num(HeaderThrough); err != nil {
		return h, err
	}
	if h.Head, err = num(HeaderHead); err != nil {
		return h, err
	}
	w, err := num(HeaderWithheld)
	if err != nil {
		return h, err
	}
	switch {
	case h.After != after:
		return h, protocolError("answer: a batch after %d, asked for after %d", h.After, after)
	case h.Through < h.After:
		return h, protocolError("answer: a batch through %d ends before it starts (after %d)", h.Through, h.After)
	case h.Through > h.Head:
		return h, protocolError("answer: a batch through %d passes the head %d", h.Through, h.Head)
	case w > h.Through-h.After:
		return h, protocolError("answer: %d entries withheld of the %d in (%d, %d]", w, h.Through-h.After, h.After, h.Through)
	}
	h.Withheld = int(w)
	return h, nil
}

// Receipt is what a receiver reports about a batch it applied: the range
// and the objects it refused, with the reason.
type Receipt struct {
	After   uint64    `json:"after"`
	Through uint64    `json:"through"`
	Added   int       `json:"added"`
	Present int       `json:"present"`
	Refused []Refusal `json:"refused,omitempty"`
	// Envelope is set when the whole batch was refused (a bad signature,
	// a sender that is not the partner, ...); nothing of it was applied
	// and the receiver will ask for the range again.
	Envelope string `json:"envelope,omitempty"`
}

// Refusal is one object a receiver refused.
type Refusal struct {
	ID string `json:"id"`
	// Reason is a stable code (a policy reason code, or one of the
	// Refused* codes of this package); Text says it in words.
	Reason string `json:"reason"`
	Text   string `json:"text,omitempty"`
}

// ParseReceipt reads a receipt body.
func ParseReceipt(data []byte) (Receipt, error) {
	var r Receipt
	if len(data) > maxReceiptBody {
		return r, protocolError("receipt of %d bytes; the limit is %d", len(data), maxReceiptBody)
	}
	if err := decodeStrict(data, &r); err != nil {
		return r, protocolError("receipt: %v", err)
	}
	switch {
	case r.Through < r.After:
		return r, protocolError("receipt: through %d is before after %d", r.Through, r.After)
	case r.Through > 1<<63-1:
		return r, protocolError("receipt: through %d is out of range", r.Through)
	case r.Added < 0 || r.Present < 0:
		return r, protocolError("receipt: negative counts")
	case len(r.Refused) > MaxRefusals:
		return r, protocolError("receipt: %d refusals; the limit is %d", len(r.Refused), MaxRefusals)
	case len(r.Envelope) > maxReasonLen || !utf8.ValidString(r.Envelope):
		return r, protocolError("receipt: envelope reason is not valid UTF-8 of at most %d bytes", maxReasonLen)
	}
	if len(r.Refused) == 0 {
		r.Refused = nil // "refused": [] says what an absent list says
	}
	for i, f := range r.Refused {
		for _, s := range []string{f.ID, f.Reason, f.Text} {
			if len(s) > maxReasonLen || !utf8.ValidString(s) || strings.ContainsRune(s, 0) {
				return r, protocolError("receipt: refusal %d: fields must be valid UTF-8 of at most %d bytes", i, maxReasonLen)
			}
		}
		if f.ID == "" || f.Reason == "" {
			return r, protocolError("receipt: refusal %d: id and reason are required", i)
		}
	}
	return r, nil
}

// decodeStrict decodes one JSON value into v, refusing unknown fields and
// trailing data.
func decodeStrict(data []byte, v any) error {
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return err
	}
	if _, err := d.Token(); err != io.EOF {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}
