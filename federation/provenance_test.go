package federation

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
)

// TestProvenanceTravels: GBR's object, labelled for the Five Eyes without
// naming an originator, reaches USA and CAN from GBR and, passed on as the
// label allows, one of them from the other, which sends with it the proof
// that it had it from GBR: both record GBR, not the partner that passed it
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
