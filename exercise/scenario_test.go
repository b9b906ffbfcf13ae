package exercise

import (
	"bytes"
	"strings"
	"testing"

	"github.com/tearline/tearline/fuzzseed"
	"github.com/tearline/tearline/policy"
)

func TestBuiltinScenarios(t *testing.T) {
	ids := BuiltinIDs()
	if len(ids) == 0 {
		t.Fatal("no built-in scenarios")
	}
	for _, id := range ids {
		sc, _, err := Builtin(id)
		if err != nil {
			t.Fatalf("Builtin(%s): %v", id, err)
		}
		if id == "five-nations" {
			if len(sc.Timeline) < 30 {
				t.Errorf("five-nations has %d injects; it must have at least 30", len(sc.Timeline))
			}
			kinds := map[string]bool{}
			for _, in := range sc.Timeline {
				switch {
				case in.Publish != nil:
					kinds["publish"] = true
				case in.Sight != nil:
					kinds["sight"] = true
				case in.Partition != nil:
					kinds["partition"] = true
				case in.Heal != nil:
					kinds["heal"] = true
				case in.Kill != nil:
					kinds["kill"] = true
				case in.Restart != nil:
					kinds["restart"] = true
				case in.Join != nil:
					kinds["join"] = true
				case in.Request != nil:
					kinds["request"] = true
				case in.Approve != nil:
					kinds["approve"] = true
				case in.Deny != nil:
					kinds["deny"] = true
				case in.Recall != nil:
					kinds["recall"] = true
				}
			}
			for _, k := range []string{"publish", "sight", "partition", "heal", "kill", "restart", "join", "request", "approve", "deny", "recall"} {
				if !kinds[k] {
					t.Errorf("five-nations has no %s inject", k)
				}
			}
			banners := ""
			for _, p := range sc.Objects() {
				banners += p.Banner + "\n"
			}
			for _, trap := range []string{"ORCON", "NOFORN", "RELIDO"} {
				if !strings.Contains(banners, trap) {
					t.Errorf("five-nations has no %s item", trap)
				}
			}
		}
	}
	if _, _, err := Builtin("nope"); err == nil || !strings.Contains(err.Error(), "five-nations") {
		t.Errorf("Builtin(nope) = %v; want an error listing the built-in scenarios", err)
	}
}

const minimal = `id: tiny
title: Tiny
exercise: TINY-1
start: 2026-11-02T08:00:00Z
nations: [{code: GBR, name: UK}, {code: FRA, name: France}]
agreements: [{example: gbr-fra.yaml, holders: [GBR, FRA]}]
timeline:
  - at: 0m
    publish: {by: GBR, object: a, type: report, name: A, banner: "GBR SECRET//REL TO GBR, FRA"}
expect:
  - receive: {node: FRA, object: a, within: 1m}
`

func TestParseRejects(t *testing.T) {
	if _, err := Parse([]byte(minimal)); err != nil {
		t.Fatalf("Parse(minimal) = %v", err)
	}
	cases := []struct {
		name, edit, want string
	}{
		{"unknown key", "title: Tiny\n", "title: Tiny\ncolour: red\n"},
		{"unknown nation", "{by: GBR, object: a", "{by: ZZZ, object: a"},
		{"two actions", "    publish: {by: GBR", "    heal: {between: [GBR, FRA]}\n    publish: {by: GBR"},
		{"unknown object", "receive: {node: FRA, object: a,", "receive: {node: FRA, object: b,"},
		{"bad offset", "at: 0m", "at: soon"},
		{"no within", ", within: 1m}", "}"},
		{"bad marking", "exercise: TINY-1", "exercise: tiny"},
		{"indicator without a pattern", "type: report", "type: indicator"},
	}
	wants := map[string]string{
		"unknown key": "colour", "unknown nation": `"ZZZ" is not one of the scenario's nations`, "two actions": "exactly one action",
		"unknown object": `object "b"`, "bad offset": "not an offset", "no within": "within", "bad marking": "EXERCISE marking",
		"indicator without a pattern": "pattern",
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(minimal, c.edit, c.want, 1)
			if in == minimal {
				t.Fatalf("edit %q not found", c.edit)
			}
			_, err := Parse([]byte(in))
			if err == nil || !strings.Contains(err.Error(), wants[c.name]) {
				t.Errorf("Parse(%s) = %v; want an error saying %q", c.name, err, wants[c.name])
			}
		})
	}
}

func TestObjectID(t *testing.T) {
	a, b := ObjectID("five-nations", "report", "x"), ObjectID("five-nations", "report", "y")
	if a == b || a != ObjectID("five-nations", "report", "x") || !strings.HasPrefix(a, "report--") || len(a) != len("report--")+36 {
		t.Errorf("ObjectID = %s, %s", a, b)
	}
	if a[len("report--")+14] != '5' {
		t.Errorf("ObjectID %s is not a version 5 UUID", a)
	}
}

func FuzzParse(f *testing.F) {
	fuzzseed.Require(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse(data)
		if err == nil && (sc.ID == "" || len(sc.Timeline) == 0) {
			t.Fatalf("Parse accepted a scenario without id or timeline")
		}
	})
}

func TestScorecardHTML(t *testing.T) {
	c := &Scorecard{Scenario: "tiny", Title: "Tiny <script>", Exercise: "TINY-1", Speed: 60, Nations: []string{"FRA", "GBR"},
		Met: 1, Missed: 1, Results: []Result{{Kind: "receive", Nation: "FRA", Object: "a", Met: true, Why: "arrived"},
			{Kind: "never", Nation: "FRA", Object: "b", Why: "reached FRA"}},
		Violations: []string{"FRA holds b"}, Arrivals: []Arrival{{Nation: "GBR", Object: "a", Origin: true}, {Nation: "FRA", Object: "a", At: 3e9}},
		Events: []Event{{Kind: "partition", Detail: "GBR-FRA"}}, Outages: []Outage{{What: "GBR-FRA", Start: 1e9, End: 2e9}}}
	var b bytes.Buffer
	if err := c.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, want := range []string{`<svg id="timeline"`, "FAILED", "Tiny &lt;script&gt;", "FRA holds b", "<circle", "<rect class=\"outage\""} {
		if !strings.Contains(html, want) {
			t.Errorf("scorecard HTML lacks %q", want)
		}
	}
	if strings.Contains(html, "<script") {
		t.Error("scorecard HTML has a script element")
	}
	var j bytes.Buffer
	if err := c.WriteJSON(&j); err != nil || !strings.Contains(j.String(), `"policy_violations"`) {
		t.Errorf("WriteJSON = %s, %v", j.String(), err)
	}
}

// TestBuiltinAgreements: every agreement a built-in scenario gives its
// nodes parses.
func TestBuiltinAgreements(t *testing.T) {
	for _, id := range BuiltinIDs() {
		sc, _, err := Builtin(id)
		if err != nil {
			t.Fatal(err)
		}
		for i, a := range sc.Agreements {
			text := []byte(a.Inline)
			if a.Example != "" {
				if text, err = policy.ExampleAgreementText(a.Example); err != nil {
					t.Fatalf("%s agreements[%d]: %v", id, i, err)
				}
			}
			if _, err := policy.ParseAgreement(text); err != nil {
				t.Errorf("%s agreements[%d]: %v", id, i, err)
			}
		}
	}
}
