package main

import (
	"bytes"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"
)

// postScenario posts the exercises page's start form as multipart, with
// the scenario file data under name (none when name is empty).
func (c *consoleClient) postScenario(t *testing.T, csrf, builtin, name string, data []byte) (int, http.Header, string) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	mw.WriteField("csrf", csrf)
	mw.WriteField("builtin", builtin)
	if name != "" {
		fw, err := mw.CreateFormFile("scenario", name)
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(data)
	}
	mw.Close()
	req, err := http.NewRequest("POST", c.u.base+"/console/exercises", &body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	req.Header.Set("Origin", c.u.base)
	resp, err := c.http.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// TestConsoleExercise: an administrator uploads a scenario on the
// exercises page; the node plays it through runExercise on a federation
// of real nodes, the run's status shows its injects as they are played,
// and the finished run links to the scorecard page, served with a policy
// that fits it. Anyone else may look but not start.
func TestConsoleExercise(t *testing.T) {
	u := newUsersNode(t)
	if out, errs, code := run(t, "", "user", "add", "--dir", u.dir, "a.admin", "--nationality", "GBR", "--clearance", "GBR:SECRET", "--role", "admin"); code != 0 {
		t.Fatalf("user add a.admin: exit %d %s %s", code, out, errs)
	}
	out, errs, code := run(t, "", "user", "token", "--dir", u.dir, "a.admin")
	if code != 0 {
		t.Fatalf("user token a.admin: exit %d %s", code, errs)
	}
	u.tokens["a.admin"] = strings.TrimSpace(out)
	scenario, err := os.ReadFile("testdata/three-nations.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// The console plays at 120x, where the file's 10 s windows are less
	// than a tenth of a second and a link's reconnection backoff after the
	// partition (real seconds) is many scenario minutes: widened to two
	// hours (a minute), what this test checks is the console's run, not
	// the federation's speed.
	scenario = regexp.MustCompile(`within: \d+s`).ReplaceAll(scenario, []byte("within: 2h"))

	analyst := newConsoleClient(t, u)
	analyst.signIn(t, "j.smith")
	code, _, page := analyst.do(t, "GET", "/console/exercises", nil)
	if code != 200 || !strings.Contains(page, `data-scenario="five-nations"`) || !strings.Contains(page, `id="start-refused"`) || strings.Contains(page, `id="exercise-form"`) {
		t.Fatalf("GET /console/exercises as an analyst = %d; want the built-in scenarios and no start form\n%s", code, page)
	}
	if code, _, page := analyst.postScenario(t, analyst.csrf, "", "three-nations.yaml", scenario); code != http.StatusForbidden || !strings.Contains(page, "Only an administrator") {
		t.Errorf("start an exercise as an analyst = %d; want 403\n%s", code, page)
	}

	admin := newConsoleClient(t, u)
	admin.signIn(t, "a.admin")
	if _, _, page := admin.do(t, "GET", "/console/exercises", nil); !strings.Contains(page, `id="exercise-form"`) {
		t.Fatalf("exercises page as an administrator has no start form:\n%s", page)
	}
	if code, _, _ := admin.postScenario(t, "", "", "three-nations.yaml", scenario); code != http.StatusForbidden {
		t.Errorf("start an exercise without the form token = %d; want 403", code)
	}
	broken := bytes.Replace(scenario, []byte("id: three-nations"), []byte("id: Three Nations!"), 1)
	if code, _, page := admin.postScenario(t, admin.csrf, "", "broken.yaml", broken); code != http.StatusBadRequest || !strings.Contains(page, "broken.yaml cannot be played") {
		t.Errorf("start a broken scenario = %d; want 400 naming the file and its problem\n%s", code, page)
	}
	if code, _, page := admin.postScenario(t, admin.csrf, "", "huge.yaml", bytes.Repeat([]byte("# padding\n"), 40<<10)); code != http.StatusBadRequest || !strings.Contains(page, "at most 256 KiB") {
		t.Errorf("start a 400 KiB scenario = %d; want 400 with the bound\n%s", code, page)
	}

	code, hdr, page := admin.postScenario(t, admin.csrf, "", "three-nations.yaml", scenario)
	if code != http.StatusSeeOther || hdr.Get("Location") != "/console/exercises/1" {
		t.Fatalf("start three-nations = %d %s; want a redirect to the run\n%s", code, hdr.Get("Location"), page)
	}
	if code, _, page := admin.postScenario(t, admin.csrf, "five-nations", "", nil); code != http.StatusBadRequest || !strings.Contains(page, "already running") {
		t.Errorf("start a second run while one runs = %d; want 400\n%s", code, page)
	}

	var st struct {
		From      int      `json:"from"`
		Lines     []string `json:"lines"`
		Done      bool     `json:"done"`
		Verdict   string   `json:"verdict"`
		Error     string   `json:"error"`
		Scorecard string   `json:"scorecard"`
	}
	var lines []string
	deadline := time.Now().Add(3 * time.Minute)
	for !st.Done {
		if time.Now().After(deadline) {
			t.Fatalf("the run did not finish in 3 minutes; log so far:\n%s", strings.Join(lines, "\n"))
		}
		time.Sleep(200 * time.Millisecond)
		// Every client signed in may follow the run.
		code, _, body := analyst.do(t, "GET", "/console/exercises/1/status?from="+url.QueryEscape(itoa(len(lines))), nil)
		if code != 200 {
			t.Fatalf("GET status = %d\n%s", code, body)
		}
		if err := json.Unmarshal([]byte(body), &st); err != nil {
			t.Fatal(err)
		}
		if st.From != len(lines) {
			t.Fatalf("status from %d starts at line %d", len(lines), st.From)
		}
		lines = append(lines, st.Lines...)
	}
	log := strings.Join(lines, "\n")
	t.Logf("the run's log:\n%s", log)
	if st.Error != "" || st.Verdict != "PASSED" {
		t.Fatalf("three-nations: verdict %q, error %q; want PASSED\n%s", st.Verdict, st.Error, log)
	}
	for _, want := range []string{"starting 3 nodes", "partition", "restart", "PASSED: 7 expectations met"} {
		if !strings.Contains(log, want) {
			t.Errorf("the run's log has no %q:\n%s", want, log)
		}
	}

	code, hdr, card := analyst.do(t, "GET", st.Scorecard, nil)
	if code != 200 || !strings.Contains(card, `<svg id="timeline"`) || !strings.Contains(card, "Three nations") {
		t.Fatalf("GET %s = %d; want the scorecard with its timeline\n%s", st.Scorecard, code, card)
	}
	csp := hdr.Get("Content-Security-Policy")
	if !strings.HasPrefix(csp, "default-src 'none'") || strings.Contains(csp, "script-src") || !strings.Contains(csp, "frame-ancestors 'none'") {
		t.Errorf("scorecard Content-Security-Policy %q; want nothing but inline style", csp)
	}
	if _, _, page := analyst.do(t, "GET", "/console/exercises/1", nil); !strings.Contains(page, `data-verdict="PASSED"`) || !strings.Contains(page, `href="/console/exercises/1/scorecard"`) {
		t.Errorf("the run's page has no verdict and scorecard link:\n%s", page)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}
