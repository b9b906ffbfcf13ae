package main

import (
	"bytes"
	"context"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"

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
	var dir string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo [--dir DIR]",
		Short: "Walk through a node: create it, import a sample report, read it back",
		Long: `Create a node for the UK National Liaison Office (GBR), import a sample
counter-terrorism report in STIX 2.1, and show what the node stored. The node
is made in a temporary directory and removed afterwards, unless --dir names
one (which must not hold a node yet).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if dir == "" {
				tmp, err := os.MkdirTemp("", "tearline-demo-")
				if err != nil {
					return err
				}
				if !keep {
					defer os.RemoveAll(tmp)
				}
				dir = filepath.Join(tmp, "gbr")
			}
			return e.demo(ctx, dir)
		},
	}
	cmd.Flags().StringVar(&dir, "dir", "", "make the demo node here and keep it")
	cmd.Flags().BoolVar(&keep, "keep", false, "keep the temporary node directory")
	return cmd
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
