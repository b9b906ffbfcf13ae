package pattern

import (
	"errors"
	"strings"
	"testing"
)

// invalidExamples are patterns Parse must refuse, with the byte offset of
// the refusal and a part of its message.
var invalidExamples = []struct {
	name   string
	in     string
	offset int
	msg    string
}{
	// The failures the OASIS validator tests for version 2.1.
	{"no-brackets", `file:size = 1280`, 0, `expected "[" or "(" to start an observation expression, found "file"; comparisons go inside square brackets`},
	{"missing-value", `[file:size = ]`, 13, `expected a constant after "=", found "]"`},
	{"unquoted-string", `[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]`, 19, `strings are written in single quotes: 'cead3f77f6cda6ec00f57d76c9a6879f'`},
	{"period-for-colon", `[file.size = 1280]`, 5, `expected ":" after the object type "file", found "."`},
	{"regex-slashes", `[file:name MATCHES /.*\.dll/]`, 19, `expected a string constant ('...') after MATCHES, found character "/"`},
	{"within-no-value", `[windows-registry-key:key = 'a'] WITHIN ]`, 40, `expected a number of seconds after WITHIN, found "]"`},
	{"within-hours", `[windows-registry-key:key = 'a'] WITHIN 5 HOURS`, 42, `expected SECONDS after WITHIN 5, found "HOURS"`},
	{"within-negative", `[windows-registry-key:key = 'a'] WITHIN -5 SECONDS`, 40, `WITHIN needs a number of seconds greater than 0, found -5`},
	{"issubset-no-value", `[network-traffic:dst_ref.value ISSUBSET ]`, 40, `expected a string constant ('...') after ISSUBSET, found "]"`},
	{"bad-operator", `[file:hashes.MD5 =? 'x']`, 18, `expected a constant after "=", found character "?"`},
	{"bad-date", `[x-whatever:detected = t'2457-73-22T32:81:84.1Z']`, 23, `t'2457-73-22T32:81:84.1Z' is not a STIX timestamp: month 73 does not exist`},
	{"bad-base64", `[artifact:payload_bin = b'====']`, 24, `b'====' is not a binary constant`},
	{"lower-case-keyword", `[foo:bar=1] within 2 seconds`, 12, `found "within" (keywords are upper case: WITHIN)`},
	{"two-within", `[windows-registry-key:key = 'a'] WITHIN 5 SECONDS WITHIN 6 SECONDS`, 50, `a second WITHIN qualifier on the same observation expression`},
	{"two-repeats", `([windows-registry-key:key = 'a'] REPEATS 2 TIMES REPEATS 3 TIMES)`, 50, `a second REPEATS qualifier`},
	{"two-start-stop", `[file:x = 1] START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z' START t'2016-06-01T01:30:00Z' STOP t'2016-06-01T02:20:00Z'`, 72, `a second START qualifier`},

	// Structure.
	{"empty", ``, 0, `the pattern is empty`},
	{"blank", "  \n", 3, `the pattern is empty`},
	{"unclosed-bracket", `[file:name = 'x'`, 16, `expected "]" to close the observation expression started at offset 0, found end of pattern`},
	{"unclosed-paren", `([file:name = 'x']`, 18, `expected ")" to close the parenthesis opened at offset 0, found end of pattern`},
	{"unclosed-inner-paren", `[(file:x = 1]`, 12, `expected ")" to close the parenthesis opened at offset 1, found "]"`},
	{"dangling-and", `[file:name = 'x'] AND`, 21, `expected "[" or "(" to start an observation expression, found end of pattern`},
	{"dangling-followedby", `[file:x = 1] FOLLOWEDBY`, 23, `found end of pattern`},
	{"dangling-comparison-and", `[file:x = 1 AND]`, 15, `expected an object path such as file:name, EXISTS or "(", found "]"`},
	{"no-operator-between", `[file:name = 'x'] [file:name = 'y']`, 18, `expected AND, OR, FOLLOWEDBY, a qualifier (WITHIN, REPEATS, START) or end of pattern, found "["`},
	{"extra-bracket", `[file:x = 1] AND [file:y = 1]]`, 29, `or end of pattern, found "]"`},
	{"empty-brackets", `[]`, 1, `expected an object path such as file:name, EXISTS or "(", found "]"`},
	{"leading-not", `[NOT file:x = 1]`, 5, `expected EXISTS after a leading NOT (to negate a comparison, write NOT after the object path`},
	{"exists-after-path", `[file:x EXISTS]`, 8, `expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after file:x, found EXISTS`},
	{"not-without-operator", `[file:x NOT]`, 11, `expected a comparison operator (=, !=, <, <=, >, >=, IN, LIKE, MATCHES, ISSUBSET, ISSUPERSET) after NOT, found "]"`},
	{"bang", `[file:x ! 1]`, 8, `found character "!"`},

	// Operands.
	{"ordered-boolean", `[file:size > true]`, 13, `true cannot be ordered: booleans only go with = and !=`},
	{"like-number", `[file:name LIKE 5]`, 16, `expected a string constant ('...') after LIKE, found number 5`},
	{"in-without-set", `[file:name IN 'a']`, 14, `expected a set of constants after IN`},
	{"set-without-in", `[file:name = ('a')]`, 13, `a set of constants only goes after IN`},
	{"nested-set", `[file:name IN (('a'))]`, 15, `sets cannot be nested`},
	{"set-no-comma", `[file:name IN ('a' 'b')]`, 19, `expected "," or ")" to close the set opened at offset 14, found string 'b'`},
	{"upper-case-boolean", `[file:x = TRUE]`, 10, `found "TRUE" (booleans are lower case: true)`},
	{"double-quotes", `[file:x = "a"]`, 10, `found character "\""; strings are written in single quotes`},

	// Object paths.
	{"type-upper-case", `[File:name = 'a']`, 1, `object type "File" is not a STIX type name`},
	{"type-underscore", `[x_whatever:detected = 1]`, 1, `object type "x_whatever" is not a STIX type name`},
	{"type-too-short", `[ab:name = 'a']`, 1, `object type "ab" is not a STIX type name`},
	{"type-trailing-hyphen", `[file-:name = 'a']`, 1, `object type "file-" is not a STIX type name`},
	{"type-double-hyphen", `[x--y:name = 'a']`, 1, `object type "x--y" is not a STIX type name`},
	{"type-boolean", `[true:x = 1]`, 1, `expected an object path such as file:name, EXISTS or "(", found "true"`},
	{"unquoted-hyphen", `[file:extensions.windows-pebinary-ext.sections = 1]`, 17, `property name "windows-pebinary-ext" contains "-"; write it in quotes: 'windows-pebinary-ext'`},
	{"keyword-property", `[file:IN = 1]`, 6, `IN is a keyword; write it in quotes to use it as a property name: 'IN'`},
	{"quoted-key-space", `[file:hashes.'SHA 256' = 'a']`, 13, `quoted key 'SHA 256' must be 1 to 250 characters of a-z, A-Z, 0-9, _ and -`},
	{"quoted-key-empty", `[file:hashes.'' = 'a']`, 13, `quoted key '' must be`},
	{"no-property", `[file: = 1]`, 7, `expected a property name after "file:", found "="`},
	{"no-key-after-dot", `[file:x.= 1]`, 8, `expected a property name or quoted key after ".", found "="`},
	{"index-letter", `[file:x[a] = 1]`, 8, `expected a list index (a whole number or *) after "[", found "a"`},
	{"index-unclosed", `[file:x[1 = 1]`, 10, `expected "]" to close the list index, found "="`},
	{"index-huge", `[file:x[99999999999999999999] = 1]`, 8, `list index 99999999999999999999 is out of range`},

	// Constants.
	{"bad-escape", `[file:x = 'a\qb']`, 12, `invalid escape \q in a string: only \' and \\ are escapes`},
	{"unclosed-string", `[file:x = 'abc`, 10, `string is not closed with '`},
	{"unclosed-string-escape", `[file:x = 'abc\`, 10, `string is not closed with '`},
	{"leading-zero", `[file:x = 007]`, 10, `integer 007 has a leading zero`},
	{"integer-too-big", `[file:x = 99999999999999999999]`, 10, `integer 99999999999999999999 does not fit in 64 bits`},
	{"float-trailing-point", `[file:x = 1.]`, 11, `found "."`},
	{"exponent", `[file:x = 1e5]`, 11, `found "e5"`},
	{"lone-minus", `[file:x = -]`, 10, `found character "-"`},
	{"timestamp-offset", `[file:x = t'2016-01-01T00:00:00+01:00']`, 10, `is not a STIX timestamp: want YYYY-MM-DDTHH:MM:SS[.fraction]Z, in UTC`},
	{"timestamp-lower-t", `[file:x = t'2016-01-01t00:00:00Z']`, 10, `is not a STIX timestamp`},
	{"timestamp-feb-30", `[file:x = t'2016-02-30T00:00:00Z']`, 10, `day 30 does not exist in 2016-02`},
	{"timestamp-leap-second", `[file:x = t'2016-12-31T23:59:60Z']`, 10, `leap seconds are not accepted`},
	{"timestamp-picoseconds", `[file:x = t'2016-01-01T00:00:00.1234567891Z']`, 10, `10 fractional digits; at most 9`},
	{"timestamp-unclosed", `[file:x = t'2016-01-01T00:00:00Z]`, 10, `t'... is not closed with '`},
	{"hex-odd", `[file:x = h'abc']`, 10, `h'abc' is not a hex constant: it must be pairs of hexadecimal digits`},
	{"binary-empty", `[file:x = b'']`, 10, `b'' is not a binary constant`},
	{"binary-unpadded", `[file:x = b'QQ']`, 10, `b'QQ' is not a binary constant`},

	// Qualifiers.
	{"stop-before-start", `[file:x = 1] START t'2016-01-02T00:00:00Z' STOP t'2016-01-01T00:00:00Z'`, 48, `STOP t'2016-01-01T00:00:00Z' must be later than START t'2016-01-02T00:00:00Z'`},
	{"stop-equals-start", `[file:x = 1] START t'2016-01-01T00:00:00Z' STOP t'2016-01-01T00:00:00.000Z'`, 48, `must be later than START`},
	{"start-plain-string", `[file:x = 1] START '2016-01-01T00:00:00Z' STOP '2016-01-02T00:00:00Z'`, 19, `expected a timestamp t'...' after START, found string '2016-01-01T00:00:00Z'; timestamps are written t'`},
	{"start-without-stop", `[file:x = 1] START t'2016-01-01T00:00:00Z'`, 42, `expected STOP after START t'2016-01-01T00:00:00Z', found end of pattern`},
	{"repeats-zero", `[file:x = 1] REPEATS 0 TIMES`, 21, `REPEATS needs a whole number of times greater than 0, found 0`},
	{"repeats-float", `[file:x = 1] REPEATS 2.5 TIMES`, 21, `REPEATS needs a whole number of times greater than 0, found 2.5`},
	{"repeats-no-times", `[file:x = 1] REPEATS 5`, 22, `expected TIMES after REPEATS 5, found end of pattern`},
	{"repeats-too-big", `[file:x = 1] REPEATS 99999999999999999999 TIMES`, 21, `does not fit in 64 bits`},
	{"within-zero-float", `[file:x = 1] WITHIN 0.0 SECONDS`, 20, `WITHIN needs a number of seconds greater than 0, found 0.0`},

	// Text.
	{"unclosed-comment", `[file:x = 1] /* open`, 13, `comment started here is not closed with */`},
	{"invalid-utf8", "[file:x = '\xff']", 11, `the pattern is not valid UTF-8`},
}

func TestParseInvalid(t *testing.T) {
	for _, tc := range invalidExamples {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %s, nil; want an error at offset %d", tc.in, p, tc.offset)
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) error %T %v; want *SyntaxError", tc.in, err, err)
			}
			if se.Offset != tc.offset {
				t.Errorf("Parse(%q) error at offset %d; want %d (%v)", tc.in, se.Offset, tc.offset, err)
			}
			if !strings.Contains(se.Msg, tc.msg) {
				t.Errorf("Parse(%q) = %v; want a message containing %q", tc.in, err, tc.msg)
			}
			if want := "pattern: at offset "; !strings.HasPrefix(err.Error(), want) {
				t.Errorf("Parse(%q).Error() = %q; want it to start %q", tc.in, err, want)
			}
			if se.Err != nil {
				t.Errorf("Parse(%q) wraps %v; want no limit error", tc.in, se.Err)
			}
		})
	}
}

