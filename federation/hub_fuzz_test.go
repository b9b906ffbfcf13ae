package federation

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"reflect"
	"testing"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/partner"
)

// FuzzParseRangeSeal: a seal read from a hub's answer never panics the
// parser, what it accepts has the exact length of a key id and an Ed25519
// signature, and it never verifies a range its key did not sign.
func FuzzParseRangeSeal(f *testing.F) {
	fuzzseed.Require(f)
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, seal []byte) {
		keyID, sig, err := ParseRangeSeal(seal)
		if err != nil {
			return
		}
		if len(seal) != 1+len(keyID)+ed25519.SignatureSize || len(sig) != ed25519.SignatureSize || keyID == "" {
			t.Fatalf("ParseRangeSeal(%x) = %q, %d-byte signature", seal, keyID, len(sig))
		}
		h := BatchHeader{After: 1, Through: 2}
		if ed25519.Verify(pub, rangeDigest("GBR", "USA", h, []byte("body")), sig) {
			t.Fatalf("a fuzzed seal %x verifies", seal)
		}
		// A real seal round-trips.
		real, err := sealRange(envelope.Signer{Code: "GBR", KeyID: keyID, Key: priv}, "USA", h, []byte("body"))
		if err != nil {
			return
		}
		if id, s, err := ParseRangeSeal(real); err != nil || id != keyID || !bytes.Equal(s, ed25519.Sign(priv, rangeDigest("GBR", "USA", h, []byte("body")))) {
			t.Fatalf("ParseRangeSeal(sealRange) = %q, %v", id, err)
		}
	})
}

// FuzzParseHubMessages: a hub's list of messages never panics the parser,
// and what it accepts has known kinds, well-formed ids, named senders and
// bodies within the limit.
func FuzzParseHubMessages(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		ms, err := ParseHubMessages(data)
		if err != nil {
			return
		}
		if len(ms) > hubInboxPage {
			t.Fatalf("%d messages accepted", len(ms))
		}
		for _, m := range ms {
			if checkMessageHead(m.Kind, m.ID) != nil || m.From == "" || len(m.Body) > maxHubMessage {
				t.Fatalf("accepted %+v", m)
			}
		}
	})
}

// FuzzParseProvenance: a provenance object read from a batch never panics
// the parser, and what it accepts names an object, and for each of at
// most MaxProvenanceHops hops a sender and a header; it never verifies
// against a batch its key did not sign, and the chain it would store
// reads back as the same hops.
func FuzzParseProvenance(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		w, _, err := ParseProvenance(data)
		if err != nil {
			return
		}
		if w.Type != ProvenanceType || w.Object == "" || len(w.hops()) > MaxProvenanceHops {
			t.Fatalf("accepted %+v", w)
		}
		for _, h := range w.hops() {
			if h.From == "" || len(h.Header) == 0 {
				t.Fatalf("accepted a hop with no sender or batch: %+v", w)
			}
		}
		hop, err := verifyProvenance(w, [32]byte{}, [32]byte{}, noCards{}, "CAN")
		if err != nil {
			return
		}
		if hop.Verified {
			t.Fatalf("a fuzzed provenance verified: %+v", hop)
		}
		hops, err := parseChain(hop.Chain)
		if err != nil || !reflect.DeepEqual(hops, w.hops()) {
			t.Fatalf("the stored chain reads back as %+v, %v; want %+v", hops, err, w.hops())
		}
	})
}

// FuzzParseChain: a stored chain never panics its reader, and what it
// accepts is at most MaxProvenanceHops hops, each naming a sender and a
// batch.
func FuzzParseChain(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		hops, err := parseChain(data)
		if err != nil {
			return
		}
		if len(hops) > MaxProvenanceHops {
			t.Fatalf("accepted %d hops", len(hops))
		}
		for _, h := range hops {
			if h.From == "" || len(h.Header) == 0 {
				t.Fatalf("accepted a hop with no sender or batch: %+v", hops)
			}
		}
	})
}

// noCards pins nobody.
type noCards struct{}

func (noCards) Get(code string) (*partner.Pinned, error) {
	return nil, fmt.Errorf("%w: %s is not pinned", partner.ErrUnknownPartner, code)
}
