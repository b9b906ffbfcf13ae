package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/synth"
	"github.com/tearline/tearline/taxii"
	"github.com/tearline/tearline/taxii/client"
)

func newBenchTAXIICmd(e *env) *cobra.Command {
	var (
		objects, clients, posters, samples int
		duration                           time.Duration
		seed                               uint64
		view, versions                     string
		asJSON                             bool
	)
	cmd := &cobra.Command{
		Use:   "taxii [--objects N] [--clients C] [--duration D] [--view release|all]",
		Short: "TAXII server throughput and latency under load, over mutual TLS",
		Long: `Start the node's TAXII server as 'tearline serve' mounts it (mutual TLS 1.3
with pinned partner certificates, on 127.0.0.1, a fresh SQLite node) and
drive it with the node's own TAXII client as a pinned partner (CAN, under a
benchmark agreement with the serving node GBR):

  POST    N synthetic objects, labelled GBR SECRET//REL TO CAN, GBR, in
          envelopes of 1,000 objects from several posters: objects/s.
  GET     the whole collection in pages of limit=1000 following next, by
          one client: objects/s.
  PAGE    single limit=1000 pages at random positions: p50 and p99 latency.
  LOAD    C concurrent clients fetching random pages for D (then the
          requests under way are waited for): pages and objects per
          second, latency, and errors (which must be zero).

--view release (the default) shows the partner what the release engine
allows it, as 'tearline serve' does; --view all shows every object, which
measures the HTTP and store layers alone. GETs ask for match[version]=all,
as 'tearline pull' does; --versions last measures the TAXII default, which
makes the server work out each object's newest version. Client and server run in one
process; the peak RSS and heap reported are that process's.`,
		Example: `  tearline bench taxii --objects 1000000 --clients 200`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if objects <= 0 || clients <= 0 || posters <= 0 || samples <= 0 || duration <= 0 {
				return usageError{errors.New("--objects, --clients, --posters, --samples and --duration must be positive")}
			}
			if view != "release" && view != "all" {
				return usageError{fmt.Errorf("--view %q: use release or all", view)}
			}
			if versions != "last" && versions != "all" {
				return usageError{fmt.Errorf("--versions %q: use last or all", versions)}
			}
			b := &taxiiBench{e: e, objects: objects, clients: clients, posters: posters, samples: samples,
				duration: duration, seed: seed, view: view, versions: versions}
			res, err := b.run(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(res)
			}
			res.print(e.stdout)
			if res.Load.Errors > 0 {
				return fmt.Errorf("%d requests failed under load; the first: %s", res.Load.Errors, res.Load.FirstError)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&objects, "objects", 1000000, "objects to post and page through")
	cmd.Flags().IntVar(&clients, "clients", 200, "concurrent clients in the load run")
	cmd.Flags().IntVar(&posters, "posters", 4, "concurrent clients posting envelopes")
	cmd.Flags().IntVar(&samples, "samples", 200, "single pages timed for the latency figures")
	cmd.Flags().DurationVar(&duration, "duration", 10*time.Second, "how long the load run starts new requests (those under way then are waited for)")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "generator seed: the same seed gives the same objects")
	cmd.Flags().StringVar(&view, "view", "release", "what the partner sees: release (as 'tearline serve') or all")
	cmd.Flags().StringVar(&versions, "versions", "all", "match[version] of every GET: all (as 'tearline pull' asks) or last (the TAXII default)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

type taxiiBench struct {
	e                                  *env
	objects, clients, posters, samples int
	duration                           time.Duration
	seed                               uint64
	view, versions                     string

	c    *client.Client
	root string
	coll string
}

type taxiiBenchResult struct {
	Objects  int    `json:"objects"`
	View     string `json:"view"`
	Versions string `json:"versions"`
	CPUs     int    `json:"cpus"`
	Post     struct {
		Envelopes     int     `json:"envelopes"`
		Posters       int     `json:"posters"`
		Seconds       float64 `json:"seconds"`
		ObjectsPerSec float64 `json:"objects_per_second"`
	} `json:"post"`
	Get struct {
		Pages         int     `json:"pages"`
		Objects       int     `json:"objects"`
		Seconds       float64 `json:"seconds"`
		ObjectsPerSec float64 `json:"objects_per_second"`
	} `json:"get"`
	Page struct {
		Samples int     `json:"samples"`
		P50ms   float64 `json:"p50_ms"`
		P99ms   float64 `json:"p99_ms"`
	} `json:"page"`
	Load struct {
		Clients       int     `json:"clients"`
		Seconds       float64 `json:"seconds"`
		Pages         int64   `json:"pages"`
		PagesPerSec   float64 `json:"pages_per_second"`
		ObjectsPerSec float64 `json:"objects_per_second"`
		P50ms         float64 `json:"p50_ms"`
		P99ms         float64 `json:"p99_ms"`
		Errors        int64   `json:"errors"`
		FirstError    string  `json:"first_error,omitempty"`
		PeakHeapBytes uint64  `json:"peak_heap_bytes"`
	} `json:"load"`
	PeakRSSBytes  int64  `json:"peak_rss_bytes"`
	PeakHeapBytes uint64 `json:"peak_heap_bytes"`
}

func (r *taxiiBenchResult) print(w io.Writer) {
	fmt.Fprintf(w, "scenario taxii: %s objects, %s view for a pinned partner, match[version]=%s, mutual TLS 1.3 on 127.0.0.1, SQLite, %d CPUs (client and server share them)\n",
		groupDigits(r.Objects), r.View, r.Versions, r.CPUs)
	fmt.Fprintf(w, "POST  envelopes of 1,000 objects, %d posters   %12s objects/s  (%d envelopes in %.1fs)\n",
		r.Post.Posters, groupDigits(int(r.Post.ObjectsPerSec)), r.Post.Envelopes, r.Post.Seconds)
	fmt.Fprintf(w, "GET   paging limit=1000 following next         %12s objects/s  (%d pages in %.1fs)\n",
		groupDigits(int(r.Get.ObjectsPerSec)), r.Get.Pages, r.Get.Seconds)
	fmt.Fprintf(w, "PAGE  one limit=1000 page at a random position  p50 %.1f ms, p99 %.1f ms  (%d pages)\n", r.Page.P50ms, r.Page.P99ms, r.Page.Samples)
	fmt.Fprintf(w, "LOAD  %d clients for %.1fs: %s pages/s, %s objects/s, p50 %.1f ms, p99 %.1f ms, errors %d\n",
		r.Load.Clients, r.Load.Seconds, groupDigits(int(r.Load.PagesPerSec)), groupDigits(int(r.Load.ObjectsPerSec)), r.Load.P50ms, r.Load.P99ms, r.Load.Errors)
	fmt.Fprintf(w, "peak  RSS %.0f MB and heap %.0f MB over the whole run; heap %.0f MB during the load run\n",
		float64(r.PeakRSSBytes)/(1<<20), float64(r.PeakHeapBytes)/(1<<20), float64(r.Load.PeakHeapBytes)/(1<<20))
}

// benchAccess lets pinned partners read and write every collection: the
// benchmark's partner posts what it then reads.
type benchAccess struct{}

func (benchAccess) Access(_ context.Context, p taxii.Principal, _ tearline.Collection) (taxii.Access, error) {
	ok := p.Kind == taxii.Partner
	return taxii.Access{Read: ok, Write: ok}, nil
}

// benchAgreement lets GBR release up to SECRET to CAN.
const benchAgreement = `id: bench-gbr-can
version: 1
title: Benchmark exchange between GBR and CAN
parties: [GBR, CAN]
valid_from: 2020-01-01
review_by: 2099-01-01
ceilings:
  GBR: SECRET
  CAN: SECRET
equivalences:
  - {GBR: SECRET, CAN: SECRET}
third_party_rule: false
`

const benchBanner = "GBR SECRET//REL TO CAN, GBR"

func (b *taxiiBench) run(ctx context.Context) (*taxiiBenchResult, error) {
	res := &taxiiBenchResult{Objects: b.objects, View: b.view, Versions: b.versions, CPUs: runtime.NumCPU()}
	heap := startHeapWatch()
	defer heap.stop()
	work, err := os.MkdirTemp("", "tearline-bench-taxii-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)

	srvDir, cliDir := filepath.Join(work, "gbr"), filepath.Join(work, "can")
	// The nodes are made with the commands an operator would run.
	cli := func(args ...string) error {
		var errb bytes.Buffer
		if code := Main(ctx, args, strings.NewReader(""), io.Discard, &errb); code != 0 {
			return fmt.Errorf("bench taxii: tearline %s: %s", strings.Join(args, " "), strings.TrimSpace(errb.String()))
		}
		return nil
	}
	if err := cli("init", "--partner", "GBR", "--name", "Benchmark server", "--dir", srvDir); err != nil {
		return nil, err
	}
	if err := cli("init", "--partner", "CAN", "--name", "Benchmark client", "--dir", cliDir); err != nil {
		return nil, err
	}
	srvNode, err := node.Load(srvDir)
	if err != nil {
		return nil, err
	}
	cliNode, err := node.Load(cliDir)
	if err != nil {
		return nil, err
	}
	if err := pinEach(srvNode, cliNode); err != nil {
		return nil, err
	}
	agreement := filepath.Join(work, "agreement.yaml")
	if err := os.WriteFile(agreement, []byte(benchAgreement), 0o600); err != nil {
		return nil, err
	}
	if err := cli("agreement", "add", "--dir", srvDir, agreement); err != nil {
		return nil, err
	}

	s, err := openStore(ctx, srvNode)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	base, stop, err := benchServer(srvNode, s, b.view)
	if err != nil {
		return nil, err
	}
	defer stop()
	hc, err := partnerHTTPClient(cliNode, "GBR")
	if err != nil {
		return nil, err
	}
	hc.Timeout = 2 * time.Minute
	hc.Transport.(*http.Transport).MaxIdleConnsPerHost = b.clients + b.posters
	if b.c, err = client.New(client.Options{HTTPClient: hc}); err != nil {
		return nil, err
	}
	if b.root, err = b.c.FindAPIRoot(ctx, base); err != nil {
		return nil, err
	}
	coll, err := b.c.FindCollection(ctx, b.root, defaultCollection)
	if err != nil {
		return nil, err
	}
	b.coll = coll.ID

	defs, err := b.post(ctx, res)
	if err != nil {
		return nil, err
	}
	want := b.objects
	if b.view == "all" {
		want += defs
	}
	positions, err := b.page(ctx, res, want)
	if err != nil {
		return nil, err
	}
	if err := b.latency(ctx, res, positions); err != nil {
		return nil, err
	}
	before := heap.take()
	b.load(ctx, res, positions)
	res.Load.PeakHeapBytes = heap.take()
	res.PeakHeapBytes = max(before, res.Load.PeakHeapBytes)
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		res.PeakRSSBytes = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return res, nil
}

// pinEach pins each node's card in the other, as operators do after
// comparing fingerprints.
func pinEach(a, b *node.Node) error {
	for _, pair := range [][2]*node.Node{{a, b}, {b, a}} {
		card, data, err := partner.NodeCard(pair[0], nil, time.Now())
		if err != nil {
			return err
		}
		fp, err := card.Fingerprint()
		if err != nil {
			return err
		}
		if _, err := partner.NewStore(pair[1].Dir, pair[1].Config.Node.Partner).Add(data, partner.AddOptions{Fingerprint: fp.String()}); err != nil {
			return fmt.Errorf("bench taxii: pin %s in %s: %w", pair[0].Config.Node.Partner, pair[1].Config.Node.Partner, err)
		}
	}
	return nil
}

// benchServer serves the node's TAXII handler as 'tearline serve' mounts
// it, with partners allowed to write, on 127.0.0.1.
func benchServer(n *node.Node, s store, view string) (string, func(), error) {
	cert, err := n.TLSCertificate()
	if err != nil {
		return "", nil, err
	}
	pins, err := partner.StorePeers(partner.NewStore(n.Dir, n.Config.Node.Partner))
	if err != nil {
		return "", nil, err
	}
	tlsConfig, err := partner.ServerConfig(partner.TLSOptions{Certificate: cert, Pins: pins})
	if err != nil {
		return "", nil, err
	}
	var vis taxii.Visibility = taxii.AllVisible
	if view == "release" {
		if vis, err = newReleaseVisibility(n, s); err != nil {
			return "", nil, err
		}
	}
	rel, err := nodeReleasing(n)
	if err != nil {
		return "", nil, err
	}
	key := make([]byte, 32)
	rand.Read(key)
	// Posted objects are classified as serve classifies them, so that the
	// release view decides them by class.
	h, err := taxii.New(taxii.Config{Store: s, Authenticator: tlsPartners{pins: pins}, Authorizer: benchAccess{}, Visibility: vis,
		CursorKey: key, Classify: rel.classifier(), Statuses: statusStoreOf(s),
		Title: "Tearline node " + n.Config.Node.Partner, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return "", nil, err
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: mux, TLSConfig: tlsConfig, ReadHeaderTimeout: 10 * time.Second, ErrorLog: log.New(io.Discard, "", 0)}
	go srv.Serve(tls.NewListener(ln, tlsConfig))
	return "https://" + ln.Addr().String(), func() { srv.Close() }, nil
}

// generate makes the objects in envelopes of 1,000, relabelled
// with the benchmark banner in place of synth's TLP marking.
func (b *taxiiBench) generate(ctx context.Context, refs []string, out chan<- []json.RawMessage) {
	defer close(out)
	quoted, _ := json.Marshal(refs)
	markWith := append([]byte(`"object_marking_refs":`), quoted...)
	g := synth.New(b.seed)
	batch := make([]json.RawMessage, 0, 1000)
	for i := 0; i < b.objects; i++ {
		raw := g.Next()
		var o []byte
		if at := bytes.Index(raw, []byte(`"object_marking_refs":[`)); at >= 0 {
			end := at + bytes.IndexByte(raw[at:], ']') + 1
			o = make([]byte, 0, len(raw)+len(markWith))
			o = append(append(append(o, raw[:at]...), markWith...), raw[end:]...)
		} else {
			o = make([]byte, 0, len(raw)+len(markWith)+1)
			o = append(append(append(append(o, raw[:len(raw)-1]...), ','), markWith...), '}')
		}
		batch = append(batch, o)
		if len(batch) == cap(batch) || i == b.objects-1 {
			select {
			case out <- batch:
			case <-ctx.Done():
				return
			}
			batch = make([]json.RawMessage, 0, 1000)
		}
	}
}

// post stores the banner's marking definitions, then every object, and
// returns how many definitions it posted.
func (b *taxiiBench) post(ctx context.Context, res *taxiiBenchResult) (int, error) {
	l, err := label.Parse(benchBanner)
	if err != nil {
		return 0, err
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		return 0, err
	}
	first := make([]json.RawMessage, len(defs))
	for i, d := range defs {
		first[i] = d
	}
	if err := b.postOne(ctx, first); err != nil {
		return 0, fmt.Errorf("post the marking definitions: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	envelopes := make(chan []json.RawMessage, 2*b.posters)
	go b.generate(ctx, refs, envelopes)
	var wg sync.WaitGroup
	var once sync.Once
	var failure error
	var posted atomic.Int64
	start := time.Now()
	for range b.posters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for env := range envelopes {
				if err := b.postOne(ctx, env); err != nil {
					once.Do(func() { failure = err; cancel() })
					return
				}
				posted.Add(1)
			}
		}()
	}
	wg.Wait()
	if failure != nil {
		return 0, failure
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	el := time.Since(start)
	res.Post.Envelopes = int(posted.Load())
	res.Post.Posters, res.Post.Seconds, res.Post.ObjectsPerSec = b.posters, el.Seconds(), float64(b.objects)/el.Seconds()
	return len(defs), nil
}

// postOne posts one envelope; every object must be stored.
func (b *taxiiBench) postOne(ctx context.Context, env []json.RawMessage) error {
	st, err := b.c.AddObjects(ctx, b.root, b.coll, env)
	if err != nil {
		return err
	}
	if st, err = b.c.WaitForStatus(ctx, b.root, st, 100*time.Millisecond); err != nil {
		return err
	}
	if st.SuccessCount != len(env) {
		msg := ""
		if len(st.Failures) > 0 {
			msg = ": " + printable(st.Failures[0].Message)
		}
		return fmt.Errorf("the server stored %d of %d objects%s", st.SuccessCount, len(env), msg)
	}
	return nil
}

// page reads the whole collection in pages of 1,000 and returns where
// each page started, for random access later.
func (b *taxiiBench) page(ctx context.Context, res *taxiiBenchResult, want int) ([]time.Time, error) {
	positions := []time.Time{{}}
	start := time.Now()
	for env, err := range b.c.ObjectPages(ctx, b.root, b.coll, b.filter(time.Time{})) {
		if err != nil {
			return nil, err
		}
		res.Get.Pages++
		res.Get.Objects += len(env.Objects)
		if !env.DateAddedLast.IsZero() {
			positions = append(positions, env.DateAddedLast)
		}
	}
	el := time.Since(start)
	if res.Get.Objects != want {
		return nil, fmt.Errorf("paging returned %d objects; %d were posted and visible", res.Get.Objects, want)
	}
	res.Get.Seconds, res.Get.ObjectsPerSec = el.Seconds(), float64(res.Get.Objects)/el.Seconds()
	// The last position starts an empty page.
	return positions[:max(len(positions)-1, 1)], nil
}

// filter asks for a page of 1,000 objects added after after.
func (b *taxiiBench) filter(after time.Time) client.Filter {
	return client.Filter{Limit: 1000, AddedAfter: after, Versions: []string{b.versions}}
}

// latency times single pages at random positions, one at a time.
func (b *taxiiBench) latency(ctx context.Context, res *taxiiBenchResult, positions []time.Time) error {
	rng := mrand.New(mrand.NewPCG(b.seed, 7))
	times := make([]time.Duration, 0, b.samples)
	for range b.samples {
		f := b.filter(positions[rng.IntN(len(positions))])
		t0 := time.Now()
		if _, err := b.c.GetObjects(ctx, b.root, b.coll, f); err != nil {
			return err
		}
		times = append(times, time.Since(t0))
	}
	res.Page.Samples = len(times)
	res.Page.P50ms, res.Page.P99ms = percentile(times, 50), percentile(times, 99)
	return nil
}

// load runs the clients for the duration, each fetching pages at random
// positions one after another; then no new request starts and the run
// waits for those under way, so that every request counts, as a page or
// as an error.
func (b *taxiiBench) load(ctx context.Context, res *taxiiBenchResult, positions []time.Time) {
	issuing, stop := context.WithTimeout(ctx, b.duration)
	defer stop()
	var pages, objects, failures atomic.Int64
	var mu sync.Mutex
	var first string
	all := make([][]time.Duration, b.clients)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range b.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := mrand.New(mrand.NewPCG(b.seed, uint64(i)))
			for issuing.Err() == nil {
				f := b.filter(positions[rng.IntN(len(positions))])
				t0 := time.Now()
				env, err := b.c.GetObjects(ctx, b.root, b.coll, f)
				if err != nil {
					failures.Add(1)
					mu.Lock()
					if first == "" {
						first = err.Error()
					}
					mu.Unlock()
					continue
				}
				all[i] = append(all[i], time.Since(t0))
				pages.Add(1)
				objects.Add(int64(len(env.Objects)))
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	times := slices.Concat(all...)
	res.Load.Clients, res.Load.Seconds = b.clients, el.Seconds()
	res.Load.Pages, res.Load.Errors, res.Load.FirstError = pages.Load(), failures.Load(), first
	res.Load.PagesPerSec = float64(pages.Load()) / el.Seconds()
	res.Load.ObjectsPerSec = float64(objects.Load()) / el.Seconds()
	res.Load.P50ms, res.Load.P99ms = percentile(times, 50), percentile(times, 99)
}

// percentile returns the p-th percentile of ds in milliseconds (nearest
// rank); ds is sorted in place.
func percentile(ds []time.Duration, p int) float64 {
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	i := (len(ds)*p + 99) / 100
	return float64(ds[min(max(i-1, 0), len(ds)-1)].Microseconds()) / 1000
}

// heapWatch samples the live heap every 50ms and keeps the peak.
type heapWatch struct {
	mu   sync.Mutex
	peak uint64
	done chan struct{}
	wg   sync.WaitGroup
}

func startHeapWatch() *heapWatch {
	h := &heapWatch{done: make(chan struct{})}
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		t := time.NewTicker(50 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(sample)
			h.mu.Lock()
			h.peak = max(h.peak, sample[0].Value.Uint64())
			h.mu.Unlock()
			select {
			case <-h.done:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

// take returns the peak since the last take and starts a new one.
func (h *heapWatch) take() uint64 {
	h.mu.Lock()
	defer h.mu.Unlock()
	p := h.peak
	h.peak = 0
	return p
}

func (h *heapWatch) stop() {
	close(h.done)
	h.wg.Wait()
}
