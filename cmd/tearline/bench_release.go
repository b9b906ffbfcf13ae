package main

import (
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
	"github.com/tearline/tearline/release"
	"github.com/tearline/tearline/sqlite"
)

func newBenchReleaseCmd(e *env) *cobra.Command {
	var (
		objects int
		seed    uint64
	)
	cmd := &cobra.Command{
		Use:   "release [--objects N]",
		Short: "Time recomputing the release sets of N stored objects after an agreement change",
		Long: `Store N objects (labels, types, topics and creation times drawn from a
seed; 1% carry personal data, whose classes are per creation time) in a
fresh SQLite node of GBR holding the example agreements without the
UK-France one, decide their release sets, then add the UK-France agreement
and time the recompute: every class decided for every partner, compared
with the stored sets, and the change applied in one transaction with its
audit entry.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			dir, err := os.MkdirTemp("", "tearline-bench-release-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			s, err := sqlite.Open(ctx, filepath.Join(dir, "node.db"))
			if err != nil {
				return err
			}
			defer s.Close()
			if _, err := s.CreateCollection(ctx, tearline.Collection{Alias: "bench", Title: "bench"}); err != nil {
				return err
			}
			all, err := policy.ExampleAgreements()
			if err != nil {
				return err
			}
			var without []tearline.Agreement
			for _, a := range all {
				if a.ID != "gbr-fra-security" {
					without = append(without, a)
				}
			}
			reg := policy.Builtin()
			before, err := release.NewReleaser(reg, without, "GBR")
			if err != nil {
				return err
			}
			after, err := release.NewReleaser(reg, all, "GBR")
			if err != nil {
				return err
			}
			var labels []tearline.Label
			for _, b := range benchBanners {
				l, err := label.Parse(b)
				if err != nil {
					return fmt.Errorf("benchmark label %q: %w", b, err)
				}
				labels = append(labels, l)
			}
			types := []string{"indicator", "report", "malware", "threat-actor", "campaign"}
			topics := [][]string{nil, {"counter-terrorism"}, {"crime"}, {"counter-terrorism", "cyber"}}
			rng := rand.New(rand.NewPCG(seed, seed+1))
			start := time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)
			span := int64(7 * 365 * 24 * time.Hour)

			fmt.Fprintf(e.stdout, "storing %s objects...\n", groupDigits(objects))
			const batch = 10000
			var classify time.Duration
			t0 := time.Now()
			objs := make([]*tearline.Object, 0, batch)
			for i := 0; i < objects; i++ {
				id := fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i)
				subj := &policy.Subject{ID: id, Type: types[rng.IntN(len(types))], Topics: topics[rng.IntN(len(topics))],
					Created: start.Add(time.Duration(rng.Int64N(span))), Label: labels[rng.IntN(len(labels))], Verified: true, Holder: "GBR"}
				if rng.IntN(100) == 0 {
					subj.Label.PersonalData, subj.Label.Regime = true, "LED"
				}
				c0 := time.Now()
				class, err := before.Classify(subj)
				classify += time.Since(c0)
				if err != nil {
					return err
				}
				data := []byte(fmt.Sprintf(`{"type":%q,"id":%q,"n":%d}`, subj.Type, id, i))
				objs = append(objs, &tearline.Object{ID: id, Type: subj.Type, SpecVersion: "2.1", Version: subj.Created,
					Hash: sha256.Sum256(data), JSON: data, ReleaseClass: class})
				if len(objs) == batch || i == objects-1 {
					if _, err := s.PutObjects(ctx, "bench", objs); err != nil {
						return err
					}
					objs = objs[:0]
				}
			}
			stored := time.Since(t0)
			first, err := release.Update(ctx, s, before, time.Now().UTC(), "bench")
			if err != nil {
				return err
			}
			fmt.Fprintf(e.stdout, "stored in %s (classifying: %s, %.0f objects/s); %d classes, first decision in %s\n",
				stored.Round(time.Millisecond), classify.Round(time.Millisecond), float64(objects)/classify.Seconds(),
				first.Impact.Classes, time.Since(t0.Add(stored)).Round(time.Millisecond))

			at := time.Now().UTC()
			t1 := time.Now()
			plan, err := release.Compute(ctx, s, after, release.Options{All: true, At: at, Actor: "bench", Cause: "agreement gbr-fra-security@1 added"})
			if err != nil {
				return err
			}
			computed := time.Since(t1)
			if err := release.Apply(ctx, s, plan); err != nil {
				return err
			}
			total := time.Since(t1)
			fmt.Fprintf(e.stdout, "agreement change: %s objects in %d classes decided for %d partners (%d decisions)\n",
				groupDigits(int(plan.Impact.Objects)), plan.Impact.Classes, len(after.Partners(at)), plan.Impact.Classes*len(after.Partners(at)))
			fmt.Fprintf(e.stdout, "  impact: %s\n", plan.Impact.String())
			fmt.Fprintf(e.stdout, "  recompute %s (decide and compare %s, apply %s)\n",
				total.Round(time.Millisecond), computed.Round(time.Millisecond), (total - computed).Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().IntVar(&objects, "objects", 1000000, "objects to store")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed for the objects' labels, types and dates")
	return cmd
}
