package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/stix"
)

// Offline transfer for disconnected networks: what a partner may receive is
// sealed into one envelope file that travels by hand; the partner's node
// verifies and opens it with import.

// exportSealed seals to partner `to` every object of the query that the
// release engine allows, with the marking definitions their labels need.
func (e *env) exportSealed(ctx context.Context, n *node.Node, s store, q tearline.ObjectQuery, to, file string) error {
	to = strings.ToUpper(to)
	pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).Get(to)
	if err != nil {
		return fmt.Errorf("%w (pin %s's card first with 'tearline partner add CARD --fingerprint F')", err, to)
	}
	key, err := hpke.MLKEM768X25519().NewPublicKey(pinned.Card.HPKEKey.Public)
	if err != nil {
		return fmt.Errorf("%s's pinned card: sealing key: %w", to, err)
	}
	rel, err := nodeReleasing(n)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	holder := n.Config.Node.Partner
	rc := rel.recipient(to, now)

	defs := label.Definitions{}
	var items []envelope.Item
	needed := map[string]bool{}
	withheld := map[tearline.Outcome]int{}
	q.Limit = 1000
	for {
		page, err := s.Objects(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Objects {
			o := &page.Objects[i]
			if o.Type == "marking-definition" {
				continue // sent with the objects that refer to them
			}
			obj, v, err := stix.Parse(o.JSON)
			if err != nil {
				return err
			}
			subject, _, err := parsedSubject(ctx, s, q.Collection, obj, v, holder, defs)
			if err != nil {
				return err
			}
			if o := rel.engine.Verdict(&policy.Request{Subject: subject, Recipient: rc, Action: tearline.Release, Time: now}); o != tearline.Allow {
				withheld[o]++
				continue
			}
			items = append(items, envelope.Item{Object: &o.Object, LabelHash: label.Hash(subject.Label)})
			if refs, ok := v.Get("object_marking_refs"); ok {
				for _, r := range refs.Arr {
					needed[r.Str] = true
				}
			}
		}
		if !page.More {
			break
		}
		q.After = page.Objects[len(page.Objects)-1].DateAdded
	}
	if len(items) == 0 {
		return fmt.Errorf("nothing in collection %q may be released to %s (withheld: %s); 'tearline explain ID --to %s' says why for one object",
			q.Collection, to, outcomes(withheld), to)
	}
	// Marking definitions carry no label of their own; they travel with
	// what they label so the recipient can read it.
	var ids []string
	for id := range needed {
		ids = append(ids, id)
	}
	if len(ids) > 0 {
		mp, err := s.Objects(ctx, tearline.ObjectQuery{Collection: q.Collection, IDs: ids, Types: []string{"marking-definition"}})
		if err != nil {
			return err
		}
		for i := range mp.Objects {
			items = append([]envelope.Item{{Object: &mp.Objects[i].Object, LabelHash: label.Hash(tearline.Label{})}}, items...)
		}
	}
	// The sequence number is the sealing time in nanoseconds: it grows
	// from one envelope to the next without state kept on the sender.
	batch := &envelope.Batch{Sequence: uint64(now.UnixNano()), Items: items}
	signer := envelope.Signer{Code: holder, KeyID: n.SigningKeyID, Key: n.SigningKey}
	recipients := []envelope.Recipient{{Code: to, KeyID: pinned.Card.HPKEKey.ID, Key: key}}
	sealed, err := envelope.Seal(batch, signer, recipients, rand.Reader, now)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("envelope: %w (choose a new file name)", err)
	}
	if _, err := f.Write(sealed); err != nil {
		f.Close()
		os.Remove(file)
		return err
	}
	if err := f.Close(); err != nil {
		os.Remove(file)
		return err
	}
	fmt.Fprintf(e.stdout, "sealed %d objects for %s into %s (%d bytes); withheld: %s\n", len(items), to, file, len(sealed), outcomes(withheld))
	sent := make([]string, len(items))
	for i, it := range items {
		sent[i] = it.Object.ID
	}
	return e.record(ctx, n, s, ledger.Event{Kind: ledger.KindEnvelopeSent, Time: now, Subjects: sent, Details: map[string]string{
		"recipient": to, "sequence": strconv.FormatUint(batch.Sequence, 10), "objects": strconv.Itoa(len(items)), "withheld": outcomes(withheld)}})
}

func outcomes(m map[tearline.Outcome]int) string {
	var parts []string
	for _, o := range []tearline.Outcome{tearline.Deny, tearline.NeedsConsent, tearline.NeedsPerson, tearline.AllowVariant} {
		if m[o] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[o], o))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// importEnvelope verifies and opens an envelope sealed to this node and
