package analytics

import (
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// defaultPorts are dropped from URLs: http://example.com:80/ and
// http://example.com/ are the same resource.
var defaultPorts = map[string]string{
	"http": "80", "https": "443", "ws": "80", "wss": "443", "ftp": "21",
}

// normaliseURL applies RFC 3986 section 6.2.2 syntax-based normalisation
// and the scheme-based rules of section 6.2.3 that hold for every common
// scheme (default port, empty path as "/"). The fragment is dropped: it
// never reaches a server, so two URLs that differ only there name the same
// request. The query is kept in its order, which servers may depend on.
func normaliseURL(value string) (Observable, error) {
	if isCanonicalURL(value) {
		return Observable{Kind: KindURL, Value: value}, nil
	}
	return normaliseURLSlow(value)
}

// isCanonicalURL recognises, without allocating, the common URL that
// normaliseURLSlow would return unchanged: lower-case scheme and host (a
// domain or IPv4 address), a port only when not the default, a non-empty
// path and optional query free of percent-escapes, dot segments, userinfo
// and fragment. Anything else takes the slow path; FuzzNormalise checks
// that the two agree.
func isCanonicalURL(s string) bool {
	if len(s) > maxURLLen {
		return false
	}
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || i > 0 && (s[i] >= '0' && s[i] <= '9' || s[i] == '+' || s[i] == '-' || s[i] == '.')) {
		i++
	}
	if i == 0 || len(s)-i < 3 || s[i:i+3] != "://" {
		return false
	}
	scheme := s[:i]
	s = s[i+3:]
	end := strings.IndexAny(s, "/?#")
	if end < 0 || s[end] != '/' {
		return false // no path: the slow path adds "/"
	}
	host, port := s[:end], ""
	if c := strings.LastIndexByte(host, ':'); c >= 0 {
		host, port = host[:c], host[c+1:]
		if port == "" || len(port) > 5 || port[0] == '0' && port != "0" || !allDigits(port) {
			return false
		}
		if n, _ := strconv.Atoi(port); n > 65535 || port == defaultPorts[scheme] {
			return false
		}
	}
	// A host ending in a digit can only be an IPv4 address (canonDomain
	// refuses an all-digit last label); trying others as addresses would
	// allocate an error for nothing.
	if host != "" && host[len(host)-1] >= '0' && host[len(host)-1] <= '9' {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is4() || a.String() != host {
			return false
		}
	} else if d, reason := canonDomain(host); reason != "" || d != host {
		return false
	}
	rest := s[end:]
	path, query, hasQuery := strings.Cut(rest, "?")
	if hasQuery && query == "" {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if c := rest[i]; c == '%' || c == '#' || !isKept(c) {
			return false
		}
	}
	// Dot segments: "." or ".." between slashes or at the end.
	for path != "" {
		path = path[1:]
		seg := path
		if j := strings.IndexByte(path, '/'); j >= 0 {
			seg, path = path[:j], path[j:]
		} else {
			path = ""
		}
		if seg == "." || seg == ".." {
			return false
		}
	}
	return true
}

