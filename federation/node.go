package federation

import (
	"context"
	"crypto/hpke"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline/envelope"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/release"
)

// Partners are the pinned partner cards a node federates with;
// *partner.Store is one.
type Partners interface {
	Cards
	List() ([]*partner.Pinned, error)
}

// Config is what a federating node needs.
type Config struct {
	// Signer signs the batches this node sends; HPKEKeyID and HPKEKey
	// open those sealed to it.
	Signer    envelope.Signer
	HPKEKeyID string
	HPKEKey   hpke.PrivateKey
	// Partners are the pinned cards: endpoints, signing and sealing keys.
	Partners Partners
	// TLS is this node's certificate and the pins of its partners' TLS
	// certificates, for the client side of links; Pins also identify
	// callers of the handlers.
	TLS partner.TLSOptions
	// Releaser decides, for this node (Releaser.Holder, the code Signer
	// names too), whether a sender was entitled to send what it sent, and
	// gives received objects their release class.
	Releaser *release.Releaser
	Store    Store
	// Ledger is the node's audit log storage, for the refusals that change
	// nothing in the store (an envelope refused whole).
	Ledger ledger.Storage
	// Collection receives what partners send.
	Collection string
	Logger     *slog.Logger
	// Hubs are the pinned partners that are community hubs (see hub.go):
	// a partner whose card names a hub's endpoint is reached through that
	// hub. Via names the hub for a partner explicitly. Hubs get no link of
	// their own.
	Hubs []string
	Via  map[string]string

	// Tuning; zero values take the defaults in brackets.
	MaxBatch      int           // entries per batch [2000]
	MaxBatchBytes int           // JSON bytes per batch [8 MiB]
	MaxInFlight   int           // batches being built or written at once, all partners [4]
	QueueWait     time.Duration // how long a batch request waits for a slot [1 s]
	// NotifyInterval is how often the outbox heads are read for
	// partners to notify [25 ms]; PollInterval how often a link pulls
	// with no notification, and re-notifies a partner that has not
	// caught up [30 s].
	NotifyInterval, PollInterval time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failure, which
	// doubles from one failure to the next [100 ms, 30 s].
	MinBackoff, MaxBackoff time.Duration
	// RequestTimeout bounds one exchange with a partner [2 min].
	RequestTimeout time.Duration
	// ReceiptInterval is how often the partners' sides of pending
	// receipts are fetched [10 s].
	ReceiptInterval time.Duration
	// Witness, if set, witnesses the checkpoints of partners reached
	// through a hub when they come back (AskCheckpoint), and keeps their
	// cosignatures of this node's checkpoints (witness.go).
	Witness Witnessing

	// Now and Rand, if set, replace the clock and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Node is a federating node: the handlers partners call and the links it
// keeps with them.
type Node struct {
	cfg  Config
	self string
	log  *slog.Logger

	inflight chan struct{}
	busyMu   sync.Mutex
	busy     map[string]chan struct{} // batch requests being served, by partner

	mu    sync.Mutex
	links map[string]*link
	// Messages through hubs (hubmsg.go): the recipients' answers not yet
	// read by the delivery loop, which answered wakes; inboxWake wakes the
	// loop that takes messages from the hubs; relayMux holds the handlers
	// messages taken from a hub go to.
	relayMu   sync.Mutex
	answers   map[answerKey]relayAnswer
	answered  chan struct{}
	inboxWake chan struct{}
	relayMux  *http.ServeMux
	// refusedLogged remembers the envelope refusals already in the audit
	// log, so that a batch retried after every backoff is logged once.
	refusedLogged map[string]bool
}

// New checks the config and returns the node; Run starts its links.
func New(cfg Config) (*Node, error) {
	switch {
	case cfg.Store == nil:
		return nil, errors.New("federation: no store")
	case cfg.Releaser == nil:
		return nil, errors.New("federation: no release decisions (Releaser)")
	case cfg.Partners == nil || cfg.TLS.Pins == nil:
		return nil, errors.New("federation: no pinned partners")
	case cfg.HPKEKey == nil || cfg.Signer.Key == nil:
		return nil, errors.New("federation: the node's signing and sealing keys are required")
	case cfg.Signer.Code == "" || cfg.Signer.Code != cfg.Releaser.Holder:
		return nil, fmt.Errorf("federation: the signer is %q but release decisions are made for %q", cfg.Signer.Code, cfg.Releaser.Holder)
	case cfg.Collection == "":
		return nil, errors.New("federation: no collection for received objects")
	case cfg.Ledger == nil:
		return nil, errors.New("federation: no audit log")
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxBatch, 2000)
	def(&cfg.MaxBatchBytes, 8<<20)
	def(&cfg.MaxInFlight, 4)
	defDur(&cfg.QueueWait, time.Second)
	defDur(&cfg.NotifyInterval, 25*time.Millisecond)
	defDur(&cfg.PollInterval, 30*time.Second)
	defDur(&cfg.MinBackoff, 100*time.Millisecond)
	defDur(&cfg.MaxBackoff, 30*time.Second)
	defDur(&cfg.RequestTimeout, 2*time.Minute)
	defDur(&cfg.ReceiptInterval, 10*time.Second)
	if cfg.MaxBatch > MaxBatchLimit {
		cfg.MaxBatch = MaxBatchLimit
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	n := &Node{cfg: cfg, self: cfg.Signer.Code, log: cfg.Logger.With("component", "federation"),
		inflight: make(chan struct{}, cfg.MaxInFlight), busy: map[string]chan struct{}{},
		links: map[string]*link{}, refusedLogged: map[string]bool{},
		answers: map[answerKey]relayAnswer{}, answered: make(chan struct{}, 1), inboxWake: make(chan struct{}, 1),
		relayMux: http.NewServeMux()}
	n.mountRecall(n.relayMux)
	n.mountConsent(n.relayMux)
	n.relayMux.HandleFunc("POST "+PathBatchEntry, n.serveRelayedBatchEntry)
	n.relayMux.HandleFunc("POST "+pathRelayedCheckpoint, n.serveRelayedCheckpoint)
	n.relayMux.HandleFunc("POST "+pathRelayedCosignature, n.serveRelayedCosignature)
	return n, nil
}

func (n *Node) now() time.Time { return n.cfg.Now().UTC() }

// Mount registers the sync API's handlers on mux.
func (n *Node) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET "+PathBatch, n.serveBatch)
	mux.HandleFunc("POST "+PathReceipt, n.serveReceipt)
	mux.HandleFunc("POST "+PathNotify, n.serveNotify)
	mux.HandleFunc("GET "+PathBatchEntry, n.serveBatchEntry)
	n.mountRecall(mux)
	n.mountConsent(mux)
}

// authenticate returns the pinned partner that made a request: the TLS
// peer, or for a message taken from a hub, its sender, whose seal the
// node verified (see hubmsg.go).
func (n *Node) authenticate(w http.ResponseWriter, r *http.Request) (string, bool) {
	if from, ok := r.Context().Value(relayedFrom{}).(string); ok && r.TLS == nil {
		return from, true
	}
	if r.TLS == nil {
		http.Error(w, "the federation API is served over mutual TLS only", http.StatusUnauthorized)
		return "", false
	}
	code, err := partner.PeerPartner(*r.TLS, n.cfg.TLS.Pins)
	if err != nil {
		http.Error(w, "not a pinned partner", http.StatusUnauthorized)
		return "", false
	}
	return code, true
}

// link is this node's relation with one partner: pulling what it sends
// here, notifying it of what is queued for it.
type link struct {
	code     string
	endpoint string
	// hub, if set, is the hub the partner is reached through; endpoint and
	// client are then the hub's.
	hub    string
	client *http.Client
	cancel context.CancelFunc
	done   chan struct{}

	wake   chan struct{} // a notification arrived, or Sync asks
	notify chan struct{} // the outbox head grew

	mu         sync.Mutex
	pullMu     sync.Mutex // one pull at a time
	notified   uint64     // the head last notified successfully
	notifiedAt time.Time
	want       uint64 // the head to notify
	persisted  map[mailbox.Direction]string
	known      map[mailbox.Direction]bool
	// receipts are refusals not yet reported to the partner.
	receipts []*Receipt
}

func (l *link) poke(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// Run keeps the links with every pinned partner whose card names an
// endpoint until ctx ends: it pulls what each sends, and notifies each of
// what is queued for it. Pinned cards are read again every PollInterval.
func (n *Node) Run(ctx context.Context) error {
	defer n.stopLinks()
	defer n.runRecalls(ctx)()
	defer n.runHubInbox(ctx)()
	if err := n.refreshLinks(ctx); err != nil {
		return err
	}
	rctx, stopReceipts := context.WithCancel(ctx)
	receiptsDone := make(chan struct{})
	go func() { n.receiptsLoop(rctx); close(receiptsDone) }()
	defer func() { stopReceipts(); <-receiptsDone }()
	notifyTick := time.NewTicker(n.cfg.NotifyInterval)
	defer notifyTick.Stop()
	refreshTick := time.NewTicker(n.cfg.PollInterval)
	defer refreshTick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-refreshTick.C:
			if err := n.refreshLinks(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("pinned partners", "err", err)
			}
		case <-notifyTick.C:
			if err := n.checkHeads(ctx); err != nil && ctx.Err() == nil {
				n.log.Error("outbox heads", "err", err)
			}
		}
	}
}

