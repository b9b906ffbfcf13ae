package federation

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
)

// Messages through a hub. A recall notice or acknowledgement, a consent
// message, a question for the partner's side of a batch's receipt
// (BatchEntryRequest, receipts.go), or a witness's question for the
// partner's checkpoint and its cosignature (witness.go), for a member
// reached through a hub goes there as a hub message: the signed record,
// sealed with HPKE to the recipient's pinned sealing key (the hub reads
// nothing of it), signed by the sender over the parties, the kind, the
// message's id and the ciphertext (the message seal, which the hub checks
// on deposit and the recipient before anything else). The recipient
// takes its messages from the hub, verifies the seal with the sender's
// pinned key, opens the record and handles it as the handler of a direct
// link would, with the sender as the caller; the record inside is verified
// against its author's pinned key as on a direct link. It then answers,
// through the hub, with the status and text a direct link would have
// answered, sealed and signed the same way; the sender keeps the message
// queued, and deposits it again from time to time, until that answer
// arrives. A hub that drops a message delays it and shows as an
// unanswered message at the sender; one that alters or forges one is
// caught by the message seal; neither happens unseen.
//
//	POST /federation/v1/hub/message?to=R      a member leaves a message
//	                                          for R (headers: id, kind,
//	                                          seal; the body is sealed)
//	GET  /federation/v1/hub/messages?limit=N  a member's messages, JSON
//	POST /federation/v1/hub/taken?from=S&id=I a member took a message
const (
	PathHubMessage  = "/federation/v1/hub/message"
	PathHubMessages = "/federation/v1/hub/messages"
	PathHubTaken    = "/federation/v1/hub/taken"

	HeaderMessageID   = "Tearline-Message-Id"
	HeaderMessageKind = "Tearline-Message-Kind"
	HeaderMessageSeal = "Tearline-Message-Seal"

	hubMessageContext = "tearline/federation/v1/hub-message"
	// maxHubMessage bounds a sealed message: a signed record, or an answer
	// carrying a BatchEntry, and the HPKE encapsulation and tag.
	maxHubMessage = max(maxRecallRecord, maxBatchEntryBody) + 4<<10
	// maxHubPending bounds the messages a hub keeps from one member to
	// another.
	maxHubPending = 10000
	// hubInboxPage is how many messages a member takes at once.
	hubInboxPage = 100
)

// Kinds of hub message, and the path of the handler each goes to.
const (
	kindRecall    = "recall"
	kindRecallAck = "recall-ack"
	kindAnswer    = "answer"
	// kindBatchEntry asks for the partner's audit entry of a batch, for a
	// receipt (receipts.go).
	kindBatchEntry = "batch-entry"

	kindConsentRequest  = "consent-request"
	kindConsentApproval = "consent-approval"
	kindConsentDenial   = "consent-denial"
)

var relayedPaths = map[string]string{kindRecall: PathRecall, kindRecallAck: PathRecallAck,
	kindConsentRequest: PathConsentRequest, kindConsentApproval: PathConsentApproval, kindConsentDenial: PathConsentDenial,
	kindBatchEntry: PathBatchEntry, kindCheckpoint: pathRelayedCheckpoint, kindCosignature: pathRelayedCosignature}

// dataAnswers are the kinds of question whose answer names its kind (For)
// and carries what the handler answered (Body), up to the size given (0:
// nothing but the status and text); the
// handler's answer is relayed whatever its status, since the asking node
// asks again every round and a message left unanswered would hold up the
// messages behind it.
var dataAnswers = map[string]int{kindBatchEntry: maxBatchEntryBody, kindCheckpoint: maxCheckpointAnswer, kindCosignature: 0}

// ErrMessageTampered is wrapped by the error of a hub message whose seal
// is missing or does not verify, or that does not open.
var ErrMessageTampered = errors.New("relayed message altered: its seal does not verify")

var messageIDPattern = regexp.MustCompile(`^[0-9a-f]{32}$`)

// messageID names a message by its kind and content, so that a message
// deposited again is the same message.
func messageID(kind string, record []byte) string {
	h := sha256.New()
	h.Write([]byte(kind))
	h.Write([]byte{0})
	h.Write(record)
	return hex.EncodeToString(h.Sum(nil)[:16])
}

