package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/stix"
)

// Recall: the originator's node signs a recall notice for one of its
// object versions and queues it for every partner it sent the version to.
// Each holder verifies the notice against the originator's pinned key and
// that the originator is the version's originator as it recorded it,
// purges the version (keeping a tombstone), passes the notice on to the
// partners it sent the version to, and sends the originator an
// acknowledgement signed by its own node key. Notices and
// acknowledgements are queued in the store and delivered with retries, so
// that a node that is down or cut off gets them when it is back; to a
// partner reached through a hub they go through the hub, sealed, and are
// delivered once the partner's answer comes back (hubmsg.go).
//
//	POST /federation/v1/recall       a signed notice
//	POST /federation/v1/recall-ack   a signed acknowledgement, to the
//	                                 originator only
const (
	PathRecall    = "/federation/v1/recall"
	PathRecallAck = "/federation/v1/recall-ack"
)

// Domain separation: a signature over a notice or an acknowledgement can
// be mistaken for no other signed message.
const (
	recallContext    = "tearline recall notice v1\n"
	recallAckContext = "tearline recall acknowledgement v1\n"
)

// Limits on recall messages read from outside.
const (
	maxRecallRecord = 16 << 10
	maxRecallReason = 1024
	// maxForwarded bounds the partners an acknowledgement names.
	maxForwarded = 1000
)

// ErrRecall marks a recall notice or acknowledgement that is malformed,
// forged, or not from whom it must be.
var ErrRecall = errors.New("recall refused")

// RecallNotice is what an originator recalls: the version Hash of Object
// (Version, for people), for Reason.
type RecallNotice struct {
	Notice     string
	Originator string
	Object     string
	Version    time.Time
	Hash       [32]byte
	Reason     string
	Issued     time.Time
}

type recallWire struct {
	V          int    `json:"v"`
	Notice     string `json:"notice"`
	Originator string `json:"originator"`
	Object     string `json:"object"`
	Version    string `json:"version,omitempty"`
	Hash       string `json:"hash"`
	Reason     string `json:"reason"`
	Issued     string `json:"issued"`
}

// RecallAck is a holder's acknowledgement of a notice: it purged Purged
// versions and passed the notice on to Forwarded.
type RecallAck struct {
	Notice       string
	Holder       string
	Originator   string
	Object       string
	Hash         [32]byte
	Purged       int
	Forwarded    []string
	Acknowledged time.Time
}

type recallAckWire struct {
	V            int      `json:"v"`
	Notice       string   `json:"notice"`
	Holder       string   `json:"holder"`
	Originator   string   `json:"originator"`
	Object       string   `json:"object"`
	Hash         string   `json:"hash"`
	Purged       int      `json:"purged"`
	Forwarded    []string `json:"forwarded,omitempty"`
	Acknowledged string   `json:"acknowledged"`
}

// signedRecord is a notice or an acknowledgement as it travels: the RFC
// 8785 form of the body, the signing key's id and its Ed25519 signature
// over the context and the body.
type signedRecord struct {
	Body      json.RawMessage `json:"body"`
	KeyID     string          `json:"key_id"`
	Signature []byte          `json:"signature"`
}

func checkName(what, v string) error {
	if v == "" || len(v) > 256 || !utf8.ValidString(v) || strings.ContainsAny(v, "\x00,") {
		return fmt.Errorf("%w: %s must be 1 to 256 bytes of UTF-8 without commas", ErrRecall, what)
	}
	return nil
}

func (r *RecallNotice) check() error {
	for _, f := range []struct{ name, v string }{{"notice", r.Notice}, {"originator", r.Originator}, {"object", r.Object}} {
		if err := checkName(f.name, f.v); err != nil {
			return err
		}
	}
	if len(r.Reason) > maxRecallReason || !utf8.ValidString(r.Reason) || strings.ContainsRune(r.Reason, 0) {
		return fmt.Errorf("%w: the reason must be UTF-8 of at most %d bytes", ErrRecall, maxRecallReason)
	}
	if r.Issued.IsZero() {
		return fmt.Errorf("%w: no issue time", ErrRecall)
	}
	return nil
}

