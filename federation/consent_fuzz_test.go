package federation

import (
	"crypto/ed25519"
	"errors"
	"testing"
	"time"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseConsent: a consent record from outside never panics the parser;
// what it accepts is within the limits, names three distinct partners, and
// never verifies against a key that did not sign it.
func FuzzParseConsent(f *testing.F) {
	fuzzseed.Require(f)
	pub, _, err := ed25519.GenerateKey(nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ParseConsent(data)
		if err != nil {
			if !errors.Is(err, ErrConsent) {
				t.Fatalf("ParseConsent(%q) = %v; want ErrConsent", data, err)
			}
			return
		}
		if err := p.check(); err != nil {
			t.Fatalf("ParseConsent(%q) accepted a record that fails its own checks: %v", data, err)
		}
		if len(data) > maxConsentRecord {
			t.Fatalf("ParseConsent accepted %d bytes; the limit is %d", len(data), maxConsentRecord)
		}
		if ed25519.Verify(pub, consentMessage(p.canonical), p.signature) {
			t.Fatalf("ParseConsent(%q) verifies with a key that never signed it", data)
		}
		_ = p.Covers(p.Object, time.Time{})
	})
}