func messageDigest(sender, recipient, kind, id string, body []byte) []byte {
	var b bytes.Buffer
	b.WriteString(hubMessageContext)
	for _, s := range []string{sender, recipient, kind, id} {
		b.WriteByte(byte(len(s)))
		b.WriteString(s)
	}
	sum := sha256.Sum256(body)
	b.Write(sum[:])
	return b.Bytes()
}

// messageInfo binds the HPKE seal to the parties, the kind, the id and the
// recipient's key.
func messageInfo(sender, recipient, kind, id, keyID string) []byte {
	return messageDigest(sender, recipient, kind, id+"\x00"+keyID, nil)
}

func checkMessageHead(kind, id string) error {
	if _, ok := relayedPaths[kind]; !ok && kind != kindAnswer {
		return fmt.Errorf("%s: unknown message kind %q", HeaderMessageKind, kind)
	}
	if !messageIDPattern.MatchString(id) {
		return fmt.Errorf("%s: want 32 lowercase hex digits", HeaderMessageID)
	}
	return nil
}

// verifyMessage checks a hub message's seal with the sender's key from its
// pinned card.
func verifyMessage(cards Cards, m *mailbox.HubMessage) error {
	keyID, sig, err := ParseRangeSeal(m.Seal)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMessageTampered, err)
	}
	pub, err := KeyResolver(cards, m.Sender)(m.Sender, keyID)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrMessageTampered, err)
	}
	if !ed25519.Verify(pub, messageDigest(m.Sender, m.Recipient, m.Kind, m.ID, m.Body), sig) {
		return fmt.Errorf("%w: %s message %s from %s to %s", ErrMessageTampered, m.Kind, m.ID, m.Sender, m.Recipient)
	}
	return nil
}

// sealMessage seals record to the recipient and signs the result.
func (n *Node) sealMessage(to, kind, id string, record []byte) (*mailbox.HubMessage, error) {
	return sealMessage(n.cfg.Signer, n.cfg.Partners, to, kind, id, record, n.now())
}

// sealMessage seals record to the recipient's pinned sealing key and signs
// the result with signer's key.
func sealMessage(signer envelope.Signer, cards Cards, to, kind, id string, record []byte, now time.Time) (*mailbox.HubMessage, error) {
	key, keyID, err := sealingKey(cards, to, now)
	if err != nil {
		return nil, err
	}
	body, err := hpke.Seal(key, hpke.HKDFSHA256(), hpke.AES256GCM(), messageInfo(signer.Code, to, kind, id, keyID), record)
	if err != nil {
		return nil, fmt.Errorf("seal a %s message for %s: %w", kind, to, err)
	}
	if len(signer.KeyID) == 0 || len(signer.KeyID) > maxKeyIDLen {
		return nil, errors.New("message seal: bad key id")
	}
	seal := append([]byte{byte(len(signer.KeyID))}, signer.KeyID...)
	seal = append(seal, ed25519.Sign(signer.Key, messageDigest(signer.Code, to, kind, id, body))...)
	return &mailbox.HubMessage{Sender: signer.Code, Recipient: to, ID: id, Kind: kind, Body: body, Seal: seal}, nil
}

// openMessage verifies a message taken from a hub and opens it.
func (n *Node) openMessage(m *mailbox.HubMessage) ([]byte, error) {
	if err := verifyMessage(n.cfg.Partners, m); err != nil {
		return nil, err
	}
	record, err := hpke.Open(n.cfg.HPKEKey, hpke.HKDFSHA256(), hpke.AES256GCM(), messageInfo(m.Sender, n.self, m.Kind, m.ID, n.cfg.HPKEKeyID), m.Body)
	if err != nil {
		return nil, fmt.Errorf("%s message %s from %s does not open with %s's sealing key %s: %v", m.Kind, m.ID, m.Sender, n.self, n.cfg.HPKEKeyID, err)
	}
	if m.Kind != kindAnswer && messageID(m.Kind, record) != m.ID {
		return nil, fmt.Errorf("%w: %s message %s from %s: the id is not its content's", ErrMessageTampered, m.Kind, m.ID, m.Sender)
	}
	return record, nil
}

