package federation

import (
	"bytes"
	"context"
	"crypto/hpke"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/stix"
)

// The sending side: batches built from a partner's outbox when it asks,
// each entry checked against the release set at that moment.

// errPruned: the receiver and this node disagree on the outbox: it asks
// for entries it acknowledged before, which were removed, or for entries
// this node never queued.
var errPruned = errors.New("the partner's cursor does not match this node's outbox")

// batch is a batch built for a partner.
type batch struct {
	header   BatchHeader
	envelope []byte // nil when every entry of the range was withheld
	sent     []string
}

// perPartnerInFlight is how many batch requests of one partner are served
// at once: the one it applies next and the one after.
const perPartnerInFlight = 2

// partnerSlot returns the semaphore of a partner's batch requests.
func (n *Node) partnerSlot(code string) chan struct{} {
	n.busyMu.Lock()
	defer n.busyMu.Unlock()
	c := n.busy[code]
	if c == nil {
		c = make(chan struct{}, perPartnerInFlight)
		n.busy[code] = c
	}
	return c
}

// serveBatch answers GET PathBatch: the caller's next batch after its
// cursor.
func (n *Node) serveBatch(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	q, err := ParseBatchQuery(r.URL.RawQuery)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	// Two batches per partner at a time: a receiver applies batches in
	// order and asks for the next while it applies one; a request beyond
	// that waits for one of them to be answered, briefly.
	slot := n.partnerSlot(code)
	wait := time.NewTimer(n.cfg.QueueWait)
	defer wait.Stop()
	select {
	case slot <- struct{}{}:
		defer func() { <-slot }()
	case <-wait.C:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "batches for you are being sent already; retry", http.StatusTooManyRequests)
		return
	case <-r.Context().Done():
		return
	}
	// At most MaxInFlight batches are held in memory, whatever the number
	// of partners and however slowly they read.
	select {
	case n.inflight <- struct{}{}:
		defer func() { <-n.inflight }()
	case <-wait.C:
		w.Header().Set("Retry-After", "1")
		http.Error(w, "busy sending to other partners; retry", http.StatusServiceUnavailable)
		return
	case <-r.Context().Done():
		return
	}
	b, err := n.buildBatch(r.Context(), code, q)
	switch {
	case errors.Is(err, errPruned):
		http.Error(w, err.Error(), http.StatusConflict)
		return
	case errors.Is(err, tearline.ErrInvalid):
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	case err != nil:
		n.log.Error("build batch", "partner", code, "after", q.After, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// A receiver that stops reading must not hold a slot for ever.
	rc := http.NewResponseController(w)
	if err := rc.SetWriteDeadline(time.Now().Add(n.cfg.RequestTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
		n.log.Warn("write deadline", "err", err)
	}
	b.header.Set(w.Header())
	if b.envelope == nil {
		w.Header().Set("Content-Length", "0")
		w.WriteHeader(http.StatusOK)
		return
	}
	w.Header().Set("Content-Type", ContentTypeEnvelope)
	w.Header().Set("Content-Length", strconv.Itoa(len(b.envelope)))
	if _, err := w.Write(b.envelope); err != nil {
		// The receiver asks again from its cursor; the audit log says the
		// batch was sent, which it was, if not received.
		n.log.Warn("send batch", "partner", code, "through", b.header.Through, "err", err)
	}
}

// buildBatch reads the partner's outbox after q.After and seals what the
// release set allows it now into one envelope, recording the sending and
// the partner's acknowledgement (q.Acked) first.
func (n *Node) buildBatch(ctx context.Context, code string, q BatchQuery) (*batch, error) {
	page, err := n.cfg.Store.OutboxPage(ctx, code, q.After, min(q.Limit, n.cfg.MaxBatch), n.cfg.MaxBatchBytes)
	if err != nil {
		return nil, err
	}
	if q.After > page.Head {
		return nil, fmt.Errorf("%w: you asked for the entries after %d, but %s's outbox for you ends at %d: %s's store went back (a restored backup?); its operator must reconcile the two nodes",
			errPruned, q.After, n.self, page.Head, n.self)
	}
	// Entries are numbered without gaps and removed only once
	// acknowledged: a page that does not start right after the cursor
	// means the receiver went back past what it acknowledged.
	if (len(page.Entries) > 0 && page.Entries[0].Seq != q.After+1) || (len(page.Entries) == 0 && page.Head > q.After) {
		return nil, fmt.Errorf("%w: you asked for the entries after %d, but acknowledged more before and they were removed; your inbox cursor for %s went back (a restored backup?): reset it to your last acknowledgement",
			errPruned, q.After, n.self)
	}
	now := n.now()
	b := &batch{header: BatchHeader{After: q.After, Through: page.Through, Head: page.Head}}
	withheld := map[string]int{}
	type allowed struct {
		entry *mailbox.Entry
		v     *stix.Value
		refs  []string
	}
	var objs []allowed
	refsByColl := map[string]map[string]bool{}
	for i := range page.Entries {
		e := &page.Entries[i]
		switch {
		case e.Object == nil:
			withheld["deleted"]++
			continue
		case e.Echo:
			withheld["held by the partner"]++
			continue
		case e.Outcome != tearline.Allow:
			// A tearline (AllowVariant) travels as its own object, under
			// its own release; the original never does.
			withheld[e.Outcome.String()]++
			continue
		}
		// Stored objects were validated when they arrived: reading them
		// for their markings is enough.
		val, err := stix.ParseJSON(e.Object.JSON)
		v := &val
		if err != nil {
			n.log.Error("stored object does not parse; withheld", "partner", code, "id", e.Object.ID, "err", err)
			withheld["unreadable"]++
			continue
		}
		a := allowed{entry: e, v: v}
		if refs, ok := v.Get("object_marking_refs"); ok {
			for _, r := range refs.Arr {
				if r.Kind == stix.String && !label.Builtin(r.Str) {
					a.refs = append(a.refs, r.Str)
					if refsByColl[e.Collection] == nil {
						refsByColl[e.Collection] = map[string]bool{}
					}
					refsByColl[e.Collection][r.Str] = true
				}
			}
		}
		objs = append(objs, a)
	}
	// The marking definitions the objects refer to travel with them, so
	// that the receiver can read their labels.
	defs := label.Definitions{}
	defObjs := map[string]*tearline.Object{}
	for coll, refs := range refsByColl {
		ids := slices.Sorted(maps.Keys(refs))
		mp, err := n.cfg.Store.Objects(ctx, tearline.ObjectQuery{Collection: coll, IDs: ids, Types: []string{"marking-definition"}})
		if err != nil {
			return nil, fmt.Errorf("marking definitions: %w", err)
		}
		for i := range mp.Objects {
			m := &mp.Objects[i]
			if err := defs.Add(m.JSON); err != nil {
				return nil, fmt.Errorf("stored marking definition %s: %w", m.ID, err)
			}
			defObjs[m.ID] = &m.Object
		}
	}
	var items []envelope.Item
	needed := map[string]bool{}
	labels := newLabelCache(defs)
	var passedOn []*tearline.StoredObject // versions whose label names no originator
	for _, a := range objs {
		l, hash, err := labels.read(a.v)
		if err != nil {
			// The release set allowed it, so this cannot be: fail closed.
			n.log.Error("label of a releasable object cannot be read; withheld", "partner", code, "id", a.entry.Object.ID, "err", err)
			withheld["unreadable"]++
			continue
		}
		items = append(items, envelope.Item{Object: &a.entry.Object.Object, LabelHash: hash})
		b.sent = append(b.sent, a.entry.Object.ID)
		if len(l.Originators) == 0 {
			passedOn = append(passedOn, a.entry.Object)
		}
		for _, r := range a.refs {
			needed[r] = true
		}
	}
	unlabelled := label.Hash(tearline.Label{})
	// The originators' consents to pass the objects on travel with them,
	// under the envelope's signature: the partner verifies them.
	var consentEvents []ledger.Event
	if cs, ok := n.cfg.Store.(mailbox.ConsentStore); ok && len(b.sent) > 0 {
		versions := map[string][]time.Time{}
		for _, a := range objs {
			versions[a.entry.Object.ID] = append(versions[a.entry.Object.ID], a.entry.Object.Version)
		}
		kept, err := cs.ConsentsFor(ctx, code, slices.Sorted(maps.Keys(versions)))
		if err != nil {
			return nil, fmt.Errorf("consents for %s: %w", code, err)
		}
		for _, c := range kept {
			if c.Holder != n.self || (!c.Expires.IsZero() && !now.Before(c.Expires)) ||
				(!c.Version.IsZero() && !slices.ContainsFunc(versions[c.Object], c.Version.Equal)) {
				continue
			}
			o, err := consentObject(c.Record)
			if err != nil {
				return nil, fmt.Errorf("consent %s: %w", c.Request, err)
			}
			items = append(items, envelope.Item{Object: o, LabelHash: unlabelled})
			cc := Consent{Request: c.Request, Originator: c.Originator, Holder: c.Holder, Recipient: c.Recipient,
				Object: c.Object, Version: c.Version, Expires: c.Expires}
			consentEvents = append(consentEvents, ConsentEvent(n.self+" node", "passed-on", &cc, now))
		}
	}
	// Where the versions this node received came from travels with them
	// (provenance.go), so that the partner attributes them to their
	// source.
	provs, err := n.provenanceItems(ctx, code, passedOn)
	if err != nil {
		return nil, err
	}
	for _, o := range provs {
		items = append(items, envelope.Item{Object: o, LabelHash: unlabelled})
	}
	var head []envelope.Item
	for _, id := range slices.Sorted(maps.Keys(needed)) {
		if o := defObjs[id]; o != nil {
			head = append(head, envelope.Item{Object: o, LabelHash: unlabelled})
		}
	}
	for _, c := range withheld {
		b.header.Withheld += c
	}
	var events []ledger.Event
	if len(items) > 0 {
		key, keyID, err := n.sealingKey(code, now)
		if err != nil {
			return nil, err
		}
		batch := &envelope.Batch{Sequence: page.Through, Items: append(head, items...)}
		b.envelope, err = envelope.Seal(batch, n.cfg.Signer, []envelope.Recipient{{Code: code, KeyID: keyID, Key: key}}, n.cfg.Rand, now)
		if err != nil {
			return nil, fmt.Errorf("seal batch for %s: %w", code, err)
		}
		events = append(sentEvents(n.self, code, b, withheld, now), consentEvents...)
	}
	// Logged before it leaves: a batch that is never read is still
	// recorded as sent.
	var sentBatch uint64 // the batch whose receipt is to be fetched
	if len(events) > 0 {
		sentBatch = b.header.Through
	}
	if err := n.cfg.Store.RecordSent(ctx, code, q.Acked, now, sentBatch, events); err != nil {
		return nil, err
	}
	return b, nil
}

// sealingKey returns the partner's HPKE key from its pinned card.
func (n *Node) sealingKey(code string, now time.Time) (hpke.PublicKey, string, error) {
	return sealingKey(n.cfg.Partners, code, now)
}

// sealingKey returns code's sealing key from its pinned card, if valid at
// now.
func sealingKey(cards Cards, code string, now time.Time) (hpke.PublicKey, string, error) {
	p, err := cards.Get(code)
	if err != nil {
		return nil, "", err
	}
	k := p.Card.HPKEKey
	for _, r := range p.Card.RevokedKeys {
		if r.ID == k.ID {
			return nil, "", fmt.Errorf("%s's sealing key %s is revoked; pin its new card", code, k.ID)
		}
	}
	if !k.ValidAt(now) {
		return nil, "", fmt.Errorf("%s's sealing key %s is not valid now; pin its new card", code, k.ID)
	}
	key, err := hpke.MLKEM768X25519().NewPublicKey(k.Public)
	if err != nil {
		return nil, "", fmt.Errorf("%s's pinned card: sealing key: %w", code, err)
	}
	return key, k.ID, nil
}

// idsPerEvent bounds the object ids one audit entry names.
const idsPerEvent = 500

// sentEvents are the audit entries of a batch sent: the range, the counts
// and, 500 to an entry, the objects.
func sentEvents(self, to string, b *batch, withheld map[string]int, now time.Time) []ledger.Event {
	details := func() map[string]string {
		d := map[string]string{"recipient": to, "after": strconv.FormatUint(b.header.After, 10),
			"through": strconv.FormatUint(b.header.Through, 10), "sequence": strconv.FormatUint(b.header.Through, 10),
			"objects": strconv.Itoa(len(b.sent))}
		for k, c := range withheld {
			d["withheld."+strings.ReplaceAll(k, " ", "-")] = strconv.Itoa(c)
		}
		return d
	}
	parts := (len(b.sent) + idsPerEvent - 1) / idsPerEvent
	var evs []ledger.Event
	for p := 0; p < parts; p++ {
		d := details()
		d["part"], d["parts"] = strconv.Itoa(p+1), strconv.Itoa(parts)
		evs = append(evs, ledger.Event{Kind: ledger.KindEnvelopeSent, Time: now, Actor: self + " node",
			Subjects: b.sent[p*idsPerEvent : min((p+1)*idsPerEvent, len(b.sent))], Details: d})
	}
	return evs
}

// serveReceipt answers POST PathReceipt: the caller reports what it
// refused of a batch, which goes into this node's audit log with its
// acknowledgement.
func (n *Node) serveReceipt(w http.ResponseWriter, r *http.Request) {
	code, ok := n.authenticate(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxReceiptBody+1))
	if err != nil {
		http.Error(w, "unreadable body", http.StatusBadRequest)
		return
	}
	rc, err := ParseReceipt(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	acked := rc.Through
	if rc.Envelope != "" {
		acked = rc.After // refused whole: nothing of it was applied
	}
	if err := n.cfg.Store.RecordSent(r.Context(), code, acked, n.now(), 0, receiptEvents(code, rc, n.now())); err != nil {
		if errors.Is(err, tearline.ErrInvalid) {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		n.log.Error("record receipt", "partner", code, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	if rc.Envelope != "" || len(rc.Refused) > 0 {
		n.log.Warn("partner refused what was sent", "partner", code, "after", rc.After, "through", rc.Through,
			"refused", len(rc.Refused), "envelope", rc.Envelope)
	}
	w.WriteHeader(http.StatusNoContent)
}

// refusalsPerEvent bounds the refusals one audit entry names, with their
// reasons.
const refusalsPerEvent = 50

// maxDetail bounds one reason in an audit entry.
const maxDetail = 300

func clip(s string) string {
	if len(s) <= maxDetail {
		return s
	}
	return strings.ToValidUTF8(s[:maxDetail], "") + "..."
}

// receiptEvents are the sender's audit entries of a receipt that reports
// refusals: none for a batch applied whole.
func receiptEvents(from string, rc Receipt, now time.Time) []ledger.Event {
	base := func() map[string]string {
		return map[string]string{"recipient": from, "receipt": "refused", "after": strconv.FormatUint(rc.After, 10),
			"through": strconv.FormatUint(rc.Through, 10), "added": strconv.Itoa(rc.Added),
			"present": strconv.Itoa(rc.Present), "refused": strconv.Itoa(len(rc.Refused))}
	}
	var evs []ledger.Event
	if rc.Envelope != "" {
		d := base()
		d["envelope"] = clip(rc.Envelope)
		evs = append(evs, ledger.Event{Kind: ledger.KindEnvelopeSent, Time: now, Actor: from, Details: d})
	}
	for start := 0; start < len(rc.Refused); start += refusalsPerEvent {
		part := rc.Refused[start:min(start+refusalsPerEvent, len(rc.Refused))]
		d := base()
		ids := make([]string, len(part))
		for i, f := range part {
			ids[i] = f.ID
			d["reason."+strconv.Itoa(start+i)] = clip(f.Reason + ": " + f.Text)
		}
		evs = append(evs, ledger.Event{Kind: ledger.KindEnvelopeSent, Time: now, Actor: from, Subjects: ids, Details: d})
	}
	return evs
}

// checkHeads reads the outbox heads and has the links notify each partner
// whose outbox grew past what it was last told, or that has not caught up
// for a PollInterval.
func (n *Node) checkHeads(ctx context.Context) error {
	heads, err := n.cfg.Store.OutboxHeads(ctx)
	if err != nil {
		return err
	}
	now := n.now()
	for _, h := range heads {
		l := n.link(h.Partner)
		if l == nil || h.Last <= h.Acked {
			continue
		}
		l.mu.Lock()
		due := h.Last > l.notified || now.Sub(l.notifiedAt) >= n.cfg.PollInterval
		if due {
			l.want = h.Last
		}
		l.mu.Unlock()
		if due {
			l.poke(l.notify)
		}
	}
	return nil
}

// notifyLoop sends the link's notifications, backing off while the partner
// cannot be reached.
func (n *Node) notifyLoop(ctx context.Context, l *link) {
	bo := backoff{min: n.cfg.MinBackoff, max: n.cfg.MaxBackoff}
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.notify:
		}
		l.mu.Lock()
		head := l.want
		l.mu.Unlock()
		if err := n.sendNotify(ctx, l, head); err != nil {
			if ctx.Err() != nil {
				return
			}
			n.linkError(ctx, l, mailbox.Send, err.Error())
			n.log.Debug("notify", "partner", l.code, "err", err)
			t := time.NewTimer(bo.next())
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			l.poke(l.notify)
			continue
		}
		bo.reset()
		n.linkError(ctx, l, mailbox.Send, "")
		l.mu.Lock()
		l.notified, l.notifiedAt = max(l.notified, head), n.now()
		l.mu.Unlock()
	}
}

func (n *Node) sendNotify(ctx context.Context, l *link, head uint64) error {
	if l.hub != "" {
		return n.pushToHub(ctx, l) // the partner pulls from the hub
	}
	body, err := json.Marshal(Notify{Head: head})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, min(n.cfg.RequestTimeout, 10*time.Second))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.endpoint+PathNotify, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if _, err := noContent(l.client, req); err != nil {
		return fmt.Errorf("notify %s at %s: %w", l.code, l.endpoint, err)
	}
	return nil
}

// answerText reads the start of an error answer, for the error message.
// noContent sends req with client and wants 204 No Content: any other
// answer is an error with its status and the start of its body. It
// returns the answer's header.
func noContent(client *http.Client, req *http.Request) (http.Header, error) {
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return nil, fmt.Errorf("%s: %s", resp.Status, answerText(resp.Body))
	}
	return resp.Header, nil
}

func answerText(r io.Reader) string {
	b, _ := io.ReadAll(io.LimitReader(r, 512))
	return strings.TrimSpace(strings.ToValidUTF8(string(b), "?"))
}
