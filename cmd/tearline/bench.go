package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/node"
	"github.com/tearline/tearline/postgres"
	"github.com/tearline/tearline/synth"
)

func newBenchCmd(e *env) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench SCENARIO",
		Short: "Measure the node's performance on a scenario",
		Long: `Measure performance on a named scenario and print the figures. Each scenario
builds its own fresh nodes in a temporary directory and removes them after.

Scenarios:
  import    generate N realistic STIX objects from a seed, import them with
            'tearline import' into a fresh node on SQLite and on PostgreSQL,
            and report objects per second and the importer's peak RSS.
  decide    release decisions per second on one core, with and without
            their reasons.
  envelope  objects per second sealed and opened (with verification) in
            envelopes of 1, 100 and 1,000 objects.
  ledger    audit log appends per second in batches, and proof times.
  release   time to recompute the release sets of N stored objects after
            an agreement change.
  taxii     the TAXII server over mutual TLS: POST and paging throughput,
            page latency, and many concurrent clients.
  analytics the early-warning index: build time for a million
            observables, lookups per second, sighting-to-alert latency.
  federation two nodes over mutual TLS: objects/s over one link, and
            publish-to-visible latency, p50 and p99.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newBenchImportCmd(e), newBenchDecideCmd(e), newBenchEnvelopeCmd(e), newBenchLedgerCmd(e), newBenchReleaseCmd(e), newBenchTAXIICmd(e), newBenchAnalyticsCmd(e), newBenchFederationCmd(e))
	return cmd
}

type benchResult struct {
	Store         string  `json:"store"`
	Objects       int     `json:"objects"`
	Added         int     `json:"added"`
	Rejected      int     `json:"rejected"`
	Seconds       float64 `json:"seconds"`
	ObjectsPerSec float64 `json:"objects_per_second"`
	PeakRSSBytes  int64   `json:"peak_rss_bytes"`
}

func newBenchImportCmd(e *env) *cobra.Command {
	var (
		objects     int
		seed        uint64
		stores      []string
		postgresURL string
		keep        string
		asJSON      bool
	)
	cmd := &cobra.Command{
		Use:   "import [--objects N] [--seed S] [--stores sqlite,postgres]",
		Short: "Bulk import throughput and memory on SQLite and PostgreSQL",
		Long: `Generate N realistic objects deterministically from the seed (indicators,
observables, relationships, sightings, reports, threat actors, malware),
write them as JSON lines, then for each store run 'tearline import' as a
separate process into a fresh node and report its throughput (objects/s, as
timed by the importer from first byte read to last commit) and its peak
resident memory.