func (a *RecallAck) check() error {
	for _, f := range []struct{ name, v string }{{"notice", a.Notice}, {"holder", a.Holder}, {"originator", a.Originator}, {"object", a.Object}} {
		if err := checkName(f.name, f.v); err != nil {
			return err
		}
	}
	if a.Holder == a.Originator {
		return fmt.Errorf("%w: %s acknowledges its own recall", ErrRecall, a.Holder)
	}
	if a.Purged < 0 || len(a.Forwarded) > maxForwarded {
		return fmt.Errorf("%w: a negative count, or more than %d partners passed on to", ErrRecall, maxForwarded)
	}
	for _, f := range a.Forwarded {
		if err := checkName("forwarded partner", f); err != nil {
			return err
		}
	}
	if a.Acknowledged.IsZero() {
		return fmt.Errorf("%w: no acknowledgement time", ErrRecall)
	}
	return nil
}

func sign(signer envelope.Signer, context string, body any) ([]byte, error) {
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	canon, err := stix.Canonicalize(data)
	if err != nil {
		return nil, err
	}
	return json.Marshal(signedRecord{Body: canon, KeyID: signer.KeyID,
		Signature: ed25519.Sign(signer.Key, append([]byte(context), canon...))})
}

// SignRecall signs a notice with the originator node's key. The signer
// MUST be the originator's node.
func SignRecall(r RecallNotice, signer envelope.Signer) ([]byte, error) {
	if signer.Code != r.Originator {
		return nil, fmt.Errorf("sign recall: %s cannot sign a recall of %s", signer.Code, r.Originator)
	}
	if err := r.check(); err != nil {
		return nil, fmt.Errorf("sign recall: %w", err)
	}
	return sign(signer, recallContext, recallWire{V: 1, Notice: r.Notice, Originator: r.Originator, Object: r.Object,
		Version: formatTime(r.Version), Hash: hex.EncodeToString(r.Hash[:]), Reason: r.Reason, Issued: formatTime(r.Issued)})
}

// SignRecallAck signs an acknowledgement with the holder node's key. The
// signer MUST be the holder's node.
func SignRecallAck(a RecallAck, signer envelope.Signer) ([]byte, error) {
	if signer.Code != a.Holder {
		return nil, fmt.Errorf("sign recall acknowledgement: %s cannot sign for %s", signer.Code, a.Holder)
	}
	if err := a.check(); err != nil {
		return nil, fmt.Errorf("sign recall acknowledgement: %w", err)
	}
	return sign(signer, recallAckContext, recallAckWire{V: 1, Notice: a.Notice, Holder: a.Holder, Originator: a.Originator,
		Object: a.Object, Hash: hex.EncodeToString(a.Hash[:]), Purged: a.Purged, Forwarded: a.Forwarded,
		Acknowledged: formatTime(a.Acknowledged)})
}

// parsed is a signed record read from outside, not yet verified.
type parsed struct {
	keyID     string
	signature []byte
	canonical []byte
}

// verify checks the record's signature, made under context, with the key
// it names on code's pinned card (a retired key verifies, a revoked one
// never).
func (p *parsed) verify(cards Cards, code, context string) error {
	pub, err := KeyResolver(cards, code)(code, p.keyID)
	if err != nil {
		return err
	}
	if !ed25519.Verify(pub, append([]byte(context), p.canonical...), p.signature) {
		return fmt.Errorf("the signature does not verify with its key %s", p.keyID)
	}
	return nil
}

func parseSigned(data []byte, body any) (parsed, error) {
	if len(data) > maxRecallRecord {
		return parsed{}, fmt.Errorf("%w: %d bytes; the limit is %d", ErrRecall, len(data), maxRecallRecord)
	}
	var sr signedRecord
	if err := decodeStrict(data, &sr); err != nil {
		return parsed{}, fmt.Errorf("%w: %v", ErrRecall, err)
	}
	p, err := readSignedBody(sr.KeyID, sr.Signature, sr.Body, "body", body)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrRecall, err)
	}
	return p, nil
}

// readSignedBody checks the signature block of a signed record (consent,
// denial, recall, acknowledgement: each names its body differently on the
// wire) and reads its body, called what in errors, into body strictly. It
// returns what verify needs: the key id, the signature and the body's
// RFC 8785 form, which is what was signed.
func readSignedBody(keyID string, signature []byte, raw json.RawMessage, what string, body any) (parsed, error) {
	if len(signature) != ed25519.SignatureSize || keyID == "" || len(keyID) > 256 {
		return parsed{}, errors.New("no valid signature block")
	}
	if err := decodeStrict(raw, body); err != nil {
		return parsed{}, fmt.Errorf("%s: %v", what, err)
	}
	canon, err := stix.Canonicalize(raw)
	if err != nil {
		return parsed{}, err
	}
	return parsed{keyID: keyID, signature: signature, canonical: canon}, nil
}

