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
	"slices"
	"time"
	"unicode/utf16"
	"unicode/utf8"
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
	// KindAlertRaised: the node raised an alert, such as a partner's split
	// view of its audit log; the evidence is named in the details.
	KindAlertRaised Kind = "alert-raised"
	// KindObjectDeleted: object versions were deleted from a collection.
	KindObjectDeleted Kind = "object-deleted"
)

var kinds = map[Kind]bool{
	KindObjectIngested: true, KindLabelChanged: true, KindReleaseDecided: true,
	KindEnvelopeSent: true, KindEnvelopeReceived: true, KindObjectViewed: true,
	KindObjectExported: true, KindAgreementChanged: true, KindConsentGiven: true,
	KindRecallIssued: true, KindRecallAcknowledged: true, KindKeyRotated: true, KindAccessChanged: true,
	KindAlertRaised: true, KindObjectDeleted: true,
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
	case e.Time.UTC().Year() < 0 || e.Time.UTC().Year() > 9999:
		return fmt.Errorf("%w: kind %s: time %v outside years 0 to 9999", ErrInvalidEvent, e.Kind, e.Time)
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
//
// The encoding is written directly: members in the canonical order
// (actor, details, kind, subjects, time), details sorted by the UTF-16
// code units of their keys, strings escaped as RFC 8785 prescribes, and
// invalid UTF-8 replaced by U+FFFD as encoding/json does. A test holds it
// to the slow path, json.Marshal followed by canonicalisation.
func (e Event) Encode() ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 128+32*len(e.Subjects)+64*len(e.Details))
	b = append(b, `{"actor":`...)
	b = appendString(b, e.Actor)
	if len(e.Details) > 0 {
		type member struct{ key, name string } // name: key as encoded
		ms := make([]member, 0, len(e.Details))
		for k := range e.Details {
			ms = append(ms, member{k, validUTF8(k)})
		}
		slices.SortFunc(ms, func(a, b member) int { return compareUTF16(a.name, b.name) })
		b = append(b, `,"details":{`...)
		for i, m := range ms {
			if i > 0 {
				if ms[i-1].name == m.name {
					return nil, fmt.Errorf("%w: kind %s: details keys %q and %q are the same once invalid UTF-8 is replaced", ErrInvalidEvent, e.Kind, ms[i-1].key, m.key)
				}
				b = append(b, ',')
			}
			b = appendString(b, m.name)
			b = append(b, ':')
			b = appendString(b, e.Details[m.key])
		}
		b = append(b, '}')
	}
	b = append(b, `,"kind":`...)
	b = appendString(b, string(e.Kind))
	if len(e.Subjects) > 0 {
		b = append(b, `,"subjects":[`...)
		for i, s := range e.Subjects {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = append(b, `,"time":"`...)
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, `"}`...)
	if len(b) > maxEventSize {
		return nil, fmt.Errorf("%w: kind %s: %d bytes encoded, limit %d", ErrInvalidEvent, e.Kind, len(b), maxEventSize)
	}
	return b, nil
}

// appendString writes s as an RFC 8785 string: quote, backslash and the
// control characters escaped (the short forms where JSON has them,
// lower-case \u00xx otherwise), everything else as UTF-8.
func appendString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\b':
				b = append(b, '\\', 'b')
			case c == '\f':
				b = append(b, '\\', 'f')
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// validUTF8 replaces each byte that is not part of valid UTF-8 by U+FFFD,
// as encoding/json does.
func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	b := make([]byte, 0, len(s)+8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = utf8.AppendRune(b, utf8.RuneError)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return string(b)
}

// compareUTF16 orders strings by their UTF-16 code units, as RFC 8785
// sorts member names. It differs from byte order only where a character
// above U+FFFF meets one in U+E000..U+FFFF.
func compareUTF16(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	for i := 0; i < len(ra) && i < len(rb); i++ {
		if ra[i] == rb[i] {
			continue
		}
		ua, ub := utf16.Encode([]rune{ra[i]}), utf16.Encode([]rune{rb[i]})
		return slices.Compare(ua, ub)
	}
	return len(ra) - len(rb)
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
