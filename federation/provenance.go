package federation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// Provenance that travels. A node that passes on an object version it
// received (as a label without an originator allows, or with consent)
// sends with it the proof of how the version reached it, hop by hop from
// its source: for each hop, the batch header and signature of the partner
// that sent the version on that hop, and the version's inclusion proof in
// that batch, as an object of ProvenanceType under the envelope's
// signature. The last hop is the one by which the node passing it on
// received it; each node that passes it on appends its own. The recipient
// verifies every hop whose sender is a partner pinned here (the version,
// with its label, was in a batch signed by that partner with a key on its
// card and addressed to the next hop's sender, or to the node passing it
// on for the last hop) and records the sender of the first verified hop,
// not the node passing it on, as the version's originator. A hop from a
// partner not pinned here is carried unverified and proves nothing. A
// chain that does not verify, names a node twice or is longer than
// MaxProvenanceHops counts for nothing: the version is then the sender's,
// as without one, and the refusal is audited.

// ProvenanceType is the type of the objects that carry provenance in a
// batch. They are checked and counted, never stored as intelligence.
const ProvenanceType = "x-tearline-provenance"

// MaxProvenanceHops bounds the hops a provenance carries: a longer chain
// is refused by the recipient, and a node does not send one (the version
// then goes as its own, with no provenance).
const MaxProvenanceHops = 8

// maxProvenance bounds a provenance object a node reads: for each hop a
// batch header (at most envelope.MaxHeaderSize, in practice a few
// kilobytes for one recipient), a signature and a proof, in base64.
const maxProvenance = MaxProvenanceHops * (64 << 10)

// ErrProvenance marks a provenance object that is malformed or does not
// verify.
var ErrProvenance = errors.New("provenance refused")

// provenanceWire is a provenance object. From, Header, Signature and
// Proof are the last hop, by which the node passing the version on
// received it; Chain holds the hops before it, the source's first (absent
// when there are none, as nodes that carried one hop only wrote it).
type provenanceWire struct {
	Type        string    `json:"type"`
	SpecVersion string    `json:"spec_version"`
	ID          string    `json:"id"`
	Object      string    `json:"object"`
	Hash        string    `json:"hash"`
	Chain       []hopWire `json:"chain,omitempty"`
	From        string    `json:"from"`
	Header      []byte    `json:"header"`
	Signature   []byte    `json:"signature"`
	Proof       []byte    `json:"proof"`
}

// hopWire is one hop of a chain: From sent the version in the batch of
// Header, signed by Signature, where Proof includes it.
type hopWire struct {
	From      string `json:"from"`
	Header    []byte `json:"header"`
	Signature []byte `json:"signature"`
	Proof     []byte `json:"proof"`
}

// hops are the hops of w, the source's first.
func (w *provenanceWire) hops() []hopWire {
	return append(slices.Clone(w.Chain), hopWire{From: w.From, Header: w.Header, Signature: w.Signature, Proof: w.Proof})
}

// HopCheck is what a recipient concluded of one hop of a chain: From sent
// the version to To; Verified is false when From is not a partner pinned
// here, and nothing then checks the claim.
type HopCheck struct {
	From, To string
	Verified bool
}

// Hop is a provenance carried in a batch for version Hash of Object. From
// is the sender of its first verified hop, to whom the version is
// attributed; when no hop verified (none is from a partner pinned here),
// Verified is false, From is the first hop's sender, and it counts for
// nothing. Hops are the checks of every hop, the source's first; Chain is
// the chain as the node stores it, to pass it on (see EncodeChain).
type Hop struct {
	Object   string
	Hash     [32]byte
	From     string
	Verified bool
	Hops     []HopCheck
	Chain    []byte
}

// encodeChain is the stored form of the hops by which a node received a
// version (mailbox.Provenance.Chain), up to the partner that sent it
// here, the source's first.
func encodeChain(hops []hopWire) ([]byte, error) {
	return json.Marshal(hops)
}

// parseChain reads a stored chain. Nil or empty is no chain: the version
// was received from its source, or stored before chains were kept.
func parseChain(data []byte) ([]hopWire, error) {
	if len(data) == 0 {
		return nil, nil
	}
	if len(data) > maxProvenance {
		return nil, fmt.Errorf("%w: stored chain of %d bytes; the limit is %d", ErrProvenance, len(data), maxProvenance)
	}
	var hops []hopWire
	if err := decodeStrict(data, &hops); err != nil {
		return nil, fmt.Errorf("%w: stored chain: %v", ErrProvenance, err)
	}
	if len(hops) > MaxProvenanceHops {
		return nil, fmt.Errorf("%w: stored chain of %d hops; the limit is %d", ErrProvenance, len(hops), MaxProvenanceHops)
	}
	for i, h := range hops {
		if h.From == "" || len(h.Header) == 0 {
			return nil, fmt.Errorf("%w: stored chain: hop %d of %d names no sender or batch", ErrProvenance, i+1, len(hops))
		}
	}
	return hops, nil
}

