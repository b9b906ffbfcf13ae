package envelope

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hpke"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/tearline/tearline/stix"
)

func TestRoundTrip(t *testing.T) {
	gbr := testSigner(t, "GBR")
	fra, deu1, deu2, nld := newTestNode(t, "FRA", 1), newTestNode(t, "DEU", 1), newTestNode(t, "DEU", 2), newTestNode(t, "NLD", 1)
	for _, tc := range []struct {
		name    string
		objects int
		size    int
		to      []testNode
	}{
		{"one object one recipient", 1, 300, []testNode{fra}},
		{"two objects", 2, 500, []testNode{fra}},
		{"seven objects three recipients", 7, 800, []testNode{nld, fra, deu1}},
		{"recipient with two keys", 5, 1000, []testNode{deu2, fra, deu1}},
		{"hundred objects", 100, 1024, []testNode{fra, nld}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := testBatch(t, tc.objects, tc.size, 7)
			env := mustSeal(t, b, gbr, recipientsOf(tc.to...))

			parsed, err := Parse(env)
			if err != nil {
				t.Fatalf("Parse(Seal()) = %v", err)
			}
			again, err := parsed.AppendBinary(nil)
			if err != nil || !bytes.Equal(again, env) {
				t.Fatalf("Parse(env).AppendBinary() = %d bytes, %v; want the %d bytes parsed", len(again), err, len(env))
			}
			h := parsed.Header
			if h.Sender != "GBR" || h.SenderKeyID != gbr.KeyID || h.Sequence != 7 || !h.Created.Equal(testTime) ||
				h.ObjectCount != tc.objects || h.Suite != SupportedSuite {
				t.Errorf("header = %+v; want it to say what was sealed", h)
			}
			var codes []string
			for _, n := range tc.to {
				codes = append(codes, n.code)
			}
			slices.Sort(codes)
			if codes = slices.Compact(codes); !slices.Equal(h.Recipients, codes) {
				t.Errorf("header recipients = %v; want %v", h.Recipients, codes)
			}
			if len(h.WrappedKeys) != len(tc.to) {
				t.Errorf("header has %d wrapped keys; want %d", len(h.WrappedKeys), len(tc.to))
			}

			for _, n := range tc.to {
				got, err := n.open(env, resolverFor(gbr))
				if err != nil {
					t.Fatalf("Open(as %s key %s) = %v", n.code, n.keyID, err)
				}
				if len(got.Objects) != tc.objects {
					t.Fatalf("Open(as %s) gave %d objects; want %d", n.code, len(got.Objects), tc.objects)
				}
				for i, o := range got.Objects {
					it := b.Items[i]
					if !bytes.Equal(o.JSON, it.Object.JSON) || o.ContentHash != it.Object.Hash || o.LabelHash != it.LabelHash {
						t.Fatalf("Open(as %s) object %d = %s, %x, %x; want what was sealed", n.code, i, o.JSON, o.ContentHash, o.LabelHash)
					}
					// Each object verifies alone, also after its proof is stored and read back.
					pb, err := o.Proof.AppendBinary(nil)
					if err != nil {
						t.Fatal(err)
					}
					p, err := ParseProof(pb)
					if err != nil {
						t.Fatalf("ParseProof(AppendBinary(proof %d)) = %v", i, err)
					}
					vh, err := VerifyObject(got.HeaderBytes, &got.Signature, gbr.Key.Public().(ed25519.PublicKey), o.ContentHash, o.LabelHash, p)
					if err != nil {
						t.Fatalf("VerifyObject(object %d) = %v", i, err)
					}
					if vh.Sequence != 7 {
						t.Fatalf("VerifyObject header sequence = %d; want 7", vh.Sequence)
					}
				}
			}
		})
	}
}

func TestContentHashIsStixHash(t *testing.T) {
	obj := testObject(t, 3, 700)
	canon, err := stix.Canonicalize(obj.JSON)
	if err != nil {
		t.Fatal(err)
	}
	if got := hashSum(canon); got != obj.Hash {
		t.Fatalf("SHA-256(Canonicalize(JSON)) = %x; stix.Parse hash %x", got, obj.Hash)
	}
}

func TestSealRefuses(t *testing.T) {
	gbr := testSigner(t, "GBR")
	fra := newTestNode(t, "FRA", 1)
	ok := testBatch(t, 2, 300, 1)
	x25519, err := hpke.DHKEM(ecdh.X25519()).GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		b     *Batch
		from  Signer
		to    []Recipient
		now   time.Time
		errIs error
	}{
		{"empty batch", &Batch{}, gbr, recipientsOf(fra), testTime, nil},
		{"nil object", &Batch{Items: []Item{{}}}, gbr, recipientsOf(fra), testTime, nil},
		{"bad sender code", ok, Signer{Code: "gbr", KeyID: gbr.KeyID, Key: gbr.Key}, recipientsOf(fra), testTime, nil},
		{"bad sender key id", ok, Signer{Code: "GBR", KeyID: "ABC", Key: gbr.Key}, recipientsOf(fra), testTime, nil},
		{"no sender key", ok, Signer{Code: "GBR", KeyID: gbr.KeyID}, recipientsOf(fra), testTime, nil},
		{"no recipients", ok, gbr, nil, testTime, nil},
		{"duplicate recipient key", ok, gbr, recipientsOf(fra, fra), testTime, nil},
		{"bad recipient code", ok, gbr, []Recipient{{Code: "F", KeyID: fra.keyID, Key: fra.priv.PublicKey()}}, testTime, nil},
		{"recipient without key", ok, gbr, []Recipient{{Code: "FRA", KeyID: fra.keyID}}, testTime, nil},
		{"classical-only recipient key", ok, gbr, []Recipient{{Code: "FRA", KeyID: fra.keyID, Key: x25519.PublicKey()}}, testTime, ErrUnsupportedAlgorithm},
		{"zero time", ok, gbr, recipientsOf(fra), time.Time{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env, err := Seal(tc.b, tc.from, tc.to, &countingReader{}, tc.now)
			if err == nil {
				t.Fatalf("Seal() = %d bytes, nil; want an error", len(env))
			}
			if tc.errIs != nil && !errors.Is(err, tc.errIs) {
				t.Fatalf("Seal() = %v; want %v", err, tc.errIs)
			}
		})
	}
}