func parseTime(what, s string, optional bool) (time.Time, error) {
	if s == "" && optional {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return t, fmt.Errorf("%w: %s: %v", ErrRecall, what, err)
	}
	return t.UTC(), nil
}

func parseHash(s string) ([32]byte, error) {
	var h [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%w: hash must be 64 hex digits", ErrRecall)
	}
	copy(h[:], b)
	return h, nil
}

// ParsedRecall is a notice read from outside.
type ParsedRecall struct {
	RecallNotice
	parsed
	// Raw is the signed notice as read.
	Raw []byte
}

// ParseRecall reads a signed notice. It checks its form, not its
// signature (VerifyRecall does).
func ParseRecall(data []byte) (*ParsedRecall, error) {
	var w recallWire
	ps, err := parseSigned(data, &w)
	if err != nil {
		return nil, err
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: version %d; this node reads version 1", ErrRecall, w.V)
	}
	p := &ParsedRecall{parsed: ps, Raw: data, RecallNotice: RecallNotice{Notice: w.Notice, Originator: w.Originator,
		Object: w.Object, Reason: w.Reason}}
	if p.Hash, err = parseHash(w.Hash); err != nil {
		return nil, err
	}
	if p.Version, err = parseTime("version", w.Version, true); err != nil {
		return nil, err
	}
	if p.Issued, err = parseTime("issued", w.Issued, false); err != nil {
		return nil, err
	}
	if err := p.check(); err != nil {
		return nil, err
	}
	return p, nil
}

// VerifyRecall checks a notice's signature with the signing keys on its
// originator's pinned card (a retired key verifies, a revoked one never).
func VerifyRecall(cards Cards, p *ParsedRecall) error {
	if err := p.verify(cards, p.Originator, recallContext); err != nil {
		return fmt.Errorf("%w: %s's recall %s: %v", ErrRecall, p.Originator, p.Notice, err)
	}
	return nil
}

// ParsedRecallAck is an acknowledgement read from outside.
type ParsedRecallAck struct {
	RecallAck
	parsed
	Raw []byte
}

