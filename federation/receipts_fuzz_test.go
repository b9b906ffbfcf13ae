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
// the parser; what it accepts has an HTTP status, and carries an entry
// only as the found answer to a batch-entry question.
func FuzzParseRelayAnswer(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := parseRelayAnswer(data)
		if err != nil {
			return
		}
		if a.Status < 100 || a.Status > 599 || (a.For != "" && a.For != kindBatchEntry) ||
			(len(a.Entry) > 0 && (a.For != kindBatchEntry || a.Status != 200)) {
			t.Fatalf("parseRelayAnswer(%q) accepted %+v", data, a)
		}
	})
}
