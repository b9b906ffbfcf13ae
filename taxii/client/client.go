// Package client is a TAXII 2.1 client (OASIS Standard, 10 June 2021):
// discovery, API roots, collections, objects with filters and paging,
// manifests, versions, adding objects and polling their status.
//
// It owns the HTTP conversation with a TAXII server and the parsing of its
// responses, which are outside input: every response is bounded in size,
// checked for the TAXII media type and parsed into typed resources, and a
// response that is not what TAXII 2.1 says it must be is an error naming
// the request and what was wrong. An HTTP error status is an *Error
// carrying the server's TAXII error message when it sent one.
//
// It does not decide what may be sent or stored: callers select what to
// post and what to keep. It MUST NOT send credentials over plain HTTP.
package client

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tearline/tearline/internal/sized"
)

// Media types spoken by the client.
const (
	MediaType     = "application/taxii+json;version=2.1"
	StixMediaType = "application/stix+json;version=2.1"
)

// Defaults for Options fields left zero.
const (
	DefaultMaxResponseBytes = 64 << 20
	DefaultTimeout          = 2 * time.Minute
	DefaultUserAgent        = "tearline-taxii-client/2.1"
)

// Credentials add authentication to a request. They are sent over https
// only.
type Credentials interface {
	Authorize(r *http.Request)
}

// BasicAuth is HTTP Basic authentication.
type BasicAuth struct {
	User, Password string
}

// Authorize implements Credentials.
func (b BasicAuth) Authorize(r *http.Request) { r.SetBasicAuth(b.User, b.Password) }

// BearerToken is an OAuth-style bearer token (RFC 6750).
type BearerToken string

// Authorize implements Credentials.
func (t BearerToken) Authorize(r *http.Request) { r.Header.Set("Authorization", "Bearer "+string(t)) }

var (
	_ Credentials = BasicAuth{}
	_ Credentials = BearerToken("")
)

// Options configure a Client.
type Options struct {
	// HTTPClient, if set, makes every request; TLSConfig and Timeout must
	// then be left zero (configure them on HTTPClient).
	HTTPClient *http.Client
	// TLSConfig, if set, is the TLS configuration of the client made here:
	// a CA pool for a private PKI, a client certificate for mutual TLS.
	TLSConfig *tls.Config
	// Timeout bounds each request, body included (DefaultTimeout if zero).
	Timeout time.Duration
	// Credentials, if set, authenticate every request.
	Credentials Credentials
	// MaxResponseBytes bounds a response body (DefaultMaxResponseBytes if
	// zero). A larger response is an error wrapping ErrResponseTooLarge.
	MaxResponseBytes int64
	// UserAgent names the client to the server (DefaultUserAgent if empty).
	UserAgent string
}

// Client talks to TAXII 2.1 servers. It is safe for concurrent use.
type Client struct {
	http      *http.Client
	creds     Credentials
	maxBytes  int64
	userAgent string
}

// New returns a Client.
func New(opts Options) (*Client, error) {
	if opts.HTTPClient != nil && (opts.TLSConfig != nil || opts.Timeout != 0) {
		return nil, errors.New("taxii client: give either an HTTP client or a TLS config and timeout, not both")
	}
	if opts.MaxResponseBytes < 0 || opts.Timeout < 0 {
		return nil, errors.New("taxii client: negative response size limit or timeout")
	}
	c := &Client{creds: opts.Credentials, maxBytes: opts.MaxResponseBytes, userAgent: opts.UserAgent}
	if opts.HTTPClient != nil {
		// A copy, so that the redirect rule below does not change the
		// caller's client.
		hc := *opts.HTTPClient
		c.http = &hc
	}
	if c.maxBytes == 0 {
		c.maxBytes = DefaultMaxResponseBytes
	}
	if c.userAgent == "" {
		c.userAgent = DefaultUserAgent
	}
	if c.http == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if opts.TLSConfig != nil {
			tr.TLSClientConfig = opts.TLSConfig.Clone()
		} else {
			tr.TLSClientConfig = &tls.Config{}
		}
		if tr.TLSClientConfig.MinVersion == 0 {
			tr.TLSClientConfig.MinVersion = tls.VersionTLS12
		}
		tr.MaxIdleConnsPerHost = 32
		timeout := opts.Timeout
		if timeout == 0 {
			timeout = DefaultTimeout
		}
		c.http = &http.Client{Transport: tr, Timeout: timeout}
	}
	next := c.http.CheckRedirect
	c.http.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		// Go forwards the Authorization header to the same host whatever
		// the scheme: a redirect to plain http would expose credentials.
		if req.URL.Scheme != "https" && len(via) > 0 && via[0].URL.Scheme == "https" {
			return fmt.Errorf("refusing the redirect from %s to %s: it leaves https", via[len(via)-1].URL.Redacted(), req.URL.Redacted())
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return c, nil
}