// TestErrorMessage pins one message in full, in the form operators see.
func TestErrorMessage(t *testing.T) {
	_, err := Parse(`[file:name = 'x' AND file:size > 0`)
	want := `pattern: at offset 34: expected "]" to close the observation expression started at offset 0, found end of pattern`
	if err == nil || err.Error() != want {
		t.Errorf("Parse error = %v; want %s", err, want)
	}
}

func TestErrorPosition(t *testing.T) {
	for _, tc := range []struct {
		in                   string
		offset, line, column int
	}{
		{`[file:size = ]`, 13, 1, 14},
		// Columns count characters: é is two bytes.
		{"[file:name = 'é'] AND [file:size = ]", 36, 1, 36},
		{"[file:name = 'é'] AND\n  [file:size = ]", 38, 2, 16},
		{"[file:name = 'x']\r\nAND\n[file:size = ]", 36, 3, 14},
	} {
		_, err := Parse(tc.in)
		var se *SyntaxError
		if !errors.As(err, &se) {
			t.Errorf("Parse(%q) = %v; want a *SyntaxError", tc.in, err)
			continue
		}
		if se.Offset != tc.offset || se.Line != tc.line || se.Column != tc.column {
			t.Errorf("Parse(%q) error at offset %d, line %d, column %d; want %d, %d, %d",
				tc.in, se.Offset, se.Line, se.Column, tc.offset, tc.line, tc.column)
		}
	}
}

