package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline/ledger"
	"github.com/tearline/tearline/sqlite"
)

func newBenchLedgerCmd(e *env) *cobra.Command {
	var entries, batch int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "ledger [--entries N] [--batch B]",
		Short: "Audit log appends per second, and proof times at the final size",
		Long: `Append N audit events to a fresh SQLite node database in batches of B (each
batch one transaction), then time inclusion and consistency proofs at the
final size: generating them from the database and verifying them.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if entries <= 0 || batch <= 0 {
				return usageError{errors.New("--entries and --batch must be positive")}
			}
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "tearline-bench-ledger-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			s, err := sqlite.Open(ctx, filepath.Join(dir, "node.db"))
			if err != nil {
				return err
			}
			defer s.Close()
			l := ledger.New(s.Ledger())
			evs := make([]ledger.Event, batch)
			start := time.Now()
			for done := 0; done < entries; done += batch {
				k := min(batch, entries-done)
				for i := 0; i < k; i++ {
					evs[i] = ledger.Event{Kind: ledger.KindObjectViewed, Time: start.Add(time.Duration(done+i) * time.Microsecond).UTC(),
						Actor: "analyst-17", Subjects: []string{fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", done+i)}}
				}
				if _, err := l.Append(ctx, evs[:k]...); err != nil {
					return err
				}
			}
			appendTime := time.Since(start)
			size := uint64(entries)
			root, err := l.Root(ctx, size)
			if err != nil {
				return err
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const proofs = 1000
			var gen, ver time.Duration
			for i := 0; i < proofs; i++ {
				idx := rng.Uint64N(size)
				t0 := time.Now()
				path, err := l.InclusionProof(ctx, idx, size)
				if err != nil {
					return err
				}
				entry, err := l.Entry(ctx, idx)
				if err != nil {
					return err
				}
				t1 := time.Now()
				if err := ledger.VerifyInclusion(entry, idx, size, root, path); err != nil {
					return fmt.Errorf("inclusion proof %d: %w", idx, err)
				}
				gen += t1.Sub(t0)
				ver += time.Since(t1)
			}
			var cgen, cver time.Duration
			for i := 0; i < proofs; i++ {
				m := 1 + rng.Uint64N(size)
				t0 := time.Now()
				rootM, err := l.Root(ctx, m)
				if err != nil {
					return err
				}
				path, err := l.ConsistencyProof(ctx, m, size)
				if err != nil {
					return err
				}
				t1 := time.Now()
				if err := ledger.VerifyConsistency(m, size, rootM, root, path); err != nil {
					return fmt.Errorf("consistency proof %d: %w", m, err)
				}
				cgen += t1.Sub(t0)
				cver += time.Since(t1)
			}
			res := map[string]any{
				"entries": entries, "batch": batch, "appends_per_second": float64(entries) / appendTime.Seconds(),
				"inclusion_proof_us": float64(gen.Microseconds()) / proofs, "inclusion_verify_us": float64(ver.Microseconds()) / proofs,
				"consistency_proof_us": float64(cgen.Microseconds()) / proofs, "consistency_verify_us": float64(cver.Microseconds()) / proofs,
			}
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(res)
			}
			fmt.Fprintf(e.stdout, "scenario ledger: %s entries in batches of %d on SQLite (durable commits), %d CPUs\n", groupDigits(entries), batch, runtime.NumCPU())
			fmt.Fprintf(e.stdout, "appends      %s entries/s\n", groupDigits(int(res["appends_per_second"].(float64))))
			fmt.Fprintf(e.stdout, "inclusion    proof %.0f µs (with the entry), verification %.0f µs\n", res["inclusion_proof_us"], res["inclusion_verify_us"])
			fmt.Fprintf(e.stdout, "consistency  proof %.0f µs (with the older root), verification %.0f µs\n", res["consistency_proof_us"], res["consistency_verify_us"])
			return nil
		},
	}
	cmd.Flags().IntVar(&entries, "entries", 1000000, "audit events to append")
	cmd.Flags().IntVar(&batch, "batch", 1000, "events per append (one transaction)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the results as JSON")
	return cmd
}
