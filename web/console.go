package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"embed"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/stix"
)

// Users is what the console needs of the node's user store: users and
// their API tokens to sign in with (see access.Check), and the collection
// grants that open collections to them, as on the users' TAXII API.
type Users interface {
	User(ctx context.Context, name string) (tearline.User, error)
	Token(ctx context.Context, id string) (tearline.Token, [32]byte, error)
	Grants(ctx context.Context, principal string) ([]tearline.Grant, error)
}

// Objects is where the console reads stored object versions and their
// materialised release sets. A node's store (tearline.ObjectStore and
// tearline.ReleaseStore) implements it.
type Objects interface {
	Collections(ctx context.Context) ([]tearline.Collection, error)
	Objects(ctx context.Context, q tearline.ObjectQuery) (tearline.ObjectPage, error)
	ReleaseOf(ctx context.Context, collection, id string, version time.Time) (int64, []tearline.ClassRelease, error)
}

// Decider decides releases exactly as the node does for TAXII and
// federation: the same engine, agreements, registry and labels.
type Decider interface {
	// Subjects returns the decision subject of each stored version of objs
	// (in collection), in order: its label as this node reads it from the
	// object's markings. A version whose label cannot be read MUST get a
	// subject with the zero label, which every decision denies; a nil
	// subject is treated as a denial.
	Subjects(ctx context.Context, collection string, objs []tearline.StoredObject) ([]*policy.Subject, error)
	// NewSubject is the subject of an object about to be published on this
	// node under label l.
	NewSubject(obj *tearline.Object, v *stix.Value, l tearline.Label) *policy.Subject
	// Decide decides one request, with the reasons.
	Decide(req *policy.Request) tearline.Decision
	// Partners lists the partners the node releases to at a time: those
	// sharing an agreement in force with it.
	Partners(at time.Time) []string
	// Recipient is a partner as a decision sees it at a time.
	Recipient(code string, at time.Time) *tearline.Recipient
	// Communities lists the community codes the node knows (FVEY, NATO
	// and those of its config), for REL TO.
	Communities() []string
}

// Publication is what a user publishes: STIX content, every object of
// which carries no markings of its own, to be stored under Label.
type Publication struct {
	// Collection is the id of the collection that receives the objects.
	Collection string
	// Content is STIX 2.1: a bundle, objects, or JSON lines.
	Content []byte
	// Label is valid and normalised (label.Validate, label.Normalize).
	Label tearline.Label
	// Actor is the publishing user's name, for the audit log.
	Actor string
}

// PublishResult says what happened to the objects published.
type PublishResult struct {
	Read, Added, Present int
	Rejections           []Rejection
}

// Rejection is an object the store refused, and why.
type Rejection struct {
	Index   int
	ID      string
	Rule    string
	Message string
}

// Publisher stores what users publish. Implementations MUST go through
// the node's one ingest path, give every object the label's markings and
// its release class, bring the release sets up to date, and record the
// publication and its actor in the audit log.
type Publisher interface {
	Publish(ctx context.Context, p Publication) (PublishResult, error)
}

// Audit is the node's audit log as the console reads it.
type Audit interface {
	Size(ctx context.Context) (uint64, error)
	Entry(ctx context.Context, index uint64) ([]byte, error)
	InclusionProof(ctx context.Context, index, size uint64) ([][]byte, error)
	// NewestCheckpoint returns the newest checkpoint the node signed,
	// verified with the node's keys, and its signed text; an error
	// wrapping tearline.ErrNotFound when there is none yet.
	NewestCheckpoint(ctx context.Context) (ledger.Checkpoint, []byte, error)
}

// Agreements lists the agreements the node's decisions use: the newest
// version of each.
type Agreements interface {
	Agreements(ctx context.Context) ([]tearline.Agreement, error)
}

// PartnerCard is a pinned partner's card as the console shows it.
type PartnerCard struct {
	Code, Name string
	// Fingerprint is what operators compared out of band before pinning.
	Fingerprint             string
	SigningKeyID, HPKEKeyID string
	TLSCertificateSHA256    string
	Endpoints               []string
	Issued                  time.Time
}

