package federation

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// The receiving checks, shared by the sync API and offline transfer: an
// envelope is opened only with the signing keys on the sender's pinned
// card, and each object in it is accepted only if its label is the one
// bound to it and the sender was entitled to send it to this node.

// Cards are the pinned partner cards; *partner.Store is one.
type Cards interface {
	Get(code string) (*partner.Pinned, error)
}

// KeyResolver resolves an envelope's signing key from the sender's pinned
// card: its current signing key or a retired one, never a revoked one.
// With expect set, an envelope from any other sender is refused as an
// unknown key: on a link, the sender is the partner at the other end.
func KeyResolver(cards Cards, expect string) envelope.KeyResolver {
	return func(sender, keyID string) (ed25519.PublicKey, error) {
		if expect != "" && sender != expect {
			return nil, fmt.Errorf("%w: the envelope names %s as its sender, but came from %s", envelope.ErrUnknownKey, sender, expect)
		}
		p, err := cards.Get(sender)
		if errors.Is(err, partner.ErrUnknownPartner) {
			return nil, fmt.Errorf("%w: %s is not a pinned partner", envelope.ErrUnknownKey, sender)
		}
		if err != nil {
			return nil, err
		}
		for _, r := range p.Card.RevokedKeys {
			if r.ID == keyID {
				return nil, fmt.Errorf("%w: %s key %s", envelope.ErrKeyRevoked, sender, keyID)
			}
		}
		for _, k := range append([]partner.Key{p.Card.SigningKey}, p.Card.RetiredSigningKeys...) {
			if k.ID == keyID {
				return ed25519.PublicKey(k.Public), nil
			}
		}
		return nil, fmt.Errorf("%w: %s has no signing key %s on its pinned card", envelope.ErrUnknownKey, sender, keyID)
	}
}

// Reason codes of refusals that are not release decisions (those carry the
// policy's reason codes).
const (
	// RefusedUnparsable: the object is not valid STIX.
	RefusedUnparsable = "unparsable"
	// RefusedLabel: the object's markings do not make a readable label.
	RefusedLabel = "label-unreadable"
	// RefusedBinding: the label read from the object is not the one the
	// sender bound to it.
	RefusedBinding = "label-binding"
	// RefusedConflict: this node holds other content under the object's
	// id and version.
	RefusedConflict = "duplicate-version"
	// RefusedRecalled: this node recalled the version, or applied its
	// originator's recall; it is not stored again.
	RefusedRecalled = "recalled"
	// RefusedConsent: a consent record in the batch is malformed, forged,
	// expired, or not given for what the sender sent with it.
	RefusedConsent = "consent-invalid"
	// RefusedProvenance: a provenance in the batch is malformed, does not
	// verify, or is for no object of the batch that it could attribute;
	// the objects are received all the same, as the sender's.
	RefusedProvenance = "provenance-invalid"
)

// Verdict is what the receiving checks concluded about one object of an
// opened envelope.
type Verdict struct {
	// Object and Value are the parsed object; nil when it did not parse.
	Object *tearline.Object
	Value  *stix.Value
	// Label is the object's label as read from its markings.
	Label tearline.Label
	// Refused is empty when the object is accepted; otherwise a reason
	// code, with Text in words.
	Refused, Text string
	// Originators are the originators of the information as this node
	// records them: the label's, else the sender.
	Originators []string
	// Consent is set for a consent record (an object of ConsentType) that
	// verified: it counts for the objects it covers and is not stored.
	Consent *ParsedConsent
	// Hop is set for a provenance (an object of ProvenanceType) that
	// verified; it is not stored.
	Hop *Hop
	// Consents are the verified consents that counted for this object.
	Consents []*ParsedConsent
	// Chain is the provenance carried for this object, as stored (see
	// mailbox.Provenance.Chain); nil when none was, or it was refused.
	Chain []byte
}

// Entitled decides whether sender was entitled to send an object to self,
// at the time given: as the originator, or because the label pre-authorises
// self, or with the originators' consent. It is the release decision the
// sender would have to pass, made by this node under its own agreements,
// with the sender as the holder; a decision other than Allow is a refusal.
// When the label names no originator, the sender is taken as the
// originator.
func Entitled(r *release.Releaser, sender string, obj *tearline.Object, v *stix.Value, l tearline.Label, at time.Time) tearline.Decision {
	return EntitledWith(r, sender, obj, v, l, at, nil)
}

