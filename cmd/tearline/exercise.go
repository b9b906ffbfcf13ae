package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/access"
	"github.com/tearline/tearline/exercise"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
)

// exerciseFed is a real federation for an exercise: one node per nation,
// each with its own directory, database, keys and mutual-TLS listener on
// 127.0.0.1, configured as an exercise node of the scenario, pinned to
// every other, and linked through a TCP relay per direction, so that a
// partition cuts real connections.
//
// The scenario's community hubs are nodes too, configured as hubs
// (federation.hub). Two nations the scenario links through a hub have no
// direct link: no relay between them, and each pins the other's card
// without an endpoint (for its keys), with the hub in federation.via; each
// member pins the hub's card with the endpoint of its own relay to the
// hub, and the hub pins the members' cards without endpoints, as
// `tearline serve` runs them.
type exerciseFed struct {
	sc      *exercise.Scenario
	dir     string
	logw    io.Writer
	nations map[string]*exNation
	relays  map[[2]string]*relay // (from, to) -> the relay from's node dials to reach to

	mu     sync.Mutex
	origin map[string]string // object id -> the nation that published it
}

type exNation struct {
	code    string
	hub     bool // a community hub, not a nation
	n       *node.Node
	addr    string // the node's own listener, for partners
	apiAddr string // its users' listener (TAXII with tokens, the console)
	// tokens are the API tokens of the node's exercise users, by name.
	tokens map[string]string
	// ln and uln hold the chosen ports until the node first serves.
	ln, uln net.Listener
	mu      sync.Mutex
	s       store
	stop    context.CancelFunc
	done    chan error
	alive   bool
}

