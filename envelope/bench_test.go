package envelope

import (
	"crypto/ed25519"
	"crypto/hpke"
	"fmt"
	"testing"
)

// acceptAll is a ReplayGuard that accepts every sequence number, so that
// one envelope can be opened again and again.
type acceptAll struct{}

func (acceptAll) Seen(string, string, uint64) error { return nil }

var benchSizes = []int{1, 100, 1000}

// BenchmarkSeal seals batches of about 1 KB objects to one recipient key.
func BenchmarkSeal(b *testing.B) {
	gbr := testSigner(b, "GBR")
	fra := newTestNode(b, "FRA", 1)
	for _, n := range benchSizes {
		batch := testBatch(b, n, 1024, 1)
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			bytes := 0
			for b.Loop() {
				env, err := Seal(batch, gbr, recipientsOf(fra), nil, testTime)
				if err != nil {
					b.Fatal(err)
				}
				bytes = len(env)
			}
			b.SetBytes(int64(bytes))
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

// BenchmarkOpen opens and fully verifies the same batches: signature,
// unwrap, decryption, every object's canonical hash, the tree, the proofs.
func BenchmarkOpen(b *testing.B) {
	gbr := testSigner(b, "GBR")
	fra := newTestNode(b, "FRA", 1)
	resolve := resolverFor(gbr)
	for _, n := range benchSizes {
		env := mustSeal(b, testBatch(b, n, 1024, 1), gbr, recipientsOf(fra))
		b.Run(fmt.Sprintf("objects=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(env)))
			for b.Loop() {
				if _, err := Open(env, fra.code, fra.keyID, fra.priv, resolve, acceptAll{}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "objects/s")
		})
	}
}

// BenchmarkVerifyObject checks one object alone against its batch's
// signature, as a store re-verifying provenance would.
func BenchmarkVerifyObject(b *testing.B) {
	gbr := testSigner(b, "GBR")
	fra := newTestNode(b, "FRA", 1)
	opened, err := fra.open(mustSeal(b, testBatch(b, 1000, 1024, 1), gbr, recipientsOf(fra)), resolverFor(gbr))
	if err != nil {
		b.Fatal(err)
	}
	pub := gbr.Key.Public().(ed25519.PublicKey)
	o := opened.Objects[500]
	for b.Loop() {
		if _, err := VerifyObject(opened.HeaderBytes, &opened.Signature, pub, o.ContentHash, o.LabelHash, &o.Proof); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWrap(b *testing.B) {
	fra := newTestNode(b, "FRA", 1)
	pk := fra.priv.PublicKey()
	key := make([]byte, dataKeySize)
	info := wrapInfo([32]byte{}, fra.code, fra.keyID)
	for b.Loop() {
		if _, err := hpke.Seal(pk, hpkeKDF, hpkeAEAD, info, key); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUnwrap(b *testing.B) {
	fra := newTestNode(b, "FRA", 1)
	info := wrapInfo([32]byte{}, fra.code, fra.keyID)
	wrapped, err := hpke.Seal(fra.priv.PublicKey(), hpkeKDF, hpkeAEAD, info, make([]byte, dataKeySize))
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := hpke.Open(fra.priv, hpkeKDF, hpkeAEAD, info, wrapped); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkSign(b *testing.B) {
	gbr := testSigner(b, "GBR")
	msg := (&Signature{}).signedMessage()
	for b.Loop() {
		ed25519.Sign(gbr.Key, msg)
	}
}

func BenchmarkVerify(b *testing.B) {
	gbr := testSigner(b, "GBR")
	pub := gbr.Key.Public().(ed25519.PublicKey)
	msg := (&Signature{}).signedMessage()
	sig := ed25519.Sign(gbr.Key, msg)
	for b.Loop() {
		if !ed25519.Verify(pub, msg, sig) {
			b.Fatal("signature does not verify")
		}
	}
}
