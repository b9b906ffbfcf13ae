package taxii

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"mime"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// Limits on filter values, so that a query stays a bounded store query.
const (
	maxFilterValues = 100
	maxFilterValue  = 300
)

// filter is a parsed TAXII 2.1 query (section 3.4). Within a field values
// are alternatives; fields combine with AND.
type filter struct {
	addedAfter   time.Time
	limit        int // 0: the server's page size
	ids          []string
	types        []string
	specVersions []string
	version      tearline.VersionFilter
	next         string
}

// params says which query parameters an endpoint accepts; others are
// ignored, as TAXII lets servers ignore filters they do not support.
type params struct {
	paging, id, typ, version, specVersion bool
}

var (
	listParams    = params{paging: true, id: true, typ: true, version: true, specVersion: true}
	objectParams  = params{paging: true, version: true, specVersion: true}
	versionParams = params{paging: true, specVersion: true}
	deleteParams  = params{version: true, specVersion: true}
)

// parseFilter reads the query parameters of rawQuery. Every malformed
// parameter is a 400 error naming the parameter.
func parseFilter(rawQuery string, allowed params) (filter, error) {
	var f filter
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return f, badRequest("the query string is not valid URL encoding")
	}
	single := func(name string) (string, bool, error) {
		vs, ok := q[name]
		if !ok {
			return "", false, nil
		}
		if len(vs) != 1 {
			return "", false, badRequest(fmt.Sprintf("%s must be given at most once", name))
		}
		return vs[0], true, nil
	}
	if allowed.paging {
		if v, ok, err := single("added_after"); err != nil {
			return f, err
		} else if ok {
			t, _, err := stix.ParseTimestamp(v)
			if err != nil {
				return f, badRequest("added_after must be a timestamp such as 2025-01-31T12:00:00.000000Z")
			}
			f.addedAfter = t
		}
		if v, ok, err := single("limit"); err != nil {
			return f, err
		} else if ok {
			n, err := strconv.Atoi(v)
			if err != nil || n <= 0 {
				return f, badRequest("limit must be a positive integer")
			}
			f.limit = n
		}
		if v, ok, err := single("next"); err != nil {
			return f, err
		} else if ok {
			if v == "" || len(v) > 200 {
				return f, errBadCursor
			}
			f.next = v
		}
	}
	list := func(name string) ([]string, error) {
		var out []string
		for _, v := range q[name] {
			for s := range strings.SplitSeq(v, ",") {
				if s == "" || len(s) > maxFilterValue {
					return nil, badRequest(fmt.Sprintf("%s has an empty or overlong value; separate values with single commas", name))
				}
				if !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
		if len(out) > maxFilterValues {
			return nil, badRequest(fmt.Sprintf("%s has more than %d values", name, maxFilterValues))
		}
		return out, nil
	}
	if allowed.id {
		if f.ids, err = list("match[id]"); err != nil {
			return f, err
		}
		for _, id := range f.ids {
			if !validID(id) {
				return f, badRequest("match[id] values must be STIX identifiers such as indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")
			}
		}
	}
	if allowed.typ {
		if f.types, err = list("match[type]"); err != nil {
			return f, err
		}
		for _, t := range f.types {
			if !validType(t) {
				return f, badRequest("match[type] values must be STIX type names such as indicator")
			}
		}
	}
	if allowed.specVersion {
		if f.specVersions, err = list("match[spec_version]"); err != nil {
			return f, err
		}
		for _, v := range f.specVersions {
			if v != "2.0" && v != "2.1" {
				return f, badRequest("match[spec_version] values must be 2.0 or 2.1")
			}
		}
	}
	if allowed.version {
		vs, err := list("match[version]")
		if err != nil {
			return f, err
		}
		for _, v := range vs {
			switch v {
			case "first":
				f.version.First = true
			case "last":
				f.version.Last = true
			case "all":
				f.version.All = true
			default:
				t, _, err := stix.ParseTimestamp(v)
				if err != nil {
					return f, badRequest("match[version] values must be first, last, all or a timestamp")
				}
				f.version.Exact = append(f.version.Exact, t)
			}
		}
	}
	return f, nil
}

func validType(t string) bool {
	if len(t) < 3 || len(t) > 250 {
		return false
	}
	for _, c := range []byte(t) {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return t[0] != '-' && t[len(t)-1] != '-'
}

func validID(id string) bool {
	typ, u, ok := strings.Cut(id, "--")
	if !ok || !validType(typ) || len(u) != 36 {
		return false
	}
	for i, c := range []byte(u) {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}

// errBadCursor is the one answer to every cursor that does not verify, so
// that a caller learns nothing from how it was wrong.
var errBadCursor = &Error{Status: 400, Title: "Bad request",
	Description: "next is not a cursor this server issued for this request's filters; restart paging without it"}

// cursorCodec makes and checks stateless paging cursors: the DateAdded of
// the last version the previous page covered, bound by HMAC-SHA256 to the
// endpoint, caller and filter it was issued for. Any replica with the same
// key accepts it, across restarts.
type cursorCodec struct{ key []byte }

const (
	cursorVersion = 1
	cursorMACLen  = 16
	cursorLen     = 1 + 8 + cursorMACLen
)

// scope binds a cursor to what it pages through: the endpoint, collection,
// object, caller and every filter field except limit, which may change
// between pages.
func cursorScope(endpoint, collection, object string, p Principal, f filter) []byte {
	var b strings.Builder
	field := func(name string, vals ...string) {
		b.WriteString(name)
		for _, v := range vals {
			b.WriteString("\x00")
			b.WriteString(v)
		}
		b.WriteString("\x01")
	}
	sorted := func(v []string) []string { s := slices.Clone(v); slices.Sort(s); return s }
	field("endpoint", endpoint)
	field("collection", collection)
	field("object", object)
	field("principal", strconv.Itoa(int(p.Kind)), p.ID)
	field("added_after", strconv.FormatInt(f.addedAfter.UnixNano(), 10))
	field("id", sorted(f.ids)...)
	field("type", sorted(f.types)...)
	field("spec_version", sorted(f.specVersions)...)
	var ex []string
	for _, t := range f.version.Exact {
		ex = append(ex, strconv.FormatInt(t.UnixNano(), 10))
	}
	field("version", strconv.FormatBool(f.version.First), strconv.FormatBool(f.version.Last), strconv.FormatBool(f.version.All))
	field("exact", sorted(ex)...)
	sum := sha256.Sum256([]byte(b.String()))
	return sum[:]
}

func (c cursorCodec) mac(payload, scope []byte) []byte {
	m := hmac.New(sha256.New, c.key)
	m.Write([]byte("tearline taxii cursor v1\x00"))
	m.Write(scope)
	m.Write(payload)
	return m.Sum(nil)[:cursorMACLen]
}

// encode returns the cursor for resuming after the version added at after.
func (c cursorCodec) encode(after time.Time, scope []byte) string {
	buf := make([]byte, 0, cursorLen)
	buf = append(buf, cursorVersion)
	buf = binary.BigEndian.AppendUint64(buf, uint64(after.UnixMicro()))
	buf = append(buf, c.mac(buf, scope)...)
	return base64.RawURLEncoding.EncodeToString(buf)
}

// decode checks s against scope and returns the position it holds.
func (c cursorCodec) decode(s string, scope []byte) (time.Time, error) {
	// The decoder skips newlines; the length check makes the encoding of a
	// cursor unique.
	if len(s) != base64.RawURLEncoding.EncodedLen(cursorLen) {
		return time.Time{}, errBadCursor
	}
	raw, err := base64.RawURLEncoding.Strict().DecodeString(s)
	if err != nil || len(raw) != cursorLen || raw[0] != cursorVersion {
		return time.Time{}, errBadCursor
	}
	if !hmac.Equal(raw[9:], c.mac(raw[:9], scope)) {
		return time.Time{}, errBadCursor
	}
	us := int64(binary.BigEndian.Uint64(raw[1:9]))
	if us <= 0 {
		return time.Time{}, errBadCursor
	}
	return time.UnixMicro(us).UTC(), nil
}

// acceptable reports whether the Accept header values allow the TAXII 2.1
// media type. A request without Accept is served (lenient towards clients
// that omit it); q=0 excludes a range.
func acceptable(values []string) bool {
	if len(values) == 0 {
		return true
	}
	for _, v := range values {
		for part := range strings.SplitSeq(v, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			mt, ps, err := mime.ParseMediaType(part)
			if err != nil {
				continue
			}
			if q, ok := ps["q"]; ok {
				if f, err := strconv.ParseFloat(q, 64); err != nil || f <= 0 {
					continue
				}
			}
			switch mt {
			case "*/*", "application/*":
				return true
			case "application/taxii+json":
				if ver, ok := ps["version"]; !ok || ver == "2.1" {
					return true
				}
			}
		}
	}
	return false
}

// taxiiContentType reports whether a Content-Type is the TAXII 2.1 type.
func taxiiContentType(v string) bool {
	mt, ps, err := mime.ParseMediaType(v)
	if err != nil || mt != "application/taxii+json" {
		return false
	}
	ver, ok := ps["version"]
	return !ok || ver == "2.1"
}

// timestamp formats a TAXII timestamp: microsecond precision, UTC, or
// nanoseconds when the value has them, so that it can be matched exactly.
func timestamp(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()%1000 != 0 {
		return t.Format("2006-01-02T15:04:05.000000000Z")
	}
	return t.Format("2006-01-02T15:04:05.000000Z")
}
