package exercise

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

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

const withHub = `id: tiny
title: Tiny
exercise: TINY-1
start: 2026-11-02T08:00:00Z
nations: [{code: GBR, name: UK}, {code: FRA, name: France}, {code: DEU, name: Germany}]
communities: [{code: CTWG, name: Working group, members: [{nation: GBR}]}]
hubs:
  - {code: CTHUB, name: Hub, community: CTWG, links: [{between: [DEU, FRA]}]}
agreements: [{example: gbr-fra.yaml, holders: [GBR, FRA]}]
timeline:
  - at: 0m
    publish: {by: GBR, object: a, type: report, name: A, banner: "GBR SECRET//REL TO GBR, FRA"}
  - at: 1m
    partition: {between: [DEU, CTHUB]}
  - at: 2m
    kill: {node: CTHUB}
  - at: 3m
    rotate_key: {node: GBR, key: signing}
expect:
  - receive: {node: FRA, object: a, within: 1m}
  - relayed: {hub: CTHUB, from: DEU, to: FRA}
`

// TestParseHubs: a scenario declares community hubs and the pairs of
// nations that reach each other only through them; links, injects and
// expectations that contradict that are refused with where and why.
func TestParseHubs(t *testing.T) {
	sc, err := Parse([]byte(withHub))
	if err != nil {
		t.Fatalf("Parse(withHub) = %v", err)
	}
	if got := sc.Route("FRA", "DEU"); got != "CTHUB" {
		t.Errorf("Route(FRA, DEU) = %q; want CTHUB", got)
	}
	if got := sc.Route("GBR", "FRA"); got != "" {
		t.Errorf("Route(GBR, FRA) = %q; want a direct link", got)
	}
	if got := sc.Hubs[0].Members(); !slices.Equal(got, []string{"DEU", "FRA"}) {
		t.Errorf("Members() = %v", got)
	}
	cases := []struct{ name, edit, want, says string }{
		{"hub code of a nation", "{code: CTHUB, name: Hub", "{code: GBR, name: Hub", "hubs[0].code GBR: already a nation's"},
		{"hub code of a community", "{code: CTHUB, name: Hub", "{code: CTWG, name: Hub", "already a nation's or a community's code"},
		{"unknown community", "community: CTWG,", "community: NOPE,", `hubs[0].community "NOPE"`},
		{"no links", "links: [{between: [DEU, FRA]}]", "links: []", "hubs[0].links: name the pairs"},
		{"link to itself", "links: [{between: [DEU, FRA]}]", "links: [{between: [DEU, DEU]}]", "hubs[0].links[0].between: a link is between two different nations"},
		{"link to an unknown nation", "links: [{between: [DEU, FRA]}]", "links: [{between: [DEU, ITA]}]", `"ITA" is not one of the scenario's nations`},
		{"pair twice", "links: [{between: [DEU, FRA]}]", "links: [{between: [DEU, FRA]}, {between: [FRA, DEU]}]", "already reach each other through CTHUB"},
		{"partition of a routed pair", "partition: {between: [DEU, CTHUB]}", "partition: {between: [FRA, DEU]}", "FRA and DEU have no direct link, they reach each other through hub CTHUB"},
		{"partition with a non-member", "partition: {between: [DEU, CTHUB]}", "partition: {between: [GBR, CTHUB]}", "GBR is not linked through hub CTHUB"},
		{"kill an unknown node", "kill: {node: CTHUB}", "kill: {node: XHUB}", `"XHUB" is neither a nation nor a hub`},
		{"rotate a hub's key", "rotate_key: {node: GBR,", "rotate_key: {node: CTHUB,", `rotate_key.node: "CTHUB" is not one of the scenario's nations`},
		{"rotate an unknown kind", "key: signing}", "key: tls}", `rotate_key.key "tls": signing or hpke`},
		{"rotate without a kind", "rotate_key: {node: GBR, key: signing}", "rotate_key: {node: GBR}", `rotate_key.key "": signing or hpke`},
		{"relayed by a non-hub", "relayed: {hub: CTHUB,", "relayed: {hub: GBR,", `relayed.hub "GBR": not a hub`},
		{"relayed between a direct pair", "from: DEU, to: FRA}", "from: GBR, to: FRA}", "GBR and FRA are not linked through hub CTHUB"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := strings.Replace(withHub, c.edit, c.want, 1)
			if in == withHub {
				t.Fatalf("edit %q not found", c.edit)
			}
			_, err := Parse([]byte(in))
			if err == nil || !strings.Contains(err.Error(), c.says) {
				t.Errorf("Parse(%s) = %v; want an error saying %q", c.name, err, c.says)
			}
		})
	}
}

// hubStore is a Federation whose hubs' stored files are given; nothing
// else of it is used by the hub check.
type hubStore struct {
	Federation
	files map[string][]byte
	err   error
}

func (h hubStore) HubStorage(ctx context.Context, hub string) (map[string][]byte, error) {
	return h.files, h.err
}

// TestCheckHubs: the exercise's material found in the clear in a hub's
// files is a policy violation, and so is a hub store that cannot be read;
// sealed bytes alone are not.
func TestCheckHubs(t *testing.T) {
	sc, err := Parse([]byte(strings.Replace(withHub, "name: A,", "name: Alpha courier network,", 1)))
	if err != nil {
		t.Fatal(err)
	}
	id := ObjectID(sc.ID, "report", "a")
	check := func(f Federation) *Scorecard {
		r := &runner{sc: sc, f: f, card: &Scorecard{}, ids: map[string]string{"a": id}, published: map[string]time.Duration{"a": 0}}
		r.checkHubs(context.Background())
		return r.card
	}
	clean := check(hubStore{files: map[string][]byte{"tearline.db": []byte("sealed \x00\x01 bytes")}})
	if len(clean.Violations) != 0 || len(clean.HubChecks) != 1 || clean.HubChecks[0].Files != 1 || clean.HubChecks[0].Searched != 2 {
		t.Errorf("clean hub: %+v", clean)
	}
	for name, files := range map[string]map[string][]byte{
		"id":   {"tearline.db-wal": []byte("x" + strings.TrimPrefix(id, "report--") + "x")},
		"name": {"tearline.db": []byte("..Alpha courier network..")},
	} {
		card := check(hubStore{files: files})
		if len(card.Violations) != 1 || !strings.Contains(card.Violations[0], "hub CTHUB holds a's "+name+" in the clear") {
			t.Errorf("%s in the clear: violations %v", name, card.Violations)
		}
	}
	for what, f := range map[string]hubStore{"unreadable": {err: errors.New("permission denied")}, "empty": {files: map[string][]byte{}}} {
		card := check(f)
		if len(card.Violations) != 1 || !strings.Contains(card.Violations[0], "could not be checked") {
			t.Errorf("%s store: violations %v; want one saying it could not be checked", what, card.Violations)
		}
	}
}