// refreshLinks starts a link for every pinned partner with an endpoint and
// stops those of partners no longer pinned or without one.
func (n *Node) refreshLinks(ctx context.Context) error {
	pinned, err := n.cfg.Partners.List()
	if err != nil {
		return err
	}
	want := map[string]string{}
	routes, hubs := n.hubRoutes(pinned)
	hubEndpoint := map[string]string{}
	for _, p := range pinned {
		if hubs[p.Card.Partner] && len(p.Card.Endpoints) > 0 {
			hubEndpoint[p.Card.Partner] = strings.TrimRight(p.Card.Endpoints[0], "/")
		}
	}
	for _, p := range pinned {
		code := p.Card.Partner
		switch {
		case code == n.self || hubs[code]:
		case routes[code] != "":
			if ep := hubEndpoint[routes[code]]; ep != "" {
				want[code] = ep
			}
		case len(p.Card.Endpoints) > 0:
			want[code] = strings.TrimRight(p.Card.Endpoints[0], "/")
		}
	}
	// Links are stopped outside the lock: their goroutines take it.
	var stale []*link
	n.mu.Lock()
	for code, l := range n.links {
		if ep, ok := want[code]; !ok || ep != l.endpoint || routes[code] != l.hub {
			stale = append(stale, l)
			delete(n.links, code)
		}
	}
	n.mu.Unlock()
	for _, l := range stale {
		l.cancel()
		<-l.done
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for code, ep := range want {
		if n.links[code] != nil {
			continue
		}
		peer := code
		if routes[code] != "" {
			peer = routes[code] // the TLS peer is the hub
		}
		cfg, err := partner.ClientConfig(n.cfg.TLS, peer)
		if err != nil {
			n.log.Error("link", "partner", code, "err", err)
			continue
		}
		lctx, cancel := context.WithCancel(ctx)
		l := &link{code: code, endpoint: ep, hub: routes[code], cancel: cancel, done: make(chan struct{}),
			wake: make(chan struct{}, 1), notify: make(chan struct{}, 1),
			persisted: map[mailbox.Direction]string{}, known: map[mailbox.Direction]bool{},
			client: &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, MaxIdleConnsPerHost: 2,
				IdleConnTimeout: 90 * time.Second, ResponseHeaderTimeout: n.cfg.RequestTimeout}}}
		n.links[code] = l
		var wg sync.WaitGroup
		wg.Go(func() { n.pullLoop(lctx, l) })
		wg.Go(func() { n.notifyLoop(lctx, l) })
		go func() { wg.Wait(); l.client.CloseIdleConnections(); close(l.done) }()
	}
	return nil
}

