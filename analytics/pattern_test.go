package analytics

import (
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/stix/pattern"
)

func TestComparisonsOf(t *testing.T) {
	p, err := pattern.Parse(`[email-message:to_refs[*].value = 'a@example.com' AND file:hashes.'SHA-256' = h'ABCD' ` +
		`AND network-traffic:dst_ref.value NOT IN ('192.0.2.1', '192.0.2.2') AND file:size > 10 AND file:x[2].y = 1.5 ` +
		`AND file:z = true AND file:t = t'2026-01-01T00:00:00Z' AND EXISTS file:name]`)
	if err != nil {
		t.Fatal(err)
	}
	got := ComparisonsOf(p)
	want := []Comparison{
		{ObjectType: "email-message", Path: []string{"to_refs", "*", "value"}, Operator: OpEqual, Values: []string{"a@example.com"}},
		{ObjectType: "file", Path: []string{"hashes", "SHA-256"}, Operator: OpEqual, Values: []string{"abcd"}},
		{ObjectType: "network-traffic", Path: []string{"dst_ref", "value"}, Operator: OpIn, Negated: true, Values: []string{"192.0.2.1", "192.0.2.2"}},
		{ObjectType: "file", Path: []string{"size"}, Operator: OpGreater, Values: []string{"10"}},
		{ObjectType: "file", Path: []string{"x", "2", "y"}, Operator: OpEqual, Values: []string{"1.5"}},
		{ObjectType: "file", Path: []string{"z"}, Operator: OpEqual, Values: []string{"true"}},
		{ObjectType: "file", Path: []string{"t"}, Operator: OpEqual, Values: []string{"2026-01-01T00:00:00.000Z"}},
		{ObjectType: "file", Path: []string{"name"}, Operator: Operator("EXISTS")},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("ComparisonsOf =\n%+v\nwant\n%+v", got, want)
	}
	if ComparisonsOf(nil) != nil {
		t.Error("ComparisonsOf(nil) is not empty")
	}
}

// TestFromPattern reads the observables of patterns in the style of the
// STIX 2.1 specification's examples (rewritten for this project).
func TestFromPattern(t *testing.T) {
	sha := strings.Repeat("e3", 32)
	cases := []struct {
		pattern string
		want    []string
	}{
		{`[ipv4-addr:value = '198.51.100.1/32' OR ipv4-addr:value = '203.0.113.33/32']`, []string{"ipv4-addr:198.51.100.1/32", "ipv4-addr:203.0.113.33/32"}},
		{`[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`, []string{"domain-name:www.5z8.info"}},
		{`[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`, []string{"url:http://example.com/foo", "domain-name:example.com", "url:http://example.com/bar"}},
		{`[file:hashes.'SHA-256' = '` + sha + `'] FOLLOWEDBY [file:name = 'foo.dll'] WITHIN 300 SECONDS`, []string{"SHA-256:" + sha, "file-name:foo.dll"}},
		{`[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:attachment_refs[*].hashes.'SHA-256' = '` + sha + `']`, nil},
		{`[ipv4-addr:value ISSUBSET '198.51.100.0/24'] REPEATS 5 TIMES`, []string{"ipv4-addr:198.51.100.0/24"}},
		{`[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.9' AND network-traffic:dst_port = 443]`, []string{"ipv4-addr:203.0.113.9/32"}},
		{`[windows-registry-key:key = 'HKLM\\SOFTWARE\\Run' AND windows-registry-key:values[*].name = 'x']`, []string{"windows-registry-key:HKEY_LOCAL_MACHINE\\SOFTWARE\\RUN"}},
		{`[file:name NOT = 'benign.exe']`, nil},
	}
	for _, c := range cases {
		obs, err := FromPattern(c.pattern)
		if err != nil {
			t.Errorf("FromPattern(%s): %v", c.pattern, err)
			continue
		}
		var got []string
		for _, o := range obs {
			got = append(got, o.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("FromPattern(%s) = %q; want %q", c.pattern, got, c.want)
		}
	}
	_, err := FromPattern(`[ipv4-addr:value = '1.2.3.4'`)
	var se *pattern.SyntaxError
	if !errors.As(err, &se) || !errors.Is(err, tearline.ErrInvalid) || !strings.Contains(err.Error(), "offset") {
		t.Errorf("FromPattern of an unclosed pattern: %v; want a *pattern.SyntaxError with its offset, ErrInvalid", err)
	}
	obs, err := FromPattern(`[ipv4-addr:value = '999.0.0.1' OR domain-name:value = 'ok.example']`)
	var ee *ExtractError
	if !errors.As(err, &ee) || len(obs) != 1 {
		t.Errorf("FromPattern with one bad value = %v, %v; want the good one and an *ExtractError", obs, err)
	}
}

// FuzzFromPattern: FromPattern never panics on any pattern text, and every
// observable it returns is canonical.
func FuzzFromPattern(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, s string) {
		obs, err := FromPattern(s)
		for _, o := range obs {
			checkCanonical(t, o, "FromPattern")
		}
		if err != nil && len(err.Error()) > 64<<10 {
			t.Fatalf("FromPattern error is %d bytes long", len(err.Error()))
		}
	})
}
