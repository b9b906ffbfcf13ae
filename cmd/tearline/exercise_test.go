package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tearline/tearline/exercise"
)

// TestExerciseRun plays a three-nation scenario on a real federation (a
// partition that heals, a node killed and restarted) and checks every
// expectation is met with no policy violation; the scorecard is written as
// JSON and HTML.
func TestExerciseRun(t *testing.T) {
	report := t.TempDir()
	out, errs, code := run(t, "", "exercise", "run", "testdata/three-nations.yaml", "--speed", "5", "--report", report)
	if code != 0 || !strings.Contains(out, "PASSED: 7 expectations met, 0 missed, 0 policy violations") {
		t.Fatalf("exercise run: exit %d\n%s%s", code, out, errs)
	}
	for _, name := range []string{"scorecard.json", "scorecard.html"} {
		if fi, err := os.Stat(filepath.Join(report, name)); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", name, err)
		}
	}
	checkScorecardInBrowser(t, filepath.Join(report, "scorecard.html"), "PASSED")
}

// TestExerciseWrongAgreement: the built-in exercise where France's node
// lacks the UK-France agreement fails, and the scorecard says why: what
// only that agreement covers never reaches France, and nothing is
// over-shared.
func TestExerciseWrongAgreement(t *testing.T) {
	_, data, err := exercise.Builtin("five-nations")
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Replace(data, []byte("  - example: gbr-fra.yaml\n    holders: [GBR, FRA]"), []byte("  - example: gbr-fra.yaml\n    holders: [GBR]"), 1)
	if bytes.Equal(wrong, data) {
		t.Fatal("the agreement's holders were not found")
	}
	sc, err := exercise.Parse(wrong)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	e := &env{stdout: &out, stderr: &out}
	card, err := e.runExercise(context.Background(), sc, "", 120, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if card.Passed() {
		t.Fatalf("the exercise passed without the UK-France agreement on France's node\n%s", out.String())
	}
	missed := map[string]string{}
	for _, r := range card.Results {
		if !r.Met {
			missed[r.Nation+" "+r.Object] = r.Why
		}
	}
	for _, want := range []string{"FRA hub-targets", "FRA hub-timings", "GBR fra-safehouse"} {
		if why, ok := missed[want]; !ok || !strings.Contains(why, "never arrived") {
			t.Errorf("expectation %s: %q; want missed, never arrived", want, why)
		}
	}
	if len(card.Violations) != 0 {
		t.Errorf("violations %v; want none: nothing was over-shared", card.Violations)
	}
}

// checkScorecardInBrowser renders the page in headless Chromium and checks
// the verdict and the chart are in the rendered document.
func checkScorecardInBrowser(t *testing.T, page, verdict string) {
	t.Helper()
	chromium, err := exec.LookPath("chromium")
	if err != nil {
		if os.Getenv("TEARLINE_REQUIRE_CHROMIUM") != "" {
			t.Fatalf("chromium is required (TEARLINE_REQUIRE_CHROMIUM is set): %v", err)
		}
		t.Skip("chromium is not installed")
	}
	shot := filepath.Join(t.TempDir(), "scorecard.png")
	cmd := exec.Command(chromium, "--headless", "--no-sandbox", "--disable-gpu", "--window-size=1100,1400",
		"--screenshot="+shot, "--dump-dom", "file://"+page)
	dom, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	for _, want := range []string{`id="verdict"`, verdict, `<svg id="timeline"`, "<circle"} {
		if !strings.Contains(string(dom), want) {
			t.Errorf("the rendered scorecard lacks %q", want)
		}
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10000 {
		t.Errorf("screenshot %s: %v", shot, err)
	} else if dir := os.Getenv("TEARLINE_ARTEFACTS"); dir != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(dir, "scorecard.png"), data, 0o644)
	}
}

// TestDemoFiveNations runs the README's demo: the built-in five-nation
// exercise on seven real nodes, every expectation met and no violation,
// then the nodes' addresses and logins printed.
func TestDemoFiveNations(t *testing.T) {
	report := t.TempDir()
	out, errs, code := run(t, "", "demo", "--no-wait", "--speed", "60", "--report", report)
	if code != 0 || !strings.Contains(out, "PASSED: 63 expectations met, 0 missed, 0 policy violations") {
		t.Fatalf("demo: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"partners  https://127.0.0.1:", "console https://127.0.0.1:", "login     analyst  token tl_",
		// The hub is up, and its files hold nothing of the material in the clear.
		"CTHUB  CT working group exchange hub (community hub for AUS, DEU, NZL", "members   https://127.0.0.1:",
		"hub CTHUB: ", "nothing of the exercise's material in the clear",
		// The rotations were played, and every partner re-pinned the new card.
		"rotate-key GBR  signing key:", "re-pinned on its fingerprint by AUS, CAN, DEU, FRA, NZL, USA  played",
		"rotate-key DEU  hpke key:", "re-pinned on its fingerprint by AUS, CAN, CTHUB, FRA, GBR, NZL, USA  played"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q", want)
		}
	}
	html, err := os.ReadFile(filepath.Join(report, "scorecard.html"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<h2>Community hubs</h2>", "<td>CTHUB</td>", "<td class=\"ok\">nothing</td>", "relayed", "rotate-key GBR signing key:"} {
		if !strings.Contains(string(html), want) {
			t.Errorf("scorecard.html lacks %q", want)
		}
	}
	checkScorecardInBrowser(t, filepath.Join(report, "scorecard.html"), "PASSED")
}
