package federation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/ledger"
)

// The receiving side: a link pulls its partner's batches in order, checks
// them, and applies each exactly once with its cursor.

// maxEnvelope bounds the body of a batch a node reads.
const maxEnvelope = 256 << 20

// serveNotify answers POST PathNotify: the caller has entries for this
// node; its link pulls now.
func (n *Node) serveNotify(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxNotifyBody+1))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	if _, err := ParseNotify(body); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	l := n.link(code)
	if l == nil && n.wakeHub(code) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if l == nil {
		http.Error(w, fmt.Sprintf("%s does not pull from %s: its pinned card of %s names no endpoint", n.self, code, code), http.StatusNotFound)
		return
	}
	l.poke(l.wake)
	w.WriteHeader(http.StatusNoContent)
}

// errBusy is a partner asking this node to come back later.
type errBusy struct {
	code       string
	status     string
	retryAfter time.Duration
}

func (e *errBusy) Error() string {
	return fmt.Sprintf("%s is busy (%s); retrying in %s", e.code, e.status, e.retryAfter)
}

// pullLoop pulls the partner's batches until the link stops: at once, on
// each notification, every PollInterval, and after a failure when the
// backoff has passed.
func (n *Node) pullLoop(ctx context.Context, l *link) {
	bo := backoff{min: n.cfg.MinBackoff, max: n.cfg.MaxBackoff}
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
		case <-timer.C:
		}
		wait, err := n.drain(ctx, l)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			n.linkError(ctx, l, mailbox.Receive, err.Error())
			n.log.Warn("pull", "partner", l.code, "err", err)
			wait = bo.next()
			var busy *errBusy
			if errors.As(err, &busy) {
				wait = max(wait, busy.retryAfter)
			}
		} else {
			bo.reset()
		}
		timer.Reset(wait)
	}
}

// drain pulls until the link has caught up, and says when to pull next.
// While one batch is checked and stored, the next is already asked for,
// so that the sender builds it meanwhile: at most two batches are held.
func (n *Node) drain(ctx context.Context, l *link) (time.Duration, error) {
	l.pullMu.Lock()
	defer l.pullMu.Unlock()
	cur, err := n.cfg.Store.InboxCursor(ctx, l.code)
	if err != nil {
		return 0, err
	}
	applied := cur.Through
	n.report(ctx, l, nil) // what could not be reported before
	f := n.fetch(ctx, l, applied, applied)
	for {
		if f.err != nil {
			return 0, f.err
		}
		if f.h.Through == f.h.After {
			if f.acked < applied {
				// The last answer was asked for before the batch ahead of
				// it was applied: acknowledge that, so that the sender's
				// view of the link is current.
				if f = n.fetch(ctx, l, applied, applied); f.err == nil && f.h.Through > f.h.After {
					continue
				}
				if f.err != nil {
					return 0, f.err
				}
			}
			n.linkError(ctx, l, mailbox.Receive, "")
			return n.cfg.PollInterval, nil
		}
		next := make(chan fetched, 1)
		pctx, cancel := context.WithCancel(ctx)
		go func(after, acked uint64) { next <- n.fetch(pctx, l, after, acked) }(f.h.Through, applied)
		receipt, err := n.apply(ctx, l.code, f.h, f.data)
		if receipt != nil && (receipt.Envelope != "" || len(receipt.Refused) > 0) {
			n.report(ctx, l, receipt)
		}
		if err != nil {
			cancel()
			<-next
			return 0, err
		}
		applied = f.h.Through
		f = <-next
		cancel()
	}
}

// Sync pulls from partner code until this node holds everything the
// partner had queued for it when asked, or an error stops it.
func (n *Node) Sync(ctx context.Context, code string) error {
	l := n.link(code)
	if l == nil {
		return fmt.Errorf("no link with %s: pin its card with an endpoint", code)
	}
	_, err := n.drain(ctx, l)
	return err
}

// fetched is a partner's answer to a batch request.
type fetched struct {
	h     BatchHeader
	data  []byte
	acked uint64 // what the request acknowledged
	err   error
}

