package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/federation"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/partner"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
)

// benchFVEY is the Five Eyes arrangement of policy/examples/fvey.yaml,
// reduced to what the benchmark's label needs.
const benchFVEY = `id: fvey-intel
version: 3
title: Five Eyes intelligence sharing arrangement
parties: [FVEY]
valid_from: 2020-01-01
ceilings: {USA: TOP SECRET, GBR: TOP SECRET, CAN: TOP SECRET, AUS: TOP SECRET, NZL: TOP SECRET}
equivalences:
  - {USA: SECRET, GBR: SECRET, CAN: SECRET, AUS: SECRET, NZL: SECRET}
third_party_rule: false
`

// benchFederationBanner labels what the benchmark publishes.
const benchFederationBanner = "GBR SECRET//REL TO USA, GBR, FVEY"

type benchFederationResult struct {
	Objects       int     `json:"objects"`
	PublishSec    float64 `json:"publish_seconds"`
	LinkSec       float64 `json:"link_seconds"`
	ObjectsPerSec float64 `json:"objects_per_second"`
	Samples       int     `json:"latency_samples"`
	P50Millis     float64 `json:"latency_p50_ms"`
	P99Millis     float64 `json:"latency_p99_ms"`
	MaxMillis     float64 `json:"latency_max_ms"`
}