// EntitledWith is Entitled with the consents that came with the object,
// which the caller MUST have verified (VerifyConsent) and checked to be
// given to sender for this node and this object.
func EntitledWith(r *release.Releaser, sender string, obj *tearline.Object, v *stix.Value, l tearline.Label, at time.Time, consents []*ParsedConsent) tearline.Decision {
	rc := r.Recipient(r.Holder, at)
	s := release.NewSubject(obj, v, sender, l)
	for _, c := range consents {
		s.Consents = append(s.Consents, c.Policy())
	}
	return r.Engine.Decide(&policy.Request{Subject: s, Recipient: rc, Action: tearline.Release, Time: at})
}

// CheckBatch runs the receiving checks on each object of an envelope
// opened from sender: it parses, reads the label from the object's
// markings with the marking definitions of the batch, checks it against
// the label bound to the object, and decides the sender's entitlement
// (Entitled) at the time given. Marking definitions carry no label and are
// accepted: they travel with what they label. Consent records (objects of
// ConsentType) are verified against their originators' pinned cards and
// count for the objects they cover; they are not stored. r.Holder is this
// node.
func CheckBatch(opened *envelope.Opened, r *release.Releaser, cards Cards, at time.Time) []Verdict {
	sender := opened.Header.Sender
	out := make([]Verdict, len(opened.Objects))
	defs := label.Definitions{}
	consents := map[string][]*ParsedConsent{}
	type carried struct {
		i    int
		w    *provenanceWire
		hash [32]byte
	}
	var provs []carried
	for i, rec := range opened.Objects {
		obj, v, err := parseReceived(rec)
		if err != nil {
			out[i] = Verdict{Refused: RefusedUnparsable, Text: err.Error()}
			continue
		}
		out[i] = Verdict{Object: obj, Value: v}
		switch obj.Type {
		case "marking-definition":
			if err := defs.Add(obj.JSON); err != nil {
				out[i].Refused, out[i].Text = RefusedLabel, fmt.Sprintf("marking definition: %v", err)
			}
		case ProvenanceType:
			w, hash, err := ParseProvenance(obj.JSON)
			if err != nil {
				out[i].Refused, out[i].Text = RefusedProvenance, err.Error()
				continue
			}
			provs = append(provs, carried{i, w, hash})
		case ConsentType:
			c, err := carriedConsent(obj, cards, sender, r.Holder, at)
			if err != nil {
				out[i].Refused, out[i].Text = RefusedConsent, err.Error()
				continue
			}
			out[i].Consent = c
			consents[c.Object] = append(consents[c.Object], c)
		}
	}
	labels := newLabelCache(defs)
	entitled := entitlements{r: r, sender: sender, at: at, m: map[string]tearline.Decision{}}
	for i, rec := range opened.Objects {
		vd := &out[i]
		if vd.Object == nil || vd.Object.Type == "marking-definition" || vd.Object.Type == ConsentType || vd.Object.Type == ProvenanceType {
			continue
		}
		for _, c := range consents[vd.Object.ID] {
			if c.Covers(vd.Object.ID, objectVersion(vd.Value)) {
				vd.Consents = append(vd.Consents, c)
			}
		}
		l, hash, err := labels.read(vd.Value)
		if err != nil {
			vd.Refused, vd.Text = RefusedLabel, fmt.Sprintf("the markings of %s do not make a label: %v", vd.Object.ID, err)
			continue
		}
		vd.Label = l
		if hash != rec.LabelHash {
			vd.Refused, vd.Text = RefusedBinding, fmt.Sprintf("the label of %s (%s) is not the label %s bound to it", vd.Object.ID, label.Format(l), sender)
			continue
		}
		d := entitled.decide(vd.Object, vd.Value, l, hash, vd.Consents)
		if d.Outcome != tearline.Allow {
			code, text := "deny", ""
			if len(d.Reasons) > 0 {
				code, text = d.Reasons[0].Code, d.Reasons[0].Text
			}
			vd.Refused = code
			vd.Text = fmt.Sprintf("%s was not entitled to send %s to %s (%s: %s)", sender, vd.Object.ID, r.Holder, d.Outcome, text)
			continue
		}
		vd.Originators = l.Originators
		if len(vd.Originators) == 0 {
			vd.Originators = []string{sender}
		}
	}
	// A verified provenance attributes a version whose label names no
	// originator to the sender of its first verified hop, its source as
	// far as partners pinned here attest; the chain is stored with the
	// version, to be passed on with it.
	chained := map[int]bool{}
	for _, p := range provs {
		vd := &out[p.i]
		t := slices.IndexFunc(out, func(o Verdict) bool {
			return o.Refused == "" && o.Object != nil && o.Object.ID == p.w.Object && o.Object.Hash == p.hash && len(o.Label.Originators) == 0 &&
				o.Object.Type != ProvenanceType && o.Object.Type != ConsentType && o.Object.Type != "marking-definition"
		})
		if t < 0 {
			vd.Refused, vd.Text = RefusedProvenance, fmt.Sprintf("%v: for %s, which the batch does not carry without an originator", ErrProvenance, p.w.Object)
			continue
		}
		if chained[t] {
			vd.Refused, vd.Text = RefusedProvenance, fmt.Sprintf("%v: a second provenance for %s", ErrProvenance, p.w.Object)
			continue
		}
		target := &out[t]
		hop, err := verifyProvenance(p.w, p.hash, opened.Objects[t].LabelHash, cards, sender)
		if err != nil {
			vd.Refused, vd.Text = RefusedProvenance, err.Error()
			continue
		}
		vd.Hop = hop
		chained[t] = true
		target.Chain = hop.Chain
		if hop.Verified {
			target.Originators = []string{hop.From}
		}
	}
	return out
}

