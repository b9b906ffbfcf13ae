package web

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
)

// Cookie names. The __Host- prefix makes browsers refuse the cookie
// unless it is Secure, has Path=/ and names no Domain: no other host, and
// no plain-HTTP page, can set or overwrite it.
const (
	sessionCookie = "__Host-tearline-console"
	signinCookie  = "__Host-tearline-signin"
)

// maxSessions bounds the sessions kept in memory.
const maxSessions = 10000

// session is a signed-in user's server-side state. The cookie carries only
// its random id.
type session struct {
	id    string
	user  string
	token string // the id of the API token the user signed in with
	// csrf is the token every state-changing form of the session must
	// carry.
	csrf             string
	created, expires time.Time
	seen             time.Time
}

// sessions are held in memory: a restart signs everyone out, and each
// replica of a node has its own.
type sessions struct {
	mu         sync.Mutex
	byID       map[string]*session
	lifetime   time.Duration
	idle       time.Duration
	lastSweep  time.Time
	sweepEvery time.Duration
}

func newSessions(lifetime, idle time.Duration) *sessions {
	return &sessions{byID: map[string]*session{}, lifetime: lifetime, idle: idle, sweepEvery: time.Minute}
}

// randomToken returns n random bytes, base64url-encoded.
func randomToken(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// create opens a session for user, ending no later than until (the
// expiry of the token the user signed in with).
func (ss *sessions) create(user, token string, until, now time.Time) (session, error) {
	id, err := randomToken(32)
	if err != nil {
		return session{}, err
	}
	csrf, err := randomToken(32)
	if err != nil {
		return session{}, err
	}
	expires := now.Add(ss.lifetime)
	if until.Before(expires) {
		expires = until
	}
	s := &session{id: id, user: user, token: token, csrf: csrf, created: now, expires: expires, seen: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ss.sweep(now)
	if len(ss.byID) >= maxSessions {
		return session{}, errors.New("too many open sessions")
	}
	ss.byID[id] = s
	return *s, nil
}

// get returns the live session id and marks it used; an expired or idle
// session is ended.
func (ss *sessions) get(id string, now time.Time) (session, bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byID[id]
	if !ok {
		return session{}, false
	}
	if !now.Before(s.expires) || now.Sub(s.seen) >= ss.idle {
		delete(ss.byID, id)
		return session{}, false
	}
	s.seen = now
	return *s, true
}

func (ss *sessions) end(id string) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byID, id)
}

// sweep drops expired sessions, at most once every sweepEvery. The caller
// holds mu.
func (ss *sessions) sweep(now time.Time) {
	if now.Sub(ss.lastSweep) < ss.sweepEvery {
		return
	}
	ss.lastSweep = now
	for id, s := range ss.byID {
		if !now.Before(s.expires) || now.Sub(s.seen) >= ss.idle {
			delete(ss.byID, id)
		}
	}
}

// signinLimiter slows down token guessing: a client address with too
// many failed sign-ins in the window is refused until they age out.
type signinLimiter struct {
	mu       sync.Mutex
	failures map[string][]time.Time
	max      int
	window   time.Duration
}

func newSigninLimiter() *signinLimiter {
	return &signinLimiter{failures: map[string][]time.Time{}, max: 10, window: 5 * time.Minute}
}

func (l *signinLimiter) recent(addr string, now time.Time) []time.Time {
	var keep []time.Time
	for _, t := range l.failures[addr] {
		if now.Sub(t) < l.window {
			keep = append(keep, t)
		}
	}
	if len(keep) == 0 {
		delete(l.failures, addr)
	} else {
		l.failures[addr] = keep
	}
	return keep
}

func (l *signinLimiter) blocked(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.recent(addr, now)) >= l.max
}

func (l *signinLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.failures[addr] = append(l.recent(addr, now), now)
	// Bound the table against a flood of addresses.
	if len(l.failures) > 100000 {
		for k := range l.failures {
			delete(l.failures, k)
			break
		}
	}
}

func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// request is a signed-in request: the session, and the user as the store
// holds them now.
type request struct {
	sess session
	user tearline.User
	rc   *tearline.Recipient
	now  time.Time
}

// handler is a console handler for a signed-in user.
type handler func(w http.ResponseWriter, r *http.Request, rq *request) error