func normaliseURLSlow(value string) (Observable, error) {
	s := trimSpace(value)
	if len(s) > maxURLLen {
		return Observable{}, invalidValue(KindURL, value, "longer than %d bytes", maxURLLen)
	}
	if !utf8.ValidString(s) {
		return Observable{}, invalidValue(KindURL, value, "not valid UTF-8")
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c == 0x7f {
			return Observable{}, invalidValue(KindURL, value, "holds a space or control character; percent-encode it (%%20)")
		}
	}
	u, err := url.Parse(s)
	if err != nil {
		return Observable{}, invalidValue(KindURL, value, "not a URL (%v)", trimURLError(err))
	}
	if u.Scheme == "" {
		return Observable{}, invalidValue(KindURL, value, "has no scheme; write an absolute URL such as http://example.com/path")
	}
	if u.Opaque != "" || u.Host == "" {
		return Observable{}, invalidValue(KindURL, value, "has no host; write an absolute URL such as http://example.com/path")
	}
	scheme := strings.ToLower(u.Scheme)

	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(scheme)
	b.WriteString("://")
	if u.User != nil {
		b.WriteString(u.User.String())
		b.WriteByte('@')
	}
	host := u.Hostname()
	if strings.HasPrefix(u.Host, "[") {
		a, err := netip.ParseAddr(host)
		if err != nil || !a.Is6() {
			return Observable{}, invalidValue(KindURL, value, "host %s is not an IPv6 address in brackets", shown(u.Host))
		}
		if a.Zone() != "" {
			return Observable{}, invalidValue(KindURL, value, "host %s has a zone, which is local to one host; drop it", shown(u.Host))
		}
		if a.Is4In6() {
			b.WriteString(a.Unmap().String())
		} else {
			b.WriteByte('[')
			b.WriteString(a.String())
			b.WriteByte(']')
		}
	} else if a, err := netip.ParseAddr(host); err == nil && a.Is4() {
		b.WriteString(a.String())
	} else {
		d, reason := canonDomain(host)
		if reason != "" {
			return Observable{}, invalidValue(KindURL, value, "host: %s", reason)
		}
		b.WriteString(d)
	}
	if port := u.Port(); port != "" {
		n, err := strconv.ParseUint(port, 10, 16)
		if err != nil {
			return Observable{}, invalidValue(KindURL, value, "port %s is not a number from 0 to 65535", shown(port))
		}
		if p := strconv.FormatUint(n, 10); p != defaultPorts[scheme] {
			b.WriteByte(':')
			b.WriteString(p)
		}
	}
	path := removeDotSegments(normalisePercent(u.EscapedPath()))
	if path == "" {
		path = "/"
	}
	b.WriteString(path)
	if u.RawQuery != "" {
		b.WriteByte('?')
		b.WriteString(normalisePercent(u.RawQuery))
	}
	if b.Len() > maxURLLen {
		return Observable{}, invalidValue(KindURL, value, "longer than %d bytes once normalised", maxURLLen)
	}
	return Observable{Kind: KindURL, Value: b.String()}, nil
}

// trimURLError keeps net/url's reason, without the URL it repeats and cut
// to length: the reason may quote a piece of the input.
func trimURLError(err error) string {
	if ue, ok := err.(*url.Error); ok {
		err = ue.Err
	}
	return shown(err.Error())
}

// urlChars classifies the bytes of a path or query: unreserved characters
// (RFC 3986 section 2.3) and the delimiters other than '#', which may
// stand unencoded.
var urlChars = func() (t [256]uint8) {
	for c := range 256 {
		b := byte(c)
		if b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || strings.IndexByte("-._~", b) >= 0 {
			t[c] = unreserved | kept
		} else if strings.IndexByte(":/?[]@!$&'()*+,;=", b) >= 0 {
			t[c] = kept
		}
	}
	return t
}()

const (
	unreserved = 1 << iota
	kept
)

func isUnreserved(c byte) bool { return urlChars[c]&unreserved != 0 }

// isKept reports whether c may stand unencoded in a path or query.
func isKept(c byte) bool { return urlChars[c]&kept != 0 }

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

const upperHex = "0123456789ABCDEF"

// normalisePercent decodes percent-encoded unreserved characters, writes
// the remaining escapes in upper case, and encodes any byte that may not
// stand raw (a lone '%' included), so that one resource has one spelling.
func normalisePercent(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '%' && i+2 < len(s) {
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if ok1 && ok2 {
				d := hi<<4 | lo
				if isUnreserved(d) {
					b.WriteByte(d)
				} else {
					b.WriteByte('%')
					b.WriteByte(upperHex[d>>4])
					b.WriteByte(upperHex[d&15])
				}
				i += 2
				continue
			}
		}
		if c != '%' && isKept(c) {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(upperHex[c>>4])
		b.WriteByte(upperHex[c&15])
	}
	return b.String()
}

// removeDotSegments is the algorithm of RFC 3986 section 5.2.4.
func removeDotSegments(in string) string {
	if !strings.Contains(in, ".") {
		return in
	}
	var out []string // segments written, each with its leading "/" if any
	for in != "" {
		switch {
		case strings.HasPrefix(in, "../"):
			in = in[3:]
		case strings.HasPrefix(in, "./"):
			in = in[2:]
		case strings.HasPrefix(in, "/./"):
			in = in[2:]
		case in == "/.":
			in = "/"
		case strings.HasPrefix(in, "/../"):
			in = in[3:]
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "/..":
			in = "/"
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		case in == "." || in == "..":
			in = ""
		default:
			j := strings.IndexByte(in[1:], '/')
			if j < 0 {
				out = append(out, in)
				in = ""
			} else {
				out = append(out, in[:j+1])
				in = in[j+1:]
			}
		}
	}
	return strings.Join(out, "")
}