// fetch asks the partner for the batch after `after`, acknowledging that
// this node applied its outbox through acked.
func (n *Node) fetch(ctx context.Context, l *link, after, acked uint64) fetched {
	f := fetched{acked: acked}
	q := BatchQuery{After: after, Limit: n.cfg.MaxBatch, Acked: acked}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, batchURL(l, q), nil)
	if err != nil {
		f.err = err
		return f
	}
	req.Header.Set("Accept", ContentTypeEnvelope)
	resp, err := l.client.Do(req)
	if err != nil {
		f.err = fmt.Errorf("pull from %s at %s: %w", l.code, l.endpoint, err)
		return f
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		f.err = &errBusy{code: l.code, status: resp.Status, retryAfter: time.Duration(min(max(secs, 1), 300)) * time.Second}
		return f
	default:
		f.err = fmt.Errorf("pull from %s at %s: %s: %s", l.code, l.endpoint, resp.Status, answerText(resp.Body))
		return f
	}
	if f.h, err = ParseBatchHeader(resp.Header, after); err != nil {
		f.err = fmt.Errorf("pull from %s: %w", l.code, err)
		return f
	}
	if resp.ContentLength > maxEnvelope {
		f.err = fmt.Errorf("pull from %s: a batch of %d bytes; the limit is %d", l.code, resp.ContentLength, maxEnvelope)
		return f
	}
	if f.data, err = io.ReadAll(io.LimitReader(resp.Body, maxEnvelope+1)); err != nil {
		f.err = fmt.Errorf("pull from %s: %w", l.code, err)
		return f
	}
	if l.hub != "" && len(f.data) <= maxEnvelope {
		if err := n.checkRelayed(l.code, resp.Header, f.h, f.data); err != nil {
			f.err = fmt.Errorf("pull from %s through hub %s: %w", l.code, l.hub, err)
			return f
		}
	}
	switch {
	case len(f.data) > maxEnvelope:
		f.err = fmt.Errorf("pull from %s: a batch of more than %d bytes", l.code, maxEnvelope)
	case f.h.Through == f.h.After && len(f.data) != 0:
		f.err = fmt.Errorf("pull from %s: %w", l.code, protocolError("an empty range (after %d) with a body", f.h.After))
	}
	return f
}

// sequenceGuard is the replay guard of one pull: the envelope must carry
// the range's last sequence number. The durable check is the store's
// cursor, advanced with the batch.
type sequenceGuard struct{ after, through uint64 }

func (g sequenceGuard) Seen(sender, recipient string, seq uint64) error {
	if seq != g.through || seq <= g.after {
		return fmt.Errorf("%w: %s to %s: sequence %d in a batch (%d, %d]", envelope.ErrReplay, sender, recipient, seq, g.after, g.through)
	}
	return nil
}

// deliveryWriter is the store ingest writes a received batch to: its one
// write is the store's Receive, which commits the objects with the cursor,
// provenance and audit entries.
type deliveryWriter struct {
	store InboxStore
	d     *mailbox.Delivery
	objs  []*tearline.Object
	wrote bool
}

func (w *deliveryWriter) PutObjects(ctx context.Context, collection string, objs []*tearline.Object) ([]tearline.PutResult, error) {
	if w.wrote {
		return nil, errors.New("federation: a batch is written in one transaction, and ingest asked for a second")
	}
	w.wrote, w.objs = true, objs
	return w.store.Receive(ctx, collection, objs, w.d)
}

func (w *deliveryWriter) Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error) {
	return w.store.Objects(ctx, q)
}