// relayAnswer is a recipient's answer to a message: what its handler
// answered. An answer to a question of dataAnswers names its kind (For)
// and carries, when found, the JSON the handler answered (Body): the
// BatchEntry or CheckpointAnswer, which the asking node verifies as it
// would a direct link's answer.
type relayAnswer struct {
	Status int             `json:"status"`
	Text   string          `json:"text"`
	For    string          `json:"for,omitempty"`
	Body   json.RawMessage `json:"body,omitempty"`
}

// parseRelayAnswer reads an answer opened from a hub message: a status,
// and a body only in the successful answer to a question of dataAnswers
// that carries one.
func parseRelayAnswer(data []byte) (relayAnswer, error) {
	var a relayAnswer
	if err := decodeStrict(data, &a); err != nil {
		return a, protocolError("not an answer: %v", err)
	}
	switch {
	case a.Status < 100 || a.Status > 599:
		return a, protocolError("answer: status %d", a.Status)
	case a.For != "" && !hasDataAnswer(a.For):
		return a, protocolError("answer: for %q, which is not a question whose answer names its kind", a.For)
	case len(a.Body) > 0 && (a.For == "" || dataAnswers[a.For] == 0 || a.Status != http.StatusOK):
		return a, protocolError("answer: a body in an answer that carries none")
	}
	return a, nil
}

func hasDataAnswer(kind string) bool {
	_, ok := dataAnswers[kind]
	return ok
}

type answerKey struct{ from, id string }

// relaySend delivers a message through the link's hub, as deliverRecall
// does directly: the answer if the recipient's has arrived, and otherwise
// the message left (again) at the hub and a failure that is not final.
func (n *Node) relaySend(ctx context.Context, l *link, kind string, record []byte) (string, bool) {
	id := messageID(kind, record)
	n.relayMu.Lock()
	a, ok := n.answers[answerKey{l.code, id}]
	delete(n.answers, answerKey{l.code, id})
	n.relayMu.Unlock()
	if ok {
		switch {
		case a.Status/100 == 2:
			return "", false
		case a.Status >= 400 && a.Status < 500 && a.Status != http.StatusTooManyRequests && a.Status != http.StatusUnauthorized:
			return fmt.Sprintf("%s refused it through hub %s: %d %s: %s", l.code, l.hub, a.Status, http.StatusText(a.Status), a.Text), true
		default:
			return fmt.Sprintf("%s through hub %s: %d %s: %s", l.code, l.hub, a.Status, http.StatusText(a.Status), a.Text), false
		}
	}
	m, err := n.sealMessage(l.code, kind, id, record)
	if err != nil {
		return err.Error(), false
	}
	if err := n.postMessage(ctx, l.client, l.endpoint, l.hub, m); err != nil {
		return err.Error(), false
	}
	return fmt.Sprintf("left at hub %s for %s; waiting for its answer", l.hub, l.code), false
}

// postMessage leaves a message at a hub.
func (n *Node) postMessage(ctx context.Context, client *http.Client, endpoint, hub string, m *mailbox.HubMessage) error {
	ctx, cancel := context.WithTimeout(ctx, min(n.cfg.RequestTimeout, 30*time.Second))
	defer cancel()
	return postMessage(ctx, client, endpoint, hub, m)
}

func postMessage(ctx context.Context, client *http.Client, endpoint, hub string, m *mailbox.HubMessage) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint+PathHubMessage+"?"+url.Values{"to": {m.Recipient}}.Encode(), bytes.NewReader(m.Body))
	if err != nil {
		return err
	}
	req.Header.Set(HeaderMessageID, m.ID)
	req.Header.Set(HeaderMessageKind, m.Kind)
	req.Header.Set(HeaderMessageSeal, base64.StdEncoding.EncodeToString(m.Seal))
	req.Header.Set("Content-Type", "application/octet-stream")
	if _, err := noContent(client, req); err != nil {
		return fmt.Errorf("%s message for %s at hub %s: %w", m.Kind, m.Recipient, hub, err)
	}
	return nil
}

