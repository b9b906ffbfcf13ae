package analytics

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tearline/tearline"
)

// Kind is the kind of value an observable holds. Two observables can only
// match when their kinds are the same (or, for addresses, of the same
// family).
type Kind uint8

// The kinds of observable. Hash kinds are named after the STIX 2.1
// hash-algorithm-ov vocabulary.
const (
	KindIPv4        Kind = iota + 1 // an IPv4 address or CIDR prefix
	KindIPv6                        // an IPv6 address or CIDR prefix
	KindDomain                      // a domain name
	KindURL                         // a URL
	KindEmail                       // an email address
	KindFileName                    // a file name
	KindMD5                         // an MD5 hash
	KindSHA1                        // a SHA-1 hash
	KindSHA256                      // a SHA-256 hash
	KindSHA512                      // a SHA-512 hash
	KindSHA3_256                    // a SHA3-256 hash
	KindSHA3_512                    // a SHA3-512 hash
	KindSSDEEP                      // an SSDEEP fuzzy hash
	KindTLSH                        // a TLSH fuzzy hash
	KindMAC                         // a MAC address
	KindASN                         // an autonomous system number
	KindMutex                       // a mutex name
	KindRegistryKey                 // a Windows registry key
	kindEnd
)

var kindNames = [kindEnd]string{
	KindIPv4:        "ipv4-addr",
	KindIPv6:        "ipv6-addr",
	KindDomain:      "domain-name",
	KindURL:         "url",
	KindEmail:       "email-addr",
	KindFileName:    "file-name",
	KindMD5:         "MD5",
	KindSHA1:        "SHA-1",
	KindSHA256:      "SHA-256",
	KindSHA512:      "SHA-512",
	KindSHA3_256:    "SHA3-256",
	KindSHA3_512:    "SHA3-512",
	KindSSDEEP:      "SSDEEP",
	KindTLSH:        "TLSH",
	KindMAC:         "mac-addr",
	KindASN:         "autonomous-system",
	KindMutex:       "mutex",
	KindRegistryKey: "windows-registry-key",
}

