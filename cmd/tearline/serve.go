package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/taxii"
)

func newServeCmd(e *env) *cobra.Command {
	var dir, listen string
	cmd := &cobra.Command{
		Use:   "serve [--listen HOST:PORT]",
		Short: "Run the node: federation and TAXII 2.1 for partners, TAXII and the console for users",
		Long: `Serve the node's collections over TAXII 2.1 on the listen address of the
config (or --listen), over TLS 1.3 with hybrid post-quantum key exchange.
Every caller is a pinned partner, identified by its TLS certificate; a
client without a pinned certificate fails the handshake. Each partner sees
exactly the object versions that the release engine allows it to receive
under the node's agreements: an object it may not see does not exist for
it. Partners read; they do not write through TAXII.

The same listener carries the federation with partner nodes whose cards
name endpoints: each partner's outbox is filled from the release sets and
pulled in batches sealed to it, consent requests and recalls travel both
ways, and every link's state shows in 'tearline partner list'.

With api.listen in the config, a second listener serves the node's own
users: TAXII 2.1 with API tokens, each user seeing what the release engine
allows their clearance, and the analysts' console under /console/.

GET /healthz answers when the process runs, /readyz when the database does.
With metrics.listen in the config, GET /metrics there serves the node's
metrics to Prometheus, over plain HTTP: keep it on the loopback or a
management network.
While it runs, the node signs a checkpoint of its audit log every few
seconds in which the log grew, witnesses its partners' logs every minute,
keeps the release sets current, keeps the early-warning correlation
current, sending alerts to the configured webhooks, and every 30 seconds
delivers again the consent requests and answers that did not reach their
partner.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			n, s, err := e.openNode(ctx, dir)
			if err != nil {
				return err
			}
			defer s.Close()
			if listen == "" {
				listen = n.Config.Listen
			}
			srv, err := newNodeServer(n, s, e.stderr)
			if err != nil {
				return err
			}
			defer startAlerts(ctx, n, s, srv.logger)()
			ln, err := net.Listen("tcp", listen)
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "serving TAXII 2.1 for %s on https://%s/taxii2/ (mutual TLS, pinned partners only)\n", n.Config.Node.Partner, ln.Addr())
			ctx, stop := context.WithCancel(ctx)
			defer stop()
			// The other listeners run beside the partners' one and end
			// with it.
			var others []chan error
			beside := func(run func(context.Context) error) {
				done := make(chan error, 1)
				go func() { done <- run(ctx) }()
				others = append(others, done)
			}
			if n.Config.Metrics.Listen != "" {
				mln, err := net.Listen("tcp", n.Config.Metrics.Listen)
				if err != nil {
					ln.Close()
					return fmt.Errorf("metrics.listen: %w", err)
				}
				fmt.Fprintf(e.stdout, "serving metrics for Prometheus on http://%s/metrics\n", mln.Addr())
				beside(func(ctx context.Context) error { return serveMetrics(ctx, srv.metrics, mln) })
			}
			if n.Config.API.Listen != "" {
				users, err := newUserServer(n, s, srv.logger)
				if err != nil {
					ln.Close()
					stop()
					return errors.Join(err, waitAll(others))
				}
				users.Handler = srv.metrics.instrument("users", users.Handler)
				uln, err := net.Listen("tcp", n.Config.API.Listen)
				if err != nil {
					ln.Close()
					users.audit.Close()
					stop()
					return errors.Join(fmt.Errorf("api.listen: %w", err), waitAll(others))
				}
				fmt.Fprintf(e.stdout, "serving TAXII 2.1 for %s's users on https://%s/taxii2/ (API tokens)\n", n.Config.Node.Partner, uln.Addr())
				beside(func(ctx context.Context) error { return serveUsers(ctx, users, uln) })
			}
			err = srv.serve(ctx, ln)
			stop()
			return errors.Join(err, waitAll(others))
		},
	}
	addDirFlag(cmd, &dir)
	cmd.Flags().StringVar(&listen, "listen", "", "address to listen on (default: the config's listen setting)")
	return cmd
}

// waitAll waits for every listener's result.
func waitAll(done []chan error) error {
	var errs []error
	for _, d := range done {
		errs = append(errs, <-d)
	}
	return errors.Join(errs...)
}

// nodeServer is a node's HTTPS server: TAXII for partners, health for
// operators; while it runs it signs checkpoints of the audit log.
type nodeServer struct {
	http       *http.Server
	checkpoint func(ctx context.Context) error
	// releases decides the release sets: new classes, or every class.
	releases func(ctx context.Context, all bool) error
	// audit records TAXII reads and deletions; closed when serving ends.
	audit *taxiiAudit
	// record appends an event to the node's audit log.
	record func(ctx context.Context, ev ledger.Event) error
	node   *node.Node
	logger *slog.Logger
	// federation keeps the links with partner nodes (serve_federation.go).
	federation *federation.Node
	// hub relays for the members of a community, when the node is one.
	hub *federation.Hub
	// consent is the node's consent workflow, when its store keeps
	// requests: serve delivers again what did not reach its partner.
	consent *federation.Workflow
	// metrics count the requests of the node's listeners and read its
	// state for Prometheus (serve_metrics.go).
	metrics *nodeMetrics
}

// checkpointInterval is how often the audit log is checkpointed while it
// grows; witnessInterval how often pinned partners' logs are witnessed.
var (
	checkpointInterval = 5 * time.Second
	witnessInterval    = time.Minute
)

func newNodeServer(n *node.Node, s store, logw interface{ Write([]byte) (int, error) }) (*nodeServer, error) {
	cert, err := n.TLSCertificate()
	if err != nil {
		return nil, err
	}
	pins, err := partner.StorePeers(partner.NewStore(n.Dir, n.Config.Node.Partner))
	if err != nil {
		return nil, err
	}
	tlsConfig, err := partner.ServerConfig(partner.TLSOptions{Certificate: cert, Pins: pins})
	if err != nil {
		return nil, err
	}
	key, err := cursorKey(n.Dir)
	if err != nil {
		return nil, err
	}
	vis, err := newReleaseVisibility(n, s)
	if err != nil {
		return nil, err
	}
	logger := slog.New(slog.NewJSONHandler(logw, &slog.HandlerOptions{Level: n.Config.Log.SlogLevel()}))
	audit := newTaxiiAudit(s, logger)
	h, err := taxii.New(taxii.Config{
		Store:         s,
		Authenticator: tlsPartners{pins: pins},
		Authorizer:    partnerAccess(s),
		Visibility:    vis,
		CursorKey:     key,
		Classify:      vis.rel.classifier(),
		Statuses:      statusStoreOf(s),
		DefaultBanner: defaultBanner(s),
		Audit:         audit.taxii(),
		Title:         "Tearline node " + n.Config.Node.Partner,
		Description:   n.Config.Node.Name,
		Logger:        logger,
	})
	if err != nil {
		return nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	if st, err := nodeLedger(s); err == nil {
		auth := tlsPartners{pins: pins}
		mountLedger(mux, ledger.New(st), st, auth, logger)
		mountCosignatures(mux, n, ledger.New(st), st, auth, logger)
	}
	fed, hub, err := newFederation(mux, n, s, vis.rel, pins, logger)
	if err != nil {
		return nil, err
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := s.Count(r.Context(), ""); err != nil {
			logger.Error("readiness: database", "err", err)
			http.Error(w, "database unavailable", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	m := newNodeMetrics(n, s)
	ns := &nodeServer{http: &http.Server{Handler: m.instrument("partners", mux), TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}, logger: logger, node: n, audit: audit, metrics: m}
	ns.federation, ns.hub = fed, hub
	switch w, err := nodeWorkflow(n, s, vis.rel); {
	case err == nil:
		ns.consent = w
	case !errors.Is(err, errNoRequests):
		return nil, err
	}
	if st, err := nodeLedger(s); err == nil {
		log := ledger.New(st)
		ns.record = func(ctx context.Context, ev ledger.Event) error {
			var err error
			for try := 0; try < 5; try++ {
				if _, err = log.Append(ctx, ev); !errors.Is(err, ledger.ErrConflict) {
					break
				}
			}
			return err
		}
	}
	if rs, err := releaseStoreOf(s); err == nil {
		ns.releases = func(ctx context.Context, all bool) error {
			opts := release.Options{All: all, At: time.Now().UTC(), Actor: n.Config.Node.Partner + " node", Cause: "new objects"}
			if all {
				opts.Cause = "scheduled recompute"
			}
			p, err := release.Compute(ctx, rs, vis.rel.Releaser, opts)
			if err != nil {
				return err
			}
			if !p.Impact.Empty() {
				logger.Info("release sets", "cause", opts.Cause, "classes", p.Impact.Classes, "impact", p.Impact.String())
			}
			return release.Apply(ctx, rs, p)
		}
	}
	if st, err := nodeLedger(s); err == nil {
		log := ledger.New(st)
		signer := ledger.NewSigner(logOrigin(n), n.SigningKey)
		var last uint64
		ns.checkpoint = func(ctx context.Context) error {
			size, err := log.Size(ctx)
			if err != nil || size == 0 {
				return err
			}
			if size == last {
				// Partners, witnesses and receipts are served the
				// checkpoint stored last; a partner's cosignature of an
				// older one, kept after the newest, would show them the
				// older until the log grows: the newest is signed again.
				newest, err := latestStored(ctx, st)
				if err != nil {
					return err
				}
				if cp, err := ledger.ParseCheckpoint(checkpointBody(newest)); err == nil && cp.Size == size {
					return nil
				}
			}
			if _, err := log.Checkpoint(ctx, signer); err != nil {
				return err
			}
			last = size
			return nil
		}
	}
	return ns, nil
}

// mountLedger serves the audit log to pinned partners, so that they can
// check it and cosign it: the newest checkpoint, and inclusion and
// consistency proofs as JSON lists of hex hashes.
func mountLedger(mux *http.ServeMux, log *ledger.Log, st ledger.Storage, auth tlsPartners, logger *slog.Logger) {
	guard := func(h func(w http.ResponseWriter, r *http.Request) error) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if _, err := auth.Authenticate(r); err != nil {
				http.Error(w, "not a pinned partner", http.StatusUnauthorized)
				return
			}
			if err := h(w, r); err != nil {
				var bad badRequest
				if errors.As(err, &bad) {
					http.Error(w, bad.Error(), http.StatusBadRequest)
					return
				}
				logger.Error("ledger endpoint", "path", r.URL.Path, "err", err)
				http.Error(w, "internal error", http.StatusInternalServerError)
			}
		}
	}
	mux.HandleFunc("GET /ledger/checkpoint", guard(func(w http.ResponseWriter, r *http.Request) error {
		cps, err := st.Checkpoints(r.Context())
		if err != nil {
			return err
		}
		if len(cps) == 0 {
			http.Error(w, "no checkpoint yet", http.StatusNotFound)
			return nil
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, err = w.Write(cps[len(cps)-1])
		return err
	}))
	mux.HandleFunc("GET /ledger/proof/consistency", guard(func(w http.ResponseWriter, r *http.Request) error {
		from, err1 := strconv.ParseUint(r.URL.Query().Get("from"), 10, 64)
		to, err2 := strconv.ParseUint(r.URL.Query().Get("to"), 10, 64)
		size, err := log.Size(r.Context())
		if err != nil {
			return err
		}
		if err1 != nil || err2 != nil || from == 0 || from > to || to > size {
			return badRequest{fmt.Sprintf("give from and to with 0 < from <= to <= %d", size)}
		}
		p, err := log.ConsistencyProof(r.Context(), from, to)
		if err != nil {
			return err
		}
		return writeHashes(w, p)
	}))
	mux.HandleFunc("GET /ledger/proof/inclusion", guard(func(w http.ResponseWriter, r *http.Request) error {
		index, err1 := strconv.ParseUint(r.URL.Query().Get("index"), 10, 64)
		size, err2 := strconv.ParseUint(r.URL.Query().Get("size"), 10, 64)
		now, err := log.Size(r.Context())
		if err != nil {
			return err
		}
		if err1 != nil || err2 != nil || index >= size || size > now {
			return badRequest{fmt.Sprintf("give index and size with index < size <= %d", now)}
		}
		p, err := log.InclusionProof(r.Context(), index, size)
		if err != nil {
			return err
		}
		return writeHashes(w, p)
	}))
}

// mountCosignatures takes back a partner's cosignature of one of this
// node's checkpoints and keeps the cosigned checkpoint: proof that the
// partner saw, and accepted, this history.
func mountCosignatures(mux *http.ServeMux, n *node.Node, log *ledger.Log, st ledger.Storage, auth tlsPartners, logger *slog.Logger) {
	mux.HandleFunc("POST /ledger/cosignature", func(w http.ResponseWriter, r *http.Request) {
		p, err := auth.Authenticate(r)
		if err != nil {
			http.Error(w, "not a pinned partner", http.StatusUnauthorized)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
		if err != nil {
			http.Error(w, "unreadable body", http.StatusBadRequest)
			return
		}
		err = acceptCosignature(r.Context(), n, log, st, p.ID, body)
		switch {
		case errors.Is(err, federation.ErrBadCosignature):
			http.Error(w, err.Error(), http.StatusBadRequest)
		case err != nil:
			logger.Error("keep cosignature", "partner", p.ID, "err", err)
			http.Error(w, "internal error", http.StatusInternalServerError)
		default:
			w.WriteHeader(http.StatusNoContent)
		}
	})
}

// acceptCosignature keeps partner code's cosignature of one of this node's
// checkpoints; one that is not (another log's, not cosigned by code, or a
// root this node never had) is an error wrapping
// federation.ErrBadCosignature.
func acceptCosignature(ctx context.Context, n *node.Node, log *ledger.Log, st ledger.Storage, code string, body []byte) error {
	pinned, err := partner.NewStore(n.Dir, n.Config.Node.Partner).Get(code)
	if err != nil {
		return fmt.Errorf("%w: %s is not a pinned partner", federation.ErrBadCosignature, code)
	}
	own := ledger.NewVerifier(logOrigin(n), n.SigningPublicKey)
	witness := ledger.NewCosignatureVerifier("tearline/"+code, ed25519.PublicKey(pinned.Card.SigningKey.Public))
	cp, names, err := ledger.OpenCosigned(body, own, witness)
	if err != nil || !slices.Contains(names, "tearline/"+code) {
		return fmt.Errorf("%w: not a checkpoint of this node cosigned by you", federation.ErrBadCosignature)
	}
	root, err := log.Root(ctx, cp.Size)
	if err != nil || root != cp.Root {
		return fmt.Errorf("%w: this node never signed that checkpoint", federation.ErrBadCosignature)
	}
	// Kept after the newest checkpoint, an older one cosigned is what
	// partners are served until the checkpointer signs the newest again
	// (newNodeServer).
	return st.AddCheckpoint(ctx, body)
}

// latestStored returns the checkpoint stored last, nil if none.
func latestStored(ctx context.Context, st ledger.Storage) ([]byte, error) {
	if ls, ok := st.(interface {
		LatestCheckpoint(ctx context.Context) ([]byte, error)
	}); ok {
		return ls.LatestCheckpoint(ctx)
	}
	all, err := st.Checkpoints(ctx)
	if err != nil || len(all) == 0 {
		return nil, err
	}
	return all[len(all)-1], nil
}

// hubWitness witnesses the logs of partners reached through a hub, whose
// checkpoints come back through it (federation.Node.AskCheckpoint), and
// keeps their cosignatures of this node's checkpoints, as witnessOnce and
// the /ledger/cosignature handler do over a direct link.
type hubWitness struct {
	n      *node.Node
	log    *ledger.Log
	st     ledger.Storage
	logger *slog.Logger
}

var _ federation.Witnessing = (*hubWitness)(nil)

// Witness implements federation.Witnessing.
func (w *hubWitness) Witness(ctx context.Context, code string, from uint64, signed []byte, proof [][]byte) ([]byte, error) {
	pinned, err := partner.NewStore(w.n.Dir, w.n.Config.Node.Partner).Get(code)
	if err != nil {
		return nil, err
	}
	logKey := partnerLogKey(pinned)
	prev, size, err := readWitnessed(w.n, code, logKey)
	if err != nil {
		return nil, err
	}
	if size != from {
		return nil, fmt.Errorf("%w: proof from size %d, and the last checkpoint of %s witnessed has %d", federation.ErrStaleCheckpoint, from, code, size)
	}
	cosigned, err := keepWitnessed(w.n, code, logKey, signed, prev, proof)
	var sv *splitViewError
	if errors.As(err, &sv) {
		w.logger.Error("ALERT split view", "alert", "split-view", "partner", sv.partner, "evidence", sv.evidence, "err", sv.err)
		if sv.new {
			var rerr error
			for try := 0; try < 5; try++ {
				if _, rerr = w.log.Append(ctx, splitViewEvent(w.n, sv)); !errors.Is(rerr, ledger.ErrConflict) {
					break
				}
			}
			if rerr != nil {
				return nil, errors.Join(err, fmt.Errorf("audit log: split view alert: %w", rerr))
			}
		}
	}
	return cosigned, err
}

// Cosigned implements federation.Witnessing.
func (w *hubWitness) Cosigned(ctx context.Context, code string, cosigned []byte) error {
	return acceptCosignature(ctx, w.n, w.log, w.st, code, cosigned)
}

type badRequest struct{ msg string }

func (b badRequest) Error() string { return b.msg }

func writeHashes(w http.ResponseWriter, hashes [][]byte) error {
	w.Header().Set("Content-Type", "application/json")
	return json.NewEncoder(w).Encode(federation.HexHashes(hashes))
}

// witnesses witnesses, every witnessInterval, the audit log of every pinned
// partner whose card names an endpoint, until ctx ends. A split view is
// logged as an error; its evidence is kept in witnessed/.
func (ns *nodeServer) witnesses(ctx context.Context) {
	t := time.NewTicker(witnessInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		pinned, err := partner.NewStore(ns.node.Dir, ns.node.Config.Node.Partner).List()
		if err != nil {
			ns.logger.Error("witness: pinned partners", "err", err)
			continue
		}
		routes, _ := federation.HubRoutes(pinned, ns.node.Config.Node.Partner, ns.node.Config.Federation.Hubs, ns.node.Config.Federation.Via)
		for _, p := range pinned {
			if ctx.Err() != nil {
				continue
			}
			if routes[p.Card.Partner] != "" {
				// Asked through the hub; the answer is witnessed when it
				// comes back (hubWitness).
				ns.askThroughHub(ctx, p)
				continue
			}
			if len(p.Card.Endpoints) == 0 {
				continue
			}
			size, err := witnessOnce(ns.node, p.Card.Partner, "")
			var sv *splitViewError
			switch {
			case errors.As(err, &sv):
				// An alert, not just a failed witnessing: the partner
				// shows different histories of its audit log.
				ns.logger.Error("ALERT split view", "alert", "split-view", "partner", sv.partner, "evidence", sv.evidence, "err", sv.err)
				if sv.new && ns.record != nil {
					if rerr := ns.record(ctx, splitViewEvent(ns.node, sv)); rerr != nil {
						ns.logger.Error("audit log: split view alert", "partner", sv.partner, "err", rerr)
					}
				}
			case err != nil:
				ns.logger.Error("witness", "partner", p.Card.Partner, "err", err)
			default:
				ns.logger.Debug("witnessed", "partner", p.Card.Partner, "size", size)
			}
		}
	}
}

// askThroughHub asks partner p, reached through a hub, for its newest
// checkpoint and the proof that it extends the last one witnessed.
func (ns *nodeServer) askThroughHub(ctx context.Context, p *partner.Pinned) {
	if ns.federation == nil {
		return
	}
	_, size, err := readWitnessed(ns.node, p.Card.Partner, partnerLogKey(p))
	if err == nil {
		_, err = ns.federation.AskCheckpoint(ctx, p.Card.Partner, size)
	}
	if err != nil {
		ns.logger.Error("witness", "partner", p.Card.Partner, "err", err)
	}
}

// checkpoints signs a checkpoint every interval in which the log grew,
// until ctx ends.
func (ns *nodeServer) checkpoints(ctx context.Context) {
	if ns.checkpoint == nil {
		return
	}
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	for {
		if err := ns.checkpoint(ctx); err != nil && ctx.Err() == nil {
			// The next tick tries again; the entries are safe meanwhile.
			ns.logger.Error("audit log checkpoint", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// releaseSets keeps the release sets current: the objects that arrived
// (by TAXII POST, or an import while serving) are decided every
// checkpoint interval, and everything is decided again every
// recomputeInterval, since agreements expire and memberships end with
// time.
func (ns *nodeServer) releaseSets(ctx context.Context) {
	if ns.releases == nil {
		return
	}
	t := time.NewTicker(checkpointInterval)
	defer t.Stop()
	last := time.Time{}
	for {
		all := time.Since(last) >= recomputeInterval
		if err := ns.releases(ctx, all); err != nil && ctx.Err() == nil {
			ns.logger.Error("release sets", "err", err)
		} else if all {
			last = time.Now()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// consentDeliveries delivers again, every deliverInterval, the consent
// requests and answers that did not reach their partner (see
// federation.Workflow.DeliverPending): a partner that was down, or an
// approval with a tearline that reached the holder before the tearline.
func (ns *nodeServer) consentDeliveries(ctx context.Context) {
	if ns.consent == nil {
		return
	}
	t := time.NewTicker(deliverInterval)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n, err := ns.consent.DeliverPending(ctx)
		if n > 0 {
			ns.logger.Info("consent: delivered again", "messages", n)
		}
		switch {
		case err != nil && ctx.Err() == nil && err.Error() != last:
			// Logged when it changes, not every interval.
			ns.logger.Warn("consent: not delivered yet; trying again", "every", deliverInterval.String(), "err", err)
			last = err.Error()
		case err == nil:
			last = ""
		}
	}
}

// deliverInterval is how often serve delivers undelivered consent
// requests and answers again.
var deliverInterval = 30 * time.Second

// recomputeInterval is how often serve decides every release set again.
const recomputeInterval = time.Minute

func (ns *nodeServer) serve(ctx context.Context, ln net.Listener) error {
	done := make(chan error, 1)
	go func() { done <- ns.http.Serve(tls.NewListener(ln, ns.http.TLSConfig)) }()
	cpCtx, stopCheckpoints := context.WithCancel(ctx)
	loops := []func(context.Context){ns.checkpoints, ns.witnesses, ns.releaseSets, ns.consentDeliveries}
	cpDone := make(chan struct{}, len(loops))
	for _, loop := range loops {
		go func() { loop(cpCtx); cpDone <- struct{}{} }()
	}
	defer func() {
		stopCheckpoints()
		for range loops {
			<-cpDone
		}
	}()
	fedDone := make(chan struct{})
	go func() { ns.runFederation(cpCtx); close(fedDone) }()
	defer func() { stopCheckpoints(); <-fedDone }()
	// After the server has shut down: every read answered is recorded.
	defer ns.audit.Close()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		shut, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		ns.http.Shutdown(shut)
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	}
}

// cursorKey is the node's key for TAXII paging cursors, made once and kept
// in the node directory so that cursors survive restarts and are accepted
// by every replica that shares the directory's keys.
func cursorKey(dir string) ([]byte, error) {
	path := filepath.Join(dir, "taxii-cursor.key")
	key, err := os.ReadFile(path)
	if err == nil {
		if len(key) != 32 {
			return nil, fmt.Errorf("%s holds %d bytes; want 32 (remove it to make a new one; open cursors then expire)", path, len(key))
		}
		return key, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	key = make([]byte, 32)
	rand.Read(key)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, err
	}
	if _, err := f.Write(key); err != nil {
		f.Close()
		return nil, err
	}
	return key, f.Close()
}

// tlsPartners identifies a caller by its pinned TLS certificate.
type tlsPartners struct{ pins partner.Pins }

func (a tlsPartners) Authenticate(r *http.Request) (taxii.Principal, error) {
	if r.TLS == nil {
		return taxii.Principal{}, errors.New("not a TLS connection")
	}
	code, err := partner.PeerPartner(*r.TLS, a.pins)
	if err != nil {
		return taxii.Principal{}, err
	}
	return taxii.Principal{ID: code, Kind: taxii.Partner}, nil
}

// partnerAccess: pinned partners read every collection, through their
// release view, and write none, unless the collection grants say
// otherwise (see grantAccess); what partners send arrives by federation.
func partnerAccess(s store) taxii.Authorizer {
	if us, err := userStoreOf(s); err == nil {
		return grantAccess{users: us}
	}
	return partnersRead{}
}

// partnersRead is partnerAccess for a store without grants.
type partnersRead struct{}

func (partnersRead) Access(ctx context.Context, p taxii.Principal, c tearline.Collection) (taxii.Access, error) {
	return taxii.Access{Read: p.Kind == taxii.Partner}, nil
}

// releaseVisibility shows a partner the object versions the release engine
// allows it to receive, now.
type releaseVisibility struct {
	store   store
	rel     *releasing
	holder  string
	classes *classDecider
}

func newReleaseVisibility(n *node.Node, s store) (*releaseVisibility, error) {
	rel, err := nodeReleasing(n)
	if err != nil {
		return nil, err
	}
	return &releaseVisibility{store: s, rel: rel, holder: n.Config.Node.Partner, classes: newClassDecider(s)}, nil
}

func (v *releaseVisibility) Visible(ctx context.Context, p taxii.Principal, c tearline.Collection, objs []tearline.StoredObject) ([]bool, error) {
	if p.Kind != taxii.Partner {
		return make([]bool, len(objs)), nil
	}
	now := time.Now().UTC()
	rc := v.rel.recipient(p.ID, now)
	defs := label.Definitions{}
	return v.classes.visible(ctx, objs, v.rel.engine, rc, func(i int) (bool, error) {
		subject, _, err := subjectFor(ctx, v.store, c.ID, objs[i].JSON, v.holder, defs)
		if err != nil {
			return false, err
		}
		return v.rel.engine.Verdict(&policy.Request{Subject: subject, Recipient: rc, Action: tearline.Release, Time: now}) == tearline.Allow, nil
	})
}
