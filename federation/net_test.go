package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/postgres"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/stix"
)

// A test federation: real nodes (keys, TLS certificates, pinned cards), each
// with its SQLite store, served over mutual TLS on 127.0.0.1, under the
// example agreements.

type testNode struct {
	t    testing.TB
	code string
	dir  string
	node *node.Node
	rel  *release.Releaser

	mu     sync.Mutex
	store  nodeStore
	ledger ledger.Storage
	// pgURL, if set, is the PostgreSQL database the node keeps its store
	// in; otherwise it is a SQLite file in dir.
	pgURL  string
	fed    *Node
	ln     net.Listener
	addr   string // where the node listens
	srv    *http.Server
	cancel context.CancelFunc
	done   chan struct{}
	logs   *bytes.Buffer
}

type testNet struct {
	t     testing.TB
	nodes map[string]*testNode
	// endpoint, if set, gives the endpoint a node's partners reach it at
	// (a proxy), instead of its listen address.
	endpoint map[string]string
	tune     func(*Config)
}

// newNet makes the nodes, each pinning every other's card with its
// endpoint, and each holding the example agreements. Nodes are not started.
func newNet(t testing.TB, codes ...string) *testNet {
	t.Helper()
	tn := &testNet{t: t, nodes: map[string]*testNode{}, endpoint: map[string]string{}}
	for _, code := range codes {
		tn.addNode(code, "")
	}
	t.Cleanup(func() {
		for _, n := range tn.nodes {
			n.stop()
			n.mu.Lock()
			if n.store != nil {
				n.store.Close()
			}
			n.mu.Unlock()
			if n.ln != nil {
				n.ln.Close()
			}
		}
	})
	return tn
}

// nodeStore is what the tests need of a node's store: what the
// federation needs, and what they inspect.
type nodeStore interface {
	Store
	tearline.ObjectStore
	tearline.ReleaseStore
	Origins(ctx context.Context, objectID string) ([]mailbox.Origin, error)
}

var (
	_ nodeStore = (*sqlite.Store)(nil)
	_ nodeStore = (*postgres.Store)(nil)
)

// addNode makes a node, with its store in PostgreSQL at pgURL if given,
// else in SQLite.
func (tn *testNet) addNode(code, pgURL string) *testNode {
	t := tn.t
	t.Helper()
	agreements, err := policy.ExampleAgreements()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), strings.ToLower(code))
	n, err := node.Init(dir, node.InitOptions{Partner: code, Name: code + " national node"})
	if err != nil {
		t.Fatal(err)
	}
	rel, err := release.NewReleaser(policy.Builtin(), agreements, code)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	tn.nodes[code] = &testNode{t: t, code: code, dir: dir, node: n, rel: rel, ln: ln, addr: ln.Addr().String(), pgURL: pgURL}
	tn.openStore(tn.nodes[code])
	if _, err := tn.nodes[code].store.CreateCollection(context.Background(), tearline.Collection{Alias: "default"}); err != nil {
		t.Fatal(err)
	}
	return tn.nodes[code]
}

func (tn *testNet) openStore(n *testNode) {
	var (
		s  nodeStore
		st ledger.Storage
	)
	if n.pgURL != "" {
		p, err := postgres.Open(context.Background(), n.pgURL)
		if err != nil {
			tn.t.Fatal(err)
		}
		s, st = p, p.Ledger()
	} else {
		q, err := sqlite.Open(context.Background(), filepath.Join(n.dir, "node.db"))
		if err != nil {
			tn.t.Fatal(err)
		}
		s, st = q, q.Ledger()
	}
	n.mu.Lock()
	n.store, n.ledger = s, st
	n.mu.Unlock()
}