// hubMessage is a message as a hub hands it to its recipient.
type hubMessage struct {
	From string `json:"from"`
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Body []byte `json:"body"`
	Seal []byte `json:"seal"`
}

// ParseHubMessages reads a hub's answer to GET PathHubMessages.
func ParseHubMessages(data []byte) ([]hubMessage, error) {
	var ms []hubMessage
	if err := decodeStrict(data, &ms); err != nil {
		return nil, protocolError("hub messages: %v", err)
	}
	if len(ms) > hubInboxPage {
		return nil, protocolError("hub messages: %d in one answer; at most %d were asked for", len(ms), hubInboxPage)
	}
	for _, m := range ms {
		if err := checkMessageHead(m.Kind, m.ID); err != nil {
			return nil, protocolError("hub messages: %v", err)
		}
		if m.From == "" || len(m.From) > 255 || len(m.Body) > maxHubMessage {
			return nil, protocolError("hub messages: a message from %q of %d bytes", m.From, len(m.Body))
		}
	}
	return ms, nil
}

// hubRoute is how this node reaches one hub: the client and endpoint of a
// link routed through it.
type hubRoute struct {
	code, endpoint string
	client         *http.Client
}

func (n *Node) hubsInUse() []hubRoute {
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[string]bool{}
	var out []hubRoute
	for _, l := range n.links {
		if l.hub != "" && !seen[l.hub] {
			seen[l.hub] = true
			out = append(out, hubRoute{l.hub, l.endpoint, l.client})
		}
	}
	return out
}

// runHubInbox takes this node's messages from the hubs it uses, every
// PollInterval and whenever a hub says it holds some, until ctx ends.
func (n *Node) runHubInbox(ctx context.Context) func() {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(n.cfg.PollInterval)
		defer tick.Stop()
		for {
			for _, h := range n.hubsInUse() {
				if err := n.takeMessages(ctx, h); err != nil && ctx.Err() == nil {
					n.log.Warn("hub messages", "hub", h.code, "err", err)
				}
			}
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			case <-n.inboxWake:
			}
		}
	}()
	return func() { cancel(); <-done }
}

// takeMessages handles the messages one hub holds for this node.
func (n *Node) takeMessages(ctx context.Context, h hubRoute) error {
	for {
		ms, err := n.fetchMessages(ctx, h)
		if err != nil {
			return err
		}
		for _, hm := range ms {
			m := mailbox.HubMessage{Sender: hm.From, Recipient: n.self, ID: hm.ID, Kind: hm.Kind, Body: hm.Body, Seal: hm.Seal}
			if err := n.handleMessage(ctx, h, &m); err != nil {
				return err
			}
		}
		if len(ms) < hubInboxPage {
			return nil
		}
	}
}

