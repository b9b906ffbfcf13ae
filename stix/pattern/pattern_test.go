package pattern

import (
	"reflect"
	"strings"
	"testing"
	"time"
)

// example is a pattern that must parse, with what it must parse to.
type example struct {
	name string
	in   string
	// want is the normalised pattern, String's output; empty means the
	// input is already normalised.
	want string
	// shape, when set, is the tree with every node spelled out (see
	// shape below), which pins precedence where the normalised string,
	// printing only the parentheses needed, cannot.
	shape string
}

// specExamples are the example patterns of STIX 2.1 section 9.9, as the
// OASIS pattern validator lists them for version 2.1.
var specExamples = []example{
	{name: "sha256", in: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`},
	{
		name:  "email-matches",
		in:    `[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`,
		shape: `[and(email-message:from_ref.value MATCHES '.+\\@example\\.com$', email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$')]`,
	},
	{name: "hash-and-mime", in: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND file:mime_type = 'application/x-pdf']`},
	{
		name: "or-then-and",
		in:   `[file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c' OR file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] AND [file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`,
		shape: `AND([or(file:hashes.'SHA-256' = 'bf07a7fbb825fc0aae7bf4a1177b2b31fcf8a3feeaf7092761e18c859ee52a9c', file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f')], ` +
			`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'])`,
	},
	{
		name:  "followedby-within",
		in:    `([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) WITHIN 300 SECONDS`,
		shape: `Q(FOLLOWEDBY([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'], [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']); WITHIN 300 SECONDS)`,
	},
	{
		name: "three-accounts",
		in: `[user-account:account_type = 'unix' AND user-account:user_id = '1007' AND user-account:account_login = 'Peter'] AND ` +
			`[user-account:account_type = 'unix' AND user-account:user_id = '1008' AND user-account:account_login = 'Paul'] AND ` +
			`[user-account:account_type = 'unix' AND user-account:user_id = '1009' AND user-account:account_login = 'Mary']`,
		shape: `AND([and(user-account:account_type = 'unix', user-account:user_id = '1007', user-account:account_login = 'Peter')], ` +
			`[and(user-account:account_type = 'unix', user-account:user_id = '1008', user-account:account_login = 'Paul')], ` +
			`[and(user-account:account_type = 'unix', user-account:user_id = '1009', user-account:account_login = 'Mary')])`,
	},
	{name: "pcap", in: `[artifact:mime_type = 'application/vnd.tcpdump.pcap' AND artifact:payload_bin MATCHES '\\xd4\\xc3\\xb2\\xa1\\x02\\x00\\x04\\x00']`},
	{name: "dll-in-system32", in: `[file:name = 'foo.dll' AND file:parent_directory_ref.path = 'C:\\Windows\\System32']`},
	{name: "pe-entropy", in: `[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]`},
	{name: "magic-number", in: `[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']`},
	{name: "dst-ipv4", in: `[network-traffic:dst_ref.type = 'ipv4-addr' AND network-traffic:dst_ref.value = '203.0.113.33/32']`},
	{
		name:  "repeats-within",
		in:    `[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`,
		shape: `Q([and(network-traffic:dst_ref.type = 'domain-name', network-traffic:dst_ref.value = 'example.com')]; REPEATS 5 TIMES; WITHIN 1800 SECONDS)`,
	},
	{name: "resolves-to", in: `[domain-name:value = 'www.5z8.info' AND domain-name:resolves_to_refs[*].value = '198.51.100.1/32']`},
	{name: "url-or", in: `[url:value = 'http://example.com/foo' OR url:value = 'http://example.com/bar']`},
	{name: "x509", in: `[x509-certificate:issuer = 'CN=WEBMAIL' AND x509-certificate:serial_number = '4c:0b:1d:19:74:86:a7:66:b4:1a:bf:40:27:21:76:28']`},
	{name: "registry-or", in: `[windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\CryptoLocker\\Files' OR windows-registry-key:key = 'HKEY_CURRENT_USER\\Software\\Microsoft\\CurrentVersion\\Run\\CryptoLocker_0388']`},
	{
		name:  "grouped-or-and-timestamp",
		in:    `[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']`,
		shape: `[and(or(file:name = 'pdf.exe', file:size = '371712'), file:created = t'2014-01-13T07:03:17Z')]`,
	},
	{name: "sender", in: `[email-message:sender_ref.value = 'jdoe@example.com' AND email-message:subject = 'Conference Info']`},
	{name: "custom-object", in: `[x-usb-device:usbdrive.serial_number = '575833314133343231313937']`},
	{
		name: "followedby-qualifier-binds-right",
		in:   `[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
		want: `[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS`,
		shape: `FOLLOWEDBY([process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'], ` +
			`Q([process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$']; WITHIN 300 SECONDS))`,
	},
	{name: "issubset", in: `[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']`},
	{
		name:  "and-group-or",
		in:    `([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
		want:  `[file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar'] OR [process:name = 'fooproc' OR process:name = 'procfoo']`,
		shape: `OR(AND([file:name = 'foo.dll'], [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']), [or(process:name = 'fooproc', process:name = 'procfoo')])`,
	},
	{name: "md5", in: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a69faa']`},
}

// languageExamples illustrate, one at a time, the operators, constants,
// paths and qualifiers that section 9 defines, and the grammar's
// lexical freedoms.
var languageExamples = []example{
	// Comparison operators.
	{name: "eq", in: `[file:name = 'foo.dll']`},
	{name: "eq-doubled", in: `[file:name == 'foo.dll']`, want: `[file:name = 'foo.dll']`},
	{name: "neq", in: `[file:name != 'foo.dll']`},
	{name: "neq-angle", in: `[file:name <> 'foo.dll']`, want: `[file:name != 'foo.dll']`},
	{name: "lt", in: `[file:size < 1024]`},
	{name: "le", in: `[file:size <= 1024]`},
	{name: "gt", in: `[file:size > 1024]`},
	{name: "ge", in: `[file:size >= 1024]`},
	{name: "in", in: `[process:name IN ('proccy', 'proximus', 'badproc')]`},
	{name: "in-numbers", in: `[network-traffic:dst_port IN (443, 6443, 8443)]`},
	{name: "in-empty", in: `[file:name IN ()]`},
	{name: "like", in: `[directory:path LIKE 'C:\\Windows\\%\\foo']`},
	{name: "matches", in: `[directory:path MATCHES '^C:\\\\Windows\\\\w+$']`},
	{name: "issubset", in: `[ipv4-addr:value ISSUBSET '198.51.100.0/24']`},
	{name: "issuperset", in: `[ipv4-addr:value ISSUPERSET '198.51.100.0/24']`},
	{name: "exists", in: `[EXISTS windows-registry-key:values]`},
	{name: "not-exists", in: `[NOT EXISTS windows-registry-key:values]`},
	{name: "not-eq", in: `[file:name NOT = 'foo.dll']`},
	{name: "not-in", in: `[file:name NOT IN ('a.exe', 'b.exe')]`},
	{name: "not-like", in: `[file:name NOT LIKE '%.exe']`},
	{name: "not-issubset", in: `[ipv4-addr:value NOT ISSUBSET '198.51.100.0/24']`},
	{name: "no-spaces", in: `[file:size>=1024 AND file:name='a.exe']`, want: `[file:size >= 1024 AND file:name = 'a.exe']`},

	// Constants.
	{name: "string-escapes", in: `[file:name = 'it\'s a \\ backslash']`},
	{name: "string-empty", in: `[file:name = '']`},
	{name: "string-unicode", in: `[file:name = 'résumé 履歴書.pdf']`},
	{name: "integer-negative", in: `[file:size = -12]`},
	{name: "integer-plus", in: `[file:size = +12]`, want: `[file:size = 12]`},
	{name: "integer-zero-negative", in: `[file:size = -0]`, want: `[file:size = 0]`},
	{name: "float", in: `[file:x = 2.5]`},
	{name: "float-no-integer-part", in: `[file:x = .5]`, want: `[file:x = 0.5]`},
	{name: "float-negative", in: `[file:x = -.5]`, want: `[file:x = -0.5]`},
	{name: "float-leading-zeros", in: `[file:x = 007.50]`, want: `[file:x = 7.5]`},
	{name: "bool-true", in: `[file:is_encrypted = true]`},
	{name: "bool-false", in: `[file:is_encrypted != false]`},
	{name: "timestamp", in: `[file:created = t'2014-01-13T07:03:17Z']`},
	{name: "timestamp-millis", in: `[file:created > t'2014-01-13T07:03:17.120Z']`, want: `[file:created > t'2014-01-13T07:03:17.12Z']`},
	{name: "timestamp-nanos", in: `[file:created < t'2014-01-13T07:03:17.123456789Z']`},
	{name: "binary", in: `[artifact:payload_bin = b'dGhpcyBpcyBhIHRlc3Q=']`},
	{name: "binary-two-pad", in: `[artifact:payload_bin = b'QQ==']`},
	{name: "hex", in: `[file:magic_number_hex = h'FFD8']`, want: `[file:magic_number_hex = h'ffd8']`},
	{name: "hex-empty", in: `[file:magic_number_hex = h'']`},
	{name: "set-mixed", in: `[file:x IN ('a', 1, 2.5, true, t'2020-01-01T00:00:00Z', b'QQ==', h'00')]`},

	// Object paths.
	{name: "path-quoted-first", in: `[file:'name' = 'a']`, want: `[file:name = 'a']`},
	{name: "path-quoted-keyword", in: `[x-custom:'IN' = 'a']`},
	{name: "path-index", in: `[email-message:to_refs[0].value = 'a@example.com']`},
	{name: "path-index-plus", in: `[email-message:to_refs[+1].value = 'a@example.com']`, want: `[email-message:to_refs[1].value = 'a@example.com']`},
	{name: "path-index-negative", in: `[email-message:to_refs[-1].value = 'a@example.com']`},
	{name: "path-any-nested", in: `[file:extensions.'archive-ext'.contains_refs[*].hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f']`},
	{name: "path-tcp-flags", in: `[network-traffic:extensions.'tcp-ext'.src_flags_hex = h'02']`},
	{name: "path-registry-values", in: `[windows-registry-key:values[*].name = 'Run']`},
	{name: "path-lower-hash", in: `[file:hashes.sha256 = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`},
	{name: "path-underscore", in: `[file:_private = 1]`},

	// Observation operators and qualifiers.
	{name: "obs-and", in: `[ipv4-addr:value = '198.51.100.1/32'] AND [ipv4-addr:value = '198.51.100.2/32']`},
	{name: "obs-or", in: `[ipv4-addr:value = '198.51.100.1/32'] OR [ipv4-addr:value = '198.51.100.2/32']`},
	{name: "obs-followedby", in: `[ipv4-addr:value = '198.51.100.1/32'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.2/32']`},
	{name: "within", in: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] WITHIN 300 SECONDS`},
	{name: "within-float", in: `[file:name = 'a'] WITHIN 2.5 SECONDS`},
	{name: "within-integral-float", in: `[file:name = 'a'] WITHIN 5.0 SECONDS`, want: `[file:name = 'a'] WITHIN 5 SECONDS`},
	{name: "repeats", in: `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'] REPEATS 5 TIMES`},
	{name: "start-stop", in: `[file:hashes.MD5 = 'cead3f77f6cda6ec00f57d76c9a6879f'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`},
	{
		name: "start-stop-each-side-of-or",
		in: `[network-traffic:src_port = 37020 AND user-account:user_id = 'root'] START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z' OR ` +
			`[ipv4-addr:value = '192.168.122.83'] START t'2016-06-01T03:55:00.123Z' STOP t'2016-06-01T04:30:24.743Z'`,
		shape: `OR(Q([and(network-traffic:src_port = 37020, user-account:user_id = 'root')]; START t'2016-06-01T01:30:00.123Z' STOP t'2016-06-01T02:20:00.123Z'), ` +
			`Q([ipv4-addr:value = '192.168.122.83']; START t'2016-06-01T03:55:00.123Z' STOP t'2016-06-01T04:30:24.743Z'))`,
	},
	{
		name:  "qualified-twice-through-parens",
		in:    `([win-registry-key:key = 'hkey'] REPEATS 2 TIMES) REPEATS 2 TIMES`,
		shape: `Q(Q([win-registry-key:key = 'hkey']; REPEATS 2 TIMES); REPEATS 2 TIMES)`,
	},
	{
		name:  "redundant-parens",
		in:    `( [(network-traffic:dst_port IN(443,6443,8443) AND network-traffic:src_packets != 0) ])`,
		want:  `[network-traffic:dst_port IN (443, 6443, 8443) AND network-traffic:src_packets != 0]`,
		shape: `[and(network-traffic:dst_port IN (443, 6443, 8443), network-traffic:src_packets != 0)]`,
	},

	// Precedence.
	{
		name:  "obs-and-over-or",
		in:    `[file:x = 1] OR [file:x = 2] AND [file:x = 3]`,
		shape: `OR([file:x = 1], AND([file:x = 2], [file:x = 3]))`,
	},
	{
		name:  "obs-or-over-followedby",
		in:    `[file:x = 1] FOLLOWEDBY [file:x = 2] OR [file:x = 3]`,
		shape: `FOLLOWEDBY([file:x = 1], OR([file:x = 2], [file:x = 3]))`,
	},
	{
		name:  "obs-qualifier-over-and",
		in:    `[file:x = 1] OR [file:x = 2] AND [file:x = 3] WITHIN 5 SECONDS`,
		shape: `OR([file:x = 1], AND([file:x = 2], Q([file:x = 3]; WITHIN 5 SECONDS)))`,
	},
	{
		name:  "obs-parens-override",
		in:    `([file:x = 1] OR [file:x = 2]) AND [file:x = 3]`,
		shape: `AND(OR([file:x = 1], [file:x = 2]), [file:x = 3])`,
	},
	{
		name:  "obs-parens-same-operator-right",
		in:    `[file:x = 1] AND ([file:x = 2] AND [file:x = 3])`,
		shape: `AND([file:x = 1], AND([file:x = 2], [file:x = 3]))`,
	},
	{
		name:  "obs-parens-same-operator-left",
		in:    `([file:x = 1] FOLLOWEDBY [file:x = 2]) FOLLOWEDBY [file:x = 3]`,
		shape: `FOLLOWEDBY(FOLLOWEDBY([file:x = 1], [file:x = 2]), [file:x = 3])`,
	},
	{
		name:  "obs-chain-flat",
		in:    `[file:x = 1] FOLLOWEDBY [file:x = 2] FOLLOWEDBY [file:x = 3]`,
		shape: `FOLLOWEDBY([file:x = 1], [file:x = 2], [file:x = 3])`,
	},
	{
		name:  "cmp-and-over-or",
		in:    `[file:x = 1 OR file:x = 2 AND file:y = 3]`,
		shape: `[or(file:x = 1, and(file:x = 2, file:y = 3))]`,
	},
	{
		name:  "cmp-parens-override",
		in:    `[(file:x = 1 OR file:x = 2) AND file:y = 3]`,
		shape: `[and(or(file:x = 1, file:x = 2), file:y = 3)]`,
	},
	{
		name:  "cmp-redundant-parens",
		in:    `[((file:x = 1)) AND (file:y = 2 AND file:z = 3)]`,
		want:  `[file:x = 1 AND (file:y = 2 AND file:z = 3)]`,
		shape: `[and(file:x = 1, and(file:y = 2, file:z = 3))]`,
	},

	// Lexical freedoms of the grammar.
	{name: "comments", in: "/* lead */ [file:x = 1] // trail", want: `[file:x = 1]`},
	{name: "comment-inside", in: "[file:x /* here */ = 1]", want: `[file:x = 1]`},
	{name: "whitespace", in: "\t[ file:x\n=\r\n1 ]\u00a0\u2003 AND\u3000[file:y = 2]", want: `[file:x = 1] AND [file:y = 2]`},
}

func allExamples() []example {
	return append(append([]example{}, specExamples...), languageExamples...)
}

func TestParseExamples(t *testing.T) {
	for _, tc := range allExamples() {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v; want no error", tc.in, err)
			}
			want := tc.want
			if want == "" {
				want = tc.in
			}
			if got := p.String(); got != want {
				t.Errorf("Parse(%q).String() =\n%s\nwant\n%s", tc.in, got, want)
			}
			if tc.shape != "" {
				if got := shape(p.Expr); got != tc.shape {
					t.Errorf("shape(Parse(%q)) =\n%s\nwant\n%s", tc.in, got, tc.shape)
				}
			}
		})
	}
}

// TestRoundTrip: the normalised form of every example parses to a tree
// equal to the example's, and is a fixed point of String.
func TestRoundTrip(t *testing.T) {
	for _, tc := range allExamples() {
		t.Run(tc.name, func(t *testing.T) {
			p, err := Parse(tc.in)
			if err != nil {
				t.Fatalf("Parse(%q) = %v", tc.in, err)
			}
			s := p.String()
			again, err := Parse(s)
			if err != nil {
				t.Fatalf("Parse(%q) = %v; it is the String of Parse(%q)", s, err, tc.in)
			}
			if !reflect.DeepEqual(again, p) {
				t.Errorf("Parse(%q) = %s; want the tree of Parse(%q) = %s", s, shape(again.Expr), tc.in, shape(p.Expr))
			}
			if s2 := again.String(); s2 != s {
				t.Errorf("Parse(%q).String() = %q; want it unchanged", s, s2)
			}
		})
	}
}

func date(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestParseTree checks whole trees, field by field.
func TestParseTree(t *testing.T) {
	path := func(typ string, steps ...Step) Path { return Path{ObjectType: typ, Steps: steps} }
	key := func(k string) Step { return Step{Kind: KeyStep, Key: k} }
	for _, tc := range []struct {
		in   string
		want *Pattern
	}{
		{
			in: `[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0 AND email-message:to_refs[2].value NOT = 'a@example.com']`,
			want: &Pattern{Expr: &Observation{Expr: &BooleanExpr{Op: And, Operands: []ComparisonExpr{
				&Comparison{
					Path: path("file", key("extensions"), key("windows-pebinary-ext"), key("sections"), Step{Kind: AnyIndexStep}, key("entropy")),
					Op:   Greater, Value: Constant{Kind: Float, Float: 7},
				},
				&Comparison{
					Path:    path("email-message", key("to_refs"), Step{Kind: IndexStep, Index: 2}, key("value")),
					Negated: true, Op: Equal, Value: Constant{Kind: String, Str: "a@example.com"},
				},
			}}}},
		},
		{
			in: `[x-c:v IN ('it\'s', -3, 2.5, false, t'2016-06-01T01:30:00.123Z', b'AAEC', h'0aFF')]`,
			want: &Pattern{Expr: &Observation{Expr: &Comparison{
				Path: path("x-c", key("v")), Op: In,
				Value: Constant{Kind: Set, Set: []Constant{
					{Kind: String, Str: "it's"},
					{Kind: Integer, Int: -3},
					{Kind: Float, Float: 2.5},
					{Kind: Boolean, Bool: false},
					{Kind: Timestamp, Time: date("2016-06-01T01:30:00.123Z")},
					{Kind: Binary, Bytes: []byte{0, 1, 2}},
					{Kind: Hex, Bytes: []byte{0x0a, 0xff}},
				}},
			}}},
		},
		{
			in: `([file:name = 'a'] FOLLOWEDBY [NOT EXISTS file:size]) REPEATS 3 TIMES WITHIN 60.5 SECONDS START t'2016-06-01T00:00:00Z' STOP t'2016-06-02T00:00:00Z'`,
			want: &Pattern{Expr: &QualifiedObservation{
				Expr: &CompoundObservation{Op: FollowedBy, Operands: []ObservationExpr{
					&Observation{Expr: &Comparison{Path: path("file", key("name")), Op: Equal, Value: Constant{Kind: String, Str: "a"}}},
					&Observation{Expr: &Comparison{Path: path("file", key("size")), Op: Exists, Negated: true}},
				}},
				Qualifiers: []Qualifier{
					{Kind: Repeats, Times: 3},
					{Kind: Within, Seconds: 60.5},
					{Kind: StartStop, Start: date("2016-06-01T00:00:00Z"), Stop: date("2016-06-02T00:00:00Z")},
				},
			}},
		},
	} {
		got, err := Parse(tc.in)
		if err != nil {
			t.Errorf("Parse(%q) = %v; want no error", tc.in, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) =\n%s\nwant\n%s", tc.in, shape(got.Expr), shape(tc.want.Expr))
		}
	}
}

func TestComparisons(t *testing.T) {
	p, err := Parse(`([ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'evil.example'] FOLLOWEDBY ` +
		`[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f' AND NOT EXISTS file:size]) WITHIN 60 SECONDS ` +
		`OR [url:value NOT IN ('http://a.example/', 'http://b.example/')]`)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		typ, prop string
		op        Operator
		negated   bool
		values    string
	}
	var got []row
	for _, c := range p.Comparisons() {
		var vs []string
		for _, v := range c.Value.Values() {
			vs = append(vs, v.String())
		}
		got = append(got, row{c.Path.ObjectType, c.Path.Property(), c.Op, c.Negated, strings.Join(vs, " ")})
	}
	want := []row{
		{"ipv4-addr", "value", Equal, false, "'198.51.100.7'"},
		{"domain-name", "value", Equal, false, "'evil.example'"},
		{"file", "hashes.'SHA-256'", Equal, false, "'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f'"},
		{"file", "size", Exists, true, ""},
		{"url", "value", In, true, "'http://a.example/' 'http://b.example/'"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Comparisons() =\n%v\nwant\n%v", got, want)
	}
}

func TestPathStrings(t *testing.T) {
	for _, tc := range []struct {
		path       Path
		str, prop  string
		roundTrips bool
	}{
		{Path{"file", []Step{{Key: "hashes"}, {Key: "SHA-256"}}}, "file:hashes.'SHA-256'", "hashes.'SHA-256'", true},
		{Path{"ipv4-addr", []Step{{Key: "value"}}}, "ipv4-addr:value", "value", true},
		{Path{"x-c", []Step{{Key: "AND"}, {Kind: IndexStep, Index: -2}, {Kind: AnyIndexStep}, {Key: "true"}}}, "x-c:'AND'[-2][*].'true'", "'AND'[-2][*].'true'", true},
	} {
		if got := tc.path.String(); got != tc.str {
			t.Errorf("%#v.String() = %q; want %q", tc.path, got, tc.str)
		}
		if got := tc.path.Property(); got != tc.prop {
			t.Errorf("%#v.Property() = %q; want %q", tc.path, got, tc.prop)
		}
		p, err := Parse("[" + tc.str + " = 1]")
		if err != nil {
			t.Errorf("Parse([%s = 1]) = %v", tc.str, err)
			continue
		}
		if got := p.Comparisons()[0].Path; !reflect.DeepEqual(got, tc.path) {
			t.Errorf("Parse([%s = 1]) path = %#v; want %#v", tc.str, got, tc.path)
		}
	}
}

// shape spells out a tree: compound observations as AND(...), OR(...),
// FOLLOWEDBY(...); qualified ones as Q(expr; qualifier; ...); boolean
// expressions in lower case, and(...), or(...).
func shape(e ObservationExpr) string {
	var b strings.Builder
	var obs func(ObservationExpr)
	var cmp func(ComparisonExpr)
	cmp = func(e ComparisonExpr) {
		switch e := e.(type) {
		case *Comparison:
			b.WriteString(e.String())
		case *BooleanExpr:
			b.WriteString(strings.ToLower(e.Op.String()) + "(")
			for i, o := range e.Operands {
				if i > 0 {
					b.WriteString(", ")
				}
				cmp(o)
			}
			b.WriteString(")")
		default:
			b.WriteString("?")
		}
	}
	obs = func(e ObservationExpr) {
		switch e := e.(type) {
		case *Observation:
			b.WriteString("[")
			cmp(e.Expr)
			b.WriteString("]")
		case *CompoundObservation:
			b.WriteString(e.Op.String() + "(")
			for i, o := range e.Operands {
				if i > 0 {
					b.WriteString(", ")
				}
				obs(o)
			}
			b.WriteString(")")
		case *QualifiedObservation:
			b.WriteString("Q(")
			obs(e.Expr)
			for _, q := range e.Qualifiers {
				b.WriteString("; " + q.String())
			}
			b.WriteString(")")
		default:
			b.WriteString("?")
		}
	}
	obs(e)
	return b.String()
}