func (n *Node) stopLinks() {
	n.mu.Lock()
	links := n.links
	n.links = map[string]*link{}
	n.mu.Unlock()
	for _, l := range links {
		l.cancel()
		<-l.done
	}
}

func (n *Node) link(code string) *link {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.links[code]
}

// backoff is the wait after consecutive failures: it doubles from min to
// max, with a random fifth taken off so that links that failed together do
// not retry together.
type backoff struct {
	min, max, cur time.Duration
}

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur - time.Duration(mrand.Int64N(int64(b.cur)/5+1))
}

func (b *backoff) reset() { b.cur = 0 }

// linkError records the state of one side of a link in the store when it
// changes: an error, or that the side works again (msg empty).
func (n *Node) linkError(ctx context.Context, l *link, dir mailbox.Direction, msg string) {
	l.mu.Lock()
	same := l.known[dir] && l.persisted[dir] == msg
	l.mu.Unlock()
	if same {
		return
	}
	if len(msg) > maxReasonLen {
		msg = msg[:maxReasonLen]
	}
	if err := n.cfg.Store.SetLinkError(ctx, l.code, dir, msg, n.now()); err != nil {
		if ctx.Err() == nil {
			n.log.Error("link state", "partner", l.code, "err", err)
		}
		return
	}
	l.mu.Lock()
	l.known[dir], l.persisted[dir] = true, msg
	l.mu.Unlock()
}

