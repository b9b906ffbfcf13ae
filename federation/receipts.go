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
	"net/url"
	"strconv"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// Receipts: each side of a batch keeps the other's audit entry of it, with
// an inclusion proof against a checkpoint the other signed. Each store
// notes, in the transaction of its own entry of a batch, the entry's index
// (mailbox.BatchReceipt). Checkpoints are signed only every few seconds,
// so the partner's side is fetched later: the node asks the partner for
// its entry of the batch (GET PathBatchEntry), which the partner looks up
// by the index its store noted and answers with its newest checkpoint and
// the entry's inclusion proof in it. The node verifies the checkpoint with
// the partner's pinned key, the proof against the entry it was given, and
// that the entry records that very batch between the two (kind, parties,
// range), and keeps it all. An answer that does not verify is an alert in
// the audit log and is kept as the receipt's failure.
//
// A partner reached only through a hub is asked the same question as a
// hub message (BatchEntryRequest, kind "batch-entry"), sealed to it and
// signed end to end like every hub message; it answers, through the hub,
// what GET PathBatchEntry would have answered, sealed and signed too. The
// hub reads neither and cannot alter either unseen; the answer is then
// verified, kept or refused exactly as a direct link's is.

// PathBatchEntry serves a node's audit entry of a batch with the caller:
//
//	GET /federation/v1/batch-entry?role=R&through=N
//
// R is the answering node's role in the batch: "sender" for its entry of
// sending batch N to the caller, "recipient" for its entry of receiving
// the caller's batch N. The answer is a BatchEntry; 404 when the node
// logged no such batch, 503 when the entry is not in a signed checkpoint
// yet.
const PathBatchEntry = "/federation/v1/batch-entry"

// maxBatchEntryBody bounds a BatchEntry answer: an entry, a checkpoint
// with its cosignatures and 64 hashes.
const maxBatchEntryBody = 256 << 10

// BatchEntry is a node's audit entry of a batch, with what proves its log
// holds it.
type BatchEntry struct {
	// Index is the entry's leaf index in the node's log.
	Index uint64 `json:"index"`
	// Entry is the encoded audit event (base64 in JSON).
	Entry []byte `json:"entry"`
	// Checkpoint is the signed checkpoint the proof is against.
	Checkpoint string `json:"checkpoint"`
	// Proof is the RFC 6962 audit path, hex hashes, from the leaf up.
	Proof []string `json:"proof"`
}

// HexHashes is a proof's hashes as the node API writes them: hex, in
// order (from the leaf up, or as the consistency proof lists them).
func HexHashes(hashes [][]byte) []string {
	out := make([]string, len(hashes))
	for i, h := range hashes {
		out[i] = hex.EncodeToString(h)
	}
	return out
}

// ParseHexHashes reads the hashes of a proof written by HexHashes: at most
// 64 (a log has no more levels), each 32 bytes.
func ParseHexHashes(hs []string) ([][]byte, error) {
	if len(hs) > 64 {
		return nil, fmt.Errorf("a proof of %d hashes; a log has at most 64 levels", len(hs))
	}
	proof := make([][]byte, len(hs))
	for i, h := range hs {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != 32 {
			return nil, fmt.Errorf("proof hash %d is not 64 hex digits", i)
		}
		proof[i] = b
	}
	return proof, nil
}

// ParseBatchEntry reads a BatchEntry answer and its proof hashes. It checks
// the form only; verifyBatchEntry checks what it proves.
func ParseBatchEntry(data []byte) (BatchEntry, [][]byte, error) {
	var e BatchEntry
	if len(data) > maxBatchEntryBody {
		return e, nil, protocolError("batch entry of %d bytes; the limit is %d", len(data), maxBatchEntryBody)
	}
	if err := decodeStrict(data, &e); err != nil {
		return e, nil, protocolError("batch entry: %v", err)
	}
	if len(e.Entry) == 0 || e.Checkpoint == "" {
		return e, nil, protocolError("batch entry: entry and checkpoint are required")
	}
	proof, err := ParseHexHashes(e.Proof)
	if err != nil {
		return e, nil, protocolError("batch entry: %v", err)
	}
	return e, proof, nil
}

// BatchEntryRequest is the question of GET PathBatchEntry as a hub
// message carries it (kind "batch-entry"), to a partner reached only
// through a hub: the answering node's role in the batch and the batch's
// last sequence number. The partner answers, through the hub, with the
// status a direct link would get and, when found, the BatchEntry.
type BatchEntryRequest struct {
	Role    mailbox.Role `json:"role"`
	Through uint64       `json:"through"`
}

