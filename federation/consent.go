package federation

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// Consent records (the third-party rule): an originator's node signs, with
// its node key, that a holder may pass one of its objects to a recipient.
// The holder keeps the record, its release engine counts it
// (policy.Subject.Consents), and the record travels with the object to the
// recipient, inside the batch and so under the envelope's signature, as an
// object of type ConsentType; the recipient verifies it against the
// originator's pinned key before it counts.

// ConsentType is the type of the objects that carry consent records in a
// batch. They are checked and counted, never stored as intelligence.
const ConsentType = "x-tearline-consent"

// consentContext is signed before the canonical record, so that a
// signature over a consent can be mistaken for no other signed message.
const consentContext = "tearline consent v1\n"

// maxConsentRecord bounds a signed consent record a node reads.
const maxConsentRecord = 8 << 10

// ErrConsent marks a consent record that is malformed, forged, expired or
// given for something else.
var ErrConsent = errors.New("consent record refused")

// Consent is what an originator consents to: Holder may pass Object (its
// Version, or every version when zero) to Recipient, until Expires (never
// lapses when zero). Request names the request it answers. Original, when
// set, is the object the request asked about: Object is then a tearline of
// it, a sanitised variant the originator published as an object of its
// own, and the consent covers the variant only, never the original.
type Consent struct {
	Request    string    `json:"request"`
	Originator string    `json:"originator"`
	Holder     string    `json:"holder"`
	Recipient  string    `json:"recipient"`
	Object     string    `json:"object"`
	Original   string    `json:"original,omitempty"`
	Version    time.Time `json:"-"`
	Expires    time.Time `json:"-"`
	Issued     time.Time `json:"-"`
}

// consentWire is the signed form: times as RFC 3339 strings, empty when
// zero.
type consentWire struct {
	V          int    `json:"v"`
	Request    string `json:"request"`
	Originator string `json:"originator"`
	Holder     string `json:"holder"`
	Recipient  string `json:"recipient"`
	Object     string `json:"object"`
	// Original is omitted when empty, so that records signed before it
	// existed read and verify unchanged.
	Original string `json:"original,omitempty"`
	Version  string `json:"version,omitempty"`
	Expires  string `json:"expires,omitempty"`
	Issued   string `json:"issued"`
}