// String returns the kind's name: the STIX object type for kinds that are
// one ("ipv4-addr", "url"), the STIX hash algorithm name for hashes
// ("SHA-256"), and "file-name" for file names.
func (k Kind) String() string {
	if k > 0 && k < kindEnd {
		return kindNames[k]
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Valid reports whether k is one of the kinds above.
func (k Kind) Valid() bool { return k > 0 && k < kindEnd }

// IsHash reports whether k is a hash kind.
func (k Kind) IsHash() bool { return k >= KindMD5 && k <= KindTLSH }

// ParseKind returns the kind named name (as Kind.String writes it).
func ParseKind(name string) (Kind, bool) {
	for k := Kind(1); k < kindEnd; k++ {
		if kindNames[k] == name {
			return k, true
		}
	}
	return 0, false
}

// HashKind returns the kind for a STIX hash algorithm name. The STIX names
// (MD5, SHA-1, SHA-256, SHA-512, SHA3-256, SHA3-512, SSDEEP, TLSH) are
// matched without regard to case or a hyphen after "SHA", because producers
// write "sha256" and "SHA256" as often as the vocabulary's "SHA-256".
func HashKind(algorithm string) (Kind, bool) {
	if len(algorithm) > 16 {
		return 0, false
	}
	var buf [16]byte
	n := 0
	for i := 0; i < len(algorithm); i++ {
		c := algorithm[i]
		if c == '-' || c == '_' {
			continue
		}
		if c >= 'a' && c <= 'z' {
			c -= 'a' - 'A'
		}
		buf[n] = c
		n++
	}
	switch string(buf[:n]) {
	case "MD5":
		return KindMD5, true
	case "SHA1":
		return KindSHA1, true
	case "SHA256":
		return KindSHA256, true
	case "SHA512":
		return KindSHA512, true
	case "SHA3256":
		return KindSHA3_256, true
	case "SHA3512":
		return KindSHA3_512, true
	case "SSDEEP":
		return KindSSDEEP, true
	case "TLSH":
		return KindTLSH, true
	}
	return 0, false
}

// Observable is a matchable value in its canonical form. Build one with
// Normalise: two observables denote the same thing exactly when they are
// equal (==).
//
// The canonical forms:
//
//   - ipv4-addr, ipv6-addr: a CIDR prefix as net/netip writes it, host bits
//     cleared; a single address is a /32 or /128. An IPv4-mapped IPv6
//     address (::ffff:192.0.2.1) is the IPv4 address it maps.
//   - domain-name: ASCII lower case without a trailing dot (see
//     Normalise for why internationalised names must arrive as xn-- labels).
//   - url: scheme and host in lower case, the default port dropped, the
//     path's dot segments removed, percent-encoding normalised (RFC 3986
//     section 6.2.2), the fragment dropped.
//   - email-addr: the local part as given, the domain as a domain-name.
//   - hashes: lower-case hexadecimal of the algorithm's length; SSDEEP as
//     given; TLSH without its "T1" version prefix.
//   - mac-addr: lower-case, colon-separated octets.
//   - autonomous-system: the number in decimal.
//   - windows-registry-key: upper case, the hive spelt out (HKLM becomes
//     HKEY_LOCAL_MACHINE), because Windows compares keys without case.
//   - file-name, mutex: as given, byte for byte.
type Observable struct {
	Kind  Kind   `json:"kind"`
	Value string `json:"value"`
}

func (o Observable) String() string { return o.Kind.String() + ":" + o.Value }

// Prefix returns the CIDR prefix of an ipv4-addr or ipv6-addr observable.
func (o Observable) Prefix() (netip.Prefix, bool) {
	if o.Kind != KindIPv4 && o.Kind != KindIPv6 {
		return netip.Prefix{}, false
	}
	p, err := netip.ParsePrefix(o.Value)
	return p, err == nil
}

// Parent returns the domain one label up (example.com for www.example.com),
// or false when o is not a domain-name of three labels or more. A single
// label (a top-level domain) is not returned as a parent: it takes no part
// in suffix matching (see MatchDomainSuffix).
func (o Observable) Parent() (Observable, bool) {
	if o.Kind != KindDomain {
		return Observable{}, false
	}
	i := strings.IndexByte(o.Value, '.')
	if i < 0 || strings.IndexByte(o.Value[i+1:], '.') < 0 {
		return Observable{}, false
	}
	return Observable{Kind: KindDomain, Value: o.Value[i+1:]}, true
}

// Host returns the observable of a URL's host: a domain-name or an address.
// Indexing it beside the URL lets a sighting of the domain find a report of
// the URL.
func (o Observable) Host() (Observable, bool) {
	if o.Kind != KindURL {
		return Observable{}, false
	}
	u, err := url.Parse(o.Value)
	if err != nil || u.Host == "" {
		return Observable{}, false
	}
	h := u.Hostname()
	if a, err := netip.ParseAddr(h); err == nil {
		if a.Zone() != "" {
			return Observable{}, false
		}
		return ipObservable(netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen())), true
	}
	d, reason := canonDomain(h)
	if reason != "" {
		return Observable{}, false
	}
	return Observable{Kind: KindDomain, Value: d}, true
}

// ErrUnsupported marks a value of a kind the index does not handle (a
// custom hash algorithm, say): the value is not wrong, only not
// correlated. Callers may log such errors and carry on.
var ErrUnsupported = errors.New("unsupported")

// ValueError reports a value that cannot be an observable of its kind: the
// kind, the value (cut to 120 bytes) and the rule it breaks with what to do.
// It unwraps to tearline.ErrInvalid, or to ErrUnsupported for a kind or
// algorithm the package does not handle.
type ValueError struct {
	Kind   Kind
	Value  string
	Reason string
	err    error
}

func (e *ValueError) Error() string {
	return fmt.Sprintf("%s %q: %s", e.Kind, e.Value, e.Reason)
}

// Unwrap lets callers test for tearline.ErrInvalid or ErrUnsupported.
func (e *ValueError) Unwrap() error { return e.err }

// maxShown bounds how much of an outside value an error message repeats.
const maxShown = 120

// shown cuts s for an error message.
func shown(s string) string {
	if len(s) > maxShown {
		return s[:maxShown] + "..."
	}
	return s
}

func invalidValue(k Kind, v, format string, args ...any) *ValueError {
	reason := fmt.Sprintf(format, args...)
	if len(reason) > 4*maxShown {
		// Every piece of input in a reason is cut already; this only
		// guards against a reason that quotes more than expected.
		reason = reason[:4*maxShown] + "..."
	}
	return &ValueError{Kind: k, Value: shown(v), Reason: reason, err: tearline.ErrInvalid}
}

// Length limits. They bound the memory one value can take in the index;
// real values stay far below them.
const (
	maxURLLen    = 8192
	maxNameLen   = 1024 // file names, mutexes, registry keys, email addresses
	maxDomainLen = 253  // RFC 1035 presentation form without the trailing dot
)

// Normalise returns the canonical observable of kind k for value (see
// Observable for the forms), or a *ValueError saying what is wrong. It never
// panics, whatever the input, and Normalise of a canonical value returns it
// unchanged.
//
// Spaces around the value are removed for every kind but file-name and
// mutex, where they may be part of the name.
//
// Domain names must be ASCII: this node does not carry an IDNA library, so
// an internationalised name (bücher.example) is refused with a request to
// send its xn-- form rather than being guessed at; xn-- labels are accepted
// as they are. Labels hold letters, digits, hyphens and underscores (the
// last for service names such as _dmarc), 1 to 63 of them; a name whose
// last label is all digits is refused as a misplaced IPv4 address.
//
// A value given as ipv6-addr that is an IPv4-mapped address becomes an
// ipv4-addr observable; any other mismatch between the kind and the
// address family is an error.
func Normalise(k Kind, value string) (Observable, error) {
	switch k {
	case KindIPv4, KindIPv6:
		p, err := parseIP(k, value)
		if err != nil {
			return Observable{}, err
		}
		return ipObservable(p), nil
	case KindDomain:
		d, reason := canonDomain(trimSpace(value))
		if reason != "" {
			return Observable{}, invalidValue(k, value, "%s", reason)
		}
		return Observable{Kind: k, Value: d}, nil
	case KindURL:
		return normaliseURL(value)
	case KindEmail:
		return normaliseEmail(value)
	case KindFileName, KindMutex:
		if reason := checkName(value); reason != "" {
			return Observable{}, invalidValue(k, value, "%s", reason)
		}
		return Observable{Kind: k, Value: value}, nil
	case KindMD5, KindSHA1, KindSHA256, KindSHA512, KindSHA3_256, KindSHA3_512:
		return normaliseHex(k, value)
	case KindSSDEEP:
		return normaliseSSDEEP(value)
	case KindTLSH:
		return normaliseTLSH(value)
	case KindMAC:
		return normaliseMAC(value)
	case KindASN:
		return normaliseASN(value)
	case KindRegistryKey:
		return normaliseRegistryKey(value)
	}
	return Observable{}, &ValueError{Kind: k, Value: "", Reason: "not an observable kind this node indexes", err: ErrUnsupported}
}

// NormaliseHash is Normalise for a hash named by its STIX algorithm name
// (see HashKind).
func NormaliseHash(algorithm, value string) (Observable, error) {
	k, ok := HashKind(algorithm)
	if !ok {
		return Observable{}, unsupportedHash(algorithm, value)
	}
	return Normalise(k, value)
}

func unsupportedHash(algorithm, value string) *ValueError {
	return &ValueError{Value: shown(value), err: ErrUnsupported, Reason: fmt.Sprintf(
		"hash algorithm %q is not one this node correlates (MD5, SHA-1, SHA-256, SHA-512, SHA3-256, SHA3-512, SSDEEP, TLSH)", shown(algorithm))}
}

func trimSpace(s string) string {
	for len(s) > 0 && isSpace(s[0]) {
		s = s[1:]
	}
	for len(s) > 0 && isSpace(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	return s
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// parseIP reads an address or prefix of kind k into its canonical prefix,
// without building its text, so that lookups do not allocate.
func parseIP(k Kind, value string) (netip.Prefix, error) {
	s := trimSpace(value)
	example, examplePrefix := "192.0.2.1", "192.0.2.0/24"
	if k == KindIPv6 {
		example, examplePrefix = "2001:db8::1", "2001:db8::/32"
	}
	var p netip.Prefix
	if strings.IndexByte(s, '/') >= 0 {
		q, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, invalidValue(k, value, "not a CIDR prefix (%v); write it as %s", trimNetipError(err), examplePrefix)
		}
		p = q
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return netip.Prefix{}, invalidValue(k, value, "not an IP address (%v); write it as %s", trimNetipError(err), example)
		}
		if a.Zone() != "" {
			return netip.Prefix{}, invalidValue(k, value, "an address with a zone (%%%s) is local to one host; drop the zone", shown(a.Zone()))
		}
		p = netip.PrefixFrom(a, a.BitLen())
	}
	a, bits := p.Addr(), p.Bits()
	if a.Is4In6() && bits >= 96 {
		p = netip.PrefixFrom(a.Unmap(), bits-96)
		// A mapped address is reported either way; it means its IPv4 address.
	} else if a.Is4() && k == KindIPv6 {
		return netip.Prefix{}, invalidValue(k, value, "is an IPv4 address; report it as ipv4-addr")
	} else if a.Is6() && k == KindIPv4 {
		return netip.Prefix{}, invalidValue(k, value, "is an IPv6 address; report it as ipv6-addr")
	}
	return p.Masked(), nil
}

// trimNetipError keeps net/netip's reason without the input it repeats
// (the ValueError shows the input once, cut to length).
func trimNetipError(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, "): "); i >= 0 {
		msg = msg[i+3:]
	}
	if i := strings.Index(msg, " (at "); i >= 0 {
		msg = msg[:i]
	}
	return shown(msg)
}

