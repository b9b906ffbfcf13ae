package web

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline"
)

// TestAgreementImpactPreview: an administrator pastes a new version of
// the Five Eyes agreement that lowers GBR's ceiling to SECRET and sees,
// without anything applied, that the TOP SECRET object is withdrawn from
// USA; a text that is not an agreement, or that rewrites the version in
// force, is refused with the reason; others are not offered the preview
// and are refused it; a post without the form token is refused.
func TestAgreementImpactPreview(t *testing.T) {
	n := newTestNode(t)
	withAdmin(t, n, nil)
	data, err := os.ReadFile("../policy/examples/fvey.yaml")
	if err != nil {
		t.Fatal(err)
	}
	v3 := string(data)
	v4 := strings.Replace(strings.Replace(v3, "version: 3", "version: 4", 1), "  GBR: TOP SECRET", "  GBR: SECRET", 1)
	if v4 == v3 {
		t.Fatal("the example agreement changed: fix the test's edit")
	}
	a := n.client(t)
	a.signIn("a.admin")
	if p := a.get("/console/agreements"); !strings.Contains(p.body, `id="impact-form"`) {
		t.Fatalf("the administrator's agreements page has no impact preview:\n%s", p.body)
	}
	r := a.post("/console/agreements/preview", url.Values{"agreement": {strings.ReplaceAll(v4, "\n", "\r\n")}})
	if r.status != 200 || !strings.Contains(r.body, `id="impact-summary"><strong>1 object is withdrawn from USA</strong>`) ||
		!strings.Contains(r.body, `data-partner="USA"`) || !strings.Contains(r.body, "fvey-intel@v4") {
		t.Fatalf("preview of FVEY v4 = %d\n%s", r.status, r.body)
	}
	_, releases, err := n.store.ReleaseOf(context.Background(), n.coll.ID, objTopSecret, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(releases, func(r tearline.ClassRelease) bool { return r.Partner == "USA" && r.Outcome == tearline.Allow }) {
		t.Errorf("after the preview the release set no longer allows %s to USA: the preview applied the change", objTopSecret)
	}
	for name, tc := range map[string]struct{ text, want string }{
		"same version": {v3, "give the change version 4"},
		"not YAML":     {"id: [unclosed", "the agreement cannot be added"},
		"empty":        {"  ", "Paste the agreement"},
	} {
		r := a.post("/console/agreements/preview", url.Values{"agreement": {tc.text}})
		if r.status != http.StatusUnprocessableEntity || !strings.Contains(r.body, `id="impact-problem"`) || !strings.Contains(r.body, tc.want) {
			t.Errorf("preview of %s = %d; want 422 saying %q\n%s", name, r.status, tc.want, r.body)
		}
	}
	if r := a.post("/console/agreements/preview", url.Values{"agreement": {v4}, "csrf": {""}}); r.status != http.StatusForbidden {
		t.Errorf("preview without the form token = %d; want 403", r.status)
	}
	j := n.client(t)
	j.signIn("j.smith")
	if p := j.get("/console/agreements"); strings.Contains(p.body, `id="impact-form"`) {
		t.Errorf("an analyst is offered the impact preview")
	}
	if r := j.post("/console/agreements/preview", url.Values{"agreement": {v4}}); r.status != http.StatusBadRequest || strings.Contains(r.body, "withdrawn") {
		t.Errorf("an analyst's preview = %d; want 400 and no impact", r.status)
	}
}