// Partners lists the partners whose cards the node has pinned.
type Partners interface {
	PartnerCards(ctx context.Context) ([]PartnerCard, error)
}

// NodeInfo names the node in the banner of every page.
type NodeInfo struct {
	Partner string // the node's partner code
	Name    string
}

// Config is what the console reads the node through. Users, Objects and
// Decider are required; a nil Publisher, Audit, Agreements, Partners or
// Requests turns the matching pages into an explanation that the node
// does not offer them.
type Config struct {
	Node       NodeInfo
	Users      Users
	Objects    Objects
	Decider    Decider
	Publisher  Publisher
	Audit      Audit
	Agreements Agreements
	// AgreementImpact previews agreement changes for administrators; nil
	// leaves the preview out of the agreements page.
	AgreementImpact AgreementImpact
	Partners        Partners
	// Alerts feeds the alerts page, its live stream and the dashboard;
	// Links the dashboard's link states. Either may be nil.
	Alerts Alerts
	Links  Links
	// Exercises runs the exercises the exercises page starts; nil turns
	// the page into an explanation that the node offers none.
	Exercises Exercises
	// Requests is the consent workflow: the release requests pages, the
	// tearline editor and the object page's request for onward release.
	Requests Requests

	Logger *slog.Logger
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// SessionLifetime bounds a session from sign-in (default 8 hours);
	// IdleTimeout ends one unused for that long (default 30 minutes). A
	// session never outlives the API token it was opened with.
	SessionLifetime, IdleTimeout time.Duration
}

//go:embed templates static
var assets embed.FS

// Server is the console's HTTP handler. Mount it on the users' mux.
type Server struct {
	cfg      Config
	pages    map[string]*template.Template
	static   fs.FS
	mux      *http.ServeMux
	sessions *sessions
	limiter  *signinLimiter
	// previewKey binds a publication to the preview the user saw (see
	// previewDigest); it lives as long as the process, like the sessions.
	previewKey []byte
	// exercises are the runs started from the exercises page.
	exercises exerciseRuns
}

// New builds the console. It fails when a required source is missing.
func New(cfg Config) (*Server, error) {
	switch {
	case cfg.Users == nil:
		return nil, errors.New("console: no user store")
	case cfg.Objects == nil:
		return nil, errors.New("console: no object store")
	case cfg.Decider == nil:
		return nil, errors.New("console: no release decider")
	case cfg.Node.Partner == "":
		return nil, errors.New("console: the node has no partner code")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.SessionLifetime <= 0 {
		cfg.SessionLifetime = 8 * time.Hour
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 30 * time.Minute
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	static, err := fs.Sub(assets, "static")
	if err != nil {
		return nil, err
	}
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, pages: pages, static: static, previewKey: key,
		sessions: newSessions(cfg.SessionLifetime, cfg.IdleTimeout),
		limiter:  newSigninLimiter()}
	s.routes()
	return s, nil
}

// Mount serves the console under /console/ on mux.
func (s *Server) Mount(mux *http.ServeMux) {
	mux.Handle("/console/", s)
	mux.Handle("/console", s)
}

// Prefix is the path the console is served under.
const Prefix = "/console"

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("GET /console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/", http.StatusSeeOther)
	})
	m.HandleFunc("GET /console/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, Prefix+"/objects", http.StatusSeeOther)
	})
	m.Handle("GET /console/home", s.authed(s.dashboard))
	m.HandleFunc("GET /console/static/{file}", s.serveStatic)
	m.HandleFunc("GET /console/signin", s.signinPage)
	m.HandleFunc("POST /console/signin", s.signin)
	m.Handle("POST /console/signout", s.mutating(s.signout))

	m.Handle("GET /console/objects", s.authed(s.objectsPage))
	m.Handle("GET /console/objects/{collection}/{id}", s.authed(s.objectPage))
	m.Handle("GET /console/objects/{collection}/{id}/json", s.authed(s.objectJSON))

	m.Handle("GET /console/publish", s.authed(s.publishPage))
	m.Handle("POST /console/publish/label", s.mutating(s.checkLabel))
	m.Handle("POST /console/publish/preview", s.mutating(s.preview))
	m.Handle("POST /console/publish", s.mutating(s.publish))

	m.Handle("GET /console/audit", s.authed(s.auditPage))
	m.Handle("GET /console/audit/{index}", s.authed(s.auditEntry))

	m.Handle("GET /console/agreements", s.authed(s.agreementsPage))
	m.Handle("POST /console/agreements/preview", s.mutating(s.previewAgreement))
	m.Handle("GET /console/partners", s.authed(s.partnersPage))

	m.Handle("GET /console/alerts", s.authed(s.alertsPage))
	m.Handle("GET /console/alerts/stream", s.authed(s.alertStream))

	m.Handle("GET /console/exercises", s.authed(s.exercisesPage))
	m.Handle("POST /console/exercises", s.authed(s.startExercisePost))
	m.Handle("GET /console/exercises/{run}", s.authed(s.exercisePage))
	m.Handle("GET /console/exercises/{run}/status", s.authed(s.exerciseStatusJSON))
	m.Handle("GET /console/exercises/{run}/scorecard", s.authed(s.exerciseScorecard))
	m.Handle("GET /console/exercises/{run}/scorecard.json", s.authed(s.exerciseScorecardJSON))

	m.Handle("GET /console/requests", s.authed(s.requestsPage))
	m.Handle("POST /console/requests/{id}/approve", s.mutating(s.approveRequest))
	m.Handle("POST /console/requests/{id}/deny", s.mutating(s.denyRequest))
	m.Handle("GET /console/requests/{id}/tearline", s.authed(s.tearlinePage))
	m.Handle("POST /console/requests/{id}/tearline/preview", s.mutating(s.tearlinePreview))
	m.Handle("POST /console/requests/{id}/tearline", s.mutating(s.tearlineApprove))
	m.Handle("POST /console/objects/{collection}/{id}/request", s.mutating(s.askRelease))

	m.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		s.fail(w, r, nil, errNotFound)
	})
	s.mux = m
}

