package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/partner"
)

// Relay through a hub. Two members with no direct link reach each other
// through a community hub that both pin: the sender deposits each batch,
// sealed to the recipient alone, at the hub; the recipient pulls it from
// the hub. A member routes a partner through a hub when Config.Via names
// the hub for it, or when the partner's pinned card names, as its
// endpoint, the endpoint of a pinned hub (Config.Hubs).
//
// The hub holds ciphertext only and cannot alter what it relays unseen:
// the envelope is signed by the sender and sealed to the recipient, and
// the range it covers in the sender's outbox, which a direct link takes
// from the sender itself, is signed by the sender too (the range seal,
// over the range, the sender's head, the entries withheld and the
// envelope's hash). A recipient refuses a batch whose range seal does not
// verify with the key on the sender's pinned card, and so a hub that
// drops, reorders, forges or alters batches is caught: it can delay the
// exchange, never change it. Receipts of refusals are not relayed (they
// name objects); the recipient's audit log keeps its refusals. Recall
// notices, acknowledgements, consent messages, the questions and answers
// that make the receipts of batches (receipts.go) and the witnessing of
// audit logs (witness.go) go through the hub too, sealed (hubmsg.go). The hub notifies a member whose card, as the hub pins it,
// names an endpoint when a batch or a message arrives for it; members
// also poll the hub every PollInterval.
//
//	GET  /federation/v1/hub/position?to=R   a member asks how far the hub
//	                                        holds its stream to R
//	POST /federation/v1/hub/deposit?to=R    a member deposits its next batch
//	                                        for R: the batch headers, the
//	                                        range seal and the envelope
//	GET  /federation/v1/hub/batch?from=S&after=N&limit=L&acked=A
//	                                        a member pulls S's next batch
const (
	PathHubPosition = "/federation/v1/hub/position"
	PathHubDeposit  = "/federation/v1/hub/deposit"
	PathHubBatch    = "/federation/v1/hub/batch"

	// HeaderRangeSeal carries the sender's range seal, base64: the id of
	// its signing key (str8) followed by the Ed25519 signature.
	HeaderRangeSeal = "Tearline-Range-Seal"
	// HeaderAcked is, in a position answer, the last sequence number the
	// recipient acknowledged to the hub.
	HeaderAcked = "Tearline-Acked"

	rangeSealContext = "tearline/federation/v1/hub-range"
	maxRangeSeal     = 1 + maxKeyIDLen + ed25519.SignatureSize
	maxKeyIDLen      = 64
)

// ErrRelayTampered is wrapped by the error of a batch relayed by a hub
// whose range seal is missing or does not verify: the hub, or something
// on its way, changed the batch or its range.
var ErrRelayTampered = errors.New("relayed batch altered: its range seal does not verify")

// rangeDigest is what a range seal signs.
func rangeDigest(sender, recipient string, h BatchHeader, env []byte) []byte {
	var b bytes.Buffer
	b.WriteString(rangeSealContext)
	for _, s := range []string{sender, recipient} {
		b.WriteByte(byte(len(s)))
		b.WriteString(s)
	}
	for _, v := range []uint64{h.After, h.Through, h.Head, uint64(h.Withheld)} {
		b.Write(binary.BigEndian.AppendUint64(nil, v))
	}
	sum := sha256.Sum256(env)
	b.Write(sum[:])
	return b.Bytes()
}

// sealRange signs a batch's range for the recipient.
func sealRange(s envelope.Signer, recipient string, h BatchHeader, env []byte) ([]byte, error) {
	if len(s.KeyID) == 0 || len(s.KeyID) > maxKeyIDLen || len(s.Code) > 255 || len(recipient) > 255 {
		return nil, errors.New("range seal: bad key id or partner code")
	}
	sig := ed25519.Sign(s.Key, rangeDigest(s.Code, recipient, h, env))
	out := append([]byte{byte(len(s.KeyID))}, s.KeyID...)
	return append(out, sig...), nil
}

