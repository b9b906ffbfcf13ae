package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tearline/tearline/stix"
)

// Discovery is the discovery resource (section 4.1.1).
type Discovery struct {
	Title       string
	Description string
	Contact     string
	// Default is the absolute URL of the default API root, if any.
	Default string
	// APIRoots are the absolute URLs of the advertised API roots.
	APIRoots []string
}

// APIRoot is the API root resource (section 4.2.1).
type APIRoot struct {
	// URL is the API root's URL, as requested.
	URL         string
	Title       string
	Description string
	// Versions are the media types of the TAXII versions it speaks.
	Versions []string
	// MaxContentLength bounds the body of a POST, in bytes.
	MaxContentLength int64
}

// SupportsTAXII21 reports whether the API root lists TAXII 2.1 among its
// versions.
func (r *APIRoot) SupportsTAXII21() bool {
	for _, v := range r.Versions {
		mt, ps, err := mime.ParseMediaType(v)
		if err == nil && mt == "application/taxii+json" && ps["version"] == "2.1" {
			return true
		}
	}
	return false
}

// Collection is a collection resource (section 5.2.1).
type Collection struct {
	ID          string
	Title       string
	Description string
	Alias       string
	CanRead     bool
	CanWrite    bool
	MediaTypes  []string
}

// Envelope is one page of objects (section 3.7) with the date headers of
// the response.
type Envelope struct {
	More bool
	// Next, if set, asks for the following page (Filter.Next).
	Next string
	// Objects are the STIX objects as the server sent them. They are
	// valid JSON values, not checked to be STIX: that is for the caller.
	Objects []json.RawMessage
	// DateAddedFirst and DateAddedLast are the X-TAXII-Date-Added-First
	// and -Last headers: when the server added the first and last object
	// of the page. Zero when the server did not send them.
	DateAddedFirst, DateAddedLast time.Time
}

// Manifest is one page of a collection's manifest (section 5.3.1).
type Manifest struct {
	More                          bool
	Next                          string
	Objects                       []ManifestRecord
	DateAddedFirst, DateAddedLast time.Time
}

// ManifestRecord describes one object version in a manifest.
type ManifestRecord struct {
	ID        string
	DateAdded time.Time
	Version   string
	MediaType string
}

// Versions is one page of an object's versions (section 5.8.1).
type Versions struct {
	More                          bool
	Next                          string
	Versions                      []string
	DateAddedFirst, DateAddedLast time.Time
}

// The values of Status.Status.
const (
	StatusComplete = "complete"
	StatusPending  = "pending"
)

// Status is the status resource of an AddObjects request (section 4.3.1).
type Status struct {
	ID string
	// Status is StatusComplete or StatusPending.
	Status           string
	RequestTimestamp time.Time
	TotalCount       int
	SuccessCount     int
	Successes        []StatusDetail
	FailureCount     int
	Failures         []StatusDetail
	PendingCount     int
	Pendings         []StatusDetail
}

// StatusDetail is the outcome for one object.
type StatusDetail struct {
	ID      string
	Version string
	Message string
}

// Filter selects and pages objects (section 3.4). Zero fields do not
// filter. Within a field values are alternatives; fields combine with AND.
type Filter struct {
	// AddedAfter keeps objects the server added strictly after it.
	AddedAfter time.Time
	// Limit asks for at most this many objects per page.
	Limit int
	// Next continues paging where a previous page with the same filter
	// ended (Envelope.Next).
	Next         string
	IDs          []string
	Types        []string
	SpecVersions []string
	// Versions are "first", "last", "all" or version timestamps.
	Versions []string
}

// query encodes f as a URL query, with its leading "?" when not empty.
func (f Filter) query() string {
	q := url.Values{}
	if !f.AddedAfter.IsZero() {
		q.Set("added_after", stix.FormatTimestamp(f.AddedAfter))
	}
	if f.Limit > 0 {
		q.Set("limit", strconv.Itoa(f.Limit))
	}
	if f.Next != "" {
		q.Set("next", f.Next)
	}
	for name, vals := range map[string][]string{"match[id]": f.IDs, "match[type]": f.Types,
		"match[spec_version]": f.SpecVersions, "match[version]": f.Versions} {
		if len(vals) > 0 {
			q.Set(name, strings.Join(vals, ","))
		}
	}
	if len(q) == 0 {
		return ""
	}
	return "?" + q.Encode()
}

