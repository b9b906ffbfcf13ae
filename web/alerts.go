package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/analytics"
)

// Alerts is the node's early warning as the console reads it. Every
// answer is for one local user and computed over what the release engine
// lets that user see (an analytics.View of the user): the console never
// filters alerts itself.
type Alerts interface {
	// Recent returns up to limit of the user's current alerts, newest
	// first: the match alerts of the node's own sightings and the rises
	// in sightings.
	Recent(ctx context.Context, u *tearline.User, limit int) ([]analytics.Alert, error)
	// Subscribe opens a live stream of the user's alerts; the caller
	// closes it.
	Subscribe(ctx context.Context, u *tearline.User) (*analytics.Subscription, error)
}

// ErrAlertsStarting is returned by an Alerts that is still reading the
// store: the console says so and the live stream tries again.
var ErrAlertsStarting = errors.New("early warning is still reading the store")

// LinkState is what the dashboard shows of the federation link with one
// partner.
type LinkState struct {
	Partner string
	// ToSend is how many outbox entries the partner has yet to apply;
	// ToReceive how many of the partner's this node has yet to apply.
	ToSend, ToReceive        uint64
	LastServed, LastReceived time.Time
	// Error is the newest error on the link since it last worked, and
	// ErrorAt when it happened.
	Error   string
	ErrorAt time.Time
}

// Links reads the state of the node's federation links.
type Links interface {
	LinkStates(ctx context.Context) ([]LinkState, error)
}

// streamHeartbeat is how often the live stream writes a comment to keep
// proxies from closing it, and checks that the session and the user's
// record are unchanged.
var streamHeartbeat = 15 * time.Second

// alertItem is an alert as the pages and the live stream show it.
type alertItem struct {
	ID      string       `json:"id"`
	Kind    string       `json:"kind"`
	Raised  string       `json:"raised"`
	Title   string       `json:"title"`
	Source  string       `json:"source,omitempty"`
	Actions string       `json:"actions"`
	Reports []reportItem `json:"reports,omitempty"`
}

// reportItem is one indicator an alert rests on, with its provenance and
// the inputs of its score.
type reportItem struct {
	Observable    string `json:"observable"`
	Object        string `json:"object"`
	Originator    string `json:"originator"`
	Label         string `json:"label"`
	Match         string `json:"match"`
	Score         int    `json:"score"`
	Basis         string `json:"basis"`
	Corroboration int    `json:"corroboration"`
}

func itemOf(a *analytics.Alert) alertItem {
	it := alertItem{ID: a.ID, Kind: string(a.Kind), Raised: a.Raised.UTC().Format("2006-01-02 15:04:05Z"),
		Actions: a.Actions.Level.String() + ": " + a.Actions.Text}
	if a.Actions.Level == 0 {
		it.Actions = "not known"
	}
	switch {
	case a.Kind == analytics.AlertRise && a.Rise != nil:
		it.Title = fmt.Sprintf("Rise in sightings of %s %s: %d seen, %.1f expected", a.Rise.Scope, a.Rise.Subject, a.Rise.Test.Count, a.Rise.Test.Expected)
		it.Actions = ""
	case a.Sighting != nil:
		what := a.Sighting.Observable.String()
		if a.Sighting.Observable.Kind == 0 {
			what = fmt.Sprintf("%d observables", len(a.Findings))
		}
		it.Title = "Sighting of " + what + " matches reported indicators"
		it.Source = a.Sighting.Source
		if a.SightingObject != "" {
			it.Source = a.SightingObject
		}
	default:
		it.Title = "Alert"
	}
	for _, f := range a.Findings {
		for _, r := range f.Reports {
			it.Reports = append(it.Reports, reportItem{Observable: f.Observable.String(), Object: r.Object, Originator: r.Originator,
				Label: r.Label, Match: r.Match.String(), Score: r.Assessment.Score, Basis: r.Assessment.InformationBasis,
				Corroboration: f.Corroboration})
		}
	}
	return it
}

type alertsData struct {
	Off      bool
	Starting bool
	Alerts   []alertItem
}

// recentAlerts reads the user's recent alerts for a page.
func (s *Server) recentAlerts(ctx context.Context, rq *request, limit int) (alertsData, error) {
	d := alertsData{Off: s.cfg.Alerts == nil}
	if d.Off {
		return d, nil
	}
	list, err := s.cfg.Alerts.Recent(ctx, &rq.user, limit)
	switch {
	case errors.Is(err, ErrAlertsStarting):
		d.Starting = true
		return d, nil
	case err != nil:
		return d, err
	}
	for i := range list {
		d.Alerts = append(d.Alerts, itemOf(&list[i]))
	}
	return d, nil
}

