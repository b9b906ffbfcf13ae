package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tearline/tearline/label"
)

// labelledIndicator writes an indicator marked with banner, and the
// marking definitions it needs, as JSON lines.
func labelledIndicator(t *testing.T, id, banner string) string {
	t.Helper()
	l, err := label.Parse(banner)
	if err != nil {
		t.Fatalf("label.Parse(%q): %v", banner, err)
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		t.Fatalf("ToMarkings(%q): %v", banner, err)
	}
	var b bytes.Buffer
	for _, d := range defs {
		b.Write(d)
		b.WriteByte('\n')
	}
	quoted := make([]string, len(refs))
	for i, r := range refs {
		quoted[i] = fmt.Sprintf("%q", r)
	}
	fmt.Fprintf(&b, `{"type":"indicator","spec_version":"2.1","id":%q,"created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z",`+
		`"name":"Courier network relay","pattern":"[ipv4-addr:value = '203.0.113.9']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z",`+
		`"labels":["counter-terrorism"],"object_marking_refs":[%s]}`+"\n", id, strings.Join(quoted, ","))
	return b.String()
}

// TestExplain decides one object for several partners under the example
// agreements: allowed, denied and needing consent, each with its reason.
func TestExplain(t *testing.T) {
	dir := initNode(t)
	for _, a := range []string{"fvey.yaml", "gbr-fra.yaml"} {
		if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, filepath.Join("../../policy/examples", a)); code != 0 {
			t.Fatalf("agreement add %s: %s", a, errs)
		}
	}
	const (
		relFVEY = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
		orcon   = "indicator--7a2e3d4c-5b6f-4a71-9b8c-0d1e2f3a4b5c"
		relFRA  = "indicator--8b3f4e5d-6c70-4b82-8c9d-1e2f3a4b5c6d"
	)
	input := labelledIndicator(t, relFVEY, "GBR SECRET//REL TO USA, GBR, FVEY") +
		labelledIndicator(t, orcon, "SECRET//ORCON//REL TO USA, GBR, CAN//ORIGINATOR USA") +
		labelledIndicator(t, relFRA, "GBR SECRET//REL TO GBR, FRA")
	if out, errs, code := run(t, input, "import", "--dir", dir, "-"); code != 0 {
		t.Fatalf("import: exit %d %s %s", code, out, errs)
	}
	cases := []struct {
		id, to, outcome, reason string
	}{
		{relFVEY, "CAN", "ALLOW", "[allowed]"},
		{relFVEY, "FRA", "DENY", "[rel-to]"},
		{relFRA, "FRA", "ALLOW", "gbr-fra-security@1"},
		{orcon, "CAN", "NEEDS CONSENT", "needed from USA"},
		{relFVEY, "ZZZ", "DENY", "[unknown-recipient]"},
	}
	for _, c := range cases {
		out, errs, code := run(t, "", "explain", "--dir", dir, c.id, "--to", c.to, "--at", "2026-11-01T00:00:00Z")
		if code != 0 {
			t.Fatalf("explain %s --to %s: exit %d %s", c.id, c.to, code, errs)
		}
		if !strings.Contains(out, ": "+c.outcome+"\n") || !strings.Contains(out, c.reason) {
			t.Errorf("explain %s --to %s =\n%s\nwant %s with %q", c.id, c.to, out, c.outcome, c.reason)
		}
		if os.Getenv("TEARLINE_SHOW_EXPLAIN") != "" {
			t.Logf("\n$ tearline explain %s --to %s\n%s", c.id, c.to, out)
		}
	}
	if _, errs, code := run(t, "", "explain", "--dir", dir, "indicator--00000000-0000-4000-8000-000000000000", "--to", "FRA"); code == 0 || !strings.Contains(errs, "no object") {
		t.Errorf("explain of an unknown object: exit %d %q", code, errs)
	}
}

func TestBenchDecide(t *testing.T) {
	out, errs, code := run(t, "", "bench", "decide", "--decisions", "5000", "--json")
	if code != 0 || !strings.Contains(out, `"decisions":5000`) {
		t.Errorf("bench decide: exit %d %q %q", code, out, errs)
	}
}

func TestBenchEnvelope(t *testing.T) {
	out, errs, code := run(t, "", "bench", "envelope", "--objects", "1000", "--json")
	if code != 0 || !strings.Contains(out, `"batch":1000`) {
		t.Errorf("bench envelope: exit %d %q %q", code, out, errs)
	}
}

// TestExplainLocalUser decides for local users: one of the node's own
// nation under the node's own rules, and a foreign liaison officer under
// the agreements.
func TestExplainLocalUser(t *testing.T) {
	dir := initNode(t)
	if _, errs, code := run(t, "", "agreement", "add", "--dir", dir, filepath.Join("../../policy/examples", "fvey.yaml")); code != 0 {
		t.Fatalf("agreement add: %s", errs)
	}
	const id = "indicator--6f1d2c3b-4a5e-4f60-8a7b-9c0d1e2f3a4b"
	if out, errs, code := run(t, labelledIndicator(t, id, "GBR SECRET//REL TO USA, GBR, FVEY"), "import", "--dir", dir, "-"); code != 0 {
		t.Fatalf("import: exit %d %s %s", code, out, errs)
	}
	cases := []struct {
		args            []string
		outcome, reason string
	}{
		{[]string{"--to", "GBR", "--user", "j.smith", "--clearance", "GBR:SECRET"}, "ALLOW", "agreement  domestic"},
		{[]string{"--to", "GBR", "--user", "j.smith", "--clearance", "GBR:OFFICIAL"}, "DENY", "[classification-not-held]"},
		{[]string{"--to", "GBR", "--user", "j.smith"}, "DENY", "[no-clearance]"},
		{[]string{"--to", "FRA", "--user", "c.martin", "--clearance", "FRA:SECRET"}, "DENY", "[rel-to]"},
	}
	for _, c := range cases {
		args := append([]string{"explain", "--dir", dir, id, "--at", "2026-11-01T00:00:00Z"}, c.args...)
		out, errs, code := run(t, "", args...)
		if code != 0 {
			t.Fatalf("explain %v: exit %d %s", c.args, code, errs)
		}
		if !strings.Contains(out, ": "+c.outcome+"\n") || !strings.Contains(out, c.reason) {
			t.Errorf("explain %v =\n%s\nwant %s with %q", c.args, out, c.outcome, c.reason)
		}
		if os.Getenv("TEARLINE_SHOW_EXPLAIN") != "" {
			t.Logf("\n$ tearline explain %s %s\n%s", id, strings.Join(c.args, " "), out)
		}
	}
	if _, errs, code := run(t, "", "explain", "--dir", dir, id, "--to", "GBR", "--user", "x", "--clearance", "GBR:SUPER"); code != 2 || !strings.Contains(errs, "not a level of GBR") {
		t.Errorf("explain with an unknown level: exit %d %s; want a usage error naming the levels", code, errs)
	}
}