// ParseRangeSeal splits a range seal into its key id and signature.
func ParseRangeSeal(seal []byte) (keyID string, sig []byte, err error) {
	if len(seal) < 2 || len(seal) > maxRangeSeal {
		return "", nil, protocolError("range seal of %d bytes", len(seal))
	}
	n := int(seal[0])
	if n == 0 || n > maxKeyIDLen || len(seal) != 1+n+ed25519.SignatureSize {
		return "", nil, protocolError("range seal: key id of %d bytes in a seal of %d", n, len(seal))
	}
	return string(seal[1 : 1+n]), seal[1+n:], nil
}

// verifyRange checks a relayed batch's range seal with the sender's key
// from its pinned card.
func verifyRange(cards Cards, sender, recipient string, h BatchHeader, seal, env []byte) error {
	keyID, sig, err := ParseRangeSeal(seal)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRelayTampered, err)
	}
	pub, err := KeyResolver(cards, sender)(sender, keyID)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrRelayTampered, err)
	}
	if !ed25519.Verify(pub, rangeDigest(sender, recipient, h, env), sig) {
		return fmt.Errorf("%w: batch (%d, %d] from %s to %s", ErrRelayTampered, h.After, h.Through, sender, recipient)
	}
	return nil
}

// checkRelayed checks a batch pulled from a hub: any range but an empty
// one (nothing new) must carry the sender's range seal over the range and
// the body.
func (n *Node) checkRelayed(sender string, hd http.Header, h BatchHeader, body []byte) error {
	if h.Through == h.After {
		return nil // nothing to apply; the cursor does not move
	}
	vals := hd.Values(HeaderRangeSeal)
	if len(vals) != 1 {
		return fmt.Errorf("%w: batch (%d, %d] from %s relayed without a range seal", ErrRelayTampered, h.After, h.Through, sender)
	}
	seal, err := base64.StdEncoding.Strict().DecodeString(vals[0])
	if err != nil {
		return fmt.Errorf("%w: range seal: %v", ErrRelayTampered, err)
	}
	return verifyRange(n.cfg.Partners, sender, n.self, h, seal, body)
}

// hubRoutes returns, for the pinned partners reached through a hub, the
// hub's code, and the set of hubs (which get no link of their own).
func (n *Node) hubRoutes(pinned []*partner.Pinned) (map[string]string, map[string]bool) {
	return HubRoutes(pinned, n.self, n.cfg.Hubs, n.cfg.Via)
}

// HubRoutes returns, for the partners pinned by node self that it reaches
// through a hub, the hub's code (see Config.Hubs and Config.Via), and the
// set of hubs.
func HubRoutes(pinned []*partner.Pinned, self string, hubList []string, via map[string]string) (map[string]string, map[string]bool) {
	hubs := map[string]bool{}
	for _, h := range hubList {
		hubs[h] = true
	}
	for _, h := range via {
		hubs[h] = true
	}
	hubEndpoint := map[string]string{}
	for _, p := range pinned {
		if hubs[p.Card.Partner] && len(p.Card.Endpoints) > 0 {
			hubEndpoint[p.Card.Partner] = p.Card.Endpoints[0]
		}
	}
	routes := map[string]string{}
	for _, p := range pinned {
		code := p.Card.Partner
		if hubs[code] || code == self {
			continue
		}
		if h, ok := via[code]; ok {
			routes[code] = h
			continue
		}
		if len(p.Card.Endpoints) == 0 {
			continue
		}
		for _, h := range slices.Sorted(maps.Keys(hubEndpoint)) {
			if hubEndpoint[h] == p.Card.Endpoints[0] {
				routes[code] = h
				break
			}
		}
	}
	return routes, hubs
}

// batchURL is where a link asks for the partner's next batch: the
// partner's node, or the hub the partner is reached through.
func batchURL(l *link, q BatchQuery) string {
	if l.hub == "" {
		return l.endpoint + PathBatch + "?" + q.Encode()
	}
	return l.endpoint + PathHubBatch + "?" + q.Encode() + "&" + url.Values{"from": {l.code}}.Encode()
}