// parseReceived reads an object of an opened envelope: its JSON, whose
// content hash the envelope verified, as a value, with the id and type
// that the checks need. It is not validated as STIX here: ingest does
// that, and rejects what is not, before anything is stored.
func parseReceived(rec envelope.Received) (*tearline.Object, *stix.Value, error) {
	data := bytes.Clone(rec.JSON)
	v, err := stix.ParseJSON(data)
	if err != nil {
		return nil, nil, err
	}
	id, okID := v.Get("id")
	typ, okType := v.Get("type")
	if !okID || !okType || id.Kind != stix.String || typ.Kind != stix.String || id.Str == "" || typ.Str == "" {
		return nil, nil, errors.New("the object has no id or type")
	}
	return &tearline.Object{ID: id.Str, Type: typ.Str, Hash: rec.ContentHash, JSON: data}, &v, nil
}

// entitlements decides Entitled once for the objects of a batch that share
// what the decision reads: their label (by its hash), type, topics and
// creation time.
type entitlements struct {
	r      *release.Releaser
	sender string
	at     time.Time
	m      map[string]tearline.Decision
}

func (e *entitlements) decide(obj *tearline.Object, v *stix.Value, l tearline.Label, labelHash [32]byte, consents []*ParsedConsent) tearline.Decision {
	if len(consents) > 0 {
		// Consents are per object: no other object shares the decision.
		return EntitledWith(e.r, e.sender, obj, v, l, e.at, consents)
	}
	key := subjectKey(labelHash, obj.Type, v)
	if d, ok := e.m[key]; ok {
		return d
	}
	d := Entitled(e.r, e.sender, obj, v, l, e.at)
	e.m[key] = d
	return d
}

// carriedConsent reads and verifies a consent record that sender sent to
// self: signed by its originator's pinned key, in force at the time given,
// given to sender for passing the object to self.
func carriedConsent(obj *tearline.Object, cards Cards, sender, self string, at time.Time) (*ParsedConsent, error) {
	if cards == nil {
		return nil, fmt.Errorf("%w: no pinned cards to verify it with", ErrConsent)
	}
	c, err := consentFromObject(obj.JSON)
	if err != nil {
		return nil, err
	}
	switch {
	case c.Holder != sender:
		return nil, fmt.Errorf("%w: %s's consent %s was given to %s, but %s sent it", ErrConsent, c.Originator, c.Request, c.Holder, sender)
	case c.Recipient != self:
		return nil, fmt.Errorf("%w: %s's consent %s is for passing %s to %s, not to %s", ErrConsent, c.Originator, c.Request, c.Object, c.Recipient, self)
	}
	if err := VerifyConsent(cards, c, at); err != nil {
		return nil, err
	}
	return c, nil
}