// provenanceObject wraps o, how this node received version hash of id,
// into the object that carries it in a batch: the hops o stores, then o's
// own. It fails with ErrProvenance when the chain would be longer than
// MaxProvenanceHops.
func provenanceObject(id string, o *mailbox.Origin) (*tearline.Object, error) {
	chain, err := parseChain(o.Chain)
	if err != nil {
		return nil, err
	}
	if len(chain)+1 > MaxProvenanceHops {
		return nil, fmt.Errorf("%w: %s came through %d hops; the limit is %d", ErrProvenance, id, len(chain)+1, MaxProvenanceHops)
	}
	w := provenanceWire{Type: ProvenanceType, SpecVersion: "2.1", Object: id, Hash: hex.EncodeToString(o.Hash[:]), Chain: chain,
		From: o.Sender, Header: o.Header, Signature: o.Signature, Proof: o.Proof}
	h := sha256.New()
	h.Write([]byte(id))
	h.Write(o.Hash[:])
	h.Write(o.Header)
	for _, c := range chain { // a one-hop provenance keeps the id it had
		h.Write(c.Header)
	}
	sum := h.Sum(nil)
	w.ID = fmt.Sprintf("%s--%x-%x-%x-%x-%x", ProvenanceType, sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
	body, err := json.Marshal(w)
	if err != nil {
		return nil, err
	}
	canon, err := stix.Canonicalize(body)
	if err != nil {
		return nil, err
	}
	return &tearline.Object{ID: w.ID, Type: ProvenanceType, SpecVersion: "2.1", JSON: canon, Hash: sha256.Sum256(canon)}, nil
}

// ParseProvenance reads a provenance object; verifyProvenance checks it.
func ParseProvenance(data []byte) (*provenanceWire, [32]byte, error) {
	var w provenanceWire
	var hash [32]byte
	if len(data) > maxProvenance {
		return nil, hash, fmt.Errorf("%w: %d bytes; the limit is %d", ErrProvenance, len(data), maxProvenance)
	}
	if err := decodeStrict(data, &w); err != nil {
		return nil, hash, fmt.Errorf("%w: %v", ErrProvenance, err)
	}
	h, err := hex.DecodeString(w.Hash)
	if err != nil || len(h) != len(hash) {
		return nil, hash, fmt.Errorf("%w: hash must be 64 hex digits", ErrProvenance)
	}
	copy(hash[:], h)
	if w.Type != ProvenanceType || w.Object == "" || w.From == "" || len(w.Header) == 0 {
		return nil, hash, fmt.Errorf("%w: not a provenance of an object", ErrProvenance)
	}
	if n := len(w.Chain) + 1; n > MaxProvenanceHops {
		return nil, hash, fmt.Errorf("%w: a chain of %d hops; the limit is %d", ErrProvenance, n, MaxProvenanceHops)
	}
	for i, c := range w.Chain {
		if c.From == "" || len(c.Header) == 0 {
			return nil, hash, fmt.Errorf("%w: hop %d of %d names no sender or batch", ErrProvenance, i+1, len(w.Chain)+1)
		}
	}
	return &w, hash, nil
}

// verifyProvenance checks a provenance that sender sent with version hash
// of an object whose label hashes to labelHash, hop by hop: each hop's
// sender is named once, and for each from a partner pinned here, the
// batch it names was signed by that partner with a key on its pinned
// card, addressed to the next hop's sender (sender, for the last), and
// holds the version with that label. Hops from partners not pinned here
// are carried unverified.
func verifyProvenance(w *provenanceWire, hash, labelHash [32]byte, cards Cards, sender string) (*Hop, error) {
	hops := w.hops()
	if len(hops) > MaxProvenanceHops {
		return nil, fmt.Errorf("%w: a chain of %d hops; the limit is %d", ErrProvenance, len(hops), MaxProvenanceHops)
	}
	out := &Hop{Object: w.Object, Hash: hash, From: hops[0].From}
	to := func(i int) string {
		if i+1 < len(hops) {
			return hops[i+1].From
		}
		return sender
	}
	where := func(i int) string { return fmt.Sprintf("hop %d of %d (%s to %s)", i+1, len(hops), hops[i].From, to(i)) }
	// Each node once: the sender, last, and every hop's sender.
	seen := map[string]bool{sender: true}
	for i, hw := range hops {
		if hw.From == to(i) {
			return nil, fmt.Errorf("%w: %s: %s names itself", ErrProvenance, where(i), hw.From)
		}
		if seen[hw.From] {
			return nil, fmt.Errorf("%w: %s: the chain passes through %s twice", ErrProvenance, where(i), hw.From)
		}
		seen[hw.From] = true
	}
	for i, hw := range hops {
		ok, err := verifyHop(&hw, hash, labelHash, cards, to(i))
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrProvenance, where(i), err)
		}
		out.Hops = append(out.Hops, HopCheck{From: hw.From, To: to(i), Verified: ok})
		if ok && !out.Verified {
			out.From, out.Verified = hw.From, true
		}
	}
	chain, err := encodeChain(hops)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProvenance, err)
	}
	out.Chain = chain
	return out, nil
}