func ipObservable(p netip.Prefix) Observable {
	k := KindIPv6
	if p.Addr().Is4() {
		k = KindIPv4
	}
	return Observable{Kind: k, Value: p.String()}
}

// canonDomain returns the canonical form of a domain name, or the reason it
// is not one. It returns s itself when s is already canonical.
func canonDomain(s string) (string, string) {
	if s == "" {
		return "", "empty domain name"
	}
	if len(s) > 1 && s[len(s)-1] == '.' {
		s = s[:len(s)-1]
	}
	if len(s) > maxDomainLen {
		return "", fmt.Sprintf("longer than %d characters", maxDomainLen)
	}
	upper := false
	labelStart := 0
	allDigits := true
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == '.' {
			n := i - labelStart
			if n == 0 {
				return "", "has an empty label; labels are separated by single dots"
			}
			if n > 63 {
				return "", fmt.Sprintf("label %q is longer than 63 characters", s[labelStart:i])
			}
			if i == len(s) && allDigits {
				return "", "ends in an all-digit label, so it is not a domain name; report an IPv4 address as ipv4-addr"
			}
			labelStart = i + 1
			allDigits = true
			continue
		}
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c == '-', c == '_':
			allDigits = false
		case c >= '0' && c <= '9':
		case c >= 'A' && c <= 'Z':
			upper = true
			allDigits = false
		case c >= 0x80:
			return "", "holds non-ASCII characters; send the name in its ASCII (xn--) form, as this node does not convert internationalised names"
		case c == '*':
			return "", "holds a wildcard; report the parent domain, which matches every name under it"
		default:
			return "", fmt.Sprintf("holds %q; a domain name holds letters, digits, hyphens, underscores and dots", rune(c))
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, ""
}

