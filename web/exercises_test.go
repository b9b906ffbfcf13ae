package web

import (
	"bytes"
	"context"
	"fmt"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/exercise"
)

// The real Exercises, which starts a federation of nodes, lives with the
// node's command (cmd/tearline) and is tested there. Here the console's
// pages play real scenarios through exercise.Run on memFed.

// memFed is a federation in memory: an object reaches the nations its
// banner's REL TO names unless the link is cut or either node is down,
// and arrives once that is over. It plays publish, partition, heal, kill
// and restart; every other inject is unsupported.
type memFed struct {
	mu      sync.Mutex
	held    map[string]map[string]bool // nation → object ids
	relTo   map[string][]string        // object id → nations it is released to
	pending [][3]string                // object id, from, to
	cut     map[[2]string]bool
	down    map[string]bool
}

var _ exercise.Federation = (*memFed)(nil)

func newMemFed() *memFed {
	return &memFed{held: map[string]map[string]bool{}, relTo: map[string][]string{}, cut: map[[2]string]bool{}, down: map[string]bool{}}
}

// relTo reads the nations of a banner's REL TO.
func relTo(banner string) []string {
	for _, part := range strings.Split(banner, "//") {
		if list, ok := strings.CutPrefix(part, "REL TO "); ok {
			return strings.Split(list, ", ")
		}
	}
	return nil
}

func (f *memFed) hold(nation, id string) {
	if f.held[nation] == nil {
		f.held[nation] = map[string]bool{}
	}
	f.held[nation][id] = true
}

// deliver moves what may move now.
func (f *memFed) deliver() {
	var still [][3]string
	for _, p := range f.pending {
		if f.cut[[2]string{p[1], p[2]}] || f.down[p[1]] || f.down[p[2]] {
			still = append(still, p)
			continue
		}
		f.hold(p[2], p[0])
	}
	f.pending = still
}

func (f *memFed) Publish(ctx context.Context, nation string, obj exercise.Object) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.hold(nation, obj.ID)
	f.relTo[obj.ID] = relTo(obj.Banner)
	for _, to := range f.relTo[obj.ID] {
		if to != nation {
			f.pending = append(f.pending, [3]string{obj.ID, nation, to})
		}
	}
	return nil
}

func (f *memFed) Holds(ctx context.Context, nation, id string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.deliver()
	return f.held[nation][id], nil
}

func (f *memFed) Decide(ctx context.Context, holder, id, recipient string) (tearline.Decision, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if slices.Contains(f.relTo[id], recipient) {
		return tearline.Decision{Outcome: tearline.Allow}, nil
	}
	return tearline.Decision{Outcome: tearline.Deny}, nil
}

func (f *memFed) link(a, b string, cut bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cut[[2]string{a, b}], f.cut[[2]string{b, a}] = cut, cut
	return nil
}

func (f *memFed) node(nation string, down bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.down[nation] = down
	return nil
}

func (f *memFed) Partition(ctx context.Context, a, b string) error { return f.link(a, b, true) }
func (f *memFed) Heal(ctx context.Context, a, b string) error      { return f.link(a, b, false) }
func (f *memFed) Kill(ctx context.Context, nation string) error    { return f.node(nation, true) }
func (f *memFed) Restart(ctx context.Context, nation string) error { return f.node(nation, false) }

func (f *memFed) Sight(context.Context, string, string) error { return exercise.ErrUnsupported }
func (f *memFed) Request(context.Context, string, string, string) (string, error) {
	return "", exercise.ErrUnsupported
}
func (f *memFed) Approve(context.Context, string, string) error { return exercise.ErrUnsupported }
func (f *memFed) Deny(context.Context, string, string) error    { return exercise.ErrUnsupported }
func (f *memFed) Recall(context.Context, string, string) error  { return exercise.ErrUnsupported }
func (f *memFed) AddAgreement(context.Context, []string, exercise.Agreement) error {
	return exercise.ErrUnsupported
}
func (f *memFed) Join(context.Context, string, string) error { return exercise.ErrUnsupported }
func (f *memFed) RotateKey(context.Context, string, string) (string, error) {
	return "", exercise.ErrUnsupported
}
func (f *memFed) Relayed(context.Context, string, string, string) (uint64, error) {
	return 0, exercise.ErrUnsupported
}
func (f *memFed) HubStorage(context.Context, string) (map[string][]byte, error) {
	return nil, exercise.ErrUnsupported
}

// memExercises plays each scenario on a new memFed; gate, when set, holds
// every run before its first inject until it is closed.
type memExercises struct {
	gate chan struct{}
}