// maxBatchEntryRequest bounds a BatchEntryRequest.
const maxBatchEntryRequest = 256

// Marshal encodes the request; the same request always encodes to the
// same bytes, so that asking again is the same hub message.
func (q BatchEntryRequest) Marshal() ([]byte, error) { return json.Marshal(q) }

// ParseBatchEntryRequest reads a BatchEntryRequest.
func ParseBatchEntryRequest(data []byte) (BatchEntryRequest, error) {
	var q BatchEntryRequest
	if len(data) > maxBatchEntryRequest {
		return q, protocolError("batch entry request of %d bytes; the limit is %d", len(data), maxBatchEntryRequest)
	}
	if err := decodeStrict(data, &q); err != nil {
		return q, protocolError("batch entry request: %v", err)
	}
	if !q.Role.Valid() || q.Through == 0 || q.Through > 1<<63-1 {
		return q, protocolError("batch entry request: give role (sender or recipient) and through (a batch's last sequence number, from 1)")
	}
	return q, nil
}

// checkpointSource is a ledger.Storage that reads its newest checkpoint
// without reading all of them.
type checkpointSource interface {
	LatestCheckpoint(ctx context.Context) ([]byte, error)
}

// latestCheckpoint returns the node's newest stored checkpoint and its
// size, or nil if it has none.
func (n *Node) latestCheckpoint(ctx context.Context) ([]byte, ledger.Checkpoint, error) {
	var signed []byte
	if cs, ok := n.cfg.Ledger.(checkpointSource); ok {
		var err error
		if signed, err = cs.LatestCheckpoint(ctx); err != nil {
			return nil, ledger.Checkpoint{}, err
		}
	} else {
		all, err := n.cfg.Ledger.Checkpoints(ctx)
		if err != nil {
			return nil, ledger.Checkpoint{}, err
		}
		if len(all) > 0 {
			signed = all[len(all)-1]
		}
	}
	if signed == nil {
		return nil, ledger.Checkpoint{}, nil
	}
	// The node signed it; its body is all that is needed here.
	body, _, ok := bytes.Cut(signed, []byte("\n\n"))
	if !ok {
		return nil, ledger.Checkpoint{}, fmt.Errorf("stored checkpoint has no signature block")
	}
	cp, err := ledger.ParseCheckpoint(string(body) + "\n")
	if err != nil {
		return nil, ledger.Checkpoint{}, fmt.Errorf("stored checkpoint: %w", err)
	}
	return signed, cp, nil
}

// serveBatchEntry answers GET PathBatchEntry.
func (n *Node) serveBatchEntry(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	role := mailbox.Role(q.Get("role"))
	through, err := strconv.ParseUint(q.Get("through"), 10, 63)
	if !role.Valid() || err != nil || len(q) != 2 {
		http.Error(w, "give role (sender or recipient) and through (a batch's last sequence number), and nothing else", http.StatusBadRequest)
		return
	}
	n.answerBatchEntry(w, r, code, role, through)
}

// serveRelayedBatchEntry answers a BatchEntryRequest taken from a hub
// (hubmsg.go): the question of GET PathBatchEntry from a partner reached
// through the hub, answered as that handler answers it.
func (n *Node) serveRelayedBatchEntry(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBatchEntryRequest+1))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	q, err := ParseBatchEntryRequest(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	n.answerBatchEntry(w, r, code, q.Role, q.Through)
}