func normaliseEmail(value string) (Observable, error) {
	s := trimSpace(value)
	if len(s) > maxNameLen {
		return Observable{}, invalidValue(KindEmail, value, "longer than %d bytes", maxNameLen)
	}
	at := strings.LastIndexByte(s, '@')
	if at < 0 {
		return Observable{}, invalidValue(KindEmail, value, "has no @; an email address is local-part@domain")
	}
	local, domain := s[:at], s[at+1:]
	if local == "" {
		return Observable{}, invalidValue(KindEmail, value, "has an empty local part before the @")
	}
	if len(local) > 64 {
		return Observable{}, invalidValue(KindEmail, value, "local part is longer than 64 bytes")
	}
	if !utf8.ValidString(local) {
		return Observable{}, invalidValue(KindEmail, value, "local part is not valid UTF-8")
	}
	for _, r := range local {
		if r <= ' ' || r == 0x7f || r == '<' || r == '>' {
			return Observable{}, invalidValue(KindEmail, value, "local part holds %q; send the bare address, without a display name or spaces", r)
		}
	}
	if strings.HasPrefix(domain, "[") && strings.HasSuffix(domain, "]") {
		lit := domain[1 : len(domain)-1]
		v6 := false
		if len(lit) > 5 && strings.EqualFold(lit[:5], "ipv6:") {
			lit, v6 = lit[5:], true
		}
		a, err := netip.ParseAddr(lit)
		if err != nil || a.Zone() != "" || a.Is4() == v6 {
			return Observable{}, invalidValue(KindEmail, value, "address literal %s is not [192.0.2.1] or [IPv6:2001:db8::1]", shown(domain))
		}
		if v6 {
			return Observable{Kind: KindEmail, Value: local + "@[IPv6:" + a.String() + "]"}, nil
		}
		return Observable{Kind: KindEmail, Value: local + "@[" + a.String() + "]"}, nil
	}
	d, reason := canonDomain(domain)
	if reason != "" {
		return Observable{}, invalidValue(KindEmail, value, "domain: %s", reason)
	}
	if d == domain && len(s) == len(value) {
		return Observable{Kind: KindEmail, Value: value}, nil
	}
	return Observable{Kind: KindEmail, Value: local + "@" + d}, nil
}