// authed runs h for a signed-in user whose session, token and account are
// all still good; anyone else is sent to sign in.
func (s *Server) authed(h handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rq, err := s.signedIn(r)
		if err != nil {
			s.cfg.Logger.Error("console: session", "err", err)
			s.fail(w, r, nil, err)
			return
		}
		if rq == nil {
			s.toSignin(w, r)
			return
		}
		if err := h(w, r, rq); err != nil {
			s.fail(w, r, rq, err)
		}
	})
}

// mutating is authed for requests that change state: the form must carry
// the session's CSRF token, and a browser's Origin, when sent, must be
// this node.
func (s *Server) mutating(h handler) http.Handler {
	return s.authed(func(w http.ResponseWriter, r *http.Request, rq *request) error {
		r.Body = http.MaxBytesReader(w, r.Body, maxForm)
		if err := r.ParseForm(); err != nil {
			return badInput("the form could not be read (at most %d MiB): %v", maxForm>>20, err)
		}
		if !sameOrigin(r) || !equalSecret(r.PostForm.Get("csrf"), rq.sess.csrf) {
			return errForbidden
		}
		return h(w, r, rq)
	})
}

// maxForm bounds a form post: pasted STIX is the largest.
const maxForm = 8 << 20

// equalSecret compares a submitted secret with the expected one in
// constant time; an empty one never matches.
func equalSecret(got, want string) bool {
	if got == "" || want == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(got), []byte(want)) == 1
}

// sameOrigin refuses requests that a browser says come from another site.
// Browsers send Origin on every POST; tools that send none rely on the
// CSRF token alone.
func sameOrigin(r *http.Request) bool {
	if site := r.Header.Get("Sec-Fetch-Site"); site != "" && site != "same-origin" && site != "none" {
		return false
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	scheme := "https"
	if r.TLS == nil {
		scheme = "http"
	}
	return origin == scheme+"://"+r.Host
}

// signedIn returns the request's signed-in user, nil when there is none.
// The user and token are read again on every request, so that disabling a
// user or revoking the token ends the session at once.
func (s *Server) signedIn(r *http.Request) (*request, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	now := s.cfg.Now()
	sess, ok := s.sessions.get(c.Value, now)
	if !ok {
		return nil, nil
	}
	ctx := r.Context()
	tok, _, err := s.cfg.Users.Token(ctx, sess.token)
	if errors.Is(err, tearline.ErrNotFound) || err == nil && (!now.Before(tok.Expires) || tok.User != sess.user) {
		s.sessions.end(sess.id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	u, err := s.cfg.Users.User(ctx, sess.user)
	if errors.Is(err, tearline.ErrNotFound) || err == nil && u.Disabled {
		s.sessions.end(sess.id)
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &request{sess: sess, user: u, rc: access.Recipient(&u), now: now}, nil
}

func (s *Server) toSignin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		// A form posted after the session ended: its content is not
		// replayed after sign-in.
		s.fail(w, r, nil, errForbidden)
		return
	}
	http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
}

type signinData struct {
	Form  string // the sign-in form's own CSRF token
	Name  string
	Error string
}

// signinPage shows the sign-in form with a fresh double-submit token: the
// same random value in a cookie and in the form, so that another site
// cannot sign a browser in under its own account.
func (s *Server) signinPage(w http.ResponseWriter, r *http.Request) {
	s.renderSignin(w, r, http.StatusOK, "", "")
}

func (s *Server) renderSignin(w http.ResponseWriter, r *http.Request, status int, name, msg string) {
	tok, err := randomToken(32)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: tok, Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: 900})
	s.render(w, r, nil, status, "signin.html", "Sign in", signinData{Form: tok, Name: name, Error: msg})
}

