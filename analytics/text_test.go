package analytics

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
)

func TestExtractText(t *testing.T) {
	sha := strings.Repeat("ab", 32)
	cases := []struct {
		line string
		want []string
	}{
		{"203.0.113.9", []string{"ipv4-addr:203.0.113.9/32"}},
		{"evil.example", []string{"domain-name:evil.example"}},
		{"  2001:DB8::1  ", []string{"ipv6-addr:2001:db8::1/128"}},
		{"198.51.100.0/24", []string{"ipv4-addr:198.51.100.0/24"}},
		{strings.ToUpper(sha), []string{"SHA-256:" + sha}},
		{"d41d8cd98f00b204e9800998ecf8427e", []string{"MD5:d41d8cd98f00b204e9800998ecf8427e"}},
		{"Dec 10 12:00:01 fw1 DROP src=203.0.113.9:51515 dst=10.0.0.1 dport=443",
			[]string{"ipv4-addr:203.0.113.9/32", "ipv4-addr:10.0.0.1/32"}},
		{`GET "http://C2.example:80/a/../gate.php?id=7" from [2001:db8::2]:443`,
			[]string{"url:http://c2.example/gate.php?id=7", "domain-name:c2.example", "ipv6-addr:2001:db8::2/128"}},
		{"Mail from <Boss@Corp.Example> to it@corp.example.", []string{
			"email-addr:Boss@corp.example", "domain-name:corp.example", "email-addr:it@corp.example"}},
		{"IOC: hxxps://bad[.]example/x, 192.0.2[.]1 and evil(dot)example", []string{
			"url:https://bad.example/x", "domain-name:bad.example", "ipv4-addr:192.0.2.1/32", "domain-name:evil.example"}},
		{"ip:192.0.2.5 host:mail.example:25 *.wild.example", []string{"ipv4-addr:192.0.2.5/32", "domain-name:mail.example", "domain-name:wild.example"}},
		{"version 1.2.3, size 4.5 MB, file report.v2", nil},
		{"999.1.1.1 and fe80::1%eth0", nil},
		{"evil.example evil.example EVIL.example.", []string{"domain-name:evil.example"}},
		{"", nil},
	}
	for _, c := range cases {
		var got []string
		for _, o := range ExtractText(c.line) {
			got = append(got, o.String())
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("ExtractText(%q) = %q; want %q", c.line, got, c.want)
		}
	}
}

func TestExtractLines(t *testing.T) {
	in := "# IOC list\n203.0.113.9\n\nnothing here\nevil.example 198.51.100.1\n"
	var lines []int
	var n int
	err := ExtractLines(strings.NewReader(in), func(line int, obs []Observable) error {
		lines = append(lines, line)
		n += len(obs)
		return nil
	})
	if err != nil || !slices.Equal(lines, []int{2, 5}) || n != 3 {
		t.Errorf("ExtractLines: lines %v, %d values, %v; want [2 5], 3", lines, n, err)
	}
	long := strings.Repeat("a", MaxLineLength+1)
	err = ExtractLines(strings.NewReader("192.0.2.1\n"+long), func(int, []Observable) error { return nil })
	if !errors.Is(err, ErrLineTooLong) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ExtractLines of an over-long line: %v; want ErrLineTooLong naming line 2", err)
	}
	stop := errors.New("stop")
	if err := ExtractLines(strings.NewReader(in), func(int, []Observable) error { return stop }); !errors.Is(err, stop) {
		t.Errorf("ExtractLines did not stop at the callback's error: %v", err)
	}
}

// FuzzExtractText: ExtractText never panics on any line; every value it
// returns is canonical and can be looked up, and none twice.
func FuzzExtractText(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, line string) {
		got := ExtractText(line)
		for i, o := range got {
			checkCanonical(t, o, "ExtractText")
			if slices.Contains(got[:i], o) {
				t.Fatalf("ExtractText(%q) returns %v twice", line, o)
			}
			if _, err := New().Lookup(nil, o, all, 0); err != nil {
				t.Fatalf("ExtractText(%q) gave %v, which Lookup refuses: %v", line, o, err)
			}
		}
		again := ExtractText(line)
		if !slices.Equal(got, again) {
			t.Fatalf("ExtractText(%q) is not deterministic: %v then %v", line, got, again)
		}
	})
}
