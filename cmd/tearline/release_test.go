package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tearline/tearline/node"
)

// TestReleaseSets follows the release sets through a node's life: decided
// at import, shown per partner, previewed and changed by an agreement, and
// recomputed with nothing left to change.
func TestReleaseSets(t *testing.T) {
	dir := initNode(t)
	example := func(name string) string { return filepath.Join("../../policy/examples", name) }
	if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, example("fvey.yaml")); code != 0 {
		t.Fatalf("agreement add fvey.yaml: %s", errs)
	}
	const (
		relFRA  = "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d"
		relFVEY = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	)
	input := labelledIndicator(t, relFRA, "GBR SECRET//REL TO GBR, FRA") +
		labelledIndicator(t, relFVEY, "GBR SECRET//REL TO USA, GBR, FVEY")
	out, errs, code := run(t, input, "import", "--dir", dir, "-")
	if code != 0 || !strings.Contains(out, "release sets: ") {
		t.Fatalf("import: exit %d\n%s%s\nwant the release sets decided", code, out, errs)
	}

	show := func(id string) string {
		t.Helper()
		out, errs, code := run(t, "", "release", "show", "--dir", dir, id)
		if code != 0 {
			t.Fatalf("release show %s: exit %d %s", id, code, errs)
		}
		return out
	}
	row := func(out, partner string) string {
		m := regexp.MustCompile(`(?m)^` + partner + `\s+(.*)$`).FindStringSubmatch(out)
		if m == nil {
			return ""
		}
		return m[1]
	}
	if got := row(show(relFVEY), "CAN"); !strings.HasPrefix(got, "ALLOW") || !strings.Contains(got, "fvey-intel@3") {
		t.Errorf("release show %s: CAN row %q; want ALLOW under fvey-intel@3", relFVEY, got)
	}
	if got := row(show(relFRA), "FRA"); got != "" {
		t.Errorf("release show %s before any agreement with FRA: FRA row %q; want none (FRA is not a partner yet)", relFRA, got)
	}

	// The UK-France agreement: preview, then add.
	out, errs, code = run(t, "", "agreement", "add", "--dry-run", "--dir", dir, example("gbr-fra.yaml"))
	if code != 0 || !strings.Contains(out, "1 object becomes releasable to FRA") || !strings.Contains(out, "dry run") {
		t.Fatalf("agreement add --dry-run: exit %d\n%s%s\nwant the impact on FRA", code, out, errs)
	}
	t.Logf("\n$ tearline agreement add --dry-run gbr-fra.yaml\n%s", out)
	if got := row(show(relFRA), "FRA"); got != "" {
		t.Errorf("a dry run changed the release set: FRA row %q", got)
	}
	out, errs, code = run(t, "", "agreement", "add", "--dir", dir, example("gbr-fra.yaml"))
	if code != 0 || !strings.Contains(out, "1 object becomes releasable to FRA") || !strings.Contains(out, "release sets updated") {
		t.Fatalf("agreement add: exit %d\n%s%s", code, out, errs)
	}
	if got := row(show(relFRA), "FRA"); !strings.HasPrefix(got, "ALLOW") || !strings.Contains(got, "gbr-fra-security@1") {
		t.Errorf("release show %s after the agreement: FRA row %q; want ALLOW under gbr-fra-security@1", relFRA, got)
	}
	if got := row(show(relFVEY), "FRA"); !strings.HasPrefix(got, "DENY") || !strings.Contains(got, "rel-to") {
		t.Errorf("release show %s: FRA row %q; want DENY for rel-to", relFVEY, got)
	}
	t.Logf("\n$ tearline release show %s\n%s", relFRA, show(relFRA))

	out, errs, code = run(t, "", "release", "recompute", "--dir", dir)
	if code != 0 || !strings.Contains(out, "impact: no release changes") {
		t.Errorf("release recompute with nothing changed: exit %d\n%s%s", code, out, errs)
	}
	out, _, _ = run(t, "", "audit", "log", "--dir", dir, "--kind", "release-decided")
	if strings.Count(out, "release-decided") < 2 {
		t.Errorf("audit log --kind release-decided =\n%s\nwant the import's and the agreement's release changes", out)
	}
}