// pushToHub deposits at the hub every batch queued for the link's partner
// that the hub does not hold yet, and passes on to the outbox the
// partner's acknowledgement the hub reports.
func (n *Node) pushToHub(ctx context.Context, l *link) error {
	for {
		pos, err := n.hubPosition(ctx, l)
		if err != nil {
			return err
		}
		b, err := n.buildBatch(ctx, l.code, BatchQuery{After: pos.Through, Limit: n.cfg.MaxBatch, Acked: pos.Acked})
		if err != nil {
			return fmt.Errorf("batch for %s through %s: %w", l.code, l.hub, err)
		}
		if b.header.Through == b.header.After {
			return nil
		}
		seal, err := sealRange(n.cfg.Signer, l.code, b.header, b.envelope)
		if err != nil {
			return err
		}
		if err := n.deposit(ctx, l, b, seal); err != nil {
			return err
		}
	}
}

func (n *Node) hubPosition(ctx context.Context, l *link) (mailbox.HubPosition, error) {
	pos := mailbox.HubPosition{Sender: n.self, Recipient: l.code}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.endpoint+PathHubPosition+"?"+url.Values{"to": {l.code}}.Encode(), nil)
	if err != nil {
		return pos, err
	}
	header, err := noContent(l.client, req)
	if err != nil {
		return pos, fmt.Errorf("hub %s for %s: %w", l.hub, l.code, err)
	}
	for _, f := range []struct {
		name string
		v    *uint64
	}{{HeaderThrough, &pos.Through}, {HeaderAcked, &pos.Acked}} {
		if *f.v, err = strconv.ParseUint(header.Get(f.name), 10, 63); err != nil {
			return pos, fmt.Errorf("hub %s for %s: %w", l.hub, l.code, protocolError("header %s: %v", f.name, err))
		}
	}
	if pos.Acked > pos.Through {
		return pos, fmt.Errorf("hub %s for %s: %w", l.hub, l.code, protocolError("acknowledged %d past %d", pos.Acked, pos.Through))
	}
	return pos, nil
}

func (n *Node) deposit(ctx context.Context, l *link, b *batch, seal []byte) error {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint+PathHubDeposit+"?"+url.Values{"to": {l.code}}.Encode(), bytes.NewReader(b.envelope))
	if err != nil {
		return err
	}
	b.header.Set(req.Header)
	req.Header.Set(HeaderRangeSeal, base64.StdEncoding.EncodeToString(seal))
	req.Header.Set("Content-Type", ContentTypeEnvelope)
	if _, err := noContent(l.client, req); err != nil {
		return fmt.Errorf("deposit for %s at hub %s: %w", l.code, l.hub, err)
	}
	return nil
}

// HubConfig is what a hub needs.
type HubConfig struct {
	// Members are the pinned cards of the nodes the hub relays for; TLS
	// pins their certificates.
	Members Cards
	TLS     partner.TLSOptions
	Store   mailbox.HubStore
	Logger  *slog.Logger
	Now     func() time.Time
}

// Hub relays sealed batches between its members. It never holds a key
// that opens them.
type Hub struct {
	cfg HubConfig
	log *slog.Logger
	// tamper and tamperMessage, if set, change each batch or message
	// before it is served: test hooks playing a dishonest hub.
	tamper        func(*mailbox.HubBatch)
	tamperMessage func(*mailbox.HubMessage)

	// Notifications to members that something arrived for them.
	ctx       context.Context
	stop      context.CancelFunc
	notifyMu  sync.Mutex
	notifying map[string]*hubNotify
	wg        sync.WaitGroup
}

// hubNotify is the state of the notifications to one member: one at a
// time, and one more if something arrived meanwhile.
type hubNotify struct {
	running, again bool
	client         *http.Client
}