PostgreSQL: with --postgres-url (or TEARLINE_BENCH_POSTGRES_URL) that server
is used, and must hold an empty database; otherwise a throwaway cluster is
started from the PostgreSQL server binaries installed on this machine.`,
		Example: `  tearline bench import --objects 1000000`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if objects <= 0 {
				return usageError{errors.New("--objects must be positive")}
			}
			for _, s := range stores {
				if s != "sqlite" && s != "postgres" {
					return usageError{fmt.Errorf("--stores: unknown store %q (use sqlite, postgres)", s)}
				}
			}
			if postgresURL == "" {
				postgresURL = e.getenv("TEARLINE_BENCH_POSTGRES_URL")
			}
			self, err := os.Executable()
			if err != nil {
				return err
			}
			work := keep
			if work == "" {
				work, err = os.MkdirTemp("", "tearline-bench-")
				if err != nil {
					return err
				}
				defer os.RemoveAll(work)
			} else if err := os.MkdirAll(work, 0o700); err != nil {
				return err
			}
			// The throwaway PostgreSQL server runs as an unprivileged user
			// when we are root, so the work directory must be traversable.
			os.Chmod(work, 0o755)

			data := filepath.Join(work, "objects.jsonl")
			start := time.Now()
			f, err := os.Create(data)
			if err != nil {
				return err
			}
			if err := synth.New(seed).WriteJSONLines(f, objects); err != nil {
				f.Close()
				return fmt.Errorf("generate objects: %w", err)
			}
			if err := f.Close(); err != nil {
				return err
			}
			fi, _ := os.Stat(data)
			if !asJSON {
				fmt.Fprintf(e.stdout, "scenario import: %s objects (seed %d), %.0f MB of JSON lines generated in %.1fs; %d CPUs\n",
					groupDigits(objects), seed, float64(fi.Size())/1e6, time.Since(start).Seconds(), runtime.NumCPU())
				fmt.Fprintf(e.stdout, "%-10s %12s %10s %10s %10s\n", "store", "objects/s", "seconds", "peak RSS", "rejected")
			}
			var results []benchResult
			for _, name := range stores {
				dir := filepath.Join(work, name)
				extraEnv := []string{}
				if name == "postgres" {
					url := postgresURL
					if url == "" {
						cluster, err := postgres.StartCluster(ctx, filepath.Join(work, "pg"))
						if err != nil {
							return fmt.Errorf("bench on postgres: %w (install the PostgreSQL server, or give --postgres-url)", err)
						}
						defer cluster.Stop()
						url = cluster.URL()
					}
					extraEnv = append(extraEnv, node.EnvDatabaseURL+"="+url)
				}
				r, err := benchImportOne(ctx, self, dir, data, extraEnv)
				if err != nil {
					return fmt.Errorf("bench on %s: %w", name, err)
				}
				r.Store = name
				results = append(results, r)
				if !asJSON {
					fmt.Fprintf(e.stdout, "%-10s %12s %10.2f %7.0f MB %10d\n", name, groupDigits(int(r.ObjectsPerSec)), r.Seconds, float64(r.PeakRSSBytes)/(1<<20), r.Rejected)
				}
				if r.Rejected != 0 || r.Added != objects {
					return fmt.Errorf("bench on %s: %d of %d objects added, %d rejected; the generator must only produce valid, distinct objects", name, r.Added, objects, r.Rejected)
				}
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(results)
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&objects, "objects", 100000, "number of objects to generate and import")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "generator seed: the same seed gives the same objects")
	cmd.Flags().StringSliceVar(&stores, "stores", []string{"sqlite", "postgres"}, "stores to measure")
	cmd.Flags().StringVar(&postgresURL, "postgres-url", "", "PostgreSQL server to use instead of a throwaway one")
	cmd.Flags().StringVar(&keep, "keep", "", "work in this directory and keep it (data file and nodes) afterwards")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}

// benchImportOne initialises a node in dir and imports data into it with a
// child tearline process, whose summary and peak RSS it returns.
func benchImportOne(ctx context.Context, self, dir, data string, extraEnv []string) (benchResult, error) {
	run := func(args ...string) (*exec.Cmd, []byte, error) {
		c := exec.CommandContext(ctx, self, args...)
		c.Env = append(os.Environ(), extraEnv...)
		var out, errb bytes.Buffer
		c.Stdout, c.Stderr = &out, &errb
		err := c.Run()
		if err != nil {
			return c, nil, fmt.Errorf("tearline %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
		}
		return c, out.Bytes(), nil
	}
	if _, _, err := run("init", "--partner", "BNC", "--name", "Benchmark node", "--dir", dir); err != nil {
		return benchResult{}, err
	}
	c, out, err := run("import", "--dir", dir, "--json", data)
	if err != nil {
		return benchResult{}, err
	}
	var sum jsonSummary
	if err := json.Unmarshal(out, &sum); err != nil {
		return benchResult{}, fmt.Errorf("read import summary %q: %w", out, err)
	}
	r := benchResult{Objects: sum.Read, Added: sum.Added, Rejected: sum.Rejected, Seconds: sum.Seconds, ObjectsPerSec: sum.ObjectsPerSec}
	if ru, ok := c.ProcessState.SysUsage().(*syscall.Rusage); ok {
		r.PeakRSSBytes = ru.Maxrss * 1024 // kilobytes on Linux
	}
	return r, nil
}