// signin checks a user name and API token and opens a session.
func (s *Server) signin(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.fail(w, r, nil, badInput("the sign-in form could not be read"))
		return
	}
	c, err := r.Cookie(signinCookie)
	if err != nil || !sameOrigin(r) || !equalSecret(r.PostForm.Get("form"), c.Value) {
		s.renderSignin(w, r, http.StatusForbidden, "", "The sign-in form expired or did not come from this node. Try again.")
		return
	}
	now := s.cfg.Now()
	addr := clientAddr(r)
	if s.limiter.blocked(addr, now) {
		s.renderSignin(w, r, http.StatusTooManyRequests, "", "Too many failed sign-ins from this address. Wait a few minutes and try again.")
		return
	}
	name := strings.TrimSpace(r.PostForm.Get("user"))
	token := strings.TrimSpace(r.PostForm.Get("token"))
	if len(name) > 128 {
		name = name[:128]
	}
	var u tearline.User
	if name == "" || token == "" {
		err = access.ErrNoCredentials
	} else {
		u, err = access.Check(r.Context(), s.cfg.Users, token, name, now)
	}
	if err != nil {
		if !isCredentialError(err) {
			s.fail(w, r, nil, err)
			return
		}
		s.limiter.fail(addr, now)
		s.cfg.Logger.Info("console: sign-in refused", "user", name, "addr", addr, "reason", err.Error())
		// One message for every refusal: which part was wrong is not told.
		s.renderSignin(w, r, http.StatusUnauthorized, name, "The user name and token do not match an active user.")
		return
	}
	id := tokenID(token)
	tok, _, err := s.cfg.Users.Token(r.Context(), id)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	// A sign-in always starts a new session: one the browser held before
	// (perhaps planted) ends.
	if old, err := r.Cookie(sessionCookie); err == nil {
		s.sessions.end(old.Value)
	}
	sess, err := s.sessions.create(u.Name, id, tok.Expires, now)
	if err != nil {
		s.fail(w, r, nil, err)
		return
	}
	http.SetCookie(w, s.sessionCookie(sess.id, sess.expires))
	http.SetCookie(w, &http.Cookie{Name: signinCookie, Value: "", Path: "/", Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, MaxAge: -1})
	s.cfg.Logger.Info("console: signed in", "user", u.Name, "addr", addr)
	http.Redirect(w, r, Prefix+"/objects", http.StatusSeeOther)
}

func (s *Server) sessionCookie(value string, expires time.Time) *http.Cookie {
	return &http.Cookie{Name: sessionCookie, Value: value, Path: "/", Expires: expires, Secure: true, HttpOnly: true,
		SameSite: http.SameSiteStrictMode}
}

func isCredentialError(err error) bool {
	for _, e := range []error{access.ErrBadToken, access.ErrUnknownToken, access.ErrExpiredToken,
		access.ErrDisabledUser, access.ErrWrongUser, access.ErrNoCredentials, tearline.ErrNotFound} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// tokenID is the public part of a token that access.Check accepted:
// tl_ID_SECRET.
func tokenID(token string) string {
	rest := strings.TrimPrefix(token, access.TokenPrefix)
	id, _, _ := strings.Cut(rest, "_")
	return id
}

func (s *Server) signout(w http.ResponseWriter, r *http.Request, rq *request) error {
	s.sessions.end(rq.sess.id)
	c := s.sessionCookie("", time.Unix(0, 0))
	c.MaxAge = -1
	http.SetCookie(w, c)
	s.cfg.Logger.Info("console: signed out", "user", rq.user.Name)
	http.Redirect(w, r, Prefix+"/signin", http.StatusSeeOther)
	return nil
}

// grantedCollections returns the collections the user holds a read grant
// on (a write grant when write is set), in the store's order.
func (s *Server) grantedCollections(ctx context.Context, rq *request, write bool) ([]tearline.Collection, error) {
	grants, err := s.cfg.Users.Grants(ctx, rq.user.Name)
	if err != nil {
		return nil, err
	}
	all, err := s.cfg.Objects.Collections(ctx)
	if err != nil {
		return nil, err
	}
	var out []tearline.Collection
	for _, c := range all {
		for _, g := range grants {
			if g.Principal == rq.user.Name && g.Collection == c.ID && (g.Read && !write || g.Write && write) {
				out = append(out, c)
				break
			}
		}
	}
	return out, nil
}

// collectionFor finds a collection the user may read (or write) by id or
// alias; one they may not is not found.
func (s *Server) collectionFor(ctx context.Context, rq *request, idOrAlias string, write bool) (tearline.Collection, error) {
	cs, err := s.grantedCollections(ctx, rq, write)
	if err != nil {
		return tearline.Collection{}, err
	}
	for _, c := range cs {
		if c.ID == idOrAlias || c.Alias != "" && c.Alias == idOrAlias {
			return c, nil
		}
	}
	return tearline.Collection{}, errNotFound
}
