package analytics

import (
	"errors"
	"strings"
	"testing"

	"github.com/tearline/tearline"
)

func TestNormalise(t *testing.T) {
	sha256 := strings.Repeat("ab", 32)
	tests := []struct {
		name string
		kind Kind
		in   string
		want Observable
	}{
		{"ipv4 host", KindIPv4, "192.0.2.1", Observable{KindIPv4, "192.0.2.1/32"}},
		{"ipv4 spaces", KindIPv4, " 192.0.2.1\n", Observable{KindIPv4, "192.0.2.1/32"}},
		{"ipv4 prefix", KindIPv4, "198.51.100.0/24", Observable{KindIPv4, "198.51.100.0/24"}},
		{"ipv4 prefix host bits cleared", KindIPv4, "198.51.100.77/24", Observable{KindIPv4, "198.51.100.0/24"}},
		{"ipv4 /0", KindIPv4, "0.0.0.0/0", Observable{KindIPv4, "0.0.0.0/0"}},
		{"ipv4-mapped as ipv6", KindIPv6, "::ffff:192.0.2.1", Observable{KindIPv4, "192.0.2.1/32"}},
		{"ipv4-mapped as ipv4", KindIPv4, "::ffff:192.0.2.1", Observable{KindIPv4, "192.0.2.1/32"}},
		{"ipv4-mapped prefix", KindIPv6, "::ffff:192.0.2.0/120", Observable{KindIPv4, "192.0.2.0/24"}},
		{"ipv6 host", KindIPv6, "2001:DB8:0:0::1", Observable{KindIPv6, "2001:db8::1/128"}},
		{"ipv6 prefix", KindIPv6, "2001:db8:ffff::/32", Observable{KindIPv6, "2001:db8::/32"}},
		{"domain", KindDomain, "WWW.Example.COM.", Observable{KindDomain, "www.example.com"}},
		{"domain punycode", KindDomain, "xn--bcher-kva.example", Observable{KindDomain, "xn--bcher-kva.example"}},
		{"domain underscore", KindDomain, "_dmarc.example.com", Observable{KindDomain, "_dmarc.example.com"}},
		{"domain single label", KindDomain, "localhost", Observable{KindDomain, "localhost"}},
		{"url", KindURL, "HTTP://WWW.Example.com:80", Observable{KindURL, "http://www.example.com/"}},
		{"url https port kept", KindURL, "https://example.com:8443/a", Observable{KindURL, "https://example.com:8443/a"}},
		{"url dot segments", KindURL, "http://example.com/a/./b/../c", Observable{KindURL, "http://example.com/a/c"}},
		{"url percent", KindURL, "http://example.com/%7euser/%2f?q=%3d&r=%41", Observable{KindURL, "http://example.com/~user/%2F?q=%3D&r=A"}},
		{"url fragment dropped", KindURL, "http://example.com/x#top", Observable{KindURL, "http://example.com/x"}},
		{"url ipv4 host", KindURL, "http://192.0.2.1:8080/x", Observable{KindURL, "http://192.0.2.1:8080/x"}},
		{"url mapped host", KindURL, "http://[::ffff:192.0.2.1]/", Observable{KindURL, "http://192.0.2.1/"}},
		{"url ipv6 host", KindURL, "http://[2001:DB8::1]:80/", Observable{KindURL, "http://[2001:db8::1]/"}},
		{"url non-ascii path", KindURL, "http://example.com/é", Observable{KindURL, "http://example.com/%C3%A9"}},
		{"url userinfo", KindURL, "ftp://anon@example.com:21/pub", Observable{KindURL, "ftp://anon@example.com/pub"}},
		{"email", KindEmail, "Bob.Smith@EXAMPLE.com", Observable{KindEmail, "Bob.Smith@example.com"}},
		{"email literal", KindEmail, "x@[192.0.2.1]", Observable{KindEmail, "x@[192.0.2.1]"}},
		{"email v6 literal", KindEmail, "x@[ipv6:2001:DB8::1]", Observable{KindEmail, "x@[IPv6:2001:db8::1]"}},
		{"file name verbatim", KindFileName, " Invoice.PDF.exe", Observable{KindFileName, " Invoice.PDF.exe"}},
		{"md5", KindMD5, "D41D8CD98F00B204E9800998ECF8427E", Observable{KindMD5, "d41d8cd98f00b204e9800998ecf8427e"}},
		{"sha1", KindSHA1, strings.Repeat("A", 40), Observable{KindSHA1, strings.Repeat("a", 40)}},
		{"sha256", KindSHA256, sha256, Observable{KindSHA256, sha256}},
		{"sha512", KindSHA512, strings.Repeat("0F", 64), Observable{KindSHA512, strings.Repeat("0f", 64)}},
		{"sha3-256", KindSHA3_256, sha256, Observable{KindSHA3_256, sha256}},
		{"sha3-512", KindSHA3_512, strings.Repeat("1", 128), Observable{KindSHA3_512, strings.Repeat("1", 128)}},
		{"ssdeep", KindSSDEEP, "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C", Observable{KindSSDEEP, "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C"}},
		{"ssdeep empty file", KindSSDEEP, "3::", Observable{KindSSDEEP, "3::"}},
		{"tlsh with T1", KindTLSH, "T1" + strings.Repeat("AB", 35), Observable{KindTLSH, strings.Repeat("ab", 35)}},
		{"tlsh bare", KindTLSH, strings.Repeat("ab", 35), Observable{KindTLSH, strings.Repeat("ab", 35)}},
		{"mac hyphens", KindMAC, "00-00-5E-00-53-01", Observable{KindMAC, "00:00:5e:00:53:01"}},
		{"mac eui-64", KindMAC, "02:00:5e:10:00:00:00:01", Observable{KindMAC, "02:00:5e:10:00:00:00:01"}},
		{"asn", KindASN, "AS64496", Observable{KindASN, "64496"}},
		{"asn plain", KindASN, "4294967295", Observable{KindASN, "4294967295"}},
		{"mutex", KindMutex, "Global\\MyMutex", Observable{KindMutex, "Global\\MyMutex"}},
		{"registry hive", KindRegistryKey, `hklm\Software\Run\`, Observable{KindRegistryKey, `HKEY_LOCAL_MACHINE\SOFTWARE\RUN`}},
		{"registry full", KindRegistryKey, `HKEY_CURRENT_USER\x`, Observable{KindRegistryKey, `HKEY_CURRENT_USER\X`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalise(tt.kind, tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("Normalise(%v, %q) = %v, %v; want %v", tt.kind, tt.in, got, err, tt.want)
			}
			again, err := Normalise(got.Kind, got.Value)
			if err != nil || again != got {
				t.Fatalf("Normalise(%v, %q) = %v, %v; want it unchanged", got.Kind, got.Value, again, err)
			}
		})
	}
}

func TestNormaliseErrors(t *testing.T) {
	tests := []struct {
		name string
		kind Kind
		in   string
		want string // part of the message
	}{
		{"ipv4 out of range", KindIPv4, "300.1.1.1", "value >255"},
		{"ipv4 leading zero", KindIPv4, "010.1.1.1", "not an IP address"},
		{"ipv4 prefix too long", KindIPv4, "10.0.0.0/33", "192.0.2.0/24"},
		{"ipv6 as ipv4", KindIPv4, "2001:db8::1", "report it as ipv6-addr"},
		{"ipv4 as ipv6", KindIPv6, "192.0.2.1", "report it as ipv4-addr"},
		{"zone", KindIPv6, "fe80::1%eth0", "drop the zone"},
		{"empty ip", KindIPv4, "", "not an IP address"},
		{"domain non-ascii", KindDomain, "bücher.example", "xn--"},
		{"domain empty label", KindDomain, "a..example", "empty label"},
		{"domain only dot", KindDomain, ".", "empty label"},
		{"domain empty", KindDomain, "  ", "empty domain"},
		{"domain long label", KindDomain, strings.Repeat("a", 64) + ".com", "longer than 63"},
		{"domain too long", KindDomain, strings.Repeat("abcdefgh.", 30) + "com", "longer than 253"},
		{"domain ipv4", KindDomain, "192.0.2.1", "report an IPv4 address as ipv4-addr"},
		{"domain wildcard", KindDomain, "*.example.com", "wildcard"},
		{"domain space", KindDomain, "exa mple.com", "holds ' '"},
		{"url relative", KindURL, "/index.html", "no scheme"},
		{"url no host", KindURL, "mailto:x@example.com", "no host"},
		{"url space", KindURL, "http://example.com/a b", "percent-encode"},
		{"url bad host", KindURL, "http://exa_mple!.com/", "host: holds '!'"},
		{"url bad brackets", KindURL, "http://[zzz]/", "not a URL"},
		{"url bad port", KindURL, "http://example.com:99999/", "port 99999"},
		{"url non-ascii host", KindURL, "http://bücher.example/", "xn--"},
		{"url invalid utf-8", KindURL, "http://example.com/\xff", "UTF-8"},
		{"email no at", KindEmail, "example.com", "has no @"},
		{"email display name", KindEmail, "Bob <bob@example.com", "display name"},
		{"email empty local", KindEmail, "@example.com", "empty local part"},
		{"email bad domain", KindEmail, "a@exa mple.com", "domain:"},
		{"file name empty", KindFileName, "", "empty name"},
		{"file name nul", KindFileName, "a\x00b", "control character"},
		{"file name invalid utf-8", KindFileName, "\xff", "UTF-8"},
		{"md5 short", KindMD5, "abc", "32 hexadecimal digits, not 3"},
		{"sha256 not hex", KindSHA256, strings.Repeat("g", 64), "not a hexadecimal digit"},
		{"ssdeep with name", KindSSDEEP, `3:abc:def,"file.exe"`, "base64"},
		{"ssdeep two parts", KindSSDEEP, "3:abc", "blocksize:hash:hash"},
		{"ssdeep zero block", KindSSDEEP, "03:a:b", "block size"},
		{"tlsh short", KindTLSH, "T1abc", "70 or 134"},
		{"mac short", KindMAC, "00:00:5e", "MAC-48"},
		{"asn too big", KindASN, "4294967296", "0 to 4294967295"},
		{"asn signed", KindASN, "+5", "0 to 4294967295"},
		{"registry empty", KindRegistryKey, " ", "empty name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Normalise(tt.kind, tt.in)
			var ve *ValueError
			if !errors.As(err, &ve) || !errors.Is(err, tearline.ErrInvalid) {
				t.Fatalf("Normalise(%v, %q) = %v, %v; want a *ValueError unwrapping to ErrInvalid", tt.kind, tt.in, got, err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Normalise(%v, %q) error %q; want it to mention %q", tt.kind, tt.in, err, tt.want)
			}
		})
	}
}

func TestNormaliseUnsupported(t *testing.T) {
	if _, err := Normalise(Kind(200), "x"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("Normalise(kind 200) error %v; want ErrUnsupported", err)
	}
	if _, err := NormaliseHash("x-custom", "abcd"); !errors.Is(err, ErrUnsupported) {
		t.Errorf("NormaliseHash(x-custom) error %v; want ErrUnsupported", err)
	}
}

func TestNormaliseLongValueIsCut(t *testing.T) {
	_, err := Normalise(KindDomain, strings.Repeat("a.", 1000))
	if err == nil || len(err.Error()) > 400 {
		t.Fatalf("Normalise(2000-byte domain) error %q; want an error of bounded length", err)
	}
}

func TestHashKind(t *testing.T) {
	tests := []struct {
		in   string
		want Kind
		ok   bool
	}{
		{"MD5", KindMD5, true},
		{"md5", KindMD5, true},
		{"SHA-1", KindSHA1, true},
		{"sha1", KindSHA1, true},
		{"SHA-256", KindSHA256, true},
		{"SHA256", KindSHA256, true},
		{"sha_256", KindSHA256, true},
		{"SHA-512", KindSHA512, true},
		{"SHA3-256", KindSHA3_256, true},
		{"SHA3-512", KindSHA3_512, true},
		{"SSDEEP", KindSSDEEP, true},
		{"tlsh", KindTLSH, true},
		{"SHA-384", 0, false},
		{"x_custom", 0, false},
		{strings.Repeat("SHA", 10), 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := HashKind(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Fatalf("HashKind(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

func TestKindNames(t *testing.T) {
	for k := Kind(1); k < kindEnd; k++ {
		got, ok := ParseKind(k.String())
		if !ok || got != k {
			t.Errorf("ParseKind(%q) = %v, %v; want %v", k.String(), got, ok, k)
		}
	}
	if _, ok := ParseKind("kind(0)"); ok {
		t.Errorf("ParseKind(kind(0)) succeeded; want false")
	}
	if Kind(0).Valid() || kindEnd.Valid() || addressKind.Valid() {
		t.Errorf("Valid() true for a kind outside the list")
	}
}

func TestHost(t *testing.T) {
	tests := []struct {
		url  string
		want Observable
	}{
		{"http://www.example.com/x", Observable{KindDomain, "www.example.com"}},
		{"http://user@example.com:8080/", Observable{KindDomain, "example.com"}},
		{"http://192.0.2.1/", Observable{KindIPv4, "192.0.2.1/32"}},
		{"http://[2001:db8::1]:8080/", Observable{KindIPv6, "2001:db8::1/128"}},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			u, err := Normalise(KindURL, tt.url)
			if err != nil {
				t.Fatal(err)
			}
			got, ok := u.Host()
			if !ok || got != tt.want {
				t.Fatalf("Host(%v) = %v, %v; want %v", u, got, ok, tt.want)
			}
		})
	}
	if _, ok := (Observable{KindDomain, "example.com"}).Host(); ok {
		t.Errorf("Host(domain) succeeded; want false")
	}
}

func TestParentAndPrefix(t *testing.T) {
	tests := []struct {
		in   string
		want string // "" when no parent
	}{
		{"a.b.example.com", "b.example.com"},
		{"b.example.com", "example.com"},
		{"example.com", ""},
		{"com", ""},
	}
	for _, tt := range tests {
		got, ok := Observable{KindDomain, tt.in}.Parent()
		if ok != (tt.want != "") || got.Value != tt.want {
			t.Errorf("Parent(%q) = %v, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	p, ok := Observable{KindIPv4, "10.0.0.0/8"}.Prefix()
	if !ok || p.String() != "10.0.0.0/8" {
		t.Errorf("Prefix(10.0.0.0/8) = %v, %v; want 10.0.0.0/8", p, ok)
	}
	if _, ok := (Observable{KindDomain, "example.com"}).Prefix(); ok {
		t.Errorf("Prefix(domain) succeeded; want false")
	}
}

func TestRemoveDotSegments(t *testing.T) {
	// The examples of RFC 3986 section 5.4 that reduce to a path.
	tests := []struct{ in, want string }{
		{"/a/b/c/./../../g", "/a/g"},
		{"mid/content=5/../6", "mid/6"},
		{"/b/c/.", "/b/c/"},
		{"/b/c/..", "/b/"},
		{"/../g", "/g"},
		{"/./g", "/g"},
		{"/g.", "/g."},
		{"/.g", "/.g"},
		{"/..g", "/..g"},
		{"/b/c/g;x=1/../y", "/b/c/y"},
		{".", ""},
		{"..", ""},
		{"/", "/"},
	}
	for _, tt := range tests {
		if got := removeDotSegments(tt.in); got != tt.want {
			t.Errorf("removeDotSegments(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

// TestCanonicalURLAgrees checks the fast recogniser of canonical URLs
// against the full normaliser on the cases where they could part ways.
func TestCanonicalURLAgrees(t *testing.T) {
	for _, in := range []string{
		"http://example.com/", "http://example.com", "http://Example.com/", "HTTP://example.com/",
		"http://example.com:80/", "http://example.com:8080/", "http://example.com:080/", "http://example.com:/",
		"http://example.com:0/", "http://example.com:65535/", "http://example.com:65536/", "https://example.com:443/",
		"ftp://example.com:21/", "git+ssh://example.com/x", "http://example.com/a/../b", "http://example.com/./",
		"http://example.com/a/.", "http://example.com/a/.b/..c", "http://example.com/a?", "http://example.com/a?b#c",
		"http://example.com/a?b?c=/d", "http://u@example.com/", "http://1.2.3.4/", "http://01.2.3.4/", "http://[::1]/",
		"http://example.com./", "http://example.com/%41", "http://example.com/a!$&'()*+,;=:@[]~", "http://999.1.1.1/",
		"http://localhost/", "http://ex_ample.com/", "http://example.com/é", "http:///x", "http://:80/", "1http://a.b/",
	} {
		fast := isCanonicalURL(in)
		slow, err := normaliseURLSlow(in)
		if fast && (err != nil || slow.Value != in) {
			t.Errorf("isCanonicalURL(%q) = true; but the full normaliser gives %v, %v", in, slow, err)
		}
		got, gotErr := Normalise(KindURL, in)
		if got != slow || (gotErr == nil) != (err == nil) {
			t.Errorf("Normalise(url, %q) = %v, %v; want %v, %v", in, got, gotErr, slow, err)
		}
	}
	if !isCanonicalURL("http://www.example.com/a/b.php?id=1") {
		t.Errorf("isCanonicalURL(a plain canonical URL) = false; want the fast path taken")
	}
}