func (n *Node) fetchMessages(ctx context.Context, h hubRoute) ([]hubMessage, error) {
	ctx, cancel := context.WithTimeout(ctx, min(n.cfg.RequestTimeout, 30*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, h.endpoint+PathHubMessages+"?limit="+strconv.Itoa(hubInboxPage), nil)
	if err != nil {
		return nil, err
	}
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s", resp.Status, answerText(resp.Body))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, hubInboxPage*(2*maxHubMessage)+1<<16))
	if err != nil {
		return nil, err
	}
	return ParseHubMessages(data)
}

// handleMessage handles one message taken from a hub: an answer to one of
// this node's messages is kept for the delivery loop; any other is handled
// as its handler would handle it from a direct link, and answered. The
// message is taken off the hub once answered, or refused as altered.
func (n *Node) handleMessage(ctx context.Context, h hubRoute, m *mailbox.HubMessage) error {
	record, err := n.openMessage(m)
	if err != nil {
		// Not from the sender as it was sealed: reported where the link
		// with the sender shows its errors, and dropped; the sender, never
		// answered, leaves it again.
		n.log.Warn("hub message refused", "hub", h.code, "from", m.Sender, "kind", m.Kind, "err", err)
		if l := n.link(m.Sender); l != nil {
			n.linkError(ctx, l, mailbox.Receive, fmt.Sprintf("through hub %s: %v", h.code, err))
		}
		return n.takeMessage(ctx, h, m)
	}
	if m.Kind == kindAnswer {
		if a, err := parseRelayAnswer(record); err != nil {
			n.log.Warn("hub message refused", "hub", h.code, "from", m.Sender, "kind", m.Kind, "err", err)
		} else if a.For == kindBatchEntry {
			if err := n.receiptAnswered(ctx, m.Sender, m.ID, a); err != nil {
				return err // taken next time
			}
		} else if a.For == kindCheckpoint {
			if err := n.checkpointAnswered(ctx, h, m.Sender, a); err != nil {
				return err
			}
		} else if a.For == kindCosignature {
			if a.Status/100 != 2 {
				n.log.Warn("witness: partner refused the cosignature", "partner", m.Sender, "status", a.Status, "answer", a.Text)
			}
		} else if consent, err := n.consentAnswered(ctx, m.Sender, m.ID, a); err != nil {
			return err // taken next time
		} else if !consent {
			n.relayMu.Lock()
			if len(n.answers) < maxHubPending {
				n.answers[answerKey{m.Sender, m.ID}] = a
			}
			n.relayMu.Unlock()
			select {
			case n.answered <- struct{}{}:
			default:
			}
		}
		return n.takeMessage(ctx, h, m)
	}
	rec := &answerRecorder{header: http.Header{}, limit: max(4<<10, dataAnswers[m.Kind]+1)}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, relayedFrom{}, m.Sender), http.MethodPost, relayedPaths[m.Kind], bytes.NewReader(record))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	n.relayMux.ServeHTTP(rec, req)
	if rec.status == 0 {
		rec.status = http.StatusOK
	}
	// A server error is handled again next time, as the sender would
	// retry it; but a question of dataAnswers is answered whatever its
	// status (503: not in a signed checkpoint yet).
	if rec.status >= 500 && !hasDataAnswer(m.Kind) {
		return fmt.Errorf("%s message %s from %s: %d %s", m.Kind, m.ID, m.Sender, rec.status, strings.TrimSpace(rec.body.String()))
	}
	if l := n.link(m.Sender); l != nil && l.hub == h.code {
		n.linkError(ctx, l, mailbox.Receive, "")
	}
	ra := relayAnswer{Status: rec.status}
	if limit, ok := dataAnswers[m.Kind]; ok {
		ra.For = m.Kind
		switch {
		case rec.status != http.StatusOK || limit == 0:
		case rec.body.Len() > limit || !json.Valid(rec.body.Bytes()):
			ra.Status = http.StatusInternalServerError
			rec.body.Reset()
			rec.body.WriteString("the answer does not fit in a message through the hub")
		default:
			ra.Body = rec.body.Bytes()
		}
	}
	if ra.Body == nil {
		text := rec.body.String()
		if len(text) > 1024 {
			text = strings.ToValidUTF8(text[:1024], "")
		}
		ra.Text = strings.TrimSpace(text)
	}
	answer, err := json.Marshal(ra)
	if err != nil {
		return err
	}
	am, err := n.sealMessage(m.Sender, kindAnswer, m.ID, answer)
	if err != nil {
		return err
	}
	if err := n.postMessage(ctx, h.client, h.endpoint, h.code, am); err != nil {
		return err // handled again, as the direct handler would, and answered next time
	}
	return n.takeMessage(ctx, h, m)
}