// SignedConsent is a consent record as it is kept and travels: the
// consent, the id of the originator's signing key, and its Ed25519
// signature over consentContext and the RFC 8785 form of the consent.
type SignedConsent struct {
	Consent   json.RawMessage `json:"consent"`
	KeyID     string          `json:"key_id"`
	Signature []byte          `json:"signature"`
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func (c *Consent) wire() consentWire {
	return consentWire{V: 1, Request: c.Request, Originator: c.Originator, Holder: c.Holder, Recipient: c.Recipient,
		Object: c.Object, Original: c.Original, Version: formatTime(c.Version), Expires: formatTime(c.Expires), Issued: formatTime(c.Issued)}
}

func consentMessage(canonical []byte) []byte {
	return append([]byte(consentContext), canonical...)
}

// SignConsent signs c with the originator node's key and returns the
// record, encoded. The signer MUST be the originator's node.
func SignConsent(c Consent, signer envelope.Signer) ([]byte, error) {
	if signer.Code != c.Originator {
		return nil, fmt.Errorf("sign consent: %s cannot sign a consent of %s", signer.Code, c.Originator)
	}
	if err := c.check(); err != nil {
		return nil, fmt.Errorf("sign consent: %w", err)
	}
	body, err := json.Marshal(c.wire())
	if err != nil {
		return nil, err
	}
	canon, err := stix.Canonicalize(body)
	if err != nil {
		return nil, err
	}
	sc := SignedConsent{Consent: canon, KeyID: signer.KeyID, Signature: ed25519.Sign(signer.Key, consentMessage(canon))}
	return json.Marshal(sc)
}

func (c *Consent) check() error {
	for _, f := range []struct{ name, v string }{{"request", c.Request}, {"originator", c.Originator},
		{"holder", c.Holder}, {"recipient", c.Recipient}, {"object", c.Object}} {
		if f.v == "" || len(f.v) > 256 || !utf8.ValidString(f.v) || strings.ContainsAny(f.v, "\x00,") {
			return fmt.Errorf("%w: %s must be 1 to 256 bytes of UTF-8 without commas", ErrConsent, f.name)
		}
	}
	if c.Original != "" {
		if len(c.Original) > 256 || !utf8.ValidString(c.Original) || strings.ContainsAny(c.Original, "\x00,") {
			return fmt.Errorf("%w: original must be 1 to 256 bytes of UTF-8 without commas", ErrConsent)
		}
		if c.Original == c.Object {
			return fmt.Errorf("%w: a tearline is an object of its own; its id must not be the original's (%s)", ErrConsent, c.Object)
		}
	}
	if c.Issued.IsZero() {
		return fmt.Errorf("%w: no issue time", ErrConsent)
	}
	if c.Originator == c.Holder || c.Holder == c.Recipient || c.Originator == c.Recipient {
		return fmt.Errorf("%w: originator %s, holder %s and recipient %s must be three partners", ErrConsent, c.Originator, c.Holder, c.Recipient)
	}
	return nil
}

// ParsedConsent is a consent record read from outside: the consent, and
// what it takes to verify it.
type ParsedConsent struct {
	Consent
	parsed
	// Raw is the record as read.
	Raw []byte
}

// ParseConsent reads a signed consent record. It checks its form, not its
// signature (VerifyConsent does).
func ParseConsent(data []byte) (*ParsedConsent, error) {
	if len(data) > maxConsentRecord {
		return nil, fmt.Errorf("%w: %d bytes; the limit is %d", ErrConsent, len(data), maxConsentRecord)
	}
	var sc SignedConsent
	if err := decodeStrict(data, &sc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsent, err)
	}
	var w consentWire
	ps, err := readSignedBody(sc.KeyID, sc.Signature, sc.Consent, "consent", &w)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsent, err)
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: version %d; this node reads version 1", ErrConsent, w.V)
	}
	p := &ParsedConsent{parsed: ps, Raw: data,
		Consent: Consent{Request: w.Request, Originator: w.Originator, Holder: w.Holder, Recipient: w.Recipient, Object: w.Object, Original: w.Original}}
	for _, t := range []struct {
		name string
		s    string
		dst  *time.Time
	}{{"version", w.Version, &p.Version}, {"expires", w.Expires, &p.Expires}, {"issued", w.Issued, &p.Issued}} {
		if t.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.s)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrConsent, t.name, err)
		}
		*t.dst = v.UTC()
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// VerifyConsent checks a record's signature with the signing keys on its
// originator's pinned card (a retired key verifies, a revoked one never),
// and that it is in force at the time given.
func VerifyConsent(cards Cards, p *ParsedConsent, at time.Time) error {
	if err := p.verify(cards, p.Originator, consentContext); err != nil {
		return fmt.Errorf("%w: %s's consent %s: %v", ErrConsent, p.Originator, p.Request, err)
	}
	if !p.Expires.IsZero() && !at.Before(p.Expires) {
		return fmt.Errorf("%w: %s's consent %s expired at %s", ErrConsent, p.Originator, p.Request, p.Expires.Format(time.RFC3339))
	}
	return nil
}

// Covers reports whether the consent is for passing version of object id.
func (c *Consent) Covers(id string, version time.Time) bool {
	return c.Object == id && (c.Version.IsZero() || c.Version.Equal(version))
}

// Policy is the consent as a release decision counts it.
func (c *Consent) Policy() policy.Consent {
	return policy.Consent{Originator: c.Originator, Recipient: c.Recipient, Object: c.Object, Expires: c.Expires}
}

// Mailbox is the consent as a store keeps it.
func (p *ParsedConsent) Mailbox() mailbox.Consent {
	return mailbox.Consent{Request: p.Request, Originator: p.Originator, Holder: p.Holder, Recipient: p.Recipient,
		Object: p.Object, Version: p.Version, Expires: p.Expires, Record: p.Raw}
}

// consentObject wraps a record into the object that carries it in a batch;
// its id is derived from the record, so that the same record is the same
// object.
func consentObject(record []byte) (*tearline.Object, error) {
	sum := sha256.Sum256(record)
	id := fmt.Sprintf("%s--%x-%x-%x-%x-%x", ConsentType, sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	body, err := json.Marshal(struct {
		Type        string          `json:"type"`
		SpecVersion string          `json:"spec_version"`
		ID          string          `json:"id"`
		Record      json.RawMessage `json:"record"`
	}{ConsentType, "2.1", id, record})
	if err != nil {
		return nil, err
	}
	canon, err := stix.Canonicalize(body)
	if err != nil {
		return nil, err
	}
	return &tearline.Object{ID: id, Type: ConsentType, SpecVersion: "2.1", JSON: canon, Hash: sha256.Sum256(canon)}, nil
}

// consentFromObject reads the record a ConsentType object carries.
func consentFromObject(data []byte) (*ParsedConsent, error) {
	var o struct {
		Type        string          `json:"type"`
		SpecVersion string          `json:"spec_version"`
		ID          string          `json:"id"`
		Record      json.RawMessage `json:"record"`
	}
	if err := decodeStrict(data, &o); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConsent, err)
	}
	return ParseConsent(o.Record)
}

