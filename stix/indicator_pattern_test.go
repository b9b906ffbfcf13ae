package stix

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

// TestIndicatorPattern: an indicator whose pattern_type is "stix" is
// rejected when its pattern does not parse, with the offset of the error
// in the message; patterns in other languages are not parsed.
func TestIndicatorPattern(t *testing.T) {
	for _, tc := range []struct {
		name, patternType, pattern string
		// wantMsg is empty when the indicator must be accepted.
		wantMsg string
	}{
		{"valid", "stix", `[ipv4-addr:value = '203.0.113.45'] FOLLOWEDBY [domain-name:value = 'update-tidal.example'] WITHIN 600 SECONDS`, ""},
		{"unclosed", "stix", `[ipv4-addr:value = '203.0.113.45'`, `at offset 33 (line 1, column 34): expected "]" to close the observation expression started at offset 0, found end of pattern`},
		{"missing-brackets", "stix", `ipv4-addr:value = '203.0.113.45'`, `at offset 0 (line 1, column 1): expected "[" or "("`},
		{"zero-repeats", "stix", `[ipv4-addr:value = '203.0.113.45'] REPEATS 0 TIMES`, `at offset 43 (line 1, column 44): REPEATS needs a whole number of times greater than 0`},
		{"empty", "stix", ``, `at offset 0 (line 1, column 1): the pattern is empty`},
		{"sigma", "sigma", `title: anything at all [`, ""},
		{"snort", "snort", `alert tcp any any -> 203.0.113.45 443 (msg:"TIDEGRIP";)`, ""},
		{"stix-upper-case", "STIX", `not a STIX pattern`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := `{"type":"indicator","spec_version":"2.1","id":"indicator--5c1e4d7a-9b2f-4e3a-8c6d-1f0e2a3b4c5d",` +
				`"created":"2024-03-09T10:00:00.000Z","modified":"2024-03-09T10:00:00.000Z",` +
				`"pattern":` + strconv.Quote(tc.pattern) + `,"pattern_type":` + strconv.Quote(tc.patternType) + `,` +
				`"valid_from":"2024-03-09T10:00:00Z"}`
			_, _, err := Parse([]byte(data))
			if tc.wantMsg == "" {
				if err != nil {
					t.Fatalf("Parse(indicator with %s pattern %q) = %v; want it accepted", tc.patternType, tc.pattern, err)
				}
				return
			}
			var oe *ObjectError
			if !errors.As(err, &oe) {
				t.Fatalf("Parse(indicator with pattern %q) = %v; want an *ObjectError", tc.pattern, err)
			}
			var found []Problem
			for _, p := range oe.Problems {
				if p.Rule == "indicator-pattern" {
					found = append(found, p)
				}
			}
			if len(found) != 1 || found[0].Path != "$.pattern" || !strings.Contains(found[0].Msg, tc.wantMsg) {
				t.Errorf("Parse(indicator with pattern %q) problems = %v; want one indicator-pattern at $.pattern saying %q",
					tc.pattern, oe.Problems, tc.wantMsg)
			}
		})
	}
}