// objectVersion is an object's version: modified, else created, else zero.
func objectVersion(v *stix.Value) time.Time {
	for _, k := range []string{"modified", "created"} {
		if t, ok := v.Get(k); ok && t.Kind == stix.String {
			if at, _, err := stix.ParseTimestamp(t.Str); err == nil {
				return at.UTC()
			}
		}
	}
	return time.Time{}
}

// Classifier gives objects received from sender their release class on
// this node: the sender is their originator unless their label names the
// originators, so that passing them on is onward sharing, under the
// third-party rule. origins, when it holds a version (by id and content
// hash), names its originators instead: the source a verified provenance
// chain attests (see CheckBatch's Verdict.Originators). Objects alike in
// what a class holds (label, type, topics, creation time, originators)
// share the class computed for the first.
func Classifier(r *release.Releaser, sender string, origins map[VersionKey][]string) func(*tearline.Object, *stix.Value, tearline.Label) ([]byte, error) {
	var mu sync.Mutex
	classes := map[string][]byte{}
	return func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
		originators := []string{sender}
		if o, ok := origins[VersionKey{ID: obj.ID, Hash: obj.Hash}]; ok && len(o) > 0 {
			originators = o
		}
		key := subjectKey(label.Hash(l), obj.Type, v)
		if len(l.Originators) == 0 {
			key += "\x00" + strings.Join(originators, ",")
		}
		mu.Lock()
		c, ok := classes[key]
		mu.Unlock()
		if ok {
			return c, nil
		}
		s := release.NewSubject(obj, v, r.Holder, l)
		if len(l.Originators) == 0 {
			s.Originators = originators
		}
		c, err := r.Classify(s)
		if err != nil {
			return nil, err
		}
		mu.Lock()
		classes[key] = c
		mu.Unlock()
		return c, nil
	}
}

// VersionKey names one version of an object: its id and content hash.
type VersionKey struct {
	ID   string
	Hash [32]byte
}

// subjectKey is what a decision subject made by release.NewSubject reads
// of an object besides its id: the label (by its hash), the type, the
// creation time and the topics.
func subjectKey(labelHash [32]byte, typ string, v *stix.Value) string {
	var b strings.Builder
	b.Write(labelHash[:])
	b.WriteString(typ)
	b.WriteByte(0)
	if c, ok := v.Get("created"); ok && c.Kind == stix.String {
		b.WriteString(c.Str)
	}
	b.WriteByte(0)
	if ls, ok := v.Get("labels"); ok && ls.Kind == stix.Array {
		for _, t := range ls.Arr {
			b.WriteString(t.Str)
			b.WriteByte(0)
		}
	}
	return b.String()
}

// labelCache reads labels for one batch, whose marking definitions do not
// change: a label depends only on the object's object_marking_refs (see
// label.FromObject), and a batch's objects mostly share a few, so each
// list is read once.
type labelCache struct {
	defs label.Resolver
	m    map[string]labelEntry
}

type labelEntry struct {
	l    tearline.Label
	hash [32]byte
	err  error
}

func newLabelCache(defs label.Resolver) *labelCache {
	return &labelCache{defs: defs, m: map[string]labelEntry{}}
}

// read returns the object's label and its hash.
func (c *labelCache) read(v *stix.Value) (tearline.Label, [32]byte, error) {
	key, ok := refsKey(v)
	if !ok {
		l, err := label.FromObject(v, c.defs)
		return l, label.Hash(l), err
	}
	if e, ok := c.m[key]; ok {
		return e.l, e.hash, e.err
	}
	l, err := label.FromObject(v, c.defs)
	e := labelEntry{l: l, err: err}
	if err == nil {
		e.hash = label.Hash(l)
	}
	c.m[key] = e
	return e.l, e.hash, e.err
}

// refsKey is the object's marking references as one string, in order; not
// ok when they are not a list of strings (label.FromObject then says why).
func refsKey(v *stix.Value) (string, bool) {
	refs, ok := v.Get("object_marking_refs")
	if !ok {
		return "", true
	}
	if refs.Kind != stix.Array {
		return "", false
	}
	var b strings.Builder
	for _, r := range refs.Arr {
		if r.Kind != stix.String {
			return "", false
		}
		b.WriteString(r.Str)
		b.WriteByte(0)
	}
	return b.String(), true
}
