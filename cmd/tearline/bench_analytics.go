package main

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/analytics"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/sqlite"
	"github.com/tearline/tearline/stix"
)

// analyticsBench is what tearline bench analytics reports.
type analyticsBench struct {
	Observables          int     `json:"observables"`
	Documents            int     `json:"documents"`
	IndexBuildSeconds    float64 `json:"index_build_seconds"`
	ObservablesPerSecond float64 `json:"index_observables_per_second"`
	HeapBytesPerObs      float64 `json:"index_heap_bytes_per_observable"`
	Lookups              int     `json:"lookups"`
	LookupsPerSecond1    float64 `json:"lookups_per_second_one_goroutine"`
	LookupsPerSecond     float64 `json:"lookups_per_second"`
	Goroutines           int     `json:"goroutines"`
	MatchesPerLookup     float64 `json:"matches_per_lookup"`
	StoreObjects         int     `json:"store_objects"`
	CorpusBuildSeconds   float64 `json:"corpus_build_seconds"`
	CorpusObjectsPerSec  float64 `json:"corpus_objects_per_second"`
	Sightings            int     `json:"sightings"`
	AlertLatencyP50us    float64 `json:"sighting_to_alert_p50_us"`
	AlertLatencyP99us    float64 `json:"sighting_to_alert_p99_us"`
	AlertLatencyMaxus    float64 `json:"sighting_to_alert_max_us"`
}

