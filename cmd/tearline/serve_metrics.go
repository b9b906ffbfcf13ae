package main

import (
	"context"
	"net"
	"net/http"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/federation/mailbox"
	"github.com/tearline/tearline/internal/metrics"
	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/node"
)

// nodeMetrics are what 'tearline serve' exposes to Prometheus at
// metrics.listen: the requests its listeners answer, and the node's state
// (federation links, audit log, consent requests) read at each scrape.
// Label values come from small fixed sets and the node's pinned partner
// codes, never from what a caller sends, and no object is named.
type nodeMetrics struct {
	reg      *metrics.Registry
	requests *metrics.Counter
	seconds  *metrics.Histogram
}

func newNodeMetrics(n *node.Node, s store) *nodeMetrics {
	reg := metrics.New()
	m := &nodeMetrics{
		reg: reg,
		requests: reg.Counter("tearline_http_requests_total",
			"HTTP requests answered, by listener (partners, users), area (taxii, federation, ledger, console, health, other), method and status code.",
			"listener", "area", "method", "code"),
		seconds: reg.Histogram("tearline_http_request_duration_seconds",
			"Time to answer an HTTP request, to the end of its body, by listener and area.",
			[]float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30}, "listener", "area"),
	}
	reg.Gauge("tearline_build_info", "The node's partner code and the Go version it was built with; always 1.",
		func(context.Context) ([]metrics.Sample, error) {
			return []metrics.Sample{{Values: []string{n.Config.Node.Partner, runtime.Version()}, Value: 1}}, nil
		}, "partner", "go_version")
	start := float64(time.Now().UnixNano()) / 1e9
	reg.Gauge("tearline_start_time_seconds", "When the node started serving, in seconds since the Unix epoch.",
		func(context.Context) ([]metrics.Sample, error) { return []metrics.Sample{{Value: start}}, nil })
	reg.Gauge("tearline_goroutines", "Goroutines of the node's process.",
		func(context.Context) ([]metrics.Sample, error) {
			return []metrics.Sample{{Value: float64(runtime.NumGoroutine())}}, nil
		})
	if ls, ok := s.(federation.LinkStore); ok {
		links := &linkStates{store: ls}
		link := func(name, help string, value func(federation.LinkState) (float64, bool)) {
			reg.Gauge(name, help, func(ctx context.Context) ([]metrics.Sample, error) {
				states, err := links.read(ctx)
				if err != nil {
					return nil, err
				}
				var out []metrics.Sample
				for _, st := range states {
					if v, ok := value(st); ok {
						out = append(out, metrics.Sample{Values: []string{st.Partner}, Value: v})
					}
				}
				return out, nil
			}, "partner")
		}
		seconds := func(t time.Time) (float64, bool) { return float64(t.UnixNano()) / 1e9, !t.IsZero() }
		link("tearline_federation_to_send", "Entries of the partner's outbox here that it has not acknowledged yet.",
			func(st federation.LinkState) (float64, bool) { return float64(st.OutLag), true })
		link("tearline_federation_to_receive", "Entries of the partner's outbox for this node not applied here yet, as far as known.",
			func(st federation.LinkState) (float64, bool) { return float64(st.InLag), true })
		link("tearline_federation_last_served_timestamp_seconds", "When the partner last pulled a batch from this node.",
			func(st federation.LinkState) (float64, bool) { return seconds(st.LastServed) })
		link("tearline_federation_last_received_timestamp_seconds", "When a batch from the partner was last applied here.",
			func(st federation.LinkState) (float64, bool) { return seconds(st.LastReceived) })
		link("tearline_federation_send_failing", "1 while this node's side of the link fails (since it last worked), else 0.",
			func(st federation.LinkState) (float64, bool) { return b2f(st.SendError != ""), true })
		link("tearline_federation_receive_failing", "1 while receiving from the partner fails (since it last worked), else 0.",
			func(st federation.LinkState) (float64, bool) { return b2f(st.ReceiveError != ""), true })
	}
	if st, err := nodeLedger(s); err == nil {
		log := ledger.New(st)
		reg.Gauge("tearline_audit_log_entries", "Entries of the node's audit log.",
			func(ctx context.Context) ([]metrics.Sample, error) {
				size, err := log.Size(ctx)
				if err != nil {
					return nil, err
				}
				return []metrics.Sample{{Value: float64(size)}}, nil
			})
	}
	if rs, ok := s.(mailbox.RequestStore); ok {
		reg.Gauge("tearline_consent_requests", "Consent requests by box (inbox: to this node as originator; outbox: of this node as holder), state, and whether their last message reached the partner.",
			func(ctx context.Context) ([]metrics.Sample, error) {
				count := map[[3]string]float64{}
				for _, box := range []mailbox.RequestBox{mailbox.RequestInbox, mailbox.RequestOutbox} {
					rr, err := rs.Requests(ctx, box)
					if err != nil {
						return nil, err
					}
					for _, r := range rr {
						count[[3]string{string(box), string(r.State), strconv.FormatBool(!r.Delivered.IsZero())}]++
					}
				}
				out := make([]metrics.Sample, 0, len(count))
				for k, v := range count {
					out = append(out, metrics.Sample{Values: k[:], Value: v})
				}
				return out, nil
			}, "box", "state", "delivered")
	}
	return m
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// linkStates reads the link states once for all the link gauges of a
// scrape.
type linkStates struct {
	store federation.LinkStore
	mu    sync.Mutex
	at    time.Time
	last  []federation.LinkState
}