func (s *Server) alertsPage(w http.ResponseWriter, r *http.Request, rq *request) error {
	d, err := s.recentAlerts(r.Context(), rq, 100)
	if err != nil {
		return err
	}
	s.render(w, r, rq, http.StatusOK, "alerts.html", "Alerts", d)
	return nil
}

// alertStream is the live stream of the signed-in user's alerts, as
// server-sent events. It ends when the session ends or the user's record
// changes (a clearance taken away must not keep a stream opened under
// it); the browser's EventSource then reconnects, under the user's
// current view or to the sign-in page.
func (s *Server) alertStream(w http.ResponseWriter, r *http.Request, rq *request) error {
	if s.cfg.Alerts == nil {
		return errNotFound
	}
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	sub, err := s.cfg.Alerts.Subscribe(r.Context(), &rq.user)
	if errors.Is(err, ErrAlertsStarting) {
		// An EventSource gives up on an error status; an empty stream
		// with a retry delay makes it come back.
		w.WriteHeader(http.StatusOK)
		fmt.Fprint(w, "retry: 5000\n\n")
		return nil
	}
	if err != nil {
		w.Header().Del("Content-Type")
		return err
	}
	defer sub.Close()
	w.WriteHeader(http.StatusOK)
	fmt.Fprint(w, "retry: 5000\n: stream of "+rq.user.Name+"'s alerts\n\n")
	if err := rc.Flush(); err != nil {
		return nil
	}
	beat := time.NewTicker(streamHeartbeat)
	defer beat.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-beat.C:
			now, err := s.signedIn(r)
			if err != nil || now == nil || now.sess.id != rq.sess.id || !sameUser(&now.user, &rq.user) {
				return nil
			}
			fmt.Fprint(w, ": keep-alive\n\n")
		case a, ok := <-sub.C:
			if !ok {
				return nil
			}
			if a.Viewer != rq.user.Name {
				// Not this user's view: never shown (see Alerts).
				s.cfg.Logger.Error("console: alert stream: an alert for another viewer was refused", "user", rq.user.Name)
				return nil
			}
			data, err := json.Marshal(itemOf(&a))
			if err != nil {
				return nil
			}
			fmt.Fprintf(w, "event: alert\nid: %s\ndata: %s\n\n", strings.ReplaceAll(a.ID, "\n", ""), data)
		}
		if err := rc.Flush(); err != nil {
			return nil
		}
	}
}

// sameUser reports whether what decides a user's view is unchanged.
func sameUser(a, b *tearline.User) bool {
	return a.Name == b.Name && a.Nationality == b.Nationality && a.Organisation == b.Organisation &&
		a.Disabled == b.Disabled && reflect.DeepEqual(a.Clearances, b.Clearances)
}

type dashboardData struct {
	Alerts     alertsData
	LinksOff   bool
	Links      []LinkState
	Agreements []agreementView
	AgreeOff   bool
	// Pending counts the release requests waiting in the inbox that the
	// user may see; -1 when the node keeps none.
	Pending int
}

// dashboard is the console's home page (/console/home): the user's recent alerts, the
// links with partners and the agreements due for review.
func (s *Server) dashboard(w http.ResponseWriter, r *http.Request, rq *request) error {
	ctx := r.Context()
	var d dashboardData
	var err error
	if d.Alerts, err = s.recentAlerts(ctx, rq, 10); err != nil {
		return err
	}
	d.LinksOff = s.cfg.Links == nil
	if !d.LinksOff {
		if d.Links, err = s.cfg.Links.LinkStates(ctx); err != nil {
			return err
		}
	}
	d.AgreeOff = s.cfg.Agreements == nil
	if !d.AgreeOff {
		list, err := s.cfg.Agreements.Agreements(ctx)
		if err != nil {
			return err
		}
		for i := range list {
			a := &list[i]
			v := agreementView{Ref: fmt.Sprintf("%s@v%d", a.ID, a.Version), Title: a.Title, ReviewBy: a.ReviewBy}
			v.State, v.StateClass, v.Notes = agreementState(a, rq.now)
			if v.StateClass == "due" || v.StateClass == "overdue" {
				d.Agreements = append(d.Agreements, v)
			}
		}
	}
	if d.Pending, err = s.pendingInbox(ctx, rq); err != nil {
		return err
	}
	s.render(w, r, rq, http.StatusOK, "dashboard.html", "Home", d)
	return nil
}
