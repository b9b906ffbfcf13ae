// Package taxii serves a node's collections over TAXII 2.1 (OASIS Standard,
// 10 June 2021): discovery, one API root, collections, objects, manifests,
// versions and the status of POSTed envelopes.
//
// It owns the HTTP surface only: request parsing, content negotiation,
// paging cursors and the mapping of errors to TAXII error objects (error.go,
// the one place that does so). Content enters through ingest.Stream; objects
// are read from a tearline.ObjectStore.
//
// Every request is answered for one caller. The node supplies three small
// interfaces: an Authenticator (who is calling), an Authorizer (may they read
// or write this collection) and a Visibility (which object versions are
// released to them). An object version the caller may not see MUST be
// indistinguishable from one that does not exist: it is never returned,
// counted, listed in a manifest or versions list, deleted, or reported as a
// different 404. This package MUST NOT decide releasability itself; it asks
// Visibility and fails closed when Visibility fails.
//
// In production nodes authenticate partners by their mutual-TLS identity;
// StaticAuth (bearer tokens) is for tests and local development only.
package taxii

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/stix"
)

// Media types spoken by this package.
const (
	MediaType     = "application/taxii+json;version=2.1"
	StixMediaType = "application/stix+json;version=2.1"
)

// Defaults for Config fields left zero.
const (
	DefaultMaxContentLength = 10 << 20
	DefaultMaxPageSize      = 1000
	DefaultAPIRoot          = "tearline"
	DefaultStatusTTL        = 24 * time.Hour
)

// Config configures a Handler.
type Config struct {
	// Store holds the collections served. Required.
	Store tearline.ObjectStore
	// Authenticator identifies callers. Required.
	Authenticator Authenticator
	// Authorizer grants read and write per collection. Required.
	Authorizer Authorizer
	// Visibility decides which object versions each caller sees. Required:
	// there is no default that shows everything (use AllVisible explicitly).
	Visibility Visibility
	// CursorKey signs paging cursors with HMAC-SHA256. Required, at least
	// 32 bytes. Every replica serving the same store MUST use the same key
	// so that a cursor from one is accepted by the others and after a
	// restart.
	CursorKey []byte

	// AllowAnonymous lets the Anonymous principal through. Off by default:
	// a request the Authenticator maps to Anonymous is answered 401.
	AllowAnonymous bool
	// Challenge is the WWW-Authenticate value sent with 401 responses.
	Challenge string

	// APIRoot is the single API root's path segment (default "tearline").
	APIRoot     string
	Title       string
	Description string
	Contact     string
	// BaseURL, if set (e.g. "https://taxii.example.gov"), prefixes the API
	// root URL in the discovery resource; otherwise the URL is a path.
	BaseURL string

	// MaxContentLength bounds a POST body in bytes (advertised in the API
	// root resource).
	MaxContentLength int64
	// MaxPageSize caps the objects returned per page whatever the limit.
	MaxPageSize int
	// Classify, if set, gives each posted object its release class, as
	// ingest.Options.Classify does for imports.
	Classify func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error)
	// Audit, if set, is told of every object content served and every
	// deletion, for the node's audit log.
	Audit Audit
	// DefaultBanner, if set, gives the label (a banner) of a collection,
	// by id, for posted objects that carry no markings and come without a
	// BannerHeader; "" when the collection has none.
	DefaultBanner func(ctx context.Context, collection string) (string, error)
	// Statuses keeps POST results; defaults to a MemoryStatusStore holding
	// each for DefaultStatusTTL.
	Statuses StatusStore
	// Logger receives internal errors (never sent to callers).
	Logger *slog.Logger
	// Now is the clock; defaults to time.Now.
	Now func() time.Time
}

// Handler is an http.Handler serving TAXII 2.1.
type Handler struct {
	cfg    Config
	store  tearline.ObjectStore
	mux    *http.ServeMux
	log    *slog.Logger
	now    func() time.Time
	cursor cursorCodec
	root   string
}

var _ http.Handler = (*Handler)(nil)