// ConsentEvent is the audit entry of a consent given, received or used.
func ConsentEvent(actor, what string, c *Consent, at time.Time) ledger.Event {
	d := map[string]string{"consent": what, "request": c.Request, "originator": c.Originator, "holder": c.Holder,
		"recipient": c.Recipient}
	if !c.Version.IsZero() {
		d["version"] = formatTime(c.Version)
	}
	if !c.Expires.IsZero() {
		d["expires"] = formatTime(c.Expires)
	}
	if c.Original != "" {
		d["tearline-of"] = c.Original
	}
	return ledger.Event{Kind: ledger.KindConsentGiven, Time: at, Actor: actor, Subjects: []string{c.Object}, Details: d}
}

// ConsentRecords is what AcceptConsent needs of the holder's store.
type ConsentRecords interface {
	mailbox.ConsentStore
	tearline.ReleaseStore
}

// AcceptConsent is the holder's side of a consent it was given: it checks
// the record (signed by the originator's pinned key, given to this node,
// in force now), keeps it with its audit entry, gives each version it
// covers a release class of its own that counts every consent kept for the
// object, and updates the release sets, so that the outbox carries the
// object to the recipient. It returns the versions reclassified.
func AcceptConsent(ctx context.Context, st ConsentRecords, cards Cards, r *release.Releaser, collection string, record []byte, at time.Time) (*ParsedConsent, int, error) {
	p, err := ParseConsent(record)
	if err != nil {
		return nil, 0, err
	}
	if p.Holder != r.Holder {
		return nil, 0, fmt.Errorf("%w: the consent was given to %s, not to this node (%s)", ErrConsent, p.Holder, r.Holder)
	}
	if err := VerifyConsent(cards, p, at); err != nil {
		return nil, 0, err
	}
	if err := st.PutConsent(ctx, p.Mailbox(), ConsentEvent(p.Originator, "received", &p.Consent, at)); err != nil {
		return nil, 0, fmt.Errorf("keep consent %s: %w", p.Request, err)
	}
	n, err := Reclassify(ctx, st, r, collection, p.Object, p.Version)
	if err != nil {
		return p, 0, err
	}
	if _, err := release.Update(ctx, st, r, at, r.Holder+" node"); err != nil {
		return p, n, fmt.Errorf("consent %s kept; release sets: %w", p.Request, err)
	}
	return p, n, nil
}

// Reclassify gives a stored object version (every version when version is
// zero) a release class that counts the consents kept for the object, and
// returns the versions changed. The class is the version's current class
// with the consents added, so everything else a decision reads is kept.
func Reclassify(ctx context.Context, st ConsentRecords, r *release.Releaser, collection, id string, version time.Time) (int, error) {
	class, _, err := st.ReleaseOf(ctx, collection, id, version)
	if err != nil {
		return 0, fmt.Errorf("reclassify %s: %w", id, err)
	}
	if class == 0 {
		return 0, fmt.Errorf("reclassify %s: the object is not classified; update the release sets first", id)
	}
	subjects, err := st.ReleaseSubjects(ctx, []int64{class})
	if err != nil {
		return 0, fmt.Errorf("reclassify %s: %w", id, err)
	}
	s, err := release.Subject(subjects[class])
	if err != nil {
		return 0, fmt.Errorf("reclassify %s: %w", id, err)
	}
	kept, err := st.ConsentsFor(ctx, "", []string{id})
	if err != nil {
		return 0, fmt.Errorf("reclassify %s: %w", id, err)
	}
	s.ID, s.Consents = id, nil
	for _, c := range kept {
		if c.Holder != r.Holder || (!version.IsZero() && !c.Version.IsZero() && !c.Version.Equal(version)) {
			continue
		}
		s.Consents = append(s.Consents, policy.Consent{Originator: c.Originator, Recipient: c.Recipient, Object: c.Object, Expires: c.Expires})
	}
	slices.SortFunc(s.Consents, func(a, b policy.Consent) int {
		return strings.Compare(a.Originator+"\x00"+a.Recipient+"\x00"+formatTime(a.Expires), b.Originator+"\x00"+b.Recipient+"\x00"+formatTime(b.Expires))
	})
	s.Consents = slices.Compact(s.Consents)
	data, err := r.Classify(s)
	if err != nil {
		return 0, err
	}
	n, err := st.SetClass(ctx, collection, id, version, data)
	if err != nil {
		return 0, fmt.Errorf("reclassify %s: %w", id, err)
	}
	return n, nil
}
