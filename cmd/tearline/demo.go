package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/tearline/tearline"
	"github.com/tearline/tearline/ingest"
	"github.com/tearline/tearline/node"
)

// sampleBundle is a small counter-terrorism report, written for Tearline:
// a threat actor, its malware, a campaign, indicators from two partners, a
// sighting and the report that ties them together.
//
//go:embed sample/ash-cormorant.json
var sampleBundle []byte

func newDemoCmd(e *env) *cobra.Command {
	var (
		dir, report, scenario string
		speed                 float64
		tour, noWait          bool
	)
	cmd := &cobra.Command{
		Use:   "demo [--speed 120] [--dir DIR] [--report DIR] [--no-wait]",
		Short: "Run a five-nation exercise on a real federation, and leave it running",
		Long: `Start a real federation of nodes (the Five Eyes, France and Germany: one
node per nation, each with its own database, keys and mutual-TLS listener on
127.0.0.1), play the built-in counter-terrorism exercise "five-nations" on
it with an accelerated clock, print its scorecard, then leave every node
running and print, per nation, its TAXII endpoints and an analyst's login
(a user name and an API token) until Ctrl-C.

--tour instead walks through a single node: create it, import a sample
report, read it back.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if tour {
				if dir == "" {
					tmp, err := os.MkdirTemp("", "tearline-demo-")
					if err != nil {
						return err
					}
					defer os.RemoveAll(tmp)
					dir = filepath.Join(tmp, "gbr")
				}
				return e.demo(ctx, dir)
			}
			sc, err := loadScenario(scenario)
			if err != nil {
				return err
			}
			if report == "" {
				tmp, err := os.MkdirTemp("", "tearline-scorecard-")
				if err != nil {
					return err
				}
				report = tmp
			}
			card, err := e.runExercise(ctx, sc, dir, speed, report, func(f *exerciseFed) error {
				printFederation(e.stdout, f)
				if noWait {
					return nil
				}
				fmt.Fprintf(e.stdout, "\nready: the federation keeps running; press Ctrl-C to stop it\n")
				<-ctx.Done()
				fmt.Fprintf(e.stdout, "stopping the nodes\n")
				return nil
			})
			if err != nil {
				return err
			}
			if !card.Passed() {
				return &exitError{code: 3, err: fmt.Errorf("the exercise did not pass: %d expectations missed, %d policy violations", card.Missed, len(card.Violations))}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "keep the nodes in this new directory (default: a temporary one, removed after)")
	cmd.Flags().StringVar(&report, "report", "", "write the scorecard here (default: a temporary directory, kept)")
	cmd.Flags().StringVar(&scenario, "scenario", "five-nations", "the scenario to play: a built-in name or a file")
	cmd.Flags().Float64Var(&speed, "speed", 120, "scenario seconds per real second")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "stop the federation once the scorecard is printed")
	cmd.Flags().BoolVar(&tour, "tour", false, "walk through a single node instead")
	return cmd
}

// printFederation lists each nation's node: where partners and users reach
// it, and an analyst's login.
func printFederation(w io.Writer, f *exerciseFed) {
	fmt.Fprintf(w, "\nThe federation (each node serves partners over mutual TLS, users with API tokens):\n")
	for _, code := range f.sc.NationCodes() {
		nat := f.nations[code]
		fmt.Fprintf(w, "  %s  %s\n", code, nat.n.Config.Node.Name)
		fmt.Fprintf(w, "       partners  https://%s/taxii2/   (pinned partner certificates only)\n", nat.addr)
		fmt.Fprintf(w, "       users     https://%s/taxii2/   console https://%s/console/\n", nat.apiAddr, nat.apiAddr)
		names := make([]string, 0, len(nat.tokens))
		for name := range nat.tokens {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			fmt.Fprintf(w, "       login     %s  token %s\n", name, nat.tokens[name])
		}
		fmt.Fprintf(w, "       node dir  %s\n", nat.n.Dir)
	}
	for _, h := range f.sc.Hubs {
		nat := f.nations[h.Code]
		fmt.Fprintf(w, "  %s  %s (community hub for %s: relays sealed batches, reads none)\n", h.Code, h.Name, strings.Join(h.Members(), ", "))
		fmt.Fprintf(w, "       members   https://%s/federation/v1/hub/   (pinned members' certificates only)\n", nat.addr)
		fmt.Fprintf(w, "       node dir  %s\n", nat.n.Dir)
	}
}

func (e *env) demo(ctx context.Context, dir string) error {
	w := e.stdout
	fmt.Fprintf(w, "1. Create the node of the UK National Liaison Office (partner code GBR)\n")
	n, err := node.Init(dir, node.InitOptions{Partner: "GBR", Name: "UK National Liaison Office"})
	if err != nil {
		return err
	}
	s, err := openStore(ctx, n)
	if err != nil {
		return err
	}
	defer s.Close()
	if err := ensureDefaultCollection(ctx, s); err != nil {
		return err
	}
	fmt.Fprintf(w, "   %s\n   signing key %s (Ed25519), sealing key %s (HPKE ML-KEM-768 + X25519)\n\n", n.Dir, n.SigningKeyID, n.HPKEKeyID)

	fmt.Fprintf(w, "2. Import a sample report in STIX 2.1 (%d bytes)\n", len(sampleBundle))
	rel, err := nodeReleasing(n)
	if err != nil {
		return err
	}
	sum, err := ingest.Stream(ctx, s, bytes.NewReader(sampleBundle), ingest.Options{
		Collection: defaultCollection,
		Reject:     func(r ingest.Rejection) { fmt.Fprintf(w, "   rejected: %v\n", r.Err) },
		Classify:   rel.classifier(),
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   %d objects read, %d stored, %d already present, %d rejected\n\n", sum.Read, sum.Added, sum.Present, sum.Rejected)

	fmt.Fprintf(w, "3. What the node holds, in the order it added them\n")
	page, err := s.Objects(ctx, tearline.ObjectQuery{Collection: defaultCollection})
	if err != nil {
		return err
	}
	for _, o := range page.Objects {
		fmt.Fprintf(w, "   %s  %-14s %s\n", o.DateAdded.Format("15:04:05.000000"), o.Type, o.ID)
	}
	fmt.Fprintf(w, "\n4. Importing the same report again changes nothing\n")
	again, err := ingest.Stream(ctx, s, bytes.NewReader(sampleBundle), ingest.Options{Collection: defaultCollection})
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "   %d read, %d stored, %d already present\n\n", again.Read, again.Added, again.Present)
	if sum.Rejected != 0 || again.Added != 0 {
		return fmt.Errorf("demo: the sample did not import cleanly")
	}
	fmt.Fprintf(w, "Next: tearline init --partner GBR --name \"UK National Liaison Office\" --dir ./gbr\n")
	fmt.Fprintf(w, "      tearline import --dir ./gbr FILE.json   then   tearline export --dir ./gbr\n")
	return nil
}