// ErrResponseTooLarge is wrapped by the error for a response body larger
// than Options.MaxResponseBytes.
var ErrResponseTooLarge = errors.New("response larger than the client's limit")

// ResponseError is a response that is not what TAXII 2.1 says it must be:
// the wrong media type, a body that does not parse, a missing property.
type ResponseError struct {
	Method, URL string
	Err         error
}

func (e *ResponseError) Error() string {
	return fmt.Sprintf("%s %s: the server's answer is not valid TAXII 2.1: %v", e.Method, e.URL, e.Err)
}

func (e *ResponseError) Unwrap() error { return e.Err }

// response is a successful answer: its status, headers and body.
type response struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request and returns a 2xx answer with its body read whole,
// or an *Error for an error status, or another error when the exchange
// failed. body, if set, is posted as a TAXII envelope.
func (c *Client) do(ctx context.Context, method, rawURL string, body []byte) (*response, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return nil, fmt.Errorf("%s %s: want an https:// URL", method, rawURL)
	case u.Scheme == "http" && c.creds != nil:
		return nil, fmt.Errorf("%s %s: credentials are only sent over https; use an https:// URL", method, rawURL)
	case u.User != nil:
		return nil, fmt.Errorf("%s %s: credentials do not belong in the URL; give them as Credentials", method, redact(u))
	}
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	req.Header.Set("Accept", MediaType)
	req.Header.Set("User-Agent", c.userAgent)
	if body != nil {
		req.Header.Set("Content-Type", MediaType)
	}
	if c.creds != nil {
		c.creds.Authorize(req)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		// net/http names the method and URL again; say them once.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s %s: %w", method, rawURL, err)
	}
	defer resp.Body.Close()
	data, err := sized.ReadAll(io.LimitReader(resp.Body, c.maxBytes+1), resp.ContentLength, c.maxBytes)
	if err != nil {
		return nil, fmt.Errorf("%s %s: reading the answer: %w", method, rawURL, err)
	}
	if int64(len(data)) > c.maxBytes {
		return nil, fmt.Errorf("%s %s: %w (%d bytes); ask for smaller pages with a lower limit, or raise the limit", method, rawURL, ErrResponseTooLarge, c.maxBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return nil, newError(method, rawURL, resp, data)
	}
	if err := checkMediaType(resp.Header.Get("Content-Type")); err != nil {
		return nil, &ResponseError{Method: method, URL: rawURL, Err: err}
	}
	return &response{status: resp.StatusCode, header: resp.Header, body: data}, nil
}

// checkMediaType accepts the TAXII 2.1 media type, and plain JSON from
// servers that label their answers loosely; anything else (an HTML login
// page, a TAXII 2.0 answer) is refused.
func checkMediaType(v string) error {
	mt, ps, err := mime.ParseMediaType(v)
	if err != nil {
		return fmt.Errorf("the Content-Type %q is not %s", v, MediaType)
	}
	switch mt {
	case "application/taxii+json":
		if ver, ok := ps["version"]; ok && ver != "2.1" {
			return fmt.Errorf("the Content-Type %q says the server speaks TAXII %s, not 2.1", v, ver)
		}
		return nil
	case "application/json":
		return nil
	}
	return fmt.Errorf("the Content-Type %q is not %s; is the URL a TAXII 2.1 endpoint?", v, MediaType)
}

// get fetches a resource and parses it with parse.
func get[T any](ctx context.Context, c *Client, rawURL string, parse func([]byte) (T, error)) (T, *response, error) {
	var zero T
	resp, err := c.do(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return zero, nil, err
	}
	v, err := parse(resp.body)
	if err != nil {
		return zero, nil, &ResponseError{Method: http.MethodGet, URL: rawURL, Err: err}
	}
	return v, resp, nil
}

func redact(u *url.URL) string {
	c := *u
	c.User = nil
	return c.String()
}

