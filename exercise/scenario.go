// Package exercise runs joint exercises: a scripted multi-nation scenario
// played on a real federation of Tearline nodes, with an accelerated
// clock, and scored.
//
// The package owns the scenario format (a documented YAML file with a JSON
// schema, see scenario.schema.json and the built-in scenarios), the runner
// that plays a timeline against a Federation and checks its expectations,
// and the scorecard (JSON and a self-contained HTML page). It MUST NOT
// start nodes or decide releases itself: the Federation it is given does,
// with the same engine and the same federation code as a real deployment.
//
// Everything an exercise publishes carries the exercise's EXERCISE marking,
// which the release engine never lets out of that exercise (DESIGN.md
// invariant 7).
package exercise

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
)

// Scenario is a parsed scenario file.
type Scenario struct {
	ID    string `yaml:"id"`
	Title string `yaml:"title"`
	// Exercise is the EXERCISE marking every object of the scenario
	// carries.
	Exercise    string `yaml:"exercise"`
	Description string `yaml:"description,omitempty"`
	// Start is the scenario's clock at its first inject.
	Start time.Time `yaml:"start"`

	Nations     []Nation      `yaml:"nations"`
	Hubs        []Hub         `yaml:"hubs,omitempty"`
	Communities []Community   `yaml:"communities,omitempty"`
	Agreements  []Agreement   `yaml:"agreements"`
	Users       []User        `yaml:"users,omitempty"`
	Timeline    []Inject      `yaml:"timeline"`
	Expect      []Expectation `yaml:"expect"`
}

// Nation is a participating nation and its node.
type Nation struct {
	Code string `yaml:"code"`
	Name string `yaml:"name"`
}

// Hub is a community hub: a node run for a community rather than by a
// nation, which relays batches sealed end to end between members that have
// no direct link, and can read none of them. Each pair in Links has no
// direct link: its two nations reach each other only through the hub.
type Hub struct {
	// Code is the hub's partner code, distinct from every nation's and
	// community's.
	Code string `yaml:"code"`
	Name string `yaml:"name"`
	// Community, if set, is the scenario community that runs the hub.
	Community string `yaml:"community,omitempty"`
	Links     []Link `yaml:"links"`
}