func (x *memExercises) Run(ctx context.Context, sc *exercise.Scenario, progress func(string)) (*exercise.Scorecard, error) {
	progress(fmt.Sprintf("exercise %s: starting %d nodes (%s)", sc.ID, len(sc.Nations), strings.Join(sc.NationCodes(), ", ")))
	if x.gate != nil {
		select {
		case <-x.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	card, err := exercise.Run(ctx, sc, newMemFed(), exercise.Options{Speed: 120, Grace: 2 * time.Second, Progress: func(ev exercise.Event) {
		state := "played"
		if ev.Error != "" {
			state = "FAILED: " + ev.Error
		}
		progress(fmt.Sprintf("%7s  %-10s %-4s %s  %s", ev.At, ev.Kind, ev.Nation, ev.Detail, state))
	}})
	if err != nil {
		return nil, err
	}
	progress(fmt.Sprintf("%d expectations met, %d missed", card.Met, card.Missed))
	return card, nil
}

// withAdmin adds the administrator a.admin to the test node and serves
// the console again with x as its Exercises.
func withAdmin(t *testing.T, n *testNode, x Exercises) {
	t.Helper()
	ctx := context.Background()
	u := tearline.User{Name: "a.admin", Nationality: "GBR", Clearances: []tearline.Clearance{{Policy: "GBR", Levels: levels("GBR", "SECRET")}},
		Roles: []tearline.Role{tearline.RoleAdmin}, Created: time.Now().UTC()}
	if err := n.store.PutUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	tok, hash, secret, err := access.NewToken(u.Name, time.Now(), 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.store.AddToken(ctx, tok, hash); err != nil {
		t.Fatal(err)
	}
	if err := n.store.SetGrant(ctx, tearline.Grant{Principal: u.Name, Collection: n.coll.ID, Read: true}); err != nil {
		t.Fatal(err)
	}
	n.tokens[u.Name] = secret
	n.cfg.Exercises = x
	n.start(t)
}

// postScenario posts the start form as the browser does: multipart, with
// the file under "scenario" when name is set.
func (c *client) postScenario(csrf, builtin, name string, data []byte) response {
	c.t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	mw.WriteField("builtin", builtin)
	if name != "" {
		fw, err := mw.CreateFormFile("scenario", name)
		if err != nil {
			c.t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.Close()
	req, err := http.NewRequest("POST", c.n.ts.URL+"/console/exercises", &body)
	if err != nil {
		c.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.n.ts.URL)
	return c.do(req)
}

const threeNations = "../cmd/tearline/testdata/three-nations.yaml"

// TestExercisesStart: only an administrator starts a run, with the form
// token; an uploaded file is bounded and parsed, its problems shown; one
// run at a time; a run's status and scorecard need a session.
func TestExercisesStart(t *testing.T) {
	n := newTestNode(t)
	x := &memExercises{gate: make(chan struct{})}
	withAdmin(t, n, x)
	scenario, err := os.ReadFile(threeNations)
	if err != nil {
		t.Fatal(err)
	}

	analyst := n.client(t)
	analyst.signIn("j.smith")
	if p := analyst.get("/console/exercises"); p.status != 200 || !strings.Contains(p.body, `data-scenario="five-nations"`) || strings.Contains(p.body, `id="exercise-form"`) {
		t.Errorf("GET /console/exercises as an analyst = %d; want the built-in scenarios and no start form\n%s", p.status, p.body)
	}
	csrf := analyst.csrf
	if r := analyst.postScenario(csrf, "five-nations", "", nil); r.status != http.StatusForbidden || !strings.Contains(r.body, "Only an administrator") {
		t.Errorf("start as an analyst = %d; want 403\n%s", r.status, r.body)
	}

	admin := n.client(t)
	admin.signIn("a.admin")
	if p := admin.get("/console/exercises"); !strings.Contains(p.body, `id="exercise-form"`) || !strings.Contains(p.body, `enctype="multipart/form-data"`) {
		t.Fatalf("exercises page as an administrator has no start form:\n%s", p.body)
	}
	tests := []struct {
		name          string
		csrf, builtin string
		file          string
		data          []byte
		status        int
		want          string
	}{
		{"no form token", "", "five-nations", "", nil, http.StatusForbidden, "form token"},
		{"another session's token", csrf, "five-nations", "", nil, http.StatusForbidden, "form token"},
		{"nothing chosen", admin.csrf, "", "", nil, http.StatusBadRequest, "Choose a built-in scenario"},
		{"unknown built-in", admin.csrf, "six-nations", "", nil, http.StatusBadRequest, "no built-in scenario"},
		{"broken file", admin.csrf, "", "broken.yaml", bytes.Replace(scenario, []byte("  - {code: FRA, name: France}\n"), nil, 1),
			http.StatusBadRequest, "broken.yaml cannot be played"},
		{"file too large", admin.csrf, "", "huge.yaml", bytes.Repeat([]byte("# padding\n"), 40<<10), http.StatusBadRequest, "at most 256 KiB"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := admin.postScenario(tt.csrf, tt.builtin, tt.file, tt.data)
			if r.status != tt.status || !strings.Contains(r.body, tt.want) {
				t.Errorf("start = %d; want %d with %q\n%s", r.status, tt.status, tt.want, r.body)
			}
		})
	}
	if p := admin.get("/console/exercises"); strings.Contains(p.body, `data-run=`) {
		t.Fatalf("a refused start left a run:\n%s", p.body)
	}

	r := admin.postScenario(admin.csrf, "", "three-nations.yaml", scenario)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/console/exercises/1" {
		t.Fatalf("start three-nations = %d %s\n%s", r.status, r.header.Get("Location"), r.body)
	}
	if r := admin.postScenario(admin.csrf, "five-nations", "", nil); r.status != http.StatusBadRequest || !strings.Contains(r.body, "already running") {
		t.Errorf("a second start while one runs = %d; want 400\n%s", r.status, r.body)
	}
	if p := admin.get("/console/exercises/1/scorecard"); p.status != http.StatusNotFound {
		t.Errorf("scorecard of a running exercise = %d; want 404", p.status)
	}
	anon := n.client(t)
	for _, path := range []string{"/console/exercises", "/console/exercises/1", "/console/exercises/1/status", "/console/exercises/1/scorecard"} {
		if p := anon.get(path); p.status != http.StatusSeeOther || strings.Contains(p.body, "three-nations") {
			t.Errorf("GET %s without a session = %d; want a redirect to sign in", path, p.status)
		}
	}
	close(x.gate)
	deadline := time.Now().Add(time.Minute)
	for !strings.Contains(analyst.get("/console/exercises/1/status").body, `"done":true`) {
		if time.Now().After(deadline) {
			t.Fatal("the run did not finish in a minute")
		}
		time.Sleep(50 * time.Millisecond)
	}
	p := analyst.get("/console/exercises/1/scorecard")
	if p.status != 200 || !strings.Contains(p.body, `<svg id="timeline"`) {
		t.Fatalf("scorecard = %d; want the page with its timeline\n%s", p.status, p.body)
	}
	if csp := p.header.Get("Content-Security-Policy"); csp != scorecardPolicy {
		t.Errorf("scorecard Content-Security-Policy = %q; want %q", csp, scorecardPolicy)
	}
	if p := analyst.get("/console/exercises/2/status"); p.status != http.StatusNotFound {
		t.Errorf("status of a run that never was = %d; want 404", p.status)
	}
}

// TestExercisesOff: a node without exercises says so and starts none.
func TestExercisesOff(t *testing.T) {
	n := newTestNode(t)
	withAdmin(t, n, nil)
	admin := n.client(t)
	admin.signIn("a.admin")
	if p := admin.get("/console/exercises"); p.status != 200 || !strings.Contains(p.body, "runs no exercises") {
		t.Errorf("GET /console/exercises = %d; want the explanation\n%s", p.status, p.body)
	}
	if r := admin.postScenario(admin.csrf, "five-nations", "", nil); r.status != http.StatusNotFound {
		t.Errorf("start on a node without exercises = %d; want 404", r.status)
	}
}

// TestBrowserExercise: an administrator uploads three-nations.yaml, follows
// its injects live, sees the verdict and opens the scorecard with its
// timeline; an analyst gets no start form.
func TestBrowserExercise(t *testing.T) {
	n := newTestNode(t)
	withAdmin(t, n, &memExercises{})
	file, err := filepath.Abs(threeNations)
	if err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "a.admin", "")
	do(t, ctx, "open exercises",
		chromedp.Navigate(n.ts.URL+"/console/exercises"),
		chromedp.WaitVisible(chromedp.CSS("#exercise-form")))
	screenshot(t, ctx, "20-exercises")
	do(t, ctx, "upload three-nations.yaml and start",
		chromedp.SetUploadFiles(chromedp.CSS("#scenario-file"), []string{file}),
		chromedp.Click(chromedp.CSS("#start-exercise")),
		chromedp.WaitVisible(chromedp.CSS("#exercise-log")))
	do(t, ctx, "wait for the verdict", chromedp.WaitVisible(chromedp.CSS("#verdict")))
	if got := text(t, ctx, "#verdict"); got != "PASSED" {
		t.Errorf("verdict = %q; want PASSED", got)
	}
	logText := text(t, ctx, "#exercise-log")
	for _, want := range []string{"starting 3 nodes", "partition", "restart"} {
		if !strings.Contains(logText, want) {
			t.Errorf("live log has no %q:\n%s", want, logText)
		}
	}
	screenshot(t, ctx, "21-exercise-run")
	do(t, ctx, "open the scorecard",
		chromedp.Click(chromedp.CSS("#scorecard-link")),
		chromedp.WaitVisible(chromedp.CSS("svg#timeline")))
	if marks := eval[int](t, ctx, `document.querySelectorAll('svg#timeline circle, svg#timeline rect, svg#timeline line').length`); marks == 0 {
		t.Errorf("the scorecard's timeline draws nothing")
	}
	screenshot(t, ctx, "22-exercise-scorecard")

	analyst := browser(t, n)
	browserSignIn(t, analyst, n, "j.smith", "")
	do(t, analyst, "open exercises as an analyst",
		chromedp.Navigate(n.ts.URL+"/console/exercises"),
		chromedp.WaitVisible(chromedp.CSS("#start-refused")))
	if got := eval[bool](t, analyst, `document.getElementById('exercise-form') === null`); !got {
		t.Errorf("an analyst sees the start form")
	}
	if got := text(t, analyst, "#runs"); !strings.Contains(got, "PASSED") {
		t.Errorf("runs as an analyst = %q; want the finished run", got)
	}
}