// ServeHTTP sets the security headers on every response, then routes.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	setSecurityHeaders(w.Header())
	s.mux.ServeHTTP(w, r)
}

// contentSecurityPolicy allows only the node's own script, style and
// images, no inline code, no plug-ins, no framing, and forms that post
// only back to the node.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", contentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	// Object ids in URLs must not leak to other sites through Referer;
	// same-origin (not no-referrer) keeps the Origin header on the
	// node's own form posts, which sameOrigin checks.
	h.Set("Referrer-Policy", "same-origin")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	h.Set("Strict-Transport-Security", "max-age=31536000")
	// Pages carry classified material: no cache, shared or private, keeps
	// them after the session ends.
	h.Set("Cache-Control", "no-store")
}

func (s *Server) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("file")
	data, err := fs.ReadFile(s.static, name)
	if err != nil {
		s.fail(w, r, nil, errNotFound)
		return
	}
	switch {
	case strings.HasSuffix(name, ".css"):
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
	case strings.HasSuffix(name, ".js"):
		w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	case strings.HasSuffix(name, ".svg"):
		w.Header().Set("Content-Type", "image/svg+xml")
	default:
		w.Header().Set("Content-Type", "application/octet-stream")
	}
	// Assets hold no object data and change only with the binary.
	w.Header().Set("Cache-Control", "private, max-age=3600")
	w.Write(data)
}

// Errors the handlers return; fail maps them to responses in one place.
var (
	errNotFound  = fmt.Errorf("console: %w", tearline.ErrNotFound)
	errForbidden = errors.New("console: forbidden")
)

// userError is a mistake in what the user sent: shown to them with what
// to do.
type userError struct {
	msg string
}

func (e *userError) Error() string { return e.msg }

func badInput(format string, args ...any) error { return &userError{msg: fmt.Sprintf(format, args...)} }