func newBenchFederationCmd(e *env) *cobra.Command {
	var (
		objects, samples int
		asJSON           bool
	)
	cmd := &cobra.Command{
		Use:   "federation [--objects N] [--samples K]",
		Short: "Federation between two nodes: objects/s over one link, and publish-to-visible latency",
		Long: `Make two fresh nodes, GBR and USA, on SQLite in a temporary directory, with
the Five Eyes agreement, pinning each other's cards; serve both as
'tearline serve' does, over mutual TLS on 127.0.0.1.

Throughput: N objects releasable to USA are published on GBR before the
servers start (their release sets decided, so they wait in USA's outbox);
the link's rate is N over the time from starting the servers until USA has
applied the last of them (pulled, verified, checked and stored, with its
cursor and audit entries).

Latency: K times, one object is published on GBR (imported, with a release
class already decided, so it is queued in the same transaction), and the
time until it is visible in USA's store is measured; p50, p99 and max are
reported.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if objects < 1 || samples < 1 {
				return usageError{fmt.Errorf("--objects and --samples must be at least 1")}
			}
			res, err := benchFederation(cmd.Context(), e, objects, samples)
			if err != nil {
				return err
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(res)
			}
			fmt.Fprintf(e.stdout, "link GBR -> USA: %s objects in %.2f s: %s objects/s (published in %.2f s before the link started)\n",
				groupDigits(res.Objects), res.LinkSec, groupDigits(int(res.ObjectsPerSec)), res.PublishSec)
			fmt.Fprintf(e.stdout, "publish-to-visible latency over %d samples: p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
				res.Samples, res.P50Millis, res.P99Millis, res.MaxMillis)
			return nil
		},
	}
	cmd.Flags().IntVar(&objects, "objects", 50000, "objects sent over the link for the throughput figure")
	cmd.Flags().IntVar(&samples, "samples", 200, "objects published one at a time for the latency figures")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the figures as JSON")
	return cmd
}

// benchNode is one node of the benchmark.
type benchNode struct {
	n    *node.Node
	s    store
	rel  *releasing
	ln   net.Listener
	stop context.CancelFunc
	done chan error
}

func benchFederation(ctx context.Context, e *env, objects, samples int) (*benchFederationResult, error) {
	root, err := os.MkdirTemp("", "tearline-bench-federation-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(root)
	agreement, err := policy.ParseAgreement([]byte(benchFVEY))
	if err != nil {
		return nil, fmt.Errorf("benchmark agreement: %w", err)
	}
	nodes := map[string]*benchNode{}
	defer func() {
		for _, b := range nodes {
			if b.stop != nil {
				b.stop()
				<-b.done
			}
			if b.s != nil {
				b.s.Close()
			}
			b.ln.Close()
		}
	}()
	for _, code := range []string{"GBR", "USA"} {
		dir := filepath.Join(root, strings.ToLower(code))
		if _, err := node.Init(dir, node.InitOptions{Partner: code, Name: code + " benchmark node"}); err != nil {
			return nil, err
		}
		if err := os.MkdirAll(filepath.Join(dir, agreementsDir), 0o755); err != nil {
			return nil, err
		}
		if err := os.WriteFile(agreementFile(dir, agreement), []byte(benchFVEY), 0o644); err != nil {
			return nil, err
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		nodes[code] = &benchNode{ln: ln}
		n, err := node.Load(dir)
		if err != nil {
			return nil, err
		}
		nodes[code].n = n
	}
	for code, b := range nodes {
		c, data, err := partner.NodeCard(b.n, []string{"https://" + b.ln.Addr().String()}, time.Now())
		if err != nil {
			return nil, err
		}
		fp, err := c.Fingerprint()
		if err != nil {
			return nil, err
		}
		for other, o := range nodes {
			if other != code {
				if _, err := partner.NewStore(o.n.Dir, other).Add(data, partner.AddOptions{Fingerprint: fp.String()}); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, b := range nodes {
		if b.s, err = openStore(ctx, b.n); err != nil {
			return nil, err
		}
		if err := ensureDefaultCollection(ctx, b.s); err != nil {
			return nil, err
		}
		if b.rel, err = nodeReleasing(b.n); err != nil {
			return nil, err
		}
	}
	gbr, usa := nodes["GBR"], nodes["USA"]
	l, err := label.Parse(benchFederationBanner)
	if err != nil {
		return nil, err
	}
	defs, refs, err := label.ToMarkings(l)
	if err != nil {
		return nil, err
	}
	markings, err := json.Marshal(refs)
	if err != nil {
		return nil, err
	}
	object := func(i int) string {
		return fmt.Sprintf(`{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-%012d","created":"2026-10-01T00:00:00.000Z","modified":"2026-10-01T00:00:00.000Z","name":"Relay %d","pattern":"[ipv4-addr:value = '198.51.100.%d']","pattern_type":"stix","valid_from":"2026-10-01T00:00:00.000Z","labels":["counter-terrorism"],"object_marking_refs":%s}`,
			i, i, i%250, markings)
	}
	var lines strings.Builder
	for _, d := range defs {
		lines.Write(d)
		lines.WriteByte('\n')
	}
	for i := 0; i < objects; i++ {
		lines.WriteString(object(i))
		lines.WriteByte('\n')
	}
	publish := func(data string) error {
		sum, err := ingest.Stream(ctx, gbr.s, strings.NewReader(data), ingest.Options{Collection: defaultCollection, Classify: gbr.rel.classifier()})
		if err != nil {
			return err
		}
		if sum.Rejected > 0 {
			return fmt.Errorf("benchmark objects rejected: %+v", sum)
		}
		rs, err := releaseStoreOf(gbr.s)
		if err != nil {
			return err
		}
		_, err = release.Update(ctx, rs, gbr.rel.Releaser, time.Now().UTC(), "bench")
		return err
	}
	fmt.Fprintf(e.stderr, "publishing %s objects on GBR...\n", groupDigits(objects))
	t0 := time.Now()
	if err := publish(lines.String()); err != nil {
		return nil, err
	}
	res := &benchFederationResult{Objects: objects, Samples: samples, PublishSec: time.Since(t0).Seconds()}

	inbox, ok := usa.s.(federation.InboxStore)
	if !ok {
		return nil, fmt.Errorf("this store keeps no federation state")
	}
	fmt.Fprintf(e.stderr, "starting the nodes; USA pulls from GBR...\n")
	t1 := time.Now()
	for _, b := range nodes {
		srv, err := newNodeServer(b.n, b.s, io.Discard)
		if err != nil {
			return nil, err
		}
		sctx, cancel := context.WithCancel(ctx)
		b.stop, b.done = cancel, make(chan error, 1)
		go func() { b.done <- srv.serve(sctx, b.ln) }()
	}
	want := int64(objects + len(defs))
	for {
		n, err := usa.s.Count(ctx, "")
		if err != nil {
			return nil, err
		}
		if n >= want {
			break
		}
		if time.Since(t1) > 30*time.Minute {
			return nil, fmt.Errorf("USA holds %d of %d objects after 30 minutes", n, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	res.LinkSec = time.Since(t1).Seconds()
	res.ObjectsPerSec = float64(objects) / res.LinkSec
	c, err := inbox.InboxCursor(ctx, "GBR")
	if err != nil {
		return nil, err
	}
	if c.Through != uint64(objects) {
		return nil, fmt.Errorf("USA applied GBR's outbox through %d; want %d", c.Through, objects)
	}

	fmt.Fprintf(e.stderr, "measuring publish-to-visible latency...\n")
	var lat []time.Duration
	for i := 0; i < samples; i++ {
		n := objects + i
		id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", n)
		start := time.Now()
		if err := publish(object(n) + "\n"); err != nil {
			return nil, err
		}
		for {
			p, err := usa.s.Objects(ctx, tearline.ObjectQuery{Collection: defaultCollection, IDs: []string{id}})
			if err != nil {
				return nil, err
			}
			if len(p.Objects) == 1 {
				break
			}
			if time.Since(start) > time.Minute {
				return nil, fmt.Errorf("%s not visible on USA after a minute", id)
			}
			time.Sleep(500 * time.Microsecond)
		}
		lat = append(lat, time.Since(start))
		time.Sleep(10 * time.Millisecond)
	}
	slices.Sort(lat)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	res.P50Millis = ms(lat[len(lat)/2])
	res.P99Millis = ms(lat[min(len(lat)-1, len(lat)*99/100)])
	res.MaxMillis = ms(lat[len(lat)-1])
	return res, nil
}
