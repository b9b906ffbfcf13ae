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
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// Provenance that travels. A node that passes on an object version it
// received (as a label without an originator allows, or with consent)
// sends with it the proof of where it had it from: the batch header and
// signature of the partner that sent it the version, and the version's
// inclusion proof in that batch, as an object of ProvenanceType under the
// envelope's signature. The recipient verifies it with that partner's
// pinned key (the version, with its label, was in a batch signed by that
// partner and addressed to the node passing it on) and records that
// partner, not the node passing it on, as the version's originator. A
// proof that does not verify counts for nothing: the version is then the
// sender's, as without one. One hop travels: a version passed on twice is
// attributed to the partner the last holder had it from.

// ProvenanceType is the type of the objects that carry provenance in a
// batch. They are checked and counted, never stored as intelligence.
const ProvenanceType = "x-tearline-provenance"

// maxProvenance bounds a provenance object a node reads: a batch header
// (at most envelope.MaxHeaderSize, in practice a few kilobytes for one
// recipient), a signature and a proof, in base64.
const maxProvenance = 64 << 10

// ErrProvenance marks a provenance object that is malformed or does not
// verify.
var ErrProvenance = errors.New("provenance refused")

type provenanceWire struct {
	Type        string `json:"type"`
	SpecVersion string `json:"spec_version"`
	ID          string `json:"id"`
	Object      string `json:"object"`
	Hash        string `json:"hash"`
	From        string `json:"from"`
	Header      []byte `json:"header"`
	Signature   []byte `json:"signature"`
	Proof       []byte `json:"proof"`
}

// Hop is a provenance carried in a batch: From sent version Hash of
// Object to the node that passed it on. Verified is false when From is not
// a partner pinned here: nothing then checks the claim, and it counts for
// nothing.
type Hop struct {
	Object   string
	Hash     [32]byte
	From     string
	Verified bool
}

// provenanceObject wraps o, how this node received version hash of id,
// into the object that carries it in a batch.
func provenanceObject(id string, o *mailbox.Origin) (*tearline.Object, error) {
	w := provenanceWire{Type: ProvenanceType, SpecVersion: "2.1", Object: id, Hash: hex.EncodeToString(o.Hash[:]),
		From: o.Sender, Header: o.Header, Signature: o.Signature, Proof: o.Proof}
	sum := sha256.Sum256(append(append([]byte(id), o.Hash[:]...), o.Header...))
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
	return &w, hash, nil
}

// verifyProvenance checks a provenance that sender sent with version hash
// of an object whose label hashes to labelHash: the batch it names was
// signed by From with a key on From's pinned card, addressed to sender,
// and holds the version with that label. A provenance from a partner not
// pinned here is returned unverified.
func verifyProvenance(w *provenanceWire, hash, labelHash [32]byte, cards Cards, sender string) (*Hop, error) {
	if w.From == sender {
		return nil, fmt.Errorf("%w: %s names itself", ErrProvenance, sender)
	}
	if _, err := cards.Get(w.From); err != nil {
		return &Hop{Object: w.Object, Hash: hash, From: w.From}, nil
	}
	h, err := envelope.ParseHeader(w.Header)
	if err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrProvenance, err)
	}
	if h.Sender != w.From {
		return nil, fmt.Errorf("%w: the batch is %s's, not %s's", ErrProvenance, h.Sender, w.From)
	}
	if !slices.Contains(h.Recipients, sender) {
		return nil, fmt.Errorf("%w: %s's batch was not addressed to %s", ErrProvenance, w.From, sender)
	}
	pub, err := KeyResolver(cards, w.From)(w.From, h.SenderKeyID)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProvenance, err)
	}
	sig, err := envelope.ParseSignature(w.Signature)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProvenance, err)
	}
	proof, err := envelope.ParseProof(w.Proof)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProvenance, err)
	}
	if _, err := envelope.VerifyObject(w.Header, sig, pub, hash, labelHash, proof); err != nil {
		return nil, fmt.Errorf("%w: %s's batch: %v", ErrProvenance, w.From, err)
	}
	return &Hop{Object: w.Object, Hash: hash, From: w.From, Verified: true}, nil
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
		for i := range origins {
			og := &origins[i]
			if og.Hash != o.Hash || og.Sender == to || len(og.Header) == 0 {
				continue
			}
			po, err := provenanceObject(o.ID, og)
			if err != nil {
				return nil, fmt.Errorf("provenance of %s: %w", o.ID, err)
			}
			out = append(out, po)
			break
		}
	}
	return out, nil
}
