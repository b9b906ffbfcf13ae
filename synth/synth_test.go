package synth

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"testing"
)

// TestOutputIsStable: a seed gives the same objects from one version of
// the generator to the next, so that benchmarks of different versions of
// the node measure the same data. A change of the generator's output must
// change the digest here, knowingly.
func TestOutputIsStable(t *testing.T) {
	var b bytes.Buffer
	if err := New(1).WriteJSONLines(&b, 20000); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b.Bytes())
	if got := hex.EncodeToString(sum[:]); got != stableDigest {
		t.Errorf("20,000 objects of seed 1 digest to %s; want %s", got, stableDigest)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(b.Bytes()), []byte("\n")) {
		if !json.Valid(line) {
			t.Fatalf("object %d is not JSON: %s", i, line)
		}
	}
}

const stableDigest = "ed54a51d2fff3e6797fdcc3fc91469962322091769998a378ab63564bced97e7"

func BenchmarkNext(b *testing.B) {
	g := New(1)
	n := 0
	for b.Loop() {
		n += len(g.Next())
	}
	b.SetBytes(int64(n / b.N))
}
