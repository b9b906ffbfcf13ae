package analytics

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"strings"
)

// MaxLineLength is the longest line ExtractLines reads, in bytes: a log
// line or an IOC list entry is far shorter, and the bound keeps a file
// without line breaks from being read into memory whole.
const MaxLineLength = 1 << 20

// maxToken bounds one token of free text; longer runs of characters are
// not read as values (a URL is the longest value and is capped at 8 KiB).
const maxToken = maxURLLen

// ExtractText returns the observables named in one line of free text: a
// log line, a sentence of a report, or an IOC list entry holding one
// value. It reads, wherever they appear:
//
//   - URLs (anything with a scheme and "://"), with their host;
//   - email addresses, with their domain;
//   - IPv4 and IPv6 addresses and CIDR prefixes, with or without a port
//     (192.0.2.1:443, [2001:db8::1]:443);
//   - domain names: dotted names whose last label is 2 to 63 letters (a
//     leading "*." is dropped);
//   - MD5, SHA-1, SHA-256 and SHA-512 hashes: runs of 32, 40, 64 or 128
//     hexadecimal digits. A SHA3 hash cannot be told from a SHA-2 hash of
//     the same length in free text; it is read as the SHA-2 one.
//
// Defanged values, as analysts write them in IOC lists, are read as the
// values they stand for: hxxp:// and hxxps://, [.] (.) {.} [dot] (dot),
// [:], [@] [at] (at) and [://].
//
// Tokens are separated by spaces and by the characters " ' ` < > ( ) { }
// | \ ^ , ; and, outside URLs, = ; a key=value pair (src=192.0.2.1) gives
// its value. Every value returned is canonical (see Normalise), in the
// order first found, without duplicates. A token that looks like a value
// but is not one (999.1.1.1, a label of 64 letters) is not returned:
// free text is not a list of claims, and the rest of the line is still
// read. ExtractText never panics, whatever the input.
func ExtractText(line string) []Observable {
	line = refang(line)
	x := extraction{seen: make(map[Observable]bool)}
	for len(line) > 0 {
		i := strings.IndexFunc(line, isTokenSeparator)
		tok := line
		if i >= 0 {
			tok, line = line[:i], line[i+1:]
		} else {
			line = ""
		}
		if tok == "" || len(tok) > maxToken {
			continue
		}
		x.token(tok)
	}
	return x.out
}

// extraction collects the values of one line, each once: a set, because
// a line may hold many thousands.
type extraction struct {
	out  []Observable
	seen map[Observable]bool
}

// add appends o, and a URL's host, unless already present.
func (x *extraction) add(o Observable) {
	if !x.seen[o] {
		x.seen[o] = true
		x.out = append(x.out, o)
	}
	if h, ok := o.Host(); ok && !x.seen[h] {
		x.seen[h] = true
		x.out = append(x.out, h)
	}
}

func isTokenSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '\r', '\n', '\v', '\f', '"', '\'', '`', '<', '>', '(', ')', '{', '}', '|', '\\', '^', ',', ';':
		return true
	}
	return false
}

// defangs are the usual ways analysts disarm values in reports, and what
// they stand for. Bracketed forms are matched without regard to case.
var defangs = []struct{ from, to string }{
	{"[://]", "://"}, {"[.]", "."}, {"(.)", "."}, {"{.}", "."}, {"[dot]", "."}, {"(dot)", "."},
	{"[:]", ":"}, {"[@]", "@"}, {"[at]", "@"}, {"(at)", "@"},
}