// Discover reads the discovery resource of the server at serverURL: its
// origin (https://host:port) or its /taxii2/ URL. API root URLs in the
// answer are made absolute.
func (c *Client) Discover(ctx context.Context, serverURL string) (*Discovery, error) {
	u, err := url.Parse(serverURL)
	if err != nil {
		return nil, fmt.Errorf("server URL %q: %w", serverURL, err)
	}
	if !strings.HasSuffix(strings.TrimSuffix(u.Path, "/"), "/taxii2") {
		u = u.JoinPath("taxii2")
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	u.RawQuery, u.Fragment = "", ""
	d, _, err := get(ctx, c, u.String(), func(b []byte) (*Discovery, error) { return parseDiscovery(b, u) })
	return d, err
}

// FindAPIRoot turns what a user gives into an API root URL: a server's
// origin or /taxii2/ URL is resolved through discovery (the default API
// root, else the only one); any other URL is taken to be an API root.
func (c *Client) FindAPIRoot(ctx context.Context, rawURL string) (string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("URL %q: %w", rawURL, err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("URL %q: want an absolute https:// URL", rawURL)
	}
	p := strings.TrimSuffix(u.Path, "/")
	if p != "" && !strings.HasSuffix(p, "/taxii2") {
		return rootURL(u), nil
	}
	d, err := c.Discover(ctx, rawURL)
	if err != nil {
		return "", err
	}
	switch {
	case d.Default != "":
		return d.Default, nil
	case len(d.APIRoots) == 1:
		return d.APIRoots[0], nil
	case len(d.APIRoots) == 0:
		return "", fmt.Errorf("the server at %s advertises no API root; give the API root URL itself", rawURL)
	}
	return "", fmt.Errorf("the server at %s advertises %d API roots and no default; give one of them: %s",
		rawURL, len(d.APIRoots), strings.Join(d.APIRoots, ", "))
}

// rootURL is an API root URL with one trailing slash and no query.
func rootURL(u *url.URL) string {
	c := *u
	c.RawQuery, c.Fragment = "", ""
	c.Path = strings.TrimSuffix(c.Path, "/") + "/"
	c.RawPath = ""
	return c.String()
}

// endpoint joins path segments to an API root URL, escaping each segment,
// with the trailing slash TAXII URLs end with.
func endpoint(root string, segments ...string) (string, error) {
	u, err := url.Parse(root)
	if err != nil {
		return "", fmt.Errorf("API root %q: %w", root, err)
	}
	if u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("API root %q: want an absolute https:// URL", root)
	}
	for _, s := range segments {
		if s == "" || s == "." || s == ".." {
			return "", fmt.Errorf("%q is not a usable path segment", s)
		}
	}
	u.RawQuery, u.Fragment = "", ""
	u = u.JoinPath(segments...)
	u.Path = strings.TrimSuffix(u.Path, "/") + "/"
	return u.String(), nil
}

// APIRoot reads the API root resource at root.
func (c *Client) APIRoot(ctx context.Context, root string) (*APIRoot, error) {
	u, err := endpoint(root)
	if err != nil {
		return nil, err
	}
	r, _, err := get(ctx, c, u, parseAPIRoot)
	if err != nil {
		return nil, err
	}
	r.URL = u
	return r, nil
}

// Collections lists the collections of the API root that the caller can
// see.
func (c *Client) Collections(ctx context.Context, root string) ([]Collection, error) {
	u, err := endpoint(root, "collections")
	if err != nil {
		return nil, err
	}
	cs, _, err := get(ctx, c, u, parseCollections)
	return cs, err
}

// Collection reads one collection by id.
func (c *Client) Collection(ctx context.Context, root, id string) (*Collection, error) {
	u, err := endpoint(root, "collections", id)
	if err != nil {
		return nil, err
	}
	col, _, err := get(ctx, c, u, parseCollection)
	return col, err
}

// ErrNoCollection is wrapped by FindCollection's error when nothing
// matches.
var ErrNoCollection = errors.New("no such collection")

// FindCollection finds a collection of the API root by id, else by alias,
// else by title, among those the caller can see.
func (c *Client) FindCollection(ctx context.Context, root, idOrName string) (*Collection, error) {
	all, err := c.Collections(ctx, root)
	if err != nil {
		return nil, err
	}
	for _, match := range []func(Collection) bool{
		func(x Collection) bool { return x.ID == idOrName },
		func(x Collection) bool { return x.Alias != "" && x.Alias == idOrName },
		func(x Collection) bool { return x.Title == idOrName },
	} {
		var found []Collection
		for _, x := range all {
			if match(x) {
				found = append(found, x)
			}
		}
		if len(found) == 1 {
			return &found[0], nil
		}
		if len(found) > 1 {
			return nil, fmt.Errorf("%d collections at %s are named %q; give the collection id", len(found), root, idOrName)
		}
	}
	var names []string
	for _, x := range all {
		names = append(names, fmt.Sprintf("%s (%q)", x.ID, x.Title))
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%w %q at %s: the server shows this caller no collections", ErrNoCollection, idOrName, root)
	}
	return nil, fmt.Errorf("%w %q at %s; the server shows this caller: %s", ErrNoCollection, idOrName, root, strings.Join(names, ", "))
}