// fail writes the response for err. A missing object and one the user may
// not see give the same page, byte for byte; internal details go to the
// log, never to the browser.
func (s *Server) fail(w http.ResponseWriter, r *http.Request, rq *request, err error) {
	var ue *userError
	switch {
	case errors.Is(err, tearline.ErrNotFound):
		s.render(w, r, rq, http.StatusNotFound, "error.html", "Not found", errorPage{
			Heading: "Not found", Message: "There is nothing here, or nothing you may see."})
	case errors.Is(err, errForbidden):
		s.render(w, r, rq, http.StatusForbidden, "error.html", "Refused", errorPage{
			Heading: "Refused", Message: "The request was refused: it did not carry this session's form token. Reload the page and try again."})
	case errors.As(err, &ue):
		s.render(w, r, rq, http.StatusBadRequest, "error.html", "Cannot do that", errorPage{
			Heading: "Cannot do that", Message: ue.msg})
	default:
		s.cfg.Logger.Error("console", "method", r.Method, "path", r.URL.Path, "err", err)
		s.render(w, r, rq, http.StatusInternalServerError, "error.html", "Internal error", errorPage{
			Heading: "Internal error", Message: "The node could not answer; the error is in its log."})
	}
}

type errorPage struct {
	Heading, Message string
}

// page is what every page's layout reads: the banner and the navigation.
type page struct {
	Title     string
	Node      NodeInfo
	User      *tearline.User
	Clearance string
	CSRF      string
	Section   string
	Data      any
}

var pageFiles = []string{"signin.html", "error.html", "objects.html", "object.html", "publish.html",
	"published.html", "audit.html", "entry.html", "agreements.html", "partners.html", "alerts.html", "dashboard.html",
	"exercises.html", "exercises-run.html", "requests.html", "tearline.html"}

var funcs = template.FuncMap{
	"day": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format(time.DateOnly)
	},
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "-"
		}
		return t.UTC().Format("2006-01-02 15:04:05Z")
	},
	"join": strings.Join,
	// consentTerms are the terms of the consent select of an approval.
	"consentTerms": func() []consentTerm { return consentTerms },
	"outcome":      outcomeClass,
	"upper":        strings.ToUpper,
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageFiles {
		t, err := template.New(name).Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/picker.html", "templates/"+name)
		if err != nil {
			return nil, fmt.Errorf("console template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes a page. The page is rendered to memory first, so that a
// template error never leaves half a page (or half an object) on the wire.
func (s *Server) render(w http.ResponseWriter, r *http.Request, rq *request, status int, name, title string, data any) {
	p := page{Title: title, Node: s.cfg.Node, Data: data}
	if rq != nil {
		p.User = &rq.user
		p.Clearance = clearanceText(rq.user.Clearances)
		p.CSRF = rq.sess.csrf
	}
	p.Section = section(r.URL.Path)
	var b bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&b, "layout", p); err != nil {
		s.cfg.Logger.Error("console: render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

func section(path string) string {
	rest := strings.TrimPrefix(path, Prefix+"/")
	head, _, _ := strings.Cut(rest, "/")
	return head
}

// clearanceText writes a user's clearances as people say them: the
// highest level held under each policy ("GBR SECRET"), with any category
// values held.
func clearanceText(cs []tearline.Clearance) string {
	if len(cs) == 0 {
		return "no clearance"
	}
	var parts []string
	for _, c := range cs {
		top := ""
		if sch, ok := label.LookupScheme(c.Policy); ok {
			best := -1
			for _, l := range c.Levels {
				if r, ok := sch.Rank(l); ok && r > best {
					best, top = r, sch.Levels()[r]
				}
			}
		}
		if top == "" && len(c.Levels) > 0 {
			top = c.Levels[len(c.Levels)-1]
		}
		text := strings.TrimSpace(c.Policy + " " + top)
		names := make([]string, 0, len(c.Categories))
		for name := range c.Categories {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			text += " · " + name + ": " + strings.Join(c.Categories[name], ", ")
		}
		parts = append(parts, text)
	}
	return strings.Join(parts, "; ")
}

// outcomeClass is the CSS class of a decision's outcome.
func outcomeClass(o tearline.Outcome) string {
	switch o {
	case tearline.Allow, tearline.AllowVariant:
		return "allow"
	case tearline.NeedsConsent, tearline.NeedsPerson:
		return "pending"
	}
	return "deny"
}