// decodeObject unmarshals a JSON object into v; any other JSON value
// (null included, which json.Unmarshal would silently accept) is an error.
func decodeObject(body []byte, what string, v any) error {
	b := bytes.TrimLeft(body, " \t\r\n")
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("the body is not a JSON object (want a %s resource)", what)
	}
	if err := json.Unmarshal(b, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%s resource: property %s is a JSON %s; want %s", what, te.Field, te.Value, jsonKind(te.Type.String()))
		}
		return fmt.Errorf("%s resource: %w", what, err)
	}
	return nil
}

func jsonKind(goType string) string {
	switch {
	case strings.HasPrefix(goType, "[]"):
		return "a list"
	case goType == "string", goType == "*string":
		return "a string"
	case goType == "bool", goType == "*bool":
		return "a boolean"
	case strings.Contains(goType, "int"):
		return "an integer"
	}
	return "another type"
}

func missing(what, prop string) error {
	return fmt.Errorf("%s resource: the required property %s is missing", what, prop)
}

// absolute resolves an advertised API root against the discovery URL.
func absolute(base *url.URL, ref string) (string, error) {
	r, err := url.Parse(ref)
	if err != nil {
		return "", err
	}
	u := base.ResolveReference(r)
	if u.Scheme != "https" && u.Scheme != "http" || u.Hostname() == "" {
		return "", fmt.Errorf("%q is not an http(s) URL with a host", ref)
	}
	if u.User != nil {
		return "", fmt.Errorf("%q carries user information", ref)
	}
	s := rootURL(u)
	if _, err := url.Parse(s); err != nil {
		return "", fmt.Errorf("%q: %w", ref, err)
	}
	return s, nil
}

func parseDiscovery(body []byte, base *url.URL) (*Discovery, error) {
	var raw struct {
		Title       *string  `json:"title"`
		Description string   `json:"description"`
		Contact     string   `json:"contact"`
		Default     string   `json:"default"`
		APIRoots    []string `json:"api_roots"`
	}
	if err := decodeObject(body, "discovery", &raw); err != nil {
		return nil, err
	}
	if raw.Title == nil {
		return nil, missing("discovery", "title")
	}
	d := &Discovery{Title: *raw.Title, Description: raw.Description, Contact: raw.Contact}
	for i, r := range raw.APIRoots {
		u, err := absolute(base, r)
		if err != nil {
			return nil, fmt.Errorf("discovery resource: api_roots[%d]: %w", i, err)
		}
		d.APIRoots = append(d.APIRoots, u)
	}
	if raw.Default != "" {
		u, err := absolute(base, raw.Default)
		if err != nil {
			return nil, fmt.Errorf("discovery resource: default: %w", err)
		}
		d.Default = u
	}
	return d, nil
}

func parseAPIRoot(body []byte) (*APIRoot, error) {
	var raw struct {
		Title            *string  `json:"title"`
		Description      string   `json:"description"`
		Versions         []string `json:"versions"`
		MaxContentLength *int64   `json:"max_content_length"`
	}
	if err := decodeObject(body, "api-root", &raw); err != nil {
		return nil, err
	}
	switch {
	case raw.Title == nil:
		return nil, missing("api-root", "title")
	case raw.Versions == nil:
		return nil, missing("api-root", "versions")
	case raw.MaxContentLength == nil:
		return nil, missing("api-root", "max_content_length")
	case *raw.MaxContentLength <= 0:
		return nil, fmt.Errorf("api-root resource: max_content_length is %d; want a positive number of bytes", *raw.MaxContentLength)
	}
	return &APIRoot{Title: *raw.Title, Description: raw.Description, Versions: raw.Versions, MaxContentLength: *raw.MaxContentLength}, nil
}

