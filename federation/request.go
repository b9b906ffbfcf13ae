package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// The consent workflow (the third-party rule): a holder asks the
// originator of an object it holds for consent to pass it to a third
// partner; the originator's releaser approves, and its node sends back a
// consent record signed with its node key (see consent.go), which the
// holder verifies, keeps and counts, so that its outbox carries the object
// to the recipient; or denies, and its node sends back a signed denial.
// Requests, answers and their deliveries go over the federation's mutual
// TLS API, partner to partner:
//
//	POST /federation/v1/consent/request   holder -> originator: a request
//	POST /federation/v1/consent/approval  originator -> holder: a consent record
//	POST /federation/v1/consent/denial    originator -> holder: a signed denial
//
// The caller of each is the partner its certificate names, and MUST be
// the requester of a request and the originator of an answer. The
// originator accepts a request only for an object it originated and
// released to the requester. Every request, approval and denial is in
// both nodes' audit logs: approvals under ledger.KindConsentGiven (as
// every consent event), requests and denials under
// ledger.KindReleaseDecided, with the detail "consent-request" saying what
// happened (sent, received, denied, denial-received).
const (
	PathConsentRequest  = "/federation/v1/consent/request"
	PathConsentApproval = "/federation/v1/consent/approval"
	PathConsentDenial   = "/federation/v1/consent/denial"
)

// Limits on consent requests and denials.
const (
	maxRequestBody = 8 << 10
	// MaxNote bounds a request's note and a denial's reason, in bytes.
	MaxNote = 1024
)

// denialContext is signed before the canonical denial, so that its
// signature can be mistaken for no other signed message.
const denialContext = "tearline consent denial v1\n"

// Errors of the consent workflow.
var (
	// ErrRequest marks a malformed consent request or denial.
	ErrRequest = errors.New("malformed consent request")
	// ErrRequestRefused marks a request or answer that is well formed but
	// not acceptable: an object the requester does not hold, a node that
	// is not the originator, an answer to another request.
	ErrRequestRefused = errors.New("consent request refused")
	// ErrTearlineNotHeld marks an approval with a tearline that reached
	// the holder before the tearline did: delivering it again once the
	// holder holds the tearline succeeds.
	ErrTearlineNotHeld = errors.New("the tearline has not reached the holder yet")
)

// ConsentRequest is what a holder (Requester) asks an object's Originator:
// consent to pass the object version it holds (Version; zero for an
// object without one) to Recipient. ID names the request on both nodes.
type ConsentRequest struct {
	ID         string
	Requester  string
	Originator string
	Recipient  string
	Object     string
	Version    time.Time
	Note       string
}

type requestWire struct {
	V          int    `json:"v"`
	ID         string `json:"id"`
	Requester  string `json:"requester"`
	Originator string `json:"originator"`
	Recipient  string `json:"recipient"`
	Object     string `json:"object"`
	Version    string `json:"version,omitempty"`
	Note       string `json:"note,omitempty"`
}

// Marshal encodes the request for the wire.
func (q ConsentRequest) Marshal() ([]byte, error) {
	return json.Marshal(requestWire{V: 1, ID: q.ID, Requester: q.Requester, Originator: q.Originator,
		Recipient: q.Recipient, Object: q.Object, Version: formatTime(q.Version), Note: q.Note})
}

// checkField checks a name a consent record carries: 1 to 256 bytes of
// UTF-8 without NUL or comma (see Consent.check).
func checkField(name, v string) error {
	if v == "" || len(v) > 256 || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00,") {
		return fmt.Errorf("%s must be 1 to 256 bytes of UTF-8 without commas", name)
	}
	return nil
}

func checkText(name, v string) error {
	if len(v) > MaxNote || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
		return fmt.Errorf("%s must be at most %d bytes of UTF-8", name, MaxNote)
	}
	return nil
}

func (q *ConsentRequest) check() error {
	for _, f := range []struct{ name, v string }{{"id", q.ID}, {"requester", q.Requester}, {"originator", q.Originator},
		{"recipient", q.Recipient}, {"object", q.Object}} {
		if err := checkField(f.name, f.v); err != nil {
			return fmt.Errorf("%w: %v", ErrRequest, err)
		}
	}
	if err := checkText("note", q.Note); err != nil {
		return fmt.Errorf("%w: %v", ErrRequest, err)
	}
	if q.Originator == q.Requester || q.Requester == q.Recipient || q.Originator == q.Recipient {
		return fmt.Errorf("%w: originator %s, requester %s and recipient %s must be three partners", ErrRequest, q.Originator, q.Requester, q.Recipient)
	}
	return nil
}

