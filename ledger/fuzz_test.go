package ledger

import (
	"bytes"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseCheckpoint: ParseCheckpoint never panics, and whatever it
// accepts is exactly the String of what it returns.
func FuzzParseCheckpoint(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCheckpoint(text)
		if err != nil {
			return
		}
		if c.String() != text {
			t.Fatalf("ParseCheckpoint(%q).String() = %q", text, c.String())
		}
	})
}

// FuzzOpenCheckpoint: OpenCheckpoint never panics on a signed note, and
// whatever it accepts re-signs to the same bytes (Ed25519 is deterministic).
func FuzzOpenCheckpoint(f *testing.F) {
	fuzzseed.Require(f)
	signer, verifier := fixedKeys(f, origin, 1)
	f.Fuzz(func(t *testing.T, signed []byte) {
		c, _, err := OpenCheckpoint(signed, verifier)
		if err != nil {
			return
		}
		again, err := SignCheckpoint(c, signer)
		if err != nil {
			t.Fatalf("SignCheckpoint(%+v): %v", c, err)
		}
		if _, _, err := OpenCheckpoint(again, verifier); err != nil {
			t.Fatalf("OpenCheckpoint(SignCheckpoint(%+v)): %v", c, err)
		}
	})
}

// FuzzDecodeEvent: DecodeEvent never panics and accepts only bytes that
// Encode reproduces exactly.
func FuzzDecodeEvent(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		e, err := DecodeEvent(data)
		if err != nil {
			return
		}
		b, err := e.Encode()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("Encode(DecodeEvent(%q)) = %q, %v", data, b, err)
		}
	})
}