// apply checks a batch from sender and applies it: what passes the checks
// is stored with the cursor, in one transaction; the rest is refused with
// its reason. The receipt says what was refused; it is nil when the batch
// had already been applied.
func (n *Node) apply(ctx context.Context, sender string, h BatchHeader, data []byte) (*Receipt, error) {
	now := n.now()
	d := &mailbox.Delivery{Sender: sender, After: h.After, Through: h.Through, SenderHead: h.Head, Received: now}
	if len(data) == 0 {
		// Every entry of the range was withheld by the sender.
		_, err := n.cfg.Store.Receive(ctx, n.cfg.Collection, nil, d)
		if errors.Is(err, mailbox.ErrDelivered) {
			return nil, nil
		}
		return &Receipt{After: h.After, Through: h.Through}, err
	}
	opened, err := envelope.Open(data, n.self, n.cfg.HPKEKeyID, n.cfg.HPKEKey, KeyResolver(n.cfg.Partners, sender), sequenceGuard{h.After, h.Through})
	if err != nil {
		var refusal *envelope.Error
		if !errors.As(err, &refusal) {
			return nil, fmt.Errorf("batch (%d, %d] from %s: %w", h.After, h.Through, sender, err)
		}
		err = fmt.Errorf("batch (%d, %d] from %s refused: %w", h.After, h.Through, sender, err)
		if !n.auditRefusal(ctx, sender, h, refusal, now) {
			return nil, err // reported already
		}
		return &Receipt{After: h.After, Through: h.Through, Envelope: clip(refusal.Error())}, err
	}
	verdicts := CheckBatch(opened, n.cfg.Releaser, n.cfg.Partners, now)
	var lines bytes.Buffer
	var refused []Refusal
	var consentUses []ledger.Event
	carried := 0
	origins := map[VersionKey][]string{}
	for i, vd := range verdicts {
		if vd.Refused == "" && vd.Object != nil && len(vd.Label.Originators) == 0 && len(vd.Originators) > 0 {
			origins[VersionKey{ID: vd.Object.ID, Hash: vd.Object.Hash}] = vd.Originators
		}
		if vd.Refused != "" {
			refused = append(refused, Refusal{ID: objectID(vd, i), Reason: vd.Refused, Text: clip(vd.Text)})
			continue
		}
		if vd.Consent != nil || vd.Hop != nil {
			carried++ // counted for the objects it covers; not stored
			continue
		}
		for _, c := range vd.Consents {
			consentUses = append(consentUses, ConsentEvent(sender, "used", &c.Consent, now))
		}
		lines.Write(vd.Object.JSON)
		lines.WriteByte('\n')
		proof, err := opened.Objects[i].Proof.AppendBinary(nil)
		if err != nil {
			return nil, fmt.Errorf("batch from %s: proof of object %d: %w", sender, i, err)
		}
		d.Provenance = append(d.Provenance, mailbox.Provenance{ObjectID: vd.Object.ID, Hash: vd.Object.Hash,
			Originators: vd.Originators, Proof: proof, Chain: vd.Chain})
	}
	d.Header = opened.HeaderBytes
	if d.Signature, err = opened.Signature.AppendBinary(nil); err != nil {
		return nil, fmt.Errorf("batch from %s: signature: %w", sender, err)
	}
	w := &deliveryWriter{store: n.cfg.Store, d: d}
	accepted := len(verdicts) - len(refused) - carried
	d.Record = func(results []tearline.PutResult) []ledger.Event {
		all := refused
		for i, r := range results {
			switch r.Status {
			case tearline.Conflict:
				all = append(all, Refusal{ID: w.objs[i].ID, Reason: RefusedConflict,
					Text: "this node holds other content under the same id and version"})
			case tearline.Recalled:
				all = append(all, Refusal{ID: w.objs[i].ID, Reason: RefusedRecalled,
					Text: "this version was recalled by its originator and is not stored again"})
			}
		}
		added, present := 0, 0
		for _, r := range results {
			switch r.Status {
			case tearline.Added:
				added++
			case tearline.Present:
				present++
			}
		}
		// Objects ingest refused before the write (none, when the checks
		// above agree with it) are counted as not stored.
		evs := receivedEvents(sender, h, opened.Header.Sequence, len(verdicts)-carried, added, present, accepted-len(results), all, now)
		return append(evs, consentUses...)
	}
	var rejected []Refusal
	sum, err := ingest.Stream(ctx, w, &lines, ingest.Options{
		Collection: n.cfg.Collection,
		BatchSize:  len(verdicts) + 1, // one write: one transaction with the cursor
		Classify:   Classifier(n.cfg.Releaser, sender, origins),
		Reject: func(r ingest.Rejection) {
			rejected = append(rejected, Refusal{ID: r.ID, Reason: r.Rule, Text: clip(r.Err.Error())})
		},
	})
	if errors.Is(err, mailbox.ErrDelivered) {
		return nil, nil // applied already, by another pull
	}
	if err != nil {
		return nil, fmt.Errorf("batch (%d, %d] from %s: %w", h.After, h.Through, sender, err)
	}
	if !w.wrote {
		// Nothing passed: the cursor moves on, with the refusals.
		if _, err := n.cfg.Store.Receive(ctx, n.cfg.Collection, nil, d); err != nil {
			if errors.Is(err, mailbox.ErrDelivered) {
				return nil, nil
			}
			return nil, fmt.Errorf("batch (%d, %d] from %s: %w", h.After, h.Through, sender, err)
		}
	}
	for _, r := range rejected {
		if r.ID == "" {
			r.ID = "(no id)"
		}
		if r.Reason == "" {
			r.Reason = RefusedUnparsable
		}
		refused = append(refused, r)
	}
	if len(refused) > 0 {
		n.log.Warn("refused objects from a partner", "partner", sender, "through", h.Through, "refused", len(refused), "first", refused[0].Reason)
	}
	return &Receipt{After: h.After, Through: h.Through, Added: sum.Added, Present: sum.Present, Refused: refused}, nil
}