// LinkState is what operators and metrics see of a link with a partner.
type LinkState struct {
	Partner string
	// Endpoint is where this node reaches the partner; empty when its
	// card names none (it can still pull from this node).
	Endpoint string

	// OutHead is the newest entry of the partner's outbox here, OutAcked
	// the newest it applied, OutLag the difference.
	OutHead, OutAcked, OutLag uint64
	// LastServed is when the partner last pulled a batch.
	LastServed time.Time
	// SendError is the last error of this side, since it last worked.
	SendError   string
	SendErrorAt time.Time

	// InThrough is the partner's newest entry applied here, InSenderHead
	// its newest known, InLag the difference.
	InThrough, InSenderHead, InLag uint64
	// LastReceived is when a batch from the partner was last applied.
	LastReceived time.Time
	ReceiveError string
	// ReceiveErrorAt is when ReceiveError happened.
	ReceiveErrorAt time.Time
}

// States reads the link state a store keeps, one per partner, sorted by
// partner: for tools that run beside the node (tearline partner list).
func States(ctx context.Context, s LinkStore) ([]LinkState, error) {
	l, err := s.Links(ctx)
	if err != nil {
		return nil, err
	}
	by := map[string]*LinkState{}
	get := func(code string) *LinkState {
		if by[code] == nil {
			by[code] = &LinkState{Partner: code}
		}
		return by[code]
	}
	for _, h := range l.Out {
		st := get(h.Partner)
		st.OutHead, st.OutAcked, st.OutLag, st.LastServed = h.Last, h.Acked, h.Lag(), h.Sent
	}
	for _, c := range l.In {
		st := get(c.Sender)
		st.InThrough, st.InSenderHead, st.InLag, st.LastReceived = c.Through, c.SenderHead, c.Lag(), c.Received
	}
	for _, e := range l.Errors {
		st := get(e.Partner)
		switch e.Direction {
		case mailbox.Send:
			st.SendError, st.SendErrorAt = e.Message, e.At
		case mailbox.Receive:
			st.ReceiveError, st.ReceiveErrorAt = e.Message, e.At
		}
	}
	out := make([]LinkState, 0, len(by))
	for _, st := range by {
		out = append(out, *st)
	}
	slices.SortFunc(out, func(a, b LinkState) int { return strings.Compare(a.Partner, b.Partner) })
	return out, nil
}

// Links returns the state of every link: what the store keeps, with the
// endpoint of each running link.
func (n *Node) Links(ctx context.Context) ([]LinkState, error) {
	states, err := States(ctx, n.cfg.Store)
	if err != nil {
		return nil, err
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	seen := map[string]bool{}
	for i := range states {
		seen[states[i].Partner] = true
		if l := n.links[states[i].Partner]; l != nil {
			states[i].Endpoint = l.endpoint
		}
	}
	for code, l := range n.links {
		if !seen[code] {
			states = append(states, LinkState{Partner: code, Endpoint: l.endpoint})
		}
	}
	slices.SortFunc(states, func(a, b LinkState) int { return strings.Compare(a.Partner, b.Partner) })
	return states, nil
}
