package federation

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/sqlite"
)

// testHub is a hub node: its keys and certificate, its SQLite mailbox,
// served over mutual TLS on 127.0.0.1.
type testHub struct {
	code, dir, addr string
	node            *node.Node
	store           *sqlite.Store
	hub             *Hub
	srv             *http.Server
	// mode plays a dishonest hub: 0 relays faithfully, 1 flips a byte of
	// each envelope, 2 changes each range's withheld count, 3 flips a byte
	// of each message, 4 of each answer to a message.
	mode atomic.Int32
}

func newTestHub(t *testing.T, code string) *testHub {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strings.ToLower(code))
	n, err := node.Init(dir, node.InitOptions{Partner: code, Name: code + " community hub"})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(context.Background(), filepath.Join(dir, "hub.db"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	return &testHub{code: code, dir: dir, addr: ln.Addr().String(), node: n, store: s}
}

func (h *testHub) start(t *testing.T) {
	t.Helper()
	cert, err := h.node.TLSCertificate()
	if err != nil {
		t.Fatal(err)
	}
	pins, err := partner.StorePeers(partner.NewStore(h.dir, h.code))
	if err != nil {
		t.Fatal(err)
	}
	opts := partner.TLSOptions{Certificate: cert, Pins: pins}
	hub, err := NewHub(HubConfig{Members: partner.NewStore(h.dir, h.code), TLS: opts, Store: h.store})
	if err != nil {
		t.Fatal(err)
	}
	hub.tamper = func(b *mailbox.HubBatch) {
		switch h.mode.Load() {
		case 1:
			if len(b.Envelope) > 0 {
				b.Envelope = bytes.Clone(b.Envelope)
				b.Envelope[len(b.Envelope)/2] ^= 1
			}
		case 2:
			b.Withheld = (b.Withheld + 1) % int(b.Through-b.After+1)
		}
	}
	hub.tamperMessage = func(m *mailbox.HubMessage) {
		if mode := h.mode.Load(); mode == 3 || mode == 4 && m.Kind == kindAnswer {
			m.Body = bytes.Clone(m.Body)
			m.Body[len(m.Body)/2] ^= 1
		}
	}
	h.hub = hub
	srvCfg, err := partner.ServerConfig(opts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", h.addr)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	hub.Mount(mux)
	h.srv = &http.Server{Handler: mux, TLSConfig: srvCfg, ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	var wg sync.WaitGroup
	wg.Go(func() { h.srv.Serve(tls.NewListener(ln, srvCfg)) })
	t.Cleanup(func() { h.srv.Close(); wg.Wait(); hub.Close(); h.store.Close() })
}

// pinCard pins code's card, naming endpoint (none if empty), on the node
// in dir (whose code is holder).
func pinCard(t *testing.T, n *node.Node, endpoint, dir, holder string) {
	t.Helper()
	var endpoints []string
	if endpoint != "" {
		endpoints = []string{endpoint}
	}
	c, data, err := partner.NodeCard(n, endpoints, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	fp, err := c.Fingerprint()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := partner.NewStore(dir, holder).Add(data, partner.AddOptions{Fingerprint: fp.String(), Replace: true}); err != nil {
		t.Fatalf("%s pins %s: %v", holder, c.Partner, err)
	}
}

// TestHubRelay: five nodes, GBR, USA and CAN linked only through the hub
// HUB, GBR and FRA linked directly. Everything allowed arrives once,
// through the hub or directly, nothing else arrives; the hub's database
// holds none of the objects' plaintext; and a hub that alters an envelope
// or a batch's range is caught, without anything lost once it relays
// faithfully again.
func TestHubRelay(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN", "FRA")
	hub := newTestHub(t, "HUB")
	hubEP := "https://" + hub.addr
	direct := func(code string) string { return "https://" + tn.nodes[code].addr }
	members := []string{"GBR", "USA", "CAN"}
	for _, m := range members {
		pinCard(t, hub.node, hubEP, tn.nodes[m].dir, m)
		pinCard(t, tn.nodes[m].node, direct(m), hub.dir, hub.code)
		for _, o := range members {
			if o != m {
				// o's card as m pins it names the hub's endpoint: m has
				// no route to o but the hub.
				pinCard(t, tn.nodes[o].node, hubEP, tn.nodes[m].dir, m)
			}
		}
	}
	pinCard(t, tn.nodes["GBR"].node, direct("GBR"), tn.nodes["FRA"].dir, "FRA")
	pinCard(t, tn.nodes["FRA"].node, direct("FRA"), tn.nodes["GBR"].dir, "GBR")
	tn.tune = func(c *Config) {
		c.Hubs = []string{hub.code}
		c.PollInterval = 100 * time.Millisecond
	}

	objs := []matrixObject{}
	for _, o := range releasabilityMatrix {
		switch o.id {
		case matrixID(1), matrixID(2), matrixID(3), matrixID(5), matrixID(6), matrixID(9), matrixID(10), matrixID(13):
			objs = append(objs, o)
		}
	}
	for i, o := range objs {
		if i%2 == 0 {
			tn.nodes[o.origin].publish(labelled(t, o.id, o.banner, o.topic))
		}
	}
	hub.start(t)
	for _, n := range tn.nodes {
		tn.start(n)
	}
	for i, o := range objs {
		if i%2 == 1 {
			tn.nodes[o.origin].publish(labelled(t, o.id, o.banner, o.topic))
		}
	}
	want := map[string]map[string]int{"GBR": {}, "USA": {}, "CAN": {}, "FRA": {}}
	for _, o := range objs {
		for _, h := range append([]string{o.origin}, o.holders...) {
			want[h][o.id] = 1
		}
	}
	tn.waitSettled(60 * time.Second)
	for c := range want {
		if got := tn.nodes[c].held(); !maps.Equal(got, want[c]) {
			t.Errorf("%s holds %v\nwant %v", c, got, want[c])
		}
	}
	ctx := context.Background()
	for _, s := range [][2]string{{"GBR", "USA"}, {"GBR", "CAN"}, {"USA", "GBR"}, {"USA", "CAN"}, {"CAN", "USA"}} {
		pos, err := hub.store.HubPosition(ctx, s[0], s[1])
		if err != nil || pos.Through == 0 || pos.Acked != pos.Through {
			t.Errorf("hub's stream %s to %s: %+v, %v; want batches relayed and acknowledged", s[0], s[1], pos, err)
		}
	}
	for _, p := range [][2]string{{"GBR", "FRA"}, {"FRA", "GBR"}} {
		if pos, _ := hub.store.HubPosition(ctx, p[0], p[1]); pos.Through != 0 {
			t.Errorf("the hub relayed %s to %s, which are linked directly", p[0], p[1])
		}
	}

	// A dishonest hub: each alteration is refused by the recipient and
	// nothing of the batch is applied; relaying faithfully again, the hub
	// delivers it once.
	var extras []matrixObject
	for i, what := range []string{"", "envelope", "range"} {
		if i == 0 {
			continue
		}
		extra := matrixObject{matrixID(40 + i), "GBR", "GBR SECRET//REL TO USA, GBR, FVEY", "counter-terrorism", []string{"USA", "CAN"}}
		extras = append(extras, extra)
		hub.mode.Store(int32(i))
		tn.nodes["GBR"].publish(labelled(t, extra.id, extra.banner, extra.topic))
		eventually(t, 10*time.Second, func() (bool, string) {
			states, err := tn.nodes["USA"].fed.Links(ctx)
			if err != nil {
				return false, err.Error()
			}
			for _, s := range states {
				if s.Partner == "GBR" && strings.Contains(s.ReceiveError, "range seal does not verify") {
					return true, ""
				}
			}
			return false, "USA has not detected the hub's alteration of the " + what
		})
		for _, c := range []string{"USA", "CAN"} {
			if tn.nodes[c].held()[extra.id] != 0 {
				t.Fatalf("%s applied a batch the hub altered (%s)", c, what)
			}
		}
		hub.mode.Store(0)
		for _, h := range append([]string{"GBR"}, extra.holders...) {
			want[h][extra.id] = 1
		}
		tn.waitSettled(30 * time.Second)
		for c := range want {
			if got := tn.nodes[c].held(); !maps.Equal(got, want[c]) {
				t.Errorf("after the hub relays faithfully again, %s holds %v\nwant %v", c, got, want[c])
			}
		}
		states, err := tn.nodes["USA"].fed.Links(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range states {
			if s.ReceiveError != "" || s.SendError != "" {
				t.Errorf("USA's link with %s after the hub relays faithfully: %+v; want no error", s.Partner, s)
			}
		}
	}

	// A recall through the hub: GBR recalls an object USA and CAN have
	// through the hub only. While the hub alters messages, USA refuses the
	// notice and purges nothing; relaying faithfully again, the notice
	// reaches both, each purges (keeping a tombstone) and acknowledges
	// through the hub, and GBR sees both acknowledgements.
	recalled := matrixID(50)
	tn.nodes["GBR"].publish(labelled(t, recalled, "GBR SECRET//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	for _, c := range []string{"GBR", "USA", "CAN"} {
		want[c][recalled] = 1
	}
	tn.waitSettled(30 * time.Second)
	for c := range want {
		if got := tn.nodes[c].held(); !maps.Equal(got, want[c]) {
			t.Fatalf("before the recall, %s holds %v\nwant %v", c, got, want[c])
		}
	}
	hash := tn.nodes["GBR"].version(recalled).Hash
	hub.mode.Store(3)
	if targets := issue(t, tn.nodes["GBR"], recalled, "recall--hub"); !slices.Equal(targets, []string{"CAN", "USA"}) {
		t.Errorf("IssueRecall targets = %v; want [CAN USA]", targets)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		states, err := tn.nodes["USA"].fed.Links(ctx)
		if err != nil {
			return false, err.Error()
		}
		for _, s := range states {
			if s.Partner == "GBR" && strings.Contains(s.ReceiveError, "relayed message altered") {
				return true, ""
			}
		}
		return false, "USA has not detected the hub's alteration of GBR's recall notice"
	})
	if tn.nodes["USA"].held()[recalled] != 1 {
		t.Fatalf("USA purged on a recall notice the hub altered")
	}
	if acked, _ := acknowledged(t, tn.nodes["GBR"], recalled); len(acked) != 0 {
		t.Fatalf("GBR has acknowledgements %v of a notice the hub altered", acked)
	}
	hub.mode.Store(0)
	t.Cleanup(func() {
		if t.Failed() {
			for _, c := range []string{"GBR", "USA"} {
				logMu.Lock()
				for _, line := range strings.Split(tn.nodes[c].logs.String(), "\n") {
					if strings.Contains(line, "recall") || strings.Contains(line, "hub") {
						t.Log(c, line)
					}
				}
				logMu.Unlock()
			}
		}
	})
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, tn.nodes["GBR"], recalled)
		return slices.Equal(acked, []string{"CAN", "USA"}) && len(waiting) == 0,
			fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	for _, c := range []string{"USA", "CAN"} {
		n := tn.nodes[c]
		if n.held()[recalled] != 0 {
			t.Errorf("%s still holds the object recalled through the hub", c)
		}
		ts, err := recallStore(t, n).Tombstones(ctx, recalled)
		if err != nil || len(ts) != 1 || ts[0].Hash != hash || ts[0].RecalledBy != "GBR" || ts[0].Notice != "recall--hub" {
			t.Errorf("%s: Tombstones(%s) = %+v, %v; want GBR's recall--hub", c, recalled, ts, err)
		}
		if !hasEvent(n.events(ledger.KindRecallAcknowledged), func(e ledger.Event) bool { return e.Details["acknowledgement"] == "sent" }) {
			t.Errorf("%s's audit log does not record its acknowledgement", c)
		}
	}
	if n := len(tn.nodes["GBR"].events(ledger.KindRecallAcknowledged)); n != 2 {
		t.Errorf("GBR's audit log has %d acknowledgements; want 2", n)
	}
	for _, c := range []string{"GBR", "USA", "CAN"} {
		delete(want[c], recalled)
	}
	for c := range want {
		if got := tn.nodes[c].held(); !maps.Equal(got, want[c]) {
			t.Errorf("after the recall, %s holds %v\nwant %v", c, got, want[c])
		}
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		ms, err := hub.store.HubInbox(ctx, "GBR", 10)
		if err != nil {
			return false, err.Error()
		}
		ms2, err := hub.store.HubInbox(ctx, "USA", 10)
		if err != nil {
			return false, err.Error()
		}
		return len(ms)+len(ms2) == 0, fmt.Sprintf("the hub still holds messages: %d for GBR, %d for USA", len(ms), len(ms2))
	})
	for c := range want {
		tn.nodes[c].verifyLedger()
	}

	// The hub's database, read as bytes once closed, holds none of the
	// objects' ids, names or topics.
	for _, n := range tn.nodes {
		n.stop()
	}
	hub.srv.Close()
	if err := hub.store.Close(); err != nil {
		t.Fatal(err)
	}
	var db []byte
	files, _ := filepath.Glob(filepath.Join(hub.dir, "hub.db*"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		db = append(db, b...)
	}
	if !bytes.Contains(db, []byte("hub_batches")) {
		t.Fatal("the hub's database was not found")
	}
	secrets := []string{"Courier network relay", "203.0.113.9"}
	for _, o := range append(objs, extras...) {
		secrets = append(secrets, o.id, strings.TrimPrefix(o.id, "indicator--"), o.topic)
	}
	for _, s := range secrets {
		if bytes.Contains(db, []byte(s)) {
			t.Errorf("the hub's database holds %q in plaintext", s)
		}
	}
}

// TestHubNotifies: GBR and USA reach each other through HUB only, and
// poll it once an hour; the hub notifies each member when something
// arrives for it. An object GBR publishes once the links run reaches USA,
// and a recall of it reaches USA and is acknowledged, each well before any
// poll: only the hub's notifications can have brought them.
func TestHubNotifies(t *testing.T) {
	tn := newNet(t, "GBR", "USA")
	hub := newTestHub(t, "HUB")
	hubEP := "https://" + hub.addr
	for _, m := range []string{"GBR", "USA"} {
		pinCard(t, hub.node, hubEP, tn.nodes[m].dir, m)
		pinCard(t, tn.nodes[m].node, "https://"+tn.nodes[m].addr, hub.dir, hub.code)
	}
	pinCard(t, tn.nodes["GBR"].node, hubEP, tn.nodes["USA"].dir, "USA")
	pinCard(t, tn.nodes["USA"].node, hubEP, tn.nodes["GBR"].dir, "GBR")
	tn.tune = func(c *Config) {
		c.Hubs = []string{hub.code}
		c.PollInterval = time.Hour
	}
	hub.start(t)
	gbr, usa := tn.nodes["GBR"], tn.nodes["USA"]
	tn.start(gbr)
	tn.start(usa)
	// The links' first pulls, which find nothing, are done once USA's link
	// with GBR has a state.
	eventually(t, 10*time.Second, func() (bool, string) {
		states, err := usa.fed.Links(context.Background())
		return err == nil && len(states) == 1 && states[0].Endpoint == hubEP, fmt.Sprintf("USA's links: %+v, %v; want one with GBR through %s", states, err, hubEP)
	})
	id := matrixID(60)
	gbr.publish(labelled(t, id, "GBR SECRET//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[id] == 1, "USA has not received GBR's object through the hub"
	})
	issue(t, gbr, id, "recall--notified")
	eventually(t, 30*time.Second, func() (bool, string) {
		acked, waiting := acknowledged(t, gbr, id)
		return slices.Equal(acked, []string{"USA"}), fmt.Sprintf("GBR has acknowledgements from %v, waits for %v", acked, waiting)
	})
	if usa.held()[id] != 0 {
		t.Errorf("USA acknowledged the recall but holds the object")
	}
}

// TestConsentThroughHub: USA holds GBR's ORCON object, which came through
// HUB, GBR and USA's only route to each other. USA asks GBR for consent to
// pass it to CAN, linked with USA directly: the request goes through the
// hub, GBR's node records it and answers through the hub, and USA's
// serving node records the request delivered. GBR approves: the signed
// consent goes through the hub, USA keeps it and passes the object to
// CAN, which verifies the consent with GBR's pinned key; and GBR's serving
// node records the approval delivered.
func TestConsentThroughHub(t *testing.T) {
	tn := newNet(t, "GBR", "USA", "CAN")
	hub := newTestHub(t, "HUB")
	hubEP := "https://" + hub.addr
	gbr, usa, can := tn.nodes["GBR"], tn.nodes["USA"], tn.nodes["CAN"]
	direct := func(n *testNode) string { return "https://" + n.addr }
	for _, m := range []*testNode{gbr, usa} {
		pinCard(t, hub.node, hubEP, m.dir, m.code)
		pinCard(t, m.node, direct(m), hub.dir, hub.code)
	}
	pinCard(t, gbr.node, hubEP, usa.dir, "USA")
	pinCard(t, usa.node, hubEP, gbr.dir, "GBR")
	pinCard(t, usa.node, direct(usa), can.dir, "CAN")
	pinCard(t, can.node, direct(can), usa.dir, "USA")
	pinCard(t, gbr.node, "", can.dir, "CAN") // CAN verifies GBR's consent
	tn.tune = func(c *Config) {
		c.Hubs = []string{hub.code}
		c.PollInterval = 500 * time.Millisecond
	}
	id := matrixID(70)
	gbr.publish(labelled(t, id, "GBR SECRET//ORCON//REL TO USA, GBR, FVEY//ORIGINATOR GBR", "counter-terrorism"))
	hub.start(t)
	for _, n := range []*testNode{gbr, usa, can} {
		tn.start(n)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		return usa.held()[id] == 1, "USA has not received GBR's ORCON object through the hub"
	})
	if can.held()[id] != 0 {
		t.Fatal("CAN holds GBR's ORCON object before any consent")
	}
	// The workflows as the CLI runs them beside the serving nodes: a
	// partner reached through the hub is sent to through it.
	workflow := func(n *testNode) *Workflow {
		w := tn.workflow(n)
		opts := tn.tlsOptions(n)
		dial := func(code string) (*http.Client, string, error) {
			if code != hub.code {
				return tn.dialer(n)(code)
			}
			cfg, err := partner.ClientConfig(opts, code)
			if err != nil {
				return nil, "", err
			}
			return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 10 * time.Second}, hubEP, nil
		}
		relay := &HubRelay{Signer: envelopeSigner(n.node), Partners: partner.NewStore(n.dir, n.code), Hubs: []string{hub.code}, Dial: dial}
		w.Relay = relay.Post
		return w
	}
	ctx := context.Background()
	delivered := func(n *testNode, box mailbox.RequestBox, rid string, state mailbox.RequestState) func() (bool, string) {
		return func() (bool, string) {
			r, err := tn.workflow(n).Store.GetRequest(ctx, box, rid)
			return err == nil && r.State == state && !r.Delivered.IsZero() && r.DeliveryError == "",
				fmt.Sprintf("%s's request %s: %+v, %v; want %s and delivered", n.code, rid, r, err, state)
		}
	}
	q, err := workflow(usa).Request(ctx, id, "CAN", "for the joint assessment")
	if !errors.Is(err, ErrAwaitingAnswer) {
		t.Fatalf("Request through the hub: %+v, %v; want it left at the hub, awaiting GBR's answer", q, err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		r, err := tn.workflow(gbr).Store.GetRequest(ctx, mailbox.RequestInbox, q.ID)
		return err == nil && r.State == mailbox.RequestPending && r.Requester == "USA" && r.Recipient == "CAN",
			fmt.Sprintf("GBR's inbox: %+v, %v; want USA's request, pending", r, err)
	})
	eventually(t, 30*time.Second, delivered(usa, mailbox.RequestOutbox, q.ID, mailbox.RequestPending))
	if _, err := workflow(gbr).Approve(ctx, q.ID, time.Hour); !errors.Is(err, ErrAwaitingAnswer) {
		t.Fatalf("Approve through the hub: %v; want it left at the hub, awaiting USA's answer", err)
	}
	eventually(t, 30*time.Second, delivered(usa, mailbox.RequestOutbox, q.ID, mailbox.RequestApproved))
	eventually(t, 30*time.Second, delivered(gbr, mailbox.RequestInbox, q.ID, mailbox.RequestApproved))
	eventually(t, 30*time.Second, func() (bool, string) {
		return can.held()[id] == 1, "CAN does not hold the object USA may pass on with GBR's consent"
	})
	eventually(t, 5*time.Second, requestEvent(can, ledger.KindConsentGiven, "consent", "used", q.ID))
	for _, n := range []*testNode{gbr, usa, can} {
		n.verifyLedger()
	}
}