func TestLimits(t *testing.T) {
	const obs = "[file:name = 'a']"
	for _, tc := range []struct {
		name   string
		in     string
		err    error
		offset int
	}{
		{"parens-at-limit", strings.Repeat("(", MaxDepth-1) + obs + strings.Repeat(")", MaxDepth-1), nil, 0},
		{"parens-over-limit", strings.Repeat("(", MaxDepth) + obs + strings.Repeat(")", MaxDepth), ErrTooDeep, MaxDepth},
		{"parens-hostile", strings.Repeat("(", 1_000_000), ErrTooDeep, MaxDepth},
		{"comparison-parens-at-limit", "[" + strings.Repeat("(", MaxDepth-1) + "file:x = 1" + strings.Repeat(")", MaxDepth-1) + "]", nil, 0},
		{"comparison-parens-over-limit", "[" + strings.Repeat("(", MaxDepth) + "file:x = 1" + strings.Repeat(")", MaxDepth) + "]", ErrTooDeep, MaxDepth},
		{"mixed-hostile", strings.Repeat("(", 60) + "[" + strings.Repeat("(", 1_000_000), ErrTooDeep, MaxDepth},
		{"length-at-limit", obs + strings.Repeat(" ", MaxLength-len(obs)), nil, 0},
		{"length-over-limit", obs + strings.Repeat(" ", MaxLength-len(obs)+1), ErrTooLong, MaxLength},
		{"long-flat-chain", obs + strings.Repeat(" OR "+obs, (MaxLength-len(obs))/(len(obs)+4)), nil, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.in)
			if tc.err == nil {
				if err != nil {
					t.Fatalf("Parse(%d bytes) = %v; want no error", len(tc.in), err)
				}
				if again, err := Parse(p.String()); err != nil || again.String() != p.String() {
					t.Fatalf("Parse(String()) = %v; want the same pattern", err)
				}
				return
			}
			var se *SyntaxError
			if !errors.Is(err, tc.err) || !errors.As(err, &se) {
				t.Fatalf("Parse(%d bytes) = %v; want a *SyntaxError wrapping %v", len(tc.in), err, tc.err)
			}
			if se.Offset != tc.offset {
				t.Errorf("Parse(%d bytes) error at offset %d; want %d", len(tc.in), se.Offset, tc.offset)
			}
		})
	}
}
