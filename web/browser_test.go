package web

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
)

// chromiumPath finds Debian's chromium. Without it the browser tests
// skip, unless TEARLINE_REQUIRE_CHROMIUM=1 (as in CI), where they fail.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("TEARLINE_REQUIRE_CHROMIUM") == "1" {
		t.Fatal("no chromium found and TEARLINE_REQUIRE_CHROMIUM=1: install it (apt-get install chromium)")
	}
	t.Skip("no chromium found; set TEARLINE_REQUIRE_CHROMIUM=1 to make this a failure")
	return ""
}

// browser starts headless Chromium for the test node. Chromium trusts
// exactly the test server's certificate, by its public key.
func browser(t *testing.T, n *testNode) context.Context {
	t.Helper()
	spki := sha256.Sum256(n.ts.Certificate().RawSubjectPublicKeyInfo)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(1280, 1000),
		chromedp.Flag("ignore-certificate-errors-spki-list", base64.StdEncoding.EncodeToString(spki[:])),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelCtx()
		cancelAlloc()
	})
	// Start the browser now, on ctx: the first run allocates it, and a
	// step's shorter context must not own it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

// screenshotDir is where the browser tests keep their screenshots:
// $TEARLINE_SCREENSHOTS, or tearline-console-screenshots in the system's
// temporary directory. They are kept after the test, as its artefacts.
func screenshotDir(t *testing.T) string {
	dir := os.Getenv("TEARLINE_SCREENSHOTS")
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "tearline-console-screenshots")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(screenshotDir(t), name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s", path)
}