func (l *linkStates) read(ctx context.Context) ([]federation.LinkState, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if time.Since(l.at) < time.Second {
		return l.last, nil
	}
	states, err := federation.States(ctx, l.store)
	if err != nil {
		return nil, err
	}
	l.at, l.last = time.Now(), states
	return states, nil
}

// instrument counts and times the requests h answers on a listener.
func (m *nodeMetrics) instrument(listener string, h http.Handler) http.Handler {
	if m == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		defer func() {
			code := rec.code
			if code == 0 {
				code = http.StatusOK
			}
			a := area(r.URL.Path)
			m.requests.Inc(listener, a, method(r.Method), strconv.Itoa(code))
			m.seconds.Observe(time.Since(start).Seconds(), listener, a)
		}()
		h.ServeHTTP(rec, r)
	})
}

// area is the part of the node a path belongs to.
func area(path string) string {
	switch {
	case strings.HasPrefix(path, "/taxii2/"):
		return "taxii"
	case strings.HasPrefix(path, "/federation/"):
		return "federation"
	case strings.HasPrefix(path, "/ledger/"):
		return "ledger"
	case path == "/console" || strings.HasPrefix(path, "/console/"):
		return "console"
	case path == "/healthz" || path == "/readyz":
		return "health"
	}
	return "other"
}

// method is the request's method, or "other": a caller cannot add series.
func method(m string) string {
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch, http.MethodOptions:
		return m
	}
	return "other"
}

// statusRecorder keeps the status code a handler writes. Unwrap lets
// http.ResponseController reach the connection (flushes of the live
// alerts, deadlines of the federation's long polls).
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// FlushError flushes the response, or says why it cannot be
// (http.ResponseController uses it before Flush).
func (s *statusRecorder) FlushError() error {
	return http.NewResponseController(s.ResponseWriter).Flush()
}

// Flush is for handlers that flush through http.Flusher, which has no
// error to return.
func (s *statusRecorder) Flush() { s.FlushError() }

func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// serveMetrics serves the registry at /metrics over plain HTTP on ln until
// ctx ends.
func serveMetrics(ctx context.Context, m *nodeMetrics, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.Handle("/metrics", m.reg.Handler())
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return runServer(ctx, "metrics server", srv, func() error { return srv.Serve(ln) }, 5*time.Second)
}