// NewHub checks the config and returns the hub.
func NewHub(cfg HubConfig) (*Hub, error) {
	switch {
	case cfg.Members == nil || cfg.TLS.Pins == nil:
		return nil, errors.New("hub: no pinned members")
	case cfg.Store == nil:
		return nil, errors.New("hub: no store")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	ctx, stop := context.WithCancel(context.Background())
	return &Hub{cfg: cfg, log: cfg.Logger.With("component", "hub"), ctx: ctx, stop: stop,
		notifying: map[string]*hubNotify{}}, nil
}

// Close stops the notifications under way and waits for them.
func (h *Hub) Close() {
	h.stop()
	h.wg.Wait()
	h.notifyMu.Lock()
	defer h.notifyMu.Unlock()
	for _, st := range h.notifying {
		if st.client != nil {
			st.client.CloseIdleConnections()
		}
	}
}

// notify tells member to that the hub holds something new for it (a batch
// or a message), so that it takes it at once rather than at its next
// poll. A member whose card at the hub names no endpoint, or that cannot
// be reached, finds it when it polls.
func (h *Hub) notify(to string) {
	h.notifyMu.Lock()
	st := h.notifying[to]
	if st == nil {
		st = &hubNotify{}
		h.notifying[to] = st
	}
	if st.running {
		st.again = true
		h.notifyMu.Unlock()
		return
	}
	if h.ctx.Err() != nil {
		h.notifyMu.Unlock()
		return
	}
	st.running = true
	h.wg.Add(1)
	h.notifyMu.Unlock()
	go func() {
		defer h.wg.Done()
		for {
			if err := h.sendNotify(st, to); err != nil && h.ctx.Err() == nil {
				h.log.Debug("notify", "member", to, "err", err)
			}
			h.notifyMu.Lock()
			if !st.again || h.ctx.Err() != nil {
				st.running = false
				h.notifyMu.Unlock()
				return
			}
			st.again = false
			h.notifyMu.Unlock()
		}
	}()
}

func (h *Hub) sendNotify(st *hubNotify, to string) error {
	p, err := h.cfg.Members.Get(to)
	if err != nil {
		return err
	}
	if len(p.Card.Endpoints) == 0 {
		return nil
	}
	if st.client == nil {
		cfg, err := partner.ClientConfig(h.cfg.TLS, to)
		if err != nil {
			return err
		}
		st.client = &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 1, IdleConnTimeout: 90 * time.Second}}
	}
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(p.Card.Endpoints[0], "/")+PathNotify, strings.NewReader(`{"head":0}`))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = noContent(st.client, req)
	return err
}

// Mount registers the hub's handlers on mux.
func (h *Hub) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathHubPosition, h.servePosition)
	mux.HandleFunc("POST "+PathHubDeposit, h.serveDeposit)
	mux.HandleFunc("GET "+PathHubBatch, h.serveBatch)
	mux.HandleFunc("POST "+PathHubMessage, h.servePostMessage)
	mux.HandleFunc("GET "+PathHubMessages, h.serveMessages)
	mux.HandleFunc("POST "+PathHubTaken, h.serveTaken)
}

// peerMember returns the pinned member that made a request over mutual
// TLS.
func peerMember(r *http.Request, h *Hub) (string, error) {
	return partner.PeerPartner(*r.TLS, h.cfg.TLS.Pins)
}

// member authenticates the caller and reads the other member a request
// names (param), which must be pinned too.
func (h *Hub) member(w http.ResponseWriter, r *http.Request, param string) (caller, other string, ok bool) {
	if r.TLS == nil {
		http.Error(w, "the hub is served over mutual TLS only", http.StatusUnauthorized)
		return "", "", false
	}
	caller, err := peerMember(r, h)
	if err != nil {
		http.Error(w, "not a pinned member", http.StatusUnauthorized)
		return "", "", false
	}
	q := r.URL.Query()
	vals := q[param]
	if len(vals) != 1 {
		http.Error(w, "give "+param+" exactly once", http.StatusBadRequest)
		return "", "", false
	}
	other = vals[0]
	if _, err := h.cfg.Members.Get(other); err != nil || other == caller {
		http.Error(w, param+": not another member of this hub", http.StatusNotFound)
		return "", "", false
	}
	return caller, other, true
}

// memberOnly is member for a request whose query holds param alone.
func (h *Hub) memberOnly(w http.ResponseWriter, r *http.Request, param string) (caller, other string, ok bool) {
	if caller, other, ok = h.member(w, r, param); ok && len(r.URL.Query()) != 1 {
		http.Error(w, "only "+param+" is known", http.StatusBadRequest)
		return "", "", false
	}
	return caller, other, ok
}