// ParseConsentRequest reads a request as a partner sent it.
func ParseConsentRequest(data []byte) (ConsentRequest, error) {
	var q ConsentRequest
	if len(data) > maxRequestBody {
		return q, fmt.Errorf("%w: %d bytes; the limit is %d", ErrRequest, len(data), maxRequestBody)
	}
	var w requestWire
	if err := decodeStrict(data, &w); err != nil {
		return q, fmt.Errorf("%w: %v", ErrRequest, err)
	}
	if w.V != 1 {
		return q, fmt.Errorf("%w: version %d; this node reads version 1", ErrRequest, w.V)
	}
	q = ConsentRequest{ID: w.ID, Requester: w.Requester, Originator: w.Originator, Recipient: w.Recipient, Object: w.Object, Note: w.Note}
	if w.Version != "" {
		v, err := time.Parse(time.RFC3339Nano, w.Version)
		if err != nil {
			return ConsentRequest{}, fmt.Errorf("%w: version: %v", ErrRequest, err)
		}
		q.Version = v.UTC()
	}
	if err := q.check(); err != nil {
		return ConsentRequest{}, err
	}
	return q, nil
}

// Denial is an originator's refusal of a request: Holder may not pass
// Object to Recipient, for Reason.
type Denial struct {
	Request    string
	Originator string
	Holder     string
	Recipient  string
	Object     string
	Version    time.Time
	Reason     string
	Issued     time.Time
}

type denialWire struct {
	V          int    `json:"v"`
	Request    string `json:"request"`
	Originator string `json:"originator"`
	Holder     string `json:"holder"`
	Recipient  string `json:"recipient"`
	Object     string `json:"object"`
	Version    string `json:"version,omitempty"`
	Reason     string `json:"reason,omitempty"`
	Issued     string `json:"issued"`
}

// signedDenial is a denial as it travels: the canonical denial, the id of
// the originator's signing key and its Ed25519 signature over
// denialContext and the denial.
type signedDenial struct {
	Denial    json.RawMessage `json:"denial"`
	KeyID     string          `json:"key_id"`
	Signature []byte          `json:"signature"`
}

func (d *Denial) check() error {
	for _, f := range []struct{ name, v string }{{"request", d.Request}, {"originator", d.Originator},
		{"holder", d.Holder}, {"recipient", d.Recipient}, {"object", d.Object}} {
		if err := checkField(f.name, f.v); err != nil {
			return fmt.Errorf("%w: denial: %v", ErrRequest, err)
		}
	}
	if err := checkText("reason", d.Reason); err != nil {
		return fmt.Errorf("%w: denial: %v", ErrRequest, err)
	}
	if d.Issued.IsZero() {
		return fmt.Errorf("%w: denial: no issue time", ErrRequest)
	}
	return nil
}

// SignDenial signs d with the originator node's key and returns it,
// encoded. The signer MUST be the originator's node.
func SignDenial(d Denial, signer envelope.Signer) ([]byte, error) {
	if signer.Code != d.Originator {
		return nil, fmt.Errorf("sign denial: %s cannot sign a denial of %s", signer.Code, d.Originator)
	}
	if err := d.check(); err != nil {
		return nil, fmt.Errorf("sign denial: %w", err)
	}
	body, err := json.Marshal(denialWire{V: 1, Request: d.Request, Originator: d.Originator, Holder: d.Holder,
		Recipient: d.Recipient, Object: d.Object, Version: formatTime(d.Version), Reason: d.Reason, Issued: formatTime(d.Issued)})
	if err != nil {
		return nil, err
	}
	canon, err := stix.Canonicalize(body)
	if err != nil {
		return nil, err
	}
	return json.Marshal(signedDenial{Denial: canon, KeyID: signer.KeyID,
		Signature: ed25519.Sign(signer.Key, append([]byte(denialContext), canon...))})
}

// ParsedDenial is a signed denial read from outside.
type ParsedDenial struct {
	Denial
	parsed
	// Raw is the denial as read.
	Raw []byte
}