// newExerciseFed creates and starts the federation in dir.
func newExerciseFed(ctx context.Context, sc *exercise.Scenario, dir string, logw io.Writer) (*exerciseFed, error) {
	f := &exerciseFed{sc: sc, dir: dir, logw: logw, nations: map[string]*exNation{}, relays: map[[2]string]*relay{}, origin: map[string]string{}}
	codes := sc.NationCodes()
	all := slices.Clone(sc.Nations)
	for _, h := range sc.Hubs {
		all = append(all, exercise.Nation{Code: h.Code, Name: h.Name})
	}
	for _, nat := range all {
		hub := slices.Contains(sc.HubCodes(), nat.Code)
		n, err := node.Init(filepath.Join(dir, strings.ToLower(nat.Code)), node.InitOptions{Partner: nat.Code, Name: nat.Name})
		if err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		addr := ln.Addr().String()
		uln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			ln.Close()
			return nil, err
		}
		apiAddr := uln.Addr().String()
		// The listeners stay open until the node serves on them, so that
		// no other process takes their ports meanwhile.
		f.nations[nat.Code] = &exNation{code: nat.Code, hub: hub, n: n, addr: addr, apiAddr: apiAddr, tokens: map[string]string{}, ln: ln, uln: uln}
		if err := writeExerciseConfig(n.Dir, sc, nat.Code, addr, apiAddr); err != nil {
			f.Close()
			return nil, err
		}
		if f.nations[nat.Code].n, err = node.Load(n.Dir); err != nil {
			f.Close()
			return nil, err
		}
	}
	// A relay per direction of every direct link (and from each member to
	// its hubs), and each node pins every other's card with the endpoint
	// of its own relay to it, if it has one.
	for _, a := range codes {
		for _, b := range codes {
			if a == b || sc.Route(a, b) != "" {
				continue
			}
			r, err := newRelay(f.nations[b].addr)
			if err != nil {
				f.Close()
				return nil, err
			}
			f.relays[[2]string{a, b}] = r
		}
	}
	for _, h := range sc.Hubs {
		for _, m := range h.Members() {
			r, err := newRelay(f.nations[h.Code].addr)
			if err != nil {
				f.Close()
				return nil, err
			}
			f.relays[[2]string{m, h.Code}] = r
		}
	}
	for _, pin := range f.pinPlan() {
		var endpoints []string
		if r := f.relays[[2]string{pin[0], pin[1]}]; r != nil {
			endpoints = []string{"https://" + r.addr()}
		}
		if _, err := f.pin(pin[0], pin[1], endpoints, false); err != nil {
			f.Close()
			return nil, err
		}
	}
	for i, a := range sc.Agreements {
		if err := f.addAgreement(a); err != nil {
			return nil, fmt.Errorf("agreements[%d]: %w", i, err)
		}
	}
	if err := f.addUsers(ctx); err != nil {
		return nil, err
	}
	for _, code := range append(sc.HubCodes(), codes...) {
		if err := f.start(ctx, code); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// pinPlan lists who pins whom, as (pinner, pinned): every nation every
// other, each member its hubs, each hub its members.
func (f *exerciseFed) pinPlan() [][2]string {
	var plan [][2]string
	codes := f.sc.NationCodes()
	for _, a := range codes {
		for _, b := range codes {
			if a != b {
				plan = append(plan, [2]string{a, b})
			}
		}
	}
	for _, h := range f.sc.Hubs {
		for _, m := range h.Members() {
			plan = append(plan, [2]string{m, h.Code}, [2]string{h.Code, m})
		}
	}
	return plan
}

// pin has a's node pin b's card, issued now with the endpoints given, on
// its fingerprint as b's operator announces it. With rotation, a already
// pins an older card of b, and the new one must be accepted as a key
// rotation: signed by the key a pinned.
func (f *exerciseFed) pin(a, b string, endpoints []string, rotation bool) (partner.AddResult, error) {
	card, data, err := partner.NodeCard(f.nations[b].n, endpoints, time.Now())
	if err != nil {
		return partner.AddResult{}, fmt.Errorf("%s's card for %s: %w", b, a, err)
	}
	fp, err := card.Fingerprint()
	if err != nil {
		return partner.AddResult{}, err
	}
	res, err := partner.NewStore(f.nations[a].n.Dir, a).Add(data, partner.AddOptions{Fingerprint: fp.String()})
	if err != nil {
		return res, fmt.Errorf("%s pins %s: %w", a, b, err)
	}
	if rotation && !res.Rotation && !res.Unchanged {
		return res, fmt.Errorf("%s pins %s: the re-issued card was not accepted as a key rotation", a, b)
	}
	return res, nil
}

// addUsers makes the scenario's users, and an analyst for every nation
// cleared for its national scheme's levels, each with a token valid for a
// day and the default collection granted.
func (f *exerciseFed) addUsers(ctx context.Context) error {
	users := slices.Clone(f.sc.Users)
	for _, nat := range f.sc.Nations {
		if sch, ok := label.LookupScheme(nat.Code); ok {
			levels := sch.Levels()
			users = append(users, exercise.User{Nation: nat.Code, Name: "analyst", Roles: []string{"analyst"},
				Clearances: []string{nat.Code + ":" + levels[len(levels)-1]}})
		}
	}
	for _, u := range users {
		nat := f.nations[u.Nation]
		cl, err := parseClearances(u.Clearances)
		if err != nil {
			return fmt.Errorf("user %s of %s: %w", u.Name, u.Nation, err)
		}
		s, err := openStore(ctx, nat.n)
		if err != nil {
			return err
		}
		err = func() error {
			defer s.Close()
			if err := ensureDefaultCollection(ctx, s); err != nil {
				return err
			}
			us, err := userStoreOf(s)
			if err != nil {
				return err
			}
			user := tearline.User{Name: u.Name, Nationality: u.Nation, Organisation: nat.n.Config.Node.Name, Clearances: cl}
			for _, r := range u.Roles {
				user.Roles = append(user.Roles, tearline.Role(r))
			}
			if len(user.Roles) == 0 {
				user.Roles = []tearline.Role{tearline.RoleAnalyst}
			}
			if err := us.PutUser(ctx, user); err != nil {
				return err
			}
			c, err := s.Collection(ctx, defaultCollection)
			if err != nil {
				return err
			}
			if err := us.SetGrant(ctx, tearline.Grant{Principal: u.Name, Collection: c.ID, Read: true, Write: true}); err != nil {
				return err
			}
			rec, hash, token, err := access.NewToken(u.Name, time.Now(), 24*time.Hour)
			if err != nil {
				return err
			}
			if err := us.AddToken(ctx, rec, hash); err != nil {
				return err
			}
			nat.tokens[u.Name] = token
			return nil
		}()
		if err != nil {
			return fmt.Errorf("user %s of %s: %w", u.Name, u.Nation, err)
		}
	}
	return nil
}

// writeExerciseConfig makes the node of code (a nation or a hub) an
// exercise node of sc listening on addr, with the scenario's communities;
// a hub is configured as one, and a member reaches through its hub the
// nations it has no direct link with. Nodes reached through a hub learn of
// new batches only by pulling: the hub's members pull every
// exercisePollInterval.
func writeExerciseConfig(dir string, sc *exercise.Scenario, code, addr, apiAddr string) error {
	path := filepath.Join(dir, node.ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(string(data), "\n") {
		if strings.HasPrefix(line, "listen:") {
			line = fmt.Sprintf("listen: %q\n", addr)
		}
		b.WriteString(line)
	}
	if slices.Contains(sc.HubCodes(), code) {
		// A hub holds no object and releases nothing: it is no exercise
		// participant, and only relays what members seal to each other.
		fmt.Fprintf(&b, "\n# Community hub of exercise %s.\napi:\n  listen: %q\nfederation:\n  hub: true\n", sc.ID, apiAddr)
		return os.WriteFile(path, b.Bytes(), 0o644)
	}
	fmt.Fprintf(&b, "\n# Exercise node of %s.\nexercise:\n  name: %s\n  participants: [%s]\napi:\n  listen: %q\n", sc.ID, sc.Exercise, strings.Join(sc.NationCodes(), ", "), apiAddr)
	via := map[string]string{}
	for _, other := range sc.NationCodes() {
		if h := sc.Route(code, other); h != "" && other != code {
			via[other] = h
		}
	}
	if len(via) > 0 {
		var hubs, routes []string
		for _, other := range slices.Sorted(maps.Keys(via)) {
			routes = append(routes, other+": "+via[other])
			if !slices.Contains(hubs, via[other]) {
				hubs = append(hubs, via[other])
			}
		}
		slices.Sort(hubs)
		fmt.Fprintf(&b, "federation:\n  hubs: [%s]\n  via: {%s}\n  poll_interval: %s\n", strings.Join(hubs, ", "), strings.Join(routes, ", "), exercisePollInterval)
	}
	if len(sc.Communities) > 0 {
		b.WriteString("communities:\n")
		for _, c := range sc.Communities {
			fmt.Fprintf(&b, "  - code: %s\n    name: %q\n    members:\n", c.Code, c.Name)
			for _, m := range c.Members {
				fmt.Fprintf(&b, "      - {partner: %s, from: \"2000-01-01\"}\n", m.Nation)
			}
		}
	}
	return os.WriteFile(path, b.Bytes(), 0o644)
}

// exercisePollInterval is how often the members of a hub pull from it, in
// real time: half a minute of scenario time at 60x.
const exercisePollInterval = 500 * time.Millisecond

// addAgreement writes an agreement into its holders' nodes. A node reads
// its agreements when it starts; a running holder is restarted.
func (f *exerciseFed) addAgreement(a exercise.Agreement) error {
	text := []byte(a.Inline)
	if a.Example != "" {
		var err error
		if text, err = policy.ExampleAgreementText(a.Example); err != nil {
			return err
		}
	}
	parsed, err := policy.ParseAgreement(text)
	if err != nil {
		return err
	}
	for _, h := range a.Holders {
		nat := f.nations[h]
		dest := agreementFile(nat.n.Dir, parsed)
		if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(dest, text, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// start serves a nation's node.
func (f *exerciseFed) start(ctx context.Context, code string) error {
	nat := f.nations[code]
	nat.mu.Lock()
	defer nat.mu.Unlock()
	if nat.alive {
		return nil
	}
	s, err := openStore(ctx, nat.n)
	if err != nil {
		return err
	}
	if err := ensureDefaultCollection(ctx, s); err != nil {
		s.Close()
		return err
	}
	srv, err := newNodeServer(nat.n, s, f.logw)
	if err != nil {
		s.Close()
		return err
	}
	// The first start serves on the listeners opened when the ports were
	// chosen; a restart listens again on the same addresses.
	ln, uln := nat.ln, nat.uln
	nat.ln, nat.uln = nil, nil
	if ln == nil {
		if ln, err = relisten(nat.addr); err != nil {
			s.Close()
			return fmt.Errorf("%s: %w", code, err)
		}
	}
	if uln == nil {
		if uln, err = relisten(nat.apiAddr); err != nil {
			ln.Close()
			s.Close()
			return fmt.Errorf("%s: %w", code, err)
		}
	}
	users, err := newUserServer(nat.n, s, srv.logger)
	if err != nil {
		ln.Close()
		uln.Close()
		s.Close()
		return err
	}
	sctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan error, 1)
	go func() {
		usersDone := make(chan error, 1)
		go func() { usersDone <- serveUsers(sctx, users, uln) }()
		err := srv.serve(sctx, ln)
		stop()
		done <- errors.Join(err, <-usersDone)
	}()
	nat.s, nat.stop, nat.done, nat.alive = s, stop, done, true
	return nil
}

// relisten listens again on the address of a node that just stopped,
// retrying for a second while the port is released.
func relisten(addr string) (net.Listener, error) {
	var err error
	for try := 0; try < 50; try++ {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, fmt.Errorf("listen on %s: %w", addr, err)
}

// halt stops a nation's node.
func (f *exerciseFed) halt(code string) error {
	nat := f.nations[code]
	nat.mu.Lock()
	defer nat.mu.Unlock()
	if !nat.alive {
		return nil
	}
	nat.stop()
	err := <-nat.done
	nat.s.Close()
	nat.alive = false
	return err
}

// Close stops every node and relay.
func (f *exerciseFed) Close() {
	// Together: each node waits for its open connections to finish.
	var wg sync.WaitGroup
	for code := range f.nations {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.halt(code)
		}()
	}
	wg.Wait()
	for _, nat := range f.nations {
		if nat.ln != nil {
			nat.ln.Close()
		}
		if nat.uln != nil {
			nat.uln.Close()
		}
	}
	for _, r := range f.relays {
		r.close()
	}
}

func (f *exerciseFed) store(code string) (store, *node.Node, error) {
	nat, ok := f.nations[code]
	if !ok {
		return nil, nil, fmt.Errorf("%s is not a nation of the exercise", code)
	}
	nat.mu.Lock()
	defer nat.mu.Unlock()
	if !nat.alive {
		return nil, nil, fmt.Errorf("%s's node is down", code)
	}
	return nat.s, nat.n, nil
}

var _ exercise.Federation = (*exerciseFed)(nil)

// Publish stores an object at a nation's node as its own information,
// labelled with the banner and the exercise's marking, and decides its
// release set at once so that the federation carries it.
func (f *exerciseFed) Publish(ctx context.Context, nation string, o exercise.Object) error {
	s, n, err := f.store(nation)
	if err != nil {
		return err
	}
	marks, err := bannerMarkings(o.Banner + "//EXERCISE " + f.sc.Exercise)
	if err != nil {
		return fmt.Errorf("label %q: %w", o.Banner, err)
	}
	now := time.Now().UTC().Format("2006-01-02T15:04:05.000Z")
	obj := map[string]any{"type": o.Type, "spec_version": "2.1", "id": o.ID, "created": now, "modified": now,
		"name": o.Name, "labels": []string{"counter-terrorism"}, "object_marking_refs": marks.refs}
	switch o.Type {
	case "indicator":
		obj["pattern"], obj["pattern_type"], obj["valid_from"] = o.Pattern, "stix", now
	case "report":
		obj["published"], obj["object_refs"] = now, []string{o.ID}
	case "sighting":
		// Pattern carries the sighted object's id.
		delete(obj, "name")
		obj["sighting_of_ref"], obj["count"] = o.Pattern, 1
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return err
	}
	rel, err := nodeReleasing(n)
	if err != nil {
		return err
	}
	var rejected []string
	input := io.MultiReader(bytes.NewReader(marks.defs), bytes.NewReader(append(data, '\n')))
	if _, err := ingest.Stream(ctx, s, input, ingest.Options{Collection: defaultCollection, Classify: rel.classifier(),
		Reject: func(r ingest.Rejection) { rejected = append(rejected, r.Error()) }}); err != nil {
		return err
	}
	if len(rejected) > 0 {
		return fmt.Errorf("rejected: %s", strings.Join(rejected, "; "))
	}
	f.mu.Lock()
	f.origin[o.ID] = nation
	f.mu.Unlock()
	rs, err := releaseStoreOf(s)
	if err != nil {
		return err
	}
	_, err = release.Update(ctx, rs, rel.Releaser, time.Now().UTC(), nation+" exercise")
	return err
}

// Holds reports whether a nation's node holds an object.
func (f *exerciseFed) Holds(ctx context.Context, nation, id string) (bool, error) {
	s, _, err := f.store(nation)
	if err != nil {
		return false, err
	}
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: defaultCollection, IDs: []string{id}, Limit: 1})
	if err != nil {
		return false, err
	}
	return len(page.Objects) > 0, nil
}

// Decide decides on holder's node, now, releasing an object to recipient.
func (f *exerciseFed) Decide(ctx context.Context, holder, id, recipient string) (tearline.Decision, error) {
	s, n, err := f.store(holder)
	if err != nil {
		return tearline.Decision{}, err
	}
	subject, _, err := loadSubject(ctx, s, defaultCollection, id, holder)
	if err != nil {
		return tearline.Decision{}, err
	}
	rel, err := nodeReleasing(n)
	if err != nil {
		return tearline.Decision{}, err
	}
	now := time.Now().UTC()
	return rel.engine.Decide(&policy.Request{Subject: subject, Recipient: rel.recipient(recipient, now), Action: tearline.Release, Time: now}), nil
}

// workflow is a nation's consent workflow on its running node's store.
func (f *exerciseFed) workflow(nation string) (*federation.Workflow, error) {
	s, n, err := f.store(nation)
	if err != nil {
		return nil, err
	}
	return consentWorkflow(n, s)
}

// Request has holder's node ask the originator of id for consent to pass
// it to to, over the federation, and returns the request's id.
func (f *exerciseFed) Request(ctx context.Context, holder, id, to string) (string, error) {
	w, err := f.workflow(holder)
	if err != nil {
		return "", err
	}
	r, err := w.Request(ctx, id, to, "exercise "+f.sc.Exercise)
	if err != nil {
		return "", err
	}
	return r.ID, nil
}

// Approve has originator's releaser approve a request: its node signs the
// consent and sends it to the requester's node.
func (f *exerciseFed) Approve(ctx context.Context, originator, request string) error {
	w, err := f.workflow(originator)
	if err != nil {
		return err
	}
	_, err = w.Approve(ctx, request, 0)
	return err
}

// Deny has originator's releaser deny a request, with a signed denial.
func (f *exerciseFed) Deny(ctx context.Context, originator, request string) error {
	w, err := f.workflow(originator)
	if err != nil {
		return err
	}
	_, err = w.Deny(ctx, request, "denied in exercise "+f.sc.Exercise)
	return err
}

// Recall recalls every version of id at its originator's node; the
// running node delivers the notices.
func (f *exerciseFed) Recall(ctx context.Context, originator, id string) error {
	s, n, err := f.store(originator)
	if err != nil {
		return err
	}
	_, _, err = recallVersions(ctx, s, n, id, "recalled in exercise "+f.sc.Exercise, originator+" exercise")
	return err
}

// RotateKey rotates a nation's signing or HPKE key as its operator would
// with `tearline keys rotate`: the node is stopped, the key replaced (the
// old one retired and archived) and the rotation recorded in the node's
// audit log; then its new card, signed by the new key and, after a signing
// key rotation, by the previous one, goes to every partner and hub that
// pins it, each of which pins it on the fingerprint announced, as a
// rotation signed by the key it pinned (`tearline partner add`); then the
// node serves again. It returns the steps, for the scorecard's timeline.
func (f *exerciseFed) RotateKey(ctx context.Context, nation, kind string) (string, error) {
	nat, ok := f.nations[nation]
	if !ok || nat.hub {
		return "", fmt.Errorf("%s is not a nation of the exercise", nation)
	}
	k := node.KeyKind(kind)
	if k != node.KindSigning && k != node.KindHPKE {
		return "", fmt.Errorf("key %q: rotate signing or hpke", kind)
	}
	if err := f.halt(nation); err != nil {
		return "", fmt.Errorf("stop %s's node to rotate its key: %w", nation, err)
	}
	done, err := f.rotate(ctx, nat, k)
	if rerr := f.start(ctx, nation); rerr != nil {
		err = errors.Join(err, fmt.Errorf("restart %s's node after the rotation: %w", nation, rerr))
	}
	return done, err
}

func (f *exerciseFed) rotate(ctx context.Context, nat *exNation, k node.KeyKind) (string, error) {
	old := nat.n.CurrentKey(k)
	fresh, err := nat.n.RotateKey(k, node.RotateOptions{})
	if err != nil {
		return "", err
	}
	s, err := openStore(ctx, nat.n)
	if err != nil {
		return "", err
	}
	err = recordEvent(ctx, nat.n, s, ledger.Event{Kind: ledger.KindKeyRotated, Subjects: []string{fresh.ID, old.ID}, Actor: nat.code + " exercise",
		Details: map[string]string{"kind": string(k), "action": "rotated", "current": fresh.ID, "retired": old.ID}})
	s.Close()
	if err != nil {
		return "", err
	}
	var (
		pinned []string
		fp     partner.Fingerprint
	)
	for _, p := range f.pinPlan() {
		if p[1] != nat.code {
			continue
		}
		var endpoints []string
		if r := f.relays[[2]string{p[0], p[1]}]; r != nil {
			endpoints = []string{"https://" + r.addr()}
		}
		res, err := f.pin(p[0], nat.code, endpoints, true)
		if err != nil {
			return "", err
		}
		fp = res.Fingerprint
		pinned = append(pinned, p[0])
	}
	slices.Sort(pinned)
	return fmt.Sprintf("%s retired, %s current; the new card (%s), signed by the pinned key, re-pinned on its fingerprint by %s",
		old.ID, fresh.ID, fp, strings.Join(pinned, ", ")), nil
}

// Relayed returns how far the hub holds from's stream to to as
// acknowledged by to.
func (f *exerciseFed) Relayed(ctx context.Context, hub, from, to string) (uint64, error) {
	if nat, ok := f.nations[hub]; !ok || !nat.hub {
		return 0, fmt.Errorf("%s is not a hub of the exercise", hub)
	}
	s, _, err := f.store(hub)
	if err != nil {
		return 0, err
	}
	hs, ok := s.(mailbox.HubStore)
	if !ok {
		return 0, fmt.Errorf("%s's store holds no hub mailbox", hub)
	}
	pos, err := hs.HubPosition(ctx, from, to)
	if err != nil {
		return 0, err
	}
	return pos.Acked, nil
}

// HubStorage reads the hub's database files (the database, its journal
// and write-ahead log) as raw bytes, running or not.
func (f *exerciseFed) HubStorage(ctx context.Context, hub string) (map[string][]byte, error) {
	nat, ok := f.nations[hub]
	if !ok || !nat.hub {
		return nil, fmt.Errorf("%s is not a hub of the exercise", hub)
	}
	if nat.n.Config.Database.Driver != node.DriverSQLite {
		return nil, fmt.Errorf("%s's database is not a file", hub)
	}
	files, err := filepath.Glob(nat.n.DatabasePath() + "*")
	if err != nil {
		return nil, err
	}
	out := map[string][]byte{}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out[filepath.Base(name)] = data
	}
	return out, nil
}

// AddAgreement gives holders an agreement and restarts their nodes, which
// read agreements when they start, then decides their release sets again.
func (f *exerciseFed) AddAgreement(ctx context.Context, holders []string, a exercise.Agreement) error {
	a.Holders = holders
	if err := f.addAgreement(a); err != nil {
		return err
	}
	for _, h := range holders {
		if err := f.Kill(ctx, h); err != nil {
			return err
		}
		if err := f.Restart(ctx, h); err != nil {
			return err
		}
		s, n, err := f.store(h)
		if err != nil {
			return err
		}
		rel, err := nodeReleasing(n)
		if err != nil {
			return err
		}
		rs, err := releaseStoreOf(s)
		if err != nil {
			return err
		}
		p, err := release.Compute(ctx, rs, rel.Releaser, release.Options{All: true, At: time.Now().UTC(), Actor: h + " exercise", Cause: "agreement added"})
		if err != nil {
			return err
		}
		if err := release.Apply(ctx, rs, p); err != nil {
			return err
		}
	}
	return nil
}

// Partition cuts the link between two nations both ways: their relays
// refuse and drop connections.
func (f *exerciseFed) Partition(ctx context.Context, a, b string) error {
	return f.setLink(a, b, false)
}

// Heal restores the link.
func (f *exerciseFed) Heal(ctx context.Context, a, b string) error {
	return f.setLink(a, b, true)
}

// setLink cuts or restores the relays between a and b: both directions
// between nations, the member's one to a hub.
func (f *exerciseFed) setLink(a, b string, up bool) error {
	found := false
	for _, k := range [][2]string{{a, b}, {b, a}} {
		if r, ok := f.relays[k]; ok {
			r.set(up)
			found = true
		}
	}
	if !found {
		return fmt.Errorf("no direct link %s-%s", a, b)
	}
	return nil
}

// Kill stops a nation's node.
func (f *exerciseFed) Kill(ctx context.Context, nation string) error {
	if _, ok := f.nations[nation]; !ok {
		return fmt.Errorf("%s is not a nation of the exercise", nation)
	}
	return f.halt(nation)
}

// Restart starts it again.
func (f *exerciseFed) Restart(ctx context.Context, nation string) error {
	if _, ok := f.nations[nation]; !ok {
		return fmt.Errorf("%s is not a nation of the exercise", nation)
	}
	return f.start(ctx, nation)
}

// relay forwards TCP connections to a node's listener while its link is
// up; cutting it refuses new connections and drops open ones.
type relay struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	up     bool
	conns  map[net.Conn]bool
	closed bool
}

