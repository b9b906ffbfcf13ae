package federation

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/release"
)

// TestProvenanceTravels: GBR's object, labelled for the Five Eyes without
// naming an originator, reaches USA and CAN from GBR and, passed on as the
// label allows, one of them from the other, which sends with it the proof
// that it had it from GBR (TestProvenanceChain passes it on further): both record GBR, not the partner that passed it
// on, as the originator of every copy; so a recall by GBR is applied by
// both, which acknowledge it. The provenance
// of a copy verifies only as it was signed, for the node it was sent to.
func TestProvenanceTravels(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN")
	id := matrixID(80)
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	gbr.publish(labelled(t, id, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism"))
	tn.startAll()
	ctx := context.Background()
	// USA and CAN pass the object on to each other (either, or both at
	// once): one at least holds it from GBR and from the other.
	copies := func() (bool, string) {
		copies := 0
		for _, n := range []*testNode{usa, can} {
			origins, err := n.store.(Provenances).Origins(ctx, id)
			if err != nil {
				return false, err.Error()
			}
			for _, o := range origins {
				if !slices.Equal(o.Originators, []string{"GBR"}) {
					return false, fmt.Sprintf("%s records %v as the originators of its copy from %s; want GBR", n.code, o.Originators, o.Sender)
				}
			}
			copies += len(origins)
		}
		return copies >= 3, fmt.Sprintf("USA and CAN have %d copies; want 3 or 4 (one or two passed on)", copies)
	}
	eventually(t, 30*time.Second, copies)
	tn.waitSettled(30 * time.Second)
	if ok, msg := copies(); !ok {
		t.Fatal(msg)
	}

	// The provenance CAN would send on for its copy from GBR verifies, at
	// a node pinning GBR, for a batch addressed to CAN and that version
	// with its label; altered in any part, it does not.
	origins, err := can.store.(Provenances).Origins(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	i := slices.IndexFunc(origins, func(o mailbox.Origin) bool { return o.Sender == "GBR" })
	if i < 0 {
		t.Fatalf("CAN has no copy from GBR: %+v", origins)
	}
	l, err := label.Parse("GBR SECRET//REL TO USA, GBR, FVEY")
	if err != nil {
		t.Fatal(err)
	}
	labelHash := label.Hash(l)
	cards := partner.NewStore(can.dir, "CAN") // pins GBR and USA
	check := func(o mailbox.Origin, hash, labelHash [32]byte, sender string) (*Hop, error) {
		po, err := provenanceObject(id, &o)
		if err != nil {
			t.Fatal(err)
		}
		w, h, err := ParseProvenance(po.JSON)
		if err != nil {
			t.Fatalf("ParseProvenance: %v", err)
		}
		if h != o.Hash {
			t.Fatalf("ParseProvenance hash %x; want %x", h, o.Hash)
		}
		return verifyProvenance(w, hash, labelHash, cards, sender)
	}
	og := origins[i]
	if hop, err := check(og, og.Hash, labelHash, "CAN"); err != nil || !hop.Verified || hop.From != "GBR" || hop.Object != id {
		t.Fatalf("the provenance of CAN's copy from GBR: %+v, %v; want it verified, from GBR", hop, err)
	}
	flip := func(b []byte, i int) []byte {
		b = bytes.Clone(b)
		b[i%len(b)] ^= 1
		return b
	}
	other := og.Hash
	other[0] ^= 1
	for name, tc := range map[string]struct {
		o        mailbox.Origin
		hash, lh [32]byte
		sender   string
	}{
		"passed on by a partner the batch was not for": {og, og.Hash, labelHash, "USA"},
		"another version":      {og, other, labelHash, "CAN"},
		"another label":        {og, og.Hash, label.Hash(tearline.Label{}), "CAN"},
		"a header altered":     {func() mailbox.Origin { o := og; o.Header = flip(o.Header, len(o.Header)-3); return o }(), og.Hash, labelHash, "CAN"},
		"a signature altered":  {func() mailbox.Origin { o := og; o.Signature = flip(o.Signature, 100); return o }(), og.Hash, labelHash, "CAN"},
		"a proof altered":      {func() mailbox.Origin { o := og; o.Proof = flip(o.Proof, len(o.Proof)-1); return o }(), og.Hash, labelHash, "CAN"},
		"another sender named": {func() mailbox.Origin { o := og; o.Sender = "USA"; return o }(), og.Hash, labelHash, "CAN"},
	} {
		if hop, err := check(tc.o, tc.hash, tc.lh, tc.sender); !errors.Is(err, ErrProvenance) {
			t.Errorf("%s: %+v, %v; want ErrProvenance", name, hop, err)
		}
	}
	// From a partner not pinned here: carried, not verified.
	if hop, err := verifyProvenance(&provenanceWire{Object: id, From: "NZL", Header: og.Header}, og.Hash, labelHash, cards, "CAN"); err != nil || hop.Verified {
		t.Errorf("a provenance from an unpinned partner: %+v, %v; want it unverified", hop, err)
	}

	issue(t, gbr, id, "recall--provenance")
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Equal(acked, []string{"CAN", "USA"}), fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	for _, n := range []*testNode{usa, can} {
		if n.held()[id] != 0 {
			t.Errorf("%s still holds the recalled object", n.code)
		}
		if hasEvent(n.events(ledger.KindEnvelopeReceived), func(e ledger.Event) bool { return e.Details["refused"] != "0" }) {
			t.Errorf("%s refused something: %+v", n.code, n.events(ledger.KindEnvelopeReceived))
		}
		n.verifyLedger()
	}
}

// TestProvenanceChain: GBR's object, labelled for the Five Eyes without
// naming an originator, goes GBR -> USA -> CAN -> AUS, each node up only
// while it has the object from the one before (so that AUS has it from
// CAN alone). Every hop's proof travels: CAN records GBR as the
// originator of its copy from USA, AUS of its copy from CAN, which carries
// the two hops before it; so GBR's recall, passed on from holder to
// holder, is applied by AUS. A chain altered in any hop, reordered, with a
// hop addressed to someone else, passing through a node twice or too long
// is refused with its reason; a hop from a partner not pinned here is
// carried but proves nothing.
func TestProvenanceChain(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN", "AUS")
	id := matrixID(81)
	gbr, usa, can, aus := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"], tn.nodes["AUS"]
	gbr.publish(labelled(t, id, "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism"))
	tn.pin()
	ctx := context.Background()
	// from waits until n holds the object from sender, attributed to GBR.
	from := func(n *testNode, sender string) mailbox.Origin {
		t.Helper()
		var got mailbox.Origin
		eventually(t, 30*time.Second, func() (bool, string) {
			origins, err := n.store.Origins(ctx, id)
			if err != nil {
				return false, err.Error()
			}
			for _, o := range origins {
				if o.Sender == sender {
					got = o
					return slices.Equal(o.Originators, []string{"GBR"}), fmt.Sprintf("%s records %v as the originators of its copy from %s; want GBR", n.code, o.Originators, sender)
				}
			}
			return false, fmt.Sprintf("%s has no copy from %s: %+v", n.code, sender, origins)
		})
		return got
	}
	chainFroms := func(o mailbox.Origin) []string {
		hops, err := parseChain(o.Chain)
		if err != nil {
			t.Fatalf("chain stored from %s: %v", o.Sender, err)
		}
		var out []string
		for _, h := range hops {
			out = append(out, h.From)
		}
		return out
	}

	tn.start(gbr)
	tn.start(usa)
	usaCopy := from(usa, "GBR")
	gbr.stop()
	tn.start(can)
	canCopy := from(can, "USA")
	usa.stop()
	tn.start(aus)
	ausCopy := from(aus, "CAN")
	for _, c := range []struct {
		n    *testNode
		o    mailbox.Origin
		want []string
	}{{usa, usaCopy, nil}, {can, canCopy, []string{"GBR"}}, {aus, ausCopy, []string{"GBR", "USA"}}} {
		if got := chainFroms(c.o); !slices.Equal(got, c.want) {
			t.Errorf("%s stored the chain %v with its copy from %s; want %v", c.n.code, got, c.o.Sender, c.want)
		}
	}
	origins, err := aus.store.Origins(ctx, id)
	if err != nil || len(origins) != 1 {
		t.Fatalf("AUS has %+v, %v; want its copy from CAN alone", origins, err)
	}
	// Each holder decides what it may pass on with GBR, the source the
	// chain attests, as the originator, not the partner it had it from.
	for _, n := range []*testNode{usa, can, aus} {
		class, _, err := n.store.ReleaseOf(ctx, "default", id, time.Time{})
		if err != nil {
			t.Fatalf("%s: ReleaseOf(%s): %v", n.code, id, err)
		}
		subjects, err := n.store.ReleaseSubjects(ctx, []int64{class})
		if err != nil {
			t.Fatal(err)
		}
		s, err := release.Subject(subjects[class])
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(s.Originators, []string{"GBR"}) {
			t.Errorf("%s's release class of the object names %v as its originators; want GBR", n.code, s.Originators)
		}
	}

	// USA's copy, received from its source, is stored as one-hop
	// records were before chains were kept, and goes on as they did: no
	// chain, the same provenance id.
	po, err := provenanceObject(id, &usaCopy)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(po.JSON, []byte(`"chain"`)) {
		t.Errorf("a one-hop provenance carries a chain: %s", po.JSON)
	}
	sum := sha256.Sum256(append(append([]byte(id), usaCopy.Hash[:]...), usaCopy.Header...))
	if want := fmt.Sprintf("%s--%x-%x-%x-%x-%x", ProvenanceType, sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16]); po.ID != want {
		t.Errorf("a one-hop provenance has the id %s; want %s, as before chains", po.ID, want)
	}

	// What CAN sends AUS with the object verifies at AUS, hop by hop.
	l, err := label.Parse("GBR SECRET//REL TO USA, GBR, FVEY")
	if err != nil {
		t.Fatal(err)
	}
	labelHash := label.Hash(l)
	cards := partner.NewStore(aus.dir, "AUS")
	wire := func(o mailbox.Origin) *provenanceWire {
		po, err := provenanceObject(id, &o)
		if err != nil {
			t.Fatal(err)
		}
		w, _, err := ParseProvenance(po.JSON)
		if err != nil {
			t.Fatalf("ParseProvenance: %v", err)
		}
		return w
	}
	hop, err := verifyProvenance(wire(canCopy), canCopy.Hash, labelHash, cards, "CAN")
	if err != nil || !hop.Verified || hop.From != "GBR" ||
		!slices.Equal(hop.Hops, []HopCheck{{"GBR", "USA", true}, {"USA", "CAN", true}}) {
		t.Fatalf("CAN's provenance at AUS: %+v, %v; want two verified hops, from GBR", hop, err)
	}
	// A hop first from a partner not pinned here (NZL, to GBR) is carried
	// but counts for nothing: GBR's hop is the first verified.
	w := wire(canCopy)
	w.Chain = append([]hopWire{{From: "NZL", Header: []byte("unverifiable")}}, w.Chain...)
	if hop, err := verifyProvenance(w, canCopy.Hash, labelHash, cards, "CAN"); err != nil || hop.From != "GBR" || hop.Hops[0].Verified || !hop.Hops[1].Verified {
		t.Errorf("a chain from NZL, not pinned: %+v, %v; want it carried, GBR the first verified", hop, err)
	}
	flip := func(b []byte) []byte {
		b = bytes.Clone(b)
		b[len(b)-1] ^= 1
		return b
	}
	for name, tc := range map[string]struct {
		alter  func(w *provenanceWire)
		sender string
		reason string
	}{
		"the first hop's proof altered":    {func(w *provenanceWire) { w.Chain[0].Proof = flip(w.Chain[0].Proof) }, "CAN", "hop 1 of 2 (GBR to USA)"},
		"the first hop's header altered":   {func(w *provenanceWire) { w.Chain[0].Header = flip(w.Chain[0].Header) }, "CAN", "hop 1 of 2 (GBR to USA)"},
		"the last hop's signature altered": {func(w *provenanceWire) { w.Signature = flip(w.Signature) }, "CAN", "hop 2 of 2 (USA to CAN)"},
		"the hops reordered": {func(w *provenanceWire) {
			first := w.Chain[0]
			w.Chain[0] = hopWire{From: w.From, Header: w.Header, Signature: w.Signature, Proof: w.Proof}
			w.From, w.Header, w.Signature, w.Proof = first.From, first.Header, first.Signature, first.Proof
		}, "CAN", "hop 1 of 2 (USA to GBR): USA's batch was not addressed to GBR"},
		"a hop inserted after GBR's": {func(w *provenanceWire) {
			w.Chain = append(w.Chain, hopWire{From: "NZL", Header: []byte("unverifiable")})
		}, "CAN", "hop 1 of 3 (GBR to NZL): GBR's batch was not addressed to NZL"},
		"passed on by a node the last hop was not for": {func(*provenanceWire) {}, "NZL", "hop 2 of 2 (USA to NZL): USA's batch was not addressed to NZL"},
		"a node twice": {func(w *provenanceWire) {
			w.Chain = append([]hopWire{{From: "USA", Header: w.Header, Signature: w.Signature, Proof: w.Proof}}, w.Chain...)
		}, "CAN", "the chain passes through USA twice"},
		"the node passing it on in the chain": {func(w *provenanceWire) {
			w.Chain = append([]hopWire{{From: "CAN", Header: []byte("earlier")}}, w.Chain...)
		}, "CAN", "the chain passes through CAN twice"},
	} {
		w := wire(canCopy)
		tc.alter(w)
		hop, err := verifyProvenance(w, canCopy.Hash, labelHash, cards, tc.sender)
		if !errors.Is(err, ErrProvenance) || !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("%s: %+v, %v; want ErrProvenance: %s", name, hop, err, tc.reason)
		}
	}
	// Too long: refused as read, and never sent.
	w = wire(canCopy)
	for len(w.Chain) < MaxProvenanceHops {
		w.Chain = append(w.Chain, w.Chain[0])
	}
	long, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := ParseProvenance(long); !errors.Is(err, ErrProvenance) || !strings.Contains(err.Error(), "a chain of 9 hops; the limit is 8") {
		t.Errorf("ParseProvenance of 9 hops: %v; want refused as too long", err)
	}
	stored, err := encodeChain(w.Chain[:MaxProvenanceHops])
	if err != nil {
		t.Fatal(err)
	}
	longCopy := canCopy
	if longCopy.Chain = stored; !tooLong(t, id, longCopy) {
		t.Errorf("a copy that came through 9 hops would be passed on")
	}
	if longCopy.Chain, err = encodeChain(w.Chain[:MaxProvenanceHops-1]); err != nil || tooLong(t, id, longCopy) {
		t.Errorf("a copy that came through 8 hops is not passed on (%v)", err)
	}
	if longCopy.Chain = stored[:len(stored)-1]; !tooLong(t, id, longCopy) {
		t.Errorf("a stored chain that does not read is sent on")
	}

	// GBR recalls its version while down; once up, the notice goes to
	// USA, the only partner it sent it to, and from holder to holder to
	// AUS, which applies it as GBR's.
	issue(t, gbr, id, "recall--chain")
	tn.start(gbr)
	tn.start(usa)
	eventually(t, 30*time.Second, func() (bool, string) {
		held := map[string]int{}
		for _, n := range []*testNode{usa, can, aus} {
			held[n.code] = n.held()[id]
		}
		return held["USA"]+held["CAN"]+held["AUS"] == 0, fmt.Sprintf("after GBR's recall, copies held: %v", held)
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Contains(acked, "USA"), fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	if hasEvent(aus.events(ledger.KindEnvelopeReceived), func(e ledger.Event) bool { return e.Details["refused"] != "0" }) {
		t.Errorf("AUS refused something: %+v", aus.events(ledger.KindEnvelopeReceived))
	}
	if !hasEvent(aus.events(ledger.KindRecallAcknowledged), func(e ledger.Event) bool { return slices.Contains(e.Subjects, id) }) {
		t.Errorf("AUS's audit log has no acknowledged recall of %s: %+v", id, aus.events(ledger.KindRecallAcknowledged))
	}
	tn.waitSettled(30 * time.Second)
	for _, n := range tn.nodes {
		n.verifyLedger()
	}
}

// tooLong reports whether provenanceObject refuses to pass o on.
func tooLong(t *testing.T, id string, o mailbox.Origin) bool {
	t.Helper()
	_, err := provenanceObject(id, &o)
	if err != nil && !errors.Is(err, ErrProvenance) {
		t.Fatalf("provenanceObject: %v", err)
	}
	return err != nil
}
