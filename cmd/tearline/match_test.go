package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tearline/tearline/analytics"
)

// matchObjects are the objects of the match tests, each imported under
// its banner: what a GBR node holds of its own and from partners.
type matchObject struct {
	json, banner string
	secret       bool // hidden from a user cleared to OFFICIAL-SENSITIVE
}

func matchFixture() []matchObject {
	ind := func(n int, pattern string, conf int) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--1a2b3c4d-0000-4000-8000-%012d","created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z",`+
			`"pattern":%q,"pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z","confidence":%d}`, n, pattern, conf)
	}
	sighting := func(n int, of int, count int, at string) string {
		return fmt.Sprintf(`{"type":"sighting","spec_version":"2.1","id":"sighting--1a2b3c4d-0000-4000-8000-%012d","created":%q,"modified":%q,`+
			`"sighting_of_ref":"indicator--1a2b3c4d-0000-4000-8000-%012d","count":%d,"first_seen":%q,"last_seen":%q}`, n, at, at, of, count, at, at)
	}
	objs := []matchObject{
		{ind(1, "[ipv4-addr:value = '203.0.113.9']", 80), "GBR SECRET//REL TO USA, GBR//ORIGINATOR USA//GRADE B2//PAP:RED", true},
		{ind(2, "[ipv4-addr:value ISSUBSET '203.0.113.0/24']", 60), "GBR OFFICIAL//ORIGINATOR FRA//GRADE C3//PAP:AMBER", false},
		{ind(3, "[domain-name:value = 'evil.example']", 70), "GBR OFFICIAL-SENSITIVE//PAP:GREEN", false},
		{ind(4, "[ipv4-addr:value = '203.0.113.9' OR url:value = 'http://evil.example/gate']", 90), "GBR SECRET//ORIGINATOR CAN//GRADE A1", true},
		{ind(5, "[file:hashes.'SHA-256' = '"+strings.Repeat("ab", 32)+"']", 50), "GBR OFFICIAL//ORIGINATOR DEU", false},
	}
	// A day of history of sightings of FRA's indicator, and a hidden one of
	// USA's, so that the early-warning part differs between users too.
	for h := 0; h < 30; h += 3 {
		at := fmt.Sprintf("2026-10-13T%02d:00:00.000Z", h%24)
		if h >= 24 {
			at = fmt.Sprintf("2026-10-14T%02d:00:00.000Z", h-24)
		}
		objs = append(objs, matchObject{sighting(100+h, 2, 1, at), "GBR OFFICIAL", false})
		objs = append(objs, matchObject{sighting(200+h, 1, 3, at), "GBR SECRET", true})
	}
	return objs
}

// matchNode makes a GBR node holding the objects kept by keep.
func matchNode(t *testing.T, objs []matchObject, keep func(matchObject) bool) string {
	t.Helper()
	dir := initNode(t)
	byBanner := map[string][]string{}
	var order []string
	for _, o := range objs {
		if !keep(o) {
			continue
		}
		if _, ok := byBanner[o.banner]; !ok {
			order = append(order, o.banner)
		}
		byBanner[o.banner] = append(byBanner[o.banner], o.json)
	}
	for _, b := range order {
		in := strings.Join(byBanner[b], "\n") + "\n"
		if out, errs, code := run(t, in, "import", "--dir", dir, "--banner", b, "-"); code != 0 {
			t.Fatalf("import under %q: exit %d %s %s", b, code, out, errs)
		}
	}
	return dir
}

const matchLog = `Oct 15 00:10:01 fw1 DROP src=203.0.113.9:51515 dst=10.0.0.1 dport=443
Oct 15 00:10:02 proxy GET hxxp://evil[.]example/gate from 10.0.0.7
Oct 15 00:10:03 fw1 DROP src=203.0.113.9:51516 dst=10.0.0.1 dport=443
Oct 15 00:10:04 edr quarantined ABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABABAB
Oct 15 00:10:05 nothing to see 198.51.100.200
`