func newRelay(target string) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, target: target, up: true, conns: map[net.Conn]bool{}}
	go r.accept()
	return r, nil
}

func (r *relay) addr() string { return r.ln.Addr().String() }

func (r *relay) accept() {
	for {
		c, err := r.ln.Accept()
		if err != nil {
			return
		}
		r.mu.Lock()
		up := r.up
		if up {
			r.conns[c] = true
		}
		r.mu.Unlock()
		if !up {
			c.Close()
			continue
		}
		go r.forward(c)
	}
}

func (r *relay) forward(c net.Conn) {
	defer func() {
		r.mu.Lock()
		delete(r.conns, c)
		r.mu.Unlock()
		c.Close()
	}()
	t, err := net.DialTimeout("tcp", r.target, 5*time.Second)
	if err != nil {
		return
	}
	r.mu.Lock()
	if !r.up {
		r.mu.Unlock()
		t.Close()
		return
	}
	r.conns[t] = true
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		delete(r.conns, t)
		r.mu.Unlock()
		t.Close()
	}()
	done := make(chan struct{}, 2)
	go func() { io.Copy(t, c); done <- struct{}{} }()
	go func() { io.Copy(c, t); done <- struct{}{} }()
	<-done
}

func (r *relay) set(up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.up = up
	if !up {
		for c := range r.conns {
			c.Close()
		}
		clear(r.conns)
	}
}