// Members lists the nations a hub links, sorted.
func (h Hub) Members() []string {
	var out []string
	for _, l := range h.Links {
		out = append(out, l.Between...)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Community is a community of the scenario's own, with memberships that
// may start or end during the exercise (offsets from Start).
type Community struct {
	Code    string   `yaml:"code"`
	Name    string   `yaml:"name"`
	Members []Member `yaml:"members"`
}

// Member is a nation's membership of a scenario community.
type Member struct {
	Nation string `yaml:"nation"`
	From   Offset `yaml:"from,omitempty"`
	Until  Offset `yaml:"until,omitempty"`
}

// Agreement is an agreement the nations named hold from the start: one of
// the built-in examples by file name, or an agreement's YAML inline.
type Agreement struct {
	Example string   `yaml:"example,omitempty"`
	Inline  string   `yaml:"inline,omitempty"`
	Holders []string `yaml:"holders"`
}

// User is a local user of a nation's node.
type User struct {
	Nation     string   `yaml:"nation"`
	Name       string   `yaml:"name"`
	Clearances []string `yaml:"clearances"`
	Roles      []string `yaml:"roles,omitempty"`
}

// Inject is one event of the timeline, at an offset from Start. Exactly one
// action is set.
type Inject struct {
	At Offset `yaml:"at"`
	// Note says what the inject stands for in the story.
	Note string `yaml:"note,omitempty"`

	Publish   *Publish   `yaml:"publish,omitempty"`
	Sight     *Sight     `yaml:"sight,omitempty"`
	Request   *Request   `yaml:"request,omitempty"`
	Approve   *Decision  `yaml:"approve,omitempty"`
	Deny      *Decision  `yaml:"deny,omitempty"`
	Recall    *Recall    `yaml:"recall,omitempty"`
	Agreement *Agreement `yaml:"agreement,omitempty"`
	Join      *Join      `yaml:"join,omitempty"`
	Partition *Link      `yaml:"partition,omitempty"`
	Heal      *Link      `yaml:"heal,omitempty"`
	Kill      *NodeRef   `yaml:"kill,omitempty"`
	Restart   *NodeRef   `yaml:"restart,omitempty"`
	RotateKey *Rotation  `yaml:"rotate_key,omitempty"`
}

// Rotation: a nation's node replaces its current signing or HPKE key; its
// partners re-pin its re-issued card, as their operators would.
type Rotation struct {
	Node string `yaml:"node"`
	// Key is "signing" or "hpke".
	Key string `yaml:"key"`
}

// Publish: a nation publishes an object with a label.
type Publish struct {
	By     string `yaml:"by"`
	Object string `yaml:"object"` // the scenario's name for it
	Type   string `yaml:"type"`   // indicator, report, ...
	Name   string `yaml:"name"`
	Banner string `yaml:"banner"`
	// Pattern is the indicator's STIX pattern.
	Pattern string `yaml:"pattern,omitempty"`
}

// Sight: a nation sights an observable of an object it holds.
type Sight struct {
	By     string `yaml:"by"`
	Object string `yaml:"object"`
}

// Request: a holder asks an object's originator to let it pass the object
// to a third nation.
type Request struct {
	By     string `yaml:"by"`
	Object string `yaml:"object"`
	To     string `yaml:"to"`
	Name   string `yaml:"name"` // the scenario's name for the request
}

// Decision approves or denies a request, by its originator.
type Decision struct {
	By      string `yaml:"by"`
	Request string `yaml:"request"`
}

// Recall: the originator recalls an object.
type Recall struct {
	By     string `yaml:"by"`
	Object string `yaml:"object"`
}

// Join: a nation joins a scenario community now.
type Join struct {
	Nation    string `yaml:"nation"`
	Community string `yaml:"community"`
}

// Link names two nations whose link is cut or healed.
type Link struct {
	Between []string `yaml:"between"`
}

// NodeRef names a nation's node.
type NodeRef struct {
	Node string `yaml:"node"`
}

// Expectation is what must (or must never) happen. Exactly one is set.
type Expectation struct {
	// Receive: Node holds Object within Within of its publication.
	Receive *Holding `yaml:"receive,omitempty"`
	// Never: Node never holds Object.
	Never *Holding `yaml:"never,omitempty"`
	// Person: releasing Object from its holder to To needs a person.
	Person *Release `yaml:"person,omitempty"`
	// Consent: releasing Object from its holder to To needs the consent
	// of From.
	Consent *Release `yaml:"consent,omitempty"`
	// Purged: after a recall, Node holds Object no more.
	Purged *Holding `yaml:"purged,omitempty"`
	// Relayed: Hub relayed From's batches to To, and To acknowledged them.
	Relayed *Relay `yaml:"relayed,omitempty"`
}

// Relay names a hub and one direction of a pair it links.
type Relay struct {
	Hub  string `yaml:"hub"`
	From string `yaml:"from"`
	To   string `yaml:"to"`
}

// Holding names an object at a node.
type Holding struct {
	Node   string `yaml:"node"`
	Object string `yaml:"object"`
	Within Offset `yaml:"within,omitempty"`
}

// Release names a release decision to check.
type Release struct {
	Holder string `yaml:"holder"`
	Object string `yaml:"object"`
	To     string `yaml:"to"`
	From   string `yaml:"from,omitempty"`
}

// Offset is a duration in scenario time, written as Go durations ("90s",
// "15m", "1h30m"), optionally with a leading "+".
type Offset time.Duration

// UnmarshalYAML reads an offset.
func (o *Offset) UnmarshalYAML(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"'`)
	d, err := time.ParseDuration(strings.TrimPrefix(s, "+"))
	if err != nil {
		return fmt.Errorf("%q is not an offset such as 90s, 15m or 1h30m", s)
	}
	if d < 0 {
		return fmt.Errorf("offset %q is negative", s)
	}
	*o = Offset(d)
	return nil
}

// D returns the offset as a time.Duration.
func (o Offset) D() time.Duration { return time.Duration(o) }

// Error is a scenario that cannot be played: every problem found, each
// naming where it is.
type Error struct {
	File     string
	Problems []string
}

func (e *Error) Error() string {
	name := e.File
	if name == "" {
		name = "scenario"
	}
	return fmt.Sprintf("%s: %s", name, strings.Join(e.Problems, "; "))
}

// maxScenarioSize bounds what Parse reads.
const maxScenarioSize = 4 << 20

var (
	codeRE   = regexp.MustCompile(`^[A-Z][A-Z0-9]{2,9}$`)
	nameRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,63}$`)
	markRE   = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,63}$`)
	userRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9._@-]{0,63}$`)
	stixType = regexp.MustCompile(`^[a-z][a-z0-9-]{2,249}$`)
)

// Parse reads a scenario and checks that it can be played: known keys only,
// every reference resolved (nations, objects, requests, communities), one
// action per inject and one kind per expectation, offsets in order.
// Labels and agreements are checked when the scenario is set up, by the
// node code that reads them.
func Parse(data []byte) (*Scenario, error) {
	if len(data) > maxScenarioSize {
		return nil, &Error{Problems: []string{fmt.Sprintf("the file is larger than %d bytes", maxScenarioSize)}}
	}
	var s Scenario
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.DisallowUnknownField(), yaml.Strict()); err != nil {
		return nil, &Error{Problems: []string{yamlProblem(err)}}
	}
	if problems := s.check(); len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return &s, nil
}

// yamlProblem says where a YAML error is, without the source excerpt
// goccy/go-yaml would print.
func yamlProblem(err error) string {
	var ye yaml.Error
	if errors.As(err, &ye) {
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			return fmt.Sprintf("line %d: %s", tk.Position.Line, ye.GetMessage())
		}
		return ye.GetMessage()
	}
	msg := err.Error()
	if i := bytes.IndexByte([]byte(msg), '\n'); i > 0 {
		msg = msg[:i]
	}
	return msg
}

func (s *Scenario) check() []string {
	var p []string
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }
	if !nameRE.MatchString(s.ID) {
		add("id %q: use lower-case letters, digits and hyphens", s.ID)
	}
	if s.Title == "" {
		add("title: missing")
	}
	if !markRE.MatchString(s.Exercise) {
		add("exercise %q: the EXERCISE marking, upper-case letters, digits and hyphens", s.Exercise)
	}
	if s.Start.IsZero() {
		add("start: missing; give the scenario clock's start, such as 2026-11-01T08:00:00Z")
	}
	nations := map[string]bool{}
	for i, n := range s.Nations {
		switch {
		case !codeRE.MatchString(n.Code):
			add("nations[%d].code %q: a partner code such as GBR", i, n.Code)
		case nations[n.Code]:
			add("nations[%d].code %s: listed twice", i, n.Code)
		}
		nations[n.Code] = true
	}
	if len(s.Nations) < 2 {
		add("nations: an exercise needs at least two")
	}
	nation := func(where, code string) {
		if !nations[code] {
			add("%s: %q is not one of the scenario's nations", where, code)
		}
	}
	comms := map[string]bool{}
	for i, c := range s.Communities {
		if !codeRE.MatchString(c.Code) {
			add("communities[%d].code %q: upper-case letters and digits", i, c.Code)
		}
		comms[c.Code] = true
		for j, m := range c.Members {
			nation(fmt.Sprintf("communities[%d].members[%d].nation", i, j), m.Nation)
			if m.Until != 0 && m.Until <= m.From {
				add("communities[%d].members[%d]: until is not after from", i, j)
			}
		}
	}
	// Hubs: codes of their own, and pairs of nations that only they link.
	hubs := map[string]bool{}
	routed := map[[2]string]string{} // sorted pair -> hub
	for i, h := range s.Hubs {
		where := fmt.Sprintf("hubs[%d]", i)
		switch {
		case !codeRE.MatchString(h.Code):
			add("%s.code %q: a partner code for the hub's node, such as CTHUB", where, h.Code)
		case nations[h.Code] || comms[h.Code]:
			add("%s.code %s: already a nation's or a community's code; give the hub a code of its own", where, h.Code)
		case hubs[h.Code]:
			add("%s.code %s: listed twice", where, h.Code)
		}
		hubs[h.Code] = true
		if h.Name == "" {
			add("%s.name: missing", where)
		}
		if h.Community != "" && !comms[h.Community] {
			add("%s.community %q: not a community of the scenario", where, h.Community)
		}
		if len(h.Links) == 0 {
			add("%s.links: name the pairs of nations that reach each other through the hub", where)
		}
		for j, l := range h.Links {
			lw := fmt.Sprintf("%s.links[%d].between", where, j)
			if len(l.Between) != 2 || l.Between[0] == l.Between[1] {
				add("%s: a link is between two different nations", lw)
				continue
			}
			nation(lw, l.Between[0])
			nation(lw, l.Between[1])
			k := pair(l.Between[0], l.Between[1])
			if other, dup := routed[k]; dup {
				add("%s: %s and %s already reach each other through %s", lw, k[0], k[1], other)
			}
			routed[k] = h.Code
		}
	}
	node := func(where, code string) {
		if !nations[code] && !hubs[code] {
			add("%s: %q is neither a nation nor a hub of the scenario", where, code)
		}
	}
	for i, a := range s.Agreements {
		if (a.Example == "") == (a.Inline == "") {
			add("agreements[%d]: give example or inline, one of them", i)
		}
		if len(a.Holders) == 0 {
			add("agreements[%d].holders: name the nations whose nodes hold it", i)
		}
		for j, h := range a.Holders {
			nation(fmt.Sprintf("agreements[%d].holders[%d]", i, j), h)
		}
	}
	for i, u := range s.Users {
		nation(fmt.Sprintf("users[%d].nation", i), u.Nation)
		if !userRE.MatchString(u.Name) {
			add("users[%d].name %q: lower-case letters, digits and . _ @ -", i, u.Name)
		}
	}

	objects := map[string]string{} // name -> publisher
	requests := map[string]bool{}
	var last Offset
	for i, in := range s.Timeline {
		where := fmt.Sprintf("timeline[%d]", i)
		if in.At < last {
			add("%s.at %s: before the inject above it (%s); keep the timeline in order", where, in.At.D(), last.D())
		}
		last = in.At
		set := 0
		for _, ok := range []bool{in.Publish != nil, in.Sight != nil, in.Request != nil, in.Approve != nil, in.Deny != nil,
			in.Recall != nil, in.Agreement != nil, in.Join != nil, in.Partition != nil, in.Heal != nil,
			in.Kill != nil, in.Restart != nil, in.RotateKey != nil} {
			if ok {
				set++
			}
		}
		if set != 1 {
			add("%s: give exactly one action (publish, sight, request, approve, deny, recall, agreement, join, partition, heal, kill, restart, rotate_key); found %d", where, set)
			continue
		}
		object := func(field, name string) {
			if _, ok := objects[name]; !ok {
				add("%s.%s: object %q is not published above", where, field, name)
			}
		}
		switch {
		case in.Publish != nil:
			pb := in.Publish
			nation(where+".publish.by", pb.By)
			if !nameRE.MatchString(pb.Object) {
				add("%s.publish.object %q: lower-case letters, digits and hyphens", where, pb.Object)
			} else if _, dup := objects[pb.Object]; dup {
				add("%s.publish.object %q: published twice", where, pb.Object)
			}
			objects[pb.Object] = pb.By
			if !stixType.MatchString(pb.Type) {
				add("%s.publish.type %q: a STIX type such as indicator or report", where, pb.Type)
			}
			if pb.Type == "indicator" && pb.Pattern == "" {
				add("%s.publish.pattern: an indicator needs a STIX pattern", where)
			}
			if pb.Banner == "" {
				add("%s.publish.banner: give the label, such as \"GBR SECRET//REL TO USA, GBR\"", where)
			}
			if pb.Name == "" {
				add("%s.publish.name: missing", where)
			}
		case in.Sight != nil:
			nation(where+".sight.by", in.Sight.By)
			object("sight.object", in.Sight.Object)
		case in.Request != nil:
			rq := in.Request
			nation(where+".request.by", rq.By)
			nation(where+".request.to", rq.To)
			object("request.object", rq.Object)
			if !nameRE.MatchString(rq.Name) || requests[rq.Name] {
				add("%s.request.name %q: a new name for the request (lower-case, digits, hyphens)", where, rq.Name)
			}
			requests[rq.Name] = true
		case in.Approve != nil || in.Deny != nil:
			d, verb := in.Approve, "approve"
			if d == nil {
				d, verb = in.Deny, "deny"
			}
			nation(where+"."+verb+".by", d.By)
			if !requests[d.Request] {
				add("%s.%s.request %q: no request of that name above", where, verb, d.Request)
			}
		case in.Recall != nil:
			nation(where+".recall.by", in.Recall.By)
			object("recall.object", in.Recall.Object)
			if pub := objects[in.Recall.Object]; pub != "" && pub != in.Recall.By {
				add("%s.recall.by %s: only the originator (%s) recalls %s", where, in.Recall.By, pub, in.Recall.Object)
			}
		case in.Agreement != nil:
			a := in.Agreement
			if (a.Example == "") == (a.Inline == "") || len(a.Holders) == 0 {
				add("%s.agreement: give example or inline, and holders", where)
			}
			for j, h := range a.Holders {
				nation(fmt.Sprintf("%s.agreement.holders[%d]", where, j), h)
			}
		case in.Join != nil:
			nation(where+".join.nation", in.Join.Nation)
			if !comms[in.Join.Community] {
				add("%s.join.community %q: not a community of the scenario", where, in.Join.Community)
			}
		case in.Partition != nil || in.Heal != nil:
			l := in.Partition
			if l == nil {
				l = in.Heal
			}
			if len(l.Between) != 2 || l.Between[0] == l.Between[1] {
				add("%s: a link is between two different nodes", where)
				break
			}
			for _, c := range l.Between {
				node(where+".between", c)
			}
			a, b := l.Between[0], l.Between[1]
			switch {
			case hubs[a] && hubs[b]:
				add("%s: %s and %s are both hubs; hubs have no link with each other", where, a, b)
			case hubs[a] || hubs[b]:
				h, m := a, b
				if hubs[b] {
					h, m = b, a
				}
				if nations[m] && !s.hubOf(h).member(m) {
					add("%s: %s is not linked through hub %s; name a nation among its links", where, m, h)
				}
			case routed[pair(a, b)] != "":
				h := routed[pair(a, b)]
				add("%s: %s and %s have no direct link, they reach each other through hub %s; cut %s-%s or %s-%s instead", where, a, b, h, a, h, b, h)
			}
		case in.Kill != nil:
			node(where+".kill.node", in.Kill.Node)
		case in.Restart != nil:
			node(where+".restart.node", in.Restart.Node)
		case in.RotateKey != nil:
			nation(where+".rotate_key.node", in.RotateKey.Node)
			if k := in.RotateKey.Key; k != "signing" && k != "hpke" {
				add("%s.rotate_key.key %q: signing or hpke", where, k)
			}
		}
	}
	if len(s.Timeline) == 0 {
		add("timeline: empty")
	}
	for i, e := range s.Expect {
		where := fmt.Sprintf("expect[%d]", i)
		set := 0
		for _, ok := range []bool{e.Receive != nil, e.Never != nil, e.Person != nil, e.Consent != nil, e.Purged != nil, e.Relayed != nil} {
			if ok {
				set++
			}
		}
		if set != 1 {
			add("%s: give exactly one of receive, never, person, consent, purged, relayed", where)
			continue
		}
		holding := func(kind string, h *Holding) {
			nation(where+"."+kind+".node", h.Node)
			if _, ok := objects[h.Object]; !ok {
				add("%s.%s.object %q: not published in the timeline", where, kind, h.Object)
			}
		}
		release := func(kind string, r *Release) {
			nation(where+"."+kind+".holder", r.Holder)
			nation(where+"."+kind+".to", r.To)
			if _, ok := objects[r.Object]; !ok {
				add("%s.%s.object %q: not published in the timeline", where, kind, r.Object)
			}
		}
		switch {
		case e.Receive != nil:
			holding("receive", e.Receive)
			if e.Receive.Within == 0 {
				add("%s.receive.within: give how soon, such as 2m", where)
			}
		case e.Never != nil:
			holding("never", e.Never)
		case e.Purged != nil:
			holding("purged", e.Purged)
		case e.Person != nil:
			release("person", e.Person)
		case e.Consent != nil:
			release("consent", e.Consent)
			nation(where+".consent.from", e.Consent.From)
		case e.Relayed != nil:
			r := e.Relayed
			if !hubs[r.Hub] {
				add("%s.relayed.hub %q: not a hub of the scenario", where, r.Hub)
			}
			nation(where+".relayed.from", r.From)
			nation(where+".relayed.to", r.To)
			if r.From != r.To && hubs[r.Hub] && routed[pair(r.From, r.To)] != r.Hub {
				add("%s.relayed: %s and %s are not linked through hub %s (see hubs[].links)", where, r.From, r.To, r.Hub)
			}
		}
	}
	if len(s.Expect) == 0 {
		add("expect: no expectations; an exercise is scored against them")
	}
	return p
}

// Objects lists the names of the objects the timeline publishes, with
// their publishers, in timeline order.
func (s *Scenario) Objects() []Publish {
	var out []Publish
	for _, in := range s.Timeline {
		if in.Publish != nil {
			out = append(out, *in.Publish)
		}
	}
	return out
}

// HubCodes lists the scenario's hubs.
func (s *Scenario) HubCodes() []string {
	var out []string
	for _, h := range s.Hubs {
		out = append(out, h.Code)
	}
	slices.Sort(out)
	return out
}

// Route returns the hub through which nations a and b reach each other,
// or "" if they have a direct link.
func (s *Scenario) Route(a, b string) string {
	for _, h := range s.Hubs {
		for _, l := range h.Links {
			if len(l.Between) == 2 && pair(l.Between[0], l.Between[1]) == pair(a, b) {
				return h.Code
			}
		}
	}
	return ""
}

func (s *Scenario) hubOf(code string) Hub {
	for _, h := range s.Hubs {
		if h.Code == code {
			return h
		}
	}
	return Hub{}
}

func (h Hub) member(nation string) bool { return slices.Contains(h.Members(), nation) }

// pair orders two codes, to name a link whichever way it is given.
func pair(a, b string) [2]string {
	if b < a {
		a, b = b, a
	}
	return [2]string{a, b}
}

// NationCodes lists the scenario's nations.
func (s *Scenario) NationCodes() []string {
	var out []string
	for _, n := range s.Nations {
		out = append(out, n.Code)
	}
	slices.Sort(out)
	return out
}
