package client

import (
	"encoding/json"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/stix"
)

// Every parser of a server's answer is fuzzed: it never panics, and what
// it accepts keeps the promises the callers rely on.

var fuzzBase = &url.URL{Scheme: "https", Host: "taxii.example.gov", Path: "/taxii2/"}

func FuzzParseDiscovery(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		d, err := parseDiscovery([]byte(body), fuzzBase)
		if err != nil {
			return
		}
		roots := d.APIRoots
		if d.Default != "" {
			roots = append(roots, d.Default)
		}
		for _, r := range roots {
			u, err := url.Parse(r)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || !strings.HasSuffix(u.Path, "/") {
				t.Fatalf("parseDiscovery(%q) accepted API root %q", body, r)
			}
			if _, err := endpoint(r, "collections"); err != nil {
				t.Fatalf("API root %q from %q cannot be used: %v", r, body, err)
			}
		}
	})
}

func FuzzParseAPIRoot(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := parseAPIRoot([]byte(body))
		if err != nil {
			return
		}
		if r.MaxContentLength <= 0 {
			t.Fatalf("parseAPIRoot(%q) accepted max_content_length %d", body, r.MaxContentLength)
		}
		r.SupportsTAXII21()
	})
}

func FuzzParseCollections(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		cs, err := parseCollections([]byte(body))
		if err == nil {
			for _, c := range cs {
				if _, err := endpoint("https://taxii.example.gov/api1/", "collections", c.ID, "objects"); err != nil {
					t.Fatalf("parseCollections(%q) accepted collection id %q that makes no URL: %v", body, c.ID, err)
				}
			}
		}
		if c, err := parseCollection([]byte(body)); err == nil && c.ID == "" {
			t.Fatalf("parseCollection(%q) accepted an empty id", body)
		}
	})
}

func FuzzParseEnvelope(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		env, err := parseEnvelope([]byte(body))
		ref, refErr := parseEnvelopeStdlib([]byte(body))
		if (err == nil) != (refErr == nil) {
			t.Fatalf("parseEnvelope(%q): error %v, but encoding/json: %v", body, err, refErr)
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(env, ref) {
			t.Fatalf("parseEnvelope(%q) = %+v, but encoding/json reads %+v", body, env, ref)
		}
		for i, o := range env.Objects {
			if !json.Valid(o) {
				t.Fatalf("parseEnvelope(%q): objects[%d] = %q is not JSON", body, i, o)
			}
		}
		again, err := parseEnvelope(EncodeEnvelope(env.Objects))
		if err != nil || len(again.Objects) != len(env.Objects) {
			t.Fatalf("the re-encoded envelope of %q does not parse back: %v", body, err)
		}
	})
}

// parseEnvelopeStdlib reads an envelope with encoding/json: what
// parseEnvelope must match.
func parseEnvelopeStdlib(body []byte) (*Envelope, error) {
	var raw struct {
		More    bool              `json:"more"`
		Next    string            `json:"next"`
		Objects []json.RawMessage `json:"objects"`
	}
	if err := decodeObject(body, "envelope", &raw); err != nil {
		return nil, err
	}
	return &Envelope{More: raw.More, Next: raw.Next, Objects: raw.Objects}, nil
}

func FuzzParseManifest(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		m, err := parseManifest([]byte(body))
		if err != nil {
			return
		}
		for i, r := range m.Objects {
			if r.DateAdded.IsZero() {
				t.Fatalf("parseManifest(%q): objects[%d] has no date_added", body, i)
			}
		}
	})
}

func FuzzParseVersions(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		v, err := parseVersions([]byte(body))
		if err != nil {
			return
		}
		if b := strings.TrimLeft(body, " \t\r\n"); !json.Valid([]byte(body)) || b[0] != '{' {
			t.Fatalf("parseVersions accepted %q, which is not a JSON object", body)
		}
		for i, s := range v.Versions {
			if !utf8.ValidString(s) {
				t.Fatalf("parseVersions(%q): versions[%d] = %q is not UTF-8", body, i, s)
			}
		}
	})
}

func FuzzParseStatus(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		s, err := parseStatus([]byte(body))
		if err != nil {
			return
		}
		switch {
		case s.Status != StatusComplete && s.Status != StatusPending:
			t.Fatalf("parseStatus(%q) accepted status %q", body, s.Status)
		case s.TotalCount < 0 || s.SuccessCount < 0 || s.FailureCount < 0 || s.PendingCount < 0:
			t.Fatalf("parseStatus(%q) accepted a negative count: %+v", body, s)
		case s.SuccessCount+s.FailureCount+s.PendingCount != s.TotalCount:
			t.Fatalf("parseStatus(%q) accepted counts that do not add up: %+v", body, s)
		case s.Status == StatusComplete && s.PendingCount != 0:
			t.Fatalf("parseStatus(%q) accepted a complete status with pending objects", body)
		case s.ID == "":
			t.Fatalf("parseStatus(%q) accepted an empty id", body)
		}
		if _, err := endpoint("https://taxii.example.gov/api1/", "status", s.ID); err != nil {
			t.Fatalf("status id %q from %q makes no URL: %v", s.ID, body, err)
		}
	})
}

// FuzzParseErrorMessage: whatever a server puts in its error message, the
// error text shown to the operator has no control characters (no terminal
// escape sequences) and a bounded length.
func FuzzParseErrorMessage(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, body string) {
		resp := &http.Response{StatusCode: 418, Status: "418 I'm a teapot"}
		e := newError("GET", "https://taxii.example.gov/api1/", resp, []byte(body))
		text := e.Error()
		for _, r := range text {
			if r < 0x20 || r == 0x7f || r >= 0x80 && r < 0xa0 || r == '\u202e' {
				t.Fatalf("error text for %q holds control character %U: %q", body, r, text)
			}
		}
		if len(text) > 8*maxShown+500 {
			t.Fatalf("error text for a %d-byte body is %d bytes long", len(body), len(text))
		}
	})
}

// FuzzDateHeaders: a position to resume from is only ever a timestamp
// that formats and parses back to itself, and last is never before first.
func FuzzDateHeaders(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, first, last string) {
		h := http.Header{}
		if first != "" {
			h.Set("X-TAXII-Date-Added-First", first)
		}
		if last != "" {
			h.Set("X-TAXII-Date-Added-Last", last)
		}
		a, b, err := dateHeaders(h)
		if err != nil {
			return
		}
		if !a.IsZero() && !b.IsZero() && b.Before(a) {
			t.Fatalf("dateHeaders(%q, %q) = %v, %v; last before first", first, last, a, b)
		}
		for _, v := range []string{first, last} {
			if v == "" {
				continue
			}
			tm, err := ParseTimestamp(strings.TrimSpace(v))
			if err != nil {
				t.Fatalf("dateHeaders accepted %q that ParseTimestamp refuses: %v", v, err)
			}
			back, err := ParseTimestamp(stix.FormatTimestamp(tm))
			if err != nil || !back.Equal(tm) {
				t.Fatalf("ParseTimestamp(%q) = %v, which does not round-trip: %v %v", v, tm, back, err)
			}
		}
	})
}