func objectID(vd Verdict, i int) string {
	if vd.Object != nil {
		return vd.Object.ID
	}
	return "object " + strconv.Itoa(i)
}

// receivedEvents are the receiver's audit entries of a batch applied: the
// range and counts, and the refusals with their reasons, 50 to an entry.
// The objects stored are named by the store's own ingest entries.
func receivedEvents(sender string, h BatchHeader, seq uint64, objects, added, present, notStored int, refused []Refusal, now time.Time) []ledger.Event {
	details := func() map[string]string {
		return map[string]string{"sender": sender, "after": strconv.FormatUint(h.After, 10),
			"through": strconv.FormatUint(h.Through, 10), "sequence": strconv.FormatUint(seq, 10),
			"objects": strconv.Itoa(objects), "added": strconv.Itoa(added), "present": strconv.Itoa(present),
			"refused": strconv.Itoa(len(refused) + notStored)}
	}
	evs := []ledger.Event{{Kind: ledger.KindEnvelopeReceived, Time: now, Actor: sender, Details: details()}}
	for start := 0; start < len(refused); start += refusalsPerEvent {
		part := refused[start:min(start+refusalsPerEvent, len(refused))]
		d := details()
		ids := make([]string, len(part))
		for i, f := range part {
			ids[i] = f.ID
			d["reason."+strconv.Itoa(start+i)] = clip(f.Reason + ": " + f.Text)
		}
		evs = append(evs, ledger.Event{Kind: ledger.KindEnvelopeReceived, Time: now, Actor: sender, Subjects: ids, Details: d})
	}
	return evs
}

// auditRefusal records an envelope refused whole in the audit log, once
// per batch and reason (the link asks for the batch again after each
// backoff), and reports whether it was the first time.
func (n *Node) auditRefusal(ctx context.Context, sender string, h BatchHeader, refusal *envelope.Error, now time.Time) bool {
	key := fmt.Sprintf("%s/%d/%v", sender, h.Through, refusal.Reason)
	n.mu.Lock()
	done := n.refusedLogged[key]
	n.refusedLogged[key] = true
	n.mu.Unlock()
	if done {
		return false
	}
	ev := ledger.Event{Kind: ledger.KindEnvelopeReceived, Time: now, Actor: sender, Details: map[string]string{
		"sender": sender, "after": strconv.FormatUint(h.After, 10), "through": strconv.FormatUint(h.Through, 10),
		"refused": "envelope", "reason": clip(refusal.Error())}}
	l := ledger.New(n.cfg.Ledger)
	var err error
	for try := 0; try < 5; try++ {
		if _, err = l.Append(ctx, ev); !errors.Is(err, ledger.ErrConflict) {
			break
		}
	}
	if err != nil {
		n.mu.Lock()
		delete(n.refusedLogged, key)
		n.mu.Unlock()
		n.log.Error("audit log: envelope refusal not recorded", "partner", sender, "err", err)
	}
	return true
}

// maxPendingReceipts bounds the receipts a link keeps while the partner
// cannot be told; the oldest are dropped beyond it (they are in this
// node's audit log).
const maxPendingReceipts = 100

// report sends the partner the receipts not yet delivered, then r (if
// set); what cannot be delivered now is kept, in memory, for the next
// pull.
func (n *Node) report(ctx context.Context, l *link, r *Receipt) {
	l.mu.Lock()
	if r != nil {
		l.receipts = append(l.receipts, r)
	}
	if over := len(l.receipts) - maxPendingReceipts; over > 0 {
		n.log.Warn("receipts dropped: the partner's audit log will miss these refusals", "partner", l.code, "dropped", over)
		l.receipts = l.receipts[over:]
	}
	pending := l.receipts
	l.receipts = nil
	l.mu.Unlock()
	for i, p := range pending {
		if err := n.sendReceipt(ctx, l, p); err != nil {
			n.log.Warn("receipt not delivered; kept for the next pull", "partner", l.code, "through", p.Through, "err", err)
			l.mu.Lock()
			l.receipts = append(pending[i:], l.receipts...)
			l.mu.Unlock()
			return
		}
	}
}

func (n *Node) sendReceipt(ctx context.Context, l *link, r *Receipt) error {
	if l.hub != "" {
		// Receipts name objects, which a hub must not learn; the refusals
		// are in this node's audit log.
		return nil
	}
	body, err := json.Marshal(r)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, n.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint+PathReceipt, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	_, err = noContent(l.client, req)
	return err
}