// do runs steps, each group within 20 seconds; on failure the page is
// kept as a screenshot and its text is reported.
func do(t *testing.T, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	step, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(step, steps...); err != nil {
		loc, _ := chromedp.Run(ctx, chromedp.Location())
		body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ''`))
		screenshot(t, ctx, "failed-"+strings.ReplaceAll(t.Name(), "/", "-"))
		t.Fatalf("%s: %v\nat %s:\n%s", what, err, loc, body)
	}
}

func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		t.Fatalf("text of %s: %v", sel, err)
	}
	return s
}

func eval[T any](t *testing.T, ctx context.Context, js string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// browserSignIn signs in with the keyboard alone: type the name into the
// focused field, Tab, the token, Enter.
func browserSignIn(t *testing.T, ctx context.Context, n *testNode, user string, shot string) {
	t.Helper()
	do(t, ctx, "open the console",
		chromedp.Navigate(n.ts.URL+"/console/"),
		chromedp.WaitVisible(chromedp.CSS("#user")))
	if loc, _ := chromedp.Run(ctx, chromedp.Location()); !strings.HasSuffix(loc, "/console/signin") {
		t.Fatalf("the console without a session is at %s; want the sign-in page", loc)
	}
	do(t, ctx, "type the credentials",
		chromedp.Focus(chromedp.CSS("#user")),
		chromedp.KeyEvent(user),
		chromedp.KeyEvent("\t"),
		chromedp.KeyEvent(n.tokens[user]))
	if shot != "" {
		screenshot(t, ctx, shot)
	}
	do(t, ctx, "submit with Enter",
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#result-count")))
}

// TestBrowserSignIn: a user signs in by keyboard and sees the banner with
// the node and their clearance, and only what they may see; the session
// cookie is out of the page's reach.
func TestBrowserSignIn(t *testing.T) {
	n := newTestNode(t)
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "j.smith", "01-signin")
	if got := text(t, ctx, "#user-name"); got != "j.smith" {
		t.Errorf("banner user = %q; want j.smith", got)
	}
	if got := text(t, ctx, "#clearance"); got != "GBR SECRET" {
		t.Errorf("banner clearance = %q; want GBR SECRET", got)
	}
	if got := text(t, ctx, "#system-banner"); !strings.Contains(got, "GBR") || !strings.Contains(got, "UK National Liaison Office") {
		t.Errorf("banner = %q; want the node's code and name", got)
	}
	results := text(t, ctx, "#results")
	if !strings.Contains(results, objNames[objSecret]) || !strings.Contains(results, objNames[objOfficial]) || strings.Contains(results, objNames[objTopSecret]) {
		t.Errorf("results = %q; want the SECRET and OFFICIAL objects and not the TOP SECRET one", results)
	}
	if cookies := eval[string](t, ctx, `document.cookie`); strings.Contains(cookies, "tearline") {
		t.Errorf("document.cookie = %q: the session cookie must be HttpOnly", cookies)
	}
	screenshot(t, ctx, "02-objects")
	do(t, ctx, "open agreements", chromedp.Navigate(n.ts.URL+"/console/agreements"), chromedp.WaitVisible(chromedp.CSS("#agreements")))
	if got := text(t, ctx, "#agreements"); !strings.Contains(got, "fvey-intel@v3") || !strings.Contains(got, "in force") {
		t.Errorf("agreements = %q; want fvey-intel@v3 in force", got)
	}
	screenshot(t, ctx, "09-agreements")
	do(t, ctx, "open partners", chromedp.Navigate(n.ts.URL+"/console/partners"), chromedp.WaitVisible(chromedp.CSS("#partners")))
	if got := text(t, ctx, "#partners"); !strings.Contains(got, "SHA256:0123:4567") || !strings.Contains(got, "No card is pinned") {
		t.Errorf("partners = %q; want USA's fingerprint and the partners without a card", got)
	}
	screenshot(t, ctx, "10-partners")
	do(t, ctx, "back to objects", chromedp.Navigate(n.ts.URL+"/console/objects"), chromedp.WaitVisible(chromedp.CSS("#results")))
	do(t, ctx, "switch to dark", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}}})
		return err
	}))
	if bg := eval[string](t, ctx, `getComputedStyle(document.body).backgroundColor`); bg != "rgb(20, 23, 26)" {
		t.Errorf("dark background = %s; want the dark theme's rgb(20, 23, 26)", bg)
	}
	screenshot(t, ctx, "03-objects-dark")
	// "/" jumps to the search field.
	do(t, ctx, "press /", chromedp.Focus(chromedp.CSS("#search")), chromedp.KeyEvent("/"))
	if id := eval[string](t, ctx, `document.activeElement.id`); id != "q" {
		t.Errorf("after pressing /, focus is on %q; want the search field", id)
	}
}

// TestBrowserPublishWithPreview: the picker offers only valid
// combinations, the preview names who receives the paste and who does not
// and why, and publishing stores it under the label.
func TestBrowserPublishWithPreview(t *testing.T) {
	n := newTestNode(t)
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "j.smith", "")
	paste := `{"type":"bundle","id":"bundle--0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d","objects":[` + unlabelled(newA, "Relay domain") + `]}`
	do(t, ctx, "open publish",
		chromedp.Navigate(n.ts.URL+"/console/publish"),
		chromedp.WaitVisible(chromedp.CSS("#stix")),
		chromedp.SetValue(chromedp.CSS("#stix"), paste))
	if p := eval[string](t, ctx, `document.querySelector('#policy').value`); p != "GBR" {
		t.Errorf("the picker starts with policy %q; want the node's own, GBR", p)
	}
	others := eval[int](t, ctx, `[...document.querySelectorAll('#level option[data-policy]')].filter(o => o.dataset.policy !== 'GBR' && !o.disabled).length`)
	if others != 0 {
		t.Errorf("the level list offers %d levels of other policies", others)
	}
	if !eval[bool](t, ctx, `document.querySelector('#relto input').disabled`) {
		t.Error("REL TO is offered before a level is chosen")
	}
	eval[bool](t, ctx, `(() => { const l = document.querySelector('#level');
		[...l.options].find(o => o.dataset.policy === 'GBR' && o.value === 'SECRET').selected = true;
		l.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	do(t, ctx, "tick REL TO USA and GBR",
		chromedp.Click(chromedp.CSS(`#relto input[value="USA"]`)),
		chromedp.Click(chromedp.CSS(`#relto input[value="GBR"]`)))
	if !eval[bool](t, ctx, `document.querySelector('#noforn').disabled`) {
		t.Error("NOFORN is still offered with REL TO ticked")
	}
	if eval[bool](t, ctx, `document.querySelector('#fouo').disabled`) != true {
		t.Error("FOUO is offered on GBR SECRET")
	}
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.querySelector('#label-status').textContent.includes('GBR SECRET//REL TO USA, GBR')`,
		chromedp.WithPollingTimeout(10*time.Second))); err != nil {
		t.Fatalf("the label status never showed the banner: %v (it says %q)", err, text(t, ctx, "#label-status"))
	}
	do(t, ctx, "preview", chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#release-preview")))
	receive, withheld := text(t, ctx, "#receive"), text(t, ctx, "#withheld")
	if !strings.Contains(receive, "USA") || !strings.Contains(receive, "ALLOW") || strings.Contains(receive, "\nAUS") {
		t.Errorf("will receive = %q; want USA alone", receive)
	}
	for _, p := range []string{"AUS", "CAN", "NZL"} {
		if !strings.Contains(withheld, p) {
			t.Errorf("will not receive = %q; want %s", withheld, p)
		}
	}
	if !strings.Contains(withheld, "rel-to") {
		t.Errorf("will not receive = %q; want the REL TO reason", withheld)
	}
	screenshot(t, ctx, "04-publish-preview")
	do(t, ctx, "publish", chromedp.Click(chromedp.CSS("#publish")), chromedp.WaitVisible(chromedp.CSS("#published-summary")))
	if got := text(t, ctx, "#published-summary"); !strings.Contains(got, "1 added") {
		t.Errorf("published = %q; want 1 added", got)
	}
	screenshot(t, ctx, "05-published")
	do(t, ctx, "open the object", chromedp.Click(chromedp.CSS("#published-objects a")), chromedp.WaitVisible(chromedp.CSS("#object-banner")))
	if got := text(t, ctx, "#object-banner"); got != "GBR SECRET//REL TO USA, GBR" {
		t.Errorf("object banner = %q", got)
	}
	if got := text(t, ctx, "#stored"); !strings.Contains(got, "USA") || !strings.Contains(got, "ALLOW") {
		t.Errorf("stored release set = %q; want USA allowed", got)
	}
	screenshot(t, ctx, "06-object")
}

// TestBrowserAuditProof: an audit entry's inclusion proof is verified by
// the page's own script, and a tampered proof is not.
func TestBrowserAuditProof(t *testing.T) {
	n := newTestNode(t)
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "j.smith", "")
	do(t, ctx, "open the audit log", chromedp.Navigate(n.ts.URL+"/console/audit"), chromedp.WaitVisible(chromedp.CSS("#entries")))
	screenshot(t, ctx, "07-audit")
	index := firstEntry(t, n, objOfficial)
	do(t, ctx, "open the entry", chromedp.Navigate(n.ts.URL+"/console/audit/"+index), chromedp.WaitVisible(chromedp.CSS("#proof")))
	verdict, err := chromedp.Run(ctx, chromedp.Poll[string](`document.querySelector('#browser-check').getAttribute('data-verified')`,
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil || verdict != "true" {
		t.Fatalf("browser verdict = %q (%v): %s", verdict, err, text(t, ctx, "#browser-check"))
	}
	if got := text(t, ctx, "#browser-check"); !strings.HasPrefix(got, "Verified in this browser") {
		t.Errorf("browser check says %q", got)
	}
	screenshot(t, ctx, "08-audit-proof")
	// The same page's verifier refuses the proof against another root, and
	// with the entry changed.
	tampered := eval[[]bool](t, ctx, `(async () => {
		const el = document.getElementById('proof');
		const entry = Uint8Array.from(atob(el.dataset.entry), c => c.charCodeAt(0));
		const path = el.dataset.path.split(' ').filter(Boolean);
		const root = el.dataset.root;
		const other = (root[0] === '0' ? '1' : '0') + root.slice(1);
		const changed = entry.slice(); changed[changed.length - 2] ^= 1;
		return [
			await tearlineVerifyInclusion(entry, el.dataset.index, el.dataset.size, root, path),
			await tearlineVerifyInclusion(entry, el.dataset.index, el.dataset.size, other, path),
			await tearlineVerifyInclusion(changed, el.dataset.index, el.dataset.size, root, path),
		];
	})()`)
	if fmt.Sprint(tampered) != "[true false false]" {
		t.Errorf("verify(original, other root, changed entry) = %v; want [true false false]", tampered)
	}
}

// TestBrowserProofVerifierMatchesGo holds the page's RFC 6962 verifier to
// the ledger's (transparency-dev/merkle): for every leaf of logs of 1 to
// 33 entries, it accepts the true proof and refuses it with a wrong index,
// a hash of the path changed, or a path cut short.
func TestBrowserProofVerifierMatchesGo(t *testing.T) {
	n := newTestNode(t)
	ctx := browser(t, n)
	do(t, ctx, "load the script", chromedp.Navigate(n.ts.URL+"/console/signin"), chromedp.WaitVisible(chromedp.CSS("#user")))
	type vector struct {
		Entry string   `json:"entry"`
		I     string   `json:"i"`
		S     string   `json:"s"`
		Root  string   `json:"root"`
		Path  []string `json:"path"`
		Want  bool     `json:"want"`
	}
	bg := context.Background()
	mem := ledger.NewMemory()
	log := ledger.New(mem)
	var vectors []vector
	for size := uint64(1); size <= 33; size++ {
		if _, err := log.Append(bg, ledger.Event{Kind: ledger.KindObjectViewed, Time: time.Unix(int64(size), 0), Actor: fmt.Sprintf("user-%d", size)}); err != nil {
			t.Fatal(err)
		}
		root, err := log.Root(bg, size)
		if err != nil {
			t.Fatal(err)
		}
		for i := uint64(0); i < size; i++ {
			entry, err := log.Entry(bg, i)
			if err != nil {
				t.Fatal(err)
			}
			path, err := log.InclusionProof(bg, i, size)
			if err != nil {
				t.Fatal(err)
			}
			hexes := make([]string, len(path))
			for j, h := range path {
				hexes[j] = hex.EncodeToString(h)
			}
			v := vector{Entry: base64.StdEncoding.EncodeToString(entry), I: fmt.Sprint(i), S: fmt.Sprint(size), Root: hex.EncodeToString(root[:]), Path: hexes, Want: true}
			vectors = append(vectors, v)
			wrong := v
			wrong.I, wrong.Want = fmt.Sprint((i+1)%(size+1)), false
			vectors = append(vectors, wrong)
			if len(hexes) > 0 {
				changed := v
				changed.Path = append([]string(nil), hexes...)
				changed.Path[len(hexes)/2] = strings.Repeat("0", 64)
				changed.Want = false
				cut := v
				cut.Path, cut.Want = hexes[:len(hexes)-1], false
				vectors = append(vectors, changed, cut)
			}
		}
	}
	data, err := json.Marshal(vectors)
	if err != nil {
		t.Fatal(err)
	}
	got := eval[[]bool](t, ctx, `(async (vs) => {
		const out = [];
		for (const v of vs) {
			const entry = Uint8Array.from(atob(v.entry), c => c.charCodeAt(0));
			out.push(await tearlineVerifyInclusion(entry, v.i, v.s, v.root, v.path));
		}
		return out;
	})(`+string(data)+`)`)
	if len(got) != len(vectors) {
		t.Fatalf("%d verdicts for %d vectors", len(got), len(vectors))
	}
	bad := 0
	for k, v := range vectors {
		if got[k] != v.Want {
			bad++
			if bad <= 10 {
				t.Errorf("verifyInclusion(index %s, size %s, path of %d) = %v; want %v", v.I, v.S, len(v.Path), got[k], v.Want)
			}
		}
	}
	t.Logf("%d vectors checked in Chromium", len(vectors))
}

// TestBrowserReleaseRequests: a releaser sees the waiting request on the
// dashboard, opens the inbox and approves it; then approves another with
// a tearline: edits the variant, sees the diff against the original and
// the release preview, and publishes it; the tearline's page draws its
// link to the original.
func TestBrowserReleaseRequests(t *testing.T) {
	n := newTestNode(t)
	stub := n.withRequests(t)
	const reqOfficial = "consent-request--66666666-6666-4666-8666-666666666666"
	now := time.Now().UTC()
	r := mailbox.Request{Box: mailbox.RequestInbox, ID: reqOfficial, Requester: "USA", Originator: "GBR", Recipient: "CAN", Object: objOfficial,
		Note: "for the partners' exercise", Created: now, State: mailbox.RequestPending}
	if err := n.store.PutRequest(context.Background(), r, federation.RequestEvent("USA", "received", &r, now)); err != nil {
		t.Fatal(err)
	}
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "m.reed", "")
	do(t, ctx, "open the dashboard", chromedp.Navigate(n.ts.URL+"/console/home"), chromedp.WaitVisible(chromedp.CSS("#requests-waiting")))
	if got := text(t, ctx, "#requests-waiting"); !strings.Contains(got, "2 release requests wait") {
		t.Errorf("the dashboard says %q; want 2 requests waiting (the TOP SECRET one is hidden)", got)
	}
	do(t, ctx, "follow the link to the inbox", chromedp.Click(chromedp.CSS("#requests-waiting a")), chromedp.WaitVisible(chromedp.CSS("#inbox")))
	if got := text(t, ctx, "#inbox"); strings.Contains(got, objTopSecret) || strings.Contains(got, objNames[objTopSecret]) {
		t.Errorf("the inbox shows the TOP SECRET request to a SECRET releaser: %q", got)
	}
	screenshot(t, ctx, "30-requests-inbox")
	do(t, ctx, "approve with a consent for 90 days",
		chromedp.SetValue(chromedp.CSS(`#holds-`+reqSecret), "90"),
		chromedp.Click(chromedp.CSS(`tr[data-request="`+reqSecret+`"] button[data-action="approve"]`)),
		chromedp.WaitVisible(chromedp.CSS("#request-done")))
	if got := eval[string](t, ctx, `document.querySelector('tr[data-request="`+reqSecret+`"]').dataset.state`); got != "approved" {
		t.Errorf("after approving, the request is %q", got)
	}
	if got := text(t, ctx, `tr[data-request="`+reqSecret+`"] .expires`); !strings.HasPrefix(got, "consent lapses ") {
		t.Errorf("the approved request says %q; want when its consent lapses", got)
	}
	screenshot(t, ctx, "31-request-approved")

	do(t, ctx, "open the tearline editor",
		chromedp.Click(chromedp.CSS(`tr[data-request="`+reqOfficial+`"] a[data-action="tearline"]`)),
		chromedp.WaitVisible(chromedp.CSS("#stix")))
	eval[bool](t, ctx, `(() => { const s = document.querySelector('#stix');
		s.value = s.value.replace('"Phishing domain list"', '"Phishing domains (sanitised)"');
		const l = document.querySelector('#level');
		[...l.options].find(o => o.dataset.policy === 'GBR' && o.value === 'OFFICIAL').selected = true;
		l.dispatchEvent(new Event('change', {bubbles: true})); return true; })()`)
	do(t, ctx, "compare and preview", chromedp.Click(chromedp.CSS("#preview")), chromedp.WaitVisible(chromedp.CSS("#diff")))
	diff := text(t, ctx, "#diff")
	if !strings.Contains(diff, `-   "name": "Phishing domain list"`) || !strings.Contains(diff, `+   "name": "Phishing domains (sanitised)"`) {
		t.Errorf("the diff = %q; want the name's change", diff)
	}
	if got := text(t, ctx, "#request-decisions"); !strings.Contains(got, "USA") || !strings.Contains(got, "ALLOW") {
		t.Errorf("the request's decisions = %q; want USA allowed", got)
	}
	screenshot(t, ctx, "32-tearline-preview")
	do(t, ctx, "publish the tearline and approve",
		chromedp.Click(chromedp.CSS("#approve-tearline")),
		chromedp.WaitVisible(chromedp.CSS("#request-done")))
	screenshot(t, ctx, "33-tearline-approved")
	posts := stub.received()
	if len(posts) != 2 {
		t.Fatalf("the holder received %d answers; want 2", len(posts))
	}
	first, err := federation.ParseConsent(posts[0].Body)
	if err != nil || !first.Expires.Equal(first.Issued.Add(90*24*time.Hour)) {
		t.Errorf("the first answer: %+v, %v; want a consent for 90 days", first, err)
	}
	p, err := federation.ParseConsent(posts[1].Body)
	if err != nil || p.Original != objOfficial || p.Object == objOfficial {
		t.Fatalf("the second answer: %+v, %v; want a consent for a tearline of %s", p, err, objOfficial)
	}
	if !p.Expires.IsZero() {
		t.Errorf("the tearline's consent lapses %v; want no end date, the default", p.Expires)
	}
	do(t, ctx, "open the tearline",
		chromedp.Click(chromedp.CSS(`tr[data-request="`+reqOfficial+`"] a[data-tearline]`)),
		chromedp.WaitVisible(chromedp.CSS("#graph")))
	if !eval[bool](t, ctx, `!!document.querySelector('#graph a[data-object="`+objOfficial+`"]')`) {
		t.Error("the tearline's graph does not link its original")
	}
	screenshot(t, ctx, "34-tearline-graph")
}

// TestBrowserAgreementImpact: an administrator pastes a changed agreement
// and sees its impact before anyone applies it.
func TestBrowserAgreementImpact(t *testing.T) {
	n := newTestNode(t)
	withAdmin(t, n, nil)
	data, err := os.ReadFile("../policy/examples/fvey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v4 := strings.Replace(strings.Replace(string(data), "version: 3", "version: 4", 1), "  GBR: TOP SECRET", "  GBR: SECRET", 1)
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "a.admin", "")
	do(t, ctx, "paste the agreement",
		chromedp.Navigate(n.ts.URL+"/console/agreements"),
		chromedp.WaitVisible(chromedp.CSS("#agreement")),
		chromedp.SetValue(chromedp.CSS("#agreement"), v4),
		chromedp.Click(chromedp.CSS("#impact-preview")),
		chromedp.WaitVisible(chromedp.CSS("#impact-summary")))
	if got := text(t, ctx, "#impact-summary"); got != "1 object is withdrawn from USA" {
		t.Errorf("impact = %q", got)
	}
	do(t, ctx, "scroll to the impact", chromedp.ScrollIntoView(chromedp.CSS("#impact-result")))
	screenshot(t, ctx, "35-agreement-impact")
}

// TestBrowserGraph: the related-objects graph is drawn, its nodes open
// their objects, and what the user may not see is not in it.
func TestBrowserGraph(t *testing.T) {
	n := newGraphNode(t)
	ctx := browser(t, n)
	browserSignIn(t, ctx, n, "j.smith", "")
	do(t, ctx, "open the object", chromedp.Navigate(n.ts.URL+"/console/objects/default/"+objSecret), chromedp.WaitVisible(chromedp.CSS("#graph")))
	if got := eval[int](t, ctx, `document.querySelectorAll('#graph a.node').length`); got != 1 {
		t.Errorf("the graph draws %d linked nodes; want 1", got)
	}
	if eval[bool](t, ctx, `document.body.innerHTML.includes('`+objTopSecret+`')`) {
		t.Error("the page holds the id of the TOP SECRET object")
	}
	do(t, ctx, "scroll to the graph", chromedp.ScrollIntoView(chromedp.CSS("#graph")))
	screenshot(t, ctx, "36-object-graph")
	do(t, ctx, "open the neighbour", chromedp.Click(chromedp.CSS(`#graph a.node[data-object="`+objOfficial+`"] rect`)), chromedp.WaitVisible(chromedp.CSS("#object-id")))
	if got := text(t, ctx, "#object-id"); got != objOfficial {
		t.Errorf("the graph's node opened %q; want %s", got, objOfficial)
	}
}
