// Package ledger owns the node's tamper-evident audit log: an RFC 6962
// Merkle log of canonical event records, checkpoints published as C2SP
// signed notes, cosigning of partners' checkpoints and split-view
// detection (DESIGN.md invariant 6).
//
// It owns the log algorithms only. Durable storage lives behind the small
// Storage interface; the SQLite and PostgreSQL stores implement it and MUST
// append in the same transaction as the state change being recorded. This
// package must not open databases, read clocks it was not given, or trust a
// checkpoint it has not verified.
package ledger

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/tearline/tearline/stix"
)

// Kind names what happened.
type Kind string

// The kinds of event the ledger records. Any other kind is rejected.
const (
	KindObjectIngested     Kind = "object-ingested"
	KindLabelChanged       Kind = "label-changed"
	KindReleaseDecided     Kind = "release-decided"
	KindEnvelopeSent       Kind = "envelope-sent"
	KindEnvelopeReceived   Kind = "envelope-received"
	KindObjectViewed       Kind = "object-viewed"
	KindObjectExported     Kind = "object-exported"
	KindAgreementChanged   Kind = "agreement-changed"
	KindConsentGiven       Kind = "consent-given"
	KindRecallIssued       Kind = "recall-issued"
	KindRecallAcknowledged Kind = "recall-acknowledged"
	KindKeyRotated         Kind = "key-rotated"
	// KindAccessChanged: a user, token or collection grant was added,
	// changed, disabled or revoked.
	KindAccessChanged Kind = "access-changed"
)

var kinds = map[Kind]bool{
	KindObjectIngested: true, KindLabelChanged: true, KindReleaseDecided: true,
	KindEnvelopeSent: true, KindEnvelopeReceived: true, KindObjectViewed: true,
	KindObjectExported: true, KindAgreementChanged: true, KindConsentGiven: true,
	KindRecallIssued: true, KindRecallAcknowledged: true, KindKeyRotated: true, KindAccessChanged: true,
}

// Known reports whether k is one of the kinds above.
func (k Kind) Known() bool { return kinds[k] }

// Event is one record of the audit log. Its encoding (Encode) is the leaf
// data of the Merkle log, so every field is part of what partners verify.
type Event struct {
	Kind     Kind              `json:"kind"`
	Time     time.Time         `json:"time"`               // encoded in UTC, RFC 3339 with nanoseconds as needed
	Actor    string            `json:"actor"`              // who caused it: user, partner or node id
	Subjects []string          `json:"subjects,omitempty"` // ids of the objects, envelopes, agreements concerned
	Details  map[string]string `json:"details,omitempty"`  // small, kind-specific facts
}

// ErrInvalidEvent is wrapped by every error about a malformed event.
var ErrInvalidEvent = errors.New("invalid event")

// maxEventSize bounds one encoded event; an audit record is small.
const maxEventSize = 64 << 10

func (e *Event) validate() error {
	switch {
	case !e.Kind.Known():
		return fmt.Errorf("%w: unknown kind %q", ErrInvalidEvent, e.Kind)
	case e.Time.IsZero():
		return fmt.Errorf("%w: kind %s: zero time", ErrInvalidEvent, e.Kind)
	case e.Actor == "":
		return fmt.Errorf("%w: kind %s: empty actor", ErrInvalidEvent, e.Kind)
	}
	for i, s := range e.Subjects {
		if s == "" {
			return fmt.Errorf("%w: kind %s: subject %d is empty", ErrInvalidEvent, e.Kind, i)
		}
	}
	for k := range e.Details {
		if k == "" {
			return fmt.Errorf("%w: kind %s: empty details key", ErrInvalidEvent, e.Kind)
		}
	}
	return nil
}

// Encode returns the RFC 8785 canonical JSON of e, the bytes hashed into
// the log. Time is written in UTC so that one instant has one encoding.
func (e Event) Encode() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	if len(e.Subjects) == 0 {
		e.Subjects = nil
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	c, err := stix.Canonicalize(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: canonicalize: %v", ErrInvalidEvent, err)
	}
	if len(c) > maxEventSize {
		return nil, fmt.Errorf("%w: kind %s: %d bytes encoded, limit %d", ErrInvalidEvent, e.Kind, len(c), maxEventSize)
	}
	return c, nil
}

// DecodeEvent parses an encoded event. It accepts only the exact bytes
// Encode would produce, so that a stored entry has one meaning and one
// leaf hash.
func DecodeEvent(data []byte) (Event, error) {
	var e Event
	if len(data) > maxEventSize {
		return e, fmt.Errorf("%w: %d bytes, limit %d", ErrInvalidEvent, len(data), maxEventSize)
	}
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&e); err != nil {
		return Event{}, fmt.Errorf("%w: %v", ErrInvalidEvent, err)
	}
	if d.More() {
		return Event{}, fmt.Errorf("%w: trailing data", ErrInvalidEvent)
	}
	again, err := e.Encode()
	if err != nil {
		return Event{}, err
	}
	if !bytes.Equal(again, data) {
		return Event{}, fmt.Errorf("%w: not in canonical form", ErrInvalidEvent)
	}
	return e, nil
}
