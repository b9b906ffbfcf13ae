package taxii

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tearline/tearline/fuzzseed"
)

// FuzzParseFilter: the query parser never panics, and what it accepts is
// bounded and self-consistent.
func FuzzParseFilter(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, raw string) {
		for _, allowed := range []params{listParams, objectParams, versionParams, deleteParams} {
			flt, err := parseFilter(raw, allowed)
			if err != nil {
				if e, ok := err.(*Error); !ok || e.Status != 400 {
					t.Fatalf("parseFilter(%q) = %v; want a 400 *Error", raw, err)
				}
				continue
			}
			if flt.limit < 0 || len(flt.ids) > maxFilterValues || len(flt.types) > maxFilterValues || len(flt.specVersions) > maxFilterValues {
				t.Fatalf("parseFilter(%q) = %+v; out of bounds", raw, flt)
			}
			for _, id := range flt.ids {
				if !validID(id) {
					t.Fatalf("parseFilter(%q) accepted id %q", raw, id)
				}
			}
			if !allowed.paging && (flt.limit != 0 || flt.next != "" || !flt.addedAfter.IsZero()) {
				t.Fatalf("parseFilter(%q, %+v) read paging parameters it does not accept", raw, allowed)
			}
			p := Principal{ID: "X", Kind: Partner}
			a, b := cursorScope("objects", "c", "", p, flt), cursorScope("objects", "c", "", p, flt)
			if string(a) != string(b) {
				t.Fatalf("cursorScope is not deterministic for %q", raw)
			}
		}
	})
}

// FuzzCursor: the cursor decoder never panics, accepts nothing not issued
// for its scope, and what it accepts re-encodes to the same string.
func FuzzCursor(f *testing.F) {
	fuzzseed.Require(f)
	c := cursorCodec{key: testKey}
	scope := cursorScope("objects", "c", "", Principal{ID: "BOB", Kind: Partner}, filter{})
	other := cursorScope("objects", "c", "", Principal{ID: "BOB", Kind: Partner}, filter{types: []string{"indicator"}})
	f.Fuzz(func(t *testing.T, s string) {
		at, err := c.decode(s, scope)
		if err != nil {
			if err != errBadCursor {
				t.Fatalf("decode(%q) = %v; want errBadCursor", s, err)
			}
			return
		}
		if got := c.encode(at, scope); got != s {
			t.Fatalf("decode(%q) = %v, which encodes as %q", s, at, got)
		}
		if _, err := c.decode(s, other); err == nil {
			t.Fatalf("cursor %q accepted for another scope", s)
		}
		if at.Before(time.UnixMicro(1)) {
			t.Fatalf("decode(%q) = %v; want a positive position", s, at)
		}
	})
}

// TestCursorRoundTrip also prints valid cursors for the seed corpus.
func TestCursorRoundTrip(t *testing.T) {
	c := cursorCodec{key: testKey}
	scope := cursorScope("objects", "c", "", Principal{ID: "BOB", Kind: Partner}, filter{})
	for _, at := range []time.Time{time.UnixMicro(1).UTC(), time.Date(2025, 6, 1, 10, 0, 0, 123456000, time.UTC)} {
		s := c.encode(at, scope)
		got, err := c.decode(s, scope)
		if err != nil || !got.Equal(at) {
			t.Errorf("decode(encode(%v)) = %v, %v", at, got, err)
		}
		if testing.Verbose() {
			t.Logf("cursor %v: %s", at, s)
		}
	}
}

// parseEnvelopeStdlib is what parseEnvelope must match: encoding/json's
// reading of the body.
func parseEnvelopeStdlib(body []byte) ([]json.RawMessage, error) {
	if !json.Valid(body) {
		return nil, badRequest("the request body is not valid JSON")
	}
	var env struct {
		Objects *[]json.RawMessage `json:"objects"`
	}
	if err := json.Unmarshal(body, &env); err != nil || env.Objects == nil {
		return nil, errNotEnvelope
	}
	return *env.Objects, nil
}

// FuzzEnvelope holds the one-pass envelope reader of POST to
// encoding/json: the same elements, the same 400 or 422.
func FuzzEnvelope(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		got, err := parseEnvelope([]byte(body))
		want, wantErr := parseEnvelopeStdlib([]byte(body))
		status := func(err error) int {
			var e *Error
			if errors.As(err, &e) {
				return e.Status
			}
			return 0
		}
		if status(err) != status(wantErr) || (err == nil) != (wantErr == nil) {
			t.Fatalf("parseEnvelope(%q): %v; encoding/json: %v", body, err, wantErr)
		}
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Fatalf("parseEnvelope(%q) = %q; encoding/json reads %q", body, got, want)
		}
	})
}