type rawCollection struct {
	ID          *string  `json:"id"`
	Title       string   `json:"title"`
	Description string   `json:"description"`
	Alias       string   `json:"alias"`
	CanRead     *bool    `json:"can_read"`
	CanWrite    *bool    `json:"can_write"`
	MediaTypes  []string `json:"media_types"`
}

func (r *rawCollection) check(what string) (Collection, error) {
	switch {
	case r.ID == nil || *r.ID == "":
		return Collection{}, missing(what, "id")
	case r.CanRead == nil:
		return Collection{}, missing(what, "can_read")
	case r.CanWrite == nil:
		return Collection{}, missing(what, "can_write")
	case *r.ID == "." || *r.ID == "..":
		return Collection{}, fmt.Errorf("%s resource: id %q cannot name a collection", what, *r.ID)
	}
	return Collection{ID: *r.ID, Title: r.Title, Description: r.Description, Alias: r.Alias,
		CanRead: *r.CanRead, CanWrite: *r.CanWrite, MediaTypes: r.MediaTypes}, nil
}

func parseCollection(body []byte) (*Collection, error) {
	var raw rawCollection
	if err := decodeObject(body, "collection", &raw); err != nil {
		return nil, err
	}
	c, err := raw.check("collection")
	if err != nil {
		return nil, err
	}
	return &c, nil
}

