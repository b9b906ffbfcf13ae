package ledger

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tearline/tearline/stix"
)

// slowEncode is the obviously correct encoding: encoding/json, then RFC
// 8785 canonicalisation.
func slowEncode(e Event) ([]byte, error) {
	if err := e.validate(); err != nil {
		return nil, err
	}
	e.Time = e.Time.UTC()
	if len(e.Subjects) == 0 {
		e.Subjects = nil
	}
	if len(e.Details) == 0 {
		e.Details = nil
	}
	raw, err := json.Marshal(e)
	if err != nil {
		return nil, err
	}
	return stix.Canonicalize(raw)
}

var tricky = []string{
	"", "a", `quote " and \ backslash`, "tab\tnew\nline\r\b\f", "\x00\x01\x1f\x7f", "<script>&amp;</script>",
	"é", "日本語", "\u2028\u2029", "\ufffd", "\xff\xfe invalid", "a\xc3", "😀", "\U0001F600x", "\uE000", "\uFFFF",
	"indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b",
}

func randomString(r *rand.Rand) string {
	if r.IntN(3) == 0 {
		return tricky[r.IntN(len(tricky))]
	}
	b := make([]byte, r.IntN(12))
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	return string(b)
}

// TestEncodeMatchesSlowPath: the direct encoder gives the same bytes as
// encoding/json plus canonicalisation on 100,000 random events, tricky
// strings and UTF-16 key orders included.
func TestEncodeMatchesSlowPath(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 5))
	kinds := []Kind{KindObjectIngested, KindReleaseDecided, KindObjectViewed, KindAccessChanged}
	for i := range 100000 {
		e := Event{Kind: kinds[r.IntN(len(kinds))], Actor: randomString(r) + "x",
			Time: time.Unix(r.Int64N(1<<35), r.Int64N(1e9)).In(time.FixedZone("z", r.IntN(50000)))}
		for range r.IntN(4) {
			e.Subjects = append(e.Subjects, randomString(r)+"s")
		}
		if r.IntN(2) == 0 {
			e.Details = map[string]string{}
			for range r.IntN(5) {
				e.Details[randomString(r)+"k"] = randomString(r)
			}
			if r.IntN(10) == 0 {
				e.Details["\U0001F600"], e.Details["\uFB01"] = "astral", "bmp above surrogates"
			}
		}
		got, gerr := e.Encode()
		want, werr := slowEncode(e)
		if (gerr == nil) != (werr == nil) || !bytes.Equal(got, want) {
			t.Fatalf("event %d %+v:\nEncode   = %q, %v\nslow way = %q, %v", i, e, got, gerr, want, werr)
		}
		if gerr == nil {
			if _, err := DecodeEvent(got); err != nil {
				t.Fatalf("DecodeEvent(Encode(%+v)) = %v", e, err)
			}
		}
	}
}

func BenchmarkEncode(b *testing.B) {
	e := Event{Kind: KindObjectViewed, Time: time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), Actor: "FRA",
		Subjects: []string{"indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"}, Details: map[string]string{"collection": "default"}}
	for range b.N {
		if _, err := e.Encode(); err != nil {
			b.Fatal(err)
		}
	}
}