// TestConfigCommunities: communities declared in the node's config join
// the registry with their dates, and a bad one is refused naming it.
func TestConfigCommunities(t *testing.T) {
	dir := initNode(t)
	n, err := node.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	n.Config.Communities = []node.CommunityConfig{{Code: "NORDIC", Name: "Nordic liaison group", Members: []node.MemberConfig{
		{Partner: "NOR", From: "2015-01-01"}, {Partner: "SWE", From: "2024-03-07", Until: "2030-01-01"},
	}}}
	reg, err := nodeRegistry(n)
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if !reg.MemberAt("SWE", "NORDIC", at) || reg.MemberAt("SWE", "NORDIC", time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)) || reg.MemberAt("GBR", "NORDIC", at) {
		t.Error("NORDIC membership does not follow the config's dates")
	}
	n.Config.Communities[0].Members[1].From = "March 2024"
	if _, err := nodeRegistry(n); err == nil || !strings.Contains(err.Error(), "communities[0].members[1].from") {
		t.Errorf("nodeRegistry(bad date) = %v; want an error naming communities[0].members[1].from", err)
	}
	n.Config.Communities[0].Members[1] = node.MemberConfig{Partner: "ZZZ", From: "2024-01-01"}
	if _, err := nodeRegistry(n); err == nil || !strings.Contains(err.Error(), "not a known partner") {
		t.Errorf("nodeRegistry(unknown member) = %v; want an error naming the unknown partner", err)
	}
}

// TestAgreementWithConfigCommunity: an agreement may name a community the
// node's config declares as a party; release decisions then follow its
// memberships.
func TestAgreementWithConfigCommunity(t *testing.T) {
	dir := initNode(t)
	f, err := os.OpenFile(filepath.Join(dir, "tearline.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("communities:\n  - code: NORDIC\n    name: Nordic liaison group\n    members:\n      - {partner: NOR, from: \"2015-01-01\"}\n      - {partner: SWE, from: \"2015-01-01\"}\n")
	f.Close()
	agreement := filepath.Join(t.TempDir(), "nordic.yaml")
	os.WriteFile(agreement, []byte("id: gbr-nordic\nversion: 1\ntitle: UK-Nordic exchange\nparties: [GBR, NORDIC]\nvalid_from: 2020-01-01\nceilings:\n  GBR: SECRET\nthird_party_rule: true\n"), 0o644)
	if _, errs, code := run(t, "", "agreement", "validate", agreement); code == 0 || !strings.Contains(errs, "NORDIC") {
		t.Errorf("agreement validate without the node: exit %d %s; want NORDIC refused as unknown", code, errs)
	}
	if out, errs, code := run(t, "", "agreement", "validate", "--dir", dir, agreement); code != 0 {
		t.Errorf("agreement validate --dir: exit %d %s %s", code, out, errs)
	}
	if out, errs, code := run(t, "", "agreement", "add", "--dir", dir, agreement); code != 0 {
		t.Fatalf("agreement add: exit %d %s %s", code, out, errs)
	}
	const id = "indicator--5e6f7081-92a3-4b4c-9d5e-6f708192a3b4"
	if _, errs, code := run(t, labelledIndicator(t, id, "GBR SECRET//REL TO GBR, NORDIC"), "import", "--dir", dir, "-"); code != 0 {
		t.Fatal(errs)
	}
	out, errs, code := run(t, "", "explain", "--dir", dir, id, "--to", "SWE", "--at", "2026-11-01T00:00:00Z")
	if code != 0 || !strings.Contains(out, ": ALLOW") || !strings.Contains(out, "gbr-nordic@1") {
		t.Errorf("explain to SWE under the Nordic agreement: exit %d\n%s%s", code, out, errs)
	}
}
