package federation

import (
	"bytes"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseBatchEntryRequest: a question for a receipt taken from a hub
// never panics the parser; what it accepts names a role and a batch, and
// encodes back to the same request, and so to the same message id.
func FuzzParseBatchEntryRequest(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ParseBatchEntryRequest(data)
		if err != nil {
			return
		}
		if !q.Role.Valid() || q.Through == 0 {
			t.Fatalf("ParseBatchEntryRequest(%q) accepted %+v", data, q)
		}
		b, err := q.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseBatchEntryRequest(b)
		if err != nil || again != q {
			t.Fatalf("ParseBatchEntryRequest(%q) = %+v, which does not read back: %+v, %v", data, q, again, err)
		}
		b2, _ := again.Marshal()
		if !bytes.Equal(b, b2) {
			t.Fatalf("%+v encodes as %q, then %q", q, b, b2)
		}
	})
}

// FuzzParseRelayAnswer: an answer opened from a hub message never panics
// the parser; what it accepts has an HTTP status, and carries a body only
// as the successful answer to a question whose answer carries one.
func FuzzParseRelayAnswer(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseRelayAnswer(data)
		if err != nil {
			return
		}
		if a.Status < 100 || a.Status > 599 || (a.For != "" && !hasDataAnswer(a.For)) ||
			(len(a.Body) > 0 && (a.For != kindBatchEntry && a.For != kindCheckpoint || a.Status != 200)) {
			t.Fatalf("parseRelayAnswer(%q) accepted %+v", data, a)
		}
	})
}

// FuzzParseCheckpointRequest: a witness's question taken from a hub never
// panics the parser, and what it accepts encodes back the same.
func FuzzParseCheckpointRequest(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ParseCheckpointRequest(data)
		if err != nil {
			return
		}
		b, err := q.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if again, err := ParseCheckpointRequest(b); err != nil || again != q {
			t.Fatalf("ParseCheckpointRequest(%q) = %+v, which does not read back: %+v, %v", data, q, again, err)
		}
	})
}

// FuzzParseCheckpointAnswer: a partner's checkpoint answer taken from a
// hub never panics the parser; what it accepts has a checkpoint and a
// proof of at most 64 32-byte hashes.
func FuzzParseCheckpointAnswer(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, proof, err := ParseCheckpointAnswer(data)
		if err != nil {
			return
		}
		if a.Checkpoint == "" || len(proof) != len(a.Proof) || len(proof) > 64 {
			t.Fatalf("ParseCheckpointAnswer(%q) accepted %+v", data, a)
		}
		for _, h := range proof {
			if len(h) != 32 {
				t.Fatalf("ParseCheckpointAnswer(%q) accepted a hash of %d bytes", data, len(h))
			}
		}
	})
}
