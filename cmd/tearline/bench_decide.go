package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"time"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/label"
	"github.com/tearline/tearline/policy"
)

// benchBanners are labels a national node holds in realistic proportions:
// mostly releasable material, some controlled, some national only.
var benchBanners = []string{
	"GBR SECRET//REL TO USA, GBR, FVEY",
	"GBR SECRET//REL TO USA, GBR, FVEY",
	"GBR OFFICIAL-SENSITIVE//REL TO GBR, FRA",
	"NATO SECRET//REL TO NATO",
	"NATO RESTRICTED//REL TO NATO",
	"SECRET//ORCON//REL TO USA, GBR, CAN//ORIGINATOR USA",
	"GBR SECRET//EYES ONLY GBR",
	"TLP:GREEN",
	"TLP:AMBER",
	"GBR TOP SECRET//REL TO USA, GBR",
}

var benchPartners = []string{"USA", "CAN", "AUS", "NZL", "FRA", "DEU", "NLD", "POL", "JPN", "ESP"}

func newBenchDecideCmd(e *env) *cobra.Command {
	var n int
	var seed uint64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "decide [--decisions N]",
		Short: "Release decisions per second, on one core",
		Long: `Decide N releases with the compiled engine, on one goroutine, over objects
with realistic labels, 10 partners and the example agreements (Five Eyes,
NATO, GBR-FRA, police cooperation), and report decisions per second and the
outcome mix.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if n <= 0 {
				return usageError{errors.New("--decisions must be positive")}
			}
			agreements, err := policy.ExampleAgreements()
			if err != nil {
				return err
			}
			reg := policy.Builtin()
			rel, err := newReleasing(reg, agreements, "GBR")
			if err != nil {
				return err
			}
			engine := rel.engine
			at := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
			var subjects []*policy.Subject
			for i, b := range benchBanners {
				l, err := label.Parse(b)
				if err != nil {
					return fmt.Errorf("benchmark label %q: %w", b, err)
				}
				subjects = append(subjects, &policy.Subject{ID: fmt.Sprintf("indicator--00000000-0000-4000-8000-%012d", i),
					Type: "indicator", Topics: []string{"counter-terrorism"}, Created: at.AddDate(0, -i, 0),
					Label: l, Verified: true, Holder: "GBR"})
			}
			var recipients []*tearline.Recipient
			for _, p := range benchPartners {
				recipients = append(recipients, rel.recipient(p, at))
			}
			rng := rand.New(rand.NewPCG(seed, seed+1))
			reqs := make([]policy.Request, 4096)
			for i := range reqs {
				reqs[i] = policy.Request{Subject: subjects[rng.IntN(len(subjects))], Recipient: recipients[rng.IntN(len(recipients))],
					Action: tearline.Release, Purpose: "counter-terrorism", Time: at}
			}
			counts := map[tearline.Outcome]int{}
			start := time.Now()
			for i := 0; i < n; i++ {
				d := engine.Decide(&reqs[i%len(reqs)])
				counts[d.Outcome]++
			}
			elapsed := time.Since(start)
			rate := float64(n) / elapsed.Seconds()
			// The same requests answered without reasons, as views and
			// release sets ask them.
			start = time.Now()
			for i := 0; i < n; i++ {
				if o := engine.Verdict(&reqs[i%len(reqs)]); o == 0 {
					return errors.New("the engine gave no verdict")
				}
			}
			verdictRate := float64(n) / time.Since(start).Seconds()
			if asJSON {
				return json.NewEncoder(e.stdout).Encode(map[string]any{"decisions": n, "seconds": elapsed.Seconds(),
					"decisions_per_second_per_core": rate, "verdicts_per_second_per_core": verdictRate})
			}
			fmt.Fprintf(e.stdout, "scenario decide: %s decisions on one core (%d CPUs on this machine), %d labels x %d partners, 4 agreements\n",
				groupDigits(n), runtime.NumCPU(), len(subjects), len(recipients))
			fmt.Fprintf(e.stdout, "%s decisions/s per core with reasons (Decide), %s without (Verdict)\n", groupDigits(int(rate)), groupDigits(int(verdictRate)))
			for _, o := range []tearline.Outcome{tearline.Allow, tearline.AllowVariant, tearline.NeedsConsent, tearline.NeedsPerson, tearline.Deny} {
				fmt.Fprintf(e.stdout, "  %-15s %5.1f%%\n", o, 100*float64(counts[o])/float64(n))
			}
			return nil
		},
	}
	cmd.Flags().IntVar(&n, "decisions", 2000000, "number of decisions")
	cmd.Flags().Uint64Var(&seed, "seed", 1, "seed for the request mix")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	return cmd
}