func (r *relay) close() {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.ln.Close()
	r.set(false)
}

// Sight records that nation sighted the observable of an object it holds:
// a STIX sighting on its node, labelled SECRET in its own scheme and
// releasable to the object's originator, so that the federation carries it
// back.
func (f *exerciseFed) Sight(ctx context.Context, nation, id string) error {
	s, _, err := f.store(nation)
	if err != nil {
		return err
	}
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: defaultCollection, IDs: []string{id}, Limit: 1})
	if err != nil {
		return err
	}
	if len(page.Objects) == 0 {
		return fmt.Errorf("%s does not hold %s", nation, id)
	}
	f.mu.Lock()
	origin := f.origin[id]
	f.mu.Unlock()
	banner := nation + " SECRET//REL TO " + nation
	if sch, ok := label.LookupScheme(nation); ok {
		if _, ok := sch.Rank("SECRET"); !ok {
			levels := sch.Levels()
			banner = nation + " " + levels[len(levels)-2] + "//REL TO " + nation
		}
	}
	if origin != "" && origin != nation {
		banner += ", " + origin
	}
	sid := exercise.ObjectID(f.sc.ID, "sighting", nation+" sighted "+id+" "+time.Now().UTC().Format(time.RFC3339Nano))
	return f.Publish(ctx, nation, exercise.Object{ID: sid, Type: "sighting", Name: "Sighting of " + id, Banner: banner, Pattern: id})
}

