package pattern

import "testing"

// benchPatterns are shaped like the patterns real feeds carry: most are
// one equality, some chain a few, a few use qualifiers.
var benchPatterns = []struct{ name, in string }{
	{"domain", `[domain-name:value='stylelifees.com']`},
	{"sha256", `[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']`},
	{"or-7", `[domain-name:value = 'c2.example' OR ipv4-addr:value = '198.51.100.1' OR ipv4-addr:value = '198.51.100.2' OR ` +
		`ipv4-addr:value = '198.51.100.3' OR ipv4-addr:value = '198.51.100.4' OR ipv4-addr:value = '198.51.100.5' OR ipv4-addr:value = '198.51.100.6']`},
	{"matches", `[email-message:from_ref.value MATCHES '.+\\@example\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\.exe$']`},
	{"qualified", `[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS`},
	{"nested", `([file:name = 'foo.dll'] AND [win-registry-key:key = 'HKEY_LOCAL_MACHINE\\foo\\bar']) OR [process:name = 'fooproc' OR process:name = 'procfoo'] ` +
		`FOLLOWEDBY [file:created > t'2014-01-13T07:03:17Z'] START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00Z'`},
}

func BenchmarkParse(b *testing.B) {
	for _, bp := range benchPatterns {
		b.Run(bp.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bp.in)))
			for b.Loop() {
				if _, err := Parse(bp.in); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParseCorpus parses every pattern of the public corpus once
// per iteration.
func BenchmarkParseCorpus(b *testing.B) {
	var all []string
	n := 0
	for _, ps := range corpusPatterns(b) {
		for _, s := range ps {
			all = append(all, s)
			n += len(s)
		}
	}
	b.ReportAllocs()
	b.SetBytes(int64(n))
	b.ReportMetric(float64(len(all)), "patterns/op")
	for b.Loop() {
		for _, s := range all {
			if _, err := Parse(s); err != nil {
				b.Fatal(err)
			}
		}
	}
}

func BenchmarkString(b *testing.B) {
	p, err := Parse(benchPatterns[len(benchPatterns)-1].in)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		_ = p.String()
	}
}