// New returns a Handler, or an error if cfg lacks a required field.
func New(cfg Config) (*Handler, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("taxii: no store configured")
	case cfg.Authenticator == nil:
		return nil, errors.New("taxii: no authenticator configured")
	case cfg.Authorizer == nil:
		return nil, errors.New("taxii: no authorizer configured")
	case cfg.Visibility == nil:
		return nil, errors.New("taxii: no visibility configured; use AllVisible to show every object to every reader")
	case len(cfg.CursorKey) < 32:
		return nil, fmt.Errorf("taxii: cursor key is %d bytes; want at least 32 random bytes shared by all replicas", len(cfg.CursorKey))
	}
	if cfg.APIRoot == "" {
		cfg.APIRoot = DefaultAPIRoot
	}
	if cfg.APIRoot == "taxii2" || strings.ContainsAny(cfg.APIRoot, "/{}?#% ") {
		return nil, fmt.Errorf("taxii: API root %q is not a usable path segment", cfg.APIRoot)
	}
	if cfg.Title == "" {
		cfg.Title = "Tearline TAXII 2.1"
	}
	if cfg.Challenge == "" {
		cfg.Challenge = `Bearer realm="tearline"`
	}
	if cfg.MaxContentLength <= 0 {
		cfg.MaxContentLength = DefaultMaxContentLength
	}
	if cfg.MaxPageSize <= 0 {
		cfg.MaxPageSize = DefaultMaxPageSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Statuses == nil {
		cfg.Statuses = NewMemoryStatusStore(DefaultStatusTTL, cfg.Now)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	h := &Handler{
		cfg:    cfg,
		store:  cfg.Store,
		log:    cfg.Logger,
		now:    cfg.Now,
		cursor: cursorCodec{key: append([]byte(nil), cfg.CursorKey...)},
		root:   cfg.APIRoot,
	}
	h.routes()
	return h, nil
}

func (h *Handler) routes() {
	m := http.NewServeMux()
	r := "/" + h.root
	m.HandleFunc("GET /taxii2/{$}", h.getDiscovery)
	m.HandleFunc("GET "+r+"/{$}", h.getAPIRoot)
	m.HandleFunc("GET "+r+"/status/{status}/{$}", h.getStatus)
	m.HandleFunc("GET "+r+"/collections/{$}", h.getCollections)
	m.HandleFunc("GET "+r+"/collections/{coll}/{$}", h.getCollection)
	m.HandleFunc("GET "+r+"/collections/{coll}/manifest/{$}", h.getManifest)
	m.HandleFunc("GET "+r+"/collections/{coll}/objects/{$}", h.getObjects)
	m.HandleFunc("POST "+r+"/collections/{coll}/objects/{$}", h.postObjects)
	m.HandleFunc("GET "+r+"/collections/{coll}/objects/{object}/{$}", h.getObject)
	m.HandleFunc("DELETE "+r+"/collections/{coll}/objects/{object}/{$}", h.deleteObject)
	m.HandleFunc("GET "+r+"/collections/{coll}/objects/{object}/versions/{$}", h.getVersions)

	// Method-less twins answer other methods with a TAXII 405, and the
	// catch-all answers unknown paths with a TAXII 404, so that every
	// response carries the TAXII media type.
	allow := map[string]string{
		"/taxii2/{$}":                                           "GET, HEAD",
		r + "/{$}":                                              "GET, HEAD",
		r + "/status/{status}/{$}":                              "GET, HEAD",
		r + "/collections/{$}":                                  "GET, HEAD",
		r + "/collections/{coll}/{$}":                           "GET, HEAD",
		r + "/collections/{coll}/manifest/{$}":                  "GET, HEAD",
		r + "/collections/{coll}/objects/{$}":                   "GET, HEAD, POST",
		r + "/collections/{coll}/objects/{object}/{$}":          "GET, HEAD, DELETE",
		r + "/collections/{coll}/objects/{object}/versions/{$}": "GET, HEAD",
	}
	for pattern, methods := range allow {
		m.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Allow", methods)
			h.writeError(w, r, errMethod)
		})
	}
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.writeError(w, r, errNoEndpoint)
	})
	h.mux = m
}

type principalKey struct{}

// ServeHTTP authenticates the caller, negotiates the media type and
// dispatches to the endpoint.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", MediaType)
	p, err := h.cfg.Authenticator.Authenticate(r)
	if err != nil {
		h.log.InfoContext(r.Context(), "taxii: authentication failed", "remote", r.RemoteAddr, "err", err)
		h.writeError(w, r, errUnauthenticated)
		return
	}
	if p.Kind == Anonymous && !h.cfg.AllowAnonymous {
		h.writeError(w, r, errUnauthenticated)
		return
	}
	if !acceptable(r.Header.Values("Accept")) {
		h.writeError(w, r, errNotAcceptable)
		return
	}
	ctx := context.WithValue(r.Context(), principalKey{}, p)
	h.mux.ServeHTTP(w, r.WithContext(ctx))
}

func principal(ctx context.Context) Principal {
	p, ok := ctx.Value(principalKey{}).(Principal)
	if !ok {
		// Unreachable through ServeHTTP; fail closed.
		return Principal{Kind: Anonymous}
	}
	return p
}

// Audit records what callers read and delete. Served is called after a
// page of object content is written to the caller (not for manifests or
// version lists, which carry no content); Deleted after versions are
// deleted, before the response is sent: an error then fails the request
// with a 500 (the deletion stands).
type Audit interface {
	Served(ctx context.Context, p Principal, c tearline.Collection, objs []tearline.StoredObject)
	Deleted(ctx context.Context, p Principal, c tearline.Collection, objs []tearline.StoredObject) error
}