// answerBatchEntry answers partner code's question for this node's entry,
// in role, of the batch through `through` between them.
func (n *Node) answerBatchEntry(w http.ResponseWriter, r *http.Request, code string, role mailbox.Role, through uint64) {
	var (
		rc  mailbox.BatchReceipt
		err error
	)
	if role == mailbox.RoleSender {
		rc, err = n.cfg.Store.Receipt(r.Context(), code, role, through)
	} else {
		// A batch sent but not applied (the partner asked for its range
		// again and got a longer one) was received within the next batch
		// that covers its end.
		var rs []mailbox.BatchReceipt
		rs, err = n.cfg.Store.Receipts(r.Context(), mailbox.ReceiptQuery{Partner: code, Role: role, From: through, Limit: 1})
		if err == nil && len(rs) == 0 {
			err = tearline.ErrNotFound
		} else if err == nil {
			rc = rs[0]
		}
	}
	if errors.Is(err, tearline.ErrNotFound) {
		http.Error(w, fmt.Sprintf("%s logged no batch through %d as %s with you", n.self, through, role), http.StatusNotFound)
		return
	}
	if err != nil {
		n.log.Error("batch entry", "partner", code, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	signed, cp, err := n.latestCheckpoint(r.Context())
	if err != nil {
		n.log.Error("batch entry: checkpoint", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if signed == nil || rc.Index >= cp.Size {
		w.Header().Set("Retry-After", "5")
		http.Error(w, fmt.Sprintf("entry %d is not in a signed checkpoint yet; retry", rc.Index), http.StatusServiceUnavailable)
		return
	}
	l := ledger.New(n.cfg.Ledger)
	entry, err := l.Entry(r.Context(), rc.Index)
	if err == nil {
		var path [][]byte
		if path, err = l.InclusionProof(r.Context(), rc.Index, cp.Size); err == nil {
			ans := BatchEntry{Index: rc.Index, Entry: entry, Checkpoint: string(signed), Proof: HexHashes(path)}
			w.Header().Set("Content-Type", "application/json")
			if err := json.NewEncoder(w).Encode(ans); err != nil {
				n.log.Warn("batch entry: write", "partner", code, "err", err)
			}
			return
		}
	}
	n.log.Error("batch entry: proof", "partner", code, "index", rc.Index, "err", err)
	http.Error(w, "internal error", http.StatusInternalServerError)
}

// errNotYet: the partner has not (yet) an entry of the batch in a signed
// checkpoint; the receipt stays pending.
var errNotYet = errors.New("not available yet")

// fetchBatchEntry asks the partner on link l for its entry of the batch.
func (n *Node) fetchBatchEntry(ctx context.Context, l *link, role mailbox.Role, through uint64) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	v := url.Values{"role": {string(role)}, "through": {strconv.FormatUint(through, 10)}}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.endpoint+PathBatchEntry+"?"+v.Encode(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := l.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("batch entry from %s: %w", l.code, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound, http.StatusServiceUnavailable:
		return nil, fmt.Errorf("batch entry from %s: %w: %s", l.code, errNotYet, answerText(resp.Body))
	default:
		return nil, fmt.Errorf("batch entry from %s: %s: %s", l.code, resp.Status, answerText(resp.Body))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBatchEntryBody+1))
	if err != nil {
		return nil, fmt.Errorf("batch entry from %s: %w", l.code, err)
	}
	return body, nil
}

// verifyBatchEntry checks a partner's answer for receipt r: the checkpoint
// is signed with the partner's pinned key, the entry is included in it at
// the index given, and it is the partner's record of this very batch. It
// returns the receipt with the partner's side filled in.
func (n *Node) verifyBatchEntry(r mailbox.BatchReceipt, body []byte, now time.Time) (mailbox.BatchReceipt, error) {
	ans, proof, err := ParseBatchEntry(body)
	if err != nil {
		return r, err
	}
	p, err := n.cfg.Partners.Get(r.Partner)
	if err != nil {
		return r, fmt.Errorf("pinned card of %s: %w", r.Partner, err)
	}
	logKey := ledger.NewVerifier("tearline/"+r.Partner, ed25519.PublicKey(p.Card.SigningKey.Public))
	cp, _, err := ledger.OpenCheckpoint([]byte(ans.Checkpoint), logKey)
	if err != nil {
		return r, fmt.Errorf("checkpoint: %w", err)
	}
	if ans.Index >= cp.Size {
		return r, fmt.Errorf("entry %d is outside the checkpoint of size %d", ans.Index, cp.Size)
	}
	if err := ledger.VerifyInclusion(ans.Entry, ans.Index, cp.Size, cp.Root, proof); err != nil {
		return r, fmt.Errorf("inclusion proof of entry %d in the checkpoint of size %d: %w", ans.Index, cp.Size, err)
	}
	ev, err := ledger.DecodeEvent(ans.Entry)
	if err != nil {
		return r, fmt.Errorf("entry %d: %w", ans.Index, err)
	}
	if err := batchEventMatches(ev, r.Role.Other(), r.Partner, n.self, r.Through); err != nil {
		return r, fmt.Errorf("entry %d: %w", ans.Index, err)
	}
	r.PartnerIndex, r.PartnerEntry, r.Checkpoint, r.Proof, r.Verified = ans.Index, ans.Entry, []byte(ans.Checkpoint), proof, now
	return r, nil
}

// batchEventMatches checks that ev is node `by`'s audit entry, in role, of
// the batch through `through` between it and `with`: the first of the
// sender's "envelope-sent" entries of the batch (sentEvents), or the
// recipient's "envelope-received" entry of applying it (receivedEvents),
// or of applying the batch that covered its end in its place.
func batchEventMatches(ev ledger.Event, role mailbox.Role, by, with string, through uint64) error {
	d := ev.Details
	want := strconv.FormatUint(through, 10)
	switch role {
	case mailbox.RoleSender:
		if ev.Kind != ledger.KindEnvelopeSent || ev.Actor != by+" node" || d["recipient"] != with || d["through"] != want ||
			d["part"] != "1" || d["receipt"] != "" {
			return fmt.Errorf("not %s's record of sending batch %d to %s: a %s entry by %q, recipient %q, through %q, part %q",
				by, through, with, ev.Kind, ev.Actor, d["recipient"], d["through"], d["part"])
		}
	case mailbox.RoleRecipient:
		after, err1 := strconv.ParseUint(d["after"], 10, 64)
		end, err2 := strconv.ParseUint(d["through"], 10, 64)
		if ev.Kind != ledger.KindEnvelopeReceived || ev.Actor != with || d["sender"] != with || err1 != nil || err2 != nil ||
			after >= through || end < through || d["reason"] != "" || len(ev.Subjects) != 0 {
			return fmt.Errorf("not %s's record of receiving batch %d from %s: a %s entry by %q, sender %q, range (%q, %q]",
				by, through, with, ev.Kind, ev.Actor, d["sender"], d["after"], d["through"])
		}
	default:
		return fmt.Errorf("unknown role %q", role)
	}
	return nil
}

// maxReceiptsPerRound bounds the receipts of one partner that one
// CollectReceipts asks for.
const maxReceiptsPerRound = 1000

// CollectReceipts fetches and verifies the partner's side of every pending
// receipt whose partner this node has a direct link with. A partner that
// cannot be reached, or has not yet signed a checkpoint that holds its
// entry, is asked again next time; an answer that does not verify is
// raised as an alert in the audit log and kept as the receipt's failure.
// It returns how many receipts were verified and failed.
//
// A partner reached only through a hub is asked through the hub: the
// question is left there as a hub message (askThroughHub), and the
// partner's answer, which comes back through the hub, is verified and
// kept (or refused, with the same alert) as it is taken from the hub
// (receiptAnswered); those are not counted here.
func (n *Node) CollectReceipts(ctx context.Context) (verified, failed int, err error) {
	n.mu.Lock()
	var links, relayed []*link
	for _, l := range n.links {
		if l.hub == "" {
			links = append(links, l)
		} else {
			relayed = append(relayed, l)
		}
	}
	n.mu.Unlock()
	for _, l := range relayed {
		if err := n.askThroughHub(ctx, l); err != nil {
			return 0, 0, err
		}
	}
	for _, l := range links {
		v, f, err := n.collectReceipts(ctx, l)
		verified, failed = verified+v, failed+f
		if err != nil {
			return verified, failed, err
		}
	}
	return verified, failed, nil
}

// askThroughHub leaves at the link's hub, for its partner, the question
// of every pending receipt with it, sealed and signed as every hub message
// is. Asked again each round until answered, a question still held by the
// hub is kept there once.
func (n *Node) askThroughHub(ctx context.Context, l *link) error {
	pending, err := n.cfg.Store.Receipts(ctx, mailbox.ReceiptQuery{Partner: l.code, Pending: true, Limit: maxReceiptsPerRound})
	if err != nil {
		return err
	}
	for _, r := range pending {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		record, err := BatchEntryRequest{Role: r.Role.Other(), Through: r.Through}.Marshal()
		if err != nil {
			return err
		}
		m, err := n.sealMessage(l.code, kindBatchEntry, messageID(kindBatchEntry, record), record)
		if err != nil {
			n.log.Warn("receipt: question through the hub", "partner", l.code, "hub", l.hub, "err", err)
			return nil
		}
		if err := n.postMessage(ctx, l.client, l.endpoint, l.hub, m); err != nil {
			n.log.Warn("receipt: hub unreachable", "partner", l.code, "hub", l.hub, "err", err)
			return nil
		}
	}
	return nil
}

// receiptAnswered handles partner from's answer, taken from a hub, to the
// question id of askThroughHub: verified as a direct link's answer is, and
// kept; refused, with the alert, when it does not verify; nothing when the
// partner has no entry in a signed checkpoint yet (asked again next round)
// or the receipt is no longer pending (an answer that came twice).
func (n *Node) receiptAnswered(ctx context.Context, from, id string, a relayAnswer) error {
	pending, err := n.cfg.Store.Receipts(ctx, mailbox.ReceiptQuery{Partner: from, Pending: true, Limit: maxReceiptsPerRound})
	if err != nil {
		return err
	}
	for _, r := range pending {
		record, err := BatchEntryRequest{Role: r.Role.Other(), Through: r.Through}.Marshal()
		if err != nil {
			return err
		}
		if messageID(kindBatchEntry, record) != id {
			continue
		}
		switch {
		case a.Status == http.StatusNotFound || a.Status == http.StatusServiceUnavailable:
			n.log.Debug("receipt not available yet", "partner", from, "role", r.Role, "through", r.Through, "answer", a.Text)
			return nil
		case a.Status != http.StatusOK:
			n.log.Warn("receipt: partner's answer through its hub", "partner", from, "through", r.Through,
				"status", a.Status, "answer", a.Text)
			return nil
		}
		now := n.now()
		got, verr := n.verifyBatchEntry(r, a.Body, now)
		if verr != nil {
			return n.refuseReceipt(ctx, r, verr, now)
		}
		return n.cfg.Store.SetReceipt(ctx, &got)
	}
	n.log.Debug("receipt: answer to no pending question", "partner", from, "id", id)
	return nil
}

// collectReceipts collects the pending receipts of one partner, so that
// a partner that never answers holds up no other.
func (n *Node) collectReceipts(ctx context.Context, l *link) (verified, failed int, err error) {
	pending, err := n.cfg.Store.Receipts(ctx, mailbox.ReceiptQuery{Partner: l.code, Pending: true, Limit: maxReceiptsPerRound})
	if err != nil {
		return 0, 0, err
	}
	for _, r := range pending {
		if ctx.Err() != nil {
			return verified, failed, ctx.Err()
		}
		body, ferr := n.fetchBatchEntry(ctx, l, r.Role.Other(), r.Through)
		if errors.Is(ferr, errNotYet) {
			n.log.Debug("receipt not available yet", "partner", r.Partner, "role", r.Role, "through", r.Through, "err", ferr)
			continue
		}
		if ferr != nil {
			n.log.Warn("receipt: partner unreachable", "partner", r.Partner, "err", ferr)
			return verified, failed, nil
		}
		now := n.now()
		got, verr := n.verifyBatchEntry(r, body, now)
		if verr == nil {
			if err := n.cfg.Store.SetReceipt(ctx, &got); err != nil {
				return verified, failed, err
			}
			verified++
			continue
		}
		if err := n.refuseReceipt(ctx, r, verr, now); err != nil {
			return verified, failed, err
		}
		failed++
	}
	return verified, failed, nil
}

// refuseReceipt raises the alert for a partner's answer that did not
// verify, then keeps its failure on the receipt: an alert not recorded
// leaves the receipt pending, to be tried again.
func (n *Node) refuseReceipt(ctx context.Context, r mailbox.BatchReceipt, why error, now time.Time) error {
	msg := clip(why.Error())
	n.log.Error("RECEIPT REFUSED: a partner's record of a batch does not verify", "partner", r.Partner,
		"role", r.Role, "through", r.Through, "err", msg)
	ev := ledger.Event{Kind: ledger.KindAlertRaised, Time: now, Actor: n.self + " node", Subjects: []string{r.Partner},
		Details: map[string]string{"alert": "receipt-refused", "role": string(r.Role), "through": strconv.FormatUint(r.Through, 10),
			"own-entry": strconv.FormatUint(r.Index, 10), "error": msg}}
	l := ledger.New(n.cfg.Ledger)
	var err error
	for try := 0; try < 5; try++ {
		if _, err = l.Append(ctx, ev); !errors.Is(err, ledger.ErrConflict) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("audit log: alert of a refused receipt from %s: %w", r.Partner, err)
	}
	r.Failure = msg
	if err := n.cfg.Store.SetReceipt(ctx, &r); err != nil {
		return fmt.Errorf("keep the refused receipt from %s: %w", r.Partner, err)
	}
	return nil
}

// receiptsLoop collects receipts every ReceiptInterval until ctx ends.
func (n *Node) receiptsLoop(ctx context.Context) {
	t := time.NewTicker(n.cfg.ReceiptInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if v, f, err := n.CollectReceipts(ctx); err != nil && ctx.Err() == nil {
			n.log.Error("receipts", "err", err)
		} else if v+f > 0 {
			n.log.Debug("receipts", "verified", v, "failed", f)
		}
	}
}