// verifyHop checks one hop: that hw.From sent the version to to. It
// returns false, with no error, when hw.From is not a partner pinned here;
// any other failure to read its card is an error.
func verifyHop(hw *hopWire, hash, labelHash [32]byte, cards Cards, to string) (bool, error) {
	if _, err := cards.Get(hw.From); errors.Is(err, partner.ErrUnknownPartner) {
		return false, nil
	} else if err != nil {
		return false, fmt.Errorf("card of %s: %v", hw.From, err)
	}
	h, err := envelope.ParseHeader(hw.Header)
	if err != nil {
		return false, fmt.Errorf("header: %v", err)
	}
	if h.Sender != hw.From {
		return false, fmt.Errorf("the batch is %s's, not %s's", h.Sender, hw.From)
	}
	if !slices.Contains(h.Recipients, to) {
		return false, fmt.Errorf("%s's batch was not addressed to %s", hw.From, to)
	}
	pub, err := KeyResolver(cards, hw.From)(hw.From, h.SenderKeyID)
	if err != nil {
		return false, err
	}
	sig, err := envelope.ParseSignature(hw.Signature)
	if err != nil {
		return false, err
	}
	proof, err := envelope.ParseProof(hw.Proof)
	if err != nil {
		return false, err
	}
	if _, err := envelope.VerifyObject(hw.Header, sig, pub, hash, labelHash, proof); err != nil {
		return false, fmt.Errorf("%s's batch: %v", hw.From, err)
	}
	return true, nil
}

// provenanceItems are the provenance objects for the versions of objs
// this node received from a partner other than to: for each, how it first
// received it.
func (n *Node) provenanceItems(ctx context.Context, to string, objs []*tearline.StoredObject) ([]*tearline.Object, error) {
	st, ok := n.cfg.Store.(Provenances)
	if !ok {
		return nil, nil
	}
	// The release class of a version this node originated names no
	// originator: only the others are looked up.
	received := func(*tearline.StoredObject) bool { return true }
	if rs, ok := n.cfg.Store.(interface {
		ReleaseSubjects(ctx context.Context, ids []int64) (map[int64][]byte, error)
	}); ok {
		classes := map[int64]bool{}
		for _, o := range objs {
			if o.Class != 0 {
				classes[o.Class] = true
			}
		}
		subjects, err := rs.ReleaseSubjects(ctx, slices.Collect(maps.Keys(classes)))
		if err != nil {
			return nil, fmt.Errorf("release classes: %w", err)
		}
		others := map[int64]bool{}
		for id, data := range subjects {
			s, err := release.Subject(data)
			if err != nil {
				return nil, fmt.Errorf("release class %d: %w", id, err)
			}
			others[id] = slices.ContainsFunc(s.Originators, func(o string) bool { return o != n.self })
		}
		received = func(o *tearline.StoredObject) bool { return o.Class == 0 || others[o.Class] }
	}
	var ids []string
	for _, o := range objs {
		if received(o) {
			ids = append(ids, o.ID)
		}
	}
	if len(ids) == 0 {
		return nil, nil
	}
	// Stores that can look up many objects at once are asked once.
	var all map[string][]mailbox.Origin
	if bs, ok := st.(interface {
		OriginsOf(ctx context.Context, ids []string) (map[string][]mailbox.Origin, error)
	}); ok {
		var err error
		if all, err = bs.OriginsOf(ctx, ids); err != nil {
			return nil, fmt.Errorf("provenance: %w", err)
		}
	}
	var out []*tearline.Object
	for _, o := range objs {
		if !received(o) {
			continue
		}
		origins, ok := all[o.ID]
		if all == nil {
			var err error
			if origins, err = st.Origins(ctx, o.ID); err != nil {
				return nil, fmt.Errorf("provenance of %s: %w", o.ID, err)
			}
		} else if !ok {
			continue
		}
		// The copy received closest to its source is passed on, one
		// the recipient did not send here.
		var best *mailbox.Origin
		bestLen := 0
		for i := range origins {
			og := &origins[i]
			if og.Hash != o.Hash || og.Sender == to || len(og.Header) == 0 {
				continue
			}
			if l := len(og.Chain); best == nil || l < bestLen {
				best, bestLen = og, l
			}
		}
		if best == nil {
			continue
		}
		po, err := provenanceObject(o.ID, best)
		if errors.Is(err, ErrProvenance) {
			// Sent without: the recipient attributes the version to this
			// node, as it would refuse the chain.
			n.log.Warn("provenance not sent", "partner", to, "id", o.ID, "err", err)
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("provenance of %s: %w", o.ID, err)
		}
		out = append(out, po)
	}
	return out, nil
}
