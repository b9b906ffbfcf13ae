package taxii

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/tearline/tearline"
)

// Kind is what sort of caller a Principal is.
type Kind int

const (
	// Anonymous is a caller without credentials. It is refused unless
	// Config.AllowAnonymous is set.
	Anonymous Kind = iota
	// Partner is another nation's or agency's node or client, identified in
	// production by its mutual-TLS certificate.
	Partner
	// Local is a user or tool of this node's own organisation.
	Local
)

func (k Kind) String() string {
	switch k {
	case Anonymous:
		return "anonymous"
	case Partner:
		return "partner"
	case Local:
		return "local"
	}
	return "unknown"
}

// Principal is an authenticated caller.
type Principal struct {
	// ID names the caller: a partner code for partners, a user or tool name
	// for local callers, empty for Anonymous.
	ID   string
	Kind Kind
}

// Authenticator identifies the caller of a request.
//
// Implementations MUST return an error when credentials are present but
// invalid, and MAY return the Anonymous principal when there are none. The
// error's text is logged, never sent to the caller. Production nodes
// authenticate partners by their verified mutual-TLS client certificate
// (r.TLS.VerifiedChains) pinned to the partner's registered key.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Access is what a principal may do with one collection.
type Access struct {
	Read  bool // GET objects, manifest, versions
	Write bool // POST objects; DELETE needs Read as well
}

// Authorizer grants access to collections. A collection to which a caller
// has neither read nor write access is hidden from it (404, never listed).
// Implementations MUST fail closed: an unknown principal or collection gets
// the zero Access.
type Authorizer interface {
	Access(ctx context.Context, p Principal, c tearline.Collection) (Access, error)
}

// Visibility decides which object versions a caller sees: the node's release
// decisions. Visible reports, for each element of objs, whether p may see
// it; the result MUST have len(objs) elements. A version not visible is
// treated as absent everywhere. An error fails the request closed.
type Visibility interface {
	Visible(ctx context.Context, p Principal, c tearline.Collection, objs []tearline.StoredObject) ([]bool, error)
}

// VisibilityFunc adapts a per-object predicate to Visibility.
type VisibilityFunc func(p Principal, c tearline.Collection, o *tearline.StoredObject) bool

// Visible implements Visibility.
func (f VisibilityFunc) Visible(_ context.Context, p Principal, c tearline.Collection, objs []tearline.StoredObject) ([]bool, error) {
	out := make([]bool, len(objs))
	for i := range objs {
		out[i] = f(p, c, &objs[i])
	}
	return out, nil
}

// AllVisible shows every object of a readable collection to its readers.
// It suits development and single-organisation deployments, never a node
// that serves partners.
var AllVisible Visibility = VisibilityFunc(func(Principal, tearline.Collection, *tearline.StoredObject) bool { return true })

// errBadCredentials is logged when a presented token is unknown.
var errBadCredentials = errors.New("unknown bearer token")

// StaticAuth is a fixed table of bearer tokens and grants, for tests and
// local development. It is NOT how partner nodes authenticate: they use
// mutual TLS with pinned partner keys.
type StaticAuth struct {
	// Tokens maps a bearer token to the principal it authenticates.
	Tokens map[string]Principal
	// Grants maps a principal ID to its access per collection, keyed by
	// collection id or alias; the key "*" applies to every collection.
	Grants map[string]map[string]Access
}

var (
	_ Authenticator = (*StaticAuth)(nil)
	_ Authorizer    = (*StaticAuth)(nil)
)

// Authenticate implements Authenticator: no Authorization header is
// Anonymous; an unknown or malformed one is an error. Tokens are compared in
// constant time.
func (s *StaticAuth) Authenticate(r *http.Request) (Principal, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Principal{Kind: Anonymous}, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Principal{}, errors.New("authorization header is not a bearer token")
	}
	got := sha256.Sum256([]byte(token))
	var found Principal
	match := 0
	for t, p := range s.Tokens {
		want := sha256.Sum256([]byte(t))
		if subtle.ConstantTimeCompare(got[:], want[:]) == 1 {
			found, match = p, 1
		}
	}
	if match == 0 {
		return Principal{}, errBadCredentials
	}
	return found, nil
}

// Access implements Authorizer.
func (s *StaticAuth) Access(_ context.Context, p Principal, c tearline.Collection) (Access, error) {
	g := s.Grants[p.ID]
	if p.Kind == Anonymous {
		g = s.Grants[""]
	}
	var a Access
	for _, key := range []string{"*", c.ID, c.Alias} {
		if key == "" {
			continue
		}
		if x, ok := g[key]; ok {
			a.Read = a.Read || x.Read
			a.Write = a.Write || x.Write
		}
	}
	return a, nil
}
