package ledger

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// testEvent returns a deterministic event distinct for each i.
func testEvent(i int) Event {
	ks := []Kind{KindObjectIngested, KindLabelChanged, KindReleaseDecided, KindEnvelopeSent,
		KindEnvelopeReceived, KindObjectViewed, KindObjectExported, KindAgreementChanged,
		KindConsentGiven, KindRecallIssued, KindRecallAcknowledged, KindKeyRotated}
	e := Event{
		Kind:     ks[i%len(ks)],
		Time:     t0.Add(time.Duration(i) * 1500 * time.Millisecond),
		Actor:    fmt.Sprintf("analyst-%d@gbr", i%3),
		Subjects: []string{fmt.Sprintf("indicator--%08d-0000-4000-8000-000000000000", i)},
	}
	if i%2 == 0 {
		e.Details = map[string]string{"partner": "FRA", "reason": fmt.Sprintf("n=%d <é>", i)}
	}
	return e
}

// fixedKeys returns a note signer and verifier for name from a fixed seed.
func fixedKeys(t testing.TB, name string, seed byte) (note.Signer, note.Verifier) {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	pub := ed25519.NewKeyFromSeed(s).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(name, pub)
	if err != nil {
		t.Fatal(err)
	}
	hash := strings.Split(vkey, "+")[1]
	skey := "PRIVATE+KEY+" + name + "+" + hash + "+" + base64.StdEncoding.EncodeToString(append([]byte{1}, s...))
	signer, err := note.NewSigner(skey)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return signer, v
}

func fixedCosigner(name string, seed byte, at time.Time) *Cosigner {
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	return NewCosigner(name, ed25519.NewKeyFromSeed(s), func() time.Time { return at })
}

// newLog appends n test events, one Append call per batch of sizes given
// by batch (cycled), so that multi-event appends are exercised too.
func newLog(t testing.TB, n int) (*Log, *Memory, [][]byte) {
	t.Helper()
	ctx := context.Background()
	m := NewMemory()
	l := New(m)
	var entries [][]byte
	for i := 0; i < n; {
		k := min(1+i%4, n-i)
		var evs []Event
		for j := range k {
			e := testEvent(i + j)
			b, err := e.Encode()
			if err != nil {
				t.Fatal(err)
			}
			entries = append(entries, b)
			evs = append(evs, e)
		}
		first, err := l.Append(ctx, evs...)
		if err != nil {
			t.Fatal(err)
		}
		if first != uint64(i) {
			t.Fatalf("Append = %d; want %d", first, i)
		}
		i += k
	}
	return l, m, entries
}

// Slow, obviously correct RFC 6962 (section 2.1) reference, written from the
// RFC with crypto/sha256 only.

func refLeaf(d []byte) []byte {
	h := sha256.Sum256(append([]byte{0}, d...))
	return h[:]
}

func refNode(l, r []byte) []byte {
	h := sha256.Sum256(append(append([]byte{1}, l...), r...))
	return h[:]
}

func refSplit(n int) int {
	k := 1
	for k*2 < n {
		k *= 2
	}
	return k
}

func refMTH(d [][]byte) []byte {
	switch len(d) {
	case 0:
		h := sha256.Sum256(nil)
		return h[:]
	case 1:
		return refLeaf(d[0])
	}
	k := refSplit(len(d))
	return refNode(refMTH(d[:k]), refMTH(d[k:]))
}

func refPath(m int, d [][]byte) [][]byte {
	if len(d) <= 1 {
		return nil
	}
	k := refSplit(len(d))
	if m < k {
		return append(refPath(m, d[:k]), refMTH(d[k:]))
	}
	return append(refPath(m-k, d[k:]), refMTH(d[:k]))
}

func refProof(m int, d [][]byte) [][]byte { return refSubproof(m, d, true) }

func refSubproof(m int, d [][]byte, b bool) [][]byte {
	n := len(d)
	if m == n {
		if b {
			return nil
		}
		return [][]byte{refMTH(d)}
	}
	k := refSplit(n)
	if m <= k {
		return append(refSubproof(m, d[:k], b), refMTH(d[k:]))
	}
	return append(refSubproof(m-k, d[k:], false), refMTH(d[:k]))
}

func verifierKeyString(t testing.TB, name string, seed byte) string {
	t.Helper()
	s := make([]byte, ed25519.SeedSize)
	for i := range s {
		s[i] = seed
	}
	vkey, err := note.NewEd25519VerifierKey(name, ed25519.NewKeyFromSeed(s).Public().(ed25519.PublicKey))
	if err != nil {
		t.Fatal(err)
	}
	return vkey
}