// refang undoes defanging. It only ever shortens the text or keeps its
// length, so its cost is linear in the input.
func refang(s string) string {
	if !strings.ContainsAny(s, "[({") && !containsFold(s, "hxxp") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if s[i] == '[' || s[i] == '(' || s[i] == '{' {
			matched := false
			for _, d := range defangs {
				if len(s)-i >= len(d.from) && strings.EqualFold(s[i:i+len(d.from)], d.from) {
					b.WriteString(d.to)
					i += len(d.from)
					matched = true
					break
				}
			}
			if matched {
				continue
			}
		}
		if (s[i] == 'h' || s[i] == 'H') && len(s)-i >= 4 && strings.EqualFold(s[i:i+4], "hxxp") {
			b.WriteString("http")
			i += 4
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func containsFold(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if strings.EqualFold(s[i:i+len(sub)], sub) {
			return true
		}
	}
	return false
}

// trimPunct drops what surrounds a value in prose: sentence punctuation
// after it, brackets around it.
func trimPunct(s string) string {
	for len(s) > 0 && strings.IndexByte(".,;:!?]", s[len(s)-1]) >= 0 {
		if s[len(s)-1] == ']' && strings.IndexByte(s, '[') >= 0 {
			break // [2001:db8::1] keeps its brackets until the port is read
		}
		s = s[:len(s)-1]
	}
	if strings.IndexByte(s, ']') < 0 {
		s = strings.TrimLeft(s, "[")
	}
	return s
}

func (x *extraction) token(tok string) {
	if i := strings.Index(tok, "://"); i > 0 {
		start := i
		for start > 0 && isSchemeChar(tok[start-1]) {
			start--
		}
		if start < i {
			u := trimPunct(tok[start:])
			if o, err := Normalise(KindURL, u); err == nil {
				x.add(o)
			}
		}
		return
	}
	for _, piece := range strings.Split(tok, "=") {
		piece = trimPunct(piece)
		if piece == "" {
			continue
		}
		if at := strings.LastIndexByte(piece, '@'); at > 0 {
			addr := piece
			if k := strings.LastIndexByte(addr[:at], ':'); k >= 0 {
				addr = addr[k+1:] // mailto:x@y, from:x@y
			}
			if o, err := Normalise(KindEmail, addr); err == nil {
				x.add(o)
				if d, ok := emailDomain(o); ok {
					x.add(d)
				}
			}
			continue
		}
		if o, ok := readTextValue(piece); ok {
			x.add(o)
			continue
		}
		// A key and a colon before the value, as in src:192.0.2.1.
		if i := strings.IndexByte(piece, ':'); i > 0 && allLetters(piece[:i]) {
			if o, ok := readTextValue(trimPunct(piece[i+1:])); ok {
				x.add(o)
			}
		}
	}
}

// readTextValue reads a hash, an address or a domain name.
func readTextValue(s string) (Observable, bool) {
	if o, ok := readHash(s); ok {
		return o, true
	}
	if o, ok := readAddress(s); ok {
		return o, true
	}
	return readDomain(s)
}

func allLetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return s != ""
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// emailDomain returns the domain of a canonical email address, when it is
// a name rather than an address literal.
func emailDomain(o Observable) (Observable, bool) {
	at := strings.LastIndexByte(o.Value, '@')
	if at < 0 || strings.HasPrefix(o.Value[at+1:], "[") {
		return Observable{}, false
	}
	d, err := Normalise(KindDomain, o.Value[at+1:])
	return d, err == nil
}

func readHash(s string) (Observable, bool) {
	var k Kind
	switch len(s) {
	case 32:
		k = KindMD5
	case 40:
		k = KindSHA1
	case 64:
		k = KindSHA256
	case 128:
		k = KindSHA512
	default:
		return Observable{}, false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return Observable{}, false
		}
	}
	o, err := Normalise(k, s)
	return o, err == nil
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// readAddress reads an address or prefix, with or without a port.
func readAddress(s string) (Observable, bool) {
	if !strings.ContainsAny(s, ".:") {
		return Observable{}, false
	}
	if p, err := netip.ParsePrefix(s); err == nil {
		o, err := Normalise(familyKind(p.Addr()), s)
		return o, err == nil
	}
	if a, err := netip.ParseAddr(s); err == nil {
		o, err := Normalise(familyKind(a), a.String())
		return o, err == nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr()
		o, err := Normalise(familyKind(a), a.String())
		return o, err == nil
	}
	if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
		if a, err := netip.ParseAddr(s[1 : len(s)-1]); err == nil {
			o, err := Normalise(familyKind(a), a.String())
			return o, err == nil
		}
	}
	return Observable{}, false
}

// readDomain reads a domain name, with or without a port. The last label
// must be letters, so that version numbers (1.2.3) and file sizes (4.5)
// are not read as names.
func readDomain(s string) (Observable, bool) {
	if h, port, ok := strings.Cut(s, ":"); ok {
		if port == "" || !allDigits(port) {
			return Observable{}, false
		}
		s = h
	}
	s = strings.TrimPrefix(s, "*.")
	dot := strings.LastIndexByte(s, '.')
	if dot <= 0 {
		return Observable{}, false
	}
	tld := s[dot+1:]
	if len(tld) < 2 || len(tld) > 63 {
		return Observable{}, false
	}
	for i := 0; i < len(tld); i++ {
		c := tld[i] | 0x20
		if c < 'a' || c > 'z' {
			return Observable{}, false
		}
	}
	o, err := Normalise(KindDomain, s)
	return o, err == nil
}

// ErrLineTooLong is returned by ExtractLines for a line over MaxLineLength.
var ErrLineTooLong = errors.New("line too long")

// ExtractLines reads r line by line and calls fn with each line's number
// (from 1) and the observables ExtractText finds in it, for lines that
// name at least one. It stops at the first error fn returns, and fails on
// a line longer than MaxLineLength with an error naming the line.
func ExtractLines(r io.Reader, fn func(line int, obs []Observable) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), MaxLineLength)
	n := 0
	for sc.Scan() {
		n++
		obs := ExtractText(sc.Text())
		if len(obs) == 0 {
			continue
		}
		if err := fn(n, obs); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d is longer than %d bytes; split the file into lines of one value or one log entry each: %w", n+1, MaxLineLength, ErrLineTooLong)
		}
		return fmt.Errorf("after line %d: %w", n, err)
	}
	return nil
}
