package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/taxii"
)

// userAuth authenticates local users by API token.
type userAuth struct {
	users tearline.UserStore
	now   func() time.Time
}

func (a userAuth) Authenticate(r *http.Request) (taxii.Principal, error) {
	token, user, err := access.FromRequest(r)
	if errors.Is(err, access.ErrNoCredentials) {
		return taxii.Principal{Kind: taxii.Anonymous}, nil
	}
	if err != nil {
		return taxii.Principal{}, err
	}
	u, err := access.Check(r.Context(), a.users, token, user, a.now())
	if err != nil {
		return taxii.Principal{}, err
	}
	return taxii.Principal{ID: u.Name, Kind: taxii.Local}, nil
}

// grantAccess answers can_read and can_write from the collection grants.
// A local user has exactly the grants recorded for them. A pinned partner
// with no grant at all reads every collection and writes none (what
// partners send arrives by federation); once a partner has a grant, its
// grants are all it has.
type grantAccess struct {
	users tearline.UserStore
}

func (g grantAccess) Access(ctx context.Context, p taxii.Principal, c tearline.Collection) (taxii.Access, error) {
	if p.Kind != taxii.Local && p.Kind != taxii.Partner {
		return taxii.Access{}, nil
	}
	grants, err := g.users.Grants(ctx, p.ID)
	if err != nil {
		return taxii.Access{}, err
	}
	if p.Kind == taxii.Partner && len(grants) == 0 {
		return taxii.Access{Read: true}, nil
	}
	for _, gr := range grants {
		if gr.Collection == c.ID {
			return taxii.Access{Read: gr.Read, Write: gr.Write}, nil
		}
	}
	return taxii.Access{}, nil
}

// userVisibility shows a local user the object versions the release
// engine allows them, with their clearances and nationality, now. A user
// who is disabled or gone between authentication and this check sees
// nothing.
type userVisibility struct {
	store   store
	users   tearline.UserStore
	rel     *releasing
	holder  string
	classes *classDecider
}

func (v *userVisibility) Visible(ctx context.Context, p taxii.Principal, c tearline.Collection, objs []tearline.StoredObject) ([]bool, error) {
	out := make([]bool, len(objs))
	if p.Kind != taxii.Local {
		return out, nil
	}
	u, err := v.users.User(ctx, p.ID)
	if errors.Is(err, tearline.ErrNotFound) {
		return out, nil
	}
	if err != nil {
		return nil, err
	}
	if u.Disabled {
		return out, nil
	}
	rc := access.Recipient(&u)
	now := time.Now().UTC()
	defs := label.Definitions{}
	return v.classes.visible(ctx, objs, v.rel.engine, rc, func(i int) (bool, error) {
		subject, _, err := subjectFor(ctx, v.store, c.ID, objs[i].JSON, v.holder, defs)
		if err != nil {
			return false, err
		}
		return v.rel.engine.Verdict(&policy.Request{Subject: subject, Recipient: rc, Action: tearline.Release, Time: now}) == tearline.Allow, nil
	})
}

// newUserServer is the HTTPS server of the node's own users: TAXII with
// API tokens, each user seeing what their clearance allows. The node's
// certificate identifies the server; no client certificate is asked for.
func newUserServer(n *node.Node, s store, logger *slog.Logger) (*userServer, error) {
	us, err := userStoreOf(s)
	if err != nil {
		return nil, err
	}
	rel, err := nodeReleasing(n)
	if err != nil {
		return nil, err
	}
	key, err := cursorKey(n.Dir)
	if err != nil {
		return nil, err
	}
	cert, err := n.TLSCertificate()
	if err != nil {
		return nil, err
	}
	audit := newTaxiiAudit(s, logger)
	h, err := taxii.New(taxii.Config{
		Store:         s,
		Authenticator: userAuth{users: us, now: time.Now},
		Authorizer:    grantAccess{users: us},
		Visibility:    &userVisibility{store: s, users: us, rel: rel, holder: n.Config.Node.Partner, classes: newClassDecider(s)},
		CursorKey:     key,
		Classify:      rel.classifier(),
		Challenge:     `Bearer realm="tearline", Basic realm="tearline"`,
		Statuses:      statusStoreOf(s),
		DefaultBanner: defaultBanner(s),
		Audit:         audit.taxii(),
		Title:         "Tearline node " + n.Config.Node.Partner + " (users)",
		Description:   n.Config.Node.Name,
		Logger:        logger,
	})
	if err != nil {
		audit.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mountConsole(mux, n, s, us, rel, logger)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second,
		TLSConfig: &tls.Config{MinVersion: tls.VersionTLS13, CurvePreferences: partner.CurvePreferences, Certificates: []tls.Certificate{cert}},
		ErrorLog:  slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	return &userServer{Server: srv, audit: audit}, nil
}

// userServer is the users' HTTPS server and its audit recorder, closed
// once the server has shut down.
type userServer struct {
	*http.Server
	audit *taxiiAudit
}

// serveUsers runs the users' server on ln until ctx ends.
func serveUsers(ctx context.Context, srv *userServer, ln net.Listener) error {
	// After the server has shut down: every read answered is recorded.
	defer srv.audit.Close()
	return runServer(ctx, "users' server", srv.Server, func() error { return srv.Serve(tls.NewListener(ln, srv.TLSConfig)) }, 10*time.Second)
}

// runServer runs serve (srv's Serve on its listener) until it fails or
// ctx ends; then it shuts srv down, giving the requests under way grace
// to finish.
func runServer(ctx context.Context, name string, srv *http.Server, serve func() error, grace time.Duration) error {
	done := make(chan error, 1)
	go func() { done <- serve() }()
	select {
	case err := <-done:
		return fmt.Errorf("%s: %w", name, err)
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), grace)
		defer cancel()
		srv.Shutdown(shut)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("%s: %w", name, err)
		}
		return nil
	}
}

// statusStoreOf keeps TAXII statuses in the node's database when it can,
// so that they survive restarts and replicas share them.
func statusStoreOf(s store) taxii.StatusStore {
	if kv, ok := s.(taxii.StatusKV); ok {
		return taxii.NewKVStatusStore(kv, 0, nil)
	}
	return taxii.NewMemoryStatusStore(0, nil)
}