// GetObjects reads one page of a collection's objects.
func (c *Client) GetObjects(ctx context.Context, root, collection string, f Filter) (*Envelope, error) {
	u, err := endpoint(root, "collections", collection, "objects")
	if err != nil {
		return nil, err
	}
	return c.getEnvelope(ctx, u+f.query())
}

// GetObject reads one page of the versions of one object. Filter fields
// other than paging, versions and spec versions are ignored by servers.
func (c *Client) GetObject(ctx context.Context, root, collection, id string, f Filter) (*Envelope, error) {
	u, err := endpoint(root, "collections", collection, "objects", id)
	if err != nil {
		return nil, err
	}
	return c.getEnvelope(ctx, u+f.query())
}

func (c *Client) getEnvelope(ctx context.Context, u string) (*Envelope, error) {
	env, resp, err := get(ctx, c, u, parseEnvelope)
	if err != nil {
		return nil, err
	}
	if env.DateAddedFirst, env.DateAddedLast, err = dateHeaders(resp.header); err != nil {
		return nil, &ResponseError{Method: http.MethodGet, URL: u, Err: err}
	}
	return env, nil
}

// Manifest reads one page of a collection's manifest.
func (c *Client) Manifest(ctx context.Context, root, collection string, f Filter) (*Manifest, error) {
	u, err := endpoint(root, "collections", collection, "manifest")
	if err != nil {
		return nil, err
	}
	u += f.query()
	m, resp, err := get(ctx, c, u, parseManifest)
	if err != nil {
		return nil, err
	}
	if m.DateAddedFirst, m.DateAddedLast, err = dateHeaders(resp.header); err != nil {
		return nil, &ResponseError{Method: http.MethodGet, URL: u, Err: err}
	}
	return m, nil
}

// Versions reads one page of the versions of one object.
func (c *Client) Versions(ctx context.Context, root, collection, id string, f Filter) (*Versions, error) {
	u, err := endpoint(root, "collections", collection, "objects", id, "versions")
	if err != nil {
		return nil, err
	}
	u += f.query()
	v, resp, err := get(ctx, c, u, parseVersions)
	if err != nil {
		return nil, err
	}
	if v.DateAddedFirst, v.DateAddedLast, err = dateHeaders(resp.header); err != nil {
		return nil, &ResponseError{Method: http.MethodGet, URL: u, Err: err}
	}
	return v, nil
}

// AddObjects posts objects as one envelope to a collection and returns the
// status the server answered with, which may still be pending (see
// WaitForStatus). The caller keeps the envelope within the API root's
// max_content_length (see Packer).
func (c *Client) AddObjects(ctx context.Context, root, collection string, objects []json.RawMessage) (*Status, error) {
	u, err := endpoint(root, "collections", collection, "objects")
	if err != nil {
		return nil, err
	}
	body := EncodeEnvelope(objects)
	resp, err := c.do(ctx, http.MethodPost, u, body)
	if err != nil {
		return nil, err
	}
	s, err := parseStatus(resp.body)
	if err != nil {
		return nil, &ResponseError{Method: http.MethodPost, URL: u, Err: err}
	}
	return s, nil
}

// Status reads the status resource of an earlier AddObjects.
func (c *Client) Status(ctx context.Context, root, id string) (*Status, error) {
	u, err := endpoint(root, "status", id)
	if err != nil {
		return nil, err
	}
	s, _, err := get(ctx, c, u, parseStatus)
	return s, err
}

// WaitForStatus polls the status s until it is complete, waiting interval
// between polls (1s if zero), and returns the last status read. It stops
// with ctx's error when ctx ends first.
func (c *Client) WaitForStatus(ctx context.Context, root string, s *Status, interval time.Duration) (*Status, error) {
	if interval <= 0 {
		interval = time.Second
	}
	for s.Status != StatusComplete {
		t := time.NewTimer(interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return s, fmt.Errorf("status %s still pending (%d of %d objects): %w", s.ID, s.PendingCount, s.TotalCount, ctx.Err())
		case <-t.C:
		}
		next, err := c.Status(ctx, root, s.ID)
		if err != nil {
			return s, err
		}
		if next.ID != s.ID {
			return s, fmt.Errorf("asked for status %s, the server answered with status %s", s.ID, next.ID)
		}
		s = next
	}
	return s, nil
}
