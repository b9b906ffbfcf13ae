package web

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/release"
)

// objSecretRelay is a GBR SECRET indicator of secret-relay.example: j.smith
// may see it, k.low may not.
const objSecretRelay = "indicator--7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d"

// testAlerts is the node's early warning as cmd/tearline wires it: a real
// corpus over the test store, each user's view decided by the release
// engine for that user.
type testAlerts struct {
	corpus *analytics.Corpus
	rel    *release.Releaser
}

func (a *testAlerts) view(u *tearline.User) (*analytics.View, error) {
	d, err := analytics.LocalUserDecider(a.rel.Engine, access.Recipient(u), time.Now())
	if err != nil {
		return nil, err
	}
	return a.corpus.NewView(u.Name, d)
}

func (a *testAlerts) Recent(_ context.Context, u *tearline.User, limit int) ([]analytics.Alert, error) {
	v, err := a.view(u)
	if err != nil {
		return nil, err
	}
	out, err := a.corpus.SightingAlerts(v)
	if err != nil {
		return nil, err
	}
	return out[:min(len(out), limit)], nil
}

func (a *testAlerts) Subscribe(_ context.Context, u *tearline.User) (*analytics.Subscription, error) {
	v, err := a.view(u)
	if err != nil {
		return nil, err
	}
	return a.corpus.Subscribe(v, 16)
}

// withAlerts adds a SECRET indicator of secret-relay.example to the test
// node, builds the corpus of its store and serves the console with it.
func withAlerts(t *testing.T, n *testNode) *analytics.Corpus {
	t.Helper()
	ctx := context.Background()
	ind := strings.Replace(labelled(t, objSecretRelay, "Secret relay", "GBR SECRET"), "[ipv4-addr:value = '203.0.113.9']", "[domain-name:value = 'secret-relay.example']", 1)
	if err := (&testPublisher{n: n}).ingest(ctx, n.coll.ID, []byte(ind), nil); err != nil {
		t.Fatal(err)
	}
	c, err := analytics.Build(ctx, n.store, analytics.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n.cfg.Alerts = &testAlerts{corpus: c, rel: n.rel}
	n.start(t)
	return c
}

// record records a sighting the node made itself, as a log feed would.
func record(t *testing.T, c *analytics.Corpus, kind analytics.Kind, value, source string) {
	t.Helper()
	o, err := analytics.Normalise(kind, value)
	if err != nil {
		t.Fatal(err)
	}
	if kept, err := c.Record(analytics.Sighting{Observable: o, Source: source}); err != nil || !kept {
		t.Fatalf("Record(%s) = %v, %v; want it kept", o, kept, err)
	}
}

// TestAlertStreamHTTP: the stream is text/event-stream under the
// console's CSP, for signed-in users only, and carries exactly the
// user's alerts.
func TestAlertStreamHTTP(t *testing.T) {
	n := newTestNode(t)
	c := withAlerts(t, n)
	if r := n.client(t).get("/console/alerts/stream"); r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/signin" {
		t.Fatalf("GET /console/alerts/stream without a session = %d %s; want a redirect to sign-in", r.status, r.header.Get("Location"))
	}
	type line struct {
		text string
		err  error
	}
	open := func(user string) (*http.Response, chan line) {
		cl := n.client(t)
		cl.signIn(user)
		req, err := http.NewRequest("GET", n.ts.URL+"/console/alerts/stream", nil)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		t.Cleanup(cancel)
		resp, err := cl.http.Do(req.WithContext(ctx))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { resp.Body.Close() })
		lines := make(chan line, 100)
		go func() {
			sc := bufio.NewScanner(resp.Body)
			for sc.Scan() {
				lines <- line{text: sc.Text()}
			}
			lines <- line{err: sc.Err()}
			close(lines)
		}()
		// The stream opens with its retry delay once subscribed.
		if l := <-lines; l.text != "retry: 5000" {
			t.Fatalf("%s's stream starts with %q, %v; want the retry delay", user, l.text, l.err)
		}
		return resp, lines
	}
	cleared, clearedLines := open("j.smith")
	_, lowLines := open("k.low")
	for _, h := range []struct{ name, want string }{
		{"Content-Type", "text/event-stream"},
		{"Content-Security-Policy", contentSecurityPolicy},
		{"Cache-Control", "no-store"},
	} {
		if got := cleared.Header.Get(h.name); got != h.want {
			t.Errorf("stream %s = %q; want %q", h.name, got, h.want)
		}
	}
	// The first sighting matches only the SECRET indicator, the second
	// the OFFICIAL one that both may see.
	record(t, c, analytics.KindDomain, "secret-relay.example", "proxy.log:7")
	record(t, c, analytics.KindIPv4, "203.0.113.9", "fw.log:3")
	events := func(lines chan line, want int) []string {
		var out []string
		deadline := time.After(10 * time.Second)
		for len(out) < want {
			select {
			case l, ok := <-lines:
				if !ok || l.err != nil {
					t.Fatalf("stream ended after %d events: %v", len(out), l.err)
				}
				if data, ok := strings.CutPrefix(l.text, "data: "); ok {
					out = append(out, data)
				}
			case <-deadline:
				t.Fatalf("%d events within 10s; want %d: %q", len(out), want, out)
			}
		}
		return out
	}
	got := events(clearedLines, 2)
	if !strings.Contains(got[0], "secret-relay.example") || !strings.Contains(got[0], objSecretRelay) || !strings.Contains(got[1], objOfficial) {
		t.Errorf("j.smith's events = %q; want the secret relay's alert, then the OFFICIAL indicator's", got)
	}
	// k.low's stream is in order too: its first event is the second
	// sighting's, so nothing came of the first.
	low := events(lowLines, 1)
	if strings.Contains(low[0], "secret-relay") || strings.Contains(low[0], objSecretRelay) || strings.Contains(low[0], objSecret) ||
		!strings.Contains(low[0], objOfficial) || !strings.Contains(low[0], "fw.log:3") {
		t.Errorf("k.low's first event = %s; want only the OFFICIAL indicator's alert", low[0])
	}
}