func writeLog(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fw.log")
	if err := os.WriteFile(p, []byte(matchLog), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

type matchJSON struct {
	Viewer string            `json:"viewer"`
	Values int               `json:"values"`
	Alerts []analytics.Alert `json:"alerts"`
	Rises  []analytics.Alert `json:"rises"`
}

func runMatch(t *testing.T, dir, log string, extra ...string) (string, matchJSON) {
	t.Helper()
	args := append([]string{"match", "--dir", dir, log, "--at", "2026-10-15T00:30:00Z", "--json"}, extra...)
	out, errs, code := run(t, "", args...)
	if code != 0 {
		t.Fatalf("match %v: exit %d %s", extra, code, errs)
	}
	var r matchJSON
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("match --json output: %v\n%s", err, out)
	}
	return out, r
}

// TestMatch: the default viewer (the node's analyst) sees every indicator:
// alerts with provenance, match kind, corroboration, confidence inputs and
// permitted actions; the text output says the same.
func TestMatch(t *testing.T) {
	objs := matchFixture()
	dir := matchNode(t, objs, func(matchObject) bool { return true })
	log := writeLog(t)
	_, r := runMatch(t, dir, log)
	if r.Viewer != "local user node analyst of GBR" || r.Values != 7 {
		// 203.0.113.9, 10.0.0.1, the URL, its host, 10.0.0.7, the hash, 198.51.100.200
		t.Errorf("viewer %q, %d values; want the node analyst and 7 values", r.Viewer, r.Values)
	}
	byValue := map[string]analytics.Alert{}
	for _, a := range r.Alerts {
		byValue[a.Sighting.Observable.String()] = a
	}
	ip := byValue["ipv4-addr:203.0.113.9/32"]
	if len(ip.Findings) != 1 || ip.Sighting.Count != 2 || ip.Sighting.Source != log+":1" {
		t.Fatalf("alert on 203.0.113.9 = %+v; want one finding, sighted twice from line 1", ip)
	}
	f := ip.Findings[0]
	if strings.Join(f.Originators, ",") != "CAN,FRA,USA" || f.Corroboration != 3 || len(f.Reports) != 3 {
		t.Errorf("203.0.113.9: originators %v (%d), %d reports; want CAN, FRA, USA", f.Originators, f.Corroboration, len(f.Reports))
	}
	best := f.Reports[0]
	if best.Originator != "CAN" || best.Match != analytics.MatchExact || best.Grade != "A1" || best.Assessment.Evidence.Confidence != 90 ||
		best.Assessment.Evidence.Corroboration != 3 || !strings.Contains(best.Label, "ORIGINATOR CAN") {
		t.Errorf("best report %+v; want CAN's A1 exact report, confidence 90, corroboration 3", best)
	}
	if ip.Actions.Level != analytics.ActionsPassive {
		t.Errorf("actions on 203.0.113.9: %+v; want passive only (USA's PAP:RED and CAN's unmarked report)", ip.Actions)
	}
	if _, ok := byValue["domain-name:evil.example"]; !ok {
		t.Errorf("no alert on evil.example (defanged in the log); alerts on %v", keysOf(byValue))
	}
	if a, ok := byValue["SHA-256:"+strings.Repeat("ab", 32)]; !ok || a.Findings[0].Reports[0].Originator != "DEU" {
		t.Errorf("hash alert = %+v; want DEU's indicator", a)
	}
	if _, ok := byValue["ipv4-addr:198.51.100.200/32"]; ok {
		t.Error("an alert on a value no indicator names")
	}
	if len(r.Rises) == 0 {
		t.Error("no rise: the log's two sightings of 203.0.113.9 on a quiet history should be one")
	}

	out, errs, code := run(t, "", "match", "--dir", dir, log, "--at", "2026-10-15T00:30:00Z")
	if code != 0 {
		t.Fatalf("match: exit %d %s", code, errs)
	}
	for _, want := range []string{"ALERT ipv4-addr 203.0.113.9/32 (lines 1, 3)", "from CAN", "label   GBR SECRET//ORIGINATOR CAN//GRADE A1",
		"passive-only", "I 0.90 [confidence and credibility: confidence 90, grade A1]", "for 3 originators", "RISE ", "alerts"} {
		if !strings.Contains(out, want) {
			t.Errorf("match output lacks %q:\n%s", want, out)
		}
	}
	if os.Getenv("TEARLINE_SHOW_MATCH") != "" {
		t.Logf("\n$ tearline match fw.log\n%s", out)
	}
}

func keysOf(m map[string]analytics.Alert) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestMatchNoLeak: two local users with different clearances get
// different counts and scores from tearline match on the same node, and
// the restricted user's output is exactly what a node that never held the
// hidden objects gives it.
func TestMatchNoLeak(t *testing.T) {
	objs := matchFixture()
	full := matchNode(t, objs, func(matchObject) bool { return true })
	without := matchNode(t, objs, func(o matchObject) bool { return !o.secret })
	log := writeLog(t)
	restricted := []string{"--as-user", "r.jones", "--clearance", "GBR:OFFICIAL-SENSITIVE"}
	cleared := []string{"--as-user", "c.smith", "--clearance", "GBR:SECRET"}

	outR, r := runMatch(t, full, log, restricted...)
	outW, _ := runMatch(t, without, log, restricted...)
	if outR != outW {
		t.Fatalf("restricted user's match differs from a node without the hidden objects:\n%s\nwant\n%s", outR, outW)
	}
	_, c := runMatch(t, full, log, cleared...)
	count := func(m matchJSON) (alerts, reports, corroboration, score int) {
		for _, a := range m.Alerts {
			alerts++
			for _, f := range a.Findings {
				reports += len(f.Reports)
				corroboration += f.Corroboration
				score += f.Best.Score
			}
		}
		return
	}
	ra, rr, rc, rs := count(r)
	ca, cr, cc, cs := count(c)
	if !(rr < cr && rc < cc && rs < cs) || ra > ca {
		t.Errorf("restricted: %d alerts, %d reports, corroboration %d, scores %d; cleared: %d, %d, %d, %d; want fewer reports, less corroboration and lower scores for the restricted user",
			ra, rr, rc, rs, ca, cr, cc, cs)
	}
	for _, hidden := range []string{"indicator--1a2b3c4d-0000-4000-8000-000000000001", "indicator--1a2b3c4d-0000-4000-8000-000000000004", "USA", "CAN", "A1"} {
		if strings.Contains(outR, hidden) {
			t.Errorf("restricted user's output names %q, which only SECRET objects hold", hidden)
		}
	}
	// Text output too.
	textR, _, _ := run(t, "", append([]string{"match", "--dir", full, log, "--at", "2026-10-15T00:30:00Z"}, restricted...)...)
	textW, _, _ := run(t, "", append([]string{"match", "--dir", without, log, "--at", "2026-10-15T00:30:00Z"}, restricted...)...)
	if textR != textW {
		t.Errorf("restricted user's text output differs between the nodes:\n%s\nwant\n%s", textR, textW)
	}
}

func TestMatchUsage(t *testing.T) {
	dir := initNode(t)
	log := writeLog(t)
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--clearance", "GBR:SECRET"}, 2, "give --as-user too"},
		{[]string{"--as-user", "x", "--as-partner", "FRA"}, 2, "give one"},
		{[]string{"--as-user", "x", "--clearance", "GBR:SUPER"}, 2, "not a level of GBR"},
		{[]string{"--at", "yesterday"}, 2, "--at"},
	}
	for _, c := range cases {
		_, errs, code := run(t, "", append([]string{"match", "--dir", dir, log}, c.args...)...)
		if code != c.code || !strings.Contains(errs, c.want) {
			t.Errorf("match %v: exit %d %q; want %d with %q", c.args, code, errs, c.code, c.want)
		}
	}
	if _, errs, code := run(t, "", "match", "--dir", dir, filepath.Join(t.TempDir(), "absent.log")); code != 1 || !strings.Contains(errs, "absent.log") {
		t.Errorf("match of a missing file: exit %d %q", code, errs)
	}
	// A partner viewer: nothing decided for FRA, nothing seen.
	out, errs, code := run(t, "192.0.2.1\n", "match", "--dir", dir, "-", "--as-partner", "FRA")
	if code != 0 || !strings.Contains(out, "matched as partner FRA") || !strings.Contains(out, "0 alerts") {
		t.Errorf("match --as-partner: exit %d %q %q", code, out, errs)
	}
}

func TestBenchAnalytics(t *testing.T) {
	out, errs, code := run(t, "", "bench", "analytics", "--observables", "2000", "--lookups", "2000", "--objects", "200", "--sightings", "50", "--json")
	if code != 0 {
		t.Fatalf("bench analytics: exit %d %s", code, errs)
	}
	var r analyticsBench
	if err := json.Unmarshal([]byte(out), &r); err != nil || r.Observables != 2000 || r.Sightings != 50 || r.LookupsPerSecond <= 0 || r.AlertLatencyP99us <= 0 {
		t.Errorf("bench analytics = %s (%v)", out, err)
	}
}