// Join makes nation a member of a community from now: every node's
// registry learns it, and the nodes restart to read it.
func (f *exerciseFed) Join(ctx context.Context, nation, community string) error {
	if _, ok := f.nations[nation]; !ok {
		return fmt.Errorf("%s is not a nation of the exercise", nation)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	for _, code := range f.sc.NationCodes() {
		nat := f.nations[code]
		path := filepath.Join(nat.n.Dir, node.ConfigFile)
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		marker := fmt.Sprintf("  - code: %s\n", community)
		i := bytes.Index(data, []byte(marker))
		if i < 0 {
			return fmt.Errorf("%s has no community %s", code, community)
		}
		j := bytes.Index(data[i:], []byte("    members:\n"))
		if j < 0 {
			return fmt.Errorf("%s: community %s has no members list", code, community)
		}
		at := i + j + len("    members:\n")
		line := fmt.Sprintf("      - {partner: %s, from: %q}\n", nation, now)
		data = append(data[:at:at], append([]byte(line), data[at:]...)...)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return err
		}
		if nat.n, err = node.Load(nat.n.Dir); err != nil {
			return err
		}
	}
	for _, code := range f.sc.NationCodes() {
		if err := f.Kill(ctx, code); err != nil {
			return err
		}
		if err := f.Restart(ctx, code); err != nil {
			return err
		}
	}
	return nil
}