// stores what it holds, after checking each object's label against the
// label bound to it and that the sender was entitled to send it to us
// under our own agreements.
func (e *env) importEnvelope(ctx context.Context, n *node.Node, s store, data []byte, collection, name string) (ingest.Summary, error) {
	pins := partner.NewStore(n.Dir, n.Config.Node.Partner)
	resolve := func(sender, keyID string) (ed25519.PublicKey, error) {
		p, err := pins.Get(sender)
		if err != nil {
			return nil, fmt.Errorf("%w: %s is not a pinned partner", envelope.ErrUnknownKey, sender)
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
	guard := &fileReplayGuard{dir: filepath.Join(n.Dir, "received")}
	opened, err := envelope.Open(data, n.Config.Node.Partner, n.HPKEKeyID, n.HPKEKey, resolve, guard)
	if err != nil {
		return ingest.Summary{}, fmt.Errorf("envelope refused: %w", err)
	}
	sender := opened.Header.Sender

	rel, err := nodeReleasing(n)
	if err != nil {
		return ingest.Summary{}, err
	}
	self := n.Config.Node.Partner
	rc := rel.recipient(self, opened.Header.Created)

	// Each object is parsed once: marking definitions first, so that the
	// labels of the objects after them can be read.
	type received struct {
		obj       *tearline.Object
		v         *stix.Value
		labelHash [32]byte
	}
	objs := make([]received, len(opened.Objects))
	ids := make([]string, len(opened.Objects))
	defs := label.Definitions{}
	for i, r := range opened.Objects {
		obj, v, err := stix.Parse(bytes.Clone(r.JSON))
		if err != nil {
			return ingest.Summary{}, fmt.Errorf("envelope from %s: %w", sender, err)
		}
		objs[i], ids[i] = received{obj, v, r.LabelHash}, obj.ID
		if obj.Type == "marking-definition" {
			if err := defs.Add(obj.JSON); err != nil {
				return ingest.Summary{}, fmt.Errorf("envelope from %s: marking definition: %w", sender, err)
			}
		}
	}
	var lines bytes.Buffer
	var refused []string
	for _, r := range objs {
		if r.obj.Type != "marking-definition" {
			l, err := label.FromObject(r.v, defs)
			if err != nil {
				return ingest.Summary{}, fmt.Errorf("envelope from %s: the label of %s cannot be read (%v); the envelope is refused", sender, r.obj.ID, err)
			}
			if label.Hash(l) != r.labelHash {
				return ingest.Summary{}, fmt.Errorf("envelope from %s: the label of %s does not match the label bound to it; the envelope is refused", sender, r.obj.ID)
			}
			d := rel.engine.Decide(&policy.Request{Subject: newSubject(r.obj, r.v, sender, l), Recipient: rc, Action: tearline.Release, Time: opened.Header.Created})
			if d.Outcome != tearline.Allow {
				reason := ""
				if len(d.Reasons) > 0 {
					reason = d.Reasons[0].Text
				}
				refused = append(refused, fmt.Sprintf("%s: %s was not entitled to send it (%s: %s)", r.obj.ID, sender, d.Outcome, reason))
				continue
			}
		}
		lines.Write(r.obj.JSON)
		lines.WriteByte('\n')
	}
	for _, r := range refused {
		fmt.Fprintf(e.stderr, "%s: refused %s\n", name, r)
	}
	sum, err := ingest.Stream(ctx, s, &lines, ingest.Options{Collection: collection,
		Reject: func(r ingest.Rejection) { fmt.Fprintf(e.stderr, "%s: rejected %v\n", name, r.Err) },
		// What a partner sent is the sender's information to this node:
		// passing it on is onward sharing, under the third-party rule.
		Classify: func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
			subject := release.NewSubject(obj, v, self, l)
			subject.Originators = []string{sender}
			return rel.Classify(subject)
		}})
	sum.Read += len(refused)
	sum.Rejected += len(refused)
	if err != nil {
		return sum, err
	}
	if err := guard.Record(sender, self, opened.Header.Sequence); err != nil {
		return sum, err
	}
	if err := e.updateReleases(ctx, s, rel, self+" import", false); err != nil {
		return sum, err
	}
	fmt.Fprintf(e.stdout, "%s: envelope from %s (sequence %d, sealed %s) verified; %d objects: %d added, %d already present, %d refused\n",
		name, sender, opened.Header.Sequence, opened.Header.Created.Format(time.RFC3339), sum.Read, sum.Added, sum.Present, sum.Rejected)
	err = e.record(ctx, n, s, ledger.Event{Kind: ledger.KindEnvelopeReceived, Actor: sender, Subjects: ids, Details: map[string]string{
		"sender": sender, "sequence": strconv.FormatUint(opened.Header.Sequence, 10),
		"added": strconv.Itoa(sum.Added), "present": strconv.Itoa(sum.Present), "refused": strconv.Itoa(sum.Rejected)}})
	return sum, err
}

// fileReplayGuard keeps the last sequence number accepted from each sender
// in the node directory. Seen checks; Record writes once the envelope's
// objects are stored, so a crash in between lets the same envelope be
// imported again, which stores nothing twice.
type fileReplayGuard struct{ dir string }

var _ envelope.ReplayGuard = (*fileReplayGuard)(nil)

func (g *fileReplayGuard) path(sender, recipient string) string {
	return filepath.Join(g.dir, sender+"-to-"+recipient+".seq")
}

func (g *fileReplayGuard) last(sender, recipient string) (uint64, error) {
	data, err := os.ReadFile(g.path(sender, recipient))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return strconv.ParseUint(strings.TrimSpace(string(data)), 10, 64)
}

func (g *fileReplayGuard) Seen(sender, recipient string, seq uint64) error {
	last, err := g.last(sender, recipient)
	if err != nil {
		return err
	}
	if seq <= last {
		return fmt.Errorf("%w: %s to %s: sequence %d, last accepted %d", envelope.ErrReplay, sender, recipient, seq, last)
	}
	return nil
}

// Record notes seq as the last accepted from sender.
func (g *fileReplayGuard) Record(sender, recipient string, seq uint64) error {
	if err := os.MkdirAll(g.dir, 0o700); err != nil {
		return err
	}
	tmp := g.path(sender, recipient) + ".tmp"
	if err := os.WriteFile(tmp, []byte(strconv.FormatUint(seq, 10)+"\n"), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, g.path(sender, recipient))
}