func (n *Node) takeMessage(ctx context.Context, h hubRoute, m *mailbox.HubMessage) error {
	ctx, cancel := context.WithTimeout(ctx, min(n.cfg.RequestTimeout, 30*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.endpoint+PathHubTaken+"?"+url.Values{"from": {m.Sender}, "id": {m.ID}}.Encode(), nil)
	if err != nil {
		return err
	}
	if _, err := noContent(h.client, req); err != nil {
		return fmt.Errorf("taking %s message %s from %s: %w", m.Kind, m.ID, m.Sender, err)
	}
	return nil
}

// relayedFrom is the context key under which a message taken from a hub
// carries its sender, as authenticate reads it; only this package sets it.
type relayedFrom struct{}

// answerRecorder keeps what a handler answers a relayed message, up to
// limit bytes.
type answerRecorder struct {
	header http.Header
	status int
	body   bytes.Buffer
	limit  int
}

func (r *answerRecorder) Header() http.Header { return r.header }
func (r *answerRecorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}
func (r *answerRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	if r.body.Len() < r.limit {
		r.body.Write(b[:min(len(b), r.limit-r.body.Len())])
	}
	return len(b), nil
}

// Hub side.

func (h *Hub) servePostMessage(w http.ResponseWriter, r *http.Request) {
	sender, to, ok := h.memberOnly(w, r, "to")
	if !ok {
		return
	}
	id, kind := r.Header.Get(HeaderMessageID), r.Header.Get(HeaderMessageKind)
	if err := checkMessageHead(kind, id); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.ContentLength > maxHubMessage {
		http.Error(w, "message too large", http.StatusRequestEntityTooLarge)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHubMessage+1))
	if err != nil || len(body) > maxHubMessage || len(body) == 0 {
		http.Error(w, fmt.Sprintf("the body must be 1 to %d bytes", maxHubMessage), http.StatusBadRequest)
		return
	}
	m := mailbox.HubMessage{Sender: sender, Recipient: to, ID: id, Kind: kind, Body: body, Stored: h.cfg.Now().UTC()}
	m.Seal, err = base64.StdEncoding.Strict().DecodeString(r.Header.Get(HeaderMessageSeal))
	if err == nil {
		err = verifyMessage(h.cfg.Members, &m)
	}
	if err != nil {
		http.Error(w, "message seal: "+err.Error(), http.StatusBadRequest)
		return
	}
	added, err := h.cfg.Store.HubPost(r.Context(), m, maxHubPending)
	switch {
	case errors.Is(err, mailbox.ErrHubFull):
		w.Header().Set("Retry-After", "30")
		http.Error(w, err.Error(), http.StatusTooManyRequests)
		return
	case err != nil:
		h.log.Error("message", "sender", sender, "recipient", to, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if added {
		h.notify(to)
	}
	w.WriteHeader(http.StatusNoContent)
}

func (h *Hub) serveMessages(w http.ResponseWriter, r *http.Request) {
	if r.TLS == nil {
		http.Error(w, "the hub is served over mutual TLS only", http.StatusUnauthorized)
		return
	}
	recipient, err := peerMember(r, h)
	if err != nil {
		http.Error(w, "not a pinned member", http.StatusUnauthorized)
		return
	}
	q := r.URL.Query()
	limit, err := strconv.Atoi(q.Get("limit"))
	if len(q) != 1 || err != nil || limit < 1 || limit > hubInboxPage {
		http.Error(w, fmt.Sprintf("give limit, 1 to %d, and nothing else", hubInboxPage), http.StatusBadRequest)
		return
	}
	ms, err := h.cfg.Store.HubInbox(r.Context(), recipient, limit)
	if err != nil {
		h.log.Error("messages", "recipient", recipient, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	out := make([]hubMessage, 0, len(ms))
	for i := range ms {
		if h.tamperMessage != nil {
			h.tamperMessage(&ms[i])
		}
		out = append(out, hubMessage{From: ms[i].Sender, ID: ms[i].ID, Kind: ms[i].Kind, Body: ms[i].Body, Seal: ms[i].Seal})
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (h *Hub) serveTaken(w http.ResponseWriter, r *http.Request) {
	recipient, from, ok := h.member(w, r, "from")
	if !ok {
		return
	}
	q := r.URL.Query()
	id := q.Get("id")
	if len(q) != 2 || len(q["id"]) != 1 || !messageIDPattern.MatchString(id) {
		http.Error(w, "give from and id (32 lowercase hex digits) once each", http.StatusBadRequest)
		return
	}
	if err := h.cfg.Store.HubTake(r.Context(), recipient, from, id); err != nil {
		h.log.Error("taken", "recipient", recipient, "sender", from, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// wakeHub answers a hub's notification: the links routed through it pull,
// and the messages it holds are taken. It reports whether code is a hub
// this node uses.
func (n *Node) wakeHub(code string) bool {
	n.mu.Lock()
	found := false
	for _, l := range n.links {
		if l.hub == code {
			found = true
			l.poke(l.wake)
		}
	}
	n.mu.Unlock()
	if found {
		select {
		case n.inboxWake <- struct{}{}:
		default:
		}
	}
	return found
}

// ErrAwaitingAnswer is wrapped by HubRelay.Post's error for a message left
// at a hub: it is on its way, and the recipient's answer comes, through
// the hub, to the serving node, which records it.
var ErrAwaitingAnswer = errors.New("left at the hub; the serving node records the partner's answer when it comes")

// HubRelay sends the consent workflow's messages (Workflow.Relay) to the
// partners a node reaches through a hub, as hub messages; the serving
// node takes the answers from the hub and records each against its
// request (the request's delivery).
type HubRelay struct {
	Signer   envelope.Signer
	Partners Partners
	// Hubs and Via are the node's, as in Config.
	Hubs []string
	Via  map[string]string
	// Dial reaches the hub.
	Dial Dialer
	Now  func() time.Time
}

// Post leaves body, for path on partner code, at the hub code is reached
// through, and returns true with an error wrapping ErrAwaitingAnswer; or
// false, doing nothing, when code is not reached through a hub.
func (r *HubRelay) Post(ctx context.Context, code, path string, body []byte) (bool, error) {
	pinned, err := r.Partners.List()
	if err != nil {
		return false, err
	}
	routes, _ := HubRoutes(pinned, r.Signer.Code, r.Hubs, r.Via)
	hub := routes[code]
	if hub == "" {
		return false, nil
	}
	kind := ""
	for k, p := range relayedPaths {
		if p == path {
			kind = k
		}
	}
	if kind == "" {
		return true, fmt.Errorf("%s cannot go through hub %s", path, hub)
	}
	now := time.Now
	if r.Now != nil {
		now = r.Now
	}
	m, err := sealMessage(r.Signer, r.Partners, code, kind, messageID(kind, body), body, now().UTC())
	if err != nil {
		return true, err
	}
	client, endpoint, err := r.Dial(hub)
	if err != nil {
		return true, fmt.Errorf("hub %s: %w", hub, err)
	}
	if err := postMessage(ctx, client, strings.TrimRight(endpoint, "/"), hub, m); err != nil {
		return true, err
	}
	return true, fmt.Errorf("%s through hub %s: %w", code, hub, ErrAwaitingAnswer)
}

// consentAnswered records an answer from partner from to one of the
// consent workflow's messages left at a hub: the delivery of the request
// (outbox) or of the decision (inbox) it was for. It reports whether it
// was one.
func (n *Node) consentAnswered(ctx context.Context, from, id string, a relayAnswer) (bool, error) {
	w := n.workflow()
	if w == nil {
		return false, nil
	}
	for _, box := range []mailbox.RequestBox{mailbox.RequestOutbox, mailbox.RequestInbox} {
		rs, err := w.Store.Requests(ctx, box)
		if err != nil {
			return false, err
		}
		for _, r := range rs {
			kind, body := "", []byte(nil)
			switch {
			case box == mailbox.RequestOutbox && r.Originator == from:
				kind = kindConsentRequest
				body, err = ConsentRequest{ID: r.ID, Requester: r.Requester, Originator: r.Originator, Recipient: r.Recipient,
					Object: r.Object, Version: r.Version, Note: r.Note}.Marshal()
				if err != nil {
					continue
				}
			case box == mailbox.RequestInbox && r.Requester == from && r.State == mailbox.RequestApproved:
				kind, body = kindConsentApproval, r.Record
			case box == mailbox.RequestInbox && r.Requester == from && r.State == mailbox.RequestDenied:
				kind, body = kindConsentDenial, r.Record
			default:
				continue
			}
			if messageID(kind, body) != id {
				continue
			}
			at, msg := n.now(), ""
			if a.Status/100 != 2 {
				at, msg = time.Time{}, fmt.Sprintf("%s answered through its hub %d %s: %s", from, a.Status, http.StatusText(a.Status), a.Text)
			}
			return true, w.Store.SetDelivered(ctx, box, r.ID, at, msg)
		}
	}
	return false, nil
}
