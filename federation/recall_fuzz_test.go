package federation

import (
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseRecall: a notice from outside never panics the parser; what it
// accepts passes its own checks, is within the limits, and never verifies
// against a key that did not sign it.
func FuzzParseRecall(f *testing.F) {
	fuzzseed.Require(f)
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseRecall(data)
		if err != nil {
			if !errors.Is(err, ErrRecall) {
				t.Fatalf("ParseRecall(%q) = %v; want ErrRecall", data, err)
			}
			return
		}
		if err := p.check(); err != nil || len(data) > maxRecallRecord {
			t.Fatalf("ParseRecall(%q) accepted a notice that fails its own checks: %v", data, err)
		}
		if ed25519.Verify(pub, append([]byte(recallContext), p.canonical...), p.signature) {
			t.Fatalf("ParseRecall(%q) verifies with a key that never signed it", data)
		}
	})
}

// FuzzParseRecallAck: the same for acknowledgements.
func FuzzParseRecallAck(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := ParseRecallAck(data)
		if err != nil {
			if !errors.Is(err, ErrRecall) {
				t.Fatalf("ParseRecallAck(%q) = %v; want ErrRecall", data, err)
			}
			return
		}
		if err := a.check(); err != nil || len(data) > maxRecallRecord || len(a.Forwarded) > maxForwarded {
			t.Fatalf("ParseRecallAck(%q) accepted an acknowledgement that fails its own checks: %v", data, err)
		}
	})
}