// pin has every node pin every other's card, naming its endpoint.
func (tn *testNet) pin() {
	t := tn.t
	for code, n := range tn.nodes {
		ep := tn.endpoint[code]
		if ep == "" {
			ep = "https://" + n.addr
		}
		c, data, err := partner.NodeCard(n.node, []string{ep}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		fp, err := c.Fingerprint()
		if err != nil {
			t.Fatal(err)
		}
		for other, o := range tn.nodes {
			if other == code {
				continue
			}
			if _, err := partner.NewStore(o.dir, other).Add(data, partner.AddOptions{Fingerprint: fp.String(), Replace: true}); err != nil {
				t.Fatalf("%s pins %s: %v", other, code, err)
			}
		}
	}
}

// start serves the node's sync API and runs its links.
func (tn *testNet) start(n *testNode) {
	t := tn.t
	t.Helper()
	opts := tn.tlsOptions(n)
	srvCfg, err := partner.ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.ln == nil {
		// Restarted: listen again on the same address.
		for try := 0; ; try++ {
			n.ln, err = net.Listen("tcp", n.addr)
			if err == nil || try == 50 {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	fed := tn.newFed(n, opts)
	mux := http.NewServeMux()
	fed.Mount(mux)
	srv := &http.Server{Handler: mux, TLSConfig: srvCfg, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ln, store := n.ln, n.store
	go func() {
		var wg sync.WaitGroup
		wg.Go(func() { srv.Serve(tls.NewListener(ln, srvCfg)) })
		wg.Go(func() {
			if err := fed.Run(ctx); err != nil {
				t.Errorf("%s: Run: %v", n.code, err)
			}
		})
		// As tearline serve does: what arrives is decided for every
		// partner soon after.
		wg.Go(func() {
			for ctx.Err() == nil {
				if _, err := release.Update(ctx, store, n.rel, time.Now().UTC(), n.code+" node"); err != nil && ctx.Err() == nil {
					t.Errorf("%s: release sets: %v", n.code, err)
				}
				select {
				case <-ctx.Done():
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
		wg.Wait()
		close(done)
	}()
	n.fed, n.srv, n.cancel, n.done = fed, srv, cancel, done
}

// tlsOptions are the node's certificate and the pins of its partners.
func (tn *testNet) tlsOptions(n *testNode) partner.TLSOptions {
	t := tn.t
	t.Helper()
	cert, err := n.node.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pins, err := partner.StorePeers(partner.NewStore(n.dir, n.code))
	if err != nil {
		t.Fatal(err)
	}
	return partner.TLSOptions{Certificate: cert, Pins: pins}
}

// newFed makes the node's federation service, not started. The caller
// holds n.mu.
func (tn *testNet) newFed(n *testNode, opts partner.TLSOptions) *Node {
	t := tn.t
	t.Helper()
	n.logs = &bytes.Buffer{}
	cfg := Config{
		Signer:     envelopeSigner(n.node),
		HPKEKeyID:  n.node.HPKEKeyID,
		HPKEKey:    n.node.HPKEKey,
		Partners:   partner.NewStore(n.dir, n.code),
		TLS:        opts,
		Releaser:   n.rel,
		Store:      n.store,
		Ledger:     n.ledger,
		Collection: "default",
		Logger:     slog.New(slog.NewTextHandler(lockedWriter{n.logs}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Quick to recover, so that fault tests end soon.
		PollInterval: 2 * time.Second,
		MinBackoff:   10 * time.Millisecond,
		MaxBackoff:   200 * time.Millisecond,
	}
	if tn.tune != nil {
		tn.tune(&cfg)
	}
	fed, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return fed
}

// lockedWriter serialises the writes of a node's logs.
type lockedWriter struct{ w io.Writer }

func (l lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return l.w.Write(p)
}

var logMu sync.Mutex

// stop ends the node's links and server (the store stays open).
func (n *testNode) stop() {
	n.mu.Lock()
	cancel, srv, done := n.cancel, n.srv, n.done
	n.cancel, n.srv, n.done, n.fed = nil, nil, nil, nil
	n.ln = nil
	n.mu.Unlock()
	if cancel == nil {
		return
	}
	cancel()
	ctx, stop := context.WithTimeout(context.Background(), 5*time.Second)
	defer stop()
	srv.Shutdown(ctx)
	<-done
}

func (tn *testNet) startAll() {
	tn.pin()
	for _, n := range tn.nodes {
		tn.start(n)
	}
}

// publish imports objects on the node as an operator would, then decides
// the release sets of what is new, as tearline serve does every few
// seconds.
func (n *testNode) publish(lines string) {
	t := n.t
	t.Helper()
	ctx := context.Background()
	n.mu.Lock()
	s := n.store
	n.mu.Unlock()
	sum, err := ingest.Stream(ctx, s, strings.NewReader(lines), ingest.Options{Collection: "default",
		Classify: func(obj *tearline.Object, v *stix.Value, l tearline.Label) ([]byte, error) {
			return n.rel.Classify(release.NewSubject(obj, v, n.code, l))
		}})
	if err != nil || sum.Rejected > 0 {
		t.Fatalf("%s: publish: %+v, %v", n.code, sum, err)
	}
	if _, err := release.Update(ctx, s, n.rel, time.Now().UTC(), n.code+" test"); err != nil {
		t.Fatalf("%s: release sets: %v", n.code, err)
	}
}

// labelled returns the JSON lines of an indicator marked with banner, and
// the marking definitions it needs. topic is its STIX label, which
// agreements' scopes read.
func labelled(t *testing.T, id, banner, topic string) string {
	t.Helper()
	l, err := label.Parse(banner)
	if err != nil {
		t.Fatalf("label.Parse(%q): %v", banner, err)
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		t.Fatalf("ToMarkings(%q): %v", banner, err)
	}
	var b strings.Builder
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
		`"labels":[%q],"object_marking_refs":[%s]}`+"\n", id, topic, strings.Join(quoted, ","))
	return b.String()
}

// held returns, for every object id the node holds (marking definitions
// aside), how many versions it holds.
func (n *testNode) held() map[string]int {
	t := n.t
	t.Helper()
	n.mu.Lock()
	s := n.store
	n.mu.Unlock()
	out := map[string]int{}
	q := tearline.ObjectQuery{Collection: "default", Version: tearline.VersionFilter{All: true}, Limit: 1000}
	for {
		p, err := s.Objects(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range p.Objects {
			if o.Type != "marking-definition" {
				out[o.ID]++
			}
		}
		if !p.More {
			return out
		}
		q.After = p.Objects[len(p.Objects)-1].DateAdded
	}
}

// eventually polls cond until it holds, failing the test with what it says
// when the deadline passes.
func eventually(t testing.TB, d time.Duration, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		ok, msg := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %s: %s", d, msg)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// verifyLedger checks the node's audit log end to end, with the
// checkpoints it signed.
func (n *testNode) verifyLedger() {
	n.t.Helper()
	n.mu.Lock()
	st := n.ledger
	n.mu.Unlock()
	if err := ledger.Verify(context.Background(), st, ledger.NewVerifier("tearline/"+n.code, n.node.SigningPublicKey)); err != nil {
		n.t.Errorf("%s: audit log does not verify: %v", n.code, err)
	}
}

// events returns the node's audit entries of a kind.
func (n *testNode) events(kind ledger.Kind) []ledger.Event {
	n.t.Helper()
	n.mu.Lock()
	st := n.ledger
	n.mu.Unlock()
	ctx := context.Background()
	size, err := st.Size(ctx)
	if err != nil {
		n.t.Fatal(err)
	}
	var out []ledger.Event
	for i := range size {
		b, err := st.Entry(ctx, i)
		if err != nil {
			n.t.Fatal(err)
		}
		e, err := ledger.DecodeEvent(b)
		if err != nil {
			n.t.Fatal(err)
		}
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func keys(m map[string]int) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func envelopeSigner(n *node.Node) envelope.Signer {
	return envelope.Signer{Code: n.Config.Node.Partner, KeyID: n.SigningKeyID, Key: n.SigningKey}
}

// settled reports whether the federation is at rest: every node has
// decided the release sets of what it holds, and every partner has
// acknowledged everything queued for it.
func (tn *testNet) settled() (bool, string) {
	ctx := context.Background()
	for code, n := range tn.nodes {
		n.mu.Lock()
		s := n.store
		n.mu.Unlock()
		undecided, err := s.ReleaseClasses(ctx, true)
		if err != nil {
			return false, err.Error()
		}
		if len(undecided) > 0 {
			return false, fmt.Sprintf("%s has %d release classes undecided", code, len(undecided))
		}
		heads, err := s.OutboxHeads(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, h := range heads {
			if tn.nodes[h.Partner] != nil && h.Lag() > 0 {
				return false, fmt.Sprintf("%s's outbox for %s: %d of %d acknowledged", code, h.Partner, h.Acked, h.Last)
			}
		}
	}
	return true, ""
}

// waitSettled waits until the federation has been at rest for three
// checks in a row.
func (tn *testNet) waitSettled(d time.Duration) {
	tn.t.Helper()
	calm := 0
	eventually(tn.t, d, func() (bool, string) {
		ok, msg := tn.settled()
		if !ok {
			calm = 0
			return false, msg
		}
		calm++
		time.Sleep(50 * time.Millisecond)
		return calm >= 3, "not at rest long enough"
	})
}