// checkName is the rule for names kept byte for byte: not empty, valid
// UTF-8, no control characters, bounded.
func checkName(s string) string {
	if s == "" {
		return "empty name"
	}
	if len(s) > maxNameLen {
		return fmt.Sprintf("longer than %d bytes", maxNameLen)
	}
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	for _, r := range s {
		if r < ' ' || r == 0x7f {
			return fmt.Sprintf("holds the control character %U", r)
		}
	}
	return ""
}

var hexLen = map[Kind]int{
	KindMD5: 32, KindSHA1: 40, KindSHA256: 64, KindSHA512: 128, KindSHA3_256: 64, KindSHA3_512: 128,
}

func normaliseHex(k Kind, value string) (Observable, error) {
	s := trimSpace(value)
	want := hexLen[k]
	if len(s) != want {
		return Observable{}, invalidValue(k, value, "a %s hash is %d hexadecimal digits, not %d", k, want, len(s))
	}
	s, ok := lowerHex(s)
	if !ok {
		return Observable{}, invalidValue(k, value, "holds a character that is not a hexadecimal digit")
	}
	return Observable{Kind: k, Value: s}, nil
}

// lowerHex returns s in lower case if it is all hexadecimal digits; s itself
// when it already is.
func lowerHex(s string) (string, bool) {
	upper := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			upper = true
		default:
			return "", false
		}
	}
	if upper {
		s = strings.ToLower(s)
	}
	return s, true
}