// ParseDenial reads a signed denial. It checks its form, not its
// signature (VerifyDenial does).
func ParseDenial(data []byte) (*ParsedDenial, error) {
	if len(data) > maxRequestBody {
		return nil, fmt.Errorf("%w: denial of %d bytes; the limit is %d", ErrRequest, len(data), maxRequestBody)
	}
	var sd signedDenial
	if err := decodeStrict(data, &sd); err != nil {
		return nil, fmt.Errorf("%w: denial: %v", ErrRequest, err)
	}
	var w denialWire
	ps, err := readSignedBody(sd.KeyID, sd.Signature, sd.Denial, "body", &w)
	if err != nil {
		return nil, fmt.Errorf("%w: denial: %v", ErrRequest, err)
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: denial version %d; this node reads version 1", ErrRequest, w.V)
	}
	p := &ParsedDenial{parsed: ps, Raw: data,
		Denial: Denial{Request: w.Request, Originator: w.Originator, Holder: w.Holder, Recipient: w.Recipient, Object: w.Object, Reason: w.Reason}}
	for _, t := range []struct {
		name string
		s    string
		dst  *time.Time
	}{{"version", w.Version, &p.Version}, {"issued", w.Issued, &p.Issued}} {
		if t.s == "" {
			continue
		}
		v, err := time.Parse(time.RFC3339Nano, t.s)
		if err != nil {
			return nil, fmt.Errorf("%w: denial: %s: %v", ErrRequest, t.name, err)
		}
		*t.dst = v.UTC()
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// VerifyDenial checks a denial's signature with the signing keys on its
// originator's pinned card.
func VerifyDenial(cards Cards, p *ParsedDenial) error {
	if err := p.verify(cards, p.Originator, denialContext); err != nil {
		return fmt.Errorf("%w: %s's denial of %s: %v", ErrRequestRefused, p.Originator, p.Request, err)
	}
	return nil
}

// RequestEvent is the audit entry of a step of a consent request that is
// not a consent given: what is sent, received, denied or denial-received.
func RequestEvent(actor, what string, r *mailbox.Request, at time.Time) ledger.Event {
	d := map[string]string{"consent-request": what, "request": r.ID, "requester": r.Requester,
		"originator": r.Originator, "recipient": r.Recipient}
	if !r.Version.IsZero() {
		d["version"] = formatTime(r.Version)
	}
	if r.Note != "" {
		d["note"] = r.Note
	}
	if r.Reason != "" {
		d["reason"] = r.Reason
	}
	return ledger.Event{Kind: ledger.KindReleaseDecided, Time: at, Actor: actor, Subjects: []string{r.Object}, Details: d}
}

// RequestRecords is what the consent workflow needs of a node's store.
type RequestRecords interface {
	ConsentRecords
	mailbox.RequestStore
	Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error)
}

// Dialer returns an HTTP client that reaches partner code over mutual TLS
// (presenting this node's certificate, accepting only the partner's pinned
// one) and the partner's endpoint URL.
type Dialer func(code string) (*http.Client, string, error)

// Workflow is one node's side of the consent workflow: what its operators
// do (Request, Approve, Deny), and what its handlers do with what partners
// send. Tools that run beside a serving node use it on the same store.
type Workflow struct {
	// Signer is the node's key; its Code is the node's partner code.
	Signer     envelope.Signer
	Store      RequestRecords
	Cards      Cards
	Releaser   *release.Releaser
	Collection string
	// Dial reaches partners; needed to send requests and answers.
	Dial Dialer
	// Relay, if set, sends to the partners reached through a hub (see
	// HubRelay.Post); it returns false for the others.
	Relay func(ctx context.Context, code, path string, body []byte) (bool, error)
	// Now and Rand, if set, replace the clock and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Actor, if set, is who acts for the node (a releaser signed in to
	// the console): the actor of the audit entries of the requests,
	// approvals and denials it makes. The node's partner code otherwise.
	Actor string
}

func (w *Workflow) actor() string {
	if w.Actor != "" {
		return w.Actor
	}
	return w.self()
}

func (w *Workflow) now() time.Time {
	if w.Now != nil {
		return w.Now().UTC()
	}
	return time.Now().UTC()
}

func (w *Workflow) self() string { return w.Signer.Code }

// originators returns the originators of the version of object id this
// node holds (the newest when version is zero), as its release decisions
// count them: the label's and the provenance's, else this node.
func (w *Workflow) originators(ctx context.Context, id string, version time.Time) ([]string, []tearline.ClassRelease, error) {
	class, releases, err := w.Store.ReleaseOf(ctx, w.Collection, id, version)
	if errors.Is(err, tearline.ErrNotFound) {
		what := id
		if !version.IsZero() {
			what = fmt.Sprintf("version %s of %s", formatTime(version), id)
		}
		return nil, nil, fmt.Errorf("%w: %s does not hold %s", ErrRequestRefused, w.self(), what)
	}
	if err != nil {
		return nil, nil, err
	}
	if class == 0 {
		return nil, nil, fmt.Errorf("%w: %s has not classified %s yet; try again when its release set is decided", ErrRequestRefused, w.self(), id)
	}
	subjects, err := w.Store.ReleaseSubjects(ctx, []int64{class})
	if err != nil {
		return nil, nil, err
	}
	s, err := release.Subject(subjects[class])
	if err != nil {
		return nil, nil, err
	}
	var out []string
	for _, o := range append(slices.Clone(s.Label.Originators), s.Originators...) {
		if !slices.Contains(out, o) {
			out = append(out, o)
		}
	}
	if len(out) == 0 {
		out = []string{w.self()}
	}
	return out, releases, nil
}

// checkOriginated is the originator's check of a request: the object is
// this node's information, and this node released it to the requester.
func (w *Workflow) checkOriginated(ctx context.Context, q *mailbox.Request) error {
	origs, releases, err := w.originators(ctx, q.Object, q.Version)
	if err != nil {
		return err
	}
	if !slices.Contains(origs, w.self()) {
		return fmt.Errorf("%w: %s is not an originator of %s (its originators are %s)", ErrRequestRefused, w.self(), q.Object, strings.Join(origs, ", "))
	}
	if !slices.ContainsFunc(releases, func(r tearline.ClassRelease) bool { return r.Partner == q.Requester && r.Outcome == tearline.Allow }) {
		return fmt.Errorf("%w: %s has not released %s to %s, so %s cannot hold it to pass on", ErrRequestRefused, w.self(), q.Object, q.Requester, q.Requester)
	}
	return nil
}

// newID returns a random request id.
func (w *Workflow) newID() (string, error) {
	r := w.Rand
	if r == nil {
		r = rand.Reader
	}
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("consent-request--%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16]), nil
}

// Request asks the originator of object id, which this node holds, for
// consent to pass it to recipient, and keeps the request in the outbox. It
// checks what this node can (it holds the object, it is not its
// originator, the object has one originator), sends the request, and
// records whether the originator acknowledged it.
func (w *Workflow) Request(ctx context.Context, id, recipient, note string) (mailbox.Request, error) {
	page, err := w.Store.Objects(ctx, tearline.ObjectQuery{Collection: w.Collection, IDs: []string{id}, Limit: 1})
	if err != nil {
		return mailbox.Request{}, fmt.Errorf("request consent for %s: %w", id, err)
	}
	if len(page.Objects) == 0 {
		return mailbox.Request{}, fmt.Errorf("request consent: %w: %s does not hold %s", ErrRequestRefused, w.self(), id)
	}
	version := page.Objects[0].Version
	origs, _, err := w.originators(ctx, id, version)
	if err != nil {
		return mailbox.Request{}, fmt.Errorf("request consent for %s: %w", id, err)
	}
	switch {
	case slices.Contains(origs, w.self()):
		return mailbox.Request{}, fmt.Errorf("request consent: %s originated %s; its own release decisions apply, no consent is needed", w.self(), id)
	case len(origs) > 1:
		return mailbox.Request{}, fmt.Errorf("request consent: %s has several originators (%s); asking each of them is not supported", id, strings.Join(origs, ", "))
	}
	rid, err := w.newID()
	if err != nil {
		return mailbox.Request{}, err
	}
	cq := ConsentRequest{ID: rid, Requester: w.self(), Originator: origs[0], Recipient: recipient, Object: id, Version: version, Note: note}
	if err := cq.check(); err != nil {
		return mailbox.Request{}, fmt.Errorf("request consent: %w", err)
	}
	now := w.now()
	r := mailbox.Request{Box: mailbox.RequestOutbox, ID: cq.ID, Requester: cq.Requester, Originator: cq.Originator,
		Recipient: cq.Recipient, Object: cq.Object, Version: cq.Version, Note: cq.Note, Created: now, State: mailbox.RequestPending}
	// Kept before it is sent, so that an answer never finds no request.
	if err := w.Store.PutRequest(ctx, r, RequestEvent(w.actor(), "sent", &r, now)); err != nil {
		return r, fmt.Errorf("request consent: %w", err)
	}
	if err := w.send(ctx, &r); err != nil {
		return r, fmt.Errorf("request %s kept, but %w", r.ID, err)
	}
	return r, nil
}

// send delivers outbox request r to its originator and keeps when it
// arrived, or why it did not.
func (w *Workflow) send(ctx context.Context, r *mailbox.Request) error {
	cq := ConsentRequest{ID: r.ID, Requester: r.Requester, Originator: r.Originator, Recipient: r.Recipient,
		Object: r.Object, Version: r.Version, Note: r.Note}
	body, err := cq.Marshal()
	if err != nil {
		return err
	}
	if err := w.post(ctx, r.Originator, PathConsentRequest, body); err != nil {
		r.DeliveryError = err.Error()
		return errors.Join(fmt.Errorf("%s did not take it: %w", r.Originator, err),
			w.Store.SetDelivered(ctx, mailbox.RequestOutbox, r.ID, time.Time{}, r.DeliveryError))
	}
	r.Delivered, r.DeliveryError = w.now(), ""
	return w.Store.SetDelivered(ctx, mailbox.RequestOutbox, r.ID, r.Delivered, "")
}

// Approve is the originator's approval of inbox request id: it checks the
// request again, signs a consent record with this node's key (in force
// for expires, never lapsing when zero), keeps it with the decision and
// its audit entry, and delivers it to the requester. Approving an
// approved request delivers its record again.
func (w *Workflow) Approve(ctx context.Context, id string, expires time.Duration) (mailbox.Request, error) {
	r, err := w.Store.GetRequest(ctx, mailbox.RequestInbox, id)
	if err != nil {
		return r, err
	}
	if r.State == mailbox.RequestPending {
		if err := w.checkOriginated(ctx, &r); err != nil {
			return r, fmt.Errorf("approve %s: %w", id, err)
		}
		now := w.now()
		c := Consent{Request: r.ID, Originator: w.self(), Holder: r.Requester, Recipient: r.Recipient, Object: r.Object,
			Version: r.Version, Issued: now}
		if expires > 0 {
			c.Expires = now.Add(expires)
		}
		record, err := SignConsent(c, w.Signer)
		if err != nil {
			return r, fmt.Errorf("approve %s: %w", id, err)
		}
		a := mailbox.Answer{State: mailbox.RequestApproved, At: now, Record: record}
		if err := w.Store.DecideRequest(ctx, mailbox.RequestInbox, id, a, []ledger.Event{ConsentEvent(w.actor(), "given", &c, now)}); err != nil {
			return r, fmt.Errorf("approve %s: %w", id, err)
		}
		r.State, r.Decided, r.Record = a.State, a.At, a.Record
	}
	if r.State != mailbox.RequestApproved {
		return r, fmt.Errorf("approve %s: %w (%s)", id, mailbox.ErrRequestDecided, r.State)
	}
	return r, w.deliver(ctx, &r, PathConsentApproval)
}

// ApproveTearline is the originator's approval of inbox request id with a
// tearline: the holder may pass variant (its version; every version when
// zero), a sanitised object this node published in place of the object
// asked about, to the recipient; the original stays where it was. It
// checks the request again, and that this node originated the variant,
// has decided its release set and releases it to the holder (else the
// holder could never pass it on); then it signs a consent record for the
// variant that names the original (Consent.Original), keeps it with the
// decision and its audit entry, and delivers it. The holder accepts the
// record once it holds the variant; until then the delivery fails with
// ErrTearlineNotHeld, and approving again delivers it again.
func (w *Workflow) ApproveTearline(ctx context.Context, id, variant string, version time.Time, expires time.Duration) (mailbox.Request, error) {
	r, err := w.Store.GetRequest(ctx, mailbox.RequestInbox, id)
	if err != nil {
		return r, err
	}
	if r.State == mailbox.RequestPending {
		if err := w.checkOriginated(ctx, &r); err != nil {
			return r, fmt.Errorf("approve %s with a tearline: %w", id, err)
		}
		if err := w.checkTearline(ctx, &r, variant, version); err != nil {
			return r, fmt.Errorf("approve %s with a tearline: %w", id, err)
		}
		now := w.now()
		c := Consent{Request: r.ID, Originator: w.self(), Holder: r.Requester, Recipient: r.Recipient, Object: variant,
			Original: r.Object, Version: version, Issued: now}
		if expires > 0 {
			c.Expires = now.Add(expires)
		}
		record, err := SignConsent(c, w.Signer)
		if err != nil {
			return r, fmt.Errorf("approve %s with a tearline: %w", id, err)
		}
		a := mailbox.Answer{State: mailbox.RequestApproved, At: now, Record: record}
		if err := w.Store.DecideRequest(ctx, mailbox.RequestInbox, id, a, []ledger.Event{ConsentEvent(w.actor(), "given", &c, now)}); err != nil {
			return r, fmt.Errorf("approve %s with a tearline: %w", id, err)
		}
		r.State, r.Decided, r.Record = a.State, a.At, a.Record
	} else if r.State == mailbox.RequestApproved {
		p, err := ParseConsent(r.Record)
		if err != nil {
			return r, fmt.Errorf("approve %s with a tearline: the kept record: %w", id, err)
		}
		if p.Object != variant {
			return r, fmt.Errorf("approve %s with a tearline: %w (approved for %s)", id, mailbox.ErrRequestDecided, p.Object)
		}
	}
	if r.State != mailbox.RequestApproved {
		return r, fmt.Errorf("approve %s with a tearline: %w (%s)", id, mailbox.ErrRequestDecided, r.State)
	}
	return r, w.deliver(ctx, &r, PathConsentApproval)
}

// checkTearline checks that variant may stand for request r's object: it
// is another object, which this node originated and releases to the
// requester.
func (w *Workflow) checkTearline(ctx context.Context, r *mailbox.Request, variant string, version time.Time) error {
	if err := checkField("tearline", variant); err != nil {
		return fmt.Errorf("%w: %v", ErrRequest, err)
	}
	if variant == r.Object {
		return fmt.Errorf("%w: the tearline must be an object of its own, not %s itself", ErrRequestRefused, r.Object)
	}
	origs, releases, err := w.originators(ctx, variant, version)
	if err != nil {
		return err
	}
	if !slices.Contains(origs, w.self()) {
		return fmt.Errorf("%w: %s is not an originator of the tearline %s (its originators are %s)", ErrRequestRefused, w.self(), variant, strings.Join(origs, ", "))
	}
	if !slices.ContainsFunc(releases, func(rel tearline.ClassRelease) bool {
		return rel.Partner == r.Requester && rel.Outcome == tearline.Allow
	}) {
		return fmt.Errorf("%w: %s does not release the tearline %s to %s, which could never pass it on; give it a label releasable to %s",
			ErrRequestRefused, w.self(), variant, r.Requester, r.Requester)
	}
	return nil
}

// Deny is the originator's denial of inbox request id: it signs a denial
// with this node's key, keeps it with the decision and its audit entry,
// and delivers it to the requester. Denying a denied request delivers its
// denial again.
func (w *Workflow) Deny(ctx context.Context, id, reason string) (mailbox.Request, error) {
	r, err := w.Store.GetRequest(ctx, mailbox.RequestInbox, id)
	if err != nil {
		return r, err
	}
	if r.State == mailbox.RequestPending {
		now := w.now()
		record, err := SignDenial(Denial{Request: r.ID, Originator: w.self(), Holder: r.Requester, Recipient: r.Recipient,
			Object: r.Object, Version: r.Version, Reason: reason, Issued: now}, w.Signer)
		if err != nil {
			return r, fmt.Errorf("deny %s: %w", id, err)
		}
		a := mailbox.Answer{State: mailbox.RequestDenied, At: now, Reason: reason, Record: record}
		r.Reason = reason
		if err := w.Store.DecideRequest(ctx, mailbox.RequestInbox, id, a, []ledger.Event{RequestEvent(w.actor(), "denied", &r, now)}); err != nil {
			return r, fmt.Errorf("deny %s: %w", id, err)
		}
		r.State, r.Decided, r.Record = a.State, a.At, a.Record
	}
	if r.State != mailbox.RequestDenied {
		return r, fmt.Errorf("deny %s: %w (%s)", id, mailbox.ErrRequestDecided, r.State)
	}
	return r, w.deliver(ctx, &r, PathConsentDenial)
}

// deliver sends an inbox request's answer to its requester and records
// the attempt.
func (w *Workflow) deliver(ctx context.Context, r *mailbox.Request, path string) error {
	if err := w.post(ctx, r.Requester, path, r.Record); err != nil {
		r.DeliveryError = err.Error()
		return errors.Join(fmt.Errorf("%s %s, but it did not reach %s (a running node delivers it again; do it again to retry now): %w", r.ID, r.State, r.Requester, err),
			w.Store.SetDelivered(ctx, mailbox.RequestInbox, r.ID, time.Time{}, r.DeliveryError))
	}
	r.Delivered, r.DeliveryError = w.now(), ""
	return w.Store.SetDelivered(ctx, mailbox.RequestInbox, r.ID, r.Delivered, "")
}

// DeliverPending delivers again what has not reached its partner: the
// requests this node sent that their originator has not taken, and the
// answers it gave that their holder has not. An approval with a tearline
// that reached the holder before the tearline did is among them, and
// arrives once the tearline has; an approval whose consent lapsed first is
// not delivered any more. Partners take a message delivered again
// as they took it the first time. It returns how many were delivered now;
// the first failure is returned, and each is kept as its request's
// delivery error, for the next attempt.
func (w *Workflow) DeliverPending(ctx context.Context) (int, error) {
	delivered := 0
	var first error
	fail := func(err error) {
		if first == nil {
			first = err
		}
	}
	outbox, err := w.Store.Requests(ctx, mailbox.RequestOutbox)
	if err != nil {
		return 0, fmt.Errorf("deliver pending requests: %w", err)
	}
	for _, r := range outbox {
		if r.State != mailbox.RequestPending || !r.Delivered.IsZero() || ctx.Err() != nil {
			continue
		}
		if err := w.send(ctx, &r); err != nil {
			fail(fmt.Errorf("request %s: %w", r.ID, err))
			continue
		}
		delivered++
	}
	inbox, err := w.Store.Requests(ctx, mailbox.RequestInbox)
	if err != nil {
		return delivered, fmt.Errorf("deliver pending answers: %w", err)
	}
	for _, r := range inbox {
		if r.State == mailbox.RequestPending || !r.Delivered.IsZero() || len(r.Record) == 0 || ctx.Err() != nil {
			continue
		}
		path := PathConsentApproval
		if r.State == mailbox.RequestDenied {
			path = PathConsentDenial
		} else if c, err := ParseConsent(r.Record); err == nil && !c.Expires.IsZero() && !w.now().Before(c.Expires) {
			// A consent that lapsed before it arrived is of no use to
			// the holder, which would refuse it: it stays undelivered,
			// and says why.
			if msg := "the consent lapsed at " + c.Expires.UTC().Format(time.RFC3339) + " before it reached " + r.Requester; r.DeliveryError != msg {
				if err := w.Store.SetDelivered(ctx, mailbox.RequestInbox, r.ID, time.Time{}, msg); err != nil {
					fail(err)
				}
			}
			continue
		}
		if err := w.deliver(ctx, &r, path); err != nil {
			fail(err)
			continue
		}
		delivered++
	}
	return delivered, first
}

// post sends body to a partner's consent API and reads the answer.
func (w *Workflow) post(ctx context.Context, code, path string, body []byte) error {
	if w.Relay != nil {
		if relayed, err := w.Relay(ctx, code, path, body); relayed {
			return err
		}
	}
	if w.Dial == nil {
		return errors.New("no way to reach partners")
	}
	client, endpoint, err := w.Dial(code)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(endpoint, "/")+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s answered %s: %s", code, resp.Status, strings.TrimSpace(string(msg)))
	}
	return nil
}

// receiveRequest is the originator's side of a request partner caller
// sent: the caller is the requester, this node the originator of an
// object it released to the caller; the request goes to the inbox.
func (w *Workflow) receiveRequest(ctx context.Context, caller string, body []byte) error {
	q, err := ParseConsentRequest(body)
	if err != nil {
		return err
	}
	if q.Requester != caller {
		return fmt.Errorf("%w: %s sent a request in the name of %s", ErrRequestRefused, caller, q.Requester)
	}
	if q.Originator != w.self() {
		return fmt.Errorf("%w: the request is addressed to %s; this node is %s", ErrRequestRefused, q.Originator, w.self())
	}
	now := w.now()
	r := mailbox.Request{Box: mailbox.RequestInbox, ID: q.ID, Requester: q.Requester, Originator: q.Originator,
		Recipient: q.Recipient, Object: q.Object, Version: q.Version, Note: q.Note, Created: now, State: mailbox.RequestPending}
	if err := w.checkOriginated(ctx, &r); err != nil {
		return err
	}
	return w.Store.PutRequest(ctx, r, RequestEvent(caller, "received", &r, now))
}

// matchOutbox returns the outbox request an answer from caller is for,
// checking that it answers what was asked, of the partner asked.
func (w *Workflow) matchOutbox(ctx context.Context, caller, request, originator, holder, recipient, object string, version time.Time) (mailbox.Request, error) {
	if originator != caller {
		return mailbox.Request{}, fmt.Errorf("%w: %s sent an answer in the name of %s", ErrRequestRefused, caller, originator)
	}
	if holder != w.self() {
		return mailbox.Request{}, fmt.Errorf("%w: the answer is for %s; this node is %s", ErrRequestRefused, holder, w.self())
	}
	r, err := w.Store.GetRequest(ctx, mailbox.RequestOutbox, request)
	if err != nil {
		return r, err
	}
	switch {
	case r.Originator != caller:
		return r, fmt.Errorf("%w: request %s was sent to %s, the originator of %s, not to %s", ErrRequestRefused, r.ID, r.Originator, r.Object, caller)
	case r.Object != object || r.Recipient != recipient || (!version.IsZero() && !version.Equal(r.Version)):
		return r, fmt.Errorf("%w: the answer is not for what request %s asked", ErrRequestRefused, r.ID)
	}
	return r, nil
}

// receiveApproval is the requester's side of a consent record its
// originator sent: it verifies it, keeps it and reclassifies (see
// AcceptConsent), and records the request approved.
func (w *Workflow) receiveApproval(ctx context.Context, caller string, body []byte) error {
	p, err := ParseConsent(body)
	if err != nil {
		return err
	}
	// An approval with a tearline answers a request for the original; it
	// covers the tearline, whatever its version.
	asked, version := p.Object, p.Version
	if p.Original != "" {
		asked, version = p.Original, time.Time{}
	}
	r, err := w.matchOutbox(ctx, caller, p.Request, p.Originator, p.Holder, p.Recipient, asked, version)
	if err != nil {
		return err
	}
	if r.State == mailbox.RequestApproved && bytes.Equal(r.Record, body) {
		return nil
	}
	if r.State != mailbox.RequestPending {
		return fmt.Errorf("request %s: %w (%s)", r.ID, mailbox.ErrRequestDecided, r.State)
	}
	now := w.now()
	if p.Original != "" {
		if err := VerifyConsent(w.Cards, p, now); err != nil {
			return err
		}
		_, _, err := w.Store.ReleaseOf(ctx, w.Collection, p.Object, p.Version)
		if errors.Is(err, tearline.ErrNotFound) {
			return fmt.Errorf("%w: %s does not hold %s, the tearline of %s, yet; approve again to deliver once it does",
				ErrTearlineNotHeld, w.self(), p.Object, p.Original)
		}
		if err != nil {
			return err
		}
	}
	if _, _, err := AcceptConsent(ctx, w.Store, w.Cards, w.Releaser, w.Collection, body, now); err != nil {
		return err
	}
	return w.Store.DecideRequest(ctx, mailbox.RequestOutbox, r.ID, mailbox.Answer{State: mailbox.RequestApproved, At: now, Record: body}, nil)
}

// receiveDenial is the requester's side of a signed denial.
func (w *Workflow) receiveDenial(ctx context.Context, caller string, body []byte) error {
	p, err := ParseDenial(body)
	if err != nil {
		return err
	}
	r, err := w.matchOutbox(ctx, caller, p.Request, p.Originator, p.Holder, p.Recipient, p.Object, p.Version)
	if err != nil {
		return err
	}
	if err := VerifyDenial(w.Cards, p); err != nil {
		return err
	}
	if r.State == mailbox.RequestDenied && bytes.Equal(r.Record, body) {
		return nil
	}
	now := w.now()
	r.Reason = p.Reason
	return w.Store.DecideRequest(ctx, mailbox.RequestOutbox, r.ID, mailbox.Answer{State: mailbox.RequestDenied, At: now, Reason: p.Reason, Record: body},
		[]ledger.Event{RequestEvent(caller, "denial-received", &r, now)})
}

// workflow is the node's consent workflow; nil when its store keeps no
// requests.
func (n *Node) workflow() *Workflow {
	st, ok := n.cfg.Store.(RequestRecords)
	if !ok {
		return nil
	}
	return &Workflow{Signer: n.cfg.Signer, Store: st, Cards: n.cfg.Partners, Releaser: n.cfg.Releaser,
		Collection: n.cfg.Collection, Now: n.cfg.Now, Rand: n.cfg.Rand}
}

// mountConsent registers the consent workflow's handlers on mux, when the
// node's store keeps requests.
func (n *Node) mountConsent(mux *http.ServeMux) {
	w := n.workflow()
	if w == nil {
		return
	}
	for path, receive := range map[string]func(context.Context, string, []byte) error{
		PathConsentRequest:  w.receiveRequest,
		PathConsentApproval: w.receiveApproval,
		PathConsentDenial:   w.receiveDenial,
	} {
		mux.HandleFunc("POST "+path, func(rw http.ResponseWriter, r *http.Request) {
			caller, ok := n.authenticate(rw, r)
			if !ok {
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(rw, r.Body, maxRequestBody))
			if err != nil {
				http.Error(rw, fmt.Sprintf("the body must be at most %d bytes", maxRequestBody), http.StatusRequestEntityTooLarge)
				return
			}
			if err := receive(r.Context(), caller, body); err != nil {
				n.consentError(rw, caller, path, err)
				return
			}
			rw.WriteHeader(http.StatusNoContent)
		})
	}
}

// consentError maps an error of the consent workflow to its answer: the
// reason for a refusal, never a store's error.
func (n *Node) consentError(rw http.ResponseWriter, caller, path string, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrRequest):
		status = http.StatusBadRequest
	case errors.Is(err, ErrRequestRefused), errors.Is(err, ErrConsent):
		status = http.StatusForbidden
	case errors.Is(err, tearline.ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, mailbox.ErrRequestExists), errors.Is(err, mailbox.ErrRequestDecided), errors.Is(err, ErrTearlineNotHeld):
		status = http.StatusConflict
	}
	n.log.Warn("consent workflow", "partner", caller, "path", path, "status", status, "err", err)
	msg := err.Error()
	if status == http.StatusInternalServerError {
		msg = "the node could not process the request; its operators have the details"
	} else if status == http.StatusNotFound {
		msg = "no such request"
	}
	http.Error(rw, msg, status)
}