// TestBrowserLiveAlerts: an alert appears live on the Alerts page of the
// user cleared for the indicator, and never on the page of the user who
// is not, whose page still shows the alerts they may see.
func TestBrowserLiveAlerts(t *testing.T) {
	n := newTestNode(t)
	c := withAlerts(t, n)
	cleared := browser(t, n)
	uncleared := browser(t, n)
	for user, ctx := range map[string]context.Context{"j.smith": cleared, "k.low": uncleared} {
		browserSignIn(t, ctx, n, user, "")
		do(t, ctx, "open alerts for "+user,
			chromedp.Navigate(n.ts.URL+"/console/alerts"),
			// Waits on the DOM, not on a polled script: a script's
			// context ends with a navigation still settling.
			chromedp.WaitReady(chromedp.CSS(`#live-alerts[data-connected="true"]`)))
	}
	record(t, c, analytics.KindDomain, "secret-relay.example", "proxy.log:7")
	do(t, cleared, "the alert appears for j.smith",
		chromedp.WaitReady(chromedp.CSS(`#live-alerts > li`)))
	if nItems := eval[int](t, cleared, `document.querySelectorAll('#live-alerts li').length`); nItems != 1 {
		t.Errorf("j.smith's page shows %d live alerts; want 1", nItems)
	}
	if got := text(t, cleared, "#live-alerts"); !strings.Contains(got, "secret-relay.example") || !strings.Contains(got, objSecretRelay) ||
		!strings.Contains(got, "GBR SECRET") {
		t.Errorf("j.smith's live alerts = %q; want the secret relay's indicator and its label", got)
	}
	screenshot(t, cleared, "11-alerts-live")
	record(t, c, analytics.KindIPv4, "203.0.113.9", "fw.log:3")
	do(t, uncleared, "the OFFICIAL alert appears for k.low",
		chromedp.WaitReady(chromedp.CSS(`#live-alerts > li`)))
	do(t, cleared, "and for j.smith",
		chromedp.WaitReady(chromedp.CSS(`#live-alerts > li:nth-of-type(2)`)))
	got := text(t, uncleared, "#live-alerts")
	if strings.Contains(got, "secret-relay") || strings.Contains(got, objSecretRelay) || strings.Contains(got, objSecret) || !strings.Contains(got, objOfficial) {
		t.Errorf("k.low's live alerts = %q; want the OFFICIAL indicator's alert and nothing of the SECRET ones", got)
	}
	if nItems := eval[int](t, uncleared, `document.querySelectorAll('#live-alerts li').length`); nItems != 1 {
		t.Errorf("k.low's page shows %d live alerts; want 1", nItems)
	}
	screenshot(t, uncleared, "12-alerts-uncleared")
	// The dashboard's links and agreements, and nothing inline: the page
	// works under the CSP.
	do(t, cleared, "open home", chromedp.Navigate(n.ts.URL+"/console/home"), chromedp.WaitVisible(chromedp.CSS("#dash-agreements")))
	home := text(t, cleared, "main")
	if !strings.Contains(home, "Recent alerts") || !strings.Contains(home, "Agreements due for review") {
		t.Errorf("home = %q; want its alerts and agreements sections", home)
	}
	screenshot(t, cleared, "13-home")
	if inline := eval[bool](t, cleared, `Array.from(document.scripts).some(s => !s.src)`); inline {
		t.Error("the home page carries an inline script")
	}
}

// TestDashboardSections: the home page shows the user's recent alerts
// (only theirs), the link states and the agreements due for review.
func TestDashboardSections(t *testing.T) {
	n := newTestNode(t)
	n.cfg.Links = testLinks{{Partner: "USA", ToSend: 3, ToReceive: 1, Error: "connection refused", ErrorAt: time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)}}
	withAlerts(t, n)
	c := n.client(t)
	c.signIn("j.smith")
	r := c.get("/console/home")
	if r.status != 200 {
		t.Fatalf("GET /console/home = %d\n%s", r.status, r.body)
	}
	for _, want := range []string{`id="links"`, `data-partner="USA"`, "connection refused", "Agreements due for review", `id="no-alerts"`} {
		if !strings.Contains(r.body, want) {
			t.Errorf("home lacks %q", want)
		}
	}
	if r.header.Get("Content-Security-Policy") != contentSecurityPolicy {
		t.Errorf("home CSP = %q", r.header.Get("Content-Security-Policy"))
	}
	if strings.Contains(r.body, "<script>") || strings.Contains(r.body, " onclick=") {
		t.Error("the home page carries inline script")
	}
}

type testLinks []LinkState

func (l testLinks) LinkStates(context.Context) ([]LinkState, error) { return l, nil }