// normaliseSSDEEP checks blocksize:hash:hash, the form ssdeep prints. The
// hashes are base64 and so keep their case.
func normaliseSSDEEP(value string) (Observable, error) {
	s := trimSpace(value)
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return Observable{}, invalidValue(KindSSDEEP, value, "an SSDEEP hash is blocksize:hash:hash, without a file name")
	}
	bs := parts[0]
	if bs == "" || len(bs) > 10 || bs[0] == '0' || !allDigits(bs) {
		return Observable{}, invalidValue(KindSSDEEP, value, "block size %q is not a positive decimal number", shown(bs))
	}
	for _, h := range parts[1:] {
		if len(h) > 64 {
			return Observable{}, invalidValue(KindSSDEEP, value, "a hash part is longer than 64 characters")
		}
		for i := 0; i < len(h); i++ {
			c := h[i]
			if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
				return Observable{}, invalidValue(KindSSDEEP, value, "hash part holds %q; SSDEEP hashes are base64", rune(c))
			}
		}
	}
	return Observable{Kind: KindSSDEEP, Value: s}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// normaliseTLSH accepts the 70 (or, for the 256-bucket variant, 134)
// hexadecimal digits of a TLSH digest with or without the "T1" version
// prefix that newer tools print, and keeps the digits alone so that both
// spellings of one digest match.
func normaliseTLSH(value string) (Observable, error) {
	s := trimSpace(value)
	if len(s) >= 2 && (s[0] == 'T' || s[0] == 't') && s[1] == '1' && (len(s) == 72 || len(s) == 136) {
		s = s[2:]
	}
	if len(s) != 70 && len(s) != 134 {
		return Observable{}, invalidValue(KindTLSH, value, "a TLSH digest is 70 or 134 hexadecimal digits, optionally after T1")
	}
	s, ok := lowerHex(s)
	if !ok {
		return Observable{}, invalidValue(KindTLSH, value, "holds a character that is not a hexadecimal digit")
	}
	return Observable{Kind: KindTLSH, Value: s}, nil
}

func normaliseMAC(value string) (Observable, error) {
	s := trimSpace(value)
	hw, err := net.ParseMAC(s)
	if err != nil || (len(hw) != 6 && len(hw) != 8) {
		return Observable{}, invalidValue(KindMAC, value, "not a MAC-48 or EUI-64 address; write it as 00:00:5e:00:53:01")
	}
	return Observable{Kind: KindMAC, Value: hw.String()}, nil
}

func normaliseASN(value string) (Observable, error) {
	s := trimSpace(value)
	if len(s) > 2 && (s[0] == 'A' || s[0] == 'a') && (s[1] == 'S' || s[1] == 's') {
		s = s[2:]
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil || !allDigits(s) {
		return Observable{}, invalidValue(KindASN, value, "not an autonomous system number from 0 to 4294967295")
	}
	return Observable{Kind: KindASN, Value: strconv.FormatUint(n, 10)}, nil
}

var hives = []struct{ short, long string }{
	{"HKLM", "HKEY_LOCAL_MACHINE"},
	{"HKCU", "HKEY_CURRENT_USER"},
	{"HKCR", "HKEY_CLASSES_ROOT"},
	{"HKU", "HKEY_USERS"},
	{"HKCC", "HKEY_CURRENT_CONFIG"},
}

func normaliseRegistryKey(value string) (Observable, error) {
	s := trimSpace(value)
	if reason := checkName(s); reason != "" {
		return Observable{}, invalidValue(KindRegistryKey, value, "%s", reason)
	}
	// A trailing separator names the same key; spaces before it are not
	// part of the name either.
	s = strings.TrimRight(strings.ToUpper(s), "\\ \t\r\n")
	for _, h := range hives {
		if s == h.short || strings.HasPrefix(s, h.short+`\`) {
			s = h.long + s[len(h.short):]
			break
		}
	}
	if reason := checkName(s); reason != "" {
		return Observable{}, invalidValue(KindRegistryKey, value, "%s", reason)
	}
	return Observable{Kind: KindRegistryKey, Value: s}, nil
}