func newBenchAnalyticsCmd(e *env) *cobra.Command {
	var (
		observables, lookups, objects, sightings int
		seed                                     uint64
		asJSON                                   bool
	)
	cmd := &cobra.Command{
		Use:   "analytics [--observables N] [--lookups N] [--objects N] [--sightings N]",
		Short: "Correlation index build, lookups per second and sighting-to-alert latency",
		Long: `Three measurements of the early-warning path:

  index     build an index of N observables (a realistic mix of addresses,
            prefixes, domains, URLs and hashes, one in ten reported again
            by another partner, ten per document), then look up stored and
            unknown values (exact, CIDR and domain-suffix matches) through
            a viewer's visibility filter, on one goroutine and on one per
            CPU.
  corpus    store M indicators with labels and release classes in a fresh
            SQLite node of GBR and build the corpus from it, as a node does
            at start.
  alerts    record K sightings of indicated values, one at a time, each
            taken through to its alert on a live subscription of a local
            user; report the latency percentiles.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := runAnalyticsBench(cmd.Context(), e, observables, lookups, objects, sightings, seed, !asJSON)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(res)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&observables, "observables", 1000000, "observables in the index")
	cmd.Flags().IntVar(&lookups, "lookups", 2000000, "lookups to time")
	cmd.Flags().IntVar(&objects, "objects", 20000, "indicators stored for the corpus and alert measurements")
	cmd.Flags().IntVar(&sightings, "sightings", 10000, "sightings taken through to alerts")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed for the generated values")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as JSON")
	return cmd
}

func runAnalyticsBench(ctx context.Context, e *env, nObs, nLookups, nObjects, nSightings int, seed uint64, verbose bool) (*analyticsBench, error) {
	if nObs < 10 || nLookups < 1 || nObjects < 1 || nSightings < 1 {
		return nil, usageError{fmt.Errorf("bench analytics needs at least 10 observables, 1 lookup, 1 object and 1 sighting")}
	}
	say := func(format string, args ...any) {
		if verbose {
			fmt.Fprintf(e.stdout, format, args...)
		}
	}
	res := &analyticsBench{Observables: nObs, Lookups: nLookups, StoreObjects: nObjects, Sightings: nSightings, Goroutines: runtime.GOMAXPROCS(0)}
	rng := rand.New(rand.NewPCG(seed, seed^0x5eed))

	// Index.
	say("generating %s observables...\n", groupDigits(nObs))
	all := benchObservables(rng, nObs)
	partners := []string{"USA", "GBR", "CAN", "AUS", "NZL", "FRA", "DEU", "NLD"}
	before := heapInUse()
	ix := analytics.New()
	t0 := time.Now()
	docs := 0
	for i := 0; i < nObs; i += 10 {
		if err := ix.Add(uint32(docs), partners[rng.IntN(len(partners))], all[i:min(i+10, nObs)]); err != nil {
			return nil, fmt.Errorf("bench index: %w", err)
		}
		docs++
	}
	build := time.Since(t0)
	res.Documents = docs
	res.IndexBuildSeconds = build.Seconds()
	res.ObservablesPerSecond = float64(nObs) / build.Seconds()
	res.HeapBytesPerObs = float64(heapInUse()-before) / float64(nObs)
	say("index: %s observables in %s documents built in %s (%.0f observables/s, %.0f heap bytes each)\n",
		groupDigits(nObs), groupDigits(docs), build.Round(time.Millisecond), res.ObservablesPerSecond, res.HeapBytesPerObs)

	// The viewer sees nine documents in ten.
	vis := analytics.NewDocSet()
	for d := 0; d < docs; d++ {
		if d%10 != 9 {
			vis.Add(uint32(d))
		}
	}
	queries := make([]analytics.Observable, 1<<16)
	for i := range queries {
		if i%2 == 0 {
			queries[i] = all[rng.IntN(len(all))]
		} else {
			queries[i] = benchObservables(rng, 1)[0]
		}
	}
	lookup := func(n, from int) (int, error) {
		var dst []analytics.Match
		matches := 0
		for i := 0; i < n; i++ {
			var err error
			if dst, err = ix.Lookup(dst[:0], queries[(from+i)%len(queries)], vis.Has, 0); err != nil {
				return 0, err
			}
			matches += len(dst)
		}
		return matches, nil
	}
	t1 := time.Now()
	matches, err := lookup(nLookups, 0)
	if err != nil {
		return nil, fmt.Errorf("bench lookups: %w", err)
	}
	res.LookupsPerSecond1 = float64(nLookups) / time.Since(t1).Seconds()
	res.MatchesPerLookup = float64(matches) / float64(nLookups)
	var wg sync.WaitGroup
	per := nLookups / res.Goroutines
	errs := make([]error, res.Goroutines)
	t2 := time.Now()
	for g := 0; g < res.Goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			_, errs[g] = lookup(per, g*7919)
		}(g)
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("bench lookups: %w", err)
		}
	}
	res.LookupsPerSecond = float64(per*res.Goroutines) / time.Since(t2).Seconds()
	say("lookups: %.0f/s on one goroutine, %.0f/s on %d (%.2f matches per lookup, half the queries unknown values)\n",
		res.LookupsPerSecond1, res.LookupsPerSecond, res.Goroutines, res.MatchesPerLookup)
	ix = nil
	all = nil

	// Corpus from a store, and sightings to alerts.
	dir, err := os.MkdirTemp("", "tearline-bench-analytics-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	s, err := sqlite.Open(ctx, filepath.Join(dir, "node.db"))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	say("storing %s labelled indicators...\n", groupDigits(nObjects))
	values, rel, err := storeBenchIndicators(ctx, s, rng, nObjects)
	if err != nil {
		return nil, err
	}
	t3 := time.Now()
	corpus, err := analytics.Build(ctx, s, analytics.Options{})
	if err != nil {
		return nil, err
	}
	cb := time.Since(t3)
	res.CorpusBuildSeconds = cb.Seconds()
	res.CorpusObjectsPerSec = float64(nObjects) / cb.Seconds()
	say("corpus: built from %s stored indicators in %s (%.0f objects/s)\n", groupDigits(nObjects), cb.Round(time.Millisecond), res.CorpusObjectsPerSec)

	sch, _ := label.LookupScheme("GBR")
	rc := &tearline.Recipient{Code: "GBR", Nationality: "GBR", User: "bench", Clearances: []tearline.Clearance{{Policy: "GBR", Levels: sch.Levels()}}}
	d, err := analytics.LocalUserDecider(rel.Engine, rc, time.Now())
	if err != nil {
		return nil, err
	}
	view, err := corpus.NewView("bench", d)
	if err != nil {
		return nil, err
	}
	// Sight only what the user may see: a sighting of anything else
	// rightly raises no alert for it.
	var visible []analytics.Observable
	for _, o := range values {
		if _, ok, err := corpus.Match(view, analytics.Sighting{Observable: o}); err != nil {
			return nil, err
		} else if ok {
			visible = append(visible, o)
		}
	}
	if len(visible) == 0 {
		return nil, fmt.Errorf("bench alerts: the benchmark user may see none of the %d indicators", nObjects)
	}
	say("alerts: the user may see %d of the %d values indicated\n", len(visible), len(values))
	sub, err := corpus.Subscribe(view, 64)
	if err != nil {
		return nil, err
	}
	defer sub.Close()
	lat := make([]time.Duration, 0, nSightings)
	for i := 0; i < nSightings; i++ {
		o := visible[rng.IntN(len(visible))]
		start := time.Now()
		if _, err := corpus.Record(analytics.Sighting{Observable: o, Source: "bench"}); err != nil {
			return nil, err
		}
		for got := false; !got; {
			select {
			case a := <-sub.C:
				got = a.Kind == analytics.AlertMatch
			case <-time.After(10 * time.Second):
				return nil, fmt.Errorf("bench alerts: no alert within 10s of sighting %d (%v)", i, o)
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	res.AlertLatencyP50us = us(lat[len(lat)/2])
	res.AlertLatencyP99us = us(lat[min(len(lat)*99/100, len(lat)-1)])
	res.AlertLatencyMaxus = us(lat[len(lat)-1])
	say("alerts: %s sightings, sighting to alert p50 %.0fµs, p99 %.0fµs, max %.0fµs\n",
		groupDigits(nSightings), res.AlertLatencyP50us, res.AlertLatencyP99us, res.AlertLatencyMaxus)
	return res, nil
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

var benchTLDs = []string{"com", "net", "org", "ru", "cn", "io", "info", "xyz", "top", "de"}

func benchLabel(r *rand.Rand) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 5+r.IntN(8))
	for i := range b {
		b[i] = letters[r.IntN(26)]
		if i > 0 && r.IntN(5) == 0 {
			b[i] = letters[r.IntN(len(letters))]
		}
	}
	return string(b)
}

func benchDomain(r *rand.Rand) string {
	d := benchLabel(r) + "." + benchTLDs[r.IntN(len(benchTLDs))]
	if r.IntN(10) < 3 {
		d = []string{"www", "mail", "cdn", "login", benchLabel(r)}[r.IntN(5)] + "." + d
	}
	return d
}

func benchHex(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return hex.EncodeToString(b)
}

// benchObservables draws n canonical observables: 30% IPv4 addresses, 5%
// IPv4 prefixes, 5% IPv6, 25% domains, 15% URLs, 20% hashes, one in ten a
// repeat of an earlier one.
func benchObservables(r *rand.Rand, n int) []analytics.Observable {
	out := make([]analytics.Observable, 0, n)
	v4 := func() netip.Addr {
		return netip.AddrFrom4([4]byte{byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32()), byte(r.Uint32())})
	}
	for len(out) < n {
		if len(out) > 0 && r.IntN(10) == 0 {
			out = append(out, out[r.IntN(len(out))])
			continue
		}
		var o analytics.Observable
		switch p := r.IntN(100); {
		case p < 30:
			o = analytics.Observable{Kind: analytics.KindIPv4, Value: netip.PrefixFrom(v4(), 32).String()}
		case p < 35:
			o = analytics.Observable{Kind: analytics.KindIPv4, Value: netip.PrefixFrom(v4(), 16+r.IntN(15)).Masked().String()}
		case p < 40:
			var b [16]byte
			b[0], b[1] = 0x20, 0x01
			for i := 2; i < 16; i++ {
				b[i] = byte(r.Uint32())
			}
			o = analytics.Observable{Kind: analytics.KindIPv6, Value: netip.PrefixFrom(netip.AddrFrom16(b), []int{128, 128, 64, 48}[r.IntN(4)]).Masked().String()}
		case p < 65:
			o = analytics.Observable{Kind: analytics.KindDomain, Value: benchDomain(r)}
		case p < 80:
			o = analytics.Observable{Kind: analytics.KindURL, Value: fmt.Sprintf("http://%s/%s/%s.php?id=%d", benchDomain(r), benchLabel(r), benchLabel(r), r.IntN(100000))}
		default:
			switch h := r.IntN(20); {
			case h < 12:
				o = analytics.Observable{Kind: analytics.KindSHA256, Value: benchHex(r, 32)}
			case h < 17:
				o = analytics.Observable{Kind: analytics.KindMD5, Value: benchHex(r, 16)}
			default:
				o = analytics.Observable{Kind: analytics.KindSHA1, Value: benchHex(r, 20)}
			}
		}
		out = append(out, o)
	}
	return out
}

// storeBenchIndicators stores n indicators, each naming one to three
// values, labelled from benchBanners and sent by one of four partners (a
// third of them this node's own), with their release classes. It returns
// the values named, for sightings.
func storeBenchIndicators(ctx context.Context, s *sqlite.Store, r *rand.Rand, n int) ([]analytics.Observable, *release.Releaser, error) {
	if _, err := s.CreateCollection(ctx, tearline.Collection{Alias: "bench", Title: "bench"}); err != nil {
		return nil, nil, err
	}
	agreements, err := policy.ExampleAgreements()
	if err != nil {
		return nil, nil, err
	}
	rel, err := release.NewReleaser(policy.Builtin(), agreements, "GBR")
	if err != nil {
		return nil, nil, err
	}
	var labels []tearline.Label
	for _, b := range benchBanners {
		l, err := label.Parse(b)
		if err != nil {
			return nil, nil, fmt.Errorf("benchmark label %q: %w", b, err)
		}
		labels = append(labels, l)
	}
	senders := []string{"", "", "USA", "FRA", "CAN", "AUS"}
	created := time.Now().UTC().Add(-24 * time.Hour)
	var values []analytics.Observable
	batch := make([]*tearline.Object, 0, 5000)
	for i := 0; i < n; i++ {
		obs := benchObservables(r, 1+r.IntN(3))
		pattern := ""
		for j, o := range obs {
			if j > 0 {
				pattern += " OR "
			}
			pattern += patternTerm(o)
			values = append(values, o)
		}
		p, _ := json.Marshal("[" + pattern + "]")
		data := []byte(fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":%q,"modified":%q,"pattern":%s,"pattern_type":"stix","valid_from":%q,"confidence":%d}`,
			i, stix.FormatTimestamp(created), stix.FormatTimestamp(created), p, stix.FormatTimestamp(created), 10*r.IntN(11)))
		obj, v, err := stix.Parse(data)
		if err != nil {
			return nil, nil, fmt.Errorf("benchmark indicator %d: %w", i, err)
		}
		subj := release.NewSubject(obj, v, "GBR", labels[r.IntN(len(labels))])
		if sender := senders[r.IntN(len(senders))]; sender != "" {
			subj.Originators = []string{sender}
		}
		if obj.ReleaseClass, err = rel.Classify(subj); err != nil {
			return nil, nil, err
		}
		batch = append(batch, obj)
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := s.PutObjects(ctx, "bench", batch); err != nil {
				return nil, nil, err
			}
			batch = batch[:0]
		}
	}
	return values, rel, nil
}

// patternTerm is the comparison of a STIX pattern that names o.
func patternTerm(o analytics.Observable) string {
	path := o.Kind.String() + ":value"
	if o.Kind.IsHash() {
		path = "file:hashes.'" + o.Kind.String() + "'"
	}
	return fmt.Sprintf("%s = '%s'", path, o.Value)
}