func parseCollections(body []byte) ([]Collection, error) {
	var raw struct {
		Collections []rawCollection `json:"collections"`
	}
	if err := decodeObject(body, "collections", &raw); err != nil {
		return nil, err
	}
	out := make([]Collection, 0, len(raw.Collections))
	for i := range raw.Collections {
		c, err := raw.Collections[i].check(fmt.Sprintf("collections[%d]: collection", i))
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func parseManifest(body []byte) (*Manifest, error) {
	var raw struct {
		More    bool   `json:"more"`
		Next    string `json:"next"`
		Objects []struct {
			ID        *string `json:"id"`
			DateAdded *string `json:"date_added"`
			Version   *string `json:"version"`
			MediaType string  `json:"media_type"`
		} `json:"objects"`
	}
	if err := decodeObject(body, "manifest", &raw); err != nil {
		return nil, err
	}
	m := &Manifest{More: raw.More, Next: raw.Next}
	for i, o := range raw.Objects {
		what := fmt.Sprintf("manifest: objects[%d]", i)
		switch {
		case o.ID == nil:
			return nil, missing(what, "id")
		case o.DateAdded == nil:
			return nil, missing(what, "date_added")
		case o.Version == nil:
			return nil, missing(what, "version")
		}
		added, err := ParseTimestamp(*o.DateAdded)
		if err != nil {
			return nil, fmt.Errorf("%s: date_added: %w", what, err)
		}
		m.Objects = append(m.Objects, ManifestRecord{ID: *o.ID, DateAdded: added, Version: *o.Version, MediaType: o.MediaType})
	}
	return m, nil
}

func parseVersions(body []byte) (*Versions, error) {
	var raw struct {
		More     bool     `json:"more"`
		Next     string   `json:"next"`
		Versions []string `json:"versions"`
	}
	if err := decodeObject(body, "versions", &raw); err != nil {
		return nil, err
	}
	return &Versions{More: raw.More, Next: raw.Next, Versions: raw.Versions}, nil
}

func parseStatus(body []byte) (*Status, error) {
	type detail struct {
		ID      *string `json:"id"`
		Version *string `json:"version"`
		Message string  `json:"message"`
	}
	var raw struct {
		ID               *string  `json:"id"`
		Status           *string  `json:"status"`
		RequestTimestamp string   `json:"request_timestamp"`
		TotalCount       *int     `json:"total_count"`
		SuccessCount     *int     `json:"success_count"`
		Successes        []detail `json:"successes"`
		FailureCount     *int     `json:"failure_count"`
		Failures         []detail `json:"failures"`
		PendingCount     *int     `json:"pending_count"`
		Pendings         []detail `json:"pendings"`
	}
	if err := decodeObject(body, "status", &raw); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		v    *int
	}{{"total_count", raw.TotalCount}, {"success_count", raw.SuccessCount}, {"failure_count", raw.FailureCount}, {"pending_count", raw.PendingCount}} {
		if f.v == nil {
			return nil, missing("status", f.name)
		}
		if *f.v < 0 {
			return nil, fmt.Errorf("status resource: %s is %d; want a count", f.name, *f.v)
		}
	}
	switch {
	case raw.ID == nil || *raw.ID == "":
		return nil, missing("status", "id")
	case raw.Status == nil:
		return nil, missing("status", "status")
	case *raw.Status != StatusComplete && *raw.Status != StatusPending:
		return nil, fmt.Errorf("status resource: status is %q; want complete or pending", *raw.Status)
	case *raw.ID == "." || *raw.ID == "..":
		return nil, fmt.Errorf("status resource: id %q cannot name a status", *raw.ID)
	}
	s := &Status{ID: *raw.ID, Status: *raw.Status, TotalCount: *raw.TotalCount, SuccessCount: *raw.SuccessCount,
		FailureCount: *raw.FailureCount, PendingCount: *raw.PendingCount}
	if int64(s.SuccessCount)+int64(s.FailureCount)+int64(s.PendingCount) != int64(s.TotalCount) {
		return nil, fmt.Errorf("status resource: %d succeeded, %d failed and %d pending do not add up to the total of %d",
			s.SuccessCount, s.FailureCount, s.PendingCount, s.TotalCount)
	}
	if s.Status == StatusComplete && s.PendingCount > 0 {
		return nil, fmt.Errorf("status resource: complete with %d objects still pending", s.PendingCount)
	}
	if raw.RequestTimestamp != "" {
		t, err := ParseTimestamp(raw.RequestTimestamp)
		if err != nil {
			return nil, fmt.Errorf("status resource: request_timestamp: %w", err)
		}
		s.RequestTimestamp = t
	}
	for _, l := range []struct {
		name string
		in   []detail
		out  *[]StatusDetail
	}{{"successes", raw.Successes, &s.Successes}, {"failures", raw.Failures, &s.Failures}, {"pendings", raw.Pendings, &s.Pendings}} {
		for i, d := range l.in {
			if d.ID == nil {
				return nil, missing(fmt.Sprintf("status: %s[%d]", l.name, i), "id")
			}
			v := ""
			if d.Version != nil {
				v = *d.Version
			}
			*l.out = append(*l.out, StatusDetail{ID: *d.ID, Version: v, Message: d.Message})
		}
	}
	return s, nil
}

// ParseTimestamp reads a TAXII timestamp (RFC 3339 in UTC, as STIX
// writes them); other RFC 3339 offsets are accepted and converted to UTC.
func ParseTimestamp(s string) (time.Time, error) {
	if t, _, err := stix.ParseTimestamp(s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a timestamp such as 2026-01-31T12:00:00.000Z", s)
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return time.Time{}, fmt.Errorf("%q is out of range", s)
	}
	return t.UTC(), nil
}

// dateHeaders reads X-TAXII-Date-Added-First and -Last. A header that is
// present must be a timestamp: a position the client would resume from is
// never guessed.
func dateHeaders(h http.Header) (first, last time.Time, err error) {
	read := func(name string) (time.Time, error) {
		vs := h.Values(name)
		if len(vs) == 0 {
			return time.Time{}, nil
		}
		if len(vs) > 1 {
			return time.Time{}, fmt.Errorf("the %s header is given %d times", name, len(vs))
		}
		t, err := ParseTimestamp(strings.TrimSpace(vs[0]))
		if err != nil {
			return time.Time{}, fmt.Errorf("the %s header: %w", name, err)
		}
		return t, nil
	}
	if first, err = read("X-TAXII-Date-Added-First"); err != nil {
		return
	}
	if last, err = read("X-TAXII-Date-Added-Last"); err != nil {
		return
	}
	if !first.IsZero() && !last.IsZero() && last.Before(first) {
		return time.Time{}, time.Time{}, errors.New("X-TAXII-Date-Added-Last is before X-TAXII-Date-Added-First; objects must come in the order they were added")
	}
	return first, last, nil
}