func (h *Hub) servePosition(w http.ResponseWriter, r *http.Request) {
	sender, to, ok := h.memberOnly(w, r, "to")
	if !ok {
		return
	}
	pos, err := h.cfg.Store.HubPosition(r.Context(), sender, to)
	if err != nil {
		h.log.Error("position", "sender", sender, "recipient", to, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set(HeaderThrough, strconv.FormatUint(pos.Through, 10))
	w.Header().Set(HeaderAcked, strconv.FormatUint(pos.Acked, 10))
	w.WriteHeader(http.StatusNoContent)
}

// serveDeposit keeps a member's next batch for another. The hub checks
// what it can without opening anything: the batch continues the stream,
// its envelope is from the caller to the recipient alone with the range's
// last sequence number, and the range seal verifies with the caller's key.
func (h *Hub) serveDeposit(w http.ResponseWriter, r *http.Request) {
	sender, to, ok := h.memberOnly(w, r, "to")
	if !ok {
		return
	}
	pos, err := h.cfg.Store.HubPosition(r.Context(), sender, to)
	if err != nil {
		h.log.Error("position", "sender", sender, "recipient", to, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd, err := ParseBatchHeader(r.Header, pos.Through)
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if r.ContentLength > maxEnvelope {
		http.Error(w, "batch too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxEnvelope+1))
	if err != nil || len(body) > maxEnvelope {
		http.Error(w, "unreadable or too large body", http.StatusBadRequest)
		return
	}
	seal, err := base64.StdEncoding.Strict().DecodeString(r.Header.Get(HeaderRangeSeal))
	if err == nil {
		err = verifyRange(h.cfg.Members, sender, to, hd, seal, body)
	}
	if err != nil {
		http.Error(w, "range seal: "+err.Error(), http.StatusBadRequest)
		return
	}
	switch {
	case hd.Through == hd.After:
		http.Error(w, "an empty range is not a batch", http.StatusBadRequest)
		return
	case len(body) > 0:
		env, err := envelope.Parse(body)
		if err != nil {
			http.Error(w, "envelope: "+err.Error(), http.StatusBadRequest)
			return
		}
		eh := env.Header
		if eh.Sender != sender || !slices.Equal(eh.Recipients, []string{to}) || eh.Sequence != hd.Through {
			http.Error(w, "the envelope must be from the caller, to the recipient alone, numbered with the range's last sequence number", http.StatusBadRequest)
			return
		}
	case hd.Withheld != int(hd.Through-hd.After):
		http.Error(w, "a range with entries sent has an envelope", http.StatusBadRequest)
		return
	}
	_, err = h.cfg.Store.HubDeposit(r.Context(), mailbox.HubBatch{Sender: sender, Recipient: to, After: hd.After,
		Through: hd.Through, Head: hd.Head, Withheld: hd.Withheld, Envelope: body, RangeSeal: seal, Stored: h.cfg.Now().UTC()})
	switch {
	case errors.Is(err, mailbox.ErrHubRange):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case err != nil:
		h.log.Error("deposit", "sender", sender, "recipient", to, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h.notify(to)
	w.WriteHeader(http.StatusNoContent)
}

// serveBatch hands a member the next batch another deposited for it, with
// the range seal, and records its acknowledgement.
func (h *Hub) serveBatch(w http.ResponseWriter, r *http.Request) {
	recipient, from, ok := h.member(w, r, "from")
	if !ok {
		return
	}
	v := r.URL.Query()
	v.Del("from")
	q, err := ParseBatchQuery(v.Encode())
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	b, pos, err := h.cfg.Store.HubNext(r.Context(), from, recipient, q.After, q.Acked)
	switch {
	case errors.Is(err, mailbox.ErrHubRange):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case err != nil:
		h.log.Error("batch", "sender", from, "recipient", recipient, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if b == nil {
		BatchHeader{After: q.After, Through: q.After, Head: pos.Through}.Set(w.Header())
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	if h.tamper != nil {
		h.tamper(b)
	}
	BatchHeader{After: b.After, Through: b.Through, Head: b.Head, Withheld: b.Withheld}.Set(w.Header())
	w.Header().Set(HeaderRangeSeal, base64.StdEncoding.EncodeToString(b.RangeSeal))
	w.Header().Set("Content-Length", strconv.Itoa(len(b.Envelope)))
	if len(b.Envelope) > 0 {
		w.Header().Set("Content-Type", ContentTypeEnvelope)
	}
	w.WriteHeader(http.StatusOK)
	w.Write(b.Envelope)
}