// ParseRecallAck reads a signed acknowledgement; VerifyRecallAck checks
// its signature.
func ParseRecallAck(data []byte) (*ParsedRecallAck, error) {
	var w recallAckWire
	ps, err := parseSigned(data, &w)
	if err != nil {
		return nil, err
	}
	if w.V != 1 {
		return nil, fmt.Errorf("%w: version %d; this node reads version 1", ErrRecall, w.V)
	}
	a := &ParsedRecallAck{parsed: ps, Raw: data, RecallAck: RecallAck{Notice: w.Notice, Holder: w.Holder,
		Originator: w.Originator, Object: w.Object, Purged: w.Purged, Forwarded: w.Forwarded}}
	if a.Hash, err = parseHash(w.Hash); err != nil {
		return nil, err
	}
	if a.Acknowledged, err = parseTime("acknowledged", w.Acknowledged, false); err != nil {
		return nil, err
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// VerifyRecallAck checks an acknowledgement's signature with the keys on
// its holder's pinned card.
func VerifyRecallAck(cards Cards, a *ParsedRecallAck) error {
	if err := a.verify(cards, a.Holder, recallAckContext); err != nil {
		return fmt.Errorf("%w: %s's acknowledgement of %s: %v", ErrRecall, a.Holder, a.Notice, err)
	}
	return nil
}

// ErrNotOriginator: a node recalls, or is asked to purge, an object
// version that the recalling partner did not originate.
var ErrNotOriginator = errors.New("not the originator")

// Provenances finds where the received versions of an object came from;
// the SQLite and PostgreSQL stores are.
type Provenances interface {
	Origins(ctx context.Context, objectID string) ([]mailbox.Origin, error)
}

// originatedBy reports whether code is an originator of the version hash
// of id as the store recorded it: named as an originator by every partner
// that sent it here, or this node (self) for a version it never received.
func originatedBy(ctx context.Context, st Provenances, id string, hash [32]byte, code, self string) (bool, error) {
	origins, err := st.Origins(ctx, id)
	if err != nil {
		return false, err
	}
	// Every partner that sent the version MUST have named code as its
	// originator: a partner that passed on someone else's information
	// cannot recall it by claiming to be its source.
	received := false
	for _, o := range origins {
		if o.Hash != hash {
			continue
		}
		received = true
		if !slices.Contains(o.Originators, code) {
			return false, nil
		}
	}
	return received || code == self, nil
}

// RecallEvents are the originator's audit entries of a recall issued.
func recallIssuedEvent(actor string, r *RecallNotice, targets []string, at time.Time) ledger.Event {
	d := recallDetails(r)
	d["recall"] = "issued"
	d["partners"] = strings.Join(targets, ",")
	return ledger.Event{Kind: ledger.KindRecallIssued, Time: at, Actor: actor, Subjects: []string{r.Object}, Details: d}
}

func recallDetails(r *RecallNotice) map[string]string {
	d := map[string]string{"notice": r.Notice, "originator": r.Originator, "hash": hex.EncodeToString(r.Hash[:]),
		"reason": clip(r.Reason), "issued": formatTime(r.Issued)}
	if !r.Version.IsZero() {
		d["version"] = formatTime(r.Version)
	}
	return d
}

// IssueRecall recalls a version this node originated: it signs the notice
// with the node's key, purges the version here (keeping a tombstone) and
// queues the notice for every partner the version was sent to, with the
// audit entry, in one transaction of st. Serve delivers what is queued,
// so this works with the node offline. It returns the notice and the
// partners it is queued for.
func IssueRecall(ctx context.Context, st mailbox.RecallStore, signer envelope.Signer, actor string, obj *tearline.StoredObject, reason, notice string, now time.Time) (*RecallNotice, []string, error) {
	if p, ok := st.(Provenances); ok {
		mine, err := originatedBy(ctx, p, obj.ID, obj.Hash, signer.Code, signer.Code)
		if err != nil {
			return nil, nil, fmt.Errorf("recall %s: %w", obj.ID, err)
		}
		if !mine {
			return nil, nil, fmt.Errorf("recall %s: %w: %s received this version from a partner; only its originator may recall it (ask them)",
				obj.ID, ErrNotOriginator, signer.Code)
		}
	}
	r := RecallNotice{Notice: notice, Originator: signer.Code, Object: obj.ID, Version: obj.Version, Hash: obj.Hash,
		Reason: reason, Issued: now.UTC()}
	record, err := SignRecall(r, signer)
	if err != nil {
		return nil, nil, err
	}
	targets, err := st.IssueRecall(ctx, r.mailbox(record), func(targets []string) []ledger.Event {
		return []ledger.Event{recallIssuedEvent(actor, &r, targets, r.Issued)}
	})
	if err != nil {
		return nil, nil, fmt.Errorf("recall %s: %w", obj.ID, err)
	}
	return &r, targets, nil
}

func (r *RecallNotice) mailbox(record []byte) mailbox.Recall {
	return mailbox.Recall{Notice: r.Notice, Originator: r.Originator, Object: r.Object, Version: r.Version, Hash: r.Hash,
		Reason: r.Reason, Issued: r.Issued, Record: record}
}

// mountRecall registers the recall handlers.
func (n *Node) mountRecall(mux *http.ServeMux) {
	mux.HandleFunc("POST "+PathRecall, n.serveRecall)
	mux.HandleFunc("POST "+PathRecallAck, n.serveRecallAck)
}

func (n *Node) recallStore(w http.ResponseWriter) (mailbox.RecallStore, bool) {
	rs, ok := n.cfg.Store.(mailbox.RecallStore)
	if !ok {
		http.Error(w, n.self+"'s store keeps no recalls", http.StatusNotImplemented)
	}
	return rs, ok
}

func readRecallBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxRecallRecord+1))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// serveRecall answers POST PathRecall: a notice, from its originator or
// from a partner passing it on. It is verified against the originator's
// pinned key before anything is purged.
func (n *Node) serveRecall(w http.ResponseWriter, r *http.Request) {
	from, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	rs, ok := n.recallStore(w)
	if !ok {
		return
	}
	body, ok := readRecallBody(w, r)
	if !ok {
		return
	}
	p, err := ParseRecall(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if err := VerifyRecall(n.cfg.Partners, p); err != nil {
		n.log.Warn("recall notice refused", "from", from, "notice", p.Notice, "err", err)
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	if p.Originator == n.self {
		w.WriteHeader(http.StatusNoContent) // this node's own recall, passed back
		return
	}
	if prov, ok := n.cfg.Store.(Provenances); ok {
		by, err := originatedBy(r.Context(), prov, p.Object, p.Hash, p.Originator, n.self)
		if err != nil {
			n.log.Error("recall: provenance", "notice", p.Notice, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		held, err := n.holds(r.Context(), p.Object, p.Hash)
		if err != nil {
			n.log.Error("recall: objects", "notice", p.Notice, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		if held && !by {
			n.log.Warn("recall notice refused", "from", from, "notice", p.Notice, "originator", p.Originator, "object", p.Object)
			http.Error(w, fmt.Sprintf("%v: %s is not the originator of %s as %s recorded it; nothing was purged",
				ErrNotOriginator, p.Originator, p.Object, n.self), http.StatusForbidden)
			return
		}
	}
	now := n.now()
	signer := n.cfg.Signer
	purged, forwarded, err := rs.ApplyRecall(r.Context(), p.mailbox(p.Raw), from, n.self, func(purged int, forwarded []string) ([]byte, []ledger.Event, error) {
		ack := RecallAck{Notice: p.Notice, Holder: n.self, Originator: p.Originator, Object: p.Object, Hash: p.Hash,
			Purged: purged, Forwarded: forwarded, Acknowledged: now}
		record, err := SignRecallAck(ack, signer)
		if err != nil {
			return nil, nil, err
		}
		d := recallDetails(&p.RecallNotice)
		d["recall"], d["from"], d["purged"], d["forwarded"] = "received", from, strconv.Itoa(purged), strings.Join(forwarded, ",")
		ad := recallDetails(&p.RecallNotice)
		ad["acknowledgement"], ad["holder"], ad["purged"] = "sent", n.self, strconv.Itoa(purged)
		return record, []ledger.Event{
			{Kind: ledger.KindRecallIssued, Time: now, Actor: p.Originator, Subjects: []string{p.Object}, Details: d},
			{Kind: ledger.KindRecallAcknowledged, Time: now, Actor: n.self + " node", Subjects: []string{p.Object}, Details: ad},
		}, nil
	})
	switch {
	case errors.Is(err, mailbox.ErrRecallKnown):
	case err != nil:
		n.log.Error("apply recall", "notice", p.Notice, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	default:
		n.log.Info("recall applied", "notice", p.Notice, "originator", p.Originator, "object", p.Object,
			"purged", purged, "forwarded", forwarded)
	}
	w.WriteHeader(http.StatusNoContent)
}

// holds reports whether any collection of the node holds the version.
func (n *Node) holds(ctx context.Context, id string, hash [32]byte) (bool, error) {
	page, err := n.cfg.Store.Objects(ctx, tearline.ObjectQuery{Collection: n.cfg.Collection, IDs: []string{id},
		Version: tearline.VersionFilter{All: true}})
	if err != nil {
		return false, err
	}
	return slices.ContainsFunc(page.Objects, func(o tearline.StoredObject) bool { return o.Hash == hash }), nil
}

// serveRecallAck answers POST PathRecallAck: a holder acknowledges one of
// this node's recalls, signed with its own node key.
func (n *Node) serveRecallAck(w http.ResponseWriter, r *http.Request) {
	from, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	rs, ok := n.recallStore(w)
	if !ok {
		return
	}
	body, ok := readRecallBody(w, r)
	if !ok {
		return
	}
	a, err := ParseRecallAck(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case a.Holder != from:
		http.Error(w, fmt.Sprintf("%v: an acknowledgement by %s came from %s", ErrRecall, a.Holder, from), http.StatusForbidden)
		return
	case a.Originator != n.self:
		http.Error(w, fmt.Sprintf("%v: an acknowledgement of %s's recall sent to %s", ErrRecall, a.Originator, n.self), http.StatusForbidden)
		return
	}
	if err := VerifyRecallAck(n.cfg.Partners, a); err != nil {
		http.Error(w, err.Error(), http.StatusForbidden)
		return
	}
	now := n.now()
	ev := ledger.Event{Kind: ledger.KindRecallAcknowledged, Time: now, Actor: a.Holder, Subjects: []string{a.Object},
		Details: map[string]string{"notice": a.Notice, "holder": a.Holder, "acknowledgement": "received",
			"purged": strconv.Itoa(a.Purged), "forwarded": strings.Join(a.Forwarded, ","), "acknowledged": formatTime(a.Acknowledged)}}
	err = rs.RecordRecallAck(r.Context(), a.Notice, a.Holder, a.Purged, a.Forwarded, a.Raw, now, ev)
	switch {
	case errors.Is(err, mailbox.ErrUnknownRecall):
		http.Error(w, fmt.Sprintf("%s issued no recall %s", n.self, a.Notice), http.StatusNotFound)
		return
	case err != nil:
		n.log.Error("record recall acknowledgement", "notice", a.Notice, "holder", a.Holder, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// runRecalls starts the delivery of queued recall messages, if the store
// keeps them, and returns what stops it.
func (n *Node) runRecalls(ctx context.Context) func() {
	rs, ok := n.cfg.Store.(mailbox.RecallStore)
	if !ok {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.recallLoop(ctx, rs)
	}()
	return func() { cancel(); <-done }
}

// recallLoop delivers queued notices and acknowledgements, each partner
// backing off on its own while it cannot be reached.
func (n *Node) recallLoop(ctx context.Context, rs mailbox.RecallStore) {
	tick := time.NewTicker(max(4*n.cfg.NotifyInterval, 50*time.Millisecond))
	defer tick.Stop()
	type wait struct {
		bo    backoff
		until time.Time
	}
	waits := map[string]*wait{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-n.answered:
			// A partner reached through a hub answered: deliver again
			// at once what waits for an answer.
			clear(waits)
		}
		msgs, err := rs.RecallMessages(ctx, 100)
		if err != nil {
			if ctx.Err() == nil {
				n.log.Error("recall messages", "err", err)
			}
			continue
		}
		for _, m := range msgs {
			wt := waits[m.Partner]
			if wt == nil {
				wt = &wait{bo: backoff{min: n.cfg.MinBackoff, max: n.cfg.MaxBackoff}}
				waits[m.Partner] = wt
			}
			if time.Now().Before(wt.until) {
				continue
			}
			failure, final := n.deliverRecall(ctx, m)
			if ctx.Err() != nil {
				return
			}
			if failure != "" && !final {
				wt.until = time.Now().Add(wt.bo.next())
				n.log.Debug("recall message not delivered", "partner", m.Partner, "kind", m.Kind, "notice", m.Notice, "err", failure)
			} else {
				wt.bo.reset()
			}
			if final && failure != "" {
				n.log.Warn("recall message refused", "partner", m.Partner, "kind", m.Kind, "notice", m.Notice, "err", failure)
			}
			if err := rs.RecallSent(ctx, m.ID, n.now(), failure, final); err != nil && ctx.Err() == nil {
				n.log.Error("recall message state", "partner", m.Partner, "err", err)
			}
		}
	}
}

// deliverRecall posts one message; it returns the failure, if any, and
// whether it is final (the partner refused the message itself).
func (n *Node) deliverRecall(ctx context.Context, m mailbox.RecallMessage) (string, bool) {
	path := PathRecall
	if m.Kind == mailbox.RecallAck {
		path = PathRecallAck
	}
	l := n.link(m.Partner)
	if l == nil {
		return fmt.Sprintf("no link with %s: pin its card with an endpoint", m.Partner), false
	}
	if l.hub != "" {
		kind := kindRecall
		if m.Kind == mailbox.RecallAck {
			kind = kindRecallAck
		}
		return n.relaySend(ctx, l, kind, m.Body)
	}
	ctx, cancel := context.WithTimeout(ctx, min(n.cfg.RequestTimeout, 30*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint+path, bytes.NewReader(m.Body))
	if err != nil {
		return err.Error(), true
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := l.client.Do(req)
	if err != nil {
		return fmt.Sprintf("%s at %s: %v", m.Partner, l.endpoint, err), false
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNoContent:
		return "", false
	case resp.StatusCode >= 400 && resp.StatusCode < 500 && resp.StatusCode != http.StatusTooManyRequests &&
		resp.StatusCode != http.StatusUnauthorized:
		return fmt.Sprintf("%s refused it: %s: %s", m.Partner, resp.Status, answerText(resp.Body)), true
	default:
		return fmt.Sprintf("%s: %s: %s", m.Partner, resp.Status, answerText(resp.Body)), false
	}
}
